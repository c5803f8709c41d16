package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
)

// StreamHandler is a Lambda handler for DynamoDB stream batches that reports partial
// failures: the entry-events function's handler.
type StreamHandler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// RelayOptions configures a Relay. Zero values take the defaults.
type RelayOptions struct {
	// Table is the table whose writes are relayed; empty relays every table.
	Table string
	// SortKeyPrefix is the event source filter of template.yaml: only items whose sk starts
	// with it are relayed. Default dynamo.EntryPrefix.
	SortKeyPrefix string
	// SkipTypes is the rest of that filter (anything-but on the type attribute): items
	// whose type is one of them are not relayed. Default dynamo.FenceType, the item the store
	// writes at an entry's key when it gives up on the entry.
	SkipTypes []string
	// BatchSize is the most records per invocation. Default 100, the template's BatchSize.
	BatchSize int
	// MaxAttempts bounds the invocations per record, the first included. Default 3.
	MaxAttempts int
	// RetryDelay is the pause before the first retry; it doubles per retry. Default 50ms.
	RetryDelay time.Duration
	// Timeout bounds one invocation, as the function's timeout does. Default 30s.
	Timeout time.Duration
	// Logger receives the records given up on; nil discards the log.
	Logger *slog.Logger
	// OnFailure, when set, receives the records of a batch given up on, as the event
	// source mapping's on-failure destination does (the runner sends Lambda's failure
	// record to the local failure queue); attempts is how many invocations they had.
	OnFailure func(records []events.DynamoDBEventRecord, attempts int)
}

// Relay stands in for DynamoDB Streams and the Lambda event source mapping locally: it
// receives committed items from (*Server).OnWrite, keeps those the template's filter lets
// through, and hands them in commit order to a stream handler as DynamoDB stream records
// (INSERT, NEW_IMAGE), one batch at a time like a shard. As Lambda does for a stream with
// ReportBatchItemFailures, it retries the batch from the first record the handler reports
// failed on (later records included, even those the handler published), a bounded number of
// times. Records still failing are logged and counted, as the on-failure destination would
// receive them.
type Relay struct {
	handler StreamHandler
	opts    RelayOptions
	arn     string

	mu      sync.Mutex
	queue   []events.DynamoDBEventRecord
	busy    int
	seq     uint64
	closed  bool
	dropped int
	poller  *StreamPoller // set when the records come from a real stream
	idle    []chan struct{}
	wake    chan struct{}
	done    chan struct{}
}

