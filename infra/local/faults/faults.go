// Package faults injects DynamoDB failures on the wire, between the aws-sdk-go-v2 client and
// a DynamoDB engine (the embedded minidyn or an external one such as DynamoDB Local). Neither
// engine ever produces TransactionConflict, throttling, 500s or lost responses, so the local
// AWS address and the tests put an Injector in front of the engine to make them happen.
//
// An Injector is an http.Handler middleware. Requests whose X-Amz-Target is not a DynamoDB
// operation pass through untouched. Each Rule names an operation (or "*" for every one), a
// Kind and when it fires: with a probability per call, or on the first Count matching calls.
// The errors are the JSON bodies and status codes DynamoDB sends, so the SDK decodes them into
// its typed errors (*types.TransactionCanceledException with cancellation reasons,
// *types.ProvisionedThroughputExceededException, ...) and applies its own retry policy.
//
// Rules come from Go (Add, Remove, Reset) or from a spec string (Parse), the form of the
// local runner's -faults flag:
//
//	Op:kind:probability[:latency]  fires on each matching call with that probability (0..1)
//	Op:kind:#N[:latency]           fires on the first N matching calls, then never
//
// comma-separated, e.g. "TransactWriteItems:conflict:0.3,PutItem:lost:#2,*:slow:0.1:500ms".
// Op is a DynamoDB operation name (PutItem, TransactWriteItems, ...) or "*"; the kinds are
// conflict, throttle, throughput, error, slow and lost; the latency field applies to slow
// (default 250ms).
package faults

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
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
)

var kinds = []Kind{Conflict, Throttle, Throughput, Error, Slow, Lost}

// DefaultLatency is the delay of a Slow rule without a Latency.
const DefaultLatency = 250 * time.Millisecond

const (
	targetPrefix = "DynamoDB_20120810."
	contentType  = "application/x-amz-json-1.0"
	// maxBody bounds what is buffered per request; a TransactWriteItems is at most 4 MB.
	maxBody = 16 << 20
)

// Rule is one fault to inject.
type Rule struct {
	// Op is the DynamoDB operation (e.g. "PutItem") or "*" for all.
	Op string
	// Kind is what the fault does.
	Kind Kind
	// Probability (0..1) that a matching call is faulted; used when Count is 0.
	Probability float64
	// Count, when positive, faults the first Count matching calls and then none.
	Count int
	// Latency is the delay of a Slow rule; 0 means DefaultLatency.
	Latency time.Duration
	// Conflicted lists the TransactItems indexes a Conflict rule reports as
	// TransactionConflict; empty picks one at random (from the injector's seeded source).
	Conflicted []int
}

// String renders r in the spec form Parse reads.
func (r Rule) String() string {
	when := strconv.FormatFloat(r.Probability, 'g', -1, 64)
	if r.Count > 0 {
		when = "#" + strconv.Itoa(r.Count)
	}
	s := r.Op + ":" + string(r.Kind) + ":" + when
	if r.Kind == Slow && r.Latency > 0 {
		s += ":" + r.Latency.String()
	}
	return s
}

func (r Rule) validate() error {
	if r.Op == "" {
		return fmt.Errorf("fault rule %s: empty operation", r)
	}
	if !slices.Contains(kinds, r.Kind) {
		return fmt.Errorf("fault rule %s: unknown kind %q (want one of conflict, throttle, throughput, error, slow, lost)", r, r.Kind)
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
			if r.Kind != Slow {
				return nil, fmt.Errorf("fault rule %q: only slow takes a latency", part)
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
}

func (in *Injector) decide(op string) decision {
	in.mu.Lock()
	defer in.mu.Unlock()
	var d decision
	for _, a := range in.rules {
		if a.rule.Op != "*" && a.rule.Op != op {
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
		break
	}
	return d
}

// ServeHTTP applies the rules to a DynamoDB request and passes everything else through.
func (in *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok {
		in.next.ServeHTTP(w, r)
		return
	}
	d := in.decide(op)
	if d.delay > 0 {
		t := time.NewTimer(d.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
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
		// Apply the request, throw the answer away, and close the connection without a
		// response: net/http aborts the connection on this panic and logs nothing.
		in.next.ServeHTTP(discard{header: make(http.Header)}, r)
		panic(http.ErrAbortHandler)
	default:
		in.next.ServeHTTP(w, r)
	}
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
