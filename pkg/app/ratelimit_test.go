package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// emfDocs are the EMF documents a handler wrote to buf so far.
func emfDocs(t *testing.T, buf *testsupport.SyncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("EMF line %q: %v", sc.Text(), err)
		}
		out = append(out, d)
	}
	return out
}

// rateHandler builds an ingest handler on the fixture's environment with the given rate
// defaults, writing its EMF documents to the returned buffer.
func rateHandler(t *testing.T, f *fixture, limit, burst int) (func(context.Context, apigw.Request) (apigw.Response, error), *testsupport.SyncBuffer) {
	t.Helper()
	env := f.env.App
	env.RateLimitDefault, env.RateBurstDefault = strconv.Itoa(limit), strconv.Itoa(burst)
	buf := &testsupport.SyncBuffer{}
	env.MetricsWriter = buf
	return awstest.Build(t, app.Ingest, f.env.Config.Copy(), env), buf
}

// TestIngestOverTheRateLimitIs429 floods a webhook (limit 1/s, burst 3) through the real
// handler on the embedded engine: an unauthenticated flood and CORS preflights first, which
// never touch the budget (401s stay 401s), then valid requests until the first 429, which carries
// Retry-After, the error body of the project, stores and keeps nothing and is counted per
// webhook.
func TestIngestOverTheRateLimitIs429(t *testing.T) {
	f := newFixture(t)
	h, emf := rateHandler(t, f, 1, 3)
	ctx := context.Background()
	wrong, err := lead.NewToken()
	awstest.Must(t, err)
	for i := 0; i < 10; i++ {
		resp, _ := h(ctx, f.post(`{"data":{"email":"a@b.co"}}`, wrong))
		if resp.StatusCode != 401 {
			t.Fatalf("unauthenticated request %d: status %d; want 401", i, resp.StatusCode)
		}
	}
	// Nor does a CORS preflight, whatever it answers.
	for i := 0; i < 10; i++ {
		req := f.post("", "")
		req.RequestContext.HTTP.Method = "OPTIONS"
		req.Headers["origin"] = "https://example.com"
		if _, err := h(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	created := 0
	var throttled apigw.Response
	for i := 0; i < 20 && throttled.StatusCode == 0; i++ {
		// A dry run counts like any request (it costs the same).
		req := f.post(`{"data":{"email":"a@b.co"}}`, f.token)
		if i == 0 {
			req.QueryStringParameters = map[string]string{"dryRun": "true"}
		}
		resp, err := h(ctx, req)
		awstest.Must(t, err)
		switch resp.StatusCode {
		case 200, 201:
			created++
		case 429:
			throttled = resp
		default:
			t.Fatalf("request %d: status %d %s", i, resp.StatusCode, resp.Body)
		}
	}
	elapsed := time.Since(start)
	if throttled.StatusCode != 429 {
		t.Fatalf("no 429 after %d admitted requests", created)
	}
	// The burst, plus one per second boundary crossed meanwhile.
	if most := 3 + int(elapsed/time.Second) + 1; created < 3 || created > most {
		t.Errorf("%d requests admitted before the 429 in %v; want 3 to %d", created, elapsed, most)
	}
	ra, err := strconv.Atoi(throttled.Headers["Retry-After"])
	if err != nil || ra < 1 {
		t.Errorf("Retry-After = %q; want whole seconds, at least 1", throttled.Headers["Retry-After"])
	}
	var body map[string]any
	awstest.Must(t, json.Unmarshal([]byte(throttled.Body), &body))
	if body["error"] != "Too many requests" || body["requestId"] == nil || body["rejectedId"] != nil {
		t.Errorf("429 body = %s; want error Too many requests, a requestId, no rejectedId", throttled.Body)
	}
	if ct := throttled.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("429 Content-Type = %q", ct)
	}
	if n := len(f.entries(t)); n != created-1 {
		t.Errorf("%d entries stored; want %d (the admitted ones but the dry run)", n, created-1)
	}
	page, err := dynamo.New(f.env.DB, f.env.App.TableName).ListRejected(ctx, f.webhookID, 10, "", time.Now())
	awstest.Must(t, err)
	if len(page.Rejected) != 0 {
		t.Errorf("%d rejected requests kept; a 429 keeps nothing", len(page.Rejected))
	}
	var perWebhook, outcome int
	for _, d := range emfDocs(t, emf) {
		if d[apigw.MetricThrottled] != nil && d[apigw.DimensionWebhook] == f.webhookID {
			perWebhook++
		}
		if d[apigw.DimensionOutcome] == string(lead.ETHROTTLED) {
			outcome++
		}
		if d[apigw.MetricThrottled] != nil && d[apigw.DimensionWebhook] != f.webhookID {
			t.Errorf("Throttled emitted for another webhook: %v", d)
		}
	}
	if perWebhook != 1 || outcome != 1 {
		t.Errorf("Throttled documents for the webhook = %d, outcome throttled = %d; want 1 and 1", perWebhook, outcome)
	}
}

func updateReq(id, body string) apigw.Request {
	return adminRequest("PATCH", "PATCH /admin/ingress_webhooks/{id}", id, body, nil)
}

// TestAdminRateSettings: rateLimit and rateBurst are set in create and update, validated
// with 400s naming the field, shown in the create, update and list answers (the defaults
// for a webhook without them), and the ingest path honours a webhook's own limit.
func TestAdminRateSettings(t *testing.T) {
	a := newAdmin(t)
	update := awstest.Build(t, app.UpdateWebhook, a.env.Config, a.env.App)
	ingestH := awstest.Build(t, app.Ingest, a.env.Config.Copy(), a.env.App)
	create := func(extra string) string {
		return fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":"n"%s}`, a.orgID, a.poolID, extra)
	}
	for _, tc := range []struct {
		name, req string
		h         apigw.Handler
		detail    string
	}{
		{"limit zero", create(`,"rateLimit":0`), a.create, "rateLimit"},
		{"limit too high", create(`,"rateLimit":1001`), a.create, "rateLimit"},
		{"limit fractional", create(`,"rateLimit":2.5`), a.create, "rateLimit"},
		{"limit a string", create(`,"rateLimit":"5"`), a.create, "rateLimit"},
		{"burst below the limit", create(`,"rateLimit":10,"rateBurst":9`), a.create, "rateBurst"},
		{"burst past ten times the limit", create(`,"rateLimit":10,"rateBurst":101`), a.create, "rateBurst"},
		{"burst below the default limit", create(`,"rateBurst":999`), a.create, "rateBurst"},
		{"update: burst without its limit", `{"rateBurst":50}`, update, "rateBurst"},
		{"update: limit negative", `{"rateLimit":-3}`, update, "rateLimit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := createReq(tc.req)
			if tc.h == nil || tc.detail == "" {
				t.Fatal("bad case")
			}
			if strings.HasPrefix(tc.name, "update") {
				req = updateReq(a.webhookID, tc.req)
			}
			resp, body := call(t, tc.h, req)
			if resp.StatusCode != 400 || !strings.Contains(resp.Body, `"path":"`+tc.detail+`"`) {
				t.Errorf("status %d %s; want 400 naming %s", resp.StatusCode, resp.Body, tc.detail)
			}
			_ = body
		})
	}
	// Created with its own limit: shown, and enforced on ingest (the environment's
	// defaults are far higher).
	resp, body := call(t, a.create, createReq(create(`,"rateLimit":1,"rateBurst":2`)))
	if resp.StatusCode != 201 || body["rateLimit"] != 1.0 || body["rateBurst"] != 2.0 {
		t.Fatalf("create: %d %s; want 201 with rateLimit 1, rateBurst 2", resp.StatusCode, resp.Body)
	}
	id, token := body["id"].(string), body["token"].(string)
	statuses := []int{ingest(t, ingestH, id, token), ingest(t, ingestH, id, token), ingest(t, ingestH, id, token)}
	if statuses[2] != 429 && statuses[1] != 429 {
		// Two fit the burst; a third in the same second, or the window, does not.
		t.Errorf("statuses %v; want a 429 within three quick requests at 1/s burst 2", statuses)
	}
	// The fixture's webhook has no setting: the list shows the defaults.
	_, page := call(t, a.list, listReq(map[string]string{"organizationId": a.orgID}))
	for _, w := range page["webhooks"].([]any) {
		m := w.(map[string]any)
		if m["id"] == a.webhookID && (m["rateLimit"] != 1000.0 || m["rateBurst"] != 10000.0) {
			t.Errorf("list shows %v/%v for a webhook without settings; want the defaults 1000/10000", m["rateLimit"], m["rateBurst"])
		}
		if m["id"] == id && (m["rateLimit"] != 1.0 || m["rateBurst"] != 2.0) {
			t.Errorf("list shows %v/%v; want 1/2", m["rateLimit"], m["rateBurst"])
		}
	}
	// Update: a limit alone resets the burst to twice it; null resets to the defaults.
	resp, body = call(t, update, updateReq(id, `{"rateLimit":50}`))
	if resp.StatusCode != 200 || body["rateLimit"] != 50.0 || body["rateBurst"] != 100.0 {
		t.Errorf("update: %d %s; want rateLimit 50, rateBurst 100", resp.StatusCode, resp.Body)
	}
	resp, body = call(t, update, updateReq(id, `{"rateLimit":null}`))
	if resp.StatusCode != 200 || body["rateLimit"] != 1000.0 || body["rateBurst"] != 10000.0 {
		t.Errorf("update to null: %d %s; want the defaults", resp.StatusCode, resp.Body)
	}
	w, err := dynamo.New(a.env.DB, a.env.App.TableName).Webhook(context.Background(), id)
	awstest.Must(t, err)
	if w.RateLimit != 0 || w.RateBurst != 0 || w.Version != 3 {
		t.Errorf("stored %d/%d version %d; want none stored (the defaults), version 3", w.RateLimit, w.RateBurst, w.Version)
	}
}

