package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/app/lambdas"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// adminPath is one management route of the fault matrix: the function's builder, the
// DynamoDB operations its request calls (each is faulted in turn), the status it answers
// without faults, whether its write is an entry, and setup, which prepares what the request
// needs (with no fault) and returns the request and a check of what that answer must have
// stored or shown.
type adminPath struct {
	name   string
	build  app.Builder[apigw.Handler]
	ops    []string
	status int
	writes writes
	setup  func(t *testing.T, r *rejected) (apigw.Request, adminCheck)
}

// writes says whether a path's write is an entry, which its "Outcome unknown" answer then
// names.
type writes bool

const (
	noEntry     writes = false // the path writes settings, a kept request or nothing
	writesEntry writes = true  // the path's write is an entry (a replay that is accepted)
)

// adminCheck checks, once the faults are off, what the answer resp stored or shows; it runs
// for the answer without faults, and for every answer when always is set.
type adminCheck struct {
	always bool
	check  func(t *testing.T, resp apigw.Response)
}

// on checks only the answer without faults.
func on(check func(t *testing.T, resp apigw.Response)) adminCheck { return adminCheck{check: check} }

// webhook reads a webhook as stored, with no fault on the way.
func (f *fixture) webhook(t *testing.T, id string) *lead.Webhook {
	t.Helper()
	w, err := dynamo.New(f.env.DB, f.env.App.TableName).Webhook(context.Background(), id)
	awstest.Must(t, err)
	return w
}

// tokenHash is the stored form of a token.
func tokenHash(t *testing.T, token string) []byte {
	t.Helper()
	h, err := lead.NewHasher([]byte(awstest.TokenKey))
	awstest.Must(t, err)
	return h.Hash(token)
}

// keepRejected locks age as a string, then sends a number: the refused request is kept, and
// its id returned.
func (r *rejected) keepRejected(t *testing.T) string {
	t.Helper()
	if resp, _ := r.do(t, r.post(`{"data":{"age":"36"}}`, r.token)); resp.StatusCode != http.StatusCreated {
		t.Fatalf("locking POST = %d %s; want 201", resp.StatusCode, resp.Body)
	}
	resp, body := r.do(t, r.post(`{"data":{"age":41,"email":"kept@example.com"}}`, r.token))
	id, _ := body["rejectedId"].(string)
	if resp.StatusCode != http.StatusBadRequest || id == "" {
		t.Fatalf("refused POST = %d %s; want 400 with a rejectedId", resp.StatusCode, resp.Body)
	}
	return id
}

// keptEntries counts the pool's entries of the kept request.
func (r *rejected) keptEntries(t *testing.T) int {
	t.Helper()
	n := 0
	for _, e := range r.entries(t) {
		if e.Data["email"] == "kept@example.com" {
			n++
		}
	}
	return n
}

func decode(t *testing.T, resp apigw.Response) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("response body %q is not JSON: %v", resp.Body, err)
	}
	return body
}

