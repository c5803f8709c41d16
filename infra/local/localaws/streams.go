package localaws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
)

// dynamoDBStreamsPrefix is the X-Amz-Target prefix of the DynamoDB Streams API.
const dynamoDBStreamsPrefix = "DynamoDBStreams_20120810."

// StreamPollerOptions configures a StreamPoller. Zero values take the defaults.
type StreamPollerOptions struct {
	// Table is the table whose stream is read.
	Table string
	// Interval is the pause between polls of an idle stream. Default 250ms.
	Interval time.Duration
	// Logger receives polling errors; nil discards them.
	Logger *slog.Logger
}

// StreamPoller stands in for the Lambda event source mapping against an engine with a real
// DynamoDB Streams API (DynamoDB Local): it reads the table's latest stream from the position
// it had when the poller started (StartingPosition LATEST), shard by shard and parents before
// children, keeps the records the template's FilterCriteria lets through (INSERT with an sk
// starting with the relay's SortKeyPrefix, of none of its SkipTypes) and hands them to a Relay, which invokes the
// handler in order and retries the failures it reports.
type StreamPoller struct {
	ddb     *dynamodb.Client
	streams *dynamodbstreams.Client
	relay   *Relay
	opts    StreamPollerOptions
	arn     string

	mu     sync.Mutex // one poll at a time
	shards map[string]*shardState

	stop chan struct{}
	done chan struct{}
}

type shardState struct {
	parent   string
	iterator *string // nil once the shard is closed and read to its end
	started  bool
}

// NewStreamPoller finds the table's stream, positions itself at its end and starts polling
// into relay; Close stops it. The Streams API is called with cfg, like the DynamoDB client.
func NewStreamPoller(ctx context.Context, cfg aws.Config, relay *Relay, opts StreamPollerOptions) (*StreamPoller, error) {
	if opts.Interval <= 0 {
		opts.Interval = 250 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &StreamPoller{
		ddb: dynamodb.NewFromConfig(cfg),
		streams: dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
			o.HTTPClient = &http.Client{Transport: emptyMapFix{next: http.DefaultTransport}}
		}),
		relay:  relay,
		opts:   opts,
		shards: make(map[string]*shardState),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	out, err := p.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(opts.Table)})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", opts.Table, err)
	}
	if out.Table == nil || out.Table.LatestStreamArn == nil {
		return nil, fmt.Errorf("table %s has no stream", opts.Table)
	}
	p.arn = *out.Table.LatestStreamArn
	if err := p.discover(ctx, true); err != nil {
		return nil, err
	}
	relay.mu.Lock()
	relay.poller = p
	relay.mu.Unlock()
	go p.loop()
	return p, nil
}

// StreamARN returns the ARN of the stream being read.
func (p *StreamPoller) StreamARN() string { return p.arn }

// discover lists the stream's shards and positions the new ones: at start, open shards at
// their end (LATEST) and closed ones not at all; later, new shards from their start.
func (p *StreamPoller) discover(ctx context.Context, initial bool) error {
	var start *string
	for {
		out, err := p.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{
			StreamArn: aws.String(p.arn), ExclusiveStartShardId: start,
		})
		if err != nil {
			return fmt.Errorf("describe stream %s: %w", p.arn, err)
		}
		for _, sh := range out.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if _, known := p.shards[id]; known {
				continue
			}
			st := &shardState{parent: aws.ToString(sh.ParentShardId)}
			p.shards[id] = st
			closed := sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil
			if initial && closed {
				st.started = true // written before we started: not ours to relay
				continue
			}
			kind := stypes.ShardIteratorTypeTrimHorizon
			if initial {
				kind = stypes.ShardIteratorTypeLatest
			}
			it, err := p.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: aws.String(p.arn), ShardId: aws.String(id), ShardIteratorType: kind,
			})
			if err != nil {
				return fmt.Errorf("get %s iterator of shard %s: %w", kind, id, err)
			}
			st.iterator, st.started = it.ShardIterator, true
		}
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			return nil
		}
	}
}

// poll reads every readable shard once and queues what passes the filter; it returns how
// many records it read (filtered or not).
func (p *StreamPoller) poll(ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.discover(ctx, false); err != nil {
		return 0, err
	}
	n := 0
	for id, st := range p.shards {
		if st.iterator == nil {
			continue
		}
		// A child waits until its parent is read to the end, as Lambda keeps shard order.
		if parent, ok := p.shards[st.parent]; ok && parent.iterator != nil {
			continue
		}
		for st.iterator != nil {
			out, err := p.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: st.iterator, Limit: aws.Int32(1000)})
			if err != nil {
				return n, fmt.Errorf("get records of shard %s: %w", id, err)
			}
			st.iterator = out.NextShardIterator
			n += len(out.Records)
			p.relay.enqueue(p.filter(out.Records))
			if len(out.Records) == 0 {
				break
			}
		}
	}
	return n, nil
}

