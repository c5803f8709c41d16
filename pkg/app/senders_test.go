package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// senderCase is one request shape under testdata/senders: the headers and body a tool sends
// by default (reconstructed from each tool's documented behaviour and its default headers),
// with {{token}}, {{budgetFieldID}} and {{sourceFieldID}} standing for the fixture's values,
// and the lead data it must store on a fresh pool and on a pool whose schema was declared.
type senderCase struct {
	Sender       string            `json:"sender"`
	Query        map[string]string `json:"query"`
	Headers      map[string]string `json:"headers"`
	Body         string            `json:"body"`
	WantFresh    json.RawMessage   `json:"wantFresh"`
	WantDeclared json.RawMessage   `json:"wantDeclared"`
}

// declaringLead locks the types a careful operator wants before any sender posts.
const declaringLead = `{"data":{"email":"first@example.com","firstName":"First","age":1,"newsletter":false,"score":1,"interests":["x"],"message":"m"}}`

// senderFixture is a fixture with a number custom field next to the select one, whose
// webhook accepts the token in the URL.
func senderFixture(t *testing.T) (*fixture, string) {
	t.Helper()
	f := newFixture(t)
	budgetID := uuid.NewString()
	store := dynamo.New(f.env.DB, f.env.App.TableName)
	awstest.Must(t, store.PutCustomField(context.Background(), &lead.CustomField{ID: budgetID, OrganizationID: f.orgID, Name: "Budget", Type: lead.CustomNumber}))
	_, err := store.SetAllowQueryToken(context.Background(), f.webhookID, true)
	awstest.Must(t, err)
	return f, budgetID
}

func (f *fixture) fill(s, budgetID string) string {
	return strings.NewReplacer("{{token}}", f.token, "{{budgetFieldID}}", budgetID, "{{sourceFieldID}}", f.fieldID).Replace(s)
}

func (f *fixture) senderRequest(c senderCase, budgetID string) apigw.Request {
	req := f.post(f.fill(c.Body, budgetID), "")
	req.Headers = map[string]string{}
	for k, v := range c.Headers {
		req.Headers[k] = f.fill(v, budgetID)
	}
	if len(c.Query) > 0 {
		req.QueryStringParameters = map[string]string{}
		for k, v := range c.Query {
			req.QueryStringParameters[k] = f.fill(v, budgetID)
		}
	}
	return req
}

// leadJSON renders what an entry holds as plain JSON values, for comparison.
func leadJSON(t *testing.T, data, custom map[string]any) map[string]any {
	t.Helper()
	m := map[string]any{"data": data}
	if len(custom) > 0 {
		m["customFieldData"] = custom
	}
	b, err := json.Marshal(m)
	awstest.Must(t, err)
	var out map[string]any
	awstest.Must(t, json.Unmarshal(b, &out))
	return out
}

