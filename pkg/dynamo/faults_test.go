package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

func faultStore(t *testing.T) (*dynamo.Store, *awstest.Env) {
	t.Helper()
	env := awstest.Start(t)
	// The functions' SDK policy (3 attempts, backoff capped at 1 s) without a retry quota,
	// which a test's hundreds of injected faults would otherwise drain.
	db := dynamodb.NewFromConfig(env.Config, func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts, so.MaxBackoff, so.RateLimiter = 3, time.Second, ratelimit.None
		})
	})
	return dynamo.New(db, env.App.TableName), env
}

// entryStored reads the entry's item back with the test's own client, so the test does not
// depend on the store's own read-back. A fence at the entry's key is not the entry.
func entryStored(t *testing.T, env *awstest.Env, e *lead.Entry) bool {
	t.Helper()
	item := atEntryKey(t, env, e)
	return len(item) > 0 && !dynamo.IsFence(item)
}

// atEntryKey is the item at the entry's key, if any: the entry or a fence.
func atEntryKey(t *testing.T, env *awstest.Env, e *lead.Entry) map[string]types.AttributeValue {
	t.Helper()
	item, err := dynamo.EntryItem(e)
	awstest.Must(t, err)
	out, err := env.DB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.App.TableName), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": item["pk"], "sk": item["sk"]},
	})
	awstest.Must(t, err)
	return out.Item
}

// writes are the two shapes of an entry write: a single PutItem (no new key, no
// idempotency record) and a TransactWriteItems (new keys locked with it).
var writes = []struct {
	op   string
	lock func(p *lead.Pool) lead.SchemaLock
}{
	{"PutItem", func(p *lead.Pool) lead.SchemaLock { return lead.SchemaLock{Locked: p.Schema, Version: p.SchemaVersion} }},
	{"TransactWriteItems", func(p *lead.Pool) lead.SchemaLock {
		return lead.SchemaLock{Locked: p.Schema, Version: p.SchemaVersion, New: lead.Schema{"email": lead.TypeString}}
	}},
}

func TestPutEntrySurvivesPassingFaultsAndStoresOnce(t *testing.T) {
	for _, w := range writes {
		for _, tc := range []struct {
			kind faults.Kind
			n    int // faulted calls in a row: more than the SDK's 3 attempts where it retries
			want int // faults fired: a lost write is settled by the read-back after the SDK's attempts
		}{
			{faults.Conflict, 4, 4},
			{faults.Throttle, 5, 5},
			{faults.Throughput, 5, 5},
			{faults.Error, 4, 4},
			{faults.Lost, 1, 1},
			{faults.Lost, 4, 3},
			{faults.Slow, 1, 1},
		} {
			t.Run(w.op+" "+string(tc.kind), func(t *testing.T) {
				s, env := faultStore(t)
				p := newPool(t, s)
				e := newEntry(p, map[string]any{"email": "a@b.co"})
				env.Faults.Add(faults.Rule{Op: w.op, Kind: tc.kind, Count: tc.n})
				ctx, cancel := context.WithTimeout(context.Background(), lead.RequestBudget)
				defer cancel()
				start := time.Now()
				if err := s.PutEntry(ctx, e, w.lock(p), nil); err != nil {
					t.Fatalf("PutEntry after %d × %s on %s = %v; want stored", tc.n, tc.kind, w.op, err)
				}
				if d := time.Since(start); d > lead.RequestBudget+dynamo.SettleTimeout {
					t.Errorf("PutEntry took %v; want inside the %v deadline", d, lead.RequestBudget)
				}
				if got := env.Faults.Count(w.op, tc.kind); got != tc.want {
					t.Errorf("faults fired = %d; want %d", got, tc.want)
				}
				if !entryStored(t, env, e) {
					t.Errorf("PutEntry answered success; the entry is not stored")
				}
			})
		}
	}
}

func TestPutEntryBusyPastTheDeadlineIs503AndStoresNothing(t *testing.T) {
	for _, w := range writes {
		for _, kind := range []faults.Kind{faults.Conflict, faults.Throttle, faults.Throughput} {
			t.Run(w.op+" "+string(kind), func(t *testing.T) {
				s, env := faultStore(t)
				p := newPool(t, s)
				e := newEntry(p, map[string]any{"email": "a@b.co"})
				env.Faults.Add(faults.Rule{Op: w.op, Kind: kind, Probability: 1})
				const budget = 4 * time.Second
				ctx, cancel := context.WithTimeout(context.Background(), budget)
				defer cancel()
				start := time.Now()
				err := s.PutEntry(ctx, e, w.lock(p), nil)
				if lead.ErrorCode(err) != lead.EUNAVAILABLE {
					t.Errorf("PutEntry always %s = %v; want the 503 unavailable error", kind, err)
				}
				if d := time.Since(start); d > budget+dynamo.SettleTimeout {
					t.Errorf("PutEntry took %v; want inside its %v deadline and the read-back", d, budget)
				}
				if env.Faults.Count(w.op, kind) < 4 {
					t.Errorf("faults fired = %d; want retries beyond the SDK's 3 attempts", env.Faults.Count(w.op, kind))
				}
				if entryStored(t, env, e) {
					t.Errorf("PutEntry answered 503; the entry is stored")
				}
			})
		}
	}
}

