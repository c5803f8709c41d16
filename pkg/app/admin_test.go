package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// admin is the ingest fixture plus the four management handlers, built by the app builders
// exactly as the functions build them.
type admin struct {
	*fixture
	create, rotate, list, remove apigw.Handler
}

func newAdmin(t testing.TB) *admin {
	t.Helper()
	f := newFixture(t)
	a := &admin{fixture: f}
	for _, b := range []struct {
		h     *apigw.Handler
		build app.Builder[apigw.Handler]
	}{
		{&a.create, app.CreateWebhook}, {&a.rotate, app.RotateWebhook}, {&a.list, app.ListWebhooks}, {&a.remove, app.DeleteWebhook},
	} {
		*b.h = awstest.Build(t, b.build, f.env.Config, f.env.App)
	}
	return a
}

// adminRequest builds the API Gateway v2 event of a management call as it arrives on the
// default stage of an execute-api domain.
func adminRequest(method, routeKey, id, body string, query map[string]string) apigw.Request {
	path := strings.Replace(strings.TrimPrefix(routeKey, method+" "), "{id}", id, 1)
	req := apigw.Request{
		RouteKey:              routeKey,
		RawPath:               path,
		Headers:               map[string]string{"content-type": "application/json", "x-forwarded-proto": "https"},
		QueryStringParameters: query,
		Body:                  body,
	}
	if id != "" {
		req.PathParameters = map[string]string{"id": id}
	}
	req.RequestContext.RequestID = "req-" + uuid.NewString()
	req.RequestContext.DomainName = "abc123.execute-api.us-east-1.amazonaws.com"
	req.RequestContext.Stage = "$default"
	req.RequestContext.HTTP.Method = method
	return req
}

func createReq(body string) apigw.Request {
	return adminRequest("POST", "POST /admin/ingress_webhooks", "", body, nil)
}

func rotateReq(id, body string) apigw.Request {
	return adminRequest("POST", "POST /admin/ingress_webhooks/{id}/rotate", id, body, nil)
}

func listReq(query map[string]string) apigw.Request {
	return adminRequest("GET", "GET /admin/ingress_webhooks", "", "", query)
}

func deleteReq(id string) apigw.Request {
	return adminRequest("DELETE", "DELETE /admin/ingress_webhooks/{id}", id, "", nil)
}

// call invokes h and decodes a JSON body; a non-nil handler error is a test failure.
func call(t testing.TB, h apigw.Handler, req apigw.Request) (apigw.Response, map[string]any) {
	t.Helper()
	resp, err := h(context.Background(), req)
	if err != nil {
		t.Fatalf("handler returned error %v; expected failures must be responses", err)
	}
	if resp.StatusCode == http.StatusNoContent {
		if resp.Body != "" {
			t.Errorf("204 with body %q; want none", resp.Body)
		}
		return resp, nil
	}
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("Content-Type = %q; want application/json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("response body %q is not JSON: %v", resp.Body, err)
	}
	return resp, body
}

// ingest POSTs a lead to webhook id with token through h and returns the status.
func ingest(t testing.TB, h apigw.Handler, id, token string) int {
	t.Helper()
	req := apigw.Request{
		RouteKey:       "POST /public/ingress_webhooks/{id}",
		RawPath:        "/public/ingress_webhooks/" + id,
		Headers:        map[string]string{"content-type": "application/json", apigw.TokenHeader: token},
		PathParameters: map[string]string{"id": id},
		Body:           `{"data":{"email":"ada@example.com"}}`,
	}
	req.RequestContext.RequestID = "req-" + uuid.NewString()
	resp, err := h(context.Background(), req)
	if err != nil {
		t.Fatalf("ingest handler error: %v", err)
	}
	return resp.StatusCode
}

// createWebhook creates a webhook on the fixture's pool and returns its id and token.
func (a *admin) createWebhook(t testing.TB, name string) (string, string) {
	t.Helper()
	resp, body := call(t, a.create, createReq(fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":%q}`, a.orgID, a.poolID, name)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d %s; want 201", resp.StatusCode, resp.Body)
	}
	return body["id"].(string), body["token"].(string)
}

