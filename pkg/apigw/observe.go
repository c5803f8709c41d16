package apigw

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

// Observer writes the one line of every request a function handles: its log line and,
// in the same JSON object, its EMF metrics.
type Observer struct {
	// Function names the function (the FunctionName dimension of the emitter, which the
	// line carries).
	Function string
	// Logger receives what is not the request line: a line that could not be written;
	// nil discards it.
	Logger *slog.Logger
	// Metrics writes the request lines; nil writes none.
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
	// MetricThrottled counts the requests refused with 429 for being over their webhook's
	// rate limit, per webhook (dimension DimensionWebhook, beside FunctionName) and in all
	// (FunctionName alone); emitted only for those requests, so a quiet webhook has none.
	// MetricRateFlushes counts the rate limiter's counter writes, when there were any.
	MetricThrottled   = "Throttled"
	MetricRateFlushes = "RateFlushes"
	DimensionWebhook  = "WebhookId"
)

// Outcome is what a handler reports about its request, as a value beside its response: the
// Observer turns it into the request's line.
type Outcome struct {
	Status int
	Err    error
	// Attrs are the handler's attributes of the line (webhookId, rejectedId…); an ingest
	// request's line leaves out what its Outcome says or a lookup finds (the entry and pool
	// of a created lead, replayed, honeypot).
	Attrs []any
	// Ingest is true for the public ingest endpoint, whose requests count as leads;
	// DryRun for a dry run of it, and Result its result when it got one.
	Ingest bool
	DryRun bool
	Result *lead.IngestResult
}

// Observe wraps h so that each request writes exactly one line, its log line and EMF
// document at once, with the AWS calls, retries and throttles the request made (counted by
// the SDK middleware through the context) and its duration. The request runs with
// lead.RequestBudget; a write whose outcome is unknown may be settled until the function's
// deadline (the invocation's, or lead.FunctionTimeout after the start) less
// lead.AnswerMargin (lead.WithSettleBy).
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
		o.finish(req, &out, calls.Counts(), time.Since(start))
		return resp, nil
	}
}

// finish writes the request's line: the ids and status a search needs, the outcome (a
// dimension), and its metrics, whose values are fields of the line too. A count of zero is
// left out (every reader sums them: a missing count is a zero), except Requests; Duration
// (to 0.1 ms) is always there. No header, body or lead value, ever.
func (o Observer) finish(req Request, n *Outcome, c metrics.CallCounts, d time.Duration) {
	outcome := outcomeOf(n)
	fields := []metrics.Field{{Key: "requestId", Value: RequestID(req)}, {Key: "status", Value: n.Status}}
	attrs := n.Attrs
	if n.Ingest {
		attrs = withoutKeys(attrs, "poolId", "entryId", "replayed", "honeypot")
	}
	for _, a := range attrs {
		if attr, ok := a.(slog.Attr); ok {
			fields = append(fields, metrics.Field{Key: attr.Key, Value: attr.Value.Resolve().Any()})
		}
	}
	if n.DryRun {
		fields = append(fields, metrics.Field{Key: "dryRun", Value: true})
	}
	var le *lead.Error
	if errors.As(n.Err, &le) && le.EntryID != "" {
		// The entry of an unsettled write, or the one an idempotency key already made.
		fields = append(fields, metrics.Field{Key: "entryId", Value: le.EntryID})
	}
	if rejected := rejectedFate(n); rejected != nil {
		if rejected.Kept || rejected.Unsettled {
			fields = append(fields, metrics.Field{Key: "rejectedId", Value: rejected.ID})
		}
		if rejected.Unsettled {
			fields = append(fields, metrics.Field{Key: "rejectedUnsettled", Value: true})
		}
		if rejected.Why != "" {
			fields = append(fields, metrics.Field{Key: "rejectedNotKeptWhy", Value: rejected.Why})
		}
	}
	level := slog.LevelInfo
	if n.Status >= 500 {
		level = slog.LevelError
		if n.Err != nil {
			// Wrapped with ids and SDK messages, never request data; a client mistake is
			// its code (the Outcome).
			fields = append(fields, metrics.Field{Key: "error", Value: n.Err.Error()})
		}
	}
	list := []metrics.Metric{count(MetricRequests, 1), {Name: MetricDuration, Unit: metrics.Milliseconds, Value: math.Round(float64(d.Microseconds())/100) / 10}}
	list = nonZero(list, MetricAWSCalls, c.Calls)
	list = nonZero(list, MetricAWSRetries, c.Retries)
	list = nonZero(list, MetricThrottles, c.Throttles)
	if n.Status >= 500 {
		list = append(list, count(MetricServerErrors, 1))
	}
	if n.Ingest {
		list = append(list, ingestMetrics(n)...)
		if n.Result != nil && n.Result.Honeypot {
			list = append(list, count(MetricHoneypotCaught, 1))
		}
	}
	list = nonZero(list, MetricEntryFences, c.Fences)
	list = nonZero(list, MetricUnsettledWrites, c.Unsettled)
	list = nonZero(list, MetricRateFlushes, c.RateFlushes)
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
	line := metrics.Line{Level: level, Fields: fields, By: []metrics.Dimension{{Name: DimensionOutcome, Value: outcome}}, Metrics: list}
	if id := throttledWebhook(n, fields); id != "" {
		// The one count kept per webhook, on its 429s only: the top throttled webhooks.
		line.Sets = []metrics.Set{{Dimensions: []metrics.Dimension{{Name: DimensionWebhook, Value: id}}, Metrics: []metrics.Metric{count(MetricThrottled, 1)}}}
	}
	if err := o.Metrics.Write(line); err != nil {
		o.Logger.Warn("request line not written", "requestId", RequestID(req), "err", err)
	}
}

// throttledWebhook is the id of the webhook whose rate limit refused the request, "" when
// it was not refused so.
func throttledWebhook(n *Outcome, fields []metrics.Field) string {
	if lead.ErrorCode(n.Err) != lead.ETHROTTLED {
		return ""
	}
	for _, f := range fields {
		if id, ok := f.Value.(string); ok && f.Key == "webhookId" {
			return id
		}
	}
	return ""
}

func count(name string, v int) metrics.Metric {
	return metrics.Metric{Name: name, Unit: metrics.Count, Value: float64(v)}
}

// nonZero appends the count name to list when v is not zero.
func nonZero(list []metrics.Metric, name string, v int) []metrics.Metric {
	if v == 0 {
		return list
	}
	return append(list, count(name, v))
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
	var list []metrics.Metric
	list = nonZero(list, MetricLeadsAccepted, accepted)
	list = nonZero(list, MetricClientErrors, clientErrors)
	list = nonZero(list, MetricReplays, replays)
	list = nonZero(list, MetricKeysLocked, keys)
	return nonZero(list, MetricLockRetries, retries)
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
