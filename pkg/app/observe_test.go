package app_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/app/lambdas"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// throttlingTransport answers DynamoDB Query (the webhook read) as throttled while armed, so a request fails
// with a 500 after the SDK's retries.
type throttlingTransport struct {
	next  http.RoundTripper
	armed atomic.Bool
}

func (tt *throttlingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if tt.armed.Load() && strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".Query") {
		return &http.Response{
			StatusCode: 400,
			Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
			Body: io.NopCloser(strings.NewReader(`{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",` +
				`"message":"injected throttle"}`)),
			Request: r,
		}, nil
	}
	return tt.next.RoundTrip(r)
}

// observed is the ingest fixture with every handler built by the app builders, their log
// lines and EMF documents captured.
type observed struct {
	*admin
	logs, emf bytes.Buffer
	throttle  *throttlingTransport
	ingest    apigw.Handler
}

func newObserved(t *testing.T) *observed {
	t.Helper()
	o := &observed{throttle: &throttlingTransport{next: http.DefaultTransport}}
	o.admin = newAdmin(t)
	cfg := o.env.Config.Copy()
	cfg.HTTPClient = &http.Client{Transport: o.throttle}
	// Three attempts without waiting: the counts are known and the test quick.
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			so.RateLimiter = ratelimit.None
		})
	}
	env := o.env.App
	env.LogLevel = "DEBUG"
	env.MetricsWriter = &o.emf
	env.MetricsNamespace = "Test/Ingress"
	logger := slog.New(slog.NewJSONHandler(&o.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	var err error
	for _, b := range []struct {
		h     *apigw.Handler
		fn    string
		build app.Builder[apigw.Handler]
	}{
		{&o.ingest, "IngressFunction", app.Ingest}, {&o.create, "CreateWebhookFunction", app.CreateWebhook},
		{&o.rotate, "RotateWebhookFunction", app.RotateWebhook}, {&o.list, "ListWebhooksFunction", app.ListWebhooks},
		{&o.remove, "DeleteWebhookFunction", app.DeleteWebhook},
	} {
		env.FunctionName = b.fn
		*b.h, err = b.build(ctx, cfg, env, logger)
		awstest.Must(t, err)
	}
	return o
}

// lines decodes every JSON line of buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// The lead values of the requests below: none may reach a log line or a metric document.
const (
	leadEmail = "ada.lovelace-private@example.org"
	leadName  = "Ada Private-Lovelace"
	leadPhone = "+44 7700 900123"
)

func TestEveryRequestLogsOneLineWithItsFieldsAndNothingSecret(t *testing.T) {
	o := newObserved(t)
	hasher, err := lead.NewHasher([]byte(awstest.TokenKey))
	awstest.Must(t, err)
	secrets := []string{o.token, hex.EncodeToString(hasher.Hash(o.token)), string(hasher.Hash(o.token)), leadEmail, leadName, leadPhone}
	leadBody := fmt.Sprintf(`{"data":{"email":%q,"name":%q,"phone":%q,"age":36}}`, leadEmail, leadName, leadPhone)
	withKey := func(body, key string) apigw.Request {
		r := o.post(body, o.token)
		r.Headers["idempotency-key"] = key
		return r
	}
	unknown := o.post(leadBody, o.token)
	unknown.PathParameters["id"] = "0190c2a4-0000-7000-8000-000000000000"
	dryRun := o.post(leadBody, o.token)
	dryRun.QueryStringParameters = map[string]string{apigw.DryRunQueryParameter: "true"}
	byQuery := o.post(fmt.Sprintf(`{"data":{"email":%q}}`, leadEmail), "")
	byQuery.QueryStringParameters = map[string]string{apigw.TokenQueryParameter: o.token}
	xml := o.post(`<lead>`+leadName+`</lead>`, o.token)
	xml.Headers["content-type"] = "application/xml"
	huge := o.post(`{"data":{"email":"`+strings.Repeat("x", 300*1024)+`"}}`, o.token)

	tests := []struct {
		name       string
		h          apigw.Handler
		req        apigw.Request
		status     int
		outcome    string
		throttle   bool
		metrics    map[string]float64 // metric → value the request's EMF document must hold
		wantFields []string           // beyond the fields of every line
	}{
		{"201 created locks new keys", o.ingest, withKey(leadBody, "k-1"), 201, "created", false,
			map[string]float64{"LeadsAccepted": 1, "ClientErrors": 0, "SchemaKeysLocked": 4, "IdempotentReplays": 0, "ServerErrors": 0},
			[]string{"webhookId", "SchemaKeysLocked"}},
		{"200 dry run counts nothing", o.ingest, dryRun, 200, "dry_run", false,
			map[string]float64{"LeadsAccepted": 0, "ClientErrors": 0, "SchemaKeysLocked": 0}, []string{"webhookId", "dryRun"}},
		{"401 token in the query string of a webhook that does not allow it", o.ingest, byQuery, 401, "unauthorized", false,
			map[string]float64{"ClientErrors": 1}, []string{"webhookId"}},
		{"415 unsupported content type", o.ingest, xml, 415, "unsupported", false,
			map[string]float64{"ClientErrors": 1}, nil},
		{"201 idempotent replay", o.ingest, withKey(leadBody, "k-1"), 201, "replayed", false,
			map[string]float64{"IdempotentReplays": 1, "LeadsAccepted": 0, "ClientErrors": 0}, []string{"webhookId"}},
		{"400 type mismatch", o.ingest, o.post(fmt.Sprintf(`{"data":{"email":%q,"age":"thirty-six"}}`, leadEmail), o.token), 400, "invalid", false,
			map[string]float64{"ClientErrors": 1, "LeadsAccepted": 0}, []string{"webhookId"}},
		{"400 not JSON", o.ingest, o.post(`{"data":`+leadName, o.token), 400, "invalid", false,
			map[string]float64{"ClientErrors": 1}, nil},
		{"401 wrong token", o.ingest, o.post(leadBody, strings.Repeat("ab", 32)), 401, "unauthorized", false,
			map[string]float64{"ClientErrors": 1}, nil},
		{"401 no token", o.ingest, o.post(leadBody, ""), 401, "unauthorized", false, map[string]float64{"ClientErrors": 1}, nil},
		{"404 unknown webhook", o.ingest, unknown, 404, "not_found", false, map[string]float64{"ClientErrors": 1}, nil},
		{"413 too large", o.ingest, huge, 413, "too_large", false, map[string]float64{"ClientErrors": 1}, nil},
		{"422 key reused", o.ingest, withKey(`{"data":{"email":"other@example.com"}}`, "k-1"), 422, "key_reused", false,
			map[string]float64{"ClientErrors": 1}, nil},
		{"503 after throttled retries", o.ingest, o.post(leadBody, o.token), 503, "unavailable", true,
			map[string]float64{"ServerErrors": 1, "Throttles": 3, "AWSRetries": 2, "ClientErrors": 0, "LeadsAccepted": 0},
			[]string{"error", "level", "ServerErrors"}},
		{"admin 201 create", o.create, createReq(fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":"Make"}`, o.orgID, o.poolID)), 201, "created", false,
			map[string]float64{"Requests": 1, "ServerErrors": 0}, []string{"webhookId", "poolId"}},
		{"admin 200 list", o.list, listReq(map[string]string{"organizationId": o.orgID}), 200, "ok", false, map[string]float64{"Requests": 1}, nil},
		{"admin 400 bad cursor", o.list, listReq(map[string]string{"organizationId": o.orgID, "cursor": "%%%"}), 400, "invalid", false,
			map[string]float64{"Requests": 1}, nil},
		{"admin 200 rotate", o.rotate, rotateReq(o.webhookID, ""), 200, "ok", false, map[string]float64{"Requests": 1}, []string{"webhookId"}},
		{"admin 404 delete unknown", o.remove, deleteReq("0190c2a4-0000-7000-8000-000000000000"), 404, "not_found", false,
			map[string]float64{"Requests": 1}, []string{"webhookId"}},
	}
	common := []string{"timestamp", "requestId", "status", "FunctionName", "Outcome", "Requests", "Duration", "_aws"}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o.logs.Reset()
			o.emf.Reset()
			o.throttle.armed.Store(tt.throttle)
			defer o.throttle.armed.Store(false)
			lambdaID := fmt.Sprintf("lambda-req-%d", i)
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: lambdaID})
			if tt.throttle {
				// A deadline inside the store's settle reserve: no retries beyond the SDK's.
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Second)
				defer cancel()
			}
			resp, err := tt.h(ctx, tt.req)
			if err != nil || resp.StatusCode != tt.status {
				t.Fatalf("handler = %d, %v; want %d", resp.StatusCode, err, tt.status)
			}
			for _, buf := range []*bytes.Buffer{&o.logs, &o.emf} {
				for _, s := range secrets {
					if strings.Contains(buf.String(), s) {
						t.Errorf("output %s holds a token, hash or lead value %q", buf.String(), s)
					}
				}
			}
			// One line per request: the log line and the EMF document at once.
			if other := lines(t, &o.logs); len(other) != 0 {
				t.Errorf("lines beside the request's: %s", o.logs.String())
			}
			docs := lines(t, &o.emf)
			if len(docs) != 1 {
				t.Fatalf("request lines = %d (%s); want exactly 1", len(docs), o.emf.String())
			}
			l := docs[0]
			for _, k := range append(append([]string{}, common...), tt.wantFields...) {
				if _, ok := l[k]; !ok {
					t.Errorf("log line %v lacks %q", l, k)
				}
			}
			if l["status"] != float64(tt.status) || l["Outcome"] != tt.outcome || l["requestId"] != tt.req.RequestContext.RequestID {
				t.Errorf("line %v; want status %d, Outcome %s, requestId %s", l, tt.status, tt.outcome, tt.req.RequestContext.RequestID)
			}
			if calls, _ := l["AWSCalls"].(float64); tt.status != 401 && tt.status != 413 && tt.outcome != "invalid" && calls < 1 {
				t.Errorf("AWSCalls = %v; want the request's DynamoDB calls counted", l["AWSCalls"])
			}
			for _, k := range []string{"headers", "body", "token", "data"} {
				if _, ok := l[k]; ok {
					t.Errorf("log line has %q: %v", k, l)
				}
			}
			doc := l
			dir := doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
			if dir["Namespace"] != "Test/Ingress" {
				t.Errorf("namespace = %v; want Test/Ingress", dir["Namespace"])
			}
			if got := fmt.Sprint(dir["Dimensions"]); got != "[[FunctionName] [FunctionName Outcome]]" {
				t.Errorf("dimensions = %s; want FunctionName and FunctionName+Outcome only", got)
			}
			if doc["FunctionName"] == "" {
				t.Errorf("FunctionName empty: %v", doc)
			}
			declared := map[string]bool{}
			for _, m := range dir["Metrics"].([]any) {
				declared[m.(map[string]any)["Name"].(string)] = true
			}
			for name, want := range tt.metrics {
				// A count of zero is left out of the line: a missing count reads as zero.
				if _, present := doc[name]; declared[name] != present || (want != 0 && doc[name] != want) || (want == 0 && present) {
					t.Errorf("metric %s = %v (declared %v); want %v", name, doc[name], declared[name], want)
				}
			}
			if _, ok := doc["Duration"]; !ok {
				t.Errorf("EMF document lacks Duration: %v", doc)
			}
		})
	}
}

