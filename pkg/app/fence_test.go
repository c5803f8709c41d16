package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
)

func TestLateWriteBehindA5xxIsFencedAndTheIdempotencyKeyStaysFree(t *testing.T) {
	// Every TransactWriteItems of an idempotent POST is answered 500 and applied 2 s later:
	// the store gives up and fences the entry's key, so the request's 5xx stays true when
	// the late writes land (they are refused), no event is published, and the sender's
	// retry with the same Idempotency-Key gets a new entry, published once; a third POST
	// with the key replays it.
	f := newFixture(t)
	relay := f.relayed(t)
	keyed := func() apigw.Request {
		r := f.post(`{"data":{"email":"late@b.co"}}`, f.token)
		r.Headers["idempotency-key"] = "order-late-1"
		return r
	}
	id, err := f.env.Faults.Add(faults.Rule{Op: "TransactWriteItems", Kind: faults.Late, Probability: 1, Latency: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := f.do(t, keyed())
	f.env.Faults.Remove(id)
	if resp.StatusCode < 500 {
		t.Fatalf("POST with every write late = %d %s; want a 5xx", resp.StatusCode, resp.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	late, err := f.env.Faults.WaitLate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range late {
		if r.Status == http.StatusOK {
			t.Errorf("a late write was applied after the %d: %+v", resp.StatusCode, r)
		}
	}
	if len(late) == 0 {
		t.Fatalf("no write was held late")
	}
	if es := f.entries(t); len(es) != 0 {
		t.Fatalf("%d entries stored behind the %d; want none", len(es), resp.StatusCode)
	}

	retry, _ := f.do(t, keyed())
	if retry.StatusCode != http.StatusCreated {
		t.Fatalf("retry with the same Idempotency-Key = %d %s; want 201", retry.StatusCode, retry.Body)
	}
	var created struct{ ID string }
	if err := json.Unmarshal([]byte(retry.Body), &created); err != nil || created.ID == "" {
		t.Fatalf("201 body %s has no id", retry.Body)
	}
	again, _ := f.do(t, keyed())
	var replayed struct{ ID string }
	_ = json.Unmarshal([]byte(again.Body), &replayed)
	if again.StatusCode != http.StatusCreated || replayed.ID != created.ID {
		t.Errorf("third POST with the key = %d %s; want the retry's entry %s replayed", again.StatusCode, again.Body, created.ID)
	}
	waitRelay(t, relay)
	es := f.entries(t)
	if len(es) != 1 || es[0].ID != created.ID {
		t.Errorf("entries stored = %d; want only the retry's %s", len(es), created.ID)
	}
	evs := f.env.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events published; want exactly 1 (the retry's entry)", len(evs))
	}
	var ev struct {
		Entry struct{ ID string } `json:"entry"`
	}
	if err := json.Unmarshal(evs[0].Detail, &ev); err != nil || ev.Entry.ID != created.ID {
		t.Errorf("event for entry %q; want %s", ev.Entry.ID, created.ID)
	}
}