// adminPaths lists every management function of the table in pkg/app/lambdas.
func adminPaths() []adminPath {
	return []adminPath{
		{"create webhook", app.CreateWebhook, []string{"GetItem", "PutItem"}, http.StatusCreated, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				req := createReq(fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":"Form"}`, r.orgID, r.poolID))
				return req, on(func(t *testing.T, resp apigw.Response) {
					body := decode(t, resp)
					id, _ := body["id"].(string)
					token, _ := body["token"].(string)
					if w := r.webhook(t, id); w == nil || !bytes.Equal(w.TokenHash, tokenHash(t, token)) {
						t.Errorf("created webhook %s is not stored with the token shown", id)
					}
				})
			}},
		{"rotate webhook with a grace period", app.RotateWebhook, []string{"GetItem", "UpdateItem"}, http.StatusOK, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				return rotateReq(r.webhookID, `{"gracePeriodSeconds":3600}`), on(func(t *testing.T, resp apigw.Response) {
					token, _ := decode(t, resp)["token"].(string)
					w := r.webhook(t, r.webhookID)
					if !bytes.Equal(w.TokenHash, tokenHash(t, token)) {
						t.Errorf("the new token shown is not the one stored")
					}
					if !bytes.Equal(w.PreviousTokenHash, tokenHash(t, r.token)) {
						t.Errorf("the replaced token is not the one kept for the grace period")
					}
				})
			}},
		{"list webhooks", app.ListWebhooks, []string{"Query"}, http.StatusOK, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				return listReq(map[string]string{"organizationId": r.orgID}), on(func(t *testing.T, resp apigw.Response) {
					if !strings.Contains(resp.Body, r.webhookID) {
						t.Errorf("listing %s does not show webhook %s", resp.Body, r.webhookID)
					}
				})
			}},
		{"update webhook", app.UpdateWebhook, []string{"GetItem", "UpdateItem"}, http.StatusOK, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				req := adminRequest("PATCH", "PATCH /admin/ingress_webhooks/{id}", r.webhookID, `{"allowQueryToken":true}`, nil)
				return req, on(func(t *testing.T, resp apigw.Response) {
					if !r.webhook(t, r.webhookID).AllowQueryToken {
						t.Errorf("allowQueryToken is not stored")
					}
				})
			}},
		{"set a vendor's signing secret", app.SetSigningSecret, []string{"GetItem", "UpdateItem"}, http.StatusOK, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				_, err := dynamo.New(r.env.DB, r.env.App.TableName).SetWebhookSource(context.Background(), r.webhookID, "typeform", nil, nil, time.Now())
				awstest.Must(t, err)
				const secret = "typeform-secret-from-the-vendor"
				req := adminRequest("PUT", "PUT /admin/ingress_webhooks/{id}/signing-secret", r.webhookID, `{"signingSecret":"`+secret+`"}`, nil)
				return req, on(func(t *testing.T, resp apigw.Response) {
					if strings.Contains(resp.Body, secret) {
						t.Errorf("the answer %s shows the vendor's secret", resp.Body)
					}
					if got := openedSecrets(t, r.webhook(t, r.webhookID)); len(got) != 1 || got[0] != secret {
						t.Errorf("stored secrets open to %q; want the vendor's", got)
					}
				})
			}},
		{"update webhook form", app.UpdateWebhook, []string{"GetItem", "UpdateItem"}, http.StatusOK, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				// Form settings without a honeypot or CAPTCHA: the late-write case turns
				// them on after this write was answered, and they must stay on.
				req := adminRequest("PATCH", "PATCH /admin/ingress_webhooks/{id}", r.webhookID, `{"form":{"successUrl":"https://example.com/thanks"}}`, nil)
				return req, on(func(t *testing.T, resp apigw.Response) {
					if f := r.webhook(t, r.webhookID).Form; f == nil || f.SuccessURL != "https://example.com/thanks" || f.HoneypotField != "" {
						t.Errorf("form settings stored %+v; want the success URL alone", f)
					}
				})
			}},
		{"delete webhook", app.DeleteWebhook, []string{"GetItem", "PutItem"}, http.StatusNoContent, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				return deleteReq(r.webhookID), on(func(t *testing.T, resp apigw.Response) {
					if r.webhook(t, r.webhookID) != nil {
						t.Errorf("the deleted webhook is still stored")
					}
				})
			}},
		{"show schema", app.ShowSchema, []string{"GetItem"}, http.StatusOK, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				r.keepRejected(t)
				return schemaReq("GET", r.poolID, ""), on(func(t *testing.T, resp apigw.Response) {
					if !strings.Contains(resp.Body, `"age":"string"`) {
						t.Errorf("schema shown %s; want age locked as a string", resp.Body)
					}
				})
			}},
		{"patch schema", app.PatchSchema, []string{"GetItem", "UpdateItem"}, http.StatusOK, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				r.keepRejected(t)
				return schemaReq("PATCH", r.poolID, `{"set":{"age":"number"}}`), on(func(t *testing.T, resp apigw.Response) {
					if got := r.schema(t)["age"]; got != "number" {
						t.Errorf("stored age is %q; want number", got)
					}
				})
			}},
		{"list rejected", app.ListRejected, []string{"GetItem", "Query"}, http.StatusOK, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				id := r.keepRejected(t)
				return rejectedReq("GET", r.webhookID, "", "", nil), on(func(t *testing.T, resp apigw.Response) {
					if !strings.Contains(resp.Body, id) {
						t.Errorf("listing %s does not show the kept request %s", resp.Body, id)
					}
				})
			}},
		{"show rejected", app.ShowRejected, []string{"GetItem"}, http.StatusOK, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				id := r.keepRejected(t)
				return rejectedReq("GET", r.webhookID, id, "", nil), on(func(t *testing.T, resp apigw.Response) {
					if decode(t, resp)["id"] != id {
						t.Errorf("shown %s; want the kept request %s", resp.Body, id)
					}
				})
			}},
		{"replay rejected", app.ReplayRejected, []string{"GetItem", "BatchGetItem", "TransactWriteItems"}, http.StatusCreated, writesEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				id := r.keepRejected(t)
				if resp, _ := call(t, r.patch, schemaReq("PATCH", r.poolID, `{"set":{"age":"number"}}`)); resp.StatusCode != http.StatusOK {
					t.Fatalf("schema repair = %d %s; want 200", resp.StatusCode, resp.Body)
				}
				replay := func() apigw.Request { return rejectedReq("POST", r.webhookID, id, "/replay", nil) }
				return replay(), adminCheck{always: true, check: func(t *testing.T, resp apigw.Response) {
					// Whatever the faulted replay answered, one more leaves exactly one entry:
					// after a 5xx it creates the entry, unless the 5xx was "Outcome unknown",
					// whose write may have landed (then the request is gone: 404).
					again, _ := call(t, r.replay, replay())
					want := http.StatusNotFound
					if resp.StatusCode >= 500 {
						want = http.StatusCreated
					}
					landed := again.StatusCode == http.StatusNotFound && resp.StatusCode == http.StatusInternalServerError &&
						decode(t, resp)["unsettled"] == true
					if again.StatusCode != want && !landed {
						t.Errorf("the next replay after a %d = %d %s; want %d", resp.StatusCode, again.StatusCode, again.Body, want)
					}
					if n := r.keptEntries(t); n != 1 {
						t.Errorf("%d entries of the replayed request; want exactly 1", n)
					}
				}}
			}},
		{"replay rejected that fails again", app.ReplayRejected, []string{"GetItem", "BatchGetItem", "UpdateItem"}, http.StatusBadRequest, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				id := r.keepRejected(t)
				req := rejectedReq("POST", r.webhookID, id, "/replay", nil)
				return req, on(func(t *testing.T, resp apigw.Response) {
					// The request stays, with the replay's error recorded.
					_, body := call(t, r.get, rejectedReq("GET", r.webhookID, id, "", nil))
					if recorded, _ := body["error"].(map[string]any); recorded["requestId"] != req.RequestContext.RequestID {
						t.Errorf("recorded error %v; want the replay's (requestId %s)", body["error"], req.RequestContext.RequestID)
					}
				})
			}},
		{"discard rejected", app.DiscardRejected, []string{"GetItem", "PutItem"}, http.StatusNoContent, noEntry,
			func(t *testing.T, r *rejected) (apigw.Request, adminCheck) {
				id := r.keepRejected(t)
				return rejectedReq("DELETE", r.webhookID, id, "", nil), on(func(t *testing.T, resp apigw.Response) {
					kept, err := dynamo.New(r.env.DB, r.env.App.TableName).Rejected(context.Background(), r.webhookID, id, time.Now())
					awstest.Must(t, err)
					if kept != nil {
						t.Errorf("the discarded request is still kept")
					}
				})
			}},
	}
}

