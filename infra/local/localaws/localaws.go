// Package localaws serves the AWS APIs the functions call, locally, on one HTTP endpoint.
//
// Requests are routed by their X-Amz-Target header: DynamoDB goes to an embedded
// github.com/truora/minidyn server speaking the real DynamoDB JSON protocol (ListTables, which
// minidyn lacks, and the table status, ARN, attribute definitions and stream it leaves out of
// DescribeTable are answered here), Secrets Manager GetSecretValue, DescribeSecret and
// ListSecrets are answered from a fixed map, EventBridge PutEvents is validated as
// EventBridge does and its accepted events handed to observers. The production aws-sdk-go-v2
// clients are used unchanged; only their endpoint points here.
package localaws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	minidyn "github.com/truora/minidyn/server"
)

const (
	dynamoDBPrefix       = "DynamoDB_20120810."
	secretsManagerPrefix = "secretsmanager."

	dynamoDBContentType       = "application/x-amz-json-1.0"
	secretsManagerContentType = "application/x-amz-json-1.1"

	// maxRequestBody bounds what is buffered per request; DynamoDB's own limit for a
	// TransactWriteItems request is 4 MB, so this never rejects a legal call.
	maxRequestBody = 16 << 20
)

// minidynOperations lists the DynamoDB operations minidyn v0.8.2 implements. Anything else is
// answered with a JSON UnknownOperationException here, because minidyn answers it with a
// plain-text body the SDK cannot decode into a typed error.
var minidynOperations = map[string]bool{
	"CreateTable":        true,
	"UpdateTable":        true,
	"DeleteTable":        true,
	"DescribeTable":      true,
	"PutItem":            true,
	"DeleteItem":         true,
	"UpdateItem":         true,
	"GetItem":            true,
	"Query":              true,
	"Scan":               true,
	"BatchWriteItem":     true,
	"BatchGetItem":       true,
	"TransactWriteItems": true,
	"TransactGetItems":   true,
}

// writeObserver receives one item committed by PutItem or by a Put of TransactWriteItems.
type writeObserver func(table string, item map[string]types.AttributeValue)

// Options configures a Server.
type Options struct {
	// Secrets maps a secret id (name) or full ARN to its SecretString.
	Secrets map[string]string
	// Logger receives debug lines per request and warnings; nil discards them.
	Logger *slog.Logger
	// DynamoDB is the DynamoDB engine (e.g. NewEngineProxy to DynamoDB Local); nil embeds
	// minidyn. An external engine gets every DynamoDB operation, TTL included.
	DynamoDB http.Handler
	// EventBuses are the event buses besides "default". PutEvents accepts an entry for any
	// other bus and delivers it nowhere, as EventBridge does.
	EventBuses []string
	// Queues are the names of the SQS queues served (the JSON protocol subset of sqs.go).
	Queues []string
}

// Server is an http.Handler that answers DynamoDB, Secrets Manager and EventBridge requests.
type Server struct {
	ddb      http.Handler
	external bool
	secrets  map[string]string
	logger   *slog.Logger
	created  time.Time

	// writeMu serialises the observed writes together with their notification, so observers
	// see committed items one at a time and in commit order, like a stream shard would.
	writeMu sync.Mutex
	replays replayFilter

	mu        sync.Mutex
	observers []writeObserver
	ttl       map[string]ttlSetting
	tables    map[string]tableSpec

	eventObservers []func(PublishedEvent)
	eventFailure   EventFailure
	eventBuses     []string

	queues     map[string]*queue
	runnerInfo *RunnerInfo

	// empties keeps empty lists and maps through the embedded engine (see empties).
	empties empties
}

type ttlSetting struct {
	AttributeName string
	Enabled       bool
}

// New returns a Server with an empty embedded DynamoDB and the given secrets.
func New(opts Options) *Server {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	secrets := make(map[string]string, len(opts.Secrets))
	for k, v := range opts.Secrets {
		secrets[k] = v
	}
	var ddb http.Handler = minidyn.NewServer()
	if opts.DynamoDB != nil {
		ddb = opts.DynamoDB
	}
	return &Server{
		ddb:      ddb,
		external: opts.DynamoDB != nil,
		secrets:  secrets,
		logger:   logger,
		created:  time.Now().UTC().Truncate(time.Second),
		ttl:      make(map[string]ttlSetting),
		tables:   make(map[string]tableSpec),
		empties:  newEmpties(),

		eventBuses: slices.Clone(opts.EventBuses),
		queues:     newQueues(opts.Queues),
	}
}

// OnWrite registers fn to be called with every item written by a successful PutItem and with
// every Put item of a successful TransactWriteItems (UpdateItem, DeleteItem and BatchWriteItem
// are not reported). Observers run one at a time, in commit order, before the write's
// response is sent; fn must therefore be quick and must not itself write to this Server
// synchronously (hand the item to a goroutine or a channel instead).
func (s *Server) OnWrite(fn func(table string, item map[string]types.AttributeValue)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observers = append(s.observers, fn)
}

