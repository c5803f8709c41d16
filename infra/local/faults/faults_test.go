package faults_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		spec    string
		want    []faults.Rule
		wantErr bool
	}{
		{spec: "", want: nil},
		{spec: "TransactWriteItems:conflict:0.3,PutItem:lost:0.05,GetItem:error:0.02,*:slow:0.1", want: []faults.Rule{
			{Op: "TransactWriteItems", Kind: faults.Conflict, Probability: 0.3},
			{Op: "PutItem", Kind: faults.Lost, Probability: 0.05},
			{Op: "GetItem", Kind: faults.Error, Probability: 0.02},
			{Op: "*", Kind: faults.Slow, Probability: 0.1},
		}},
		{spec: " PutItem:lost:#2 , Query:slow:1:500ms,UpdateItem:throttle:1,*:throughput:#1", want: []faults.Rule{
			{Op: "PutItem", Kind: faults.Lost, Count: 2},
			{Op: "Query", Kind: faults.Slow, Probability: 1, Latency: 500 * time.Millisecond},
			{Op: "UpdateItem", Kind: faults.Throttle, Probability: 1},
			{Op: "*", Kind: faults.Throughput, Count: 1},
		}},
		{spec: "PutItem:late:#1:2s,TransactWriteItems:late:0.5", want: []faults.Rule{
			{Op: "PutItem", Kind: faults.Late, Count: 1, Latency: 2 * time.Second},
			{Op: "TransactWriteItems", Kind: faults.Late, Probability: 0.5},
		}},
		{spec: "PutEvents:late:1", wantErr: true},
		{spec: "PutItem:lost", wantErr: true},
		{spec: "PutItem:boom:0.1", wantErr: true},
		{spec: "PutItem:lost:1.5", wantErr: true},
		{spec: "PutItem:lost:0", wantErr: true},
		{spec: "PutItem:lost:#0", wantErr: true},
		{spec: "PutItem:lost:#x", wantErr: true},
		{spec: "PutItem:lost:0.1:5ms", wantErr: true},
		{spec: "PutItem:slow:0.1:soon", wantErr: true},
		{spec: ":error:0.1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := faults.Parse(tt.spec)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) error = %v; want error %v", tt.spec, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) = %v; want %v", tt.spec, got, tt.want)
			}
		})
	}
}

func put(id string) *dynamodb.PutItemInput {
	return &dynamodb.PutItemInput{
		TableName: aws.String(awstest.Table),
		Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "FAULT#" + id},
			"sk": &types.AttributeValueMemberS{Value: "ITEM"},
		},
	}
}

func exists(t *testing.T, db *dynamodb.Client, id string) bool {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(awstest.Table),
		ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "FAULT#" + id},
			"sk": &types.AttributeValueMemberS{Value: "ITEM"},
		},
	})
	if err != nil {
		t.Fatalf("GetItem(%s): %v", id, err)
	}
	return out.Item != nil
}

