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
	MetricRequests      = "Requests"
	MetricDuration      = "Duration"
	MetricServerErrors  = "ServerErrors"
	MetricThrottles     = "Throttles"
	MetricAWSCalls      = "AWSCalls"
	MetricAWSRetries    = "AWSRetries"
	MetricLeadsAccepted = "LeadsAccepted"
	MetricClientErrors  = "ClientErrors"
	MetricReplays       = "IdempotentReplays"
	// MetricHoneypotCaught counts form submissions that filled the honeypot field: answered
	// as a success, nothing stored.
	MetricHoneypotCaught  = "HoneypotCaught"
	MetricKeysLocked      = "SchemaKeysLocked"
	MetricLockRetries     = "LockConflictsRetried"
	MetricRejectedKept    = "RejectedRequestsKept"
	MetricRejectedNotKept = "RejectedRequestsNotKept"
	// MetricEntryFences counts the writes given up on that were fenced, so their failure
	// is true (entries, kept rejected requests and management writes alike: the store
	// settles them all one way); MetricUnsettledWrites those that could not be fenced in
	// the function's time: answered 500 "Outcome unknown" (a 400 naming its rejectedId
	// with "unsettled" for a kept rejected request), a write of theirs still on its way may
	// land. Emitted when not zero; template.yaml alarms on it.
	MetricEntryFences     = "EntryFences"
	MetricUnsettledWrites = "UnsettledWrites"
	DimensionOutcome      = "Outcome"
)

// Outcome is what a handler reports about its request, as a value beside its response: the
// Observer turns it into the request's log line and metrics.
type Outcome struct {
	Status int
	Err    error
	// Attrs are the handler's attributes of the log line (webhookId, poolId, entryId…).
	Attrs []any
	// Ingest is true for the public ingest endpoint, whose requests count as leads;
	// DryRun for a dry run of it, and Result its result when it got one.
	Ingest bool
	DryRun bool
	Result *lead.IngestResult
}

// Observe wraps h so that each request writes exactly one log line and one EMF document,
// with the AWS calls, retries and throttles the request made (counted by the SDK middleware
// through the context) and its duration. The request runs with lead.RequestBudget; a write
// whose outcome is unknown may be settled until the function's deadline (the invocation's,
// or lead.FunctionTimeout after the start) less lead.AnswerMargin (lead.WithSettleBy).
func Observe(h Endpoint, o Observer) Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, req Request) (Response, error) {
		start := time.Now()
		fnDeadline, ok := ctx.Deadline()
		if !ok {
			fnDeadline = start.Add(lead.FunctionTimeout)
		}
		ctx = lead.WithSettleBy(ctx, fnDeadline.Add(-lead.AnswerMargin))
		ctx, cancel := context.WithTimeout(ctx, lead.RequestBudget)
		defer cancel()
		ctx, calls := metrics.WithCalls(ctx)
		resp, out := h(ctx, req)
		o.finish(ctx, req, &out, calls.Counts(), time.Since(start))
		return resp, nil
	}
}

// finish writes the request's log line and metrics.
func (o Observer) finish(ctx context.Context, req Request, n *Outcome, c metrics.CallCounts, d time.Duration) {
	outcome := outcomeOf(n)
	ms := float64(d.Microseconds()) / 1000
	o.log(ctx, req, n, c, ms, outcome)
	o.emit(ctx, req, n, c, ms, outcome)
}