// adminFaultRuns is how many matrix cases run at once, each runner on an environment of its
// own: the cases mostly wait on injected faults and backoff, so more of them fit than
// t.Parallel would run on this machine's cores.
const adminFaultRuns = 12

// owned returns the items of the table that belong to the fixture's organization, pool or
// webhook, as comparable JSON without their version attribute: the fixture's share of an
// environment other fixtures use too. The version is left out because a write the store
// gives up on is fenced by writing the next version and nothing else (so that the write can
// never land later): the 5xx that follows changed no content.
func (f *fixture) owned(t *testing.T) []string {
	t.Helper()
	out, err := f.env.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(f.env.App.TableName), ConsistentRead: aws.Bool(true)})
	awstest.Must(t, err)
	var own []string
	for _, it := range out.Items {
		if dynamo.IsFence(it) {
			continue
		}
		delete(it, "version")
		b, err := json.Marshal(it)
		awstest.Must(t, err)
		if item := string(b); strings.Contains(item, f.orgID) || strings.Contains(item, f.poolID) || strings.Contains(item, f.webhookID) {
			own = append(own, item)
		}
	}
	slices.Sort(own)
	return own
}

// laterChanges are the "a later change, then the late write lands" cases of the matrix: for
// a write path, a change made (with no fault) after the path's write was answered while
// an attempt of it is still on its way, and the check, once every late write has landed,
// that the later change survived.
func laterChanges() map[string]func(t *testing.T, r *rejected, resp apigw.Response) func(t *testing.T) {
	rotate := func(t *testing.T, r *rejected) string {
		h := awstest.Build(t, app.RotateWebhook, r.env.Config, r.env.App)
		resp, body := call(t, h, rotateReq(r.webhookID, `{}`))
		token, _ := body["token"].(string)
		if resp.StatusCode != http.StatusOK || token == "" {
			t.Fatalf("the later rotation = %d %s; want 200", resp.StatusCode, resp.Body)
		}
		return token
	}
	return map[string]func(t *testing.T, r *rejected, resp apigw.Response) func(t *testing.T){
		"create webhook": func(t *testing.T, r *rejected, resp apigw.Response) func(t *testing.T) {
			id, _ := decode(t, resp)["id"].(string)
			h := awstest.Build(t, app.DeleteWebhook, r.env.Config, r.env.App)
			if resp, _ := call(t, h, deleteReq(id)); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("the later delete = %d %s; want 204", resp.StatusCode, resp.Body)
			}
			return func(t *testing.T) {
				if r.webhook(t, id) != nil {
					t.Errorf("the deleted webhook came back")
				}
			}
		},
		"rotate webhook with a grace period": func(t *testing.T, r *rejected, resp apigw.Response) func(t *testing.T) {
			// The later rotation has no grace period: the token of the first is refused at once.
			second := rotate(t, r)
			return func(t *testing.T) {
				w := r.webhook(t, r.webhookID)
				if !bytes.Equal(w.TokenHash, tokenHash(t, second)) || len(w.PreviousTokenHash) != 0 {
					t.Errorf("the later rotation was undone: the token stored is not its token, or an earlier one is still valid")
				}
			}
		},
		"update webhook": func(t *testing.T, r *rejected, resp apigw.Response) func(t *testing.T) {
			h := awstest.Build(t, app.UpdateWebhook, r.env.Config, r.env.App)
			req := adminRequest("PATCH", "PATCH /admin/ingress_webhooks/{id}", r.webhookID, `{"allowQueryToken":false}`, nil)
			if resp, _ := call(t, h, req); resp.StatusCode != http.StatusOK {
				t.Fatalf("the later opt-out = %d %s; want 200", resp.StatusCode, resp.Body)
			}
			return func(t *testing.T) {
				if r.webhook(t, r.webhookID).AllowQueryToken {
					t.Errorf("the opt-out of ?token= was undone")
				}
			}
		},
		"update webhook form": func(t *testing.T, r *rejected, resp apigw.Response) func(t *testing.T) {
			h := awstest.Build(t, app.UpdateWebhook, r.env.Config, r.env.App)
			req := adminRequest("PATCH", "PATCH /admin/ingress_webhooks/{id}", r.webhookID,
				`{"form":{"successUrl":"https://example.com/thanks","honeypotField":"_gotcha","captcha":{"provider":"turnstile","secret":"s3cret"}}}`, nil)
			if resp, _ := call(t, h, req); resp.StatusCode != http.StatusOK {
				t.Fatalf("the later honeypot and CAPTCHA = %d %s; want 200", resp.StatusCode, resp.Body)
			}
			return func(t *testing.T) {
				if f := r.webhook(t, r.webhookID).Form; f == nil || f.HoneypotField != "_gotcha" || f.Captcha == nil {
					t.Errorf("form settings %+v after the late write; want the honeypot and CAPTCHA still on", f)
				}
			}
		},
		"patch schema": func(t *testing.T, r *rejected, resp apigw.Response) func(t *testing.T) {
			if resp, _ := call(t, r.patch, schemaReq("PATCH", r.poolID, `{"set":{"age":"boolean"}}`)); resp.StatusCode != http.StatusOK {
				t.Fatalf("the later schema change = %d %s; want 200", resp.StatusCode, resp.Body)
			}
			return func(t *testing.T) {
				if got := r.schema(t)["age"]; got != "boolean" {
					t.Errorf("stored age is %q; want the later change's boolean", got)
				}
			}
		},
		"discard rejected": func(t *testing.T, r *rejected, resp apigw.Response) func(t *testing.T) {
			// Nothing can change a discarded request: the late discard must not fail loudly
			// or bring it back.
			return func(t *testing.T) {
				if listed := r.listed(t); len(listed) != 0 {
					t.Errorf("rejected requests %v after the discard; want none", listed)
				}
			}
		},
	}
}

