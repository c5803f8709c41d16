package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/eventbus"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// eventsRedrive reads the entry-events failure queue and publishes again the
// table.entry.added events of the entries each message names.
func eventsRedrive(ctx context.Context, name string, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	queueURL := fs.String("queue-url", "", "URL of the entry-events failure queue (stack output EntryEventsFailureQueueUrl)")
	bus := fs.String("event-bus", "", "event bus (env EVENT_BUS_NAME; default: the account's default bus)")
	source := fs.String("event-source", "", "event Source (env EVENT_SOURCE; default "+lead.DefaultEventSource+")")
	s, err := parse(ctx, fs, args, out, getenv, "queue-url")
	if err != nil {
		return err
	}
	r := &redriver{
		queue:     sqs.NewFromConfig(s.cfg),
		streams:   dynamodbstreams.NewFromConfig(s.cfg),
		table:     dynamodb.NewFromConfig(s.cfg),
		tableName: s.tableName,
		pub: eventbus.New(eventbridge.NewFromConfig(s.cfg), firstOf(*bus, getenv("EVENT_BUS_NAME"), app.DefaultEventBusName),
			firstOf(*source, getenv("EVENT_SOURCE"), lead.DefaultEventSource), nil),
		out: out,
	}
	rep, err := r.run(ctx, *queueURL)
	if err != nil {
		return err
	}
	if s.json {
		return json.NewEncoder(out).Encode(rep)
	}
	fmt.Fprintf(out, "messages %d: deleted %d, kept %d; events published %d, failed %d\n",
		rep.Messages, rep.Deleted, rep.Kept, rep.Published, rep.Failed)
	if rep.Kept > 0 {
		return fmt.Errorf("%d messages kept in the queue: run again once the cause is fixed", rep.Kept)
	}
	return nil
}

// queueAPI is what redrive needs of SQS.
type queueAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// streamsAPI is what redrive needs of DynamoDB Streams.
type streamsAPI interface {
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// scanAPI is what redrive needs of the table once the stream no longer holds the records.
type scanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// publisher publishes table.entry.added events, one error per event (nil: accepted), as
// the entry-events function's does (eventbus.Publisher).
type publisher interface {
	Publish(ctx context.Context, events []lead.EntryAdded) []error
}

// redriver publishes again the events of the entries the failure queue's messages name.
type redriver struct {
	queue     queueAPI
	streams   streamsAPI
	table     scanAPI
	tableName string
	pub       publisher
	out       io.Writer
	// visibility is how long a received message stays hidden while it is handled.
	visibility int32
}

// redriveReport sums up a run.
type redriveReport struct {
	Messages  int `json:"messages"`
	Deleted   int `json:"deleted"`
	Kept      int `json:"kept"`
	Published int `json:"published"`
	Failed    int `json:"failed"`
}

// failureRecord is the message Lambda writes to a stream event source mapping's on-failure
// destination: it names a shard and a range of sequence numbers, not the records.
type failureRecord struct {
	RequestContext struct {
		Condition string `json:"condition"`
	} `json:"requestContext"`
	Batch *struct {
		ShardID                         string    `json:"shardId"`
		StartSequenceNumber             string    `json:"startSequenceNumber"`
		EndSequenceNumber               string    `json:"endSequenceNumber"`
		ApproximateArrivalOfFirstRecord time.Time `json:"approximateArrivalOfFirstRecord"`
		ApproximateArrivalOfLastRecord  time.Time `json:"approximateArrivalOfLastRecord"`
		BatchSize                       int       `json:"batchSize"`
		StreamArn                       string    `json:"streamArn"`
	} `json:"DDBStreamBatchInfo"`
}

// run handles every message of the queue once: a message whose entries all reached the bus
// (in this run) is deleted; any other is made visible again at the end, for the next run.
// No entry is published twice in one run.
func (r *redriver) run(ctx context.Context, queueURL string) (redriveReport, error) {
	var rep redriveReport
	published := map[string]bool{}
	seen := map[string]bool{}
	var kept []string // receipt handles to make visible again
	visibility := r.visibility
	if visibility == 0 {
		visibility = 120
	}
	defer func() {
		for _, h := range kept {
			// Best effort: otherwise the message reappears after the visibility timeout.
			_, _ = r.queue.ChangeMessageVisibility(context.WithoutCancel(ctx), &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(queueURL), ReceiptHandle: aws.String(h), VisibilityTimeout: 0})
		}
	}()
	for {
		got, err := r.queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: visibility,
		})
		if err != nil {
			return rep, fmt.Errorf("receive from %s: %w", queueURL, err)
		}
		fresh := 0
		for _, m := range got.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id] = true
			fresh++
			rep.Messages++
			done := r.message(ctx, id, aws.ToString(m.Body), published, &rep)
			if !done {
				rep.Kept++
				kept = append(kept, aws.ToString(m.ReceiptHandle))
				continue
			}
			if _, err := r.queue.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return rep, fmt.Errorf("delete message %s: %w", id, err)
			}
			rep.Deleted++
			fmt.Fprintf(r.out, "message %s: deleted\n", id)
		}
		if fresh == 0 {
			return rep, nil
		}
	}
}

