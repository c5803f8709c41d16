package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/infra/template"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/app/entryevents"
)

// The log budget of a request, in bytes ingested by CloudWatch Logs, all sources included:
// the function's lines, Lambda's system records at the template's SystemLogLevel and the API
// access log line rendered from the template's format with typical values.
const (
	// An accepted lead, the service's unit of cost.
	budgetAcceptedLead = 700
	// The first lead with new keys also counts the keys it locked.
	budgetNewKeysLead = 760
	// A refused request names what became of it (rejectedId when kept).
	budgetRefused = 820
	// A request refused before the body is read, and a management call.
	budgetUnauthorized = 720
	budgetAdmin        = 720
	// A stream batch, whatever its records: no access log line.
	budgetStreamBatch = 520
)

// The stack of the typical names: SAM names a function <stack>-<LogicalId>-<12 characters>,
// the FunctionName every line carries; each character of a longer stack name adds a byte.
const budgetStack = "rocketlead-prod"

// budgetCanary is lead data the requests carry: no log line may hold it.
const budgetCanary = "canary.7f3e9@budget.example"

// TestLogBytesPerRequestStayWithinBudget runs the real handlers with the real observer as
// the template deploys them (LOG_LEVEL INFO, the functions' physical names, API Gateway's
// request ids) and counts what each request makes CloudWatch Logs ingest. Each function line
// must be one EMF document (its metrics declared in "_aws" and present as members) and hold
// no lead value.
func TestLogBytesPerRequestStayWithinBudget(t *testing.T) {
	tpl, err := template.Load("../../template.yaml")
	awstest.Must(t, err)
	access := accessLogFormat(t, tpl)
	system := systemRecordBytes(t, tpl)

	a := newAdmin(t)
	var out bytes.Buffer
	env := a.env.App
	env.LogLevel, env.MetricsWriter = "INFO", &out
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	physical := func(id string) string { return budgetStack + "-" + id + "-Q1w2E3r4T5y6" }
	build := func(id string, b app.Builder[apigw.Handler]) apigw.Handler {
		e := env
		e.FunctionName = physical(id)
		h, err := b(context.Background(), a.env.Config, e, logger)
		awstest.Must(t, err)
		return h
	}
	ingest, list := build("IngressFunction", app.Ingest), build("ListWebhooksFunction", app.ListWebhooks)
	streamEnv := env
	streamEnv.FunctionName = physical("EntryEventsFunction")
	stream, err := entryevents.EntryEvents(context.Background(), a.env.Config, streamEnv, logger)
	awstest.Must(t, err)

	leadBody := func(note string) string {
		return fmt.Sprintf(`{"data":{"email":%q,"note":%s}}`, budgetCanary, note)
	}
	seq := 0
	apiReq := func(r apigw.Request, method string) apigw.Request {
		seq++
		// API Gateway's request ids are 16 characters, like "JLmgHhXLoAMEMXA=".
		r.RequestContext.RequestID = fmt.Sprintf("JLmgHhXLo%06dA=", seq)
		r.RequestContext.HTTP.Method = method
		return r
	}
	// Lock the keys email and note and let the instance's pool cache learn them: an
	// accepted lead is one whose keys are known.
	for range 2 {
		if resp, err := ingest(context.Background(), apiReq(a.post(leadBody(`"warm"`), a.token), "POST")); err != nil || resp.StatusCode != 201 {
			t.Fatalf("warm-up = %d %v %s", resp.StatusCode, err, resp.Body)
		}
	}
	tests := []struct {
		name     string
		function string
		h        apigw.Handler
		req      func() apigw.Request
		method   string
		status   int
		budget   int
	}{
		{"201 accepted lead", "IngressFunction", ingest, func() apigw.Request { return a.post(leadBody(`"canary-note-4b2a"`), a.token) },
			"POST", 201, budgetAcceptedLead},
		{"201 accepted lead locking 2 new keys", "IngressFunction", ingest, func() apigw.Request {
			return a.post(fmt.Sprintf(`{"data":{"email":%q,"city%d":"Canaryville","zip%d":"C4N4RY"}}`, budgetCanary, seq, seq), a.token)
		}, "POST", 201, budgetNewKeysLead},
		{"400 refused and kept", "IngressFunction", ingest, func() apigw.Request { return a.post(leadBody(`424242.4242`), a.token) },
			"POST", 400, budgetRefused},
		{"401 wrong token", "IngressFunction", ingest, func() apigw.Request {
			return a.post(leadBody(`"canary-note-4b2a"`), strings.Repeat("ab", 32))
		}, "POST", 401, budgetUnauthorized},
		{"admin 200 list", "ListWebhooksFunction", list, func() apigw.Request { return listReq(map[string]string{"organizationId": a.orgID}) },
			"GET", 200, budgetAdmin},
	}
	var report strings.Builder
	fmt.Fprintf(&report, "%-38s %9s %7s %7s %6s %7s\n", "path", "function", "access", "system", "total", "budget")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The typical request: one whose AWS calls needed no retry (a loaded test machine
			// may time an attempt out), else up to two more of the same path.
			var req apigw.Request
			var resp apigw.Response
			for range 3 {
				out.Reset()
				req = apiReq(tt.req(), tt.method)
				var err error
				if resp, err = tt.h(context.Background(), req); err != nil || resp.StatusCode != tt.status {
					t.Fatalf("handler = %d, %v %s; want %d", resp.StatusCode, err, resp.Body, tt.status)
				}
				if !strings.Contains(out.String(), `"AWSRetries"`) {
					break
				}
			}
			fn := out.String()
			acc := access(map[string]string{
				"requestId": req.RequestContext.RequestID, "httpMethod": tt.method, "routeKey": req.RouteKey, "path": req.RawPath,
				"status": strconv.Itoa(resp.StatusCode), "integrationStatus": strconv.Itoa(resp.StatusCode),
				"responseLength": strconv.Itoa(len(resp.Body)),
			})
			for _, s := range []string{budgetCanary, "Canaryville", "C4N4RY", "canary-note-4b2a", "424242", a.token} {
				if strings.Contains(fn, s) || strings.Contains(acc, s) {
					t.Errorf("the logs hold the lead value or token %q:\n%s%s", s, fn, acc)
				}
			}
			total := len(fn) + len(acc) + system[tt.function]
			fmt.Fprintf(&report, "%-38s %9d %7d %7d %6d %7d\n", tt.name, len(fn), len(acc), system[tt.function], total, tt.budget)
			t.Logf("%d B: function %d B, access log %d B, system %d B\n%s%s", total, len(fn), len(acc), system[tt.function], fn, acc)
			if total > tt.budget {
				t.Errorf("%d B per request; want at most %d B", total, tt.budget)
			}
			checkEMFLine(t, fn)
		})
	}
	t.Run("stream batch of one entry", func(t *testing.T) {
		batch, _ := streamBatch(t, a.env, 1)
		out.Reset()
		resp, err := stream(context.Background(), batch)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("stream handler = %v, %v", resp, err)
		}
		fn := out.String()
		if strings.Contains(fn, `"exact"`) || strings.Contains(fn, "0.1234567890") {
			t.Errorf("the batch line holds lead data:\n%s", fn)
		}
		total := len(fn) + system["EntryEventsFunction"]
		fmt.Fprintf(&report, "%-38s %9d %7d %7d %6d %7d\n", "stream batch (one line per batch)", len(fn), 0, system["EntryEventsFunction"], total, budgetStreamBatch)
		t.Logf("%d B: function %d B, system %d B\n%s", total, len(fn), system["EntryEventsFunction"], fn)
		if total > budgetStreamBatch {
			t.Errorf("%d B per batch; want at most %d B", total, budgetStreamBatch)
		}
		checkEMFLine(t, fn)
	})
	t.Logf("log bytes per request:\n%s", report.String())
}

