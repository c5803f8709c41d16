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

// schemaAdmin is the ingest fixture plus the two schema handlers, built by the app builders.
type schemaAdmin struct {
	*fixture
	show, patch apigw.Handler
}

func newSchemaAdmin(t testing.TB) *schemaAdmin {
	t.Helper()
	return schemaAdminOf(t, newFixture(t))
}

// schemaAdminOf adds the schema handlers to a fixture.
func schemaAdminOf(t testing.TB, f *fixture) *schemaAdmin {
	t.Helper()
	s := &schemaAdmin{fixture: f}
	// An administrator's change applies to requests that start up to POOL_CACHE_SECONDS
	// later (that bound is proven in package lead); these steps follow each other at once.
	env := f.env.App
	env.PoolCacheSeconds = "0"
	f.handler = awstest.Build(t, app.Ingest, f.env.Config, env)
	s.show = awstest.Build(t, app.ShowSchema, f.env.Config, f.env.App)
	s.patch = awstest.Build(t, app.PatchSchema, f.env.Config, f.env.App)
	return s
}

func schemaReq(method, poolID, body string) apigw.Request {
	req := adminRequest(method, method+" /admin/tables/{tableId}/schema", "", body, nil)
	req.RawPath = "/admin/tables/" + poolID + "/schema"
	req.PathParameters = map[string]string{"tableId": poolID}
	return req
}

func TestSchemaIsShownAndRepaired(t *testing.T) {
	s := newSchemaAdmin(t)
	steps := []struct {
		name       string
		do         func() (apigw.Response, map[string]any)
		wantStatus int
		wantSchema map[string]string
	}{
		{"Zapier's strings lock string", func() (apigw.Response, map[string]any) {
			return s.do(t, s.post(`{"data":{"email":"ada@example.com","age":"36","newsletter":"true"}}`, s.token))
		}, http.StatusCreated, map[string]string{"email": "string", "age": "string", "newsletter": "string"}},
		{"the schema as shown", func() (apigw.Response, map[string]any) {
			return call(t, s.show, schemaReq("GET", s.poolID, ""))
		}, http.StatusOK, map[string]string{"email": "string", "age": "string", "newsletter": "string"}},
		{"Make's number is refused", func() (apigw.Response, map[string]any) {
			return s.do(t, s.post(`{"data":{"email":"bo@example.com","age":41}}`, s.token))
		}, http.StatusBadRequest, nil},
		{"the operator declares age a number and frees newsletter", func() (apigw.Response, map[string]any) {
			return call(t, s.patch, schemaReq("PATCH", s.poolID, `{"set":{"age":"number","score":"number"},"unlock":["newsletter"]}`))
		}, http.StatusOK, map[string]string{"email": "string", "age": "number", "score": "number"}},
		{"Make's number is accepted, newsletter relocks as boolean", func() (apigw.Response, map[string]any) {
			return s.do(t, s.post(`{"data":{"email":"bo@example.com","age":41,"newsletter":true}}`, s.token))
		}, http.StatusCreated, map[string]string{"email": "string", "age": "number", "score": "number", "newsletter": "boolean"}},
		{"Zapier's numeric string is now a number", func() (apigw.Response, map[string]any) {
			return s.do(t, s.post(`{"data":{"email":"cy@example.com","age":"52","score":"7"}}`, s.token))
		}, http.StatusCreated, nil},
		{"unlocking every key leaves an empty schema", func() (apigw.Response, map[string]any) {
			return call(t, s.patch, schemaReq("PATCH", s.poolID, `{"unlock":["email","age","score","newsletter"]}`))
		}, http.StatusOK, map[string]string{}},
		{"the next POST locks again from scratch", func() (apigw.Response, map[string]any) {
			return s.do(t, s.post(`{"data":{"email":"dee@example.com","age":"sixty"}}`, s.token))
		}, http.StatusCreated, map[string]string{"email": "string", "age": "string"}},
	}
	for _, st := range steps {
		resp, body := st.do()
		if resp.StatusCode != st.wantStatus {
			t.Fatalf("%s: status %d (%s); want %d", st.name, resp.StatusCode, resp.Body, st.wantStatus)
		}
		if st.wantSchema == nil {
			continue
		}
		if got := s.schema(t); fmt.Sprint(got) != fmt.Sprint(st.wantSchema) {
			t.Errorf("%s: stored schema %v; want %v", st.name, got, st.wantSchema)
		}
		if schema, ok := body["schema"].(map[string]any); ok {
			if fmt.Sprint(schema) != fmt.Sprint(st.wantSchema) || body["keyCount"] != float64(len(st.wantSchema)) || body["tableId"] != s.poolID {
				t.Errorf("%s: answered %s; want tableId %s, schema %v, keyCount %d", st.name, resp.Body, s.poolID, st.wantSchema, len(st.wantSchema))
			}
		}
	}
	for _, e := range s.entries(t) {
		if e.Data["email"] == "cy@example.com" && fmt.Sprint(e.Data["age"]) != "52" {
			t.Errorf("age stored as %#v; want the number 52", e.Data["age"])
		}
	}
}

