package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// fixture is one organization with a pool, its default lead state, a select custom field
// and a webhook whose token is known.
type fixture struct {
	env       *awstest.Env
	handler   func(context.Context, apigw.Request) (apigw.Response, error)
	orgID     string
	poolID    string
	stateID   string
	fieldID   string
	webhookID string
	token     string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWithConfig(t, nil)
}

// newFixtureWithConfig seeds the data and builds the handler; tweak may change the AWS
// config the handler uses (to inject transport faults) without touching the seeding.
func newFixtureWithConfig(t testing.TB, tweak func(*aws.Config)) *fixture {
	t.Helper()
	return newFixtureOn(t, awstest.Start(t), tweak)
}

// newFixtureOn seeds a fixture of its own (organization, pool, webhook) on an environment
// that may hold others.
func newFixtureOn(t testing.TB, env *awstest.Env, tweak func(*aws.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{
		env:       env,
		orgID:     uuid.NewString(),
		poolID:    uuid.NewString(),
		stateID:   uuid.NewString(),
		fieldID:   uuid.NewString(),
		webhookID: uuid.NewString(),
	}
	store := dynamo.New(env.DB, env.App.TableName)
	awstest.Must(t, store.CreatePool(ctx, &lead.Pool{ID: f.poolID, OrganizationID: f.orgID, Name: "Leads"},
		&lead.State{ID: f.stateID, Name: "New"}))
	awstest.Must(t, store.PutCustomField(ctx, &lead.CustomField{ID: f.fieldID, OrganizationID: f.orgID, Name: "Lead source",
		Type: lead.CustomSelect, Options: []string{"instagram_ad", "google_ad"}}))
	hasher, err := lead.NewHasher([]byte(awstest.TokenKey))
	awstest.Must(t, err)
	f.token, err = lead.NewToken()
	awstest.Must(t, err)
	awstest.Must(t, store.CreateWebhook(ctx, &lead.Webhook{ID: f.webhookID, OrganizationID: f.orgID, PoolID: f.poolID,
		Name: "Zapier", TokenHash: hasher.Hash(f.token), CreatedAt: time.Now()}))
	cfg := env.Config.Copy()
	if tweak != nil {
		tweak(&cfg)
	}
	f.handler = awstest.Build(t, app.Ingest, cfg, env.App)
	return f
}

// post builds the API Gateway v2 event for a POST to the webhook with the given token.
func (f *fixture) post(body string, token string) apigw.Request {
	req := apigw.Request{
		RouteKey:       "POST /public/ingress_webhooks/{id}",
		RawPath:        "/public/ingress_webhooks/" + f.webhookID,
		Headers:        map[string]string{"content-type": "application/json"},
		PathParameters: map[string]string{"id": f.webhookID},
		Body:           body,
	}
	req.RequestContext.RequestID = "req-" + uuid.NewString()
	if token != "" {
		req.Headers[apigw.TokenHeader] = token
	}
	return req
}

func (f *fixture) do(t testing.TB, req apigw.Request) (apigw.Response, map[string]any) {
	t.Helper()
	resp, err := f.handler(context.Background(), req)
	if err != nil {
		t.Fatalf("handler returned error %v; expected failures must be responses", err)
	}
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("Content-Type = %q; want application/json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("response body %q is not JSON: %v", resp.Body, err)
	}
	if strings.Contains(resp.Body, f.token) {
		t.Errorf("response echoes the token: %s", resp.Body)
	}
	return resp, body
}

// entries returns every entry of the fixture's pool, read shard by shard in id order.
func (f *fixture) entries(t testing.TB) []*lead.Entry {
	t.Helper()
	es, err := dynamo.New(f.env.DB, f.env.App.TableName).Entries(context.Background(), f.poolID, 10000)
	awstest.Must(t, err)
	return es
}

// schema returns the pool's locked schema as stored.
func (f *fixture) schema(t testing.TB) map[string]string {
	t.Helper()
	out, err := f.env.DB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(f.env.App.TableName),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TABLE#" + f.poolID}, "sk": &types.AttributeValueMemberS{Value: "TABLE"}},
		ConsistentRead: aws.Bool(true),
	})
	awstest.Must(t, err)
	m := map[string]string{}
	// minidyn v0.8.2 returns an empty map attribute as a stray string: treat it as empty.
	sm, _ := out.Item["schema"].(*types.AttributeValueMemberM)
	if sm == nil {
		return m
	}
	for k, v := range sm.Value {
		m[k] = v.(*types.AttributeValueMemberS).Value
	}
	return m
}

