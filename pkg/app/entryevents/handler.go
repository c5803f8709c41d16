package entryevents

// The table's DynamoDB stream becomes table.entry.added events here: the committed entry
// item is the outbox: no event without a committed entry, no committed entry without an
// event, and no moment where one exists without the other. The stream handler receives
// batches from Lambda and reports the records whose event was not accepted (or not sent
// after an earlier failure), never one whose event was; Lambda retries the batch from the
// first reported record and, after the retries, sends it to the on-failure destination.
// Events are at least once: a consumer de-duplicates on the entry id the event carries.

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

// Publisher publishes table.entry.added events. It returns one error per event, nil only
// for an event the bus accepted.
type Publisher interface {
	Publish(ctx context.Context, events []lead.EntryAdded) []error
}

// Handler is the Lambda handler of the entry-events function.
type Handler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// The metric names of the stream handler, one line per batch.
const (
	MetricStreamRecords   = "StreamRecords"
	MetricEventsPublished = "EventsPublished"
	MetricEventsFailed    = "EventsFailed"
	MetricStreamAge       = "StreamRecordAge"
	MetricBatchDuration   = "Duration"
	MetricThrottles       = "Throttles"
	MetricAWSCalls        = "AWSCalls"
	MetricAWSRetries      = "AWSRetries"
)

// NewHandler returns the stream handler. Records that are not the INSERT of an entry item
// are skipped (the event source filter should already have dropped them); a record that
// cannot be decoded, or whose event the bus did not accept, is reported in
// batchItemFailures. Each batch writes one line to m (nil writes none), its log line and
// EMF document at once: records, events published and failed, and the age of its oldest
// record.
func NewHandler(pub Publisher, logger *slog.Logger, m *metrics.Emitter) Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		start := time.Now()
		ctx, calls := metrics.WithCalls(ctx)
		ctx, cancel := reserveAnswer(ctx)
		defer cancel()
		b := decodeBatch(ev.Records, logger)
		b.publish(ctx, pub, logger)
		report(logger, m, ev.Records, b, calls.Counts(), start)
		return events.DynamoDBEventResponse{BatchItemFailures: b.failures}, nil
	}
}

// batch is one invocation's records: the events of the entry inserts, their records, the
// records skipped, the failures to report and the events published.
type batch struct {
	events    []lead.EntryAdded
	records   []events.DynamoDBEventRecord
	skipped   int
	failures  []events.DynamoDBBatchItemFailure
	published int
}

func (b *batch) fail(rec events.DynamoDBEventRecord) {
	b.failures = append(b.failures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
}

// decodeBatch decodes the entry inserts among recs into their events; a record that cannot
// be decoded is a failure.
func decodeBatch(recs []events.DynamoDBEventRecord, logger *slog.Logger) *batch {
	b := &batch{failures: []events.DynamoDBBatchItemFailure{}}
	for _, rec := range recs {
		if !dynamo.IsEntryInsert(rec) {
			b.skipped++
			logger.Debug("stream record skipped", "eventId", rec.EventID, "eventName", rec.EventName)
			continue
		}
		entry, err := dynamo.EntryFromRecord(rec)
		if err != nil {
			// The error names attributes and ids, never their values.
			logger.Error("stream record cannot be decoded", "eventId", rec.EventID,
				"sequenceNumber", rec.Change.SequenceNumber, "err", err)
			b.fail(rec)
			continue
		}
		b.events = append(b.events, lead.NewEntryAdded(entry))
		b.records = append(b.records, rec)
	}
	return b
}

// publish publishes the batch's events; each one the bus did not accept is a failure.
func (b *batch) publish(ctx context.Context, pub Publisher, logger *slog.Logger) {
	if len(b.events) == 0 {
		return
	}
	for i, err := range pub.Publish(ctx, b.events) {
		if err != nil {
			logger.Error("table.entry.added not published", "entryId", b.events[i].Entry.ID,
				"sequenceNumber", b.records[i].Change.SequenceNumber, "err", err)
			b.fail(b.records[i])
			continue
		}
		b.published++
	}
}

// report writes the batch's one line, its log line and EMF document at once: records,
// events published and failed, the age of its oldest record, its duration and AWS calls.
// A count of zero is left out but StreamRecords and EventsPublished (every reader sums
// counts: a missing one is a zero).
func report(logger *slog.Logger, m *metrics.Emitter, recs []events.DynamoDBEventRecord, b *batch, c metrics.CallCounts, start time.Time) {
	d := time.Since(start)
	age := oldestAge(recs, start)
	count := func(name string, v int) metrics.Metric {
		return metrics.Metric{Name: name, Unit: metrics.Count, Value: float64(v)}
	}
	list := []metrics.Metric{count(MetricStreamRecords, len(recs)), count(MetricEventsPublished, b.published),
		{Name: MetricStreamAge, Unit: metrics.Milliseconds, Value: float64(age.Milliseconds())},
		{Name: MetricBatchDuration, Unit: metrics.Milliseconds, Value: float64(d.Microseconds()) / 1000}}
	for _, k := range []struct {
		name string
		v    int
	}{{MetricEventsFailed, len(b.failures)}, {MetricAWSCalls, c.Calls}, {MetricAWSRetries, c.Retries}, {MetricThrottles, c.Throttles}} {
		if k.v != 0 {
			list = append(list, count(k.name, k.v))
		}
	}
	var fields []metrics.Field
	if b.skipped > 0 {
		fields = append(fields, metrics.Field{Key: "skipped", Value: b.skipped})
	}
	if err := m.Write(metrics.Line{Fields: fields, Metrics: list}); err != nil {
		logger.Warn("stream batch line not written", "err", err)
	}
}

// AnswerReserve is the part of an invocation's deadline the entry-events handler keeps for
// answering: cutting the calls still running, logging the records they leave unpublished
// and returning take about the same time whatever the timeout, and on a busy machine far
// more than a few milliseconds.
const AnswerReserve = time.Second

// reserveAnswer returns ctx with a deadline AnswerReserve (half the remaining time, when
// less than twice that is left) before its own: calls still running then are cut, so the
// handler reports their records as failed while Lambda still takes its answer. An
// invocation that times out answers nothing, and Lambda retries its whole batch, published
// records included.
func reserveAnswer(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, d.Add(-min(AnswerReserve, time.Until(d)/2)))
}

// oldestAge is how long before now the oldest record of the batch was written to the
// stream (ApproximateCreationDateTime, whole seconds); 0 for a batch without times.
func oldestAge(recs []events.DynamoDBEventRecord, now time.Time) time.Duration {
	var oldest time.Time
	for _, r := range recs {
		t := r.Change.ApproximateCreationDateTime.Time
		if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	if oldest.IsZero() || oldest.After(now) {
		return 0
	}
	return now.Sub(oldest)
}
