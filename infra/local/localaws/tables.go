package localaws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	// localAccount and localRegion make up the ARNs the stand-ins report.
	localAccount = "123456789012"
	localRegion  = "us-east-1"
)

// tableSpec is what a CreateTable request declared and minidyn v0.8.2 does not report back
// from DescribeTable (attribute definitions, stream, billing mode) or reports empty (status).
type tableSpec struct {
	AttributeDefinitions json.RawMessage `json:"AttributeDefinitions,omitempty"`
	BillingMode          string          `json:"BillingMode,omitempty"`
	StreamSpecification  *struct {
		StreamEnabled  bool   `json:"StreamEnabled"`
		StreamViewType string `json:"StreamViewType,omitempty"`
	} `json:"StreamSpecification,omitempty"`
	created time.Time
}

// catalogCall answers the table operations whose minidyn answers need completing:
// CreateTable and DeleteTable keep the catalogue of tables, DescribeTable is completed from
// it, and ListTables, which minidyn lacks, is answered from it.
func (s *Server) catalogCall(w http.ResponseWriter, r *http.Request, op string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeAWSError(w, dynamoDBContentType, http.StatusBadRequest, "SerializationException", "cannot read request body")
		return
	}
	var in struct {
		TableName string `json:"TableName"`
		tableSpec
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeAWSError(w, dynamoDBContentType, http.StatusBadRequest, "SerializationException",
			fmt.Sprintf("cannot decode %s request", op))
		return
	}
	if op == "ListTables" {
		s.listTables(w, body)
		return
	}

	fwd := r.Clone(r.Context())
	fwd.Body = io.NopCloser(bytes.NewReader(body))
	fwd.ContentLength = int64(len(body))
	rec := newRecorder()
	s.ddb.ServeHTTP(rec, fwd)
	s.logger.Debug("localaws: dynamodb", "op", op, "status", rec.status)
	if rec.status != 0 && rec.status != http.StatusOK {
		rec.copyTo(w)
		return
	}

	s.mu.Lock()
	switch op {
	case "CreateTable":
		spec := in.tableSpec
		spec.created = time.Now().UTC()
		s.tables[in.TableName] = spec
	case "DeleteTable":
		delete(s.tables, in.TableName)
	}
	spec := s.tables[in.TableName]
	s.mu.Unlock()

	field := "Table"
	if op != "DescribeTable" {
		field = "TableDescription"
	}
	status := "ACTIVE"
	if op == "DeleteTable" {
		status = "DELETING"
	}
	fixed, err := completeDescription(rec.body.Bytes(), field, in.TableName, status, spec)
	if err != nil {
		s.logger.Warn("localaws: cannot complete table description", "op", op, "err", err)
		rec.copyTo(w)
		return
	}
	rec.body.Reset()
	rec.body.Write(fixed)
	rec.copyTo(w)
}

// completeDescription fills in the TableDescription under field of a minidyn response the way
// DynamoDB reports a table that is ready: a status (minidyn leaves it empty, and the AWS CLI
// and SDK table-exists waiters wait for ACTIVE), its ARN, creation time, attribute
// definitions, billing mode and stream. Empty enum strings minidyn emits are dropped.
func completeDescription(body []byte, field, table, status string, spec tableSpec) ([]byte, error) {
	var out map[string]json.RawMessage
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("decode %s of table %s: %w", field, table, err)
	}
	var desc map[string]any
	if err := json.Unmarshal(out[field], &desc); err != nil {
		return nil, fmt.Errorf("decode %s of table %s: %w", field, table, err)
	}
	if desc == nil {
		desc = map[string]any{}
	}
	for k, v := range desc {
		if v == "" {
			delete(desc, k)
		}
	}
	arn := fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", localRegion, localAccount, table)
	desc["TableName"] = table
	desc["TableStatus"] = status
	desc["TableArn"] = arn
	if !spec.created.IsZero() {
		desc["CreationDateTime"] = float64(spec.created.UnixMilli()) / 1000
		if spec.StreamSpecification != nil && spec.StreamSpecification.StreamEnabled {
			label := spec.created.Format("2006-01-02T15:04:05.000")
			desc["StreamSpecification"] = spec.StreamSpecification
			desc["LatestStreamLabel"] = label
			desc["LatestStreamArn"] = arn + "/stream/" + label
		}
	}
	if len(spec.AttributeDefinitions) > 0 {
		desc["AttributeDefinitions"] = spec.AttributeDefinitions
	}
	if spec.BillingMode != "" {
		desc["BillingModeSummary"] = map[string]any{"BillingMode": spec.BillingMode}
	}
	if gsis, ok := desc["GlobalSecondaryIndexes"].([]any); ok {
		for _, g := range gsis {
			if g, ok := g.(map[string]any); ok {
				if name, ok := g["IndexName"].(string); ok {
					g["IndexArn"] = arn + "/index/" + name
				}
				if g["IndexStatus"] == nil || g["IndexStatus"] == "" {
					g["IndexStatus"] = "ACTIVE"
				}
			}
		}
	}
	b, err := json.Marshal(desc)
	if err != nil {
		return nil, fmt.Errorf("encode %s of table %s: %w", field, table, err)
	}
	out[field] = b
	fixed, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode response for table %s: %w", table, err)
	}
	return fixed, nil
}

// listTables answers ListTables from the catalogue, in name order, paged as DynamoDB pages
// (ExclusiveStartTableName, Limit of 1 to 100, LastEvaluatedTableName when more remain).
func (s *Server) listTables(w http.ResponseWriter, body []byte) {
	var in struct {
		ExclusiveStartTableName string `json:"ExclusiveStartTableName"`
		Limit                   *int   `json:"Limit"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeAWSError(w, dynamoDBContentType, http.StatusBadRequest, "SerializationException", "cannot decode ListTables request")
		return
	}
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 100 {
			writeAWSError(w, dynamoDBContentType, http.StatusBadRequest, "ValidationException",
				"1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value between 1 and 100")
			return
		}
		limit = *in.Limit
	}
	s.mu.Lock()
	names := make([]string, 0, len(s.tables))
	for name := range s.tables {
		if strings.Compare(name, in.ExclusiveStartTableName) > 0 {
			names = append(names, name)
		}
	}
	s.mu.Unlock()
	slices.Sort(names)
	out := map[string]any{"TableNames": names}
	if len(names) > limit {
		out["TableNames"] = names[:limit]
		out["LastEvaluatedTableName"] = names[limit-1]
	}
	writeJSON(w, dynamoDBContentType, http.StatusOK, out)
}
