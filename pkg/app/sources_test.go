package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/vendors"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// lockedLog is a log destination the handlers of a test write to, read by the test.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// vendorHooks is one environment with the handlers a vendor's webhook uses, all logging
// to one buffer: ingest, create, update, list, signing secret, rejected list.
type vendorHooks struct {
	env                                        *awstest.Env
	logs                                       *lockedLog
	ingest, create, update, list, secret, kept apigw.Handler
}

func newVendorHooks(t *testing.T) *vendorHooks {
	t.Helper()
	v := &vendorHooks{env: awstest.Start(t), logs: &lockedLog{}}
	logger := slog.New(slog.NewJSONHandler(v.logs, nil))
	env := v.env.App
	env.MetricsWriter = v.logs // the request lines too
	for _, b := range []struct {
		h     *apigw.Handler
		build app.Builder[apigw.Handler]
	}{{&v.ingest, app.Ingest}, {&v.create, app.CreateWebhook}, {&v.update, app.UpdateWebhook}, {&v.list, app.ListWebhooks},
		{&v.secret, app.SetSigningSecret}, {&v.kept, app.ListRejected}} {
		var err error
		*b.h, err = b.build(context.Background(), v.env.Config, env, logger)
		awstest.Must(t, err)
	}
	return v
}

// vendorHook is a webhook of a vendor source on a pool of its own.
type vendorHook struct {
	*fixture
	source, secret string
}

// hook creates, through the admin route, a webhook of the source on a fresh pool; signed
// sources get a generated secret, shown in the create answer only.
func (v *vendorHooks) hook(t *testing.T, source string) *vendorHook {
	t.Helper()
	f := newFixtureOn(t, v.env, nil)
	allowQuery := source == "jotform"
	resp, body := call(t, v.create, createReq(fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":"%s leads","source":%q,"allowQueryToken":%v}`,
		f.orgID, f.poolID, source, source, allowQuery)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %s webhook = %d %s", source, resp.StatusCode, resp.Body)
	}
	h := &vendorHook{fixture: f, source: source}
	h.webhookID, h.token = body["id"].(string), body["token"].(string)
	h.secret, _ = body["newSigningSecret"].(string)
	if body["source"] != source {
		t.Errorf("create answer source %v; want %s", body["source"], source)
	}
	return h
}

// fixtureFor returns the source's realistic fixture and its Content-Type.
func fixtureFor(t *testing.T, source, token string) ([]byte, string) {
	t.Helper()
	name, ct := source+".json", "application/json"
	switch source {
	case "jotform":
		b, err := vendors.Fixture("jotform.boundary")
		awstest.Must(t, err)
		name, ct = "jotform.multipart", "multipart/form-data; boundary="+string(b)
	case "unbounce":
		name, ct = "unbounce.urlencoded", "application/x-www-form-urlencoded"
	}
	raw, err := vendors.Fixture(name)
	awstest.Must(t, err)
	return bytes.ReplaceAll(raw, []byte("{{GOOGLE_KEY}}"), []byte(token)), ct
}

// send posts a vendor's request as the vendor sends it: signed for the signed sources,
// the key in the body for Google, ?token= for Jotform, the token header for Unbounce.
func (v *vendorHooks) send(t *testing.T, h *vendorHook, raw []byte, ct string, at time.Time) apigw.Response {
	t.Helper()
	resp, err := v.ingest(context.Background(), v.request(t, h, raw, ct, at))
	awstest.Must(t, err)
	return resp
}

// deliveryID is a Standard Webhooks message id for a body: the same for a redelivery.
func deliveryID(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "msg_" + hex.EncodeToString(sum[:8])
}

func add(dst, src map[string]string) {
	for k, x := range src {
		dst[k] = x
	}
}

// keptCount is how many rejected requests the webhook keeps.
func (v *vendorHooks) keptCount(t *testing.T, webhookID string) int {
	t.Helper()
	_, body := call(t, v.kept, rejectedReq("GET", webhookID, "", "", nil))
	list, _ := body["rejected"].([]any)
	return len(list)
}

