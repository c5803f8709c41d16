// Package faults injects DynamoDB and EventBridge failures on the wire, between the
// aws-sdk-go-v2 clients and the engines (the embedded minidyn or an external one such as
// DynamoDB Local, and the EventBridge stand-in). Neither engine ever produces
// TransactionConflict, throttling, 500s or lost responses, so the local AWS address and the
// tests put an Injector in front of them to make them happen.
//
// An Injector is an http.Handler middleware. Requests whose X-Amz-Target is neither a
// DynamoDB operation nor EventBridge PutEvents pass through untouched. Each Rule names an
// operation ("*" for every DynamoDB one), a Kind and when it fires: with a probability per
// call, or on the first Count matching calls. The errors are the JSON bodies and status codes
// the service sends, so the SDK decodes them into its typed errors
// (*types.TransactionCanceledException with cancellation reasons,
// *types.ProvisionedThroughputExceededException, EventBridge's *types.InternalException, ...)
// and applies its own retry policy.
//
// Rules come from Go (Add, Remove, Reset) or from a spec string (Parse), the form of the
// local runner's -faults flag:
//
//	Op:kind:probability[:latency]  fires on each matching call with that probability (0..1)
//	Op:kind:#N[:latency]           fires on the first N matching calls, then never
//
// comma-separated, e.g. "TransactWriteItems:conflict:0.3,PutItem:lost:#2,*:slow:0.1:500ms,PutEvents:partial:0.1".
// Op is a DynamoDB operation name (PutItem, TransactWriteItems, ...), "*" (every DynamoDB
// operation) or PutEvents; the kinds are conflict, throttle, throughput, error, slow, lost,
// late and partial; the latency field applies to slow (default 250ms) and late (the delay
// before the request reaches the engine, default 1s). conflict, throughput and late are
// DynamoDB's own and partial is PutEvents' own.
package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is what an injected fault does.
type Kind string

// The kinds of fault.
const (
	// Conflict answers a TransactWriteItems or TransactGetItems with HTTP 400
	// TransactionCanceledException, one cancellation reason per TransactItems entry:
	// TransactionConflict for the conflicted ones, None for the others. Nothing is applied.
	// On other operations it answers TransactionConflictException, as DynamoDB does for a
	// single-item write on an item a transaction is changing.
	Conflict Kind = "conflict"
	// Throttle answers HTTP 400 ThrottlingException; nothing is applied.
	Throttle Kind = "throttle"
	// Throughput answers HTTP 400 ProvisionedThroughputExceededException; nothing is applied.
	Throughput Kind = "throughput"
	// Error answers HTTP 500 InternalServerError; nothing is applied.
	Error Kind = "error"
	// Slow delays the call by the rule's Latency, then lets it through (or lets a later rule
	// fire); the delay ends early when the client gives up.
	Slow Kind = "slow"
	// Lost applies the request to the engine, then drops the response: the connection is
	// closed without an answer, so the client sees a transport error for a write that did
	// happen (the ambiguous write).
	Lost Kind = "lost"
	// Partial answers a PutEvents with HTTP 200 and a FailedEntryCount: the entries the rule
	// names (one at random when it names none) fail with ErrorCode ThrottlingException and
	// are not put on the bus; the others are handed to the event bus as usual. Only for
	// PutEvents.
	Partial Kind = "partial"
	// Late answers a DynamoDB call with HTTP 500 InternalServerError at once and applies the
	// request to the engine the rule's Latency later: the client is told of a failure while
	// its write is still on its way, and the write lands after the client has given up on it,
	// as a request held up inside DynamoDB can. WaitLate reports what the engine answered.
	Late Kind = "late"
)

var kinds = []Kind{Conflict, Throttle, Throughput, Error, Slow, Lost, Partial, Late}

// PutEvents is the one EventBridge operation the injector acts on.
const PutEvents = "PutEvents"

// DefaultLatency is the delay of a Slow rule without a Latency.
const DefaultLatency = 250 * time.Millisecond

// DefaultLateDelay is how long a Late rule without a Latency holds a request before
// applying it.
const DefaultLateDelay = time.Second

const (
	targetPrefix           = "DynamoDB_20120810."
	contentType            = "application/x-amz-json-1.0"
	eventBridgePrefix      = "AWSEvents."
	eventBridgeContentType = "application/x-amz-json-1.1"
	// maxBody bounds what is buffered per request; a TransactWriteItems is at most 4 MB.
	maxBody = 16 << 20
)

