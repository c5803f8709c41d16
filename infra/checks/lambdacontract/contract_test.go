//go:build linux

package lambdacontract

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// contractCase is one testdata/<LogicalId>/<name>.json file: a sequence of invocations of
// the function, each an event and what must come of it. Event and want are Go templates
// over fixture (want also sees the step's response as .Response and its decoded API
// Gateway body as .Body).
type contractCase struct {
	Steps []step `json:"steps"`
}

type step struct {
	Event json.RawMessage `json:"event"`
	Want  json.RawMessage `json:"want"`
}

// want is what a step asserts.
type want struct {
	// Status is the emulator's HTTP status: 200 when the function answered, whatever the
	// API response inside says. Zero means 200.
	Status int `json:"status"`
	// Response is matched against the function's JSON response (see match).
	Response any `json:"response"`
	// Body is matched against the JSON of an API Gateway response's body.
	Body any `json:"body"`
	// Items are queries of the table after the step.
	Items []itemQuery `json:"items"`
	// Calls counts the AWS calls (by X-Amz-Target) the function made during the step.
	Calls map[string]int `json:"calls"`
}

// itemQuery counts the items of partition PK whose sort key is SK, or starts with
// SKPrefix; Count defaults to 1. Item, when set, is matched against the first one.
type itemQuery struct {
	PK       string `json:"pk"`
	SK       string `json:"sk"`
	SKPrefix string `json:"skPrefix"`
	Count    *int   `json:"count"`
	Item     any    `json:"item"`
}

// fixture is the data seeded for every case, with fresh ids: an organization with a pool,
// its default lead state, a select custom field and a webhook whose token is known.
type fixture struct {
	OrganizationID string
	PoolID         string
	LeadStateID    string
	CustomFieldID  string
	WebhookID      string
	Token          string
	// UnknownID is a UUID nothing has; NewID a fresh one for events to use.
	UnknownID string
	NewID     string
	Now       string
	TableName string
	Response  any
	Body      any
}

func seed(t testing.TB, l *localAWS, table string) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{
		OrganizationID: uuid.NewString(),
		PoolID:         uuid.NewString(),
		LeadStateID:    uuid.NewString(),
		CustomFieldID:  uuid.NewString(),
		WebhookID:      uuid.NewString(),
		UnknownID:      uuid.NewString(),
		NewID:          uuid.NewString(),
		Now:            time.Now().UTC().Format(time.RFC3339),
		TableName:      table,
	}
	if table == "" {
		return f
	}
	store := dynamo.New(l.db, table)
	check := func(err error) {
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	check(store.CreatePool(ctx, &lead.Pool{ID: f.PoolID, OrganizationID: f.OrganizationID, Name: "Inbound leads"},
		&lead.State{ID: f.LeadStateID, Name: "New"}))
	check(store.PutCustomField(ctx, &lead.CustomField{ID: f.CustomFieldID, OrganizationID: f.OrganizationID,
		Name: "Lead source", Type: lead.CustomSelect, Options: []string{"instagram_ad", "website"}}))
	hasher, err := lead.NewHasher([]byte(tokenKey))
	check(err)
	f.Token, err = lead.NewToken()
	check(err)
	check(store.CreateWebhook(ctx, &lead.Webhook{ID: f.WebhookID, OrganizationID: f.OrganizationID, PoolID: f.PoolID,
		Name: "Zapier", TokenHash: hasher.Hash(f.Token), CreatedAt: time.Now()}))
	return f
}

func render(name string, raw []byte, data any) ([]byte, error) {
	tpl, err := template.New(name).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// loadCases reads testdata/<id>/*.json.
func loadCases(id string) (map[string]contractCase, error) {
	files, err := filepath.Glob(filepath.Join("testdata", id, "*.json"))
	if err != nil {
		return nil, err
	}
	cases := map[string]contractCase{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var c contractCase
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(c.Steps) == 0 {
			return nil, fmt.Errorf("%s has no steps", file)
		}
		cases[strings.TrimSuffix(filepath.Base(file), ".json")] = c
	}
	return cases, nil
}

// TestLambdaContract runs every function of template.yaml, built by its Makefile rule,
// under the Lambda Runtime Interface Emulator and invokes it with the events of its
// testdata cases: the status, body and DynamoDB side effects of each, and that every AWS
// call the binary made is allowed by the function's IAM policy.
func TestLambdaContract(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every function under the emulator; skipped in -short mode")
	}
	rie := requireRIE(t)
	fns, err := loadFunctions()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, f := range fns {
		ids[f.ID] = true
	}
	dirs, _ := filepath.Glob(filepath.Join("testdata", "*Function"))
	for _, d := range dirs {
		if !ids[filepath.Base(d)] {
			t.Errorf("%s has cases for a function template.yaml does not declare", d)
		}
	}
	for _, f := range fns {
		t.Run(f.ID, func(t *testing.T) {
			t.Parallel()
			runFunctionContract(t, rie, f)
		})
	}
}

