package dynamo_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

// entryWriteCalls is how many calls the store makes for an entry write that never gets an
// answer: the SDK's 3 attempts for each of the store's 3 tries.
const entryWriteCalls = 9

// waitLate waits for every held write to reach the engine and returns the engine's answers.
func waitLate(t *testing.T, env *awstest.Env) []faults.LateResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := env.Faults.WaitLate(ctx)
	if err != nil {
		t.Fatalf("late writes: %v", err)
	}
	return got
}

// streamWatch stands behind the test's stream relay as the entry-events handler would: it
// notes every record the relay (the template's filter) lets through, and the entries the
// handler would publish (the records IsEntryInsert accepts, decoded by EntryFromRecord).
type streamWatch struct {
	mu      sync.Mutex
	fences  int
	entries []string // ids of the entries an event would carry
	relay   *localaws.Relay
}

func watchStream(t *testing.T, env *awstest.Env) *streamWatch {
	w := &streamWatch{}
	w.relay = env.StartRelay(t, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, r := range ev.Records {
			if typ, ok := r.Change.NewImage[dynamo.TypeAttribute]; ok && typ.String() == dynamo.FenceType {
				w.fences++
			}
			if !dynamo.IsEntryInsert(r) {
				continue
			}
			e, err := dynamo.EntryFromRecord(r)
			if err != nil {
				t.Errorf("stream record %s: %v", r.EventID, err)
				continue
			}
			w.entries = append(w.entries, e.ID)
		}
		return events.DynamoDBEventResponse{}, nil
	})
	return w
}

// settled waits for the relay and returns the fence records it handed over and the entry
// ids published.
func (w *streamWatch) settled(t *testing.T) (int, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	awstest.Must(t, w.relay.Wait(ctx))
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fences, append([]string(nil), w.entries...)
}

// checkFence checks that the item at e's key is a fence: tiny and expiring through the TTL
// a day after now.
func checkFence(t *testing.T, env *awstest.Env, e *lead.Entry, now time.Time) {
	t.Helper()
	item := atEntryKey(t, env, e)
	if !dynamo.IsFence(item) {
		t.Fatalf("item at the entry's key = %v; want a fence", item)
	}
	if size := dynamo.ItemSize(item); size > 200 {
		t.Errorf("fence is %d bytes; want under 200", size)
	}
	exp, _ := item[dynamo.TTLAttribute].(*types.AttributeValueMemberN)
	if exp == nil {
		t.Fatalf("fence has no %s", dynamo.TTLAttribute)
	}
	sec, err := strconv.ParseInt(exp.Value, 10, 64)
	awstest.Must(t, err)
	if d := time.Unix(sec, 0).Sub(now); d < dynamo.FenceTTL-time.Minute || d > dynamo.FenceTTL+time.Minute {
		t.Errorf("fence expires %v after the write; want %v", d, dynamo.FenceTTL)
	}
}

// checkNotListed checks that the store's reads do not take the key's fence for e.
func checkNotListed(t *testing.T, s *dynamo.Store, e *lead.Entry) {
	t.Helper()
	ctx := context.Background()
	got, err := s.Entry(ctx, e.PoolID, e.ID)
	awstest.Must(t, err)
	if got != nil {
		t.Errorf("Entry(fenced id) = %+v; want none", got)
	}
	es, err := s.Entries(ctx, e.PoolID, 100)
	awstest.Must(t, err)
	for _, x := range es {
		if x.ID == e.ID {
			t.Errorf("Entries lists the fenced id %s", e.ID)
		}
	}
}