func TestAdminCreateRotateListDelete(t *testing.T) {
	a := newAdmin(t)

	// Create: the token is shown once and works at once.
	resp, body := call(t, a.create, createReq(fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":" Zapier form "}`, a.orgID, strings.ToUpper(a.poolID))))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d %s; want 201", resp.StatusCode, resp.Body)
	}
	id, _ := body["id"].(string)
	token, _ := body["token"].(string)
	if u, err := uuid.Parse(id); err != nil || (u.Version() != 4 && u.Version() != 7) {
		t.Errorf("id = %q; want a UUIDv4 or v7", id)
	}
	if !lead.WellFormedToken(token) || strings.ToLower(token) != token {
		t.Errorf("token = %q; want 64 lower-case hex characters", token)
	}
	wantFields := map[string]any{
		"url":            "https://abc123.execute-api.us-east-1.amazonaws.com/public/ingress_webhooks/" + id,
		"organizationId": a.orgID,
		"tableId":        a.poolID,
		"name":           "Zapier form",
	}
	for k, want := range wantFields {
		if body[k] != want {
			t.Errorf("create body[%s] = %v; want %v", k, body[k], want)
		}
	}
	if created, err := time.Parse(time.RFC3339, fmt.Sprint(body["createdAt"])); err != nil || time.Since(created) > time.Minute {
		t.Errorf("createdAt = %v; want RFC 3339 now", body["createdAt"])
	}
	for _, k := range []string{"tokenHash", "previousTokenHash", "hash"} {
		if _, ok := body[k]; ok {
			t.Errorf("create body has %s", k)
		}
	}
	if got := ingest(t, a.handler, id, token); got != http.StatusCreated {
		t.Fatalf("ingest with the created token: %d; want 201", got)
	}

	// Rotate: the old token fails on the very next request, the new one works.
	resp, body = call(t, a.rotate, rotateReq(id, ""))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: status %d %s; want 200", resp.StatusCode, resp.Body)
	}
	newToken, _ := body["token"].(string)
	if body["id"] != id || !lead.WellFormedToken(newToken) || newToken == token {
		t.Errorf("rotate body = %s; want the id and a fresh token", resp.Body)
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(body["rotatedAt"])); err != nil {
		t.Errorf("rotatedAt = %v; want RFC 3339", body["rotatedAt"])
	}
	if _, ok := body["previousTokenExpiresAt"]; ok {
		t.Errorf("rotation without grace reports previousTokenExpiresAt: %s", resp.Body)
	}
	if got := ingest(t, a.handler, id, token); got != http.StatusUnauthorized {
		t.Errorf("ingest with the old token after rotation: %d; want 401", got)
	}
	if got := ingest(t, a.handler, id, newToken); got != http.StatusCreated {
		t.Errorf("ingest with the new token: %d; want 201", got)
	}

	// List: the webhook is there, with its URL, without token or hash.
	resp, body = call(t, a.list, listReq(map[string]string{"organizationId": a.orgID}))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: status %d %s; want 200", resp.StatusCode, resp.Body)
	}
	for _, secret := range []string{token, newToken, a.token, `"token"`, "okenHash", "ash\""} {
		if strings.Contains(resp.Body, secret) {
			t.Errorf("list body contains %q: %s", secret, resp.Body)
		}
	}
	found := false
	for _, w := range body["webhooks"].([]any) {
		m := w.(map[string]any)
		if m["id"] == id {
			found = true
			if m["url"] != wantFields["url"] || m["name"] != "Zapier form" || m["rotatedAt"] == nil {
				t.Errorf("listed webhook = %v; want url, name and rotatedAt", m)
			}
		}
	}
	if !found {
		t.Errorf("list %s does not show webhook %s", resp.Body, id)
	}

	// Delete: 204, then the URL answers 404 and so does a second delete.
	if resp, _ := call(t, a.remove, deleteReq(id)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: status %d %s; want 204", resp.StatusCode, resp.Body)
	}
	if got := ingest(t, a.handler, id, newToken); got != http.StatusNotFound {
		t.Errorf("ingest after delete: %d; want 404", got)
	}
	resp, body = call(t, a.remove, deleteReq(id))
	if resp.StatusCode != http.StatusNotFound || body["error"] != "Webhook not found" {
		t.Errorf("second delete: %d %s; want 404 Webhook not found", resp.StatusCode, resp.Body)
	}
	resp, _ = call(t, a.rotate, rotateReq(id, ""))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("rotate after delete: %d %s; want 404", resp.StatusCode, resp.Body)
	}
	if got := ingest(t, a.handler, a.webhookID, a.token); got != http.StatusCreated {
		t.Errorf("the other webhook of the pool: %d; want 201 (untouched)", got)
	}
}