// filter applies the template's FilterCriteria and converts the records for aws-lambda-go.
func (p *StreamPoller) filter(recs []stypes.Record) []events.DynamoDBEventRecord {
	var out []events.DynamoDBEventRecord
	for _, r := range recs {
		if r.EventName != stypes.OperationTypeInsert || r.Dynamodb == nil {
			continue
		}
		sk, _ := r.Dynamodb.Keys["sk"].(*stypes.AttributeValueMemberS)
		if sk == nil || !strings.HasPrefix(sk.Value, p.relay.opts.SortKeyPrefix) {
			continue
		}
		if typ, _ := r.Dynamodb.NewImage[dynamo.TypeAttribute].(*stypes.AttributeValueMemberS); typ != nil && slices.Contains(p.relay.opts.SkipTypes, typ.Value) {
			continue
		}
		var created events.SecondsEpochTime
		if r.Dynamodb.ApproximateCreationDateTime != nil {
			created = events.SecondsEpochTime{Time: *r.Dynamodb.ApproximateCreationDateTime}
		}
		out = append(out, events.DynamoDBEventRecord{
			AWSRegion:      aws.ToString(r.AwsRegion),
			EventID:        aws.ToString(r.EventID),
			EventName:      string(r.EventName),
			EventSource:    aws.ToString(r.EventSource),
			EventVersion:   aws.ToString(r.EventVersion),
			EventSourceArn: p.arn,
			Change: events.DynamoDBStreamRecord{
				ApproximateCreationDateTime: created,
				Keys:                        StreamsImage(r.Dynamodb.Keys),
				NewImage:                    StreamsImage(r.Dynamodb.NewImage),
				SequenceNumber:              aws.ToString(r.Dynamodb.SequenceNumber),
				SizeBytes:                   aws.ToInt64(r.Dynamodb.SizeBytes),
				StreamViewType:              string(r.Dynamodb.StreamViewType),
			},
		})
	}
	return out
}

// Sync returns once every record written before the call has been read and handled
// (published or given up on by the relay), or when ctx ends.
func (p *StreamPoller) Sync(ctx context.Context) error {
	for {
		n, err := p.poll(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return p.relay.waitIdle(ctx)
		}
	}
}

func (p *StreamPoller) loop() {
	defer close(p.done)
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := p.poll(ctx); err != nil && !errors.Is(err, context.Canceled) {
			p.opts.Logger.Warn("stream poller", "stream", p.arn, "err", err)
		}
		cancel()
	}
}

// Close reads what was written so far, stops polling and leaves the relay running (close it
// after).
func (p *StreamPoller) Close(ctx context.Context) error {
	err := p.Sync(ctx)
	close(p.stop)
	select {
	case <-p.done:
	case <-ctx.Done():
		return fmt.Errorf("close stream poller: %w", ctx.Err())
	}
	return err
}

// Wait returns once every record observed so far has been handled (published or given up
// on), or when ctx ends. With a StreamPoller feeding the relay, that is every record written
// to the stream before the call.
func (r *Relay) Wait(ctx context.Context) error {
	r.mu.Lock()
	p := r.poller
	r.mu.Unlock()
	if p != nil {
		return p.Sync(ctx)
	}
	return r.waitIdle(ctx)
}

// enqueue hands records read from a real stream to the relay's goroutine.
func (r *Relay) enqueue(recs []events.DynamoDBEventRecord) {
	if len(recs) == 0 {
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.opts.Logger.Warn("stream relay closed: stream records not relayed", "records", len(recs))
		return
	}
	r.queue = append(r.queue, recs...)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// StreamsImage converts a DynamoDB Streams API image to the one aws-lambda-go decodes (the
// poller's client has already turned DynamoDB Local's {} back into empty maps; a value of
// no known type still becomes an empty map rather than a value aws-lambda-go refuses).
func StreamsImage(item map[string]stypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if item == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = streamsValue(v)
	}
	return out
}

func streamsValue(v stypes.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *stypes.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *stypes.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *stypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value)
	case *stypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *stypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value)
	case *stypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value)
	case *stypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value)
	case *stypes.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *stypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = streamsValue(e)
		}
		return events.NewListAttribute(l)
	case *stypes.AttributeValueMemberM:
		m := StreamsImage(x.Value)
		if m == nil {
			m = map[string]events.DynamoDBAttributeValue{}
		}
		return events.NewMapAttribute(m)
	}
	return events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{})
}
