// Package dynamo stores webhooks, pools, lead states, custom fields and entries in the
// single DynamoDB table of DESIGN.md. It implements the storage interfaces of package lead.
package dynamo

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// Key prefixes and sort keys of the item layout.
const (
	webhookPrefix = "WEBHOOK#"
	// poolPrefix starts the partition key of a pool and its items: it carries the API's
	// tableId, i.e. the pool id.
	poolPrefix        = "TABLE#"
	orgPrefix         = "ORG#"
	EntryPrefix       = "ENTRY#" // sort key prefix of entry items, used by the stream filter
	leadStatePrefix   = "LEADSTATE#"
	customFieldPrefix = "CUSTOMFIELD#"
	idempotencyPrefix = "IDEMPOTENCY#"
	webhookSK         = "WEBHOOK"
	poolSK            = "TABLE"

	// GSI1Name is the index that lists an organization's webhooks.
	GSI1Name = "gsi1"
)

// Attribute names shared by several items.
const (
	attrPK = "pk"
	attrSK = "sk"
)

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func webhookKey(id string) map[string]types.AttributeValue { return key(webhookPrefix+id, webhookSK) }
func poolKey(poolID string) map[string]types.AttributeValue {
	return key(poolPrefix+poolID, poolSK)
}
func customFieldKey(orgID, id string) map[string]types.AttributeValue {
	return key(orgPrefix+orgID, customFieldPrefix+id)
}

func idempotencyKey(webhookID, idemKey string) map[string]types.AttributeValue {
	return key(webhookPrefix+webhookID, idempotencyPrefix+idemKey)
}

// TTLAttribute is the table's time-to-live attribute (epoch seconds).
const TTLAttribute = "expiresAt"

func epoch(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

func idempotencyItem(r *lead.IdempotencyRecord) map[string]types.AttributeValue {
	item := idempotencyKey(r.WebhookID, r.Key)
	item["type"] = str("idempotency")
	item["requestHash"] = &types.AttributeValueMemberB{Value: r.RequestHash}
	item["entryId"] = str(r.EntryID)
	item["response"] = str(string(r.Response))
	item[TTLAttribute] = epoch(r.ExpiresAt)
	return item
}

func idempotencyFromItem(item map[string]types.AttributeValue) *lead.IdempotencyRecord {
	rec := &lead.IdempotencyRecord{
		WebhookID:   strings.TrimPrefix(getS(item, attrPK), webhookPrefix),
		Key:         strings.TrimPrefix(getS(item, attrSK), idempotencyPrefix),
		RequestHash: getB(item, "requestHash"),
		EntryID:     getS(item, "entryId"),
		Response:    []byte(getS(item, "response")),
	}
	if n, ok := item[TTLAttribute].(*types.AttributeValueMemberN); ok {
		if sec, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			rec.ExpiresAt = time.Unix(sec, 0)
		}
	}
	return rec
}

// EntryItem is the DynamoDB item of an entry.
func EntryItem(e *lead.Entry) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrPK:           str(poolPrefix + e.PoolID),
		attrSK:           str(EntryPrefix + e.ID),
		"type":           str("entry"),
		"id":             str(e.ID),
		"tableId":        str(e.PoolID),
		"organizationId": str(e.OrganizationID),
		"webhookId":      str(e.WebhookID),
		"leadStateId":    str(e.LeadStateID),
		"createdAt":      str(lead.FormatTime(e.CreatedAt)),
		"data":           valueMap(e.Data),
	}
	if e.CustomFieldData != nil {
		item["customFieldData"] = valueMap(e.CustomFieldData)
	}
	return item
}

// EntryFromItem decodes an entry item written by EntryItem.
func EntryFromItem(item map[string]types.AttributeValue) (*lead.Entry, error) {
	e := &lead.Entry{
		ID:             getS(item, "id"),
		PoolID:         getS(item, "tableId"),
		OrganizationID: getS(item, "organizationId"),
		WebhookID:      getS(item, "webhookId"),
		LeadStateID:    getS(item, "leadStateId"),
	}
	t, err := time.Parse(time.RFC3339, getS(item, "createdAt"))
	if err != nil {
		return nil, fmt.Errorf("entry %s: createdAt: %w", e.ID, err)
	}
	e.CreatedAt = t.UTC()
	if e.Data, err = valuesFromMap(item["data"]); err != nil {
		return nil, fmt.Errorf("entry %s: data: %w", e.ID, err)
	}
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	if _, ok := item["customFieldData"]; ok {
		if e.CustomFieldData, err = valuesFromMap(item["customFieldData"]); err != nil {
			return nil, fmt.Errorf("entry %s: customFieldData: %w", e.ID, err)
		}
	}
	return e, nil
}

// valueMap converts lead values (string, lead.Number, bool, []string, nil) to a DynamoDB map.
func valueMap(m map[string]any) types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = value(v)
	}
	return &types.AttributeValueMemberM{Value: out}
}