func TestAdminRotationGracePeriod(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	// The real handlers and store, with services on the test's clock.
	hasher, err := lead.NewHasher([]byte(awstest.TokenKey))
	awstest.Must(t, err)
	store := dynamo.New(f.env.DB, f.env.App.TableName)
	observer := apigw.Observer{Logger: slog.New(slog.DiscardHandler)}
	ingestSvc := lead.NewIngestService(store, hasher)
	ingestSvc.Now = clock
	ingestH := apigw.Observe(apigw.IngestHandler(ingestSvc), observer)
	adminSvc := lead.NewWebhookAdmin(store, hasher)
	adminSvc.Now = clock
	rotateH := apigw.Observe(apigw.RotateWebhookHandler(adminSvc), observer)

	rotate := func(body string) string {
		t.Helper()
		resp, got := call(t, rotateH, rotateReq(f.webhookID, body))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("rotate %s: %d %s", body, resp.StatusCode, resp.Body)
		}
		return got["token"].(string)
	}
	first := f.token
	resp, got := call(t, rotateH, rotateReq(f.webhookID, `{"gracePeriodSeconds":3600}`))
	if resp.StatusCode != http.StatusOK || got["previousTokenExpiresAt"] != "2026-05-10T13:00:00Z" {
		t.Fatalf("rotate with grace: %d %s; want 200 with previousTokenExpiresAt 13:00", resp.StatusCode, resp.Body)
	}
	second := got["token"].(string)

	steps := []struct {
		name    string
		advance time.Duration
		token   string
		want    int
	}{
		{"old token right after rotation", 0, first, 201},
		{"new token right after rotation", 0, second, 201},
		{"old token one second before expiry", time.Hour - time.Second, first, 201},
		{"old token at expiry", time.Second, first, 401},
		{"new token after expiry", 0, second, 201},
		{"old token long after", 24 * time.Hour, first, 401},
	}
	for _, s := range steps {
		advance(s.advance)
		if code := ingest(t, ingestH, f.webhookID, s.token); code != s.want {
			t.Errorf("%s: %d; want %d", s.name, code, s.want)
		}
	}

	// A rotation without grace ends any grace at once.
	third := rotate(`{"gracePeriodSeconds":600}`)
	if code := ingest(t, ingestH, f.webhookID, second); code != 201 {
		t.Errorf("token in grace: %d; want 201", code)
	}
	fourth := rotate(`{}`)
	for _, tt := range []struct {
		token string
		want  int
	}{{first, 401}, {second, 401}, {third, 401}, {fourth, 201}} {
		if code := ingest(t, ingestH, f.webhookID, tt.token); code != tt.want {
			t.Errorf("after a rotation without grace, token %s…: %d; want %d", tt.token[:8], code, tt.want)
		}
	}
}

func TestAdminConcurrentRotationsLeaveExactlyOneToken(t *testing.T) {
	a := newAdmin(t)
	const n = 50
	tokens := make([]string, n)
	var busy atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := a.rotate(context.Background(), rotateReq(a.webhookID, ""))
			if err == nil && resp.StatusCode == http.StatusServiceUnavailable && resp.Headers["Retry-After"] != "" {
				// Overtaken by the others until its budget ran out (a busy machine makes that
				// likely): nothing stored, retry later. The final token proves it below.
				busy.Add(1)
				return
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("rotation %d: %v %d %s", i, err, resp.StatusCode, resp.Body)
				return
			}
			var body struct{ Token string }
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Errorf("rotation %d: %v", i, err)
			}
			tokens[i] = body.Token
		}()
	}
	wg.Wait()
	t.Logf("%d rotations answered 200, %d answered 503 (overtaken until the budget ran out)", n-int(busy.Load()), busy.Load())
	if busy.Load() == n {
		t.Fatalf("all %d rotations answered 503; want at least one to succeed", n)
	}
	accepted := 0
	seen := map[string]bool{}
	for _, tok := range append(tokens, a.token) {
		if tok == "" {
			continue // a rotation that answered 503 returned no token
		}
		if seen[tok] {
			t.Errorf("token %s… returned twice", tok[:8])
		}
		seen[tok] = true
		switch code := ingest(t, a.handler, a.webhookID, tok); code {
		case http.StatusCreated:
			accepted++
		case http.StatusUnauthorized:
		default:
			t.Errorf("ingest: %d; want 201 or 401", code)
		}
	}
	if accepted != 1 {
		// 0 would mean the token in force is one nobody was given: a 503's rotation applied.
		t.Errorf("%d of the returned tokens (and the original) are accepted; want exactly 1", accepted)
	}
}