func runFunctionContract(t *testing.T, rie string, f *function) {
	cases, err := loadCases(f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("no cases in testdata/%s/*.json: every function needs at least one event per route", f.ID)
	}
	// Every route must be exercised by at least one case.
	covered := map[string]bool{}
	for _, c := range cases {
		for _, s := range c.Steps {
			var ev struct {
				RouteKey string `json:"routeKey"`
			}
			_ = json.Unmarshal(s.Event, &ev)
			covered[ev.RouteKey] = true
		}
	}
	for _, r := range f.Routes {
		if !covered[r] {
			t.Errorf("route %s has no case in testdata/%s (an event with \"routeKey\": %q)", r, f.ID, r)
		}
	}

	bootstrap := buildFunction(t, f.ID)
	probe, err := f.processEnv("http://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	table, secretID := probe["TABLE_NAME"], probe["TOKEN_KEY_SECRET_ID"]
	local := startLocalAWS(t, table, secretID)
	env, err := f.processEnv(local.fnURL)
	if err != nil {
		t.Fatal(err)
	}
	emu, err := startEmulator(rie, bootstrap, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.stop)

	watch := &logWatch{}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		t.Run(name, func(t *testing.T) {
			fx := seed(t, local, table)
			for i, s := range cases[name].Steps {
				runStep(t, fmt.Sprintf("%s step %d", name, i+1), emu, local, fx, s, watch)
			}
		})
	}
	t.Run("logs: one line per invocation, its log line and metric document, nothing secret", func(t *testing.T) {
		// The emulator relays the bootstrap's output asynchronously: wait for the last lines.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if l, d := countLogs(emu.out.String()); l >= watch.invocations && d >= watch.invocations {
				break
			}
		}
		checkLogs(t, emu.out.String(), watch)
	})
	if t.Failed() {
		t.Logf("emulator output:\n%s", emu.out)
	}

	t.Run("IAM policy allows every call made", func(t *testing.T) {
		calls := local.calls(0)
		if len(calls) == 0 {
			t.Fatalf("%s made no AWS call; the recorder is not in the path", f.ID)
		}
		seen := map[string]bool{}
		for _, c := range calls {
			action, ok := iamAction(c.target)
			if !ok {
				t.Errorf("%s called unknown AWS target %q", f.ID, c.target)
				continue
			}
			if seen[action] {
				continue
			}
			seen[action] = true
			if _, granted := f.Actions[action]; !granted {
				t.Errorf("%s calls %s, which its IAM policy in template.yaml does not grant (grants %v)",
					f.ID, action, slices.Sorted(maps.Keys(f.Actions)))
			}
		}
	})
}

