package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
)

// TestCLIRateLimitsAndPacedReplay: webhook create and set take --rate-limit and
// --rate-burst and show them, the list shows them, and rejected replay --all sends at
// most the webhook's rateLimit a second, its progress line saying so.
func TestCLIRateLimitsAndPacedReplay(t *testing.T) {
	c := newCLI(t)
	org := uuid.NewString()
	var created struct {
		Pool struct{ ID string } `json:"pool"`
	}
	c.mustJSON(&created, "pool", "create", "--org", org, "--name", "Inbound")
	var hook struct {
		ID, Token            string
		RateLimit, RateBurst int
	}
	c.mustJSON(&hook, "webhook", "create", "--org", org, "--pool", created.Pool.ID, "--name", "Loop", "--rate-limit", "3", "--rate-burst", "30")
	if hook.RateLimit != 3 || hook.RateBurst != 30 {
		t.Fatalf("create --rate-limit 3 --rate-burst 30 = %d/%d", hook.RateLimit, hook.RateBurst)
	}
	if _, err := c.run("webhook", "set", "--id", hook.ID, "--rate-limit", "fast"); err == nil {
		t.Errorf("--rate-limit fast accepted")
	}
	if _, err := c.run("webhook", "set", "--id", hook.ID, "--rate-burst", "2"); err == nil {
		t.Errorf("--rate-burst alone in a set accepted; it needs its limit")
	}
	var page struct {
		Webhooks []struct {
			ID                   string
			RateLimit, RateBurst int
		}
	}
	c.mustJSON(&page, "webhook", "list", "--org", org)
	if len(page.Webhooks) != 1 || page.Webhooks[0].RateLimit != 3 {
		t.Errorf("webhook list = %+v; want the webhook at 3/s", page)
	}
	// Four refused requests, kept; the schema then takes them.
	post := func(body string) int {
		return c.ingestRequest(apigw.Request{PathParameters: map[string]string{"id": hook.ID}, Body: body,
			Headers: map[string]string{apigw.TokenHeader: hook.Token, "content-type": "application/json"}})
	}
	if code := post(`{"data":{"age":"36"}}`); code != http.StatusCreated {
		t.Fatalf("first POST = %d", code)
	}
	for _, body := range []string{`{"data":{"age":41}}`, `{"data":{"age":42}}`, `{"data":{"age":43}}`, `{"data":{"age":44}}`} {
		if code := post(body); code != http.StatusBadRequest {
			t.Fatalf("POST %s = %d; want 400", body, code)
		}
	}
	c.mustJSON(nil, "schema", "set", "--pool", created.Pool.ID, "--keys", "age=number")
	var progress bytes.Buffer
	saved := progressOut
	progressOut = &progress
	defer func() { progressOut = saved }()
	var sum struct{ Replayed int }
	start := time.Now()
	c.mustJSON(&sum, "rejected", "replay", "--webhook", hook.ID, "--all")
	took := time.Since(start)
	if sum.Replayed != 4 {
		t.Errorf("replayed %d; want 4", sum.Replayed)
	}
	// Four at 3 a second: the last starts a second after the first.
	if took < time.Second {
		t.Errorf("4 replays took %v; at 3/s they take at least 1 s", took)
	}
	if !strings.Contains(progress.String(), "at 3/s") {
		t.Errorf("progress line %q does not show the pace", progress.String())
	}
	// Back to the default limit: --rate lowers the pace, never raises it past the limit.
	c.mustJSON(nil, "webhook", "set", "--id", hook.ID, "--rate-limit", "default")
	if code := post(`{"data":{"age":"many"}}`); code != http.StatusBadRequest {
		t.Fatalf("POST of a bad number = %d; want 400", code)
	}
	for _, tc := range []struct{ rate, want string }{{"500", "at 20/s"}, {"2", "at 2/s"}} {
		progress.Reset()
		c.mustJSON(&sum, "rejected", "replay", "--webhook", hook.ID, "--all", "--rate", tc.rate)
		if !strings.Contains(progress.String(), tc.want) {
			t.Errorf("--rate %s: progress line %q; want %q", tc.rate, progress.String(), tc.want)
		}
	}
}