func TestIngestCreatesEntry(t *testing.T) {
	f := newFixture(t)
	body := fmt.Sprintf(`{"data":{"email":"ada@example.com","age":36,"budget":12345678901234567890.123456789,"vip":true,"tags":["a","b"],"note":null},"customFieldData":{%q:"instagram_ad"}}`, f.fieldID)
	resp, got := f.do(t, f.post(body, f.token))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status = %d; want 201 (body %s)", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(resp.Body, `"budget":12345678901234567890.123456789`) {
		t.Errorf("body %s does not keep the exact number", resp.Body)
	}
	for k, want := range map[string]any{"tableId": f.poolID, "organizationId": f.orgID, "leadStateId": f.stateID} {
		if got[k] != want {
			t.Errorf("body[%s] = %v; want %v", k, got[k], want)
		}
	}
	id, _ := got["id"].(string)
	if u, err := uuid.Parse(id); err != nil || u.Version() != 7 {
		t.Errorf("id = %q; want a UUIDv7", id)
	}
	created, err := time.Parse(time.RFC3339, fmt.Sprint(got["createdAt"]))
	if err != nil || created.Location() != time.UTC || time.Since(created) > time.Minute {
		t.Errorf("createdAt = %v; want RFC 3339 UTC now", got["createdAt"])
	}
	if cf, _ := got["customFieldData"].(map[string]any); cf[f.fieldID] != "instagram_ad" {
		t.Errorf("customFieldData = %v; want the lead source", got["customFieldData"])
	}
	es := f.entries(t)
	if len(es) != 1 || es[0].ID != id {
		t.Fatalf("stored entries = %v; want exactly the created one", es)
	}
	stored, _ := wire.EntryJSON(es[0])
	if string(stored) != resp.Body {
		t.Errorf("stored entry renders as\n%s\nwant the 201 body\n%s", stored, resp.Body)
	}
	want := map[string]string{"email": "string", "age": "number", "budget": "number", "vip": "boolean", "tags": "string[]"}
	if s := f.schema(t); fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("schema = %v; want %v (null locks nothing)", s, want)
	}
}

