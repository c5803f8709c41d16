package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

// rejected is the schema fixture plus the four rejected request handlers.
type rejected struct {
	*schemaAdmin
	list, get, replay, discard apigw.Handler
}

func newRejected(t testing.TB) *rejected {
	t.Helper()
	return rejectedOf(t, newSchemaAdmin(t))
}

// rejectedOf adds the rejected request handlers to a schema fixture.
func rejectedOf(t testing.TB, s *schemaAdmin) *rejected {
	t.Helper()
	r := &rejected{schemaAdmin: s}
	for _, b := range []struct {
		h     *apigw.Handler
		build app.Builder[apigw.Handler]
	}{{&r.list, app.ListRejected}, {&r.get, app.ShowRejected}, {&r.replay, app.ReplayRejected}, {&r.discard, app.DiscardRejected}} {
		*b.h = awstest.Build(t, b.build, r.env.Config, r.env.App)
	}
	return r
}

func rejectedReq(method, webhookID, rejectedID, suffix string, query map[string]string) apigw.Request {
	route := "/admin/ingress_webhooks/{id}/rejected"
	path := "/admin/ingress_webhooks/" + webhookID + "/rejected"
	params := map[string]string{"id": webhookID}
	if rejectedID != "" {
		route += "/{rejectedId}" + suffix
		path += "/" + rejectedID + suffix
		params["rejectedId"] = rejectedID
	}
	req := adminRequest(method, method+" "+route, "", "", query)
	req.RawPath, req.PathParameters = path, params
	return req
}

// listed returns the ids of the webhook's kept rejected requests, newest first.
func (r *rejected) listed(t *testing.T) []string {
	t.Helper()
	resp, body := call(t, r.list, rejectedReq("GET", r.webhookID, "", "", nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list = %d %s; want 200", resp.StatusCode, resp.Body)
	}
	var ids []string
	for _, x := range body["rejected"].([]any) {
		m := x.(map[string]any)
		if _, hasBody := m["body"]; hasBody {
			t.Errorf("a listing summary carries the body: %v", m)
		}
		ids = append(ids, m["id"].(string))
	}
	return ids
}

func TestRefusedLeadsAreKeptAndReplayedAfterTheSchemaRepair(t *testing.T) {
	r := newRejected(t)
	if resp, _ := r.do(t, r.post(`{"data":{"email":"zap@example.com","age":"36","newsletter":"true"}}`, r.token)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("Zapier's first POST = %d; want 201", resp.StatusCode)
	}
	var refused []string
	for i := range 3 {
		resp, body := r.do(t, r.post(fmt.Sprintf(`{"data":{"email":"make%d@example.com","age":%d,"newsletter":true}}`, i, 40+i), r.token))
		id, _ := body["rejectedId"].(string)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "Validation failed" || id == "" {
			t.Fatalf("Make's POST = %d %s; want 400 Validation failed with a rejectedId", resp.StatusCode, resp.Body)
		}
		refused = append(refused, id)
	}
	if got := r.listed(t); fmt.Sprint(got) != fmt.Sprint([]string{refused[2], refused[1], refused[0]}) {
		t.Errorf("listed %v; want the refused requests newest first %v", got, refused)
	}
	resp, body := call(t, r.get, rejectedReq("GET", r.webhookID, refused[0], "", nil))
	if resp.StatusCode != http.StatusOK || body["body"] != `{"data":{"email":"make0@example.com","age":40,"newsletter":true}}` ||
		body["error"].(map[string]any)["rejectedId"] != refused[0] || body["contentType"] != "application/json" {
		t.Errorf("get = %d %s; want the body exactly as sent and the error it got", resp.StatusCode, resp.Body)
	}

	// A replay before the repair fails as a new POST would, and the request stays, with the
	// replay's error recorded.
	replayReq := rejectedReq("POST", r.webhookID, refused[0], "/replay", nil)
	resp, body = call(t, r.replay, replayReq)
	if resp.StatusCode != http.StatusBadRequest || body["typeErrors"] == nil || body["rejectedId"] != refused[0] {
		t.Errorf("replay before the repair = %d %s; want the same 400 naming the same rejected request", resp.StatusCode, resp.Body)
	}
	_, body = call(t, r.get, rejectedReq("GET", r.webhookID, refused[0], "", nil))
	if recorded, _ := body["error"].(map[string]any); recorded["requestId"] != replayReq.RequestContext.RequestID || recorded["typeErrors"] == nil {
		t.Errorf("recorded error %v; want the replay's 400 (requestId %s)", body["error"], replayReq.RequestContext.RequestID)
	}
	if got := r.listed(t); len(got) != 3 {
		t.Errorf("after a failed replay %d requests are kept; want 3", len(got))
	}

	if resp, _ := call(t, r.patch, schemaReq("PATCH", r.poolID, `{"set":{"age":"number","newsletter":"boolean"}}`)); resp.StatusCode != http.StatusOK {
		t.Fatalf("schema repair = %d; want 200", resp.StatusCode)
	}
	for _, id := range refused {
		if resp, _ := call(t, r.replay, rejectedReq("POST", r.webhookID, id, "/replay", nil)); resp.StatusCode != http.StatusCreated {
			t.Errorf("replay of %s = %d %s; want 201", id, resp.StatusCode, resp.Body)
		}
	}
	if got := r.listed(t); len(got) != 0 {
		t.Errorf("after the replays %v are still kept; want none", got)
	}
	emails := map[string]int{}
	for _, e := range r.entries(t) {
		emails[fmt.Sprint(e.Data["email"])]++
	}
	for i := range 3 {
		if n := emails[fmt.Sprintf("make%d@example.com", i)]; n != 1 {
			t.Errorf("make%d has %d entries; want exactly 1", i, n)
		}
	}
	// A second replay of a replayed request finds nothing.
	if resp, _ := call(t, r.replay, rejectedReq("POST", r.webhookID, refused[0], "/replay", nil)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("second replay = %d; want 404", resp.StatusCode)
	}
}

func TestConcurrentReplaysCreateOneEntry(t *testing.T) {
	r := newRejected(t)
	r.do(t, r.post(`{"data":{"age":"36"}}`, r.token))
	_, body := r.do(t, r.post(`{"data":{"age":41,"email":"once@example.com"}}`, r.token))
	id := body["rejectedId"].(string)
	call(t, r.patch, schemaReq("PATCH", r.poolID, `{"set":{"age":"number"}}`))
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := r.replay(context.Background(), rejectedReq("POST", r.webhookID, id, "/replay", nil))
			if err != nil {
				t.Error(err)
			}
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	created := 0
	for c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusNotFound:
		default:
			t.Errorf("a concurrent replay answered %d; want 201 or 404", c)
		}
	}
	n := 0
	for _, e := range r.entries(t) {
		if e.Data["email"] == "once@example.com" {
			n++
		}
	}
	if created != 1 || n != 1 {
		t.Errorf("%d replays answered 201 and %d entries exist; want 1 and 1", created, n)
	}
}

