package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// cli runs rlctl command lines against one awstest environment, through --endpoint like an
// operator against the local runner.
type cli struct {
	t   *testing.T
	env *awstest.Env
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, env: awstest.Start(t)}
}

// getenv is an empty environment: defaults come from flags and --endpoint only.
func getenv(string) string { return "" }

func (c *cli) run(args ...string) (string, error) {
	c.t.Helper()
	var out bytes.Buffer
	args = append(args, "--endpoint", c.env.URL, "--table-name", awstest.Table, "--secret-id", awstest.SecretID, "--base-url", "https://hooks.example.com")
	err := run(context.Background(), args, &out, getenv)
	return out.String(), err
}

func (c *cli) mustJSON(v any, args ...string) string {
	c.t.Helper()
	out, err := c.run(append(args, "--json")...)
	if err != nil {
		c.t.Fatalf("rlctl %s: %v", strings.Join(args, " "), describe(err))
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			c.t.Fatalf("rlctl %s --json: %q is not JSON: %v", strings.Join(args, " "), out, err)
		}
	}
	return out
}

// ingest is the production ingest handler on the same table.
func (c *cli) ingest(id, token string) int {
	c.t.Helper()
	return c.ingestRequest(apigw.Request{PathParameters: map[string]string{"id": id}, Body: `{"data":{"email":"a@b.co"}}`,
		Headers: map[string]string{apigw.TokenHeader: token}})
}

// ingestQuery posts with the token in the URL, as an HTML form does.
func (c *cli) ingestQuery(id, token string) int {
	c.t.Helper()
	return c.ingestRequest(apigw.Request{PathParameters: map[string]string{"id": id}, Body: "email=a%40b.co",
		Headers: map[string]string{"content-type": "application/x-www-form-urlencoded"}, QueryStringParameters: map[string]string{"token": token}})
}

func (c *cli) ingestRequest(req apigw.Request) int {
	c.t.Helper()
	h := awstest.Build(c.t, app.Ingest, c.env.Config, c.env.App)
	resp, err := h(context.Background(), req)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode
}