func TestIngestOrderOfChecks(t *testing.T) {
	f := newFixture(t)
	// Lock email as string and age as number first.
	if resp, _ := f.do(t, f.post(`{"data":{"email":"a@b.co","age":30}}`, f.token)); resp.StatusCode != 201 {
		t.Fatalf("seed POST status = %d: %s", resp.StatusCode, resp.Body)
	}
	other, _ := lead.NewToken()
	big := `{"data":{"x":"` + strings.Repeat("a", 256<<10) + `"}}`
	unknownField := uuid.NewString()

	tests := []struct {
		name      string
		req       func() apigw.Request
		status    int
		errText   string
		msgPart   string
		typeError string // key expected in typeErrors
	}{
		{"missing token", func() apigw.Request { return f.post(`{"data":{}}`, "") }, 401, "Invalid webhook token", "", ""},
		{"short token", func() apigw.Request { return f.post(`{"data":{}}`, f.token[:63]) }, 401, "Invalid webhook token", "", ""},
		{"non-hex token", func() apigw.Request { return f.post(`{"data":{}}`, strings.Repeat("z", 64)) }, 401, "Invalid webhook token", "", ""},
		{"comma-joined token header", func() apigw.Request { return f.post(`{"data":{}}`, f.token+","+f.token) }, 401, "Invalid webhook token", "", ""},
		{"repeated token header", func() apigw.Request {
			r := f.post(`{"data":{}}`, f.token)
			r.Headers["X-RocketLead-Ingress-Token"] = f.token
			return r
		}, 401, "Invalid webhook token", "", ""},
		{"missing token beats unknown webhook", func() apigw.Request {
			r := f.post(`{"data":{}}`, "")
			r.PathParameters["id"] = "nope"
			return r
		}, 401, "Invalid webhook token", "", ""},
		{"id not a uuid", func() apigw.Request {
			r := f.post(`{"data":{}}`, f.token)
			r.PathParameters["id"] = "not-a-uuid"
			return r
		}, 404, "Webhook not found", "", ""},
		{"no such webhook", func() apigw.Request {
			r := f.post(`{"data":{}}`, f.token)
			r.PathParameters["id"] = uuid.NewString()
			return r
		}, 404, "Webhook not found", "", ""},
		{"wrong token", func() apigw.Request { return f.post(`{"data":{}}`, other) }, 401, "Invalid webhook token", "", ""},
		{"wrong token with a bad body learns nothing", func() apigw.Request { return f.post(`{"email":1}`, other) }, 401, "Invalid webhook token", "", ""},
		{"wrong token with a huge body", func() apigw.Request { return f.post(big, other) }, 401, "Invalid webhook token", "", ""},
		{"body too large", func() apigw.Request { return f.post(big, f.token) }, 413, "Payload too large", "", ""},
		{"base64 body too large", func() apigw.Request {
			r := f.post(base64.StdEncoding.EncodeToString([]byte(big)), f.token)
			r.IsBase64Encoded = true
			return r
		}, 413, "Payload too large", "", ""},
		{"invalid base64", func() apigw.Request {
			r := f.post("eyJkYXRhIjp7fX0*", f.token)
			r.IsBase64Encoded = true
			return r
		}, 400, "Validation failed", "base64", ""},
		{"not JSON", func() apigw.Request { return f.post(`{"data":`, f.token) }, 400, "Validation failed", "not valid JSON", ""},
		{"flat body", func() apigw.Request { return f.post(`{"email":"a@b.co"}`, f.token) }, 400, "Validation failed", `"data"`, ""},
		{"duplicate key", func() apigw.Request { return f.post(`{"data":{"a":"1","a":"2"}}`, f.token) }, 400, "Validation failed", "duplicate", ""},
		{"nested object", func() apigw.Request { return f.post(`{"data":{"a":{"b":1}}}`, f.token) }, 400, "Validation failed", "unsupported", ""},
		{"unknown custom field", func() apigw.Request {
			return f.post(fmt.Sprintf(`{"data":{},"customFieldData":{%q:"x"}}`, unknownField), f.token)
		}, 400, "Validation failed", "not a custom field", ""},
		{"custom field wrong option", func() apigw.Request {
			return f.post(fmt.Sprintf(`{"data":{},"customFieldData":{%q:"tv_ad"}}`, f.fieldID), f.token)
		}, 400, "Validation failed", "no option", ""},
		{"custom field check comes before the schema", func() apigw.Request {
			return f.post(fmt.Sprintf(`{"data":{"email":5},"customFieldData":{%q:"tv_ad"}}`, f.fieldID), f.token)
		}, 400, "Validation failed", "no option", ""},
		{"type mismatch", func() apigw.Request { return f.post(`{"data":{"email":123,"age":"31"}}`, f.token) }, 400, "Validation failed", "type mismatch — email expected string, got number", "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.entries(t))
			req := tt.req()
			resp, body := f.do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.status, resp.Body)
			}
			if body["error"] != tt.errText {
				t.Errorf("error = %v; want %q", body["error"], tt.errText)
			}
			if body["requestId"] != req.RequestContext.RequestID {
				t.Errorf("requestId = %v; want %s", body["requestId"], req.RequestContext.RequestID)
			}
			if msg, _ := body["message"].(string); !strings.Contains(msg, tt.msgPart) {
				t.Errorf("message = %q; want it to contain %q", msg, tt.msgPart)
			}
			if tt.typeError != "" {
				te, _ := body["typeErrors"].(map[string]any)
				if _, ok := te[tt.typeError]; !ok || len(te) != 1 {
					t.Errorf("typeErrors = %v; want exactly %s", body["typeErrors"], tt.typeError)
				}
			}
			if tt.status == 400 {
				if d, _ := body["details"].([]any); len(d) == 0 {
					t.Errorf("details missing in %s", resp.Body)
				}
			}
			if after := len(f.entries(t)); after != before {
				t.Errorf("entries went from %d to %d; a rejected request must store nothing", before, after)
			}
		})
	}
	if s := f.schema(t); len(s) != 2 {
		t.Errorf("schema = %v; rejected requests must lock nothing", s)
	}
}