// TestSDKDecodesFaults sends each fault to the real aws-sdk-go-v2 client with retries off
// and checks the typed error it decodes and whether the write was applied.
func TestSDKDecodesFaults(t *testing.T) {
	tests := []struct {
		name        string
		kind        faults.Kind
		wantApplied bool
		check       func(t *testing.T, err error)
	}{
		{name: "throttle", kind: faults.Throttle, check: func(t *testing.T, err error) {
			var te *types.ThrottlingException
			if !errors.As(err, &te) {
				t.Errorf("PutItem error = %v; want *types.ThrottlingException", err)
			}
		}},
		{name: "throughput", kind: faults.Throughput, check: func(t *testing.T, err error) {
			var te *types.ProvisionedThroughputExceededException
			if !errors.As(err, &te) {
				t.Errorf("PutItem error = %v; want *types.ProvisionedThroughputExceededException", err)
			}
		}},
		{name: "error", kind: faults.Error, check: func(t *testing.T, err error) {
			var te *types.InternalServerError
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &te) || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
				t.Errorf("PutItem error = %v; want *types.InternalServerError with HTTP 500", err)
			}
		}},
		{name: "conflict on a single write", kind: faults.Conflict, check: func(t *testing.T, err error) {
			var te *types.TransactionConflictException
			if !errors.As(err, &te) {
				t.Errorf("PutItem error = %v; want *types.TransactionConflictException", err)
			}
		}},
		{name: "lost", kind: faults.Lost, wantApplied: true, check: func(t *testing.T, err error) {
			var api smithy.APIError
			if err == nil || errors.As(err, &api) {
				t.Errorf("PutItem error = %v; want a transport error, not an API error", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := awstest.Start(t)
			noRetry := dynamodb.NewFromConfig(env.Config, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
			if _, err := env.Faults.Add(faults.Rule{Op: "PutItem", Kind: tt.kind, Count: 1}); err != nil {
				t.Fatal(err)
			}
			_, err := noRetry.PutItem(context.Background(), put(tt.name))
			tt.check(t, err)
			if got := exists(t, env.DB, tt.name); got != tt.wantApplied {
				t.Errorf("item written = %v; want %v", got, tt.wantApplied)
			}
			if got := env.Faults.Count("PutItem", tt.kind); got != 1 {
				t.Errorf("Count(PutItem, %s) = %d; want 1", tt.kind, got)
			}
		})
	}
}

func TestConflictReasons(t *testing.T) {
	tests := []struct {
		name       string
		conflicted []int
		want       []string
	}{
		{name: "middle item", conflicted: []int{1}, want: []string{"None", "TransactionConflict", "None"}},
		{name: "first and last", conflicted: []int{0, 2}, want: []string{"TransactionConflict", "None", "TransactionConflict"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := awstest.Start(t)
			if _, err := env.Faults.Add(faults.Rule{Op: "TransactWriteItems", Kind: faults.Conflict, Count: 1, Conflicted: tt.conflicted}); err != nil {
				t.Fatal(err)
			}
			noRetry := dynamodb.NewFromConfig(env.Config, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
			var items []types.TransactWriteItem
			for _, id := range []string{"a", "b", "c"} {
				items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(awstest.Table), Item: put(tt.name + id).Item}})
			}
			_, err := noRetry.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: items})
			var tce *types.TransactionCanceledException
			if !errors.As(err, &tce) {
				t.Fatalf("TransactWriteItems error = %v; want *types.TransactionCanceledException", err)
			}
			var got []string
			for _, r := range tce.CancellationReasons {
				got = append(got, aws.ToString(r.Code))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CancellationReasons = %v; want %v", got, tt.want)
			}
			if exists(t, env.DB, tt.name+"a") {
				t.Errorf("a cancelled transaction wrote its items")
			}
		})
	}
}

// TestSDKRetries checks that the SDK's standard retryer retries throttling and 500s, so a
// count rule below its attempts ends in success.
func TestSDKRetries(t *testing.T) {
	for _, kind := range []faults.Kind{faults.Throttle, faults.Throughput, faults.Error} {
		t.Run(string(kind), func(t *testing.T) {
			env := awstest.Start(t)
			if err := env.Faults.AddSpec("PutItem:" + string(kind) + ":#2"); err != nil {
				t.Fatal(err)
			}
			if _, err := env.DB.PutItem(context.Background(), put("retried")); err != nil {
				t.Fatalf("PutItem after 2 %s faults: %v", kind, err)
			}
			if got := env.Faults.Count("*", kind); got != 2 {
				t.Errorf("Count(*, %s) = %d; want 2", kind, got)
			}
		})
	}
}