// wantSchema are types each fixture locks (a spot check of every kind it has).
var wantSchema = map[string]map[string]string{
	"google-ads":        {"full_name": "string", "email": "string", "how_many_seats_do_you_need": "string", "_google-ads.campaign_id": "number"},
	"typeform":          {"first_name": "string", "seats": "number", "newsletter": "boolean", "interests": "string[]", "start_date": "string", "utm_source": "string", "_typeform.token": "string"},
	"tally":             {"Name": "string", "Seats": "number", "Interests": "string[]", "Interests (CRM)": "boolean", "Plan": "string", "utm_source": "string"},
	"webflow":           {"Name": "string", "Newsletter": "boolean", "Seats": "string", "_webflow.id": "string"},
	"standard-webhooks": {"email": "string", "seats": "number", "newsletter": "boolean", "interests": "string[]"},
	"jotform":           {"fullName": "string", "preferredDate": "string", "interests": "string[]", "_jotform.submission_id": "string"},
	"unbounce":          {"email": "string", "interests": "string[]", "_unbounce.page_id": "string"},
}

// TestEachSourceStoresItsVendorsFixture: each source's realistic fixture, sent the
// vendor's way through the public handler, is stored with the documented keys and types,
// on a fresh pool and on one whose schema was declared first; it is answered with the
// vendor's success status; and a redelivery (re-signed, as vendors retry) stores nothing
// new, except for Unbounce, which sends no delivery id.
func TestEachSourceStoresItsVendorsFixture(t *testing.T) {
	v := newVendorHooks(t)
	relay := v.env.StartRelay(t, entryEvents(t, v.env, nil))
	schemas, err := app.SchemaAdmin(v.env.Config, v.env.App)
	awstest.Must(t, err)
	stored := map[string]string{} // entry id → webhook id
	for _, source := range []string{"google-ads", "typeform", "tally", "webflow", "standard-webhooks", "jotform", "unbounce"} {
		t.Run(source, func(t *testing.T) {
			h := v.hook(t, source)
			raw, ct := fixtureFor(t, source, h.token)
			wantStatus := http.StatusCreated
			if source == "google-ads" || source == "webflow" {
				wantStatus = http.StatusOK
			}
			resp := v.send(t, h, raw, ct, time.Now())
			if resp.StatusCode != wantStatus {
				t.Fatalf("fixture = %d %s; want %d", resp.StatusCode, resp.Body, wantStatus)
			}
			if source == "google-ads" && resp.Body != "{}" {
				t.Errorf("Google's answer %s; want {}", resp.Body)
			}
			schema := h.schema(t)
			for k, typ := range wantSchema[source] {
				if schema[k] != typ {
					t.Errorf("schema[%q] = %q; want %q", k, schema[k], typ)
				}
			}
			es := h.entries(t)
			if len(es) != 1 {
				t.Fatalf("%d entries; want 1", len(es))
			}
			stored[es[0].ID] = h.webhookID
			for k, val := range es[0].Data {
				if s, ok := val.(string); ok && s == h.token {
					t.Errorf("entry key %q holds the token", k)
				}
			}
			again := v.send(t, h, raw, ct, time.Now())
			want := 1
			if source == "unbounce" {
				want = 2 // no delivery id: every POST is a lead
			}
			if again.StatusCode != wantStatus || len(h.entries(t)) != want {
				t.Errorf("redelivery = %d, %d entries; want %d, %d", again.StatusCode, len(h.entries(t)), wantStatus, want)
			}

			// A pool whose schema was declared first, with the types the fixture gives.
			declared := v.hook(t, source)
			_, err := schemas.Patch(context.Background(), lead.SchemaPatch{PoolID: declared.poolID, Set: toSchema(schema)})
			awstest.Must(t, err)
			raw, ct = fixtureFor(t, source, declared.token)
			if resp := v.send(t, declared, raw, ct, time.Now()); resp.StatusCode != wantStatus || len(declared.entries(t)) != 1 {
				t.Errorf("on a declared schema = %d %s, %d entries; want %d, 1", resp.StatusCode, resp.Body, len(declared.entries(t)), wantStatus)
			}
			for _, e := range h.entries(t)[1:] {
				stored[e.ID] = h.webhookID // Unbounce's second lead
			}
			for _, e := range declared.entries(t) {
				stored[e.ID] = declared.webhookID
			}
		})
	}
	// One table.entry.added per stored entry, triggered by its webhook.
	waitRelay(t, relay)
	seen := map[string]int{}
	for _, ev := range v.env.Events() {
		var d struct {
			Entry   struct{ ID string }
			Trigger struct{ Type, ID string }
		}
		awstest.Must(t, json.Unmarshal(ev.Detail, &d))
		seen[d.Entry.ID]++
		if want, ok := stored[d.Entry.ID]; !ok || d.Trigger.ID != want || d.Trigger.Type != "ingress_webhook" {
			t.Errorf("event %s: trigger %+v; want ingress_webhook %s", d.Entry.ID, d.Trigger, want)
		}
	}
	for id := range stored {
		if seen[id] != 1 {
			t.Errorf("entry %s has %d events; want 1", id, seen[id])
		}
	}
}