// TestIngestCounterFlushFaultsChangeNothingElse: the counter writes fail (throttled,
// server errors, slow past their bound) on every try: every request still gets its
// answer (201 within the burst, then 429), in time, the entries are stored, the webhook
// is untouched, and the counts held locally still judge.
func TestIngestCounterFlushFaultsChangeNothingElse(t *testing.T) {
	for _, kind := range []faults.Kind{faults.Throttle, faults.Error, faults.Slow, faults.Lost} {
		t.Run(string(kind), func(t *testing.T) {
			f := newFixture(t)
			h, _ := rateHandler(t, f, 2, 4)
			f.env.Faults.Add(faults.Rule{Op: "UpdateItem", Kind: kind, Probability: 1, Latency: 3 * time.Second})
			var statuses []int
			for range 5 {
				start := time.Now()
				resp, err := h(context.Background(), f.post(`{"data":{"email":"a@b.co"}}`, f.token))
				awstest.Must(t, err)
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("answered after %v; a counter write must not hold a request past its bound", took)
				}
				statuses = append(statuses, resp.StatusCode)
			}
			if n := f.env.Faults.Count("UpdateItem", kind); n == 0 {
				t.Errorf("no counter write was tried")
			}
			f.env.Faults.Reset()
			created := 0
			for _, s := range statuses {
				if s == 201 {
					created++
				} else if s != 429 {
					t.Errorf("status %d; want 201 or 429", s)
				}
			}
			if created < 4 || created > 5 || statuses[0] != 201 {
				t.Errorf("statuses %v; want the burst of 4 created (a 5th only past a second boundary)", statuses)
			}
			if n := len(f.entries(t)); n != created {
				t.Errorf("%d entries for %d created", n, created)
			}
			w, err := dynamo.New(f.env.DB, f.env.App.TableName).Webhook(context.Background(), f.webhookID)
			awstest.Must(t, err)
			if w.Version != 1 {
				t.Errorf("webhook at version %d; the counter never touches it", w.Version)
			}
		})
	}
}