// Rule is one fault to inject.
type Rule struct {
	// Op is the DynamoDB operation (e.g. "PutItem"), "*" for every DynamoDB operation, or
	// PutEvents.
	Op string
	// Kind is what the fault does.
	Kind Kind
	// Probability (0..1) that a matching call is faulted; used when Count is 0.
	Probability float64
	// Count, when positive, faults the first Count matching calls and then none.
	Count int
	// Latency is the delay of a Slow rule (0 means DefaultLatency) or of a Late rule (0
	// means DefaultLateDelay).
	Latency time.Duration
	// Conflicted lists the TransactItems indexes a Conflict rule reports as
	// TransactionConflict; empty picks one at random (from the injector's seeded source).
	Conflicted []int
	// Failed lists the PutEvents entry indexes a Partial rule fails; empty picks one at
	// random (from the injector's seeded source).
	Failed []int
}

// String renders r in the spec form Parse reads.
func (r Rule) String() string {
	when := strconv.FormatFloat(r.Probability, 'g', -1, 64)
	if r.Count > 0 {
		when = "#" + strconv.Itoa(r.Count)
	}
	s := r.Op + ":" + string(r.Kind) + ":" + when
	if (r.Kind == Slow || r.Kind == Late) && r.Latency > 0 {
		s += ":" + r.Latency.String()
	}
	return s
}

func (r Rule) validate() error {
	if r.Op == "" {
		return fmt.Errorf("fault rule %s: empty operation", r)
	}
	if !slices.Contains(kinds, r.Kind) {
		return fmt.Errorf("fault rule %s: unknown kind %q (want one of conflict, throttle, throughput, error, slow, lost, late, partial)", r, r.Kind)
	}
	switch {
	case r.Kind == Partial && r.Op != PutEvents:
		return fmt.Errorf("fault rule %s: partial applies to PutEvents only", r)
	case r.Op == PutEvents && (r.Kind == Conflict || r.Kind == Throughput || r.Kind == Late):
		return fmt.Errorf("fault rule %s: %s is a DynamoDB fault, not an EventBridge one", r, r.Kind)
	}
	if r.Count < 0 {
		return fmt.Errorf("fault rule %s: negative count", r)
	}
	if r.Count == 0 && (r.Probability <= 0 || r.Probability > 1) {
		return fmt.Errorf("fault rule %s: probability must be in (0, 1], or use #N for a count", r)
	}
	if r.Latency < 0 {
		return fmt.Errorf("fault rule %s: negative latency", r)
	}
	return nil
}

// Parse reads a comma-separated list of rules in the form described in the package
// documentation. An empty spec is no rules.
func Parse(spec string) ([]Rule, error) {
	var rules []Rule
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		fields := strings.Split(part, ":")
		if len(fields) < 3 || len(fields) > 4 {
			return nil, fmt.Errorf("fault rule %q: want Op:kind:probability, Op:kind:#N or Op:kind:when:latency", part)
		}
		r := Rule{Op: fields[0], Kind: Kind(fields[1])}
		if n, ok := strings.CutPrefix(fields[2], "#"); ok {
			c, err := strconv.Atoi(n)
			if err != nil || c <= 0 {
				return nil, fmt.Errorf("fault rule %q: count %q is not a positive integer", part, n)
			}
			r.Count = c
		} else {
			p, err := strconv.ParseFloat(fields[2], 64)
			if err != nil {
				return nil, fmt.Errorf("fault rule %q: probability %q: %w", part, fields[2], err)
			}
			r.Probability = p
		}
		if len(fields) == 4 {
			if r.Kind != Slow && r.Kind != Late {
				return nil, fmt.Errorf("fault rule %q: only slow and late take a latency", part)
			}
			d, err := time.ParseDuration(fields[3])
			if err != nil {
				return nil, fmt.Errorf("fault rule %q: latency: %w", part, err)
			}
			r.Latency = d
		}
		if err := r.validate(); err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// RuleID identifies an added rule for Remove.
type RuleID int

// Key names a counter: an operation and the kind of fault injected on it.
type Key struct {
	Op   string
	Kind Kind
}

// Options configures an Injector.
type Options struct {
	// Seed seeds the random source behind probabilities and conflict picks: the same seed,
	// rules and call sequence inject the same faults.
	Seed uint64
	// Logger receives one line per injected fault; nil discards them.
	Logger *slog.Logger
}

// Injector is the fault-injecting middleware. Its methods are safe for concurrent use.
type Injector struct {
	next   http.Handler
	logger *slog.Logger

	mu     sync.Mutex
	rng    *rand.Rand
	nextID RuleID
	rules  []*activeRule
	counts map[Key]int
	// Requests a Late rule holds: how many are still on their way, and what the engine
	// answered the ones that arrived.
	latePending int
	lateResults []LateResult
}

// LateResult is what the engine answered a request a Late rule applied late.
type LateResult struct {
	// Op is the DynamoDB operation.
	Op string
	// Status is the engine's HTTP status code.
	Status int
	// Type is the engine's error type without its namespace (e.g.
	// "TransactionCanceledException"), or "" for a success.
	Type string
}

// WaitLate waits until every request Late rules have held so far has reached the engine,
// or ctx ends, and returns what the engine answered each late request, in arrival order.
func (in *Injector) WaitLate(ctx context.Context) ([]LateResult, error) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		in.mu.Lock()
		pending, results := in.latePending, slices.Clone(in.lateResults)
		in.mu.Unlock()
		if pending == 0 {
			return results, nil
		}
		select {
		case <-ctx.Done():
			return results, fmt.Errorf("%d late requests still on their way: %w", pending, ctx.Err())
		case <-t.C:
		}
	}
}

