package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// newRateWebhook creates a webhook of a fresh organization and returns it.
func newRateWebhook(t *testing.T, s *dynamo.Store) *lead.Webhook {
	t.Helper()
	w := &lead.Webhook{ID: uuid.NewString(), OrganizationID: uuid.NewString(), PoolID: uuid.NewString(), Name: "n",
		TokenHash: []byte("hash"), CreatedAt: time.Now(), RateLimit: 7, RateBurst: 30}
	awstest.Must(t, s.CreateWebhook(context.Background(), w))
	return w
}

// counted is the counts as a map, second → count.
func counted(w *lead.Webhook) map[int64]int64 {
	m := map[int64]int64{}
	for _, c := range w.Counted {
		m[c.Second] += c.Count
	}
	return m
}

// TestRateCountersAreReadWithTheWebhook: the ingest read returns the webhook (its rate
// settings too) and the counts of the seconds asked for, across counter blocks, none older;
// the counters never change the webhook, its version or its listing, and the partition's
// other items (kept requests) stay out of the read.
func TestRateCountersAreReadWithTheWebhook(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	w := newRateWebhook(t, s)
	now := time.Now().Unix()/10*10 + 5 // the middle of a block
	unwritten, err := s.AddRateCounts(ctx, w.ID, []lead.RateCount{{Second: now - 12, Count: 100}, {Second: now - 6, Count: 2}, {Second: now - 1, Count: 3}, {Second: now, Count: 4}})
	awstest.Must(t, err)
	if len(unwritten) != 0 {
		t.Fatalf("unwritten %v", unwritten)
	}
	_, err = s.AddRateCounts(ctx, w.ID, []lead.RateCount{{Second: now, Count: 5}})
	awstest.Must(t, err)
	// A kept rejected request in the same partition.
	keepOne(t, s, w.ID)
	got, err := s.WebhookCounted(ctx, w.ID, now-lead.RateWindowSeconds)
	awstest.Must(t, err)
	if got == nil || got.ID != w.ID || got.RateLimit != 7 || got.RateBurst != 30 || got.Version != 1 {
		t.Fatalf("read %+v; want the webhook at version 1 with its rate settings", got)
	}
	want := map[int64]int64{now - 6: 2, now - 1: 3, now: 9}
	if m := counted(got); len(m) != len(want) || m[now-6] != 2 || m[now-1] != 3 || m[now] != 9 {
		t.Errorf("counts %v; want %v (the one 12 seconds back left out)", m, want)
	}
	plain, err := s.Webhook(ctx, w.ID)
	awstest.Must(t, err)
	if plain.Version != 1 || len(plain.Counted) != 0 {
		t.Errorf("plain read: version %d, counts %v; want version 1, none", plain.Version, plain.Counted)
	}
	ws, _, err := s.ListWebhooks(ctx, w.OrganizationID, 10, "")
	awstest.Must(t, err)
	if len(ws) != 1 {
		t.Errorf("listing holds %d items; want the one webhook", len(ws))
	}
	// An update of the webhook is not disturbed by the counters, nor they by it.
	updated, err := s.UpdateWebhook(ctx, w.ID, lead.WebhookChange{Rate: &lead.RateChange{Limit: 9}})
	awstest.Must(t, err)
	if updated.Version != 2 || updated.RateLimit != 9 || updated.RateBurst != 0 {
		t.Errorf("updated %+v; want version 2, limit 9, burst the default", updated)
	}
	got, err = s.WebhookCounted(ctx, w.ID, now-lead.RateWindowSeconds)
	awstest.Must(t, err)
	if counted(got)[now] != 9 {
		t.Errorf("counts after the update %v; want them kept", counted(got))
	}
	// An unknown webhook reads as nil, counters or not.
	other := uuid.NewString()
	_, err = s.AddRateCounts(ctx, other, []lead.RateCount{{Second: now, Count: 1}})
	awstest.Must(t, err)
	if got, err := s.WebhookCounted(ctx, other, now-lead.RateWindowSeconds); err != nil || got != nil {
		t.Errorf("counters alone read as %+v, %v; want nil", got, err)
	}
}