func TestCLIManagesPoolsStatesFieldsAndWebhooks(t *testing.T) {
	c := newCLI(t)
	org := uuid.NewString()

	var created struct {
		Pool struct {
			ID                 string `json:"id"`
			DefaultLeadStateID string `json:"defaultLeadStateId"`
		} `json:"pool"`
		State struct{ Name string } `json:"leadState"`
	}
	c.mustJSON(&created, "pool", "create", "--org", org, "--name", "Inbound")
	pool := created.Pool.ID
	if !lead.IsUUID(pool) || created.State.Name != "New" {
		t.Fatalf("pool create = %+v; want a pool with the default lead state New", created)
	}

	var st struct{ ID string }
	c.mustJSON(&st, "lead-state", "add", "--pool", pool, "--name", "Qualified")
	c.mustJSON(nil, "lead-state", "set-default", "--pool", pool, "--id", st.ID)
	var states []struct {
		ID      string
		Name    string
		Default bool
	}
	c.mustJSON(&states, "lead-state", "list", "--pool", pool)
	if len(states) != 2 {
		t.Fatalf("lead-state list = %+v; want 2 states", states)
	}
	for _, s := range states {
		if s.Default != (s.ID == st.ID) {
			t.Errorf("state %s default = %v; want only %s", s.Name, s.Default, st.ID)
		}
	}
	c.mustJSON(nil, "lead-state", "delete", "--pool", pool, "--id", created.Pool.DefaultLeadStateID)
	var got struct {
		DefaultLeadStateID string   `json:"defaultLeadStateId"`
		LeadStateIDs       []string `json:"leadStateIds"`
	}
	c.mustJSON(&got, "pool", "get", "--pool", pool)
	if got.DefaultLeadStateID != st.ID || len(got.LeadStateIDs) != 1 {
		t.Errorf("pool get = %+v; want only the new default %s", got, st.ID)
	}

	for _, tt := range []struct{ typ, options string }{
		{"text", ""}, {"number", ""}, {"boolean", ""}, {"date", ""}, {"select", "a,b"}, {"multiselect", "x, y, z"},
	} {
		args := []string{"custom-field", "create", "--org", org, "--name", "f-" + tt.typ, "--type", tt.typ}
		if tt.options != "" {
			args = append(args, "--options", tt.options)
		}
		c.mustJSON(nil, args...)
	}
	var fields []struct {
		ID, Name, Type string
		Options        []string
	}
	c.mustJSON(&fields, "custom-field", "list", "--org", org)
	types := map[string]string{}
	for _, f := range fields {
		types[f.Type] = strings.Join(f.Options, "|")
	}
	want := map[string]string{"text": "", "number": "", "boolean": "", "date": "", "select": "a|b", "multiselect": "x|y|z"}
	if len(fields) != 6 || fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("custom-field list = %+v; want the six types with their options", fields)
	}
	c.mustJSON(nil, "custom-field", "delete", "--org", org, "--id", fields[0].ID)
	c.mustJSON(&fields, "custom-field", "list", "--org", org)
	if len(fields) != 5 {
		t.Errorf("after delete, %d custom fields; want 5", len(fields))
	}

	// Webhooks: create and rotate print the token, which works; list never does.
	var hook struct{ ID, URL, Token string }
	c.mustJSON(&hook, "webhook", "create", "--org", org, "--pool", pool, "--name", "Zapier")
	if hook.URL != "https://hooks.example.com/public/ingress_webhooks/"+hook.ID || !lead.WellFormedToken(hook.Token) {
		t.Errorf("webhook create = %+v; want a URL under --base-url and a token", hook)
	}
	if code := c.ingest(hook.ID, hook.Token); code != http.StatusCreated {
		t.Errorf("ingest with the created token: %d; want 201", code)
	}
	table, err := c.run("webhook", "rotate", "--id", hook.ID, "--grace", "1h")
	if err != nil {
		t.Fatalf("webhook rotate: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "TOKEN (shown once)") {
		t.Fatalf("rotate table = %q; want a header and one row", table)
	}
	fieldsOf := strings.Fields(lines[1])
	newToken := fieldsOf[len(fieldsOf)-1]
	for _, tok := range []string{hook.Token, newToken} {
		if code := c.ingest(hook.ID, tok); code != http.StatusCreated {
			t.Errorf("within the grace period token %s…: %d; want 201", tok[:8], code)
		}
	}
	var rotated struct{ Token string }
	c.mustJSON(&rotated, "webhook", "rotate", "--id", hook.ID)
	for tok, want := range map[string]int{hook.Token: 401, newToken: 401, rotated.Token: 201} {
		if code := c.ingest(hook.ID, tok); code != want {
			t.Errorf("after rotating without grace, token %s…: %d; want %d", tok[:8], code, want)
		}
	}

	for _, format := range []string{"table", "json"} {
		args := []string{"webhook", "list", "--org", org}
		if format == "json" {
			args = append(args, "--json")
		}
		out, err := c.run(args...)
		if err != nil {
			t.Fatalf("webhook list (%s): %v", format, err)
		}
		if !strings.Contains(out, hook.ID) || !strings.Contains(out, "Zapier") {
			t.Errorf("webhook list (%s) = %q; want the webhook", format, out)
		}
		for _, secret := range []string{hook.Token, newToken, rotated.Token, `"token"`, "tokenhash", `ash"`} {
			if strings.Contains(strings.ToLower(out), strings.ToLower(secret)) {
				t.Errorf("webhook list (%s) shows %q: %s", format, secret, out)
			}
		}
		if hashes := storedHashes(t, c.env, hook.ID); len(hashes) == 0 {
			t.Fatal("no stored hash to look for")
		} else {
			for _, h := range hashes {
				if strings.Contains(out, h) {
					t.Errorf("webhook list (%s) shows a stored hash", format)
				}
			}
		}
	}

	// The token in the URL: off by default, on at create or later, off again, with the
	// warning printed whenever it is on.
	if code := c.ingestQuery(hook.ID, rotated.Token); code != http.StatusUnauthorized {
		t.Errorf("?token= on a webhook that has not opted in: %d; want 401", code)
	}
	out, err := c.run("webhook", "set", "--id", hook.ID, "--allow-query-token", "true")
	if err != nil || !strings.Contains(out, "password in a URL") || !strings.Contains(out, "rotate the token") {
		t.Errorf("webhook set --allow-query-token true = %q, %v; want the warning", out, err)
	}
	if code := c.ingestQuery(hook.ID, rotated.Token); code != http.StatusCreated {
		t.Errorf("?token= once opted in: %d; want 201", code)
	}
	c.mustJSON(nil, "webhook", "set", "--id", hook.ID, "--allow-query-token", "false")
	if code := c.ingestQuery(hook.ID, rotated.Token); code != http.StatusUnauthorized {
		t.Errorf("?token= after opting out: %d; want 401", code)
	}
	var formHook struct {
		ID, Token         string
		AllowQueryToken   bool   `json:"allowQueryToken"`
		QueryTokenWarning string `json:"queryTokenWarning"`
	}
	c.mustJSON(&formHook, "webhook", "create", "--org", org, "--pool", pool, "--name", "Contact form", "--allow-query-token")
	if !formHook.AllowQueryToken || formHook.QueryTokenWarning == "" || c.ingestQuery(formHook.ID, formHook.Token) != http.StatusCreated {
		t.Errorf("webhook create --allow-query-token = %+v; want it on, with the warning, and ?token= accepted", formHook)
	}
	// Form settings: set, shown without the CAPTCHA secret, which a command line never needs.
	form := `{"successUrl":"https://shop.example/thanks","honeypotField":"_gotcha","captcha":{"provider":"turnstile","secret":"s3cret-key"}}`
	out, err = c.run("webhook", "set", "--id", formHook.ID, "--form", form)
	if err != nil || !strings.Contains(out, "honeypot _gotcha") || !strings.Contains(out, "captcha turnstile") || strings.Contains(out, "s3cret-key") {
		t.Errorf("webhook set --form = %q, %v; want the settings summed up without the secret", out, err)
	}
	if out := c.mustJSON(nil, "webhook", "list", "--org", org); strings.Contains(out, "s3cret-key") || !strings.Contains(out, `"configured": true`) {
		t.Errorf("webhook list = %s; want the CAPTCHA configured, its secret never shown", out)
	}
	if _, err := c.run("webhook", "set", "--id", formHook.ID, "--form", `{"captcha":{"provider":"turnstile"}}`, "--captcha-secret-env", "RL_NOT_SET"); err == nil {
		t.Errorf("webhook set --captcha-secret-env with the variable empty = nil error; want a usage error")
	}

	c.mustJSON(nil, "webhook", "delete", "--id", hook.ID)
	if code := c.ingest(hook.ID, rotated.Token); code != http.StatusNotFound {
		t.Errorf("ingest after webhook delete: %d; want 404", code)
	}
}