func TestSchemaRoutesRejectBadInput(t *testing.T) {
	s := newSchemaAdmin(t)
	if resp, _ := s.do(t, s.post(`{"data":{"email":"ada@example.com"}}`, s.token)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("seed POST = %d; want 201", resp.StatusCode)
	}
	full := make([]string, 0, 1000)
	for i := range 1000 {
		full = append(full, fmt.Sprintf(`"k%04d":"string"`, i))
	}
	long := strings.Repeat("x", 257)
	tests := []struct {
		name       string
		method     string
		poolID     string
		body       string
		wantStatus int
		wantError  string
		wantPath   string // a details path the answer must name; "" for none
	}{
		{"GET of an unknown pool", "GET", uuid.NewString(), "", 404, "Not found", ""},
		{"GET of a pool id that is not a UUID", "GET", "not-a-pool", "", 404, "Not found", ""},
		{"PATCH of an unknown pool", "PATCH", uuid.NewString(), `{"set":{"age":"number"}}`, 404, "Not found", ""},
		{"PATCH of a pool id that is not a UUID", "PATCH", "x", `{"set":{"age":"number"}}`, 404, "Not found", ""},
		{"an unknown type", "PATCH", "", `{"set":{"age":"integer"}}`, 400, "Validation failed", "set.age"},
		{"a type that is not a string", "PATCH", "", `{"set":{"age":1}}`, 400, "Validation failed", "set.age"},
		{"an empty key to set", "PATCH", "", `{"set":{"":"string"}}`, 400, "Validation failed", `set[""]`},
		{"an empty key to unlock", "PATCH", "", `{"unlock":[""]}`, 400, "Validation failed", "unlock[0]"},
		{"a key over 256 bytes", "PATCH", "", `{"set":{"` + long + `":"string"}}`, 400, "Validation failed", "set." + long},
		{"an unlock that is not a list of strings", "PATCH", "", `{"unlock":[1]}`, 400, "Validation failed", "unlock[0]"},
		{"an unlock that is not a list", "PATCH", "", `{"unlock":"age"}`, 400, "Validation failed", "unlock"},
		{"a set that is not an object", "PATCH", "", `{"set":["age"]}`, 400, "Validation failed", "set"},
		{"a key both set and unlocked", "PATCH", "", `{"set":{"age":"number"},"unlock":["age"]}`, 400, "Validation failed", "unlock[0]"},
		{"an unknown field", "PATCH", "", `{"schema":{"age":"number"}}`, 400, "Validation failed", "schema"},
		{"an empty object", "PATCH", "", `{}`, 400, "Validation failed", "$"},
		{"an empty body", "PATCH", "", ``, 400, "Validation failed", "$"},
		{"a body that is not JSON", "PATCH", "", `{"set":`, 400, "Validation failed", "$"},
		{"a schema past 1,000 keys", "PATCH", "", `{"set":{` + strings.Join(full, ",") + `}}`, 400, "Validation failed", "set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := tt.poolID
			if pool == "" {
				pool = s.poolID
			}
			h := s.show
			if tt.method == "PATCH" {
				h = s.patch
			}
			resp, body := call(t, h, schemaReq(tt.method, pool, tt.body))
			if resp.StatusCode != tt.wantStatus || body["error"] != tt.wantError {
				t.Fatalf("%s = %d %s; want %d %q", tt.method, resp.StatusCode, resp.Body, tt.wantStatus, tt.wantError)
			}
			if body["requestId"] == "" || body["requestId"] == nil {
				t.Errorf("error body %s has no requestId", resp.Body)
			}
			if tt.wantPath != "" && !strings.Contains(resp.Body, fmt.Sprintf(`"path":%q`, tt.wantPath)) {
				t.Errorf("error body %s names no detail at %q", resp.Body, tt.wantPath)
			}
			if got := s.schema(t); fmt.Sprint(got) != "map[email:string]" {
				t.Errorf("schema after a refused change = %v; want it unchanged", got)
			}
		})
	}
}

// TestSchemaPatchesAndConcurrentLocksLoseNothing runs schema changes while requests lock
// new keys: every key of either ends in the schema, with the patch's type where it set one.
func TestSchemaPatchesAndConcurrentLocksLoseNothing(t *testing.T) {
	s := newSchemaAdmin(t)
	if resp, _ := s.do(t, s.post(`{"data":{"email":"ada@example.com"}}`, s.token)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("seed POST = %d; want 201", resp.StatusCode)
	}
	const n = 8
	var wg sync.WaitGroup
	statuses := make(chan string, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			resp, err := s.handler(context.Background(), s.post(fmt.Sprintf(`{"data":{"posted_%d":"x"}}`, i), s.token))
			statuses <- fmt.Sprintf("POST %d %v", resp.StatusCode, err)
		}()
		go func() {
			defer wg.Done()
			resp, err := s.patch(context.Background(), schemaReq("PATCH", s.poolID, fmt.Sprintf(`{"set":{"declared_%d":"number"}}`, i)))
			statuses <- fmt.Sprintf("PATCH %d %v", resp.StatusCode, err)
		}()
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != "POST 201 <nil>" && st != "PATCH 200 <nil>" {
			t.Errorf("a concurrent call answered %s", st)
		}
	}
	got := s.schema(t)
	if len(got) != 1+2*n {
		t.Errorf("schema has %d keys %v; want %d", len(got), got, 1+2*n)
	}
	for i := range n {
		if got[fmt.Sprintf("posted_%d", i)] != "string" || got[fmt.Sprintf("declared_%d", i)] != "number" {
			t.Errorf("schema %v lost posted_%d or declared_%d", got, i, i)
		}
	}
}