func TestAdminListPaginates(t *testing.T) {
	a := newAdmin(t)
	want := map[string]bool{a.webhookID: true}
	for i := range 4 {
		id, _ := a.createWebhook(t, fmt.Sprintf("hook %d", i))
		want[id] = true
	}
	// Another organization's webhook stays out of the listing.
	other := uuid.NewString()
	awstest.Must(t, dynamo.New(a.env.DB, a.env.App.TableName).CreatePool(context.Background(),
		&lead.Pool{ID: uuid.NewString(), OrganizationID: other, Name: "x"}, &lead.State{ID: uuid.NewString(), Name: "New"}))

	got := map[string]bool{}
	query := map[string]string{"organizationId": a.orgID, "limit": "2"}
	pages := 0
	for {
		pages++
		resp, body := call(t, a.list, listReq(query))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d: %d %s", pages, resp.StatusCode, resp.Body)
		}
		ws := body["webhooks"].([]any)
		if len(ws) > 2 {
			t.Errorf("page %d has %d webhooks; limit is 2", pages, len(ws))
		}
		for _, w := range ws {
			id := w.(map[string]any)["id"].(string)
			if got[id] {
				t.Errorf("webhook %s listed twice", id)
			}
			got[id] = true
		}
		next, _ := body["nextCursor"].(string)
		if next == "" || pages > 10 {
			break
		}
		query["cursor"] = next
	}
	if len(got) != len(want) || pages < 3 {
		t.Errorf("listed %d webhooks over %d pages; want %d over at least 3", len(got), pages, len(want))
	}
	for id := range want {
		if !got[id] {
			t.Errorf("webhook %s missing from the listing", id)
		}
	}
	resp, body := call(t, a.list, listReq(map[string]string{"organizationId": other}))
	if resp.StatusCode != 200 || len(body["webhooks"].([]any)) != 0 {
		t.Errorf("other organization's listing = %s; want empty", resp.Body)
	}
}