func toSchema(m map[string]string) lead.Schema {
	s := lead.Schema{}
	for k, t := range m {
		s[k] = lead.FieldType(t)
	}
	return s
}

// TestVendorAuthenticationFailuresKeepNothing: a wrong or stale signature, a missing
// signature header, a wrong Google key, and a token-less Jotform or Unbounce request are
// each a 401 that stores and keeps nothing.
func TestVendorAuthenticationFailuresKeepNothing(t *testing.T) {
	v := newVendorHooks(t)
	for _, source := range []string{"google-ads", "typeform", "tally", "webflow", "standard-webhooks", "jotform", "unbounce"} {
		t.Run(source, func(t *testing.T) {
			h := v.hook(t, source)
			raw, ct := fixtureFor(t, source, h.token)
			type attempt struct {
				name   string
				mutate func(req *apigw.Request)
			}
			sign := func(secret string, at time.Time) func(req *apigw.Request) {
				return func(req *apigw.Request) {
					hh := *h
					hh.secret = secret
					signedReq := v.request(t, &hh, raw, ct, at)
					*req = signedReq
				}
			}
			var attempts []attempt
			switch source {
			case "google-ads":
				wrong := bytes.Replace(raw, []byte(h.token), []byte(strings.Repeat("0", 64)), 1)
				attempts = append(attempts, attempt{"wrong key", func(req *apigw.Request) { req.Body = string(wrong) }})
			case "jotform", "unbounce":
				attempts = append(attempts, attempt{"no token", func(req *apigw.Request) {
					req.QueryStringParameters = nil
					delete(req.Headers, apigw.TokenHeader)
				}})
			default:
				other := "whsec_" + "c2VjcmV0LW9mLWFub3RoZXItd2ViaG9vaw=="
				attempts = append(attempts,
					attempt{"wrong secret", sign(other, time.Now())},
					attempt{"missing signature header", func(req *apigw.Request) {
						for k := range req.Headers {
							if strings.Contains(strings.ToLower(k), "signature") {
								delete(req.Headers, k)
							}
						}
					}},
					attempt{"a changed byte", func(req *apigw.Request) { req.Body = strings.Replace(req.Body, "Ada", "Adb", 1) }})
				if source == "webflow" || source == "standard-webhooks" {
					attempts = append(attempts, attempt{"stale timestamp", sign(h.secret, time.Now().Add(-10*time.Minute))})
				}
			}
			for _, a := range attempts {
				req := v.request(t, h, raw, ct, time.Now())
				a.mutate(&req)
				resp, err := v.ingest(context.Background(), req)
				awstest.Must(t, err)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s = %d %s; want 401", a.name, resp.StatusCode, resp.Body)
				}
				if source != "jotform" && source != "unbounce" && !strings.Contains(resp.Body, `"Invalid webhook signature"`) {
					t.Errorf("%s answered %s; want Invalid webhook signature", a.name, resp.Body)
				}
			}
			if n := len(h.entries(t)); n != 0 {
				t.Errorf("%d entries after refused requests; want 0", n)
			}
			if n := v.keptCount(t, h.webhookID); n != 0 {
				t.Errorf("%d kept requests after 401s; want 0", n)
			}
			if len(h.schema(t)) != 0 {
				t.Errorf("schema %v locked by unauthenticated requests", h.schema(t))
			}
		})
	}
}

