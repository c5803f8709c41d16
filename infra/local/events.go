package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
)

// eventLog prints every event the local EventBridge accepted as one JSON line and, when it
// has a file, appends the same line there. Lines are written whole, one at a time, so a
// reader never sees two events interleaved.
type eventLog struct {
	mu     sync.Mutex
	out    io.Writer
	file   *os.File
	logger *slog.Logger
}

// openEventLog appends to path (created if missing) besides writing to out; an empty path
// writes to out only.
func openEventLog(out io.Writer, path string, logger *slog.Logger) (*eventLog, error) {
	l := &eventLog{out: out, logger: logger}
	if path == "" {
		return l, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open events file: %w", err)
	}
	l.file = f
	return l, nil
}

// write records one event; it is the EventBridge stand-in's OnEvent observer.
func (l *eventLog) write(ev localaws.PublishedEvent) {
	line, err := json.Marshal(ev)
	if err != nil {
		l.logger.Error("cannot encode event", "err", err)
		return
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.out.Write(line); err != nil {
		l.logger.Error("cannot print event", "err", err)
	}
	if l.file != nil {
		if _, err := l.file.Write(line); err != nil {
			l.logger.Error("cannot append event to the events file", "err", err)
		}
	}
}

// Write writes p to out under the same lock as the events, so the runner's other output and
// the event lines never mix.
func (l *eventLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.Write(p)
}

// failureLines passes on the functions' request and batch lines of a failure only: those
// with a level, which a line carries when it is not INFO.
type failureLines struct{ w io.Writer }

func (f failureLines) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"level":"`)) {
		return f.w.Write(p)
	}
	return len(p), nil
}

// close syncs and closes the events file; later events are printed only.
func (l *eventLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	f := l.file
	l.file = nil
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync events file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close events file: %w", err)
	}
	return nil
}

// failureDestination sends, for the stream records the relay gave up on, the message Lambda
// sends to a stream event source mapping's on-failure destination (an SQS queue): it names
// the shard and the range of sequence numbers, not the records.
func failureDestination(srv *localaws.Server, queue string, logger *slog.Logger) func([]events.DynamoDBEventRecord, int) {
	return func(records []events.DynamoDBEventRecord, attempts int) {
		if len(records) == 0 {
			return
		}
		first, last := records[0], records[len(records)-1]
		var msg failureMessage
		msg.Version = "1.0"
		msg.Timestamp = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		msg.RequestContext.RequestID = uuid.NewString()
		msg.RequestContext.FunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:EntryEventsFunction"
		msg.RequestContext.Condition = "RetryAttemptsExhausted"
		msg.RequestContext.ApproximateInvokeCount = attempts
		b := &msg.Batch
		b.ShardID = "shardId-local"
		b.StartSequenceNumber = first.Change.SequenceNumber
		b.EndSequenceNumber = last.Change.SequenceNumber
		b.ApproximateArrivalOfFirstRecord = first.Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339)
		b.ApproximateArrivalOfLastRecord = last.Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339)
		b.BatchSize = len(records)
		b.StreamArn = first.EventSourceArn
		body, err := json.Marshal(msg)
		if err != nil {
			logger.Error("failure record", "err", err)
			return
		}
		id, err := srv.SendQueueMessage(queue, string(body))
		if err != nil {
			logger.Error("failure record not queued", "err", err)
			return
		}
		logger.Warn("stream records sent to the failure queue: fix the cause, then rlctl events redrive --queue-url \"$QUEUE\" --endpoint \"$ENDPOINT\"",
			"records", len(records), "messageId", id)
	}
}

// failureMessage is Lambda's on-failure record for a DynamoDB stream batch.
type failureMessage struct {
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	Batch struct {
		ShardID                         string `json:"shardId"`
		StartSequenceNumber             string `json:"startSequenceNumber"`
		EndSequenceNumber               string `json:"endSequenceNumber"`
		ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
		ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
		BatchSize                       int    `json:"batchSize"`
		StreamArn                       string `json:"streamArn"`
	} `json:"DDBStreamBatchInfo"`
}