func TestRejectedRequestHookReachesTheLogAndMetrics(t *testing.T) {
	tests := []struct {
		name       string
		rejected   *lead.RejectedFate
		wantMetric string
		wantID     bool
	}{
		{"kept", &lead.RejectedFate{ID: "rej-1", Kept: true}, "RejectedRequestsKept", true},
		{"not kept", &lead.RejectedFate{Kept: false}, "RejectedRequestsNotKept", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs, emf bytes.Buffer
			inner := apigw.IngestHandler(refusingIngester{fate: *tt.rejected})
			env := app.Env{FunctionName: "IngressFunction", MetricsWriter: &emf}
			h := apigw.Observe(inner, apigw.Observer{Function: "IngressFunction", Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: env.Metrics()})
			req := apigw.Request{RouteKey: "POST /public/ingress_webhooks/{id}", Headers: map[string]string{apigw.TokenHeader: strings.Repeat("a", 64)},
				PathParameters: map[string]string{"id": "x"}, Body: `{"data":{}}`}
			if resp, _ := h(context.Background(), req); resp.StatusCode != 400 {
				t.Fatalf("status %d; want 400", resp.StatusCode)
			}
			var doc map[string]any
			awstest.Must(t, json.Unmarshal(emf.Bytes(), &doc))
			if _, has := doc["rejectedId"]; has != tt.wantID || logs.Len() != 0 {
				t.Errorf("line %v (other lines %q); want rejectedId present %v, nothing else", doc, logs.String(), tt.wantID)
			}
			if doc[tt.wantMetric] != 1.0 {
				t.Errorf("EMF %s = %v; want 1", tt.wantMetric, doc[tt.wantMetric])
			}
		})
	}
}

