package apigw

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

// Observer writes the one log line and the metrics of every request a function handles.
type Observer struct {
	// Function names the function in the log line and as the FunctionName dimension.
	Function string
	// Logger receives the request lines; nil discards them.
	Logger *slog.Logger
	// Metrics receives one EMF document per request; nil emits none.
	Metrics *metrics.Emitter
}

// The metric names of the HTTP functions; Outcome is the second dimension of each (beside
// FunctionName): "created", "replayed", "dry_run", "ok" or the error code.
const (
	MetricRequests        = "Requests"
	MetricDuration        = "Duration"
	MetricServerErrors    = "ServerErrors"
	MetricThrottles       = "Throttles"
	MetricAWSCalls        = "AWSCalls"
	MetricAWSRetries      = "AWSRetries"
	MetricLeadsAccepted   = "LeadsAccepted"
	MetricLeadsRejected   = "LeadsRejected"
	MetricReplays         = "IdempotentReplays"
	MetricKeysLocked      = "SchemaKeysLocked"
	MetricLockRetries     = "LockConflictsRetried"
	MetricRejectedKept    = "RejectedRequestsKept"
	MetricRejectedNotKept = "RejectedRequestsNotKept"
	// MetricEntryFences counts entry (and kept rejected request) writes given up on whose
	// key was fenced, so their failure is true; MetricUnsettledWrites those whose key could
	// not be fenced in the function's time: answered 500 "Outcome unknown" (a 400 naming
	// its rejectedId with "unsettled" for a kept rejected request), a write of theirs still
	// on its way may commit. Emitted when not zero; template.yaml alarms on it.
	MetricEntryFences     = "EntryFences"
	MetricUnsettledWrites = "UnsettledWrites"
	DimensionOutcome      = "Outcome"
)

// note is what a handler reports about its request: the observer turns it into the log line
// and the metrics once the handler returns.
type note struct {
	status int
	err    error
	attrs  []any
	ingest bool
	dryRun bool
	result *lead.IngestResult
	logged bool
}

type noteKey struct{}

func noteFrom(ctx context.Context) *note {
	n, _ := ctx.Value(noteKey{}).(*note)
	return n
}

// RequestDeadline is the overall deadline of a request, below the functions' 10 s timeout
// so that a request DynamoDB keeps refusing is still answered (503) rather than cut off.
const RequestDeadline = 8 * time.Second

// FunctionTimeout is the functions' timeout (Globals.Function.Timeout in template.yaml): the
// function's own deadline when the invocation's context carries none (the local runner).
const FunctionTimeout = 10 * time.Second

// AnswerMargin is the part of the function's time kept to answer after settling a write
// whose outcome is unknown: settlement may run past RequestDeadline up to the function's
// deadline less AnswerMargin (SettleBudget after the request's start, without Lambda's
// deadline), and no later.
const AnswerMargin = 500 * time.Millisecond

// SettleBudget is the longest a request of an HTTP function takes outside Lambda: its
// settlement ends by FunctionTimeout less AnswerMargin after its start.
const SettleBudget = FunctionTimeout - AnswerMargin

// Observe wraps h so that each request writes exactly one log line and one EMF document,
// with the AWS calls, retries and throttles the request made (counted by the SDK middleware
// through the context) and its duration. The request runs with the RequestDeadline; a write
// whose outcome is unknown may be settled until the function's deadline (the invocation's,
// or FunctionTimeout after the start) less AnswerMargin (lead.WithSettleBy).
func Observe(h Handler, o Observer) Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, req Request) (Response, error) {
		start := time.Now()
		fnDeadline, ok := ctx.Deadline()
		if !ok {
			fnDeadline = start.Add(FunctionTimeout)
		}
		ctx = lead.WithSettleBy(ctx, fnDeadline.Add(-AnswerMargin))
		ctx, cancel := context.WithTimeout(ctx, RequestDeadline)
		defer cancel()
		ctx, calls := metrics.WithCalls(ctx)
		n := &note{}
		resp, err := h(context.WithValue(ctx, noteKey{}, n), req)
		if !n.logged {
			// A handler that reported nothing: log what the caller got.
			n.status, n.err = resp.StatusCode, err
		}
		if err != nil {
			// API Gateway answers a handler error with a bare 502.
			n.status = http.StatusBadGateway
			n.err = err
		}
		o.finish(ctx, req, n, calls.Counts(), time.Since(start))
		return resp, err
	}
}