func TestRequestsRefusedBeforeTheBodyChecksAreNotKept(t *testing.T) {
	r := newRejected(t)
	r.do(t, r.post(`{"data":{"email":"a@example.com"}}`, r.token))
	keyed := func(body string) apigw.Request {
		req := r.post(body, r.token)
		req.Headers["idempotency-key"] = "k-1"
		return req
	}
	r.do(t, keyed(`{"data":{"email":"b@example.com"}}`))
	dryRun := r.post(`{"data":{"email":1}}`, r.token)
	dryRun.QueryStringParameters = map[string]string{"dryRun": "true"}
	unknown := r.post(`{"data":{"email":1}}`, r.token)
	unknown.PathParameters["id"] = uuid.NewString()
	tests := []struct {
		name string
		req  apigw.Request
		want int
	}{
		{"no token", r.post(`{"data":{"email":1}}`, ""), 401},
		{"a wrong token", r.post(`{"data":{"email":1}}`, strings.Repeat("a", 64)), 401},
		{"an unknown webhook", unknown, 404},
		{"a body too large", r.post(`{"data":{"email":"`+strings.Repeat("x", 300<<10)+`"}}`, r.token), 413},
		{"an idempotency key reused with another body", keyed(`{"data":{"email":"c@example.com"}}`), 422},
		{"a dry run that fails the schema check", dryRun, 400},
	}
	for _, tt := range tests {
		resp, body := r.do(t, tt.req)
		if resp.StatusCode != tt.want || body["rejectedId"] != nil {
			t.Errorf("%s = %d %s; want %d without rejectedId", tt.name, resp.StatusCode, resp.Body, tt.want)
		}
	}
	if got := r.listed(t); len(got) != 0 {
		t.Errorf("kept %v; want nothing kept", got)
	}
}