// Config returns an aws.Config for region us-east-1 with static credentials local/local whose
// BaseEndpoint is endpoint, so that real SDK clients built from it talk to a Server.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// RunnerInfoPath is where a GET on the AWS address answers RunnerInfo: how tools such as
// rlctl, given only --endpoint, learn the runner's API address.
const RunnerInfoPath = "/rocketlead/local-runner"

// RunnerInfo describes the local runner behind this AWS address.
type RunnerInfo struct {
	// PublicBaseURL is the base of the webhook URLs (the API front's address).
	PublicBaseURL string `json:"publicBaseUrl"`
}

// SetRunnerInfo sets what GET RunnerInfoPath answers; until then it is a 404.
func (s *Server) SetRunnerInfo(info RunnerInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runnerInfo = &info
}

// ServeHTTP routes a request by its X-Amz-Target header.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if target == "" && r.Method == http.MethodGet && r.URL.Path == RunnerInfoPath {
		s.mu.Lock()
		info := s.runnerInfo
		s.mu.Unlock()
		if info == nil {
			http.NotFound(w, r)
			return
		}
		writeJSON(w, "application/json", http.StatusOK, info)
		return
	}
	switch {
	case strings.HasPrefix(target, dynamoDBPrefix):
		s.serveDynamoDB(w, r, strings.TrimPrefix(target, dynamoDBPrefix))
	case s.external && strings.HasPrefix(target, dynamoDBStreamsPrefix):
		// The Streams API of an external engine (minidyn has none), for StreamPoller.
		s.ddb.ServeHTTP(w, r)
	case strings.HasPrefix(target, secretsManagerPrefix):
		s.serveSecretsManager(w, r, strings.TrimPrefix(target, secretsManagerPrefix))
	case strings.HasPrefix(target, eventBridgePrefix):
		s.serveEventBridge(w, r, strings.TrimPrefix(target, eventBridgePrefix))
	case strings.HasPrefix(target, sqsPrefix):
		s.serveSQS(w, r, strings.TrimPrefix(target, sqsPrefix))
	case !s.external && strings.HasPrefix(target, dynamoDBStreamsPrefix):
		// The embedded engine has no stream to read back (the relay hands each write on
		// once): every stream is gone, as in AWS after its 24-hour retention.
		writeAWSError(w, dynamoDBContentType, http.StatusBadRequest, "ResourceNotFoundException",
			"Requested resource not found: the local runner keeps no stream records (use the table)")
	default:
		s.logger.Warn("localaws: unknown target", "target", target)
		writeAWSError(w, secretsManagerContentType, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("unknown operation %q", target))
	}
}

func (s *Server) serveDynamoDB(w http.ResponseWriter, r *http.Request, op string) {
	switch {
	case s.external && op != "PutItem" && op != "TransactWriteItems":
		rec := newRecorder()
		s.ddb.ServeHTTP(rec, r)
		s.logger.Debug("localaws: dynamodb", "op", op, "status", rec.status)
		rec.copyTo(w)
	case op == "UpdateTimeToLive":
		s.updateTimeToLive(w, r)
	case op == "DescribeTimeToLive":
		s.describeTimeToLive(w, r)
	case op == "PutItem" || op == "TransactWriteItems":
		s.observedWrite(w, r, op)
	case op == "CreateTable" || op == "DeleteTable" || op == "DescribeTable" || op == "ListTables":
		s.catalogCall(w, r, op)
	case minidynOperations[op]:
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		rec := s.embedded(r, body)
		s.logger.Debug("localaws: dynamodb", "op", op, "status", rec.status)
		rec.copyTo(w)
	default:
		s.logger.Warn("localaws: unsupported dynamodb operation", "op", op)
		writeAWSError(w, dynamoDBContentType, http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("operation %s is not supported locally", op))
	}
}

// observedWrite forwards a PutItem or TransactWriteItems to minidyn and, when it succeeded,
// hands the written items to the observers.
func (s *Server) observedWrite(w http.ResponseWriter, r *http.Request, op string) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	var rec *recorder
	if s.external {
		rec = newRecorder()
		s.ddb.ServeHTTP(rec, forward(r, body))
	} else {
		rec = s.embedded(r, body)
	}
	s.logger.Debug("localaws: dynamodb", "op", op, "status", rec.status)
	if rec.status == http.StatusOK && s.replays.first(op, body) {
		s.notify(op, body)
	}
	rec.copyTo(w)
}

// readBody reads a request body of at most maxRequestBody bytes, or answers the error.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		writeAWSError(w, dynamoDBContentType, http.StatusBadRequest, "SerializationException", "cannot read request body")
		return nil, false
	}
	if len(body) > maxRequestBody {
		writeAWSError(w, dynamoDBContentType, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "request body too large")
		return nil, false
	}
	return body, true
}

// forward returns r with body as its body.
func forward(r *http.Request, body []byte) *http.Request {
	fwd := r.Clone(r.Context())
	fwd.Body = io.NopCloser(bytes.NewReader(body))
	fwd.ContentLength = int64(len(body))
	return fwd
}