// request builds the vendor's request without sending it.
func (v *vendorHooks) request(t *testing.T, h *vendorHook, raw []byte, ct string, at time.Time) apigw.Request {
	t.Helper()
	req := h.post(string(raw), "")
	req.Headers["content-type"] = ct
	switch h.source {
	case "typeform":
		add(req.Headers, vendors.Typeform(h.secret, raw))
	case "tally":
		add(req.Headers, vendors.Tally(h.secret, raw))
	case "webflow":
		add(req.Headers, vendors.Webflow(h.secret, raw, at))
	case "standard-webhooks":
		add(req.Headers, vendors.StandardWebhooks(h.secret, deliveryID(raw), at, raw))
	case "jotform":
		req.QueryStringParameters = map[string]string{"token": h.token}
	case "unbounce":
		req.Headers[apigw.TokenHeader] = h.token
	}
	return req
}

// TestAnotherVendorsBodyIsA400NamingTheSource: a correctly authenticated body of another
// vendor's shape is a 400 that names the source the webhook expects, and is kept.
func TestAnotherVendorsBodyIsA400NamingTheSource(t *testing.T) {
	v := newVendorHooks(t)
	h := v.hook(t, "typeform")
	raw, _ := fixtureFor(t, "tally", "")
	resp := v.send(t, h, raw, "application/json", time.Now())
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, "typeform") || !strings.Contains(resp.Body, "rejectedId") {
		t.Fatalf("a Tally body to a Typeform webhook = %d %s; want a kept 400 naming typeform", resp.StatusCode, resp.Body)
	}
}

// TestGoogleTestDeliveryIsADryRunRemembered: Google's "Send test data" is answered 200 {},
// stores no entry and locks no key, and the webhook shows it as its last test delivery.
func TestGoogleTestDeliveryIsADryRunRemembered(t *testing.T) {
	v := newVendorHooks(t)
	h := v.hook(t, "google-ads")
	raw, err := vendors.Fixture("google-ads-test.json")
	awstest.Must(t, err)
	raw = bytes.ReplaceAll(raw, []byte("{{GOOGLE_KEY}}"), []byte(h.token))
	resp := v.send(t, h, raw, "application/json", time.Now())
	if resp.StatusCode != http.StatusOK || resp.Body != "{}" {
		t.Fatalf("test delivery = %d %s; want 200 {}", resp.StatusCode, resp.Body)
	}
	if n, s := len(h.entries(t)), h.schema(t); n != 0 || len(s) != 0 {
		t.Errorf("test delivery stored %d entries, locked %v; want nothing", n, s)
	}
	if n := v.keptCount(t, h.webhookID); n != 0 {
		t.Errorf("test delivery kept %d requests; want 0", n)
	}
	_, body := call(t, v.list, listReq(map[string]string{"organizationId": h.orgID}))
	var last map[string]any
	hooks, _ := body["webhooks"].([]any)
	for _, w := range hooks {
		if w := w.(map[string]any); w["id"] == h.webhookID {
			last, _ = w["lastTestDelivery"].(map[string]any)
		}
	}
	if last == nil || !strings.HasPrefix(fmt.Sprint(last["result"]), "200") || last["at"] == nil {
		t.Errorf("lastTestDelivery %v; want the test delivery's time and a 200 result", last)
	}
}