func runStep(t *testing.T, name string, emu *emulator, local *localAWS, fx *fixture, s step, watch *logWatch) {
	t.Helper()
	event, err := render(name+" event", s.Event, fx)
	if err != nil {
		t.Fatal(err)
	}
	before := len(local.calls(0))
	status, out, err := emu.invoke(event)
	if err != nil {
		t.Fatal(err)
	}
	calls := local.calls(before)
	watch.step(event, out, fx)

	response, err := decodeJSON(out)
	if err != nil {
		t.Fatalf("%s: emulator status %d, response %q is not JSON (%v): the function did not answer", name, status, out, err)
	}
	data := *fx
	data.Response = response
	if m, ok := response.(map[string]any); ok {
		if b, ok := m["body"].(string); ok {
			if m["isBase64Encoded"] == true {
				if raw, err := base64.StdEncoding.DecodeString(b); err == nil {
					b = string(raw)
				}
			}
			if v, err := decodeJSON([]byte(b)); err == nil {
				data.Body = v
			}
		}
	}
	rendered, err := render(name+" want", s.Want, data)
	if err != nil {
		t.Fatal(err)
	}
	var w want
	dec := json.NewDecoder(bytes.NewReader(rendered))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("%s want: %v", name, err)
	}

	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	if status != w.Status {
		t.Fatalf("%s: emulator status = %d, response %s; want %d", name, status, out, w.Status)
	}
	if fx.Token != "" && bytes.Contains(out, []byte(fx.Token)) {
		t.Errorf("%s: response echoes the webhook token: %s", name, out)
	}
	if w.Response != nil {
		for _, problem := range match("response", w.Response, response) {
			t.Errorf("%s: %s\nresponse: %s", name, problem, out)
		}
	}
	if w.Body != nil {
		for _, problem := range match("body", w.Body, data.Body) {
			t.Errorf("%s: %s\nresponse: %s", name, problem, out)
		}
	}
	for _, q := range w.Items {
		checkItems(t, name, local, fx.TableName, q)
	}
	if w.Calls != nil {
		got := map[string]int{}
		for _, c := range calls {
			got[c.target]++
		}
		for target, n := range w.Calls {
			if got[target] != n {
				t.Errorf("%s: %d %s calls; want %d (all calls: %v)", name, got[target], target, n, got)
			}
		}
	}
}

func checkItems(t *testing.T, name string, l *localAWS, table string, q itemQuery) {
	t.Helper()
	want := 1
	if q.Count != nil {
		want = *q.Count
	}
	// A pool's entries (pk TABLE#<pool>, sk ENTRY#…) live under its shard keys: the entry
	// with a given id under its shard's, and all of them under the EntryShards keys.
	pks := []string{q.PK}
	if pool, ok := strings.CutPrefix(q.PK, "TABLE#"); ok && (q.SKPrefix == dynamo.EntryPrefix || strings.HasPrefix(q.SK, dynamo.EntryPrefix)) {
		pks = pks[:0]
		for shard := range dynamo.EntryShards {
			if id, ok := strings.CutPrefix(q.SK, dynamo.EntryPrefix); ok && dynamo.EntryShard(id) != shard {
				continue
			}
			pks = append(pks, fmt.Sprintf("TABLE#%s#%02d", pool, shard))
		}
	}
	var items []map[string]types.AttributeValue
	for _, pk := range pks {
		items = append(items, queryItems(t, name, l, table, pk, q)...)
	}
	if len(items) != want {
		t.Errorf("%s: %d items with pk %s sk %s%s; want %d", name, len(items), q.PK, q.SK, q.SKPrefix, want)
		return
	}
	if q.Item != nil && len(items) > 0 {
		for _, problem := range match("item", q.Item, plain(&types.AttributeValueMemberM{Value: items[0]})) {
			t.Errorf("%s: %s", name, problem)
		}
	}
}

// queryItems returns the items of partition key pk that q's sort key condition selects.
func queryItems(t *testing.T, name string, l *localAWS, table, pk string, q itemQuery) []map[string]types.AttributeValue {
	t.Helper()
	in := &dynamodb.QueryInput{
		TableName:      aws.String(table),
		ConsistentRead: aws.Bool(true),
	}
	values := map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}
	switch {
	case q.SK != "":
		in.KeyConditionExpression = aws.String("pk = :pk AND sk = :sk")
		values[":sk"] = &types.AttributeValueMemberS{Value: q.SK}
	case q.SKPrefix != "":
		in.KeyConditionExpression = aws.String("pk = :pk AND begins_with(sk, :sk)")
		values[":sk"] = &types.AttributeValueMemberS{Value: q.SKPrefix}
	default:
		in.KeyConditionExpression = aws.String("pk = :pk")
	}
	in.ExpressionAttributeValues = values
	out, err := l.db.Query(context.Background(), in)
	if err != nil {
		t.Fatalf("%s: query %+v: %v", name, q, err)
	}
	return out.Items
}