func TestRealSendersStoreTheirLeads(t *testing.T) {
	files, err := filepath.Glob("testdata/senders/*.json")
	awstest.Must(t, err)
	if len(files) < 6 {
		t.Fatalf("found %d sender shapes under testdata/senders; want the six the guides cover", len(files))
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		awstest.Must(t, err)
		var c senderCase
		awstest.Must(t, json.Unmarshal(raw, &c))
		for _, pool := range []string{"fresh", "declared"} {
			t.Run(strings.TrimSuffix(filepath.Base(file), ".json")+" on a "+pool+" pool", func(t *testing.T) {
				f, budgetID := senderFixture(t)
				wantRaw := c.WantFresh
				if pool == "declared" {
					wantRaw = c.WantDeclared
					if resp, _ := f.do(t, f.post(declaringLead, f.token)); resp.StatusCode != http.StatusCreated {
						t.Fatalf("declaring POST = %d %s; want 201", resp.StatusCode, resp.Body)
					}
				}
				old := map[string]bool{}
				for _, e := range f.entries(t) {
					old[e.ID] = true
				}
				var want map[string]any
				awstest.Must(t, json.Unmarshal([]byte(f.fill(string(wantRaw), budgetID)), &want))
				req := f.senderRequest(c, budgetID)
				var body map[string]any
				if accept := req.Headers["accept"]; strings.HasPrefix(accept, "text/html") {
					// A browser reads the built-in page, not JSON.
					resp, err := f.handler(context.Background(), req)
					awstest.Must(t, err)
					if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(resp.Headers["Content-Type"], "text/html") || !strings.Contains(resp.Body, "Thank you") {
						t.Fatalf("%s: %d %v %s; want 201 with the built-in thank-you page", c.Sender, resp.StatusCode, resp.Headers, resp.Body)
					}
				} else {
					var resp apigw.Response
					resp, body = f.do(t, req)
					if resp.StatusCode != http.StatusCreated {
						t.Fatalf("%s: status %d %s; want 201", c.Sender, resp.StatusCode, resp.Body)
					}
					got := leadJSON(t, body["data"].(map[string]any), asMap(body["customFieldData"]))
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s: 201 body lead = %v; want %v", c.Sender, got, want)
					}
				}
				es := f.entries(t)
				if len(es) != len(old)+1 {
					t.Fatalf("%d entries after the request; want %d", len(es), len(old)+1)
				}
				for _, e := range es {
					if !old[e.ID] && (body == nil || e.ID == body["id"]) {
						if stored := leadJSON(t, e.Data, e.CustomFieldData); !reflect.DeepEqual(stored, want) {
							t.Errorf("%s: stored lead = %v; want %v", c.Sender, stored, want)
						}
					}
				}
			})
		}
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// scanTable returns every item of the table as comparable JSON, sorted; a fence (the mark
// the store leaves at the key of an entry write it gave up on, so that the write can never
// commit later) is no data and is left out.
func (f *fixture) scanTable(t *testing.T) []string {
	t.Helper()
	out, err := f.env.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.env.App.TableName), ConsistentRead: aws.Bool(true)})
	awstest.Must(t, err)
	var items []string
	for _, it := range out.Items {
		if dynamo.IsFence(it) {
			continue
		}
		b, err := json.Marshal(it)
		awstest.Must(t, err)
		items = append(items, string(b))
	}
	sort.Strings(items)
	return items
}

