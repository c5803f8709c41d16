package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
)

// TestEmptyListThenACancelledTransactionLeavesTheTableReadable: an entry with an empty list,
// then a repeat of its request (whose transaction the idempotency record's condition
// cancels) and a refused request kept for the operator: the entries, the schema and the
// rejected list all read back, on either engine.
func TestEmptyListThenACancelledTransactionLeavesTheTableReadable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	withKey := func(body, key string) (int, string) {
		r := f.post(body, f.token)
		r.Headers["idempotency-key"] = key
		resp, _ := f.do(t, r)
		return resp.StatusCode, resp.Body
	}
	const body = `{"data":{"tags":[],"name":"Ada"}}`
	status, first := withKey(body, "order-1")
	if status != http.StatusCreated {
		t.Fatalf("first POST: %d %s", status, first)
	}
	if status, again := withKey(body, "order-1"); status != http.StatusCreated || again != first {
		t.Fatalf("repeat: %d %s; want the first answer %s", status, again, first)
	}
	if resp, _ := f.do(t, f.post(`{"data":{"name":1}}`, f.token)); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("type mismatch: %d %s; want 400", resp.StatusCode, resp.Body)
	}
	es := f.entries(t)
	if len(es) != 1 {
		t.Fatalf("%d entries; want 1", len(es))
	}
	if tags, ok := es[0].Data["tags"].([]string); !ok || len(tags) != 0 {
		t.Errorf("stored tags = %#v; want an empty list", es[0].Data["tags"])
	}
	if s := f.schema(t); s["tags"] != "string[]" || s["name"] != "string" {
		t.Errorf("schema = %v; want tags string[], name string", s)
	}
	page, err := dynamo.New(f.env.DB, f.env.App.TableName).ListRejected(ctx, f.webhookID, 10, "", time.Now())
	awstest.Must(t, err)
	if len(page.Rejected) != 1 {
		t.Errorf("%d rejected requests listed; want the type mismatch", len(page.Rejected))
	}
}
