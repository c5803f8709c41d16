package app_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
)

// opRecorder records the name of every AWS operation the handler's clients start.
type opRecorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *opRecorder) option(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordOp",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			r.mu.Lock()
			r.ops = append(r.ops, middleware.GetOperationName(ctx))
			r.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

func (r *opRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

func TestIngestAWSCallsPerPath(t *testing.T) {
	rec := &opRecorder{}
	f := newFixtureWithConfig(t, func(cfg *aws.Config) { cfg.APIOptions = append(cfg.APIOptions, rec.option) })
	keyed := func(body, key string) apigw.Request {
		r := f.post(body, f.token)
		r.Headers["idempotency-key"] = key
		return r
	}
	rec.take() // the token key, read at cold start
	// The webhook read is a Query: the webhook item and its rate counters beside it.
	// The first request of the instance reads the pool (and its custom fields) once; it
	// locks email, so the instance's cached schema is stale: the next request's lock
	// condition fails (a refusal with every attempt answered needs no read-back), it reads
	// the pool again and stores with a plain put.
	for i, want := range [][]string{{"Query", "BatchGetItem", "TransactWriteItems"}, {"Query", "TransactWriteItems", "BatchGetItem", "PutItem"}} {
		if resp, _ := f.do(t, f.post(`{"data":{"email":"warm@b.co"}}`, f.token)); resp.StatusCode != 201 {
			t.Fatalf("warm-up %d = %d %s", i+1, resp.StatusCode, resp.Body)
		}
		if got := rec.take(); !slices.Equal(got, want) {
			t.Errorf("warm-up %d calls = %v; want %v", i+1, got, want)
		}
	}
	// A repeat learns the first request's record from the failed transaction itself, where
	// the engine returns it (DynamoDB and DynamoDB Local do), and its answer is rebuilt from
	// the repeat, checked against the record's digest: no read of the record or the entry.
	// The embedded engine returns no record: the record is then read, one call more (the
	// refused write, every attempt of it answered, needs no read-back).
	replay := []string{"Query", "TransactWriteItems"}
	conflict := []string{"Query", "TransactWriteItems"}
	if os.Getenv("RL_DYNAMODB_ENDPOINT") == "" {
		replay = append(replay, "GetItem")
		conflict = append(conflict, "GetItem")
	}
	tests := []struct {
		name   string
		req    apigw.Request
		status int
		want   []string
	}{
		{"known keys", f.post(`{"data":{"email":"a@b.co"}}`, f.token), 201, []string{"Query", "PutItem"}},
		{"new keys: the transaction replaces the put", f.post(`{"data":{"email":"a@b.co","city":"Oslo"}}`, f.token), 201, []string{"Query", "TransactWriteItems"}},
		{"custom field data, cached too", f.post(fmt.Sprintf(`{"data":{"email":"a@b.co"},"customFieldData":{%q:"google_ad"}}`, f.fieldID), f.token), 201,
			[]string{"Query", "BatchGetItem", "PutItem"}},
		{"custom field data again", f.post(fmt.Sprintf(`{"data":{"email":"b@b.co"},"customFieldData":{%q:"google_ad"}}`, f.fieldID), f.token), 201,
			[]string{"Query", "PutItem"}},
		{"idempotent first request", keyed(`{"data":{"email":"i@b.co"}}`, "calls-1"), 201, []string{"Query", "TransactWriteItems"}},
		// The failed transaction returns the first request's record: no read of it.
		{"idempotent replay", keyed(`{"data":{"email":"i@b.co"}}`, "calls-1"), 201, replay},
		{"same key, other content", keyed(`{"data":{"email":"j@b.co"}}`, "calls-1"), 422, conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := f.do(t, tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%s); want %d", resp.StatusCode, resp.Body, tt.status)
			}
			if got := rec.take(); !slices.Equal(got, tt.want) {
				t.Errorf("AWS calls = %v; want %v", got, tt.want)
			}
		})
	}
}

func TestIdempotentRepeatsAreTheParsedContent(t *testing.T) {
	f := newFixture(t)
	send := func(body, contentType, key string) (apigw.Response, map[string]any) {
		r := f.post(body, f.token)
		r.Headers["content-type"] = contentType
		r.Headers["idempotency-key"] = key
		return f.do(t, r)
	}
	const js = "application/json"
	const form = "application/x-www-form-urlencoded"
	big := strings.Repeat("‹", 100_000/len("‹"))
	tests := []struct {
		name          string
		first, repeat [2]string // body, content type
		status        int
	}{
		{"other whitespace and key order",
			[2]string{`{"data":{"email":"a@b.co","plan":"pro"}}`, js},
			[2]string{"{ \"data\" : {\n  \"plan\": \"pro\",\n  \"email\": \"a@b.co\"\n} }\n", js}, 201},
		{"the same content as a form",
			[2]string{`{"data":{"email":"a@b.co","plan":"pro"}}`, js},
			[2]string{"data%5Bemail%5D=a%40b.co&data%5Bplan%5D=pro", form}, 201},
		{"a 100 KB value of characters JSON escapes in HTML",
			[2]string{`{"data":{"note":"` + big + `"}}`, js}, [2]string{`{"data":{"note":"` + big + `"}}`, js}, 201},
		{"other content", [2]string{`{"data":{"email":"a@b.co"}}`, js}, [2]string{`{"data":{"email":"b@b.co"}}`, js}, 422},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("content-%d", i)
			first, fb := send(tt.first[0], tt.first[1], key)
			if first.StatusCode != 201 {
				t.Fatalf("first = %d %s; want 201", first.StatusCode, first.Body)
			}
			before := len(f.entries(t))
			again, ab := send(tt.repeat[0], tt.repeat[1], key)
			if again.StatusCode != tt.status {
				t.Fatalf("repeat = %d %.300s; want %d", again.StatusCode, again.Body, tt.status)
			}
			if n := len(f.entries(t)); n != before {
				t.Errorf("the repeat stored %d entries; want none", n-before)
			}
			switch tt.status {
			case 201:
				if again.Body != first.Body || again.Headers["Idempotent-Replayed"] != "true" {
					t.Errorf("replay is not byte-identical to the first answer:\n%.300s\n%.300s", again.Body, first.Body)
				}
			case 422:
				if ab["entryId"] != fb["id"] {
					t.Errorf("422 body %s; want entryId %v, the first entry", again.Body, fb["id"])
				}
			}
		})
	}
	// Every record is small whatever the lead, the 100 KB lead's included.
	out, err := f.env.DB.Scan(context.Background(), &dynamodb.ScanInput{
		TableName:                 aws.String(f.env.App.TableName),
		FilterExpression:          aws.String("begins_with(pk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "IDEMPOTENCY#" + f.webhookID}},
		ConsistentRead:            aws.Bool(true),
	})
	awstest.Must(t, err)
	if len(out.Items) != len(tests) {
		t.Errorf("%d idempotency records; want %d", len(out.Items), len(tests))
	}
	for _, item := range out.Items {
		if n := dynamo.ItemSize(item); n >= 300 {
			t.Errorf("idempotency record of %d bytes; want under 300", n)
		}
	}
}