// log writes the request's one log line.
func (o Observer) log(ctx context.Context, req Request, n *Outcome, c metrics.CallCounts, ms float64, outcome string) {
	attrs := append([]any{
		slog.String("function", o.Function),
		slog.String("lambdaRequestId", lambdaRequestID(ctx)),
		slog.String("apiRequestId", RequestID(req)),
		slog.String("route", req.RouteKey),
		slog.Int("status", n.Status),
		slog.String("outcome", outcome),
		slog.Int("awsCalls", c.Calls),
		slog.Int("awsRetries", c.Retries),
		slog.Int("throttles", c.Throttles),
		slog.Float64("durationMs", ms),
		slog.Bool("replayed", n.Result != nil && n.Result.Replayed),
		slog.Bool("dryRun", n.DryRun),
	}, withoutKeys(n.Attrs, "replayed", "dryRun")...)
	attrs = append(attrs, errorAttrs(n.Status, n.Err)...)
	if c.Fences > 0 || c.Unsettled > 0 {
		attrs = append(attrs, slog.Int("entryFences", c.Fences), slog.Int("unsettledWrites", c.Unsettled))
	}
	if rejected := rejectedFate(n); rejected != nil {
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
	if n.Result != nil && !n.Result.Replayed && !n.DryRun {
		attrs = append(attrs, slog.Int("schemaKeysLocked", n.Result.KeysLocked), slog.Int("lockRetries", n.Result.LockRetries))
	}
	level := slog.LevelInfo
	if n.Status >= 500 {
		level = slog.LevelError
	}
	o.Logger.Log(ctx, level, "request", attrs...)
}

// emit writes the request's EMF document.
func (o Observer) emit(ctx context.Context, req Request, n *Outcome, c metrics.CallCounts, ms float64, outcome string) {
	ms5xx := 0
	if n.Status >= 500 {
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
	if n.Ingest {
		list = append(list, ingestMetrics(n)...)
		if n.Result != nil && n.Result.Honeypot {
			list = append(list, count(MetricHoneypotCaught, 1))
		}
	}
	if c.Fences > 0 || c.Unsettled > 0 {
		list = append(list, count(MetricEntryFences, c.Fences), count(MetricUnsettledWrites, c.Unsettled))
	}
	if rejected := rejectedFate(n); rejected != nil {
		switch {
		case rejected.Kept:
			list = append(list, count(MetricRejectedKept, 1))
		case rejected.Unsettled:
			// Counted in UnsettledWrites (the store's count): it may have been kept.
		default:
			list = append(list, count(MetricRejectedNotKept, 1))
		}
	}
	props := map[string]any{"apiRequestId": RequestID(req), "lambdaRequestId": lambdaRequestID(ctx), "status": n.Status}
	for _, a := range n.Attrs {
		if attr, ok := a.(slog.Attr); ok && (attr.Key == "webhookId" || attr.Key == "poolId") {
			props[attr.Key] = attr.Value.String()
		}
	}
	if err := o.Metrics.Emit([]metrics.Dimension{{Name: DimensionOutcome, Value: outcome}}, list, props); err != nil {
		o.Logger.Warn("metrics not emitted", "err", err)
	}
}

func count(name string, v int) metrics.Metric {
	return metrics.Metric{Name: name, Unit: metrics.Count, Value: float64(v)}
}

// ingestMetrics are the lead counts of an ingest request: accepted, a client error (any
// 4xx: a refused body, and also a bad token or an unknown webhook; "rejected" names only
// the refused bodies that are kept), replayed, and the schema keys it locked and lock races
// it lost.
func ingestMetrics(n *Outcome) []metrics.Metric {
	accepted, clientErrors, replays, keys, retries := 0, 0, 0, 0, 0
	switch {
	case n.DryRun:
		// A dry run stores nothing and loses nothing: neither accepted nor a client error.
	case n.Err != nil:
		if n.Status >= 400 && n.Status < 500 {
			clientErrors = 1
		}
	case n.Result != nil && n.Result.Replayed:
		replays = 1
	case n.Result != nil && n.Result.Honeypot:
		// Spam answered as a success: not a lead.
	case n.Result != nil:
		accepted, keys, retries = 1, n.Result.KeysLocked, n.Result.LockRetries
	case n.Status >= 400 && n.Status < 500:
		clientErrors = 1
	}
	return []metrics.Metric{count(MetricLeadsAccepted, accepted), count(MetricClientErrors, clientErrors),
		count(MetricReplays, replays), count(MetricKeysLocked, keys), count(MetricLockRetries, retries)}
}

// rejectedFate is what became of a refused request the service tried to keep, or nil.
func rejectedFate(n *Outcome) *lead.RejectedFate {
	var le *lead.Error
	if errors.As(n.Err, &le) {
		return le.Rejected
	}
	return nil
}

// outcomeOf is the low-cardinality outcome of a request: its error code, or what succeeded.
func outcomeOf(n *Outcome) string {
	switch {
	case n.Err != nil || n.Status >= 400:
		return string(lead.ErrorCode(n.Err))
	case n.Result != nil && n.Result.Replayed:
		return "replayed"
	case n.Result != nil && n.Result.Honeypot:
		return "honeypot"
	case n.DryRun:
		return "dry_run"
	case n.Status == http.StatusCreated:
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