// TestVendorSourcesOverTheLimitGet429: a vendor source's webhook over its limit answers
// its vendor 429 with Retry-After too (the vendors that retry a failed delivery send it
// again later, and its delivery id keeps it one lead), keeping nothing.
func TestVendorSourcesOverTheLimitGet429(t *testing.T) {
	v := newVendorHooks(t)
	for _, source := range []string{"google-ads", "typeform", "tally", "webflow", "standard-webhooks", "jotform", "unbounce"} {
		t.Run(source, func(t *testing.T) {
			h := v.hook(t, source)
			if resp, _ := call(t, v.update, updateReq(h.webhookID, `{"rateLimit":1,"rateBurst":1}`)); resp.StatusCode != 200 {
				t.Fatalf("update: %d %s", resp.StatusCode, resp.Body)
			}
			raw, ct := fixtureFor(t, source, h.token)
			var throttled []apigw.Response
			for range 3 {
				if resp := v.send(t, h, raw, ct, time.Now()); resp.StatusCode == 429 {
					throttled = append(throttled, resp)
				} else if resp.StatusCode >= 300 {
					t.Fatalf("status %d %s", resp.StatusCode, resp.Body)
				}
			}
			// Three sends at 1/s: at most one second boundary falls between them.
			if len(throttled) == 0 {
				t.Fatalf("no 429 in three quick deliveries at 1/s")
			}
			if ra := throttled[0].Headers["Retry-After"]; ra == "" || !strings.Contains(throttled[0].Body, `"Too many requests"`) {
				t.Errorf("429 %v %s; want Retry-After and Too many requests", throttled[0].Headers, throttled[0].Body)
			}
			if n := v.keptCount(t, h.webhookID); n != 0 {
				t.Errorf("%d kept; a 429 keeps nothing", n)
			}
		})
	}
}