// refusingIngester authenticates every caller, refuses every lead with a 400 and gives the
// refused request the fate it was told.
type refusingIngester struct{ fate lead.RejectedFate }

func (refusingIngester) Authenticate(context.Context, string, string, bool) (*lead.Webhook, error) {
	return &lead.Webhook{ID: "w"}, nil
}

func (refusingIngester) BodyLimits() lead.Limits { return lead.DefaultLimits() }

func (refusingIngester) FormSettings(context.Context, string) (*lead.FormSettings, error) {
	return nil, nil
}

func (refusingIngester) Ingest(context.Context, *lead.Webhook, lead.Input) (*lead.IngestResult, error) {
	return nil, lead.Invalid("type mismatch")
}

func (refusingIngester) NewRejected(wh *lead.Webhook, _, _ string, _ []byte, _ error) (*lead.RejectedRequest, error) {
	return &lead.RejectedRequest{ID: "rej-1", WebhookID: wh.ID}, nil
}

func (r refusingIngester) Keep(context.Context, *lead.RejectedRequest) lead.RejectedFate {
	return r.fate
}

// Every HTTP function of lambdas.Functions, built by its builder, writes exactly one line per
// request, its log line and EMF document at once: a new function's builder cannot forget the
// observer.
func TestEveryHTTPFunctionWritesOneLinePerRequest(t *testing.T) {
	env := awstest.Start(t)
	for _, fn := range lambdas.Functions() {
		if fn.HTTP == nil {
			continue
		}
		t.Run(fn.LogicalID, func(t *testing.T) {
			var logs, emf bytes.Buffer
			e := env.App
			e.FunctionName, e.MetricsWriter = fn.LogicalID, &emf
			h, err := fn.HTTP(context.Background(), env.Config, e, slog.New(slog.NewJSONHandler(&logs, nil)))
			awstest.Must(t, err)
			// An id that names nothing: every handler answers it without panicking.
			req := apigw.Request{RouteKey: "X /x", PathParameters: map[string]string{"id": "0190c2a4-0000-7000-8000-000000000000",
				"tableId": "0190c2a4-0000-7000-8000-000000000000"}, Body: "{}"}
			if _, err := h(context.Background(), req); err != nil {
				t.Fatalf("handler error %v", err)
			}
			ls, docs := lines(t, &logs), lines(t, &emf)
			if len(ls) != 0 || len(docs) != 1 {
				t.Fatalf("other lines %d, request lines %d; want 0 and 1:\n%s\n%s", len(ls), len(docs), logs.String(), emf.String())
			}
			if _, ok := docs[0]["_aws"]; !ok || docs[0]["FunctionName"] != fn.LogicalID {
				t.Errorf("line %v; want an EMF document with FunctionName %s", docs[0], fn.LogicalID)
			}
		})
	}
}
