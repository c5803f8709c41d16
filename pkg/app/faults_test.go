package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// TestIngestUnderEachFaultKeepsThePromises injects each fault kind on each DynamoDB call of
// the ingest path, a few times in a row (past the SDK's 3 attempts) or on every call, and
// checks the promises: no 2xx without the stored entry, no stored entry behind a 5xx, never a
// 401 or 404 because of a fault, and an answer inside the request's deadline.
func TestIngestUnderEachFaultKeepsThePromises(t *testing.T) {
	// Query is the webhook read (with its rate counters); GetItem the read-backs.
	ops := []string{"Query", "GetItem", "BatchGetItem", "PutItem", "TransactWriteItems"}
	kinds := []faults.Kind{faults.Conflict, faults.Throttle, faults.Throughput, faults.Error, faults.Slow, faults.Lost}
	for _, op := range ops {
		for _, kind := range kinds {
			for _, always := range []bool{false, true} {
				name := fmt.Sprintf("%s %s ×4", op, kind)
				if always {
					name = fmt.Sprintf("%s %s always", op, kind)
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					f := newFixture(t)
					body := `{"data":{"email":"a@b.co"}}`
					if op == "PutItem" {
						// Lock the key first so the write is a plain PutItem.
						if resp, _ := f.do(t, f.post(body, f.token)); resp.StatusCode != 201 {
							t.Fatalf("seed status %d", resp.StatusCode)
						}
					}
					rule := faults.Rule{Op: op, Kind: kind, Count: 4, Latency: 1500 * time.Millisecond}
					if always {
						rule.Count, rule.Probability = 0, 1
					}
					// Counted before the faults: the count is a Query too.
					before := len(f.entries(t))
					f.env.Faults.Add(rule)
					// A passing fault runs in the request's own deadline; one on every call in
					// a short one, to keep the test quick.
					budget := lead.RequestBudget
					if always {
						budget = 2 * time.Second
					}
					ctx, cancel := context.WithTimeout(context.Background(), budget)
					defer cancel()
					start := time.Now()
					resp, err := f.handler(ctx, f.post(body, f.token))
					took := time.Since(start)
					f.env.Faults.Reset()
					if err != nil {
						t.Fatalf("handler error %v; want a response", err)
					}
					after := f.entries(t)
					stored := len(after) - before
					var answer struct {
						EntryID   string `json:"entryId"`
						Unsettled bool   `json:"unsettled"`
					}
					_ = json.Unmarshal([]byte(resp.Body), &answer)
					switch {
					case resp.StatusCode == 401 || resp.StatusCode == 404:
						t.Errorf("status %d because of a fault: %s", resp.StatusCode, resp.Body)
					case resp.StatusCode == 201 && stored != 1:
						t.Errorf("201 with %d entries stored; want exactly 1", stored)
					case resp.StatusCode == 500 && answer.Unsettled:
						// Outcome unknown: the named entry may be stored, nothing else.
						if answer.EntryID == "" {
							t.Errorf("unsettled 500 names no entry: %s", resp.Body)
						}
						named := slices.ContainsFunc(after, func(e *lead.Entry) bool { return e.ID == answer.EntryID })
						if stored > 1 || stored == 1 && !named {
							t.Errorf("unsettled 500 naming %s with %d entries stored", answer.EntryID, stored)
						}
						t.Logf("unsettled 500 (%d stored): %s", stored, resp.Body)
					case resp.StatusCode >= 500 && stored != 0:
						t.Errorf("%d with %d entries stored; want none (a settled 5xx means nothing stored)", resp.StatusCode, stored)
					case resp.StatusCode != 201 && resp.StatusCode < 500:
						t.Errorf("status %d: %s; want 201 or a 5xx", resp.StatusCode, resp.Body)
					}
					if resp.StatusCode == 503 && resp.Headers["Retry-After"] == "" {
						t.Errorf("503 without Retry-After")
					}
					// The context's deadline stands for the function's and the handler aims
					// at it, but how late past it the answer comes out on a starved machine
					// is the scheduler's doing; Lambda's cut at the timeout is the bound.
					if took > lead.FunctionTimeout {
						t.Errorf("answered after %v; want inside the function's %v timeout", took, lead.FunctionTimeout)
					}
					if !always && kind != faults.Slow && resp.StatusCode != 201 && took < gaveUpAfter(budget) {
						t.Errorf("status %d after %d faults, %v into a %v budget; want 201 (the retries outlast them): %s",
							resp.StatusCode, rule.Count, took, budget, resp.Body)
					}
				})
			}
		}
	}
}

// TestSchemaLimitHoldsUnderConcurrentLocks fills a pool's schema to 900 keys, then sends 10
// concurrent requests each adding 100 new 250-byte keys: the limit is part of the
// conditional write, so the schema never passes 1,000 keys nor the pool item 400 KB, and
// the refused requests are 400s saying the schema is full.
func TestSchemaLimitHoldsUnderConcurrentLocks(t *testing.T) {
	f := newFixture(t)
	keys := func(prefix string, n, size int) string {
		var b strings.Builder
		b.WriteString(`{"data":{`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			k := fmt.Sprintf("%s%04d", prefix, i)
			k += strings.Repeat("x", max(0, size-len(k)))
			fmt.Fprintf(&b, "%q:%q", k, "v")
		}
		b.WriteString(`}}`)
		return b.String()
	}
	for _, seed := range []struct {
		prefix string
		n      int
	}{{"a", 500}, {"b", 400}} {
		if resp, _ := f.do(t, f.post(keys(seed.prefix, seed.n, 8), f.token)); resp.StatusCode != 201 {
			t.Fatalf("seeding %d keys: %d %s", seed.n, resp.StatusCode, resp.Body)
		}
	}
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	bodies := make([]string, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := f.handler(context.Background(), f.post(keys(fmt.Sprintf("c%d-", i), 100, 250), f.token))
			if err != nil {
				t.Errorf("handler error %v", err)
				return
			}
			statuses[i], bodies[i] = resp.StatusCode, resp.Body
		}()
	}
	wg.Wait()
	created := 0
	for i, st := range statuses {
		switch {
		case st == 201:
			created++
		case st == 400 && strings.Contains(bodies[i], "schema is full"):
		default:
			t.Errorf("request %d: %d %s; want 201 or a 400 saying the schema is full", i, st, bodies[i])
		}
	}
	schema := f.schema(t)
	if len(schema) > 1000 || created > 1 || len(schema) != 900+100*created {
		t.Errorf("schema holds %d keys after %d of 10 concurrent requests were created; want at most 1,000 (900 + 100 per 201)", len(schema), created)
	}
	out, err := f.env.DB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(f.env.App.TableName),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TABLE#" + f.poolID}, "sk": &types.AttributeValueMemberS{Value: "TABLE"}},
		ConsistentRead: aws.Bool(true),
	})
	awstest.Must(t, err)
	if size := dynamo.ItemSize(out.Item); size >= 400*1024 {
		t.Errorf("pool item is %d bytes; want under 400 KB", size)
	}
}