func TestDryRunChecksEverythingAndWritesNothing(t *testing.T) {
	f, budgetID := senderFixture(t)
	dry := func(body string, headers map[string]string) apigw.Request {
		req := f.post(body, f.token)
		for k, v := range headers {
			req.Headers[k] = v
		}
		req.QueryStringParameters = map[string]string{"dryRun": "true"}
		return req
	}
	before := f.scanTable(t)
	relay := f.relayed(t)

	resp, body := f.do(t, dry(`{"data":{"email":"ada@example.com","age":"36","tags":["a"]},"customFieldData":{"`+budgetID+`":"5000"}}`,
		map[string]string{"Idempotency-Key": "zap-1"}))
	if resp.StatusCode != http.StatusOK || body["dryRun"] != true {
		t.Fatalf("dry run = %d %s; want 200 with dryRun true", resp.StatusCode, resp.Body)
	}
	entry := body["entry"].(map[string]any)
	if _, ok := entry["id"]; ok {
		t.Errorf("dry run entry has an id: %v", entry)
	}
	if _, ok := entry["createdAt"]; ok {
		t.Errorf("dry run entry has createdAt: %v", entry)
	}
	if entry["tableId"] != f.poolID || entry["leadStateId"] != f.stateID || asMap(entry["customFieldData"])[budgetID] != 5000.0 {
		t.Errorf("dry run entry = %v; want the pool, its default state and the budget as a number", entry)
	}
	wantKeys := map[string]any{"email": "string", "age": "string", "tags": "string[]"}
	if !reflect.DeepEqual(body["newSchemaKeys"], wantKeys) {
		t.Errorf("newSchemaKeys = %v; want %v", body["newSchemaKeys"], wantKeys)
	}

	// Errors are the same as without dryRun, and write nothing either.
	for _, tt := range []struct {
		name   string
		req    apigw.Request
		status int
	}{
		{"unknown custom field", dry(`{"data":{},"customFieldData":{"`+uuid.NewString()+`":"x"}}`, nil), http.StatusBadRequest},
		{"flat body", dry(`{"email":"a"}`, nil), http.StatusBadRequest},
		{"unsupported type", dry(`<lead/>`, map[string]string{"content-type": "application/xml"}), http.StatusUnsupportedMediaType},
		{"dryRun neither true nor false", func() apigw.Request {
			r := dry(`{"data":{}}`, nil)
			r.QueryStringParameters["dryRun"] = "yes"
			return r
		}(), http.StatusBadRequest},
	} {
		if resp, _ := f.do(t, tt.req); resp.StatusCode != tt.status {
			t.Errorf("dry run with %s = %d %s; want %d", tt.name, resp.StatusCode, resp.Body, tt.status)
		}
	}
	waitRelay(t, relay)
	if after := f.scanTable(t); !reflect.DeepEqual(after, before) {
		t.Errorf("the table changed after dry runs:\nbefore %v\nafter  %v", before, after)
	}
	if evs := f.env.Events(); len(evs) != 0 {
		t.Errorf("dry runs published %d events; want none", len(evs))
	}

	// The same idempotency key then creates the lead for real: the dry run kept nothing.
	req := f.post(`{"data":{"email":"ada@example.com","age":36}}`, f.token)
	req.Headers["Idempotency-Key"] = "zap-1"
	if resp, _ := f.do(t, req); resp.StatusCode != http.StatusCreated || resp.Headers["Idempotent-Replayed"] != "" {
		t.Errorf("real POST after the dry run = %d %v; want a fresh 201", resp.StatusCode, resp.Headers)
	}
	if got := f.schema(t); got["age"] != "number" {
		t.Errorf("schema after the real POST = %v; want age locked as number (the dry run locked nothing)", got)
	}
}

func TestQueryTokenOnlyForWebhooksThatOptedIn(t *testing.T) {
	f := newFixture(t)
	store := dynamo.New(f.env.DB, f.env.App.TableName)
	withQueryToken := func(token string, header string) apigw.Request {
		req := f.post(`{"data":{"email":"ada@example.com"}}`, header)
		req.QueryStringParameters = map[string]string{"token": token}
		return req
	}
	wrong := strings.Repeat("0", 64)
	steps := []struct {
		name   string
		allow  *bool
		req    apigw.Request
		status int
	}{
		{"query token on a webhook that has not opted in", nil, withQueryToken(f.token, ""), http.StatusUnauthorized},
		{"query token once opted in", aws.Bool(true), withQueryToken(f.token, ""), http.StatusCreated},
		{"a wrong query token", nil, withQueryToken(wrong, ""), http.StatusUnauthorized},
		{"the header wins over a wrong query token", nil, withQueryToken(wrong, f.token), http.StatusCreated},
		{"a wrong header is not rescued by a right query token", nil, withQueryToken(f.token, wrong), http.StatusUnauthorized},
		{"a repeated query token", nil, withQueryToken(f.token+","+f.token, ""), http.StatusUnauthorized},
		{"query token after opting out", aws.Bool(false), withQueryToken(f.token, ""), http.StatusUnauthorized},
		{"the header still works after opting out", nil, f.post(`{"data":{"email":"ada@example.com"}}`, f.token), http.StatusCreated},
	}
	for _, s := range steps {
		if s.allow != nil {
			_, err := store.SetAllowQueryToken(context.Background(), f.webhookID, *s.allow)
			awstest.Must(t, err)
		}
		resp, body := f.do(t, s.req)
		if resp.StatusCode != s.status {
			t.Errorf("%s: status %d %s; want %d", s.name, resp.StatusCode, resp.Body, s.status)
		}
		if s.status == http.StatusUnauthorized && body["error"] != "Invalid webhook token" {
			t.Errorf("%s: error %v; want Invalid webhook token", s.name, body["error"])
		}
	}
}