// embedded serves a DynamoDB request with the embedded engine, its empty lists and maps
// carried through it (empties), and returns the buffered answer.
func (s *Server) embedded(r *http.Request, body []byte) *recorder {
	rec := newRecorder()
	s.ddb.ServeHTTP(rec, forward(r, s.empties.request(body)))
	if out, changed := s.empties.response(rec.body.Bytes()); changed {
		rec.body.Reset()
		rec.body.Write(out)
		rec.header.Del("Content-Length")
	}
	return rec
}

func (s *Server) notify(op string, body []byte) {
	s.mu.Lock()
	observers := append([]writeObserver(nil), s.observers...)
	s.mu.Unlock()
	if len(observers) == 0 {
		return
	}

	writes, err := writtenItems(op, body)
	if err != nil {
		// minidyn accepted the request, so this is a converter gap, not a client error.
		s.logger.Warn("localaws: cannot report written items", "op", op, "err", err)
		return
	}
	for _, wr := range writes {
		for _, fn := range observers {
			fn(wr.table, wr.item)
		}
	}
}

type writtenItem struct {
	table string
	item  map[string]types.AttributeValue
}

type putWire struct {
	TableName string                     `json:"TableName"`
	Item      map[string]json.RawMessage `json:"Item"`
}

// writtenItems extracts the items a PutItem or TransactWriteItems request body writes.
func writtenItems(op string, body []byte) ([]writtenItem, error) {
	var puts []putWire
	switch op {
	case "PutItem":
		var in putWire
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fmt.Errorf("decode PutItem request: %w", err)
		}
		puts = append(puts, in)
	case "TransactWriteItems":
		var in struct {
			TransactItems []struct {
				Put *putWire `json:"Put"`
			} `json:"TransactItems"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, fmt.Errorf("decode TransactWriteItems request: %w", err)
		}
		for _, ti := range in.TransactItems {
			if ti.Put != nil {
				puts = append(puts, *ti.Put)
			}
		}
	default:
		return nil, fmt.Errorf("operation %s writes no observed items", op)
	}

	out := make([]writtenItem, 0, len(puts))
	for _, p := range puts {
		item, err := decodeItem(p.Item)
		if err != nil {
			return nil, fmt.Errorf("decode item for table %s: %w", p.TableName, err)
		}
		out = append(out, writtenItem{table: p.TableName, item: item})
	}
	return out, nil
}

func (s *Server) updateTimeToLive(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TableName               string     `json:"TableName"`
		TimeToLiveSpecification ttlSetting `json:"TimeToLiveSpecification"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&in); err != nil || in.TableName == "" {
		writeAWSError(w, dynamoDBContentType, http.StatusBadRequest, "ValidationException", "invalid UpdateTimeToLive request")
		return
	}
	s.mu.Lock()
	prev, had := s.ttl[in.TableName]
	same := had && prev.Enabled == in.TimeToLiveSpecification.Enabled
	if !same {
		s.ttl[in.TableName] = in.TimeToLiveSpecification
	}
	s.mu.Unlock()
	if same {
		// DynamoDB refuses a change to the state TTL is already in.
		state := "disabled"
		if prev.Enabled {
			state = "enabled"
		}
		writeAWSError(w, dynamoDBContentType, http.StatusBadRequest, "ValidationException", "TimeToLive is already "+state)
		return
	}
	s.logger.Debug("localaws: TTL recorded but never enforced", "table", in.TableName,
		"attribute", in.TimeToLiveSpecification.AttributeName, "enabled", in.TimeToLiveSpecification.Enabled)
	writeJSON(w, dynamoDBContentType, http.StatusOK, map[string]any{
		"TimeToLiveSpecification": in.TimeToLiveSpecification,
	})
}

func (s *Server) describeTimeToLive(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TableName string `json:"TableName"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody)).Decode(&in); err != nil || in.TableName == "" {
		writeAWSError(w, dynamoDBContentType, http.StatusBadRequest, "ValidationException", "invalid DescribeTimeToLive request")
		return
	}
	s.mu.Lock()
	setting, ok := s.ttl[in.TableName]
	s.mu.Unlock()
	desc := map[string]any{"TimeToLiveStatus": "DISABLED"}
	if ok && setting.Enabled {
		desc = map[string]any{"TimeToLiveStatus": "ENABLED", "AttributeName": setting.AttributeName}
	}
	writeJSON(w, dynamoDBContentType, http.StatusOK, map[string]any{"TimeToLiveDescription": desc})
}

// recorder buffers a handler's response so it can be inspected before it is sent.
type recorder struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func newRecorder() *recorder {
	return &recorder{header: make(http.Header)}
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.body.Write(p)
}

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *recorder) copyTo(w http.ResponseWriter) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	// DynamoDB sends the CRC32 of every response body, and the SDK checks it: without the
	// header it compares against 0 and logs a warning per call (visible with
	// config.LoadDefaultConfig, whose logger is not silent).
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(rec.body.Bytes())), 10))
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(rec.body.Bytes())
}

func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeAWSError(w, contentType, http.StatusInternalServerError, "InternalFailure", "cannot encode response")
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeAWSError(w http.ResponseWriter, contentType string, status int, errType, message string) {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message,omitempty"`
	}{errType, message})
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-ErrorType", errType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