func TestRejectedRoutesRejectBadInput(t *testing.T) {
	r := newRejected(t)
	_, body := r.do(t, r.post(`{"data":{"email":["x",1]}}`, r.token))
	kept, _ := body["rejectedId"].(string)
	if kept == "" {
		t.Fatalf("a 400 of the body checks kept nothing: %v", body)
	}
	tests := []struct {
		name      string
		h         apigw.Handler
		req       apigw.Request
		want      int
		wantError string
	}{
		{"list: unknown webhook", r.list, rejectedReq("GET", uuid.NewString(), "", "", nil), 404, "Webhook not found"},
		{"list: webhook id not a UUID", r.list, rejectedReq("GET", "x", "", "", nil), 404, "Webhook not found"},
		{"list: limit 0", r.list, rejectedReq("GET", r.webhookID, "", "", map[string]string{"limit": "0"}), 400, "Validation failed"},
		{"list: limit not a number", r.list, rejectedReq("GET", r.webhookID, "", "", map[string]string{"limit": "ten"}), 400, "Validation failed"},
		{"list: a cursor it never returned", r.list, rejectedReq("GET", r.webhookID, "", "", map[string]string{"cursor": "bm9wZQ"}), 400, "Validation failed"},
		{"list: unknown parameter", r.list, rejectedReq("GET", r.webhookID, "", "", map[string]string{"page": "2"}), 400, "Validation failed"},
		{"get: unknown rejected request", r.get, rejectedReq("GET", r.webhookID, uuid.NewString(), "", nil), 404, "Not found"},
		{"get: rejected id not a UUID", r.get, rejectedReq("GET", r.webhookID, "x", "", nil), 404, "Not found"},
		{"get: another webhook's id", r.get, rejectedReq("GET", uuid.NewString(), kept, "", nil), 404, "Webhook not found"},
		{"replay: unknown rejected request", r.replay, rejectedReq("POST", r.webhookID, uuid.NewString(), "/replay", nil), 404, "Not found"},
		{"replay: unknown webhook", r.replay, rejectedReq("POST", uuid.NewString(), kept, "/replay", nil), 404, "Webhook not found"},
		{"replay: still invalid", r.replay, rejectedReq("POST", r.webhookID, kept, "/replay", nil), 400, "Validation failed"},
		{"delete: unknown rejected request", r.discard, rejectedReq("DELETE", r.webhookID, uuid.NewString(), "", nil), 404, "Not found"},
		{"delete: unknown webhook", r.discard, rejectedReq("DELETE", uuid.NewString(), kept, "", nil), 404, "Webhook not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, tt.h, tt.req)
			if resp.StatusCode != tt.want || body["error"] != tt.wantError || body["requestId"] == nil {
				t.Errorf("= %d %s; want %d %q with a requestId", resp.StatusCode, resp.Body, tt.want, tt.wantError)
			}
		})
	}
	if got := r.listed(t); fmt.Sprint(got) != fmt.Sprint([]string{kept}) {
		t.Errorf("kept %v after the refused calls; want only %s", got, kept)
	}
	if resp, _ := call(t, r.discard, rejectedReq("DELETE", r.webhookID, kept, "", nil)); resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete = %d; want 204", resp.StatusCode)
	}
	if got := r.listed(t); len(got) != 0 {
		t.Errorf("kept %v after the delete; want none", got)
	}
}

func TestAKeptFormBodyIsReplayedAsAForm(t *testing.T) {
	r := newRejected(t)
	call(t, r.patch, schemaReq("PATCH", r.poolID, `{"set":{"age":"number"}}`))
	req := r.post("email=ada%40example.com&age=thirty", r.token)
	req.Headers["content-type"] = "application/x-www-form-urlencoded"
	resp, body := r.do(t, req)
	id, _ := body["rejectedId"].(string)
	if resp.StatusCode != http.StatusBadRequest || id == "" {
		t.Fatalf("form POST = %d %s; want 400 with a rejectedId", resp.StatusCode, resp.Body)
	}
	resp, body = call(t, r.get, rejectedReq("GET", r.webhookID, id, "", nil))
	if body["body"] != "email=ada%40example.com&age=thirty" || body["contentType"] != "application/x-www-form-urlencoded" {
		t.Errorf("kept form request = %s; want its body and content type as sent", resp.Body)
	}
	call(t, r.patch, schemaReq("PATCH", r.poolID, `{"set":{"age":"string"}}`))
	resp, body = call(t, r.replay, rejectedReq("POST", r.webhookID, id, "/replay", nil))
	data, _ := body["data"].(map[string]any)
	if resp.StatusCode != http.StatusCreated || data["email"] != "ada@example.com" || data["age"] != "thirty" {
		t.Errorf("replay = %d %s; want 201 with the form fields as data", resp.StatusCode, resp.Body)
	}
}