// TestSigningSecretsNeverShowAgain: a generated secret is in the create answer only; a
// vendor's secret and a rotated one are in no answer; none is in the logs or in the table
// unsealed, while the secrets authenticate; rotation with grace keeps the previous valid.
func TestSigningSecretsNeverShowAgain(t *testing.T) {
	v := newVendorHooks(t)
	h := v.hook(t, "standard-webhooks")
	if !strings.HasPrefix(h.secret, "whsec_") {
		t.Fatalf("generated secret %q; want whsec_…", h.secret)
	}
	raw, ct := fixtureFor(t, "standard-webhooks", "")
	var answers []string
	record := func(resp apigw.Response) apigw.Response { answers = append(answers, resp.Body); return resp }

	if resp := record(v.send(t, h, raw, ct, time.Now())); resp.StatusCode != http.StatusCreated {
		t.Fatalf("signed delivery = %d %s", resp.StatusCode, resp.Body)
	}
	// Rotation with a grace period: a new generated secret, the old one still valid.
	first := h.secret
	resp, body := call(t, v.secret, adminRequest("PUT", "PUT /admin/ingress_webhooks/{id}/signing-secret", h.webhookID, `{"gracePeriodSeconds":3600}`, nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate secret = %d %s", resp.StatusCode, resp.Body)
	}
	second, _ := body["newSigningSecret"].(string)
	if second == "" || second == first || body["previousSecretExpiresAt"] == nil {
		t.Fatalf("rotation answer %s; want a new secret and the grace end", resp.Body)
	}
	raw2 := bytes.Replace(raw, []byte("Ada"), []byte("Grace"), 1)
	if resp := record(v.send(t, h, raw2, ct, time.Now())); resp.StatusCode != http.StatusCreated {
		t.Errorf("signed with the replaced secret in its grace = %d %s; want 201", resp.StatusCode, resp.Body)
	}
	h.secret = second
	raw3 := bytes.Replace(raw, []byte("Ada"), []byte("Alan"), 1)
	if resp := record(v.send(t, h, raw3, ct, time.Now())); resp.StatusCode != http.StatusCreated {
		t.Errorf("signed with the new secret = %d %s; want 201", resp.StatusCode, resp.Body)
	}
	// A vendor's own secret, without grace: the generated ones stop working.
	const vendorSecret = "whsec_dmVuZG9yLWdlbmVyYXRlZC1zZWNyZXQtMTIzNDU="
	resp, _ = call(t, v.secret, adminRequest("PUT", "PUT /admin/ingress_webhooks/{id}/signing-secret", h.webhookID, `{"signingSecret":"`+vendorSecret+`"}`, nil))
	answers = append(answers, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("vendor secret = %d %s", resp.StatusCode, resp.Body)
	}
	raw4 := bytes.Replace(raw, []byte("Ada"), []byte("Edsger"), 1)
	if resp := v.send(t, h, raw4, ct, time.Now()); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed with a secret replaced without grace = %d; want 401", resp.StatusCode)
	}
	h.secret = vendorSecret
	if resp := record(v.send(t, h, raw4, ct, time.Now())); resp.StatusCode != http.StatusCreated {
		t.Errorf("signed with the vendor's secret = %d %s; want 201", resp.StatusCode, resp.Body)
	}
	resp, _ = call(t, v.list, listReq(map[string]string{"organizationId": h.orgID}))
	answers = append(answers, resp.Body)
	if !strings.Contains(resp.Body, `"signingSecret":{"configured":true`) {
		t.Errorf("listing %s; want signingSecret configured", resp.Body)
	}
	resp, _ = call(t, v.update, adminRequest("PATCH", "PATCH /admin/ingress_webhooks/{id}", h.webhookID, `{"mapping":{"mail":"/data/email"}}`, nil))
	answers = append(answers, resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"mail":"/data/email"`) {
		t.Errorf("update mapping = %d %s", resp.StatusCode, resp.Body)
	}

	secrets := []string{first, second, vendorSecret, strings.TrimPrefix(first, "whsec_"), strings.TrimPrefix(second, "whsec_"), strings.TrimPrefix(vendorSecret, "whsec_")}
	for _, s := range secrets {
		for i, a := range answers {
			if strings.Contains(a, s) {
				t.Errorf("answer %d shows a secret: %s", i, a)
			}
		}
		if strings.Contains(v.logs.String(), s) {
			t.Errorf("the logs show a secret")
		}
	}
	scanForSecrets(t, v.env, secrets)
}

// scanForSecrets reads every item of the table and fails if any attribute holds one of the
// secrets in the clear (as text, or as bytes of a binary attribute).
func scanForSecrets(t *testing.T, env *awstest.Env, secrets []string) {
	t.Helper()
	p := dynamodb.NewScanPaginator(env.DB, &dynamodb.ScanInput{TableName: &env.App.TableName})
	items := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		awstest.Must(t, err)
		for _, item := range out.Items {
			items++
			for name, val := range item {
				for _, s := range secrets {
					if holds(val, s) {
						t.Errorf("item %v attribute %s holds a secret unsealed", item["pk"], name)
					}
				}
			}
		}
	}
	if items == 0 {
		t.Fatalf("the scan found no items")
	}
}

func holds(v types.AttributeValue, s string) bool {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return strings.Contains(x.Value, s)
	case *types.AttributeValueMemberB:
		return bytes.Contains(x.Value, []byte(s))
	case *types.AttributeValueMemberM:
		for _, e := range x.Value {
			if holds(e, s) {
				return true
			}
		}
	case *types.AttributeValueMemberL:
		for _, e := range x.Value {
			if holds(e, s) {
				return true
			}
		}
	}
	return false
}

// TestARefusedDeliveryRetriedIsKeptOnce: a vendor retrying a refused delivery (same
// delivery id) updates the one kept request, counting its deliveries; after a schema fix
// its replay stores the lead once, and a further retry is answered from that entry; a
// discarded kept request is kept afresh on the next retry.
func TestARefusedDeliveryRetriedIsKeptOnce(t *testing.T) {
	v := newVendorHooks(t)
	h := v.hook(t, "typeform")
	schemas, err := app.SchemaAdmin(v.env.Config, v.env.App)
	awstest.Must(t, err)
	_, err = schemas.Patch(context.Background(), lead.SchemaPatch{PoolID: h.poolID, Set: lead.Schema{"seats": lead.TypeBoolean}})
	awstest.Must(t, err)
	raw, ct := fixtureFor(t, "typeform", "")
	var ids []string
	for range 3 {
		resp := v.send(t, h, raw, ct, time.Now())
		var body map[string]any
		awstest.Must(t, json.Unmarshal([]byte(resp.Body), &body))
		id, _ := body["rejectedId"].(string)
		if resp.StatusCode != http.StatusBadRequest || id == "" {
			t.Fatalf("refused delivery = %d %s; want a kept 400", resp.StatusCode, resp.Body)
		}
		ids = append(ids, id)
	}
	if ids[1] != ids[0] || ids[2] != ids[0] {
		t.Errorf("retries named kept requests %v; want one", ids)
	}
	if n := v.keptCount(t, h.webhookID); n != 1 {
		t.Fatalf("%d kept requests after three deliveries; want 1", n)
	}
	r := rejectedOfEnv(t, v)
	_, shown := call(t, r.get, rejectedReq("GET", h.webhookID, ids[0], "", nil))
	if shown["deliveries"] != float64(3) || shown["idempotencyKey"] != "a3a12ec67a1365927098a606107fac15" {
		t.Errorf("kept request shows deliveries %v, key %v; want 3 and the form_response.token", shown["deliveries"], shown["idempotencyKey"])
	}
	if errBody, _ := shown["error"].(map[string]any); errBody["rejectedId"] != ids[0] {
		t.Errorf("recorded error names %v; want the kept request %s", errBody["rejectedId"], ids[0])
	}
	_, err = schemas.Patch(context.Background(), lead.SchemaPatch{PoolID: h.poolID, Unlock: []string{"seats"}})
	awstest.Must(t, err)
	if resp, _ := call(t, r.replay, rejectedReq("POST", h.webhookID, ids[0], "/replay", nil)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("replay = %d %s; want 201", resp.StatusCode, resp.Body)
	}
	if resp := v.send(t, h, raw, ct, time.Now()); resp.StatusCode != http.StatusCreated || resp.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("a retry after the replay = %d %v; want the replayed 201", resp.StatusCode, resp.Headers)
	}
	if n := len(h.entries(t)); n != 1 {
		t.Errorf("%d entries; want 1", n)
	}

	// Discarded, then retried: kept afresh.
	h2 := v.hook(t, "typeform")
	_, err = schemas.Patch(context.Background(), lead.SchemaPatch{PoolID: h2.poolID, Set: lead.Schema{"seats": lead.TypeBoolean}})
	awstest.Must(t, err)
	first := v.send(t, h2, raw, ct, time.Now())
	var fb map[string]any
	awstest.Must(t, json.Unmarshal([]byte(first.Body), &fb))
	if resp, _ := call(t, r.discard, rejectedReq("DELETE", h2.webhookID, fb["rejectedId"].(string), "", nil)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("discard = %d", resp.StatusCode)
	}
	again := v.send(t, h2, raw, ct, time.Now())
	var ab map[string]any
	awstest.Must(t, json.Unmarshal([]byte(again.Body), &ab))
	if again.StatusCode != http.StatusBadRequest || ab["rejectedId"] == nil || ab["rejectedId"] == fb["rejectedId"] {
		t.Errorf("a retry after the discard = %d %s; want kept anew under another id", again.StatusCode, again.Body)
	}
	if n := v.keptCount(t, h2.webhookID); n != 1 {
		t.Errorf("%d kept requests after the discard and a retry; want 1", n)
	}
}

// rejectedOfEnv returns the rejected request handlers on the environment.
func rejectedOfEnv(t *testing.T, v *vendorHooks) *rejected {
	t.Helper()
	r := &rejected{schemaAdmin: &schemaAdmin{fixture: &fixture{env: v.env}}}
	for _, b := range []struct {
		h     *apigw.Handler
		build app.Builder[apigw.Handler]
	}{{&r.list, app.ListRejected}, {&r.get, app.ShowRejected}, {&r.replay, app.ReplayRejected}, {&r.discard, app.DiscardRejected}} {
		*b.h = awstest.Build(t, b.build, v.env.Config, v.env.App)
	}
	return r
}

// TestTypeformNeverGetsA404ForItsWebhook: Typeform disables a webhook that answers 404 or
// 410, so a known Typeform webhook whose pool is gone answers 503 (retry later) instead;
// an unknown id is still a 401 before anything (no signature can be checked).
func TestTypeformNeverGetsA404ForItsWebhook(t *testing.T) {
	v := newVendorHooks(t)
	h := v.hook(t, "typeform")
	_, err := v.env.DB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &v.env.App.TableName,
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TABLE#" + h.poolID}, "sk": &types.AttributeValueMemberS{Value: "TABLE"}}})
	awstest.Must(t, err)
	raw, ct := fixtureFor(t, "typeform", "")
	resp := v.send(t, h, raw, ct, time.Now())
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Retry-After"] == "" {
		t.Errorf("a known Typeform webhook without its pool = %d %v %s; want 503 with Retry-After", resp.StatusCode, resp.Headers, resp.Body)
	}
	gone := *h
	gone.fixture = &fixture{env: h.env, webhookID: "6f1c1f0e-0000-4000-8000-000000000000"}
	gone.secret = h.secret
	resp = v.send(t, &gone, raw, ct, time.Now())
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unknown webhook id = %d %s; want 401", resp.StatusCode, resp.Body)
	}
}