// storedHashes returns the webhook's stored hashes in the encodings a printer could use.
func storedHashes(t *testing.T, env *awstest.Env, id string) []string {
	t.Helper()
	w, err := dynamo.New(env.DB, awstest.Table).Webhook(context.Background(), id)
	if err != nil || w == nil {
		t.Fatalf("read webhook: %v", err)
	}
	var out []string
	for _, h := range [][]byte{w.TokenHash, w.PreviousTokenHash} {
		if len(h) > 0 {
			out = append(out, hex.EncodeToString(h), base64.StdEncoding.EncodeToString(h))
		}
	}
	return out
}

func TestCLIRejectsBadCommands(t *testing.T) {
	c := newCLI(t)
	org, otherOrg := uuid.NewString(), uuid.NewString()
	var pool struct {
		Pool struct{ ID, DefaultLeadStateID string }
	}
	c.mustJSON(&pool, "pool", "create", "--org", otherOrg, "--name", "Theirs")

	tests := []struct {
		name  string
		args  []string
		usage bool   // a usage error (exit 2) rather than a rejected request
		want  string // part of the error text
	}{
		{"no verb", []string{"webhook"}, true, "noun and a verb"},
		{"unknown command", []string{"webhook", "explode"}, true, "unknown command"},
		{"missing flags", []string{"webhook", "create", "--org", org}, true, "--name, --pool"},
		{"unknown flag", []string{"webhook", "list", "--org", org, "--colour"}, true, "colour"},
		{"stray argument", []string{"webhook", "list", "--org", org, "extra"}, true, "extra"},
		{"bad grace duration", []string{"webhook", "rotate", "--id", uuid.NewString(), "--grace", "soon"}, true, "grace"},
		{"grace too long", []string{"webhook", "rotate", "--id", uuid.NewString(), "--grace", "169h"}, false, "gracePeriodSeconds"},
		{"rotate unknown webhook", []string{"webhook", "rotate", "--id", uuid.NewString()}, false, "Webhook not found"},
		{"webhook on another organization's pool", []string{"webhook", "create", "--org", org, "--pool", pool.Pool.ID, "--name", "x"}, false, "tableId"},
		{"webhook id not a UUID", []string{"webhook", "delete", "--id", "nope"}, false, "must be a UUID"},
		{"garbage cursor", []string{"webhook", "list", "--org", org, "--cursor", "zzz"}, false, "cursor"},
		{"unknown field type", []string{"custom-field", "create", "--org", org, "--name", "x", "--type", "color"}, false, "type"},
		{"select without options", []string{"custom-field", "create", "--org", org, "--name", "x", "--type", "select"}, false, "options"},
		{"text with options", []string{"custom-field", "create", "--org", org, "--name", "x", "--type", "text", "--options", "a"}, false, "options"},
		{"delete the default lead state", []string{"lead-state", "delete", "--pool", pool.Pool.ID, "--id", pool.Pool.DefaultLeadStateID}, false, "default lead state"},
		{"pool that does not exist", []string{"pool", "get", "--pool", uuid.NewString()}, false, "no lead pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.run(tt.args...)
			if err == nil {
				t.Fatalf("rlctl %v succeeded with %q; want an error", tt.args, out)
			}
			var u usageError
			if errors.As(err, &u) != tt.usage {
				t.Errorf("usage error = %v; want %v (%v)", errors.As(err, &u), tt.usage, err)
			}
			if msg := describe(err); !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not mention %q", msg, tt.want)
			}
			if out != "" {
				t.Errorf("a failed command printed %q", out)
			}
		})
	}
	// The refused delete left the pool as it was.
	p, err := dynamo.New(c.env.DB, awstest.Table).Pool(context.Background(), pool.Pool.ID)
	if err != nil || p == nil || p.DefaultLeadStateID != pool.Pool.DefaultLeadStateID {
		t.Errorf("pool after refused delete = %+v, %v", p, err)
	}
}