func TestIngestCoercesIntoLockedTypes(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.do(t, f.post(`{"data":{"age":1,"vip":false,"tags":["x"]}}`, f.token))
	if resp.StatusCode != 201 {
		t.Fatalf("seed status %d", resp.StatusCode)
	}
	resp, got := f.do(t, f.post(`{"data":{"age":"25","vip":"true","tags":"hot"}}`, f.token))
	if resp.StatusCode != 201 {
		t.Fatalf("status = %d; want 201: %s", resp.StatusCode, resp.Body)
	}
	data := got["data"].(map[string]any)
	if !strings.Contains(resp.Body, `"age":25`) || data["vip"] != true || fmt.Sprint(data["tags"]) != "[hot]" {
		t.Errorf("data = %v; want coerced age 25, vip true, tags [hot]", data)
	}
}

func TestIngestHeaderNameIsCaseInsensitive(t *testing.T) {
	f := newFixture(t)
	req := f.post(`{"data":{"email":"a@b.co"}}`, "")
	req.Headers["X-RocketLead-Ingress-Token"] = strings.ToUpper(f.token)
	req.Body = base64.StdEncoding.EncodeToString([]byte(req.Body))
	req.IsBase64Encoded = true
	if resp, _ := f.do(t, req); resp.StatusCode != 201 {
		t.Fatalf("status = %d; want 201: %s", resp.StatusCode, resp.Body)
	}
}

func TestIngestWithoutDefaultLeadState(t *testing.T) {
	f := newFixture(t)
	// The default lead state is deleted behind the pool's back.
	_, err := f.env.DB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                aws.String(f.env.App.TableName),
		Key:                      map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TABLE#" + f.poolID}, "sk": &types.AttributeValueMemberS{Value: "TABLE"}},
		UpdateExpression:         aws.String("REMOVE leadStates.#id"),
		ExpressionAttributeNames: map[string]string{"#id": f.stateID},
	})
	awstest.Must(t, err)
	resp, body := f.do(t, f.post(`{"data":{"email":"a@b.co"}}`, f.token))
	if resp.StatusCode != 400 || body["error"] != "No default lead state" {
		t.Fatalf("got %d %s; want 400 No default lead state", resp.StatusCode, resp.Body)
	}
	if n := len(f.entries(t)); n != 0 {
		t.Errorf("%d entries stored; want none", n)
	}
	if s := f.schema(t); len(s) != 0 {
		t.Errorf("schema = %v; want nothing locked", s)
	}
}

// faultyTransport fails DynamoDB operations named in fail, before or after forwarding them.
type faultyTransport struct {
	next http.RoundTripper
	op   string
	// afterSend forwards the request first and then loses the response, so the write
	// commits but the caller sees an error.
	afterSend bool
	times     atomic.Int32
}