type activeRule struct {
	id   RuleID
	rule Rule
	left int // calls still to fault when rule.Count > 0
}

// New returns an Injector in front of next with no rules.
func New(next http.Handler, opts Options) *Injector {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Injector{
		next:   next,
		logger: logger,
		rng:    rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		counts: make(map[Key]int),
	}
}

// Add adds a rule after the existing ones and returns its id.
func (in *Injector) Add(r Rule) (RuleID, error) {
	if err := r.validate(); err != nil {
		return 0, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.nextID++
	r.Conflicted = slices.Clone(r.Conflicted)
	in.rules = append(in.rules, &activeRule{id: in.nextID, rule: r, left: r.Count})
	return in.nextID, nil
}

// AddSpec adds the rules of a spec string (see Parse).
func (in *Injector) AddSpec(spec string) error {
	rules, err := Parse(spec)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if _, err := in.Add(r); err != nil {
			return err
		}
	}
	return nil
}

// Remove removes a rule; removing an unknown id does nothing.
func (in *Injector) Remove(id RuleID) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = slices.DeleteFunc(in.rules, func(a *activeRule) bool { return a.id == id })
}

// Reset removes every rule and zeroes the counters.
func (in *Injector) Reset() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = nil
	in.counts = make(map[Key]int)
}

// Count returns how many faults of kind were injected on op; op "*" sums every operation.
func (in *Injector) Count(op string, kind Kind) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if op != "*" {
		return in.counts[Key{op, kind}]
	}
	n := 0
	for k, c := range in.counts {
		if k.Kind == kind {
			n += c
		}
	}
	return n
}

// Counts returns a copy of every counter.
func (in *Injector) Counts() map[Key]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[Key]int, len(in.counts))
	for k, c := range in.counts {
		out[k] = c
	}
	return out
}

// decision is what the rules decided for one call.
type decision struct {
	delay      time.Duration
	kind       Kind // "" or Slow: pass through after the delay
	conflicted []int
	failed     []int
	late       time.Duration // the hold of a Late fault
}

// decide applies the rules to one call of op; "*" rules match DynamoDB operations only.
func (in *Injector) decide(op string, dynamoDB bool) decision {
	in.mu.Lock()
	defer in.mu.Unlock()
	var d decision
	for _, a := range in.rules {
		if a.rule.Op != op && (a.rule.Op != "*" || !dynamoDB) {
			continue
		}
		if a.rule.Count > 0 {
			if a.left == 0 {
				continue
			}
			a.left--
		} else if in.rng.Float64() >= a.rule.Probability {
			continue
		}
		in.counts[Key{op, a.rule.Kind}]++
		in.logger.Info("fault injected", "op", op, "kind", string(a.rule.Kind), "rule", a.rule.String())
		if a.rule.Kind == Slow {
			lat := a.rule.Latency
			if lat == 0 {
				lat = DefaultLatency
			}
			d.delay += lat
			continue
		}
		d.kind = a.rule.Kind
		d.conflicted = a.rule.Conflicted
		d.failed = a.rule.Failed
		if d.kind == Late {
			d.late = a.rule.Latency
			if d.late == 0 {
				d.late = DefaultLateDelay
			}
		}
		break
	}
	return d
}