// TestALateCounterWriteCannotReviveADeletedWebhook: a counter ADD that DynamoDB applies
// after the webhook's delete was answered leaves the webhook deleted: not read, not
// listed, its id not creatable again; and a late counter ADD in the middle of a versioned
// update fails nothing.
func TestALateCounterWriteCannotReviveADeletedWebhook(t *testing.T) {
	s, env := faultStore(t)
	ctx := context.Background()
	w := newRateWebhook(t, s)
	now := time.Now().Unix()
	_, err := env.Faults.Add(faults.Rule{Op: "UpdateItem", Kind: faults.Late, Count: 1, Latency: 300 * time.Millisecond})
	awstest.Must(t, err)
	unwritten, err := s.AddRateCounts(ctx, w.ID, []lead.RateCount{{Second: now, Count: 3}})
	// A 500: it may land, so it is not to be sent again.
	if err == nil || len(unwritten) != 0 {
		t.Fatalf("late counter write answered %v, unwritten %v; want a failure, nothing to send again", err, unwritten)
	}
	awstest.Must(t, s.DeleteWebhook(ctx, w.ID))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	landed, err := env.Faults.WaitLate(wctx)
	awstest.Must(t, err)
	if len(landed) != 1 {
		t.Fatalf("late writes %+v; want the one counter write", landed)
	}
	for name, read := range map[string]func() (*lead.Webhook, error){
		"ingest read": func() (*lead.Webhook, error) { return s.WebhookCounted(ctx, w.ID, now-lead.RateWindowSeconds) },
		"plain read":  func() (*lead.Webhook, error) { return s.Webhook(ctx, w.ID) },
	} {
		if got, err := read(); err != nil || got != nil {
			t.Errorf("%s after the late counter write = %+v, %v; want not found", name, got, err)
		}
	}
	ws, _, err := s.ListWebhooks(ctx, w.OrganizationID, 10, "")
	awstest.Must(t, err)
	if len(ws) != 0 {
		t.Errorf("listing shows %d webhooks after the delete; want none", len(ws))
	}
	again := *w
	if err := s.CreateWebhook(ctx, &again); err == nil {
		t.Errorf("a create of the deleted id succeeded; want it refused by the tombstone")
	}

	// A versioned update with a counter write landing late meanwhile.
	w2 := newRateWebhook(t, s)
	_, err = env.Faults.Add(faults.Rule{Op: "UpdateItem", Kind: faults.Late, Count: 1, Latency: 50 * time.Millisecond})
	awstest.Must(t, err)
	_, _ = s.AddRateCounts(ctx, w2.ID, []lead.RateCount{{Second: now, Count: 2}})
	updated, err := s.UpdateWebhook(ctx, w2.ID, lead.WebhookChange{Rate: &lead.RateChange{Limit: 11, Burst: 22}})
	awstest.Must(t, err)
	landed, err = env.Faults.WaitLate(wctx)
	awstest.Must(t, err)
	// WaitLate reports every late write so far: the first one and this one.
	if len(landed) != 2 || updated.Version != 2 || updated.RateLimit != 11 || updated.RateBurst != 22 {
		t.Errorf("update with a late counter write: %+v (late %+v); want version 2, 11/22", updated, landed)
	}
	got, err := s.WebhookCounted(ctx, w2.ID, now-lead.RateWindowSeconds)
	awstest.Must(t, err)
	if got.Version != 2 || counted(got)[now] != 2 {
		t.Errorf("after both: version %d, counts %v; want version 2 and the late count 2", got.Version, counted(got))
	}
}

// TestAFailedCounterWriteReturnsWhatItDidNotWrite: a flush across two blocks that DynamoDB
// refuses is one attempt and returns every count, for the limiter to keep; written again,
// each count lands in its own second.
func TestAFailedCounterWriteReturnsWhatItDidNotWrite(t *testing.T) {
	s, env := faultStore(t)
	ctx := context.Background()
	w := newRateWebhook(t, s)
	block := time.Now().Unix() / 10 * 10
	counts := []lead.RateCount{{Second: block - 1, Count: 4}, {Second: block, Count: 1}, {Second: block + 1, Count: 2}}
	_, err := env.Faults.Add(faults.Rule{Op: "UpdateItem", Kind: faults.Throttle, Probability: 1})
	awstest.Must(t, err)
	unwritten, err := s.AddRateCounts(ctx, w.ID, counts)
	if err == nil || len(unwritten) != 3 {
		t.Errorf("all refused: %v, unwritten %v; want an error and all three", err, unwritten)
	}
	if n := env.Faults.Count("UpdateItem", faults.Throttle); n != 1 {
		t.Errorf("%d attempts; want one (no retry)", n)
	}
	env.Faults.Reset()
	got, err := s.WebhookCounted(ctx, w.ID, block-lead.RateWindowSeconds)
	awstest.Must(t, err)
	if len(got.Counted) != 0 || got.Version != 1 {
		t.Errorf("after refused writes: counts %v, version %d; want none, 1", got.Counted, got.Version)
	}
	unwritten, err = s.AddRateCounts(ctx, w.ID, counts)
	awstest.Must(t, err)
	got, err = s.WebhookCounted(ctx, w.ID, block-lead.RateWindowSeconds)
	awstest.Must(t, err)
	if m := counted(got); len(unwritten) != 0 || m[block-1] != 4 || m[block] != 1 || m[block+1] != 2 {
		t.Errorf("counts %v; want 4, 1, 2 in their seconds", m)
	}
}