// TestAdminPathsCallTheListedOperations keeps the fault matrix honest: it covers every HTTP
// function of the table in pkg/app/lambdas but the public ingest, and each management path
// calls exactly the DynamoDB operations the matrix faults for it.
func TestAdminPathsCallTheListedOperations(t *testing.T) {
	t.Parallel()
	covered := map[uintptr]bool{}
	for _, p := range adminPaths() {
		covered[reflect.ValueOf(p.build).Pointer()] = true
	}
	for _, fn := range lambdas.Functions() {
		if fn.HTTP != nil && fn.LogicalID != "IngressFunction" && !covered[reflect.ValueOf(fn.HTTP).Pointer()] {
			t.Errorf("%s has no path in the admin fault matrix", fn.LogicalID)
		}
	}
	for _, p := range adminPaths() {
		t.Run(p.name, func(t *testing.T) {
			r := newRejected(t)
			req, _ := p.setup(t, r)
			h := awstest.Build(t, p.build, r.env.Config, r.env.App)
			// A near-zero delay on every call counts the calls by operation without changing them.
			_, err := r.env.Faults.Add(faults.Rule{Op: "*", Kind: faults.Slow, Probability: 1, Latency: time.Nanosecond})
			awstest.Must(t, err)
			resp, err := h(context.Background(), req)
			awstest.Must(t, err)
			var ops []string
			for k := range r.env.Faults.Counts() {
				ops = append(ops, k.Op)
			}
			slices.Sort(ops)
			want := slices.Sorted(slices.Values(p.ops))
			if resp.StatusCode != p.status || !slices.Equal(ops, want) {
				t.Errorf("status %d calling %v; want %d calling %v", resp.StatusCode, ops, p.status, want)
			}
		})
	}
}

