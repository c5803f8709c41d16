package dynamo

// The table's DynamoDB stream becomes table.entry.added events here: the committed entry
// item is the outbox: no event without a committed entry, no committed entry without an
// event, and no moment where one exists without the other. The stream handler receives batches from Lambda
// and reports the records whose event was not accepted (or not sent after an earlier failure),
// never one whose event was; Lambda retries the batch from the first reported record and,
// after the retries, sends it to the on-failure destination. Events are at least once: a
// consumer de-duplicates on the entry id the event carries.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

// EventPublisher publishes table.entry.added events. It returns one error per event, nil only
// for an event the bus accepted.
type EventPublisher interface {
	Publish(ctx context.Context, events []lead.EntryAdded) []error
}

// StreamHandler is the Lambda handler of the entry-events function.
type StreamHandler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// insert is the stream event name of a new item.
const insert = string(events.DynamoDBOperationTypeInsert)

// The metric names of the stream handler, one EMF document per batch.
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

// NewStreamHandler returns the stream handler. Records that are not the INSERT of an entry item are
// skipped (the event source filter should already have dropped them); a record that cannot
// be decoded, or whose event the bus did not accept, is reported in batchItemFailures.
// Each batch writes one log line and one EMF document to m (nil emits none): records,
// events published and failed, and the age of its oldest record.
func NewStreamHandler(pub EventPublisher, logger *slog.Logger, m *metrics.Emitter) StreamHandler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		start := time.Now()
		ctx, calls := metrics.WithCalls(ctx)
		ctx, cancel := reserveAnswer(ctx)
		defer cancel()
		resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
		fail := func(rec events.DynamoDBEventRecord) {
			resp.BatchItemFailures = append(resp.BatchItemFailures,
				events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
		}

		var (
			batch   []lead.EntryAdded
			records []events.DynamoDBEventRecord
			skipped int
		)
		for _, rec := range ev.Records {
			if !IsEntryInsert(rec) {
				skipped++
				logger.Debug("stream record skipped", "eventId", rec.EventID, "eventName", rec.EventName)
				continue
			}
			entry, err := decodeEntry(rec)
			if err != nil {
				// The error names attributes and ids, never their values.
				logger.Error("stream record cannot be decoded", "eventId", rec.EventID,
					"sequenceNumber", rec.Change.SequenceNumber, "err", err)
				fail(rec)
				continue
			}
			batch = append(batch, lead.NewEntryAdded(entry))
			records = append(records, rec)
		}

		published := 0
		if len(batch) > 0 {
			for i, err := range pub.Publish(ctx, batch) {
				if err != nil {
					logger.Error("table.entry.added not published", "entryId", batch[i].Entry.ID,
						"sequenceNumber", records[i].Change.SequenceNumber, "err", err)
					fail(records[i])
					continue
				}
				published++
			}
		}
		d := time.Since(start)
		age := oldestAge(ev.Records, start)
		c := calls.Counts()
		var lambdaID string
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			lambdaID = lc.AwsRequestID
		}
		logger.Info("stream batch", "lambdaRequestId", lambdaID, "records", len(ev.Records), "published", published,
			"skipped", skipped, "failed", len(resp.BatchItemFailures), "oldestRecordAgeMs", age.Milliseconds(),
			"awsCalls", c.Calls, "awsRetries", c.Retries, "throttles", c.Throttles,
			"durationMs", float64(d.Microseconds())/1000)
		count := func(name string, v int) metrics.Metric {
			return metrics.Metric{Name: name, Unit: metrics.Count, Value: float64(v)}
		}
		if err := m.Emit(nil, []metrics.Metric{
			count(MetricStreamRecords, len(ev.Records)),
			count(MetricEventsPublished, published),
			count(MetricEventsFailed, len(resp.BatchItemFailures)),
			{Name: MetricStreamAge, Unit: metrics.Milliseconds, Value: float64(age.Milliseconds())},
			{Name: MetricBatchDuration, Unit: metrics.Milliseconds, Value: float64(d.Microseconds()) / 1000},
			count(MetricThrottles, c.Throttles),
			count(MetricAWSCalls, c.Calls),
			count(MetricAWSRetries, c.Retries),
		}, map[string]any{"lambdaRequestId": lambdaID}); err != nil {
			logger.Warn("metrics not emitted", "err", err)
		}
		return resp, nil
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

// IsEntryInsert reports whether rec is the INSERT of an entry item: the records the event
// source filter of template.yaml lets through. A fence has an entry's key but is no entry.
func IsEntryInsert(rec events.DynamoDBEventRecord) bool {
	if rec.EventName != insert {
		return false
	}
	sk, ok := rec.Change.Keys["sk"]
	if !ok {
		sk, ok = rec.Change.NewImage["sk"]
	}
	if t, ok := rec.Change.NewImage[TypeAttribute]; ok && t.DataType() == events.DataTypeString && t.String() == FenceType {
		return false
	}
	return ok && sk.DataType() == events.DataTypeString && strings.HasPrefix(sk.String(), EntryPrefix)
}

// decodeEntry reads the entry from the record's new image with the store's own decoder, so
// the event's entry renders exactly as the 201 body did.
func decodeEntry(rec events.DynamoDBEventRecord) (*lead.Entry, error) {
	if len(rec.Change.NewImage) == 0 {
		return nil, fmt.Errorf("record has no new image (stream view type %q)", rec.Change.StreamViewType)
	}
	item, err := ItemFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, fmt.Errorf("new image: %w", err)
	}
	e, err := EntryFromItem(item)
	if err != nil {
		return nil, err
	}
	if e.ID == "" || e.PoolID == "" {
		return nil, fmt.Errorf("new image has no entry id or pool id")
	}
	return e, nil
}

// ItemFromImage converts a stream image to the SDK's attribute values. Numbers stay the exact
// decimal strings DynamoDB sent.
func ItemFromImage(image map[string]events.DynamoDBAttributeValue) (item map[string]types.AttributeValue, err error) {
	// The accessors of DynamoDBAttributeValue panic on a value of another type; a zero
	// value built in Go claims to be binary without being one.
	defer func() {
		if r := recover(); r != nil {
			item, err = nil, fmt.Errorf("malformed attribute value: %v", r)
		}
	}()
	item = make(map[string]types.AttributeValue, len(image))
	for name, v := range image {
		av, err := imageValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		item[name] = av
	}
	return item, nil
}

func imageValue(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			av, err := imageValue(e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := ItemFromImage(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unsupported attribute type %d", v.DataType())
}