func TestSlowAndRemove(t *testing.T) {
	env := awstest.Start(t)
	id, err := env.Faults.Add(faults.Rule{Op: "*", Kind: faults.Slow, Probability: 1, Latency: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if _, err := env.DB.PutItem(context.Background(), put("slow")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d < 150*time.Millisecond {
		t.Errorf("PutItem under a 150ms slow rule took %s", d)
	}
	env.Faults.Remove(id)
	if _, err := env.DB.PutItem(context.Background(), put("fast")); err != nil {
		t.Fatal(err)
	}
	if got := env.Faults.Count("PutItem", faults.Slow); got != 1 {
		t.Errorf("Count(PutItem, slow) = %d; want 1 (the rule was removed)", got)
	}
}

// TestSeedRepeats checks that the same seed injects the same faults for the same calls.
func TestSeedRepeats(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	run := func(seed uint64) []int {
		in := faults.New(ok, faults.Options{Seed: seed})
		if err := in.AddSpec("GetItem:error:0.5"); err != nil {
			t.Fatal(err)
		}
		var statuses []int
		for range 40 {
			req := httptest.NewRequest(http.MethodPost, "/", nil)
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810.GetItem")
			rec := httptest.NewRecorder()
			in.ServeHTTP(rec, req)
			statuses = append(statuses, rec.Code)
		}
		return statuses
	}
	a, b, c := run(7), run(7), run(8)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("seed 7 twice: %v vs %v", a, b)
	}
	if reflect.DeepEqual(a, c) {
		t.Errorf("seeds 7 and 8 injected the same faults: %v", a)
	}
	// Other services pass through even under a "*" rule.
	in := faults.New(ok, faults.Options{})
	if err := in.AddSpec("*:error:1"); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	rec := httptest.NewRecorder()
	in.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("PutEvents under *:error:1 = %d; want 200 (not DynamoDB)", rec.Code)
	}
}

// putEvents builds a PutEvents request of n entries whose Detail carries their index.
func putEvents(n int) *eventbridge.PutEventsInput {
	in := &eventbridge.PutEventsInput{}
	for i := range n {
		in.Entries = append(in.Entries, ebtypes.PutEventsRequestEntry{
			Source: aws.String("test"), DetailType: aws.String("fault"),
			Detail: aws.String(fmt.Sprintf(`{"i":%d}`, i)),
		})
	}
	return in
}

// published returns the Detail of every event the EventBridge stand-in accepted.
func published(env *awstest.Env) []string {
	var out []string
	for _, ev := range env.Events() {
		out = append(out, string(ev.Detail))
	}
	return out
}

// TestPutEventsFaults sends each PutEvents fault to the real aws-sdk-go-v2 EventBridge client
// with retries off and checks the typed error or result it decodes and which events reached
// the bus.
func TestPutEventsFaults(t *testing.T) {
	tests := []struct {
		name string
		rule faults.Rule
		// wantEvents is what the bus holds afterwards.
		wantEvents []string
		check      func(t *testing.T, out *eventbridge.PutEventsOutput, err error)
	}{
		{name: "throttle", rule: faults.Rule{Kind: faults.Throttle}, check: func(t *testing.T, _ *eventbridge.PutEventsOutput, err error) {
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" ||
				retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
				t.Errorf("PutEvents error = %v; want ThrottlingException the SDK counts as a throttle", err)
			}
		}},
		{name: "error", rule: faults.Rule{Kind: faults.Error}, check: func(t *testing.T, _ *eventbridge.PutEventsOutput, err error) {
			var ie *ebtypes.InternalException
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &ie) || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
				t.Errorf("PutEvents error = %v; want *types.InternalException with HTTP 500", err)
			}
		}},
		{name: "lost", rule: faults.Rule{Kind: faults.Lost}, wantEvents: []string{`{"i":0}`, `{"i":1}`, `{"i":2}`},
			check: func(t *testing.T, _ *eventbridge.PutEventsOutput, err error) {
				var api smithy.APIError
				if err == nil || errors.As(err, &api) {
					t.Errorf("PutEvents error = %v; want a transport error, not an API error", err)
				}
			}},
		{name: "partial, middle entry", rule: faults.Rule{Kind: faults.Partial, Failed: []int{1}}, wantEvents: []string{`{"i":0}`, `{"i":2}`},
			check: func(t *testing.T, out *eventbridge.PutEventsOutput, err error) {
				if err != nil {
					t.Fatalf("PutEvents error = %v; want a 200 with a FailedEntryCount", err)
				}
				var codes []string
				for _, e := range out.Entries {
					codes = append(codes, aws.ToString(e.ErrorCode)+"/"+map[bool]string{true: "id", false: "no id"}[aws.ToString(e.EventId) != ""])
				}
				want := []string{"/id", "ThrottlingException/no id", "/id"}
				if out.FailedEntryCount != 1 || !reflect.DeepEqual(codes, want) {
					t.Errorf("FailedEntryCount %d, entries %v; want 1, %v", out.FailedEntryCount, codes, want)
				}
			}},
		{name: "partial, every entry", rule: faults.Rule{Kind: faults.Partial, Failed: []int{0, 1, 2}},
			check: func(t *testing.T, out *eventbridge.PutEventsOutput, err error) {
				if err != nil || out.FailedEntryCount != 3 || len(out.Entries) != 3 || aws.ToString(out.Entries[2].ErrorCode) != "ThrottlingException" {
					t.Errorf("PutEvents = %+v, %v; want 3 ThrottlingException entries", out, err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := awstest.Start(t)
			eb := eventbridge.NewFromConfig(env.Config, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
			rule := tt.rule
			rule.Op, rule.Count = faults.PutEvents, 1
			if _, err := env.Faults.Add(rule); err != nil {
				t.Fatal(err)
			}
			out, err := eb.PutEvents(context.Background(), putEvents(3))
			tt.check(t, out, err)
			if got := published(env); !reflect.DeepEqual(got, tt.wantEvents) {
				t.Errorf("events on the bus = %v; want %v", got, tt.wantEvents)
			}
			if got := env.Faults.Count(faults.PutEvents, tt.rule.Kind); got != 1 {
				t.Errorf("Count(PutEvents, %s) = %d; want 1", tt.rule.Kind, got)
			}
		})
	}
}

// TestPutEventsSlowRespectsTheCallersDeadline checks that a slow PutEvents holds the call
// until the client gives up, and that nothing reaches the bus then.
func TestPutEventsSlowRespectsTheCallersDeadline(t *testing.T) {
	env := awstest.Start(t)
	if err := env.Faults.AddSpec("PutEvents:slow:1:5s"); err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(env.Config, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := eb.PutEvents(ctx, putEvents(1))
	if err == nil || time.Since(begin) > 2*time.Second {
		t.Errorf("PutEvents under a 5s slow rule with a 200ms deadline: err %v after %s; want the deadline's error", err, time.Since(begin))
	}
	if got := published(env); len(got) != 0 {
		t.Errorf("events on the bus = %v; want none", got)
	}
}

func TestPutEventsRulesAreChecked(t *testing.T) {
	for _, spec := range []string{"PutItem:partial:1", "*:partial:0.5", "PutEvents:conflict:1", "PutEvents:throughput:#1"} {
		if _, err := faults.Parse(spec); err == nil {
			t.Errorf("Parse(%q) accepted a fault the operation cannot have", spec)
		}
	}
	rules, err := faults.Parse("PutEvents:partial:0.1,PutEvents:lost:#2")
	want := []faults.Rule{{Op: "PutEvents", Kind: faults.Partial, Probability: 0.1}, {Op: "PutEvents", Kind: faults.Lost, Count: 2}}
	if err != nil || !reflect.DeepEqual(rules, want) {
		t.Errorf("Parse = %v, %v; want %v", rules, err, want)
	}
}

// TestLateAppliesTheWriteAfterAnsweringAFailure checks the late kind: the client gets a 500
// at once and nothing is written yet; the write reaches the engine after the rule's latency,
// and WaitLate reports what the engine answered it (applied, or refused by its condition).
func TestLateAppliesTheWriteAfterAnsweringAFailure(t *testing.T) {
	tests := []struct {
		name     string
		seed     bool // the item exists before the late write arrives
		wantType string
	}{
		{name: "applied", wantType: ""},
		{name: "refused by its condition", seed: true, wantType: "ConditionalCheckFailedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := awstest.Start(t)
			noRetry := dynamodb.NewFromConfig(env.Config, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
			in := put("late")
			in.ConditionExpression = aws.String("attribute_not_exists(pk)")
			if tt.seed {
				if _, err := env.DB.PutItem(context.Background(), put("late")); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := env.Faults.Add(faults.Rule{Op: "PutItem", Kind: faults.Late, Count: 1, Latency: 300 * time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			_, err := noRetry.PutItem(context.Background(), in)
			var ise *types.InternalServerError
			if !errors.As(err, &ise) {
				t.Fatalf("PutItem under a late rule error = %v; want *types.InternalServerError", err)
			}
			if !tt.seed && exists(t, env.DB, "late") {
				t.Fatalf("the late write was applied before its delay")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := env.Faults.WaitLate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Op != "PutItem" || got[0].Type != tt.wantType {
				t.Fatalf("WaitLate = %+v; want one PutItem answered %q", got, tt.wantType)
			}
			if !exists(t, env.DB, "late") {
				t.Errorf("the item is not there after the late write")
			}
			if n := env.Faults.Count("PutItem", faults.Late); n != 1 {
				t.Errorf("Count(PutItem, late) = %d; want 1", n)
			}
		})
	}
}