// checkEMFLine checks that out is one JSON line and an EMF document: every directive's
// dimensions and metrics are members of the line, dimension values strings, metric values
// numbers.
func checkEMFLine(t *testing.T, out string) {
	t.Helper()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("output = %q; want exactly one line", out)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("line %q is not a JSON object: %v", out, err)
	}
	var meta struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	}
	raw, _ := json.Marshal(doc["_aws"])
	if err := json.Unmarshal(raw, &meta); err != nil || meta.Timestamp == 0 || len(meta.CloudWatchMetrics) == 0 {
		t.Fatalf("line %s: _aws = %s (%v); want a timestamp and metric directives", out, raw, err)
	}
	for _, d := range meta.CloudWatchMetrics {
		if d.Namespace == "" || len(d.Dimensions) == 0 || len(d.Metrics) == 0 {
			t.Errorf("directive %+v lacks a namespace, dimensions or metrics", d)
		}
		for _, set := range d.Dimensions {
			for _, name := range set {
				if _, ok := doc[name].(string); !ok {
					t.Errorf("dimension %s = %v; want a string member", name, doc[name])
				}
			}
		}
		for _, m := range d.Metrics {
			if _, ok := doc[m.Name].(float64); !ok {
				t.Errorf("metric %s = %v; want a number member", m.Name, doc[m.Name])
			}
		}
	}
}