// TestIngestInstancesShareTheLimit runs three ingest handlers (three Lambda instances) on
// one table: a noisy webhook sent round-robin as fast as they answer, far over its limit,
// and quiet webhooks at a few requests each. The noisy one is held near its limit across
// the instances (within the documented bound), the quiet ones are never refused and cost
// no counter write, and the counter writes stay at most one per instance and second.
func TestIngestInstancesShareTheLimit(t *testing.T) {
	const instances, limit, burst = 3, 10, 20
	f := newFixture(t)
	hs := make([]func(context.Context, apigw.Request) (apigw.Response, error), instances)
	bufs := make([]*testsupport.SyncBuffer, instances)
	for i := range hs {
		hs[i], bufs[i] = rateHandler(t, f, limit, burst)
	}
	quiet := make([]*fixture, 3)
	for i := range quiet {
		quiet[i] = newFixtureOn(t, f.env, nil)
	}
	start := time.Now()
	noisyCreated, requests, n := 0, 0, 0
	quietSent := make([]int, len(quiet))
	for time.Since(start) < 2500*time.Millisecond {
		resp, err := hs[n%instances](context.Background(), f.post(`{"data":{"email":"a@b.co"}}`, f.token))
		awstest.Must(t, err)
		requests++
		switch resp.StatusCode {
		case 201:
			noisyCreated++
		case 429:
		default:
			t.Fatalf("noisy: %d %s", resp.StatusCode, resp.Body)
		}
		// Each quiet webhook: one request a second, on the instances in turn.
		if q := quiet[n%len(quiet)]; time.Since(start) >= time.Duration(quietSent[n%len(quiet)])*time.Second {
			resp, err := hs[(n+quietSent[n%len(quiet)])%instances](context.Background(), q.post(`{"data":{"email":"q@b.co"}}`, q.token))
			awstest.Must(t, err)
			requests++
			quietSent[n%len(quiet)]++
			if resp.StatusCode != 201 {
				t.Errorf("quiet webhook answered %d %s", resp.StatusCode, resp.Body)
			}
		}
		n++
	}
	elapsed := time.Since(start)
	seconds := int(elapsed/time.Second) + 1 // the whole seconds the run touched
	flushes, quietFlushes := 0, 0
	for _, b := range bufs {
		for _, d := range emfDocs(t, b) {
			if v, ok := d[apigw.MetricRateFlushes].(float64); ok {
				flushes += int(v)
				if d["webhookId"] != f.webhookID {
					quietFlushes += int(v)
				}
			}
		}
	}
	// The bound: what the window rule allows over the run, plus for each other instance
	// what it may hold unflushed (here at most a burst).
	bound := burst + limit*seconds + (instances-1)*burst
	t.Logf("noisy: %d created of %d sent in %v (limit %d/s, burst %d; bound %d); counter writes %d for %d requests = %.3f a request",
		noisyCreated, n, elapsed.Round(time.Millisecond), limit, burst, bound, flushes, requests, float64(flushes)/float64(requests))
	if noisyCreated > bound {
		t.Errorf("noisy webhook got %d in %v; want at most the bound %d", noisyCreated, elapsed, bound)
	}
	if noisyCreated < limit {
		t.Errorf("noisy webhook got %d in %v; want at least its limit's worth", noisyCreated, elapsed)
	}
	if flushes == 0 {
		// A refused request flushes its instance's counts: the flood must have cost some.
		t.Errorf("no counter write counted in the request lines; want the flooded webhook's")
	}
	if quietFlushes != 0 {
		t.Errorf("%d counter writes for quiet webhooks; want none", quietFlushes)
	}
	// One flush per instance and second touched (at most seconds+1 of them), and one more
	// write per instance for a flush spanning a 10-second block (at most one boundary).
	if most := instances*(seconds+1) + instances; flushes > most {
		t.Errorf("%d counter writes; want at most one flush per instance and second (%d)", flushes, most)
	}
}
