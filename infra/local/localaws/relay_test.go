package localaws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
)

// recordingHandler is a stream handler that records every invocation and fails the
// records respond names.
type recordingHandler struct {
	mu      sync.Mutex
	calls   [][]events.DynamoDBEventRecord
	respond func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
}

func (h *recordingHandler) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	h.mu.Lock()
	call := len(h.calls)
	h.calls = append(h.calls, ev.Records)
	h.mu.Unlock()
	if h.respond != nil {
		return h.respond(call, ev)
	}
	return events.DynamoDBEventResponse{}, nil
}

func (h *recordingHandler) records() []events.DynamoDBEventRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []events.DynamoDBEventRecord
	for _, c := range h.calls {
		out = append(out, c...)
	}
	return out
}

func relayEnv(t *testing.T, h localaws.StreamHandler, attempts int) (*dynamodb.Client, *localaws.Relay) {
	t.Helper()
	return relayEnvWith(t, h, localaws.RelayOptions{MaxAttempts: attempts})
}

// relayEnvWith is relayEnv with the relay's options; its Table and RetryDelay are set here.
func relayEnvWith(t *testing.T, h localaws.StreamHandler, opts localaws.RelayOptions) (*dynamodb.Client, *localaws.Relay) {
	t.Helper()
	srv := localaws.New(localaws.Options{})
	opts.Table, opts.RetryDelay = table, time.Millisecond
	relay := localaws.NewRelay(h, opts)
	srv.OnWrite(relay.Observe)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	cfg := localaws.Config(hs.URL)
	cfg.RetryMaxAttempts = 1
	db := dynamodb.NewFromConfig(cfg)
	if err := localaws.CreateTable(context.Background(), db, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = relay.Close(ctx)
	})
	return db, relay
}

func put(t *testing.T, db *dynamodb.Client, tbl, pk, sk string) {
	t.Helper()
	_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: map[string]types.AttributeValue{
		"pk": s(pk), "sk": s(sk), "n": &types.AttributeValueMemberN{Value: "12345678901234567890.123456789"},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("x")}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func wait(t *testing.T, r *localaws.Relay) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRelayHandsCommittedEntriesAsStreamRecords(t *testing.T) {
	h := &recordingHandler{}
	db, relay := relayEnv(t, h.handle, 3)
	put(t, db, table, "TABLE#t", "ENTRY#1")
	put(t, db, table, "TABLE#t", "TABLE")            // not an entry: filtered out
	put(t, db, table, "WEBHOOK#w", "IDEMPOTENCY#k1") // not an entry: filtered out
	put(t, db, table, "TABLE#t", "ENTRY#2")
	wait(t, relay)

	recs := h.records()
	if len(recs) != 2 {
		t.Fatalf("relayed %d records; want the 2 entries", len(recs))
	}
	for i, r := range recs {
		sk := fmt.Sprintf("ENTRY#%d", i+1)
		checks := []struct {
			name      string
			got, want any
		}{
			{"eventName", r.EventName, "INSERT"},
			{"eventSource", r.EventSource, "aws:dynamodb"},
			{"StreamViewType", r.Change.StreamViewType, "NEW_IMAGE"},
			{"Keys.sk", r.Change.Keys["sk"].String(), sk},
			{"Keys.pk", r.Change.Keys["pk"].String(), "TABLE#t"},
			{"NewImage.n", r.Change.NewImage["n"].Number(), "12345678901234567890.123456789"},
			{"NewImage.m.l", r.Change.NewImage["m"].Map()["l"].List()[0].String(), "x"},
			{"eventSourceARN set", r.EventSourceArn != "", true},
		}
		for _, c := range checks {
			if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
				t.Errorf("record %d %s = %v; want %v", i, c.name, c.got, c.want)
			}
		}
	}
	if !(recs[0].Change.SequenceNumber < recs[1].Change.SequenceNumber) {
		t.Errorf("sequence numbers %s, %s; want increasing", recs[0].Change.SequenceNumber, recs[1].Change.SequenceNumber)
	}
}

func TestRelayRetriesReportedRecordsABoundedNumberOfTimes(t *testing.T) {
	failSK := func(sk string, times int) func(int, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		var mu sync.Mutex
		seen := 0
		return func(_ int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			for _, r := range ev.Records {
				if r.Change.Keys["sk"].String() == sk {
					mu.Lock()
					seen++
					n := seen
					mu.Unlock()
					if n <= times {
						return failures(r), nil
					}
				}
			}
			return events.DynamoDBEventResponse{}, nil
		}
	}
	// ENTRY#1 is always in the first invocation, whatever else is.
	firstCall := func(resp events.DynamoDBEventResponse, err error) func(int, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return func(call int, _ events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			if call == 0 {
				return resp, err
			}
			return events.DynamoDBEventResponse{}, nil
		}
	}
	tests := []struct {
		name         string
		respond      func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
		wantAttempts map[string]int
		wantDropped  int
	}{
		{"success", nil, map[string]int{"ENTRY#1": 1, "ENTRY#2": 1, "ENTRY#3": 1}, 0},
		{"one record fails once", failSK("ENTRY#2", 1), map[string]int{"ENTRY#1": 1, "ENTRY#2": 2, "ENTRY#3": 1}, 0},
		{"a record that always fails is given up on", failSK("ENTRY#2", 100), map[string]int{"ENTRY#1": 1, "ENTRY#2": 3, "ENTRY#3": 1}, 1},
		{"handler error retries the whole batch", firstCall(events.DynamoDBEventResponse{}, errors.New("boom")), map[string]int{"ENTRY#1": 2}, 0},
		{"an unknown identifier fails the batch", firstCall(events.DynamoDBEventResponse{
			BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: "nope"}}}, nil), map[string]int{"ENTRY#1": 2}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &recordingHandler{respond: tt.respond}
			// One record per invocation: what a retry holds is tested below.
			db, relay := relayEnvWith(t, h.handle, localaws.RelayOptions{MaxAttempts: 3, BatchSize: 1})
			for i := 1; i <= 3; i++ {
				put(t, db, table, "TABLE#t", fmt.Sprintf("ENTRY#%d", i))
			}
			wait(t, relay)
			attempts := map[string]int{}
			for _, r := range h.records() {
				attempts[r.Change.Keys["sk"].String()]++
			}
			if len(attempts) != 3 {
				t.Errorf("records seen %v; want all three", attempts)
			}
			for sk, want := range tt.wantAttempts {
				if attempts[sk] != want {
					t.Errorf("%s handed over %d times; want %d (all: %v)", sk, attempts[sk], want, attempts)
				}
			}
			if got := relay.Dropped(); got != tt.wantDropped {
				t.Errorf("Dropped() = %d; want %d", got, tt.wantDropped)
			}
		})
	}
}