func value(v any) types.AttributeValue {
	switch x := v.(type) {
	case string:
		return str(x)
	case lead.Number:
		return &types.AttributeValueMemberN{Value: string(x)}
	case bool:
		return &types.AttributeValueMemberBOOL{Value: x}
	case []string:
		l := make([]types.AttributeValue, len(x))
		for i, s := range x {
			l[i] = str(s)
		}
		return &types.AttributeValueMemberL{Value: l}
	}
	return &types.AttributeValueMemberNULL{Value: true}
}

func valuesFromMap(av types.AttributeValue) (map[string]any, error) {
	if av == nil {
		return nil, nil
	}
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		// DynamoDB always returns a map here; the embedded DynamoDB (minidyn v0.8.2) returns
		// an empty map as a stray string, which can only mean "empty".
		return map[string]any{}, nil
	}
	out := make(map[string]any, len(m.Value))
	for k, v := range m.Value {
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			out[k] = x.Value
		case *types.AttributeValueMemberN:
			out[k] = lead.Number(x.Value)
		case *types.AttributeValueMemberBOOL:
			out[k] = x.Value
		case *types.AttributeValueMemberNULL:
			out[k] = nil
		case *types.AttributeValueMemberL:
			l := make([]string, len(x.Value))
			for i, e := range x.Value {
				s, ok := e.(*types.AttributeValueMemberS)
				if !ok {
					return nil, fmt.Errorf("key %q: list element %d is not a string", k, i)
				}
				l[i] = s.Value
			}
			out[k] = l
		default:
			return nil, fmt.Errorf("key %q: unsupported attribute type %T", k, v)
		}
	}
	return out, nil
}

func getS(item map[string]types.AttributeValue, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func getB(item map[string]types.AttributeValue, name string) []byte {
	if b, ok := item[name].(*types.AttributeValueMemberB); ok {
		return b.Value
	}
	return nil
}

func getTime(item map[string]types.AttributeValue, name string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, getS(item, name))
	return t
}

func getStringMap(item map[string]types.AttributeValue, name string) map[string]string {
	m, ok := item[name].(*types.AttributeValueMemberM)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m.Value))
	for k, v := range m.Value {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			out[k] = s.Value
		}
	}
	return out
}

func getStringList(item map[string]types.AttributeValue, name string) []string {
	l, ok := item[name].(*types.AttributeValueMemberL)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l.Value))
	for _, v := range l.Value {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			out = append(out, s.Value)
		}
	}
	return out
}

func stringList(xs []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(xs))
	for i, s := range xs {
		l[i] = str(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

func webhookFromItem(item map[string]types.AttributeValue) *lead.Webhook {
	return &lead.Webhook{
		ID:                     getS(item, "id"),
		OrganizationID:         getS(item, "organizationId"),
		PoolID:                 getS(item, "tableId"),
		Name:                   getS(item, "name"),
		TokenHash:              getB(item, "tokenHash"),
		PreviousTokenHash:      getB(item, "previousTokenHash"),
		PreviousTokenExpiresAt: getTime(item, "previousTokenExpiresAt"),
		CreatedAt:              getTime(item, "createdAt"),
		RotatedAt:              getTime(item, "rotatedAt"),
	}
}

func poolFromItem(item map[string]types.AttributeValue) *lead.Pool {
	p := &lead.Pool{
		ID:                 getS(item, "id"),
		OrganizationID:     getS(item, "organizationId"),
		Name:               getS(item, "name"),
		DefaultLeadStateID: getS(item, "defaultLeadStateId"),
		Schema:             lead.Schema{},
	}
	for k, t := range getStringMap(item, "schema") {
		p.Schema[k] = lead.FieldType(t)
	}
	states := getStringMap(item, "leadStates")
	p.LeadStateIDs = make([]string, 0, len(states))
	for id := range states {
		p.LeadStateIDs = append(p.LeadStateIDs, id)
	}
	sort.Strings(p.LeadStateIDs)
	return p
}

func customFieldFromItem(item map[string]types.AttributeValue) lead.CustomField {
	return lead.CustomField{
		ID:             getS(item, "id"),
		OrganizationID: getS(item, "organizationId"),
		Name:           getS(item, "name"),
		Type:           lead.CustomFieldType(getS(item, "fieldType")),
		Options:        getStringList(item, "options"),
	}
}

// ItemSize estimates the stored size of an item by DynamoDB's rules (attribute names plus
// values; numbers about one byte per two digits; 3 bytes of overhead per map or list and 1
// per element). It errs on the large side, so an item it accepts fits.
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return len(x.Value)
	case *types.AttributeValueMemberN:
		return (len(x.Value)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(x.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range x.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range x.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range x.Value {
			n += len(s)
		}
		return n
	}
	return 0
}