// adminFault is how often a matrix case injects its fault: on the first count calls, or on
// every call (count 0).
type adminFault struct {
	name  string
	count int
}

// TestAdminUnderEachFaultKeepsThePromises injects each fault kind on each DynamoDB operation
// of each management path, four times in a row (past the SDK's 3 attempts) or on every
// call, a lost answer once too (the SDK's retry then meets its own commit), and checks the
// promises: a success only when the change is stored (a created webhook or a rotated token
// is stored with the token shown), a 5xx only when nothing changed (no orphan webhook, no
// token hash nobody saw, no replayed entry), never another status because of a fault (no
// 404 for a read that failed or a delete whose answer was lost), Retry-After on every 503
// and an answer inside the request's deadline.
func TestAdminUnderEachFaultKeepsThePromises(t *testing.T) {
	t.Parallel()
	type matrixCase struct {
		p     adminPath
		op    string
		kind  faults.Kind
		fault adminFault
	}
	cases := make(chan matrixCase)
	var wg sync.WaitGroup
	for range adminFaultRuns {
		// Faults are set per environment: a runner's cases follow each other on its own,
		// each on a fresh organization, pool and webhook.
		env := awstest.Start(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range cases {
				t.Run(fmt.Sprintf("%s/%s %s %s", c.p.name, c.op, c.kind, c.fault.name), func(t *testing.T) {
					adminUnderFault(t, env, c.p, c.op, c.kind, c.fault.count)
				})
			}
		}()
	}
	kinds := []faults.Kind{faults.Conflict, faults.Throttle, faults.Throughput, faults.Error, faults.Slow, faults.Lost, faults.Late}
	for _, p := range adminPaths() {
		for _, op := range p.ops {
			for _, kind := range kinds {
				for _, f := range []adminFault{{"once", 1}, {"×4", 4}, {"always", 0}} {
					if f.count == 1 && kind != faults.Lost && kind != faults.Late {
						continue
					}
					cases <- matrixCase{p, op, kind, f}
				}
				if _, ok := laterChanges()[p.name]; ok && kind == faults.Late && isWrite(op) {
					cases <- matrixCase{p, op, kind, adminFault{"once, then a later change", -1}}
				}
			}
		}
	}
	close(cases)
	wg.Wait()
}

// outcomeUnknown reports whether resp is the 500 "Outcome unknown" of a write the store
// could not settle (the one 5xx that may have stored something), and checks its body: it
// says "unsettled": true, and names the entry's id exactly when the write w is an entry (an
// accepted replay); every other management write names none.
func outcomeUnknown(t *testing.T, resp apigw.Response, w writes) bool {
	t.Helper()
	if resp.StatusCode != http.StatusInternalServerError {
		return false
	}
	body := decode(t, resp)
	if body["unsettled"] != true {
		return false
	}
	if body["error"] != "Outcome unknown" || body["requestId"] == "" || (body["entryId"] != nil) != bool(w) {
		t.Errorf("unsettled answer %s; want error \"Outcome unknown\", a requestId and an entryId only for a replay", resp.Body)
	}
	return true
}

// isWrite reports whether a DynamoDB operation writes.
func isWrite(op string) bool {
	return op == "PutItem" || op == "UpdateItem" || op == "DeleteItem" || op == "TransactWriteItems"
}