func TestCLIShowsSetsAndUnlocksSchemaKeys(t *testing.T) {
	c := newCLI(t)
	var created struct {
		Pool struct{ ID string } `json:"pool"`
	}
	c.mustJSON(&created, "pool", "create", "--org", uuid.NewString(), "--name", "Inbound")
	pool := created.Pool.ID
	type view struct {
		TableID  string            `json:"tableId"`
		Schema   map[string]string `json:"schema"`
		KeyCount int               `json:"keyCount"`
	}
	steps := []struct {
		args []string
		want map[string]string
	}{
		{[]string{"schema", "show", "--pool", pool}, map[string]string{}},
		{[]string{"schema", "set", "--pool", pool, "--keys", "age=number,tags=string[]"}, map[string]string{"age": "number", "tags": "string[]"}},
		{[]string{"schema", "unlock", "--pool", pool, "--keys", "tags"}, map[string]string{"age": "number"}},
		{[]string{"schema", "show", "--pool", pool}, map[string]string{"age": "number"}},
	}
	for _, st := range steps {
		var v view
		c.mustJSON(&v, st.args...)
		if v.TableID != pool || fmt.Sprint(v.Schema) != fmt.Sprint(st.want) || v.KeyCount != len(st.want) {
			t.Errorf("rlctl %s = %+v; want schema %v of pool %s", strings.Join(st.args, " "), v, st.want, pool)
		}
	}
	if out, err := c.run("schema", "show", "--pool", pool); err != nil || !strings.Contains(out, "age") || !strings.Contains(out, "number") {
		t.Errorf("rlctl schema show (table) = %q, %v; want a row age number", out, err)
	}
	for _, args := range [][]string{
		{"schema", "set", "--pool", pool, "--keys", "age=integer"},
		{"schema", "set", "--pool", pool, "--keys", "age"},
		{"schema", "show", "--pool", uuid.NewString()},
		{"schema", "unlock", "--pool", pool},
	} {
		if _, err := c.run(args...); err == nil {
			t.Errorf("rlctl %s succeeded; want an error", strings.Join(args, " "))
		}
	}
}