// finish writes the request's log line and metrics.
func (o Observer) finish(ctx context.Context, req Request, n *note, c metrics.CallCounts, d time.Duration) {
	outcome := outcomeOf(n)
	ms := float64(d.Microseconds()) / 1000
	attrs := append([]any{
		slog.String("function", o.Function),
		slog.String("lambdaRequestId", lambdaRequestID(ctx)),
		slog.String("apiRequestId", RequestID(req)),
		slog.String("route", req.RouteKey),
		slog.Int("status", n.status),
		slog.String("outcome", outcome),
		slog.Int("awsCalls", c.Calls),
		slog.Int("awsRetries", c.Retries),
		slog.Int("throttles", c.Throttles),
		slog.Float64("durationMs", ms),
		slog.Bool("replayed", n.result != nil && n.result.Replayed),
		slog.Bool("dryRun", n.dryRun),
	}, withoutKeys(n.attrs, "replayed", "dryRun")...)
	attrs = append(attrs, errorAttrs(n.status, n.err)...)
	if c.Fences > 0 || c.Unsettled > 0 {
		attrs = append(attrs, slog.Int("entryFences", c.Fences), slog.Int("unsettledWrites", c.Unsettled))
	}
	var rejected *lead.RejectedFate
	var le *lead.Error
	if errors.As(n.err, &le) && le.Rejected != nil {
		rejected = le.Rejected
		if rejected.Kept {
			attrs = append(attrs, slog.String("rejectedId", rejected.ID))
		}
		attrs = append(attrs, slog.Bool("rejectedKept", rejected.Kept))
		if rejected.Unsettled {
			attrs = append(attrs, slog.String("rejectedId", rejected.ID), slog.Bool("rejectedUnsettled", true))
		}
		if rejected.Why != "" {
			attrs = append(attrs, slog.String("rejectedNotKeptWhy", rejected.Why))
		}
	}
	if n.result != nil && !n.result.Replayed && !n.dryRun {
		attrs = append(attrs, slog.Int("schemaKeysLocked", n.result.KeysLocked), slog.Int("lockRetries", n.result.LockRetries))
	}
	level := slog.LevelInfo
	if n.status >= 500 {
		level = slog.LevelError
	}
	o.Logger.Log(ctx, level, "request", attrs...)

	count := func(name string, v int) metrics.Metric {
		return metrics.Metric{Name: name, Unit: metrics.Count, Value: float64(v)}
	}
	ms5xx := 0
	if n.status >= 500 {
		ms5xx = 1
	}
	list := []metrics.Metric{
		count(MetricRequests, 1),
		{Name: MetricDuration, Unit: metrics.Milliseconds, Value: ms},
		count(MetricServerErrors, ms5xx),
		count(MetricThrottles, c.Throttles),
		count(MetricAWSCalls, c.Calls),
		count(MetricAWSRetries, c.Retries),
	}
	if n.ingest {
		accepted, rejectedN, replays, keys, retries := 0, 0, 0, 0, 0
		switch {
		case n.dryRun:
			// A dry run stores nothing and loses nothing: neither accepted nor rejected.
		case n.err != nil:
			if n.status >= 400 && n.status < 500 {
				rejectedN = 1
			}
		case n.result != nil && n.result.Replayed:
			replays = 1
		case n.result != nil:
			accepted, keys, retries = 1, n.result.KeysLocked, n.result.LockRetries
		case n.status >= 400 && n.status < 500:
			rejectedN = 1
		}
		list = append(list, count(MetricLeadsAccepted, accepted), count(MetricLeadsRejected, rejectedN),
			count(MetricReplays, replays), count(MetricKeysLocked, keys), count(MetricLockRetries, retries))
	}
	if c.Fences > 0 || c.Unsettled > 0 {
		list = append(list, count(MetricEntryFences, c.Fences), count(MetricUnsettledWrites, c.Unsettled))
	}
	if rejected != nil {
		switch {
		case rejected.Kept:
			list = append(list, count(MetricRejectedKept, 1))
		case rejected.Unsettled:
			// Counted in UnsettledWrites (the store's count): it may have been kept.
		default:
			list = append(list, count(MetricRejectedNotKept, 1))
		}
	}
	props := map[string]any{"apiRequestId": RequestID(req), "lambdaRequestId": lambdaRequestID(ctx), "status": n.status}
	for _, a := range n.attrs {
		if attr, ok := a.(slog.Attr); ok && (attr.Key == "webhookId" || attr.Key == "poolId") {
			props[attr.Key] = attr.Value.String()
		}
	}
	if err := o.Metrics.Emit([]metrics.Dimension{{Name: DimensionOutcome, Value: outcome}}, list, props); err != nil {
		o.Logger.Warn("metrics not emitted", "err", err)
	}
}

// outcomeOf is the low-cardinality outcome of a request: its error code, or what succeeded.
func outcomeOf(n *note) string {
	switch {
	case n.err != nil || n.status >= 400:
		if n.status == http.StatusBadGateway {
			return string(lead.EINTERNAL)
		}
		return string(lead.ErrorCode(n.err))
	case n.result != nil && n.result.Replayed:
		return "replayed"
	case n.dryRun:
		return "dry_run"
	case n.status == http.StatusCreated:
		return "created"
	default:
		return "ok"
	}
}

// errorAttrs names the error code of a failed request and, for a 5xx only, the error text
// (wrapped with ids and SDK messages, never request data); a client mistake is its code.
func errorAttrs(status int, err error) []any {
	if err == nil {
		return nil
	}
	attrs := []any{slog.String("errorCode", string(lead.ErrorCode(err)))}
	if status >= 500 {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	return attrs
}

// lambdaRequestID is the Lambda invocation's request id, "" outside Lambda.
func lambdaRequestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// withoutKeys drops the attributes the observer writes itself.
func withoutKeys(attrs []any, keys ...string) []any {
	out := make([]any, 0, len(attrs))
	for _, a := range attrs {
		if attr, ok := a.(slog.Attr); ok && slices.Contains(keys, attr.Key) {
			continue
		}
		out = append(out, a)
	}
	return out
}