// ServeHTTP applies the rules to a DynamoDB or PutEvents request and passes everything else
// through.
func (in *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if op, ok := strings.CutPrefix(target, targetPrefix); ok {
		in.serveDynamoDB(w, r, op)
		return
	}
	if op, ok := strings.CutPrefix(target, eventBridgePrefix); ok && op == PutEvents {
		in.servePutEvents(w, r)
		return
	}
	in.next.ServeHTTP(w, r)
}

// wait sleeps for a Slow decision's delay and reports false when the client gave up first.
// The body is read first: only then does net/http watch the connection and cancel the
// request's context when the client hangs up.
func wait(r *http.Request, d decision) bool {
	if d.delay <= 0 {
		return true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	t := time.NewTimer(d.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// lose applies the request and closes the connection without a response: net/http aborts
// the connection on this panic and logs nothing.
func (in *Injector) lose(r *http.Request) {
	in.next.ServeHTTP(discard{header: make(http.Header)}, r)
	panic(http.ErrAbortHandler)
}

func (in *Injector) serveDynamoDB(w http.ResponseWriter, r *http.Request, op string) {
	d := in.decide(op, true)
	if !wait(r, d) {
		return
	}
	switch d.kind {
	case Conflict:
		in.conflict(w, r, op, d.conflicted)
	case Throttle:
		writeError(w, http.StatusBadRequest, "com.amazon.coral.availability#ThrottlingException",
			"Rate of requests exceeds the allowed throughput.")
	case Throughput:
		writeError(w, http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
			"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.")
	case Error:
		writeError(w, http.StatusInternalServerError, "com.amazonaws.dynamodb.v20120810#InternalServerError",
			"Internal server error")
	case Lost:
		in.lose(r)
	case Late:
		in.late(w, r, op, d.late)
	default:
		in.next.ServeHTTP(w, r)
	}
}

// late answers 500 now and hands the request to the engine after delay, on a context of its
// own: the client is gone by then.
func (in *Injector) late(w http.ResponseWriter, r *http.Request, op string, delay time.Duration) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		// The request never fully arrived: there is nothing to apply later.
		writeError(w, http.StatusInternalServerError, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error")
		return
	}
	held := r.Clone(context.Background())
	held.Body = io.NopCloser(bytes.NewReader(body))
	held.ContentLength = int64(len(body))
	in.mu.Lock()
	in.latePending++
	in.mu.Unlock()
	writeError(w, http.StatusInternalServerError, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error")
	go func() {
		time.Sleep(delay)
		rec := httptest.NewRecorder()
		in.next.ServeHTTP(rec, held)
		res := LateResult{Op: op, Status: rec.Code}
		if rec.Code != http.StatusOK {
			var e struct {
				Type string `json:"__type"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &e)
			if _, after, ok := strings.Cut(e.Type, "#"); ok {
				res.Type = after
			} else {
				res.Type = e.Type
			}
		}
		in.logger.Info("late request applied", "op", op, "status", res.Status, "type", res.Type)
		in.mu.Lock()
		in.latePending--
		in.lateResults = append(in.lateResults, res)
		in.mu.Unlock()
	}()
}

// servePutEvents answers as EventBridge does when it throttles a PutEvents, fails inside,
// or fails some of its entries.
func (in *Injector) servePutEvents(w http.ResponseWriter, r *http.Request) {
	d := in.decide(PutEvents, false)
	if !wait(r, d) {
		return
	}
	switch d.kind {
	case Throttle:
		writeEventBridgeError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
	case Error:
		writeEventBridgeError(w, http.StatusInternalServerError, "InternalException", "Internal service error")
	case Lost:
		in.lose(r)
	case Partial:
		in.partial(w, r, d.failed)
	default:
		in.next.ServeHTTP(w, r)
	}
}

// putEventsResult is one entry of a PutEvents response.
type putEventsResult struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// partial fails the chosen entries of a PutEvents and hands the others to the event bus,
// answering with the results in request order and the FailedEntryCount of both.
func (in *Injector) partial(w http.ResponseWriter, r *http.Request, failed []int) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	var req map[string]json.RawMessage
	var entries []json.RawMessage
	if err != nil || json.Unmarshal(body, &req) != nil || json.Unmarshal(req["Entries"], &entries) != nil || len(entries) == 0 {
		// Not a request EventBridge would accept: let the stand-in give its own error.
		r.Body = io.NopCloser(bytes.NewReader(body))
		in.next.ServeHTTP(w, r)
		return
	}
	n := len(entries)
	if len(failed) == 0 {
		in.mu.Lock()
		failed = []int{in.rng.IntN(n)}
		in.mu.Unlock()
	}
	var pass []json.RawMessage
	for i, e := range entries {
		if !slices.Contains(failed, i) {
			pass = append(pass, e)
		}
	}
	var passed struct {
		FailedEntryCount int               `json:"FailedEntryCount"`
		Entries          []putEventsResult `json:"Entries"`
	}
	if len(pass) > 0 {
		raw, err := json.Marshal(pass)
		if err != nil {
			writeEventBridgeError(w, http.StatusInternalServerError, "InternalException", "encode fault")
			return
		}
		req["Entries"] = raw
		fwdBody, err := json.Marshal(req)
		if err != nil {
			writeEventBridgeError(w, http.StatusInternalServerError, "InternalException", "encode fault")
			return
		}
		fwd := r.Clone(r.Context())
		fwd.Body = io.NopCloser(bytes.NewReader(fwdBody))
		fwd.ContentLength = int64(len(fwdBody))
		fwd.Header.Del("Content-Length")
		rec := httptest.NewRecorder()
		in.next.ServeHTTP(rec, fwd)
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &passed) != nil || len(passed.Entries) != len(pass) {
			// The stand-in refused the rest: its answer stands.
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
	}
	results := make([]putEventsResult, 0, n)
	count := passed.FailedEntryCount
	next := 0
	for i := range entries {
		if slices.Contains(failed, i) {
			results = append(results, putEventsResult{ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded"})
			count++
			continue
		}
		results = append(results, passed.Entries[next])
		next++
	}
	body, err = json.Marshal(struct {
		FailedEntryCount int               `json:"FailedEntryCount"`
		Entries          []putEventsResult `json:"Entries"`
	}{count, results})
	if err != nil {
		writeEventBridgeError(w, http.StatusInternalServerError, "InternalException", "encode fault")
		return
	}
	w.Header().Set("Content-Type", eventBridgeContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeEventBridgeError writes an EventBridge error response (JSON 1.1 protocol).
func writeEventBridgeError(w http.ResponseWriter, status int, errType, message string) {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{errType, message})
	w.Header().Set("Content-Type", eventBridgeContentType)
	w.Header().Set("X-Amzn-ErrorType", errType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// conflict answers as DynamoDB does when a transaction collides with another one.
func (in *Injector) conflict(w http.ResponseWriter, r *http.Request, op string, conflicted []int) {
	if op != "TransactWriteItems" && op != "TransactGetItems" {
		writeError(w, http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
			"Transaction is ongoing for the item")
		return
	}
	var req struct {
		TransactItems []json.RawMessage `json:"TransactItems"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || json.Unmarshal(body, &req) != nil || len(req.TransactItems) == 0 {
		// Not a transaction DynamoDB would run: let the engine give its own validation error.
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		in.next.ServeHTTP(w, r)
		return
	}
	n := len(req.TransactItems)
	if len(conflicted) == 0 {
		in.mu.Lock()
		conflicted = []int{in.rng.IntN(n)}
		in.mu.Unlock()
	}
	type reason struct {
		Code    string `json:"Code"`
		Message string `json:"Message,omitempty"`
	}
	reasons := make([]reason, n)
	codes := make([]string, n)
	for i := range reasons {
		reasons[i] = reason{Code: "None"}
		if slices.Contains(conflicted, i) {
			reasons[i] = reason{Code: "TransactionConflict", Message: "Transaction is ongoing for the item"}
		}
		codes[i] = reasons[i].Code
	}
	writeJSON(w, http.StatusBadRequest, struct {
		Type                string   `json:"__type"`
		CancellationReasons []reason `json:"CancellationReasons"`
		Message             string   `json:"Message"`
	}{
		Type:                "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
		CancellationReasons: reasons,
		Message:             "Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]",
	})
}

func writeError(w http.ResponseWriter, status int, errType, message string) {
	writeJSON(w, status, struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{errType, message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode fault", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// discard is the ResponseWriter of a request whose answer is lost.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(p []byte) (int, error) { return len(p), nil }
func (d discard) WriteHeader(int)             {}
