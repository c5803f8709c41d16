package localaws_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/ddblocal"
)

// streamEnv starts the local endpoints on the external engine and a poller reading its
// stream into a relay to h.
func streamEnv(t *testing.T, h localaws.StreamHandler) (*awstest.Env, *localaws.StreamPoller) {
	t.Helper()
	ddblocal.RequireEndpoint(t)
	env := awstest.Start(t)
	// Written before the poller starts: LATEST never relays it.
	put(t, env.DB, awstest.Table, "TABLE#t", "ENTRY#0-before")
	relay := localaws.NewRelay(h, localaws.RelayOptions{Table: awstest.Table, RetryDelay: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := localaws.NewStreamPoller(ctx, env.Config, relay, localaws.StreamPollerOptions{Table: awstest.Table, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("NewStreamPoller: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("close poller: %v", err)
		}
		if err := relay.Close(ctx); err != nil {
			t.Errorf("close relay: %v", err)
		}
	})
	return env, p
}

func syncPoller(t *testing.T, p *localaws.StreamPoller) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func sks(recs []events.DynamoDBEventRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Change.Keys["sk"].String())
	}
	return out
}

func TestStreamPollerRelaysNewEntriesFromTheRealStream(t *testing.T) {
	h := &recordingHandler{}
	env, p := streamEnv(t, h.handle)
	ctx := context.Background()
	_, err := env.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(awstest.Table),
		Item: map[string]types.AttributeValue{
			"pk":    &types.AttributeValueMemberS{Value: "TABLE#t"},
			"sk":    &types.AttributeValueMemberS{Value: "ENTRY#1"},
			"empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			"none":  &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			"n":     &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"},
			"data": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"nested": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	put(t, env.DB, awstest.Table, "TABLE#t", "LEADSTATE#x") // not an entry
	put(t, env.DB, awstest.Table, "TABLE#t", "ENTRY#1")     // MODIFY, not INSERT
	put(t, env.DB, awstest.Table, "TABLE#t", "ENTRY#2")
	if _, err := env.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(awstest.Table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "TABLE#t"}, "sk": &types.AttributeValueMemberS{Value: "ENTRY#2"},
	}}); err != nil {
		t.Fatal(err)
	}
	syncPoller(t, p)

	recs := h.records()
	if got, want := sks(recs), []string{"ENTRY#1", "ENTRY#2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("relayed sort keys = %v; want %v (INSERTs of ENTRY# items written after the start)", got, want)
	}
	first := recs[0]
	if first.EventName != "INSERT" || first.EventSourceArn != p.StreamARN() || first.Change.SequenceNumber == "" {
		t.Errorf("record = %+v; want an INSERT from %s with a sequence number", first, p.StreamARN())
	}
	img := first.Change.NewImage
	if m := img["empty"]; m.DataType() != events.DataTypeMap || len(m.Map()) != 0 {
		t.Errorf("NewImage[empty] = %v; want an empty map", m)
	}
	if m := img["data"].Map()["nested"]; m.DataType() != events.DataTypeMap {
		t.Errorf("NewImage[data][nested] = %v; want an empty map", m)
	}
	if got := img["n"].Number(); got != "12345678901234567890123456789012345678" {
		t.Errorf("NewImage[n] = %s; want the exact 38 digits", got)
	}
	// What Lambda would hand the function must survive aws-lambda-go's own decoding.
	b, err := json.Marshal(events.DynamoDBEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	var back events.DynamoDBEvent
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("aws-lambda-go cannot decode the relayed event: %v", err)
	}
}

func TestStreamPollerRetriesReportedFailures(t *testing.T) {
	failedOnce := false
	h := &recordingHandler{respond: func(_ int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		for _, r := range ev.Records {
			if r.Change.Keys["sk"].String() == "ENTRY#b" && !failedOnce {
				failedOnce = true
				return failures(r), nil
			}
		}
		return events.DynamoDBEventResponse{}, nil
	}}
	env, p := streamEnv(t, h.handle)
	for _, sk := range []string{"ENTRY#a", "ENTRY#b", "ENTRY#c"} {
		put(t, env.DB, awstest.Table, "TABLE#t", sk)
	}
	syncPoller(t, p)
	h.mu.Lock()
	defer h.mu.Unlock()
	var calls [][]string
	for _, c := range h.calls {
		calls = append(calls, sks(c))
	}
	// The records may come in one batch or several; as Lambda does, the retry holds the
	// failed record and those after it in its batch, once.
	failed := slices.IndexFunc(calls, func(c []string) bool { return slices.Contains(c, "ENTRY#b") })
	if !failedOnce || failed < 0 || failed+1 >= len(calls) {
		t.Fatalf("invocations = %v; want ENTRY#b reported failed, then retried", calls)
	}
	retry := calls[failed][slices.Index(calls[failed], "ENTRY#b"):]
	if !slices.Equal(calls[failed+1], retry) {
		t.Errorf("invocations = %v; want the retry after %v to be %v", calls, calls[failed], retry)
	}
	seen := map[string]int{}
	for _, c := range calls {
		for _, sk := range c {
			seen[sk]++
		}
	}
	want := map[string]int{"ENTRY#a": 1, "ENTRY#b": 2, "ENTRY#c": 1}
	if slices.Contains(retry, "ENTRY#c") {
		want["ENTRY#c"] = 2
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("invocations = %v; want each record once, and those of the retry twice", calls)
	}
}