// adminUnderFault runs one matrix case: count faults of kind on op (0: every call; -1: one
// late write, then the path's later change, which must survive it).
func adminUnderFault(t *testing.T, env *awstest.Env, p adminPath, op string, kind faults.Kind, count int) {
	r := rejectedOf(t, schemaAdminOf(t, newFixtureOn(t, env, nil)))
	req, check := p.setup(t, r)
	h := awstest.Build(t, p.build, env.Config, env.App)
	before := r.owned(t)
	later := laterChanges()[p.name]
	if count < 0 {
		count = 1
	} else {
		later = nil
	}
	rule := faults.Rule{Op: op, Kind: kind, Count: count, Latency: 1500 * time.Millisecond}
	if kind == faults.Late {
		rule.Latency = lateDelay
	}
	budget := lead.RequestBudget
	if count == 0 {
		// A fault on every call in a short deadline, to keep the test quick.
		rule.Probability = 1
		budget = 2 * time.Second
	}
	_, err := env.Faults.Add(rule)
	awstest.Must(t, err)
	defer env.Faults.Reset()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	resp, err := h(ctx, req)
	took := time.Since(start)
	env.Faults.Reset()
	if err != nil {
		t.Fatalf("handler error %v; want a response", err)
	}
	var survived func(t *testing.T)
	if later != nil {
		if resp.StatusCode != p.status {
			t.Fatalf("status %d after one late write; want %d (the retry outlasts it): %s", resp.StatusCode, p.status, resp.Body)
		}
		survived = later(t, r, resp)
	}
	if kind == faults.Late {
		// The answer is final: whatever the late writes still on their way do when they land
		// must not change it.
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := env.Faults.WaitLate(wctx)
		awstest.Must(t, err)
	}
	if survived != nil {
		survived(t)
		return
	}
	changed := !slices.Equal(r.owned(t), before)
	unsettled := outcomeUnknown(t, resp, p.writes)
	switch {
	case resp.StatusCode >= 500 && changed && !unsettled:
		// every 5xx but "Outcome unknown" means nothing stored, exactly.
		t.Errorf("%d, but the table changed: %s", resp.StatusCode, resp.Body)
	case resp.StatusCode < 500 && resp.StatusCode != p.status:
		t.Errorf("status %d because of a fault: %s; want %d or a 5xx", resp.StatusCode, resp.Body, p.status)
	case resp.StatusCode == p.status && req.RequestContext.HTTP.Method == http.MethodGet && changed:
		t.Errorf("a read changed the table")
	}
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Headers["Retry-After"] == "" {
		t.Errorf("503 without Retry-After")
	}
	if took > lead.FunctionTimeout {
		// Lambda ends the function at its timeout: an answer after it is no answer. The
		// handler aims at the context's deadline, but on a starved machine the scheduler,
		// not the handler, decides how late past it the answer comes out.
		t.Errorf("answered after %v; want inside the function's %v timeout", took, lead.FunctionTimeout)
	}
	if count > 0 && kind != faults.Slow && resp.StatusCode != p.status && took < gaveUpAfter(budget) {
		t.Errorf("status %d after %d faults, %v into a %v budget; want %d (the retries outlast them): %s",
			resp.StatusCode, count, took, budget, p.status, resp.Body)
	}
	if resp.StatusCode == p.status || check.always {
		check.check(t, resp)
	}
}

// gaveUpAfter is the earliest a request with budget may give up retrying: the store starts
// no attempt inside the settle reserve (1.5 s) of the deadline and waits at most a second
// between attempts. A request that gave up sooner gave up with time to spare; one that gave
// up later may have been slowed by the machine rather than by the faults, and its 503 or
// "Outcome unknown" is the product keeping its deadline.
func gaveUpAfter(budget time.Duration) time.Duration {
	return budget - 1500*time.Millisecond - time.Second
}

// lateDelay is how long a late write of the "later change" cases stays on its way: long
// enough for the later change to be answered first, short enough to keep the tests quick.
const lateDelay = 300 * time.Millisecond

// landLate waits until every write the injector held back has reached the engine, and
// requires that each was refused by its condition: a late write may change nothing that
// was answered after it.
func landLate(t *testing.T, env *awstest.Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	results, err := env.Faults.WaitLate(ctx)
	awstest.Must(t, err)
	if len(results) == 0 {
		t.Fatalf("no late write was held back")
	}
	for _, r := range results {
		if r.Status == http.StatusOK {
			t.Errorf("the late %s landed after the later change and was applied", r.Op)
		}
	}
}