var contextVarRE = regexp.MustCompile(`\$context\.[A-Za-z.]+[A-Za-z]`)

// accessLogFormat returns a renderer of the API's access log line: the template's format
// with each $context variable given by the request or a typical value. A variable without
// one fails the test: a new field must say what it costs.
func accessLogFormat(t *testing.T, tpl *template.Template) func(map[string]string) string {
	t.Helper()
	res, _ := tpl.Doc["Resources"].(map[string]any)
	api, _ := res["HttpApi"].(map[string]any)
	props, _ := api["Properties"].(map[string]any)
	als, _ := props["AccessLogSettings"].(map[string]any)
	format, _ := als["Format"].(string)
	if format == "" {
		t.Fatal("template.yaml: HttpApi has no AccessLogSettings.Format")
	}
	typical := map[string]string{
		"requestTime":                   "03/Dec/2026:12:14:49 +0000",
		"protocol":                      "HTTP/1.1",
		"responseLatency":               "48",
		"integrationLatency":            "41",
		"integrationErrorMessage":       "-",
		"error.message":                 "-",
		"authorizer.error":              "-",
		"identity.sourceIp":             "203.0.113.77",
		"identity.userAgent":            "Zapier",
		"identity.userArn":              "-",
		"integration.requestId":         "6f7f0961-4e2f-4b13-9e2d-3f4f5f6f7f8f",
		"integration.integrationStatus": "200",
	}
	return func(req map[string]string) string {
		line := contextVarRE.ReplaceAllStringFunc(format, func(v string) string {
			name := strings.TrimPrefix(v, "$context.")
			if val, ok := req[name]; ok {
				return val
			}
			if val, ok := typical[name]; ok {
				return val
			}
			t.Fatalf("access log variable %s has no typical value here: add one", v)
			return ""
		})
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("access log line %s is not JSON: %v", line, err)
		}
		return line + "\n"
	}
}

// systemRecordBytes returns, per function logical id, the bytes of the system records Lambda
// writes for each successful invocation at the function's SystemLogLevel (JSON format):
// platform.start and platform.report at INFO, none at WARN.
func systemRecordBytes(t *testing.T, tpl *template.Template) map[string]int {
	t.Helper()
	const (
		start  = `{"time":"2026-12-03T12:14:49.123Z","type":"platform.start","record":{"requestId":"6f7f0961-4e2f-4b13-9e2d-3f4f5f6f7f8f","version":"$LATEST"}}` + "\n"
		report = `{"time":"2026-12-03T12:14:49.170Z","type":"platform.report","record":{"requestId":"6f7f0961-4e2f-4b13-9e2d-3f4f5f6f7f8f",` +
			`"metrics":{"durationMs":45.123,"billedDurationMs":46,"memorySizeMB":256,"maxMemoryUsedMB":38},"status":"success"}}` + "\n"
	)
	fns, err := tpl.Functions()
	awstest.Must(t, err)
	out := map[string]int{}
	for _, f := range fns {
		lc, _ := f.Properties["LoggingConfig"].(map[string]any)
		switch level, _ := lc["SystemLogLevel"].(string); level {
		case "WARN":
			out[f.LogicalID] = 0
		case "INFO", "":
			out[f.LogicalID] = len(start) + len(report)
		default:
			t.Fatalf("%s SystemLogLevel %q: its records per invocation are not known here", f.LogicalID, level)
		}
	}
	return out
}