func (ft *faultyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), "."+ft.op) && ft.times.Add(-1) >= 0 {
		if ft.afterSend {
			resp, err := ft.next.RoundTrip(r)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			return nil, errors.New("connection reset by peer")
		}
		return &http.Response{
			StatusCode: 500,
			Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
			Body:       io.NopCloser(strings.NewReader(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected"}`)),
			Request:    r,
		}, nil
	}
	return ft.next.RoundTrip(r)
}

func TestIngestDynamoDBUnavailableIs500AndStoresNothing(t *testing.T) {
	// Query is the webhook read.
	for _, op := range []string{"PutItem", "TransactWriteItems", "BatchGetItem", "Query"} {
		t.Run(op, func(t *testing.T) {
			ft := &faultyTransport{next: http.DefaultTransport, op: op}
			ft.times.Store(100)
			f := newFixtureWithConfig(t, func(c *aws.Config) { c.HTTPClient = &http.Client{Transport: ft} })
			body := `{"data":{"email":"a@b.co"}}`
			if op == "PutItem" {
				// Lock the key first so the write is a plain PutItem.
				ft.times.Store(0)
				if resp, _ := f.do(t, f.post(body, f.token)); resp.StatusCode != 201 {
					t.Fatalf("seed status %d", resp.StatusCode)
				}
				// Every attempt of the write (3 tries of 3 SDK attempts) and the first tries
				// of the fence fail; the fence then holds, so the failure is "nothing stored".
				// (Were every PutItem to fail until the settle time, the answer would be 500
				// "Outcome unknown": TestPutEntryUnsettledFenceIsOutcomeUnknown in pkg/dynamo.)
				ft.times.Store(12)
			}
			before := len(f.entries(t))
			resp, got := f.do(t, f.post(body, f.token))
			want := "Internal error"
			if resp.StatusCode != 500 || got["error"] != want {
				t.Fatalf("got %d %s; want 500 %s", resp.StatusCode, resp.Body, want)
			}
			if strings.Contains(resp.Body, "injected") {
				t.Errorf("500 body leaks the SDK error: %s", resp.Body)
			}
			if after := len(f.entries(t)); after != before {
				t.Errorf("entries %d → %d; want nothing stored", before, after)
			}
		})
	}
}

func TestIngestLostResponseOfCommittedWriteIsASuccess(t *testing.T) {
	for _, op := range []string{"PutItem", "TransactWriteItems"} {
		t.Run(op, func(t *testing.T) {
			ft := &faultyTransport{next: http.DefaultTransport, op: op, afterSend: true}
			f := newFixtureWithConfig(t, func(c *aws.Config) { c.HTTPClient = &http.Client{Transport: ft} })
			body := `{"data":{"email":"a@b.co"}}`
			if op == "PutItem" {
				if resp, _ := f.do(t, f.post(body, f.token)); resp.StatusCode != 201 {
					t.Fatalf("seed status %d", resp.StatusCode)
				}
			}
			ft.times.Store(1)
			before := len(f.entries(t))
			resp, got := f.do(t, f.post(body, f.token))
			if resp.StatusCode != 201 {
				t.Fatalf("status = %d; want 201 for a write that committed: %s", resp.StatusCode, resp.Body)
			}
			es := f.entries(t)
			if len(es) != before+1 {
				t.Fatalf("entries %d → %d; want exactly one more", before, len(es))
			}
			found := false
			for _, e := range es {
				found = found || e.ID == got["id"]
			}
			if !found {
				t.Errorf("the 201 names entry %v, which is not stored", got["id"])
			}
		})
	}
}

func TestIngestConcurrentFirstPostsLockOneType(t *testing.T) {
	// 150 extra keys take the whole-map lock path, a few the per-key path.
	for _, extra := range []int{0, 150} {
		t.Run(fmt.Sprintf("%d extra keys", extra), func(t *testing.T) {
			concurrentFirstPosts(t, extra)
		})
	}
}

func concurrentFirstPosts(t *testing.T, extra int) {
	f := newFixture(t)
	var more strings.Builder
	for i := 0; i < extra; i++ {
		fmt.Fprintf(&more, `,"k%03d":"v"`, i)
	}
	values := []string{`"text"`, `5`, `true`, `["a"]`}
	const n = 20
	var wg sync.WaitGroup
	results := make([]apigw.Response, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := f.handler(context.Background(), f.post(`{"data":{"v":`+values[i%len(values)]+`,"i":`+fmt.Sprint(i)+more.String()+`}}`, f.token))
			if err != nil {
				t.Errorf("handler error: %v", err)
			}
			results[i] = r
		}(i)
	}
	wg.Wait()
	locked := f.schema(t)["v"]
	if locked == "" {
		t.Fatal("no type was locked for v")
	}
	created := 0
	for i, r := range results {
		switch r.StatusCode {
		case 201:
			created++
			var e wire.EntryView
			awstest.Must(t, json.Unmarshal([]byte(r.Body), &e))
			if got := typeOf(e.Data["v"]); got != locked {
				t.Errorf("POST %d stored v as %s; the schema locked %s", i, got, locked)
			}
		case 400:
			if !strings.Contains(r.Body, `"typeErrors":{"v"`) {
				t.Errorf("POST %d: 400 without a typeErrors entry for v: %s", i, r.Body)
			}
		default:
			t.Errorf("POST %d: status %d %s", i, r.StatusCode, r.Body)
		}
	}
	t.Logf("locked %s: %d of %d POSTs created an entry", locked, created, n)
	es := f.entries(t)
	if len(es) != created || created == 0 {
		t.Errorf("%d entries stored, %d responses were 201", len(es), created)
	}
	for _, e := range es {
		if got := typeOf(e.Data["v"]); got != locked {
			t.Errorf("stored entry %s has v as %s; schema says %s", e.ID, got, locked)
		}
	}
}

func typeOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64, lead.Number:
		return "number"
	case bool:
		return "boolean"
	case []any, []string:
		return "string[]"
	}
	return fmt.Sprintf("%T", v)
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}

func TestIngestIdempotencyKey(t *testing.T) {
	f := newFixture(t)
	withKey := func(body, key string) apigw.Request {
		r := f.post(body, f.token)
		r.Headers["idempotency-key"] = key
		return r
	}
	first, _ := f.do(t, withKey(`{"data":{"email":"a@b.co"}}`, "order-42"))
	if first.StatusCode != 201 || first.Headers["Idempotent-Replayed"] != "" {
		t.Fatalf("first = %d %v; want 201 without Idempotent-Replayed", first.StatusCode, first.Headers)
	}
	tests := []struct {
		name     string
		req      apigw.Request
		status   int
		replayed bool
		errText  string
	}{
		{"repeat returns the same entry", withKey(`{"data":{"email":"a@b.co"}}`, "order-42"), 201, true, ""},
		{"same key, other body", withKey(`{"data":{"email":"other@b.co"}}`, "order-42"), 422, false, "Idempotency key reused"},
		{"other key creates", withKey(`{"data":{"email":"a@b.co"}}`, "order-43"), 201, false, ""},
		{"key too long", withKey(`{"data":{"email":"a@b.co"}}`, strings.Repeat("k", 256)), 400, false, "Validation failed"},
		{"key not printable ASCII", withKey(`{"data":{"email":"a@b.co"}}`, "clé"), 400, false, "Validation failed"},
		{"empty key", withKey(`{"data":{"email":"a@b.co"}}`, ""), 400, false, "Validation failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.entries(t))
			resp, body := f.do(t, tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d; want %d: %s", resp.StatusCode, tt.status, resp.Body)
			}
			if got := resp.Headers["Idempotent-Replayed"] == "true"; got != tt.replayed {
				t.Errorf("Idempotent-Replayed = %v; want %v", got, tt.replayed)
			}
			if tt.replayed && resp.Body != first.Body {
				t.Errorf("replayed body\n%s\nwant\n%s", resp.Body, first.Body)
			}
			if tt.errText != "" && body["error"] != tt.errText {
				t.Errorf("error = %v; want %q", body["error"], tt.errText)
			}
			wantNew := 0
			if tt.status == 201 && !tt.replayed {
				wantNew = 1
			}
			if after := len(f.entries(t)); after != before+wantNew {
				t.Errorf("entries %d → %d; want %d new", before, after, wantNew)
			}
		})
	}
	t.Run("the record expires after 24 hours", func(t *testing.T) {
		store := dynamo.New(f.env.DB, f.env.App.TableName)
		rec, err := store.Idempotency(context.Background(), f.webhookID, "order-42", time.Now())
		if err != nil || rec == nil || !strings.Contains(first.Body, `"id":"`+rec.EntryID+`"`) {
			t.Fatalf("Idempotency(now) = %v, %v; want the record of the first entry", rec, err)
		}
		if rec, err := store.Idempotency(context.Background(), f.webhookID, "order-42", time.Now().Add(24*time.Hour+time.Minute)); rec != nil || err != nil {
			t.Errorf("Idempotency(now+24h) = %v, %v; want none", rec, err)
		}
	})
}

func TestIngestConcurrentRepeatsCreateOneEntry(t *testing.T) {
	f := newFixture(t)
	const n = 12
	var wg sync.WaitGroup
	bodies := make([]string, n)
	statuses := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := f.post(`{"data":{"email":"a@b.co","plan":"pro"}}`, f.token)
			r.Headers["Idempotency-Key"] = "zap-run-7"
			resp, err := f.handler(context.Background(), r)
			if err != nil {
				t.Errorf("handler error %v", err)
			}
			bodies[i], statuses[i] = resp.Body, resp.StatusCode
		}(i)
	}
	wg.Wait()
	for i := range bodies {
		if statuses[i] != 201 || bodies[i] != bodies[0] {
			t.Errorf("request %d = %d %s; want 201 with the one entry %s", i, statuses[i], bodies[i], bodies[0])
		}
	}
	if es := f.entries(t); len(es) != 1 {
		t.Errorf("%d entries stored; want exactly 1", len(es))
	}
}