func TestPutEntryWriteLandingAfterTheStoreGaveUpIsNeverBehindA5xx(t *testing.T) {
	// Every entry write is answered 500 at once and reaches the engine 2 s later, after the
	// store has tried 3 times, read the entry back as not stored and given up: a 5xx must
	// still mean nothing is stored once the late writes have landed. Before the fence, the
	// first late write committed the entry behind the 5xx.
	for _, w := range writes {
		t.Run(w.op, func(t *testing.T) {
			s, env := faultStore(t)
			p := newPool(t, s)
			watch := watchStream(t, env)
			other := newEntry(p, map[string]any{"email": "x@y.co"})
			awstest.Must(t, s.PutEntry(context.Background(), other, w.lock(p), nil))
			p, _, err := s.PoolWithFields(context.Background(), p.ID, p.OrganizationID, nil)
			awstest.Must(t, err)
			e := newEntry(p, map[string]any{"email": "a@b.co", "phone": "1"})
			lock := w.lock(p)
			if w.op == "TransactWriteItems" {
				lock.New = lead.Schema{"phone": lead.TypeString}
			}
			if _, err := env.Faults.Add(faults.Rule{Op: w.op, Kind: faults.Late, Count: entryWriteCalls, Latency: 2 * time.Second}); err != nil {
				t.Fatal(err)
			}
			ctx, calls := metrics.WithCalls(context.Background())
			ctx, cancel := context.WithTimeout(ctx, lead.RequestBudget)
			defer cancel()
			now := time.Now()
			err = s.PutEntry(ctx, e, lock, nil)
			if n := env.Faults.Count(w.op, faults.Late); n != entryWriteCalls {
				t.Fatalf("late faults fired = %d; want %d (every entry write)", n, entryWriteCalls)
			}
			late := waitLate(t, env)
			stored := entryStored(t, env, e)
			fences, published := watch.settled(t)
			switch {
			case err != nil && stored:
				t.Fatalf("PutEntry = %v (a 5xx) and, once its late writes landed, the entry is stored", err)
			case err == nil && !stored:
				t.Fatalf("PutEntry = success; the entry is not stored")
			case err == nil:
				t.Logf("the store settled as a success (a late write landed before the fence)")
			default:
				if lead.ErrorCode(err) != lead.EINTERNAL && lead.ErrorCode(err) != lead.EUNAVAILABLE {
					t.Errorf("PutEntry = %v; want a 5xx", err)
				}
				for _, r := range late {
					if r.Status == 200 {
						t.Errorf("a late write was applied after the 5xx: %+v", r)
					}
				}
				if len(late) != entryWriteCalls {
					t.Errorf("%d late writes landed; want %d", len(late), entryWriteCalls)
				}
				checkFence(t, env, e, now)
				checkNotListed(t, s, e)
				if c := calls.Counts(); c.Fences != 1 || c.Unsettled != 0 {
					t.Errorf("counted %d fences, %d unsettled; want 1, 0", c.Fences, c.Unsettled)
				}
			}
			if fences != 0 {
				t.Errorf("the stream relay handed %d fence records to the handler; want none (the template's filter drops them)", fences)
			}
			want := []string{other.ID}
			if stored {
				want = append(want, e.ID)
			}
			if strings.Join(published, ",") != strings.Join(want, ",") {
				t.Errorf("events published for %v; want %v", published, want)
			}
		})
	}
}

func TestPutEntryFenceFindingTheCommittedEntryIsASuccess(t *testing.T) {
	// Two tries fail without being applied (500s), the third is applied but its answers
	// are lost: the fence, which stands in for the last read-back, finds the entry there.
	for _, w := range writes {
		t.Run(w.op, func(t *testing.T) {
			s, env := faultStore(t)
			p := newPool(t, s)
			watch := watchStream(t, env)
			e := newEntry(p, map[string]any{"email": "a@b.co"})
			awstest.Must(t, env.Faults.AddSpec(w.op+":error:#6,"+w.op+":lost:#3"))
			ctx, calls := metrics.WithCalls(context.Background())
			if err := s.PutEntry(ctx, e, w.lock(p), nil); err != nil {
				t.Fatalf("PutEntry with the last try applied and unanswered = %v; want success", err)
			}
			if n, m := env.Faults.Count(w.op, faults.Error), env.Faults.Count(w.op, faults.Lost); n != 6 || m != 3 {
				t.Fatalf("faults fired: %d errors, %d lost; want 6, 3", n, m)
			}
			if item := atEntryKey(t, env, e); len(item) == 0 || dynamo.IsFence(item) {
				t.Fatalf("item at the entry's key = %v; want the entry", item)
			}
			if c := calls.Counts(); c.Fences != 0 || c.Unsettled != 0 {
				t.Errorf("counted %d fences, %d unsettled; want none", c.Fences, c.Unsettled)
			}
			if _, published := watch.settled(t); len(published) != 1 || published[0] != e.ID {
				t.Errorf("events published for %v; want exactly %s", published, e.ID)
			}
		})
	}
}