// message publishes the entries one message names and reports whether all of them are on
// the bus now.
func (r *redriver) message(ctx context.Context, id, body string, published map[string]bool, rep *redriveReport) bool {
	var rec failureRecord
	if err := json.Unmarshal([]byte(body), &rec); err != nil || rec.Batch == nil || rec.Batch.ShardID == "" ||
		rec.Batch.StartSequenceNumber == "" || rec.Batch.EndSequenceNumber == "" {
		fmt.Fprintf(r.out, "message %s: not a stream failure record (no DDBStreamBatchInfo): kept\n", id)
		return false
	}
	b := rec.Batch
	entries, from, err := r.fromStream(ctx, b.StreamArn, b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber)
	if err != nil && isGone(err) && r.tableName != "" {
		fmt.Fprintf(r.out, "message %s: the stream no longer holds shard %s (%v); reading the entries created %s..%s from table %s\n",
			id, b.ShardID, err, b.ApproximateArrivalOfFirstRecord.Format(time.RFC3339), b.ApproximateArrivalOfLastRecord.Format(time.RFC3339), r.tableName)
		entries, err = r.fromTable(ctx, b.ApproximateArrivalOfFirstRecord, b.ApproximateArrivalOfLastRecord)
		from = "table"
	}
	if err != nil {
		fmt.Fprintf(r.out, "message %s: shard %s %s..%s: %v: kept\n", id, b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber, err)
		return false
	}
	var batch []lead.EntryAdded
	already := 0
	for _, e := range entries {
		if published[e.ID] {
			already++
			continue
		}
		batch = append(batch, lead.NewEntryAdded(e))
	}
	failed := 0
	if len(batch) > 0 {
		for i, err := range r.pub.Publish(ctx, batch) {
			id := batch[i].Entry.ID
			if err != nil {
				failed++
				fmt.Fprintf(r.out, "  entry %s: not published: %v\n", id, err)
				continue
			}
			published[id] = true
			fmt.Fprintf(r.out, "  entry %s: published\n", id)
		}
	}
	rep.Published += len(batch) - failed
	rep.Failed += failed
	fmt.Fprintf(r.out, "message %s: shard %s %s..%s: %d entries from the %s, published %d, already published in this run %d, failed %d\n",
		id, b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber, len(entries), from, len(batch)-failed, already, failed)
	if failed > 0 {
		fmt.Fprintf(r.out, "message %s: kept\n", id)
		return false
	}
	return true
}

// maxStreamPages bounds the GetRecords calls for one range: a page may come back empty while
// later records exist, but a range never spans more than a batch of the mapping.
const maxStreamPages = 50

// fromStream reads the entry inserts of shard between start and end (inclusive).
func (r *redriver) fromStream(ctx context.Context, streamArn, shard, start, end string) ([]*lead.Entry, string, error) {
	endN, ok := new(big.Int).SetString(end, 10)
	if !ok {
		return nil, "", fmt.Errorf("end sequence number %q is not a number", end)
	}
	it, err := r.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(streamArn), ShardId: aws.String(shard),
		ShardIteratorType: streamtypes.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(start),
	})
	if err != nil {
		return nil, "", fmt.Errorf("get shard iterator at %s: %w", start, err)
	}
	var entries []*lead.Entry
	iter := it.ShardIterator
	for page := 0; iter != nil && page < maxStreamPages; page++ {
		out, err := r.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
		if err != nil {
			return nil, "", fmt.Errorf("get records of shard %s: %w", shard, err)
		}
		for _, rec := range out.Records {
			if rec.Dynamodb == nil {
				continue
			}
			if n, ok := new(big.Int).SetString(aws.ToString(rec.Dynamodb.SequenceNumber), 10); ok && n.Cmp(endN) > 0 {
				return entries, "stream", nil
			}
			if rec.EventName != streamtypes.OperationTypeInsert {
				continue
			}
			item, err := itemFromStream(rec.Dynamodb.NewImage)
			if err != nil {
				return nil, "", fmt.Errorf("record %s: %w", aws.ToString(rec.Dynamodb.SequenceNumber), err)
			}
			sk, _ := item["sk"].(*ddbtypes.AttributeValueMemberS)
			if sk == nil || !strings.HasPrefix(sk.Value, dynamo.EntryPrefix) || dynamo.IsFence(item) {
				// Not an entry: a fence has an entry's key but no event (the template's
				// filter drops it too).
				continue
			}
			e, err := dynamo.EntryFromItem(item)
			if err != nil {
				return nil, "", fmt.Errorf("record %s: %w", aws.ToString(rec.Dynamodb.SequenceNumber), err)
			}
			entries = append(entries, e)
			if aws.ToString(rec.Dynamodb.SequenceNumber) == end {
				return entries, "stream", nil
			}
		}
		iter = out.NextShardIterator
	}
	// A closed shard ends (no next iterator) or the range's end was filtered out or is the
	// last record: what was read is the range.
	return entries, "stream", nil
}