func TestContentTypes(t *testing.T) {
	f := newFixture(t)
	multipart := "--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nada@example.com\r\n--XyZ--\r\n"
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		inMessage   string
	}{
		{"application/xml", "application/xml", "<lead><email>a</email></lead>", http.StatusUnsupportedMediaType, "send " + wire.AcceptedMediaTypes},
		{"application/octet-stream", "application/octet-stream", `{"data":{"email":"a"}}`, http.StatusUnsupportedMediaType, "application/octet-stream is not accepted"},
		{"a JSON object under curl's default form header", "application/x-www-form-urlencoded", `{"data":{"email":"ada@example.com"}}`, http.StatusCreated, ""},
		{"a JSON object under text/plain", "text/plain;charset=UTF-8", `{"data":{"email":"ada@example.com"}}`, http.StatusCreated, ""},
		{"a multipart body under a JSON header", "application/json", multipart, http.StatusBadRequest, "set Content-Type to multipart/form-data with its boundary, or send JSON"},
		{"a form body under a JSON header", "application/json", "email=ada%40example.com", http.StatusBadRequest, "set Content-Type to application/x-www-form-urlencoded, or send JSON"},
		{"a form body without a Content-Type", "", "email=ada%40example.com", http.StatusBadRequest, "set Content-Type to application/x-www-form-urlencoded"},
		{"a file part", "multipart/form-data; boundary=XyZ", "--XyZ\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\n\r\n%PDF\r\n--XyZ--\r\n", http.StatusBadRequest, "files are not accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.post(tt.body, f.token)
			delete(req.Headers, "content-type")
			if tt.contentType != "" {
				req.Headers["Content-Type"] = tt.contentType
			}
			resp, body := f.do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %s; want %d", resp.StatusCode, resp.Body, tt.status)
			}
			if tt.inMessage != "" && !strings.Contains(body["message"].(string), tt.inMessage) {
				t.Errorf("message %q; want it to contain %q", body["message"], tt.inMessage)
			}
		})
	}
	t.Run("415 comes after authentication", func(t *testing.T) {
		req := f.post("<lead/>", strings.Repeat("0", 64))
		req.Headers["content-type"] = "application/xml"
		if resp, _ := f.do(t, req); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong token with an unsupported type = %d; want 401", resp.StatusCode)
		}
	})
}

func TestZapierStringsLandWithTheDeclaredTypes(t *testing.T) {
	f, budgetID := senderFixture(t)
	if resp, _ := f.do(t, f.post(`{"data":{"age":1,"vip":false,"score":2}}`, f.token)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("declaring POST = %d", resp.StatusCode)
	}
	resp, body := f.do(t, f.post(`{"data":{"age":"36","vip":"True","score":""},"customFieldData":{"`+budgetID+`":"5000"}}`, f.token))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d %s; want 201", resp.StatusCode, resp.Body)
	}
	want := map[string]any{"data": map[string]any{"age": 36.0, "vip": true, "score": nil}, "customFieldData": map[string]any{budgetID: 5000.0}}
	if got := leadJSON(t, body["data"].(map[string]any), asMap(body["customFieldData"])); !reflect.DeepEqual(got, want) {
		t.Errorf("stored %v; want %v", got, want)
	}
	resp, body = f.do(t, f.post(`{"data":{},"customFieldData":{"`+budgetID+`":"5k"}}`, f.token))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body["message"].(string), `got the string "5k"; send a number`) {
		t.Errorf("a word for a number field = %d %s; want 400 naming the value and the fix", resp.StatusCode, resp.Body)
	}
}