// plain converts an attribute value to the JSON-like value match compares.
func plain(av types.AttributeValue) any {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return json.Number(v.Value)
	case *types.AttributeValueMemberBOOL:
		return v.Value
	case *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberB:
		return base64.StdEncoding.EncodeToString(v.Value)
	case *types.AttributeValueMemberSS:
		out := make([]any, len(v.Value))
		for i, s := range v.Value {
			out[i] = s
		}
		return out
	case *types.AttributeValueMemberL:
		out := make([]any, len(v.Value))
		for i, e := range v.Value {
			out[i] = plain(e)
		}
		return out
	case *types.AttributeValueMemberM:
		out := make(map[string]any, len(v.Value))
		for k, e := range v.Value {
			out[k] = plain(e)
		}
		return out
	}
	return fmt.Sprintf("%T", av)
}

// Placeholders a want value may use instead of a literal.
const (
	anyValue = "<any>"     // present and not null
	absent   = "<absent>"  // the key must not be there
	uuidLike = "<uuid>"    // a UUID string
	rfc3339  = "<rfc3339>" // an RFC 3339 timestamp in UTC
)

// match compares got to want: objects by the keys want names (got may have more), arrays
// element by element, numbers by their decimal text, placeholders by their rule.
func match(path string, want, got any) []string {
	if s, ok := want.(string); ok {
		switch s {
		case anyValue:
			if got == nil {
				return []string{path + " is missing or null; want a value"}
			}
			return nil
		case uuidLike:
			if g, ok := got.(string); !ok || uuid.Validate(g) != nil {
				return []string{fmt.Sprintf("%s = %v; want a UUID", path, got)}
			}
			return nil
		case rfc3339:
			g, ok := got.(string)
			if tm, err := time.Parse(time.RFC3339, g); !ok || err != nil || tm.Location() != time.UTC {
				return []string{fmt.Sprintf("%s = %v; want an RFC 3339 UTC timestamp", path, got)}
			}
			return nil
		}
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s = %v; want an object", path, got)}
		}
		var problems []string
		for _, k := range slices.Sorted(maps.Keys(w)) {
			v, present := g[k]
			if w[k] == absent {
				if present {
					problems = append(problems, fmt.Sprintf("%s.%s = %v; want it absent", path, k, v))
				}
				continue
			}
			if !present {
				problems = append(problems, fmt.Sprintf("%s.%s is missing; want %v", path, k, w[k]))
				continue
			}
			problems = append(problems, match(path+"."+k, w[k], v)...)
		}
		return problems
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s = %v; want %d elements %v", path, got, len(w), w)}
		}
		var problems []string
		for i := range w {
			problems = append(problems, match(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return problems
	case json.Number:
		if g, ok := got.(json.Number); !ok || g.String() != w.String() {
			return []string{fmt.Sprintf("%s = %v; want %v", path, got, w)}
		}
		return nil
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s = %#v; want %#v", path, got, want)}
	}
	return nil
}

func TestMatch(t *testing.T) {
	num := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name      string
		want, got any
		ok        bool
	}{
		{"subset of object", map[string]any{"a": "x"}, map[string]any{"a": "x", "b": "y"}, true},
		{"missing key", map[string]any{"a": "x"}, map[string]any{"b": "y"}, false},
		{"different string", "x", "y", false},
		{"number by text", num("36"), num("36"), true},
		{"number differs", num("36"), num("37"), false},
		{"string is not a number", num("36"), "36", false},
		{"any present", anyValue, "v", true},
		{"any null", anyValue, nil, false},
		{"absent key", map[string]any{"token": absent}, map[string]any{"id": "x"}, true},
		{"absent key present", map[string]any{"token": absent}, map[string]any{"token": "x"}, false},
		{"uuid", uuidLike, uuid.NewString(), true},
		{"not uuid", uuidLike, "abc", false},
		{"rfc3339 utc", rfc3339, "2026-05-10T12:00:00Z", true},
		{"rfc3339 offset", rfc3339, "2026-05-10T12:00:00+02:00", false},
		{"array length", []any{"a"}, []any{"a", "b"}, false},
		{"array elements", []any{"a", num("1")}, []any{"a", num("1")}, true},
		{"bool", true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := match("v", tt.want, tt.got)
			if ok := len(problems) == 0; ok != tt.ok {
				t.Errorf("match(%v, %v) = %v; want ok %v", tt.want, tt.got, problems, tt.ok)
			}
		})
	}
}