func TestCLIListsShowsReplaysAndDiscardsRefusedRequests(t *testing.T) {
	c := newCLI(t)
	org := uuid.NewString()
	var created struct {
		Pool struct{ ID string } `json:"pool"`
	}
	c.mustJSON(&created, "pool", "create", "--org", org, "--name", "Inbound")
	var hook struct{ ID, Token string }
	c.mustJSON(&hook, "webhook", "create", "--org", org, "--pool", created.Pool.ID, "--name", "Zapier")
	post := func(body string) int {
		return c.ingestRequest(apigw.Request{PathParameters: map[string]string{"id": hook.ID}, Body: body,
			Headers: map[string]string{apigw.TokenHeader: hook.Token, "content-type": "application/json"}})
	}
	if code := post(`{"data":{"age":"36"}}`); code != http.StatusCreated {
		t.Fatalf("Zapier's POST = %d; want 201", code)
	}
	for _, body := range []string{`{"data":{"age":41}}`, `{"data":{"age":42}}`, `{"data":{"age":43}}`, `{"age":44}`} {
		if code := post(body); code != http.StatusBadRequest {
			t.Fatalf("POST %s = %d; want 400", body, code)
		}
	}
	type summary struct {
		ID    string
		Error struct {
			Error      string `json:"error"`
			RejectedID string `json:"rejectedId"`
		} `json:"error"`
	}
	var page struct {
		Rejected   []summary `json:"rejected"`
		NextCursor string    `json:"nextCursor"`
	}
	c.mustJSON(&page, "rejected", "list", "--webhook", hook.ID, "--limit", "3")
	if len(page.Rejected) != 3 || page.NextCursor == "" {
		t.Fatalf("rejected list --limit 3 = %+v; want 3 and a next cursor", page)
	}
	first := page.Rejected[0].ID
	c.mustJSON(&page, "rejected", "list", "--webhook", hook.ID, "--cursor", page.NextCursor)
	if len(page.Rejected) != 1 {
		t.Fatalf("second page = %+v; want the fourth request", page)
	}
	flat := page.Rejected[0].ID // the oldest: {"data":{"age":41}}
	var shown struct{ Body string }
	c.mustJSON(&shown, "rejected", "show", "--webhook", hook.ID, "--id", first)
	if shown.Body != `{"age":44}` {
		t.Errorf("rejected show = %+v; want the newest body as sent", shown)
	}
	c.mustJSON(nil, "schema", "set", "--pool", created.Pool.ID, "--keys", "age=number")

	var sum struct {
		Replayed      int            `json:"replayed"`
		StillRejected int            `json:"stillRejected"`
		ByError       map[string]int `json:"stillRejectedByError"`
	}
	c.mustJSON(&sum, "rejected", "replay", "--webhook", hook.ID, "--all", "--error", "Validation failed")
	if sum.Replayed != 3 || sum.StillRejected != 1 || sum.ByError["Validation failed"] != 1 {
		t.Errorf("rejected replay --all = %+v; want 3 replayed, the flat body still rejected", sum)
	}
	c.mustJSON(&page, "rejected", "list", "--webhook", hook.ID)
	if len(page.Rejected) != 1 || page.Rejected[0].ID != first || page.Rejected[0].Error.RejectedID != first {
		t.Errorf("after replay --all = %+v; want only the flat body, with its new error", page)
	}
	if _, err := c.run("rejected", "replay", "--webhook", hook.ID, "--id", first); lead.ErrorCode(err) != lead.EINVALID {
		t.Errorf("rejected replay --id of a flat body = %v; want the same 400", err)
	}
	if _, err := c.run("rejected", "replay", "--webhook", hook.ID, "--id", flat); lead.ErrorCode(err) != lead.ENOTFOUND {
		t.Errorf("replay of a replayed request = %v; want not found", err)
	}
	c.mustJSON(nil, "rejected", "discard", "--webhook", hook.ID, "--id", first)
	c.mustJSON(&page, "rejected", "list", "--webhook", hook.ID)
	if len(page.Rejected) != 0 {
		t.Errorf("after discard = %+v; want none", page)
	}
	for _, args := range [][]string{
		{"rejected", "replay", "--webhook", hook.ID},
		{"rejected", "replay", "--webhook", hook.ID, "--all", "--id", first},
		{"rejected", "show", "--webhook", hook.ID},
		{"rejected", "list", "--webhook", uuid.NewString()},
	} {
		if _, err := c.run(args...); err == nil {
			t.Errorf("rlctl %s succeeded; want an error", strings.Join(args, " "))
		}
	}
}