// TestRelayRetriesFromTheFirstReportedRecord checks that a retry holds, as Lambda's does for
// a stream, every record of the batch from the first one reported failed on, later ones
// included, and that a batch still failing after the attempts gives up on all of those.
func TestRelayRetriesFromTheFirstReportedRecord(t *testing.T) {
	tests := []struct {
		name string
		// failTimes is how many invocations report ENTRY#2 (and ENTRY#4, when failBoth).
		failTimes   int
		failBoth    bool
		wantCalls   []string
		wantDropped int
	}{
		{name: "a middle record fails once", failTimes: 1,
			wantCalls: []string{"1", "2 3 4", "3 4"}},
		{name: "two records fail once: the retry starts at the first", failTimes: 1, failBoth: true,
			wantCalls: []string{"1", "2 3 4", "3 4"}},
		{name: "a record that keeps failing takes the later ones with it", failTimes: 100,
			wantCalls: []string{"1", "2 3 4", "3 4", "3 4"}, wantDropped: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started, release := make(chan struct{}), make(chan struct{})
			failed := 0
			h := &recordingHandler{respond: func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				if call == 0 {
					// Hold the first invocation (ENTRY#1 alone) until the others are
					// queued, so the second one holds all three.
					close(started)
					<-release
					return events.DynamoDBEventResponse{}, nil
				}
				var resp events.DynamoDBEventResponse
				for _, r := range ev.Records {
					sk := r.Change.Keys["sk"].String()
					if (sk == "ENTRY#3" || (tt.failBoth && sk == "ENTRY#4")) && failed < tt.failTimes {
						resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
					}
				}
				if len(resp.BatchItemFailures) > 0 {
					failed++
				}
				return resp, nil
			}}
			db, relay := relayEnvWith(t, h.handle, localaws.RelayOptions{MaxAttempts: 3})
			put(t, db, table, "TABLE#t", "ENTRY#1")
			<-started
			for i := 2; i <= 4; i++ {
				put(t, db, table, "TABLE#t", fmt.Sprintf("ENTRY#%d", i))
			}
			close(release)
			wait(t, relay)
			var calls []string
			h.mu.Lock()
			for _, c := range h.calls {
				var sks []string
				for _, r := range c {
					sks = append(sks, strings.TrimPrefix(r.Change.Keys["sk"].String(), "ENTRY#"))
				}
				calls = append(calls, strings.Join(sks, " "))
			}
			h.mu.Unlock()
			if !reflect.DeepEqual(calls, tt.wantCalls) {
				t.Errorf("invocations %q; want %q", calls, tt.wantCalls)
			}
			if got := relay.Dropped(); got != tt.wantDropped {
				t.Errorf("Dropped() = %d; want %d", got, tt.wantDropped)
			}
		})
	}
}

func failures(recs ...events.DynamoDBEventRecord) events.DynamoDBEventResponse {
	var resp events.DynamoDBEventResponse
	for _, r := range recs {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
	}
	return resp
}

func TestRelayNeverBlocksWrites(t *testing.T) {
	release := make(chan struct{})
	h := &recordingHandler{respond: func(int, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		<-release
		return events.DynamoDBEventResponse{}, nil
	}}
	db, relay := relayEnv(t, h.handle, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			put(t, db, table, "TABLE#t", fmt.Sprintf("ENTRY#%02d", i))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writes blocked while the stream handler was busy")
	}
	close(release)
	wait(t, relay)
	var sks []string
	for _, r := range h.records() {
		sks = append(sks, r.Change.Keys["sk"].String())
	}
	if len(sks) != 20 || !sort.StringsAreSorted(sks) {
		t.Errorf("relayed %v; want the 20 entries in commit order", sks)
	}
}

func TestRelayCloseDrainsTheQueue(t *testing.T) {
	h := &recordingHandler{}
	db, relay := relayEnv(t, h.handle, 1)
	for i := range 5 {
		put(t, db, table, "TABLE#t", fmt.Sprintf("ENTRY#%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := relay.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(h.records()); n != 5 {
		t.Errorf("%d records handled before Close returned; want 5", n)
	}
}