func TestPutEntryUnansweredWriteIsSettledByReadingBack(t *testing.T) {
	for _, w := range writes {
		t.Run(w.op+" always lost", func(t *testing.T) {
			// Every write is applied and its answer lost: the first one stored the entry,
			// so the read-back answers success whatever the later attempts see.
			s, env := faultStore(t)
			p := newPool(t, s)
			e := newEntry(p, map[string]any{"email": "a@b.co"})
			env.Faults.Add(faults.Rule{Op: w.op, Kind: faults.Lost, Probability: 1})
			if err := s.PutEntry(context.Background(), e, w.lock(p), nil); err != nil {
				t.Fatalf("PutEntry with every answer lost = %v; want success (the entry is stored)", err)
			}
			if !entryStored(t, env, e) {
				t.Errorf("the entry is not stored")
			}
		})
		t.Run(w.op+" always 500", func(t *testing.T) {
			// Never applied: the answer is a failure, and nothing is stored behind it.
			s, env := faultStore(t)
			p := newPool(t, s)
			e := newEntry(p, map[string]any{"email": "a@b.co"})
			env.Faults.Add(faults.Rule{Op: w.op, Kind: faults.Error, Probability: 1})
			if err := s.PutEntry(context.Background(), e, w.lock(p), nil); err == nil {
				t.Fatalf("PutEntry with every call a 500 = success; want a failure")
			}
			if entryStored(t, env, e) {
				t.Errorf("PutEntry failed; the entry is stored")
			}
		})
		t.Run(w.op+" caller gone mid-write", func(t *testing.T) {
			// The caller's context is cancelled while the write is under way (a client that
			// hung up): the write finishes and is reported as done.
			s, env := faultStore(t)
			p := newPool(t, s)
			e := newEntry(p, map[string]any{"email": "a@b.co"})
			env.Faults.Add(faults.Rule{Op: w.op, Kind: faults.Slow, Count: 1, Latency: 300 * time.Millisecond})
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			if err := s.PutEntry(ctx, e, w.lock(p), nil); err != nil {
				t.Fatalf("PutEntry with the caller gone = %v; want the write completed", err)
			}
			if !entryStored(t, env, e) {
				t.Errorf("the entry is not stored")
			}
		})
	}
}

func TestPutEntryRetriedAfterALostRaceSendsANewToken(t *testing.T) {
	// The first attempt writes the whole schema map on condition of the version it read;
	// a concurrent lock wins, and the retry (same entry, same new key) sends other
	// expression values. On DynamoDB, reusing the first token for it is
	// IdempotentParameterMismatchException.
	s, _ := faultStore(t)
	ctx := context.Background()
	p := newPool(t, s)
	e := newEntry(p, map[string]any{"email": "a@b.co"})
	stale := lead.SchemaLock{Locked: p.Schema, Version: p.SchemaVersion, New: lead.Schema{"email": lead.TypeString}}
	winner := lockedPool(ctx, t, s, p, map[string]any{"phone": "1"})
	if err := s.PutEntry(ctx, e, stale, nil); !errors.Is(err, lead.ErrSchemaChanged) {
		t.Fatalf("stale lock = %v; want ErrSchemaChanged", err)
	}
	fresh := lead.SchemaLock{Locked: winner.Schema, Version: winner.SchemaVersion, New: lead.Schema{"email": lead.TypeString}}
	if err := s.PutEntry(ctx, e, fresh, nil); err != nil {
		t.Fatalf("retry after the lost race = %v; want stored", err)
	}
	got, _, err := s.PoolWithFields(ctx, p.ID, p.OrganizationID, nil)
	awstest.Must(t, err)
	if got.Schema["email"] != lead.TypeString || got.Schema["phone"] != lead.TypeString {
		t.Errorf("schema = %v; want email and phone", got.Schema)
	}
}

func TestLockedKeysThatLookLikePlaceholdersAreStoredAsSent(t *testing.T) {
	// Data keys are free text: ones shaped like the store's placeholder names must lock as
	// themselves (minidyn once resolved "#0" again and died of a stack overflow).
	for _, keys := range [][]string{{"#0"}, {"x.#0", "#1"}, {"#k0", "#ks", "#kv"}, {"#s", "#v", ":0"}} {
		t.Run(keys[0], func(t *testing.T) {
			s, _ := faultStore(t)
			ctx := context.Background()
			p := lockedPool(ctx, t, s, newPool(t, s), map[string]any{"email": "a@b.co"})
			data, New := map[string]any{}, lead.Schema{}
			for _, k := range keys {
				data[k], New[k] = "x", lead.TypeString
			}
			awstest.Must(t, s.PutEntry(ctx, newEntry(p, data), lead.SchemaLock{Locked: p.Schema, Version: p.SchemaVersion, New: New}, nil))
			got, _, err := s.PoolWithFields(ctx, p.ID, p.OrganizationID, nil)
			awstest.Must(t, err)
			want := lead.Schema{"email": lead.TypeString}
			for k, v := range New {
				want[k] = v
			}
			if len(got.Schema) != len(want) {
				t.Fatalf("schema = %v; want %v", got.Schema, want)
			}
			for k, v := range want {
				if got.Schema[k] != v {
					t.Errorf("schema = %v; want %v", got.Schema, want)
				}
			}
		})
	}
}