func TestFencedIdempotentWriteLeavesTheKeyFreeForARetry(t *testing.T) {
	// The idempotency record commits with the entry or not at all: when the entry is
	// fenced, the record was not written either, so the caller's retry with the same
	// Idempotency-Key gets a new entry, and the key then names it.
	s, env := faultStore(t)
	p := newPool(t, s)
	ctx := context.Background()
	now := time.Now().UTC()
	webhookID, key := uuid.NewString(), "order-42"
	idem := func(entryID string) *lead.IdempotencyRecord {
		return &lead.IdempotencyRecord{WebhookID: webhookID, Key: key, Fingerprint: []byte("fp"), EntryID: entryID,
			CreatedAt: now, ExpiresAt: now.Add(lead.IdempotencyWindow)}
	}
	lock := lead.SchemaLock{Locked: p.Schema, Version: p.SchemaVersion}
	first := newEntry(p, map[string]any{"email": "a@b.co"})
	awstest.Must(t, func() error {
		_, err := env.Faults.Add(faults.Rule{Op: "TransactWriteItems", Kind: faults.Late, Count: entryWriteCalls, Latency: 2 * time.Second})
		return err
	}())
	if err := s.PutEntry(ctx, first, lock, idem(first.ID)); err == nil {
		t.Fatalf("PutEntry with every write late = success; want a 5xx")
	}
	waitLate(t, env)
	checkFence(t, env, first, now)
	rec, err := s.Idempotency(ctx, webhookID, key, now)
	awstest.Must(t, err)
	if rec != nil {
		t.Fatalf("idempotency record after the fenced write = %+v; want none", rec)
	}

	retry := newEntry(p, map[string]any{"email": "a@b.co"})
	if err := s.PutEntry(ctx, retry, lock, idem(retry.ID)); err != nil {
		t.Fatalf("retry with the same Idempotency-Key = %v; want stored", err)
	}
	rec, err = s.Idempotency(ctx, webhookID, key, now)
	awstest.Must(t, err)
	if rec == nil || rec.EntryID != retry.ID {
		t.Errorf("idempotency record = %+v; want it to name the retry's entry %s", rec, retry.ID)
	}
	if !entryStored(t, env, retry) || entryStored(t, env, first) {
		t.Errorf("stored: retry %v, first %v; want only the retry", entryStored(t, env, retry), entryStored(t, env, first))
	}
}

func TestPutEntryUnsettledFenceIsOutcomeUnknown(t *testing.T) {
	// DynamoDB answers every PutItem with a 500 (a server fault: it may have applied it):
	// the entry write and then the fence fail until the function's settle time is spent. The
	// answer is the 500 "Outcome unknown" naming the entry, never "nothing stored", and the
	// request's counters say it is unsettled.
	s, env := faultStore(t)
	p := newPool(t, s)
	e := newEntry(p, map[string]any{"email": "a@b.co"})
	awstest.Must(t, env.Faults.AddSpec("PutItem:error:1"))
	start := time.Now()
	// The shape of a request of the HTTP functions, shortened: a request deadline, and a
	// settle time (the function's deadline less its answer margin) well past it. Before,
	// the fence gave up a second after it started, and 100 ms before the request's
	// deadline plus a second at the latest: 1.9 s here.
	settleBy := start.Add(4 * time.Second)
	ctx, calls := metrics.WithCalls(lead.WithSettleBy(context.Background(), settleBy))
	ctx, cancel := context.WithDeadline(ctx, start.Add(time.Second))
	defer cancel()
	err := s.PutEntry(ctx, e, writes[0].lock(p), nil)
	took := time.Since(start)
	var le *lead.Error
	if !errors.As(err, &le) || le.Code != lead.EUNSETTLED || le.EntryID != e.ID {
		t.Fatalf("PutEntry = %v; want the unsettled error naming entry %s", err, e.ID)
	}
	if !strings.Contains(err.Error(), "unsettled") {
		t.Errorf("error %q does not say unsettled", err)
	}
	if c := calls.Counts(); c.Unsettled != 1 || c.Fences != 0 {
		t.Errorf("counted %d unsettled, %d fences; want 1, 0", c.Unsettled, c.Fences)
	}
	// The fence kept trying until the settle time (less at most one pause it had no time
	// for), not only for a second.
	if took < settleBy.Sub(start)-time.Second {
		t.Errorf("PutEntry gave up after %v; want it to use the settle time (%v)", took, settleBy.Sub(start))
	}
	// The functions' answer margin (lead.AnswerMargin) follows the settle time.
	if limit := settleBy.Sub(start) + 500*time.Millisecond; took > limit {
		t.Errorf("PutEntry took %v; want it answered within the settle time and the answer margin (%v)", took, limit)
	}
	if item := atEntryKey(t, env, e); len(item) != 0 {
		t.Errorf("item at the entry's key = %v; want none", item)
	}
}

func TestAFenceIsNoEntryInsert(t *testing.T) {
	// Should a fence's record get past the event source filter, it is still no entry's
	// insert: the entry-events handler skips it.
	s := events.NewStringAttribute
	rec := events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
		SequenceNumber: "1",
		Keys:           map[string]events.DynamoDBAttributeValue{"pk": s("TABLE#p#01"), "sk": s("ENTRY#0190")},
		NewImage: map[string]events.DynamoDBAttributeValue{"pk": s("TABLE#p#01"), "sk": s("ENTRY#0190"),
			dynamo.TypeAttribute: s(dynamo.FenceType), "fencedAt": s("2026-11-30T05:00:00Z"), dynamo.TTLAttribute: events.NewNumberAttribute("1796187600")},
	}}
	if dynamo.IsEntryInsert(rec) {
		t.Errorf("IsEntryInsert(fence record) = true; want false")
	}
}