// NewRelay starts a relay to handler; Close stops it.
func NewRelay(handler StreamHandler, opts RelayOptions) *Relay {
	if opts.SortKeyPrefix == "" {
		opts.SortKeyPrefix = dynamo.EntryPrefix
	}
	if opts.SkipTypes == nil {
		opts.SkipTypes = []string{dynamo.FenceType}
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 50 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	table := opts.Table
	if table == "" {
		table = "local"
	}
	r := &Relay{
		handler: handler,
		opts:    opts,
		arn: fmt.Sprintf("arn:aws:dynamodb:us-east-1:000000000000:table/%s/stream/%s",
			table, time.Now().UTC().Format("2006-01-02T15:04:05.000")),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	go r.loop()
	return r
}

// Observe is the (*Server).OnWrite observer. It never blocks on the handler: the record is
// queued for the relay's goroutine.
func (r *Relay) Observe(table string, item map[string]types.AttributeValue) {
	if r.opts.Table != "" && table != r.opts.Table {
		return
	}
	sk, _ := item["sk"].(*types.AttributeValueMemberS)
	if sk == nil || !strings.HasPrefix(sk.Value, r.opts.SortKeyPrefix) {
		return
	}
	if typ, _ := item[dynamo.TypeAttribute].(*types.AttributeValueMemberS); typ != nil && slices.Contains(r.opts.SkipTypes, typ.Value) {
		return
	}
	image := StreamImage(item)
	keys := map[string]events.DynamoDBAttributeValue{"sk": image["sk"]}
	if pk, ok := image["pk"]; ok {
		keys["pk"] = pk
	}
	size := 0
	if b, err := json.Marshal(image); err == nil {
		size = len(b)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.opts.Logger.Warn("stream relay closed: committed entry not relayed", "sk", sk.Value)
		return
	}
	r.seq++
	r.queue = append(r.queue, events.DynamoDBEventRecord{
		AWSRegion: "us-east-1",
		// Writes the relay observes are entry puts conditioned on attribute_not_exists:
		// each one created its item.
		EventName:      string(events.DynamoDBOperationTypeInsert),
		EventID:        strings.ReplaceAll(uuid.NewString(), "-", ""),
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: r.arn,
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now().UTC().Truncate(time.Second)},
			Keys:                        keys,
			NewImage:                    image,
			SequenceNumber:              fmt.Sprintf("1%020d", r.seq),
			SizeBytes:                   int64(size),
			StreamViewType:              string(events.DynamoDBStreamViewTypeNewImage),
		},
	})
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// waitIdle returns once every record queued so far has been handled (published or given up
// on), or when ctx ends.
func (r *Relay) waitIdle(ctx context.Context) error {
	r.mu.Lock()
	if len(r.queue) == 0 && r.busy == 0 {
		r.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	r.idle = append(r.idle, ch)
	r.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for stream relay: %w", ctx.Err())
	}
}

// Close stops accepting records, hands over those already queued and stops the relay. When
// ctx ends first, the records still queued are abandoned and ctx's error returned.
func (r *Relay) Close(ctx context.Context) error {
	r.mu.Lock()
	already := r.closed
	r.closed = true
	r.mu.Unlock()
	if !already {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close stream relay: %w", ctx.Err())
	}
}

// Dropped returns how many records were given up on after MaxAttempts.
func (r *Relay) Dropped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

func (r *Relay) loop() {
	defer close(r.done)
	for {
		r.mu.Lock()
		n := min(len(r.queue), r.opts.BatchSize)
		if n == 0 {
			for _, ch := range r.idle {
				close(ch)
			}
			r.idle = nil
			closed := r.closed
			r.mu.Unlock()
			if closed {
				return
			}
			<-r.wake
			continue
		}
		batch := append([]events.DynamoDBEventRecord(nil), r.queue[:n]...)
		r.queue = r.queue[n:]
		r.busy = n
		r.mu.Unlock()

		dropped := r.deliver(batch)

		r.mu.Lock()
		r.busy = 0
		r.dropped += dropped
		r.mu.Unlock()
	}
}

// deliver invokes the handler with batch until every record succeeded or ran out of
// attempts, and returns how many were given up on.
func (r *Relay) deliver(batch []events.DynamoDBEventRecord) int {
	pending := batch
	for attempt := 1; ; attempt++ {
		failed, err := r.invoke(pending)
		if len(failed) == 0 {
			return 0
		}
		if attempt >= r.opts.MaxAttempts {
			for _, rec := range failed {
				r.opts.Logger.Error("stream record given up after retries (the on-failure destination would receive it)",
					"sequenceNumber", rec.Change.SequenceNumber, "sk", rec.Change.Keys["sk"].String(),
					"attempts", attempt, "err", err)
			}
			if r.opts.OnFailure != nil {
				r.opts.OnFailure(failed, attempt)
			}
			return len(failed)
		}
		time.Sleep(r.opts.RetryDelay << (attempt - 1))
		pending = failed
	}
}

// invoke runs the handler once, as Lambda would, and returns the records to retry: every
// record from the first one it reported on (the batch's checkpoint), or all of them when it
// failed or named a record that is not in the batch.
func (r *Relay) invoke(batch []events.DynamoDBEventRecord) (failed []events.DynamoDBEventRecord, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout)
	defer cancel()
	// As Lambda does, the handler's context names the invocation.
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: uuid.NewString()})
	defer func() {
		if p := recover(); p != nil {
			failed, err = batch, fmt.Errorf("stream handler panicked: %v", p)
		}
	}()
	resp, err := r.handler(ctx, events.DynamoDBEvent{Records: batch})
	if err != nil {
		return batch, fmt.Errorf("stream handler: %w", err)
	}
	index := make(map[string]int, len(batch))
	for i, rec := range batch {
		index[rec.Change.SequenceNumber] = i
	}
	first := len(batch)
	for _, f := range resp.BatchItemFailures {
		i, ok := index[f.ItemIdentifier]
		if !ok {
			return batch, errors.New("stream handler reported an unknown item identifier")
		}
		first = min(first, i)
	}
	if first == len(batch) {
		return nil, nil
	}
	return batch[first:], errors.New("stream handler reported batch item failures")
}

// StreamImage converts an SDK item to the image a DynamoDB stream record carries; numbers
// keep their exact decimal strings.
func StreamImage(item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = streamValue(v)
	}
	return out
}

func streamValue(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = streamValue(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(StreamImage(x.Value))
	}
	return events.NewNullAttribute()
}