func TestAdminRejectsBadInput(t *testing.T) {
	a := newAdmin(t)
	// A pool of another organization.
	otherPool := uuid.NewString()
	awstest.Must(t, dynamo.New(a.env.DB, a.env.App.TableName).CreatePool(context.Background(),
		&lead.Pool{ID: otherPool, OrganizationID: uuid.NewString(), Name: "theirs"}, &lead.State{ID: uuid.NewString(), Name: "New"}))
	createBody := func(org, table, name string) string {
		return fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":%q}`, org, table, name)
	}
	ok := createBody(a.orgID, a.poolID, "n")
	b64 := func(r apigw.Request) apigw.Request { r.IsBase64Encoded = true; return r }

	tests := []struct {
		name    string
		h       apigw.Handler
		req     apigw.Request
		status  int
		detail  string // path of a detail the 400 must name
		errText string
	}{
		{"create: not JSON", a.create, createReq(`{"organizationId":`), 400, "$", ""},
		{"create: empty body", a.create, createReq(``), 400, "$", ""},
		{"create: array", a.create, createReq(`[]`), 400, "$", ""},
		{"create: trailing data", a.create, createReq(ok + `{}`), 400, "$", ""},
		{"create: duplicate key", a.create, createReq(`{"name":"a","name":"b","organizationId":"` + a.orgID + `","tableId":"` + a.poolID + `"}`), 400, "name", ""},
		{"create: unknown field", a.create, createReq(`{"organizationId":"` + a.orgID + `","tableId":"` + a.poolID + `","name":"n","token":"x"}`), 400, "token", ""},
		{"create: missing name", a.create, createReq(`{"organizationId":"` + a.orgID + `","tableId":"` + a.poolID + `"}`), 400, "name", ""},
		{"create: name not a string", a.create, createReq(`{"organizationId":"` + a.orgID + `","tableId":"` + a.poolID + `","name":5}`), 400, "name", ""},
		{"create: blank name", a.create, createReq(createBody(a.orgID, a.poolID, "   ")), 400, "name", ""},
		{"create: name too long", a.create, createReq(createBody(a.orgID, a.poolID, strings.Repeat("é", 201))), 400, "name", ""},
		{"create: organization not a UUID", a.create, createReq(createBody("org-1", a.poolID, "n")), 400, "organizationId", ""},
		{"create: table not a UUID", a.create, createReq(createBody(a.orgID, "pool", "n")), 400, "tableId", ""},
		{"create: pool of another organization", a.create, createReq(createBody(a.orgID, otherPool, "n")), 400, "tableId", ""},
		{"create: missing pool", a.create, createReq(createBody(a.orgID, uuid.NewString(), "n")), 400, "tableId", ""},
		{"create: invalid base64", a.create, b64(createReq("e30*")), 400, "$", ""},
		{"create: invalid UTF-8", a.create, createReq("{\"name\":\"\xff\"}"), 400, "$", ""},
		{"create: too large", a.create, createReq(`{"name":"` + strings.Repeat("a", 20<<10) + `"}`), 413, "", "Payload too large"},
		{"rotate: id not a UUID", a.rotate, rotateReq("nope", ""), 400, "id", ""},
		{"rotate: grace too long", a.rotate, rotateReq(a.webhookID, `{"gracePeriodSeconds":604801}`), 400, "gracePeriodSeconds", ""},
		{"rotate: negative grace", a.rotate, rotateReq(a.webhookID, `{"gracePeriodSeconds":-1}`), 400, "gracePeriodSeconds", ""},
		{"rotate: fractional grace", a.rotate, rotateReq(a.webhookID, `{"gracePeriodSeconds":1.5}`), 400, "gracePeriodSeconds", ""},
		{"rotate: grace as a string", a.rotate, rotateReq(a.webhookID, `{"gracePeriodSeconds":"60"}`), 400, "gracePeriodSeconds", ""},
		{"rotate: unknown field", a.rotate, rotateReq(a.webhookID, `{"grace":60}`), 400, "grace", ""},
		{"rotate: not an object", a.rotate, rotateReq(a.webhookID, `60`), 400, "$", ""},
		{"rotate: unknown webhook", a.rotate, rotateReq(uuid.NewString(), ""), 404, "", "Webhook not found"},
		{"list: missing organization", a.list, listReq(nil), 400, "organizationId", ""},
		{"list: organization not a UUID", a.list, listReq(map[string]string{"organizationId": "acme"}), 400, "organizationId", ""},
		{"list: repeated organization", a.list, listReq(map[string]string{"organizationId": a.orgID + "," + a.orgID}), 400, "organizationId", ""},
		{"list: garbage cursor", a.list, listReq(map[string]string{"organizationId": a.orgID, "cursor": "not-a-cursor"}), 400, "cursor", ""},
		{"list: cursor of JSON garbage", a.list, listReq(map[string]string{"organizationId": a.orgID, "cursor": base64.RawURLEncoding.EncodeToString([]byte(`{"pk":1}`))}), 400, "cursor", ""},
		{"list: limit zero", a.list, listReq(map[string]string{"organizationId": a.orgID, "limit": "0"}), 400, "limit", ""},
		{"list: limit too large", a.list, listReq(map[string]string{"organizationId": a.orgID, "limit": "101"}), 400, "limit", ""},
		{"list: unknown parameter", a.list, listReq(map[string]string{"organizationId": a.orgID, "org": "x"}), 400, "org", ""},
		{"delete: id not a UUID", a.remove, deleteReq("../x"), 400, "id", ""},
		{"delete: unknown webhook", a.remove, deleteReq(uuid.NewString()), 404, "", "Webhook not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, tt.h, tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.status, resp.Body)
			}
			wantErr := tt.errText
			if wantErr == "" {
				wantErr = "Validation failed"
			}
			if body["error"] != wantErr {
				t.Errorf("error = %v; want %q", body["error"], wantErr)
			}
			if body["requestId"] != tt.req.RequestContext.RequestID {
				t.Errorf("requestId = %v; want %s", body["requestId"], tt.req.RequestContext.RequestID)
			}
			if msg, _ := body["message"].(string); msg == "" {
				t.Errorf("no message in %s", resp.Body)
			}
			if tt.detail != "" {
				found := false
				details, _ := body["details"].([]any)
				for _, d := range details {
					found = found || d.(map[string]any)["path"] == tt.detail
				}
				if !found {
					t.Errorf("details %v do not name %q", body["details"], tt.detail)
				}
			}
		})
	}
	// Nothing was created or rotated by the rejected calls.
	if code := ingest(t, a.handler, a.webhookID, a.token); code != http.StatusCreated {
		t.Errorf("the fixture's token after rejected calls: %d; want 201", code)
	}
	resp, body := call(t, a.list, listReq(map[string]string{"organizationId": a.orgID}))
	if n := len(body["webhooks"].([]any)); resp.StatusCode != 200 || n != 1 {
		t.Errorf("the organization has %d webhooks after rejected creates; want 1", n)
	}
}