// adminOn is the ingest fixture and its management handlers on env.
func adminOn(t *testing.T, env *awstest.Env) (*fixture, map[string]apigw.Handler) {
	t.Helper()
	f := newFixtureOn(t, env, nil)
	hs := map[string]apigw.Handler{}
	for name, build := range map[string]app.Builder[apigw.Handler]{
		"create": app.CreateWebhook, "rotate": app.RotateWebhook, "update": app.UpdateWebhook,
		"delete": app.DeleteWebhook, "list": app.ListWebhooks,
	} {
		h := awstest.Build(t, build, env.Config, env.App)
		hs[name] = h
	}
	return f, hs
}

// TestAdminWriteThatCannotBeSettledIsOutcomeUnknown: every 5xx but one means
// nothing stored, exactly. DynamoDB answers every UpdateItem with a 500 (a server fault: it
// may have applied it), so neither the rotation nor the fence that would refuse it settles,
// and the read-backs find the webhook as it was: the store cannot know whether the rotation
// will yet land. The answer is the 500 "Outcome unknown" with "unsettled": true, never a
// plain 500, and the request's metrics count it in UnsettledWrites.
func TestAdminWriteThatCannotBeSettledIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	env := awstest.Start(t)
	f, hs := adminOn(t, env)
	awstest.Must(t, env.Faults.AddSpec("UpdateItem:error:1"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := hs["rotate"](ctx, rotateReq(f.webhookID, `{}`))
	env.Faults.Reset()
	awstest.Must(t, err)
	if !outcomeUnknown(t, resp, noEntry) {
		t.Fatalf("rotation DynamoDB never answered = %d %s; want 500 Outcome unknown with unsettled true", resp.StatusCode, resp.Body)
	}
	if !bytes.Equal(f.webhook(t, f.webhookID).TokenHash, tokenHash(t, f.token)) {
		t.Errorf("the webhook's token changed under an injected 500 that applies nothing")
	}
}

// TestALateWriteUndoesNoLaterChange is the "a later change, then the late write lands" shape
// of the admin fault matrix ("an answered write is final"): the first write of a
// change reaches DynamoDB only after a later change was answered, and the later change
// must survive it.
func TestALateWriteUndoesNoLaterChange(t *testing.T) {
	t.Parallel()
	t.Run("rotate, rotate again, the first rotation lands", func(t *testing.T) {
		t.Parallel()
		env := awstest.Start(t)
		f, hs := adminOn(t, env)
		_, err := env.Faults.Add(faults.Rule{Op: "UpdateItem", Kind: faults.Late, Count: 1, Latency: lateDelay})
		awstest.Must(t, err)
		resp, body := call(t, hs["rotate"], rotateReq(f.webhookID, `{}`))
		first, _ := body["token"].(string)
		if resp.StatusCode != http.StatusOK || first == "" {
			t.Fatalf("first rotation = %d %s; want 200 with a token", resp.StatusCode, resp.Body)
		}
		resp, body = call(t, hs["rotate"], rotateReq(f.webhookID, `{}`))
		second, _ := body["token"].(string)
		if resp.StatusCode != http.StatusOK || second == "" {
			t.Fatalf("second rotation = %d %s; want 200 with a token", resp.StatusCode, resp.Body)
		}
		landLate(t, env)
		if got := ingest(t, f.handler, f.webhookID, second); got != http.StatusCreated {
			t.Errorf("the token of the later rotation = %d; want 201", got)
		}
		if got := ingest(t, f.handler, f.webhookID, first); got != http.StatusUnauthorized {
			t.Errorf("the rotated-away token = %d; want 401", got)
		}
	})
	t.Run("opt in to ?token=, opt out, the opt-in lands", func(t *testing.T) {
		t.Parallel()
		env := awstest.Start(t)
		f, hs := adminOn(t, env)
		_, err := env.Faults.Add(faults.Rule{Op: "UpdateItem", Kind: faults.Late, Count: 1, Latency: lateDelay})
		awstest.Must(t, err)
		for _, allow := range []bool{true, false} {
			req := adminRequest("PATCH", "PATCH /admin/ingress_webhooks/{id}", f.webhookID, fmt.Sprintf(`{"allowQueryToken":%t}`, allow), nil)
			if resp, _ := call(t, hs["update"], req); resp.StatusCode != http.StatusOK {
				t.Fatalf("allowQueryToken %t = %d %s; want 200", allow, resp.StatusCode, resp.Body)
			}
		}
		landLate(t, env)
		if f.webhook(t, f.webhookID).AllowQueryToken {
			t.Errorf("the webhook accepts ?token= again")
		}
		_, body := call(t, hs["list"], listReq(map[string]string{"organizationId": f.orgID}))
		if listed := fmt.Sprint(body["webhooks"]); !strings.Contains(listed, "allowQueryToken:false") {
			t.Errorf("listing %s; want allowQueryToken false", listed)
		}
		byQuery := f.post(`{"data":{"email":"ada@example.com"}}`, "")
		byQuery.QueryStringParameters = map[string]string{apigw.TokenQueryParameter: f.token}
		if resp, _ := f.do(t, byQuery); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("?token= after the opt-out = %d %s; want 401", resp.StatusCode, resp.Body)
		}
	})
	t.Run("form without honeypot and CAPTCHA, then with them, the first lands", func(t *testing.T) {
		t.Parallel()
		env := awstest.Start(t)
		f, hs := adminOn(t, env)
		_, err := env.Faults.Add(faults.Rule{Op: "UpdateItem", Kind: faults.Late, Count: 1, Latency: lateDelay})
		awstest.Must(t, err)
		for _, form := range []string{`{"successUrl":"https://example.com/t"}`,
			`{"successUrl":"https://example.com/t","honeypotField":"_gotcha","captcha":{"provider":"hcaptcha","secret":"s3cret"}}`} {
			req := adminRequest("PATCH", "PATCH /admin/ingress_webhooks/{id}", f.webhookID, `{"form":`+form+`}`, nil)
			if resp, _ := call(t, hs["update"], req); resp.StatusCode != http.StatusOK {
				t.Fatalf("form %s = %d %s; want 200", form, resp.StatusCode, resp.Body)
			}
		}
		landLate(t, env)
		if w := f.webhook(t, f.webhookID); w.Form == nil || w.Form.HoneypotField != "_gotcha" || w.Form.Captcha == nil {
			t.Fatalf("form settings %+v; want the honeypot and CAPTCHA still on", w.Form)
		}
		h := awstest.Build(t, app.Ingest, env.Config, env.App)
		spam := f.post(`{"data":{"email":"bot@example.com","_gotcha":"filled"}}`, f.token)
		if resp, _ := h(context.Background(), spam); resp.StatusCode != http.StatusCreated || len(f.entries(t)) != 0 {
			t.Errorf("a filled honeypot = %d with %d entries; want a 201 that stored nothing", resp.StatusCode, len(f.entries(t)))
		}
		unsolved := f.post(`{"data":{"email":"ada@example.com"}}`, f.token)
		if resp, _ := h(context.Background(), unsolved); resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, "Captcha failed") {
			t.Errorf("a post without a CAPTCHA response = %d %s; want 400 Captcha failed", resp.StatusCode, resp.Body)
		}
	})
	t.Run("create, delete, the create lands", func(t *testing.T) {
		t.Parallel()
		env := awstest.Start(t)
		f, hs := adminOn(t, env)
		_, err := env.Faults.Add(faults.Rule{Op: "PutItem", Kind: faults.Late, Count: 1, Latency: lateDelay})
		awstest.Must(t, err)
		resp, body := call(t, hs["create"], createReq(fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":"Form"}`, f.orgID, f.poolID)))
		id, _ := body["id"].(string)
		token, _ := body["token"].(string)
		if resp.StatusCode != http.StatusCreated || id == "" {
			t.Fatalf("create = %d %s; want 201", resp.StatusCode, resp.Body)
		}
		if resp, _ := call(t, hs["delete"], deleteReq(id)); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete = %d %s; want 204", resp.StatusCode, resp.Body)
		}
		landLate(t, env)
		if resp, _ := call(t, hs["delete"], deleteReq(id)); resp.StatusCode != http.StatusNotFound {
			t.Errorf("deleting again = %d %s; want 404", resp.StatusCode, resp.Body)
		}
		if got := ingest(t, f.handler, id, token); got != http.StatusNotFound && got != http.StatusUnauthorized {
			t.Errorf("a POST to the deleted webhook = %d; want it refused", got)
		}
		if f.webhook(t, id) != nil {
			t.Errorf("the deleted webhook is read back")
		}
		resp, body = call(t, hs["list"], listReq(map[string]string{"organizationId": f.orgID}))
		if resp.StatusCode != http.StatusOK || strings.Contains(fmt.Sprint(body["webhooks"]), id) {
			t.Errorf("the deleted webhook is listed: %v", body["webhooks"])
		}
	})
}