// isGone reports whether the stream can no longer serve the range: records trimmed after
// the 24-hour retention, or the stream or shard deleted.
func isGone(err error) bool {
	var trimmed *streamtypes.TrimmedDataAccessException
	var missing *streamtypes.ResourceNotFoundException
	return errors.As(err, &trimmed) || errors.As(err, &missing)
}

// fromTable reads the entries created between first and last (the arrival times of the
// failed range, whole seconds): every entry of those seconds, a superset of the failed ones.
// A fence at an entry's key has no createdAt, so the filter leaves it out.
func (r *redriver) fromTable(ctx context.Context, first, last time.Time) ([]*lead.Entry, error) {
	var entries []*lead.Entry
	in := &dynamodb.ScanInput{
		TableName:        aws.String(r.tableName),
		FilterExpression: aws.String("begins_with(sk, :entry) AND createdAt BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":entry": &ddbtypes.AttributeValueMemberS{Value: dynamo.EntryPrefix},
			":from":  &ddbtypes.AttributeValueMemberS{Value: lead.FormatTime(first.Add(-time.Second))},
			":to":    &ddbtypes.AttributeValueMemberS{Value: lead.FormatTime(last.Add(time.Second))},
		},
		ConsistentRead: aws.Bool(true),
	}
	for {
		out, err := r.table.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("scan table %s for entries: %w", r.tableName, err)
		}
		for _, item := range out.Items {
			e, err := dynamo.EntryFromItem(item)
			if err != nil {
				return nil, fmt.Errorf("entry item: %w", err)
			}
			entries = append(entries, e)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return entries, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// itemFromStream converts a DynamoDB Streams image to the table API's attribute values.
func itemFromStream(image map[string]streamtypes.AttributeValue) (map[string]ddbtypes.AttributeValue, error) {
	item := make(map[string]ddbtypes.AttributeValue, len(image))
	for k, v := range image {
		av, err := streamValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		item[k] = av
	}
	return item, nil
}

func streamValue(v streamtypes.AttributeValue) (ddbtypes.AttributeValue, error) {
	switch v := v.(type) {
	case *streamtypes.AttributeValueMemberS:
		return &ddbtypes.AttributeValueMemberS{Value: v.Value}, nil
	case *streamtypes.AttributeValueMemberN:
		return &ddbtypes.AttributeValueMemberN{Value: v.Value}, nil
	case *streamtypes.AttributeValueMemberB:
		return &ddbtypes.AttributeValueMemberB{Value: v.Value}, nil
	case *streamtypes.AttributeValueMemberBOOL:
		return &ddbtypes.AttributeValueMemberBOOL{Value: v.Value}, nil
	case *streamtypes.AttributeValueMemberNULL:
		return &ddbtypes.AttributeValueMemberNULL{Value: v.Value}, nil
	case *streamtypes.AttributeValueMemberSS:
		return &ddbtypes.AttributeValueMemberSS{Value: v.Value}, nil
	case *streamtypes.AttributeValueMemberNS:
		return &ddbtypes.AttributeValueMemberNS{Value: v.Value}, nil
	case *streamtypes.AttributeValueMemberBS:
		return &ddbtypes.AttributeValueMemberBS{Value: v.Value}, nil
	case *streamtypes.AttributeValueMemberL:
		l := make([]ddbtypes.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			av, err := streamValue(e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			l[i] = av
		}
		return &ddbtypes.AttributeValueMemberL{Value: l}, nil
	case *streamtypes.AttributeValueMemberM:
		m, err := itemFromStream(v.Value)
		if err != nil {
			return nil, err
		}
		return &ddbtypes.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unsupported attribute value %T", v)
}
