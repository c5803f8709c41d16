package front_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocketlead/ingress-webhooks/infra/local/front"
)

// recorder is a front.Handler that keeps the last event and answers with resp/err.
type recorder struct {
	calls int
	got   events.APIGatewayV2HTTPRequest
	resp  events.APIGatewayV2HTTPResponse
	err   error
	panic bool
}

func (r *recorder) handle(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	r.calls++
	r.got = req
	if r.panic {
		panic("boom")
	}
	return r.resp, r.err
}

var testRoutes = []front.Route{
	{Method: "POST", Path: "/public/ingress_webhooks/{id}", Function: "Ingress"},
	{Method: "GET", Path: "/admin/ingress_webhooks", Function: "List"},
	{Method: "GET", Path: "/files/{proxy+}", Function: "Files"},
	{Method: "GET", Path: "/files/special", Function: "Special"},
	{Method: "ANY", Path: "/any/{x}", Function: "Any"},
	{Method: "DELETE", Path: "/any/{x}", Function: "AnyDelete"},
}

// newFront builds a front over testRoutes with one recorder per function.
func newFront(t *testing.T, logger *slog.Logger) (http.Handler, map[string]*recorder) {
	t.Helper()
	recs := map[string]*recorder{}
	handlers := map[string]front.Handler{}
	for _, r := range testRoutes {
		rec := &recorder{resp: events.APIGatewayV2HTTPResponse{StatusCode: 201}}
		recs[r.Function] = rec
		handlers[r.Function] = rec.handle
	}
	h, err := front.New(testRoutes, handlers, logger)
	if err != nil {
		t.Fatalf("New = %v; want nil", err)
	}
	return h, recs
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantFunc   string
		wantKey    string
		wantParams map[string]string
	}{
		{
			name: "path parameter", method: "POST", target: "/public/ingress_webhooks/3f1c7a52-0000-4000-8000-000000000001",
			wantStatus: 201, wantFunc: "Ingress", wantKey: "POST /public/ingress_webhooks/{id}",
			wantParams: map[string]string{"id": "3f1c7a52-0000-4000-8000-000000000001"},
		},
		{
			name: "encoded path parameter is decoded", method: "POST", target: "/public/ingress_webhooks/a%2Fb%20c",
			wantStatus: 201, wantFunc: "Ingress", wantParams: map[string]string{"id": "a/b c"},
			wantKey: "POST /public/ingress_webhooks/{id}",
		},
		{name: "literal route", method: "GET", target: "/admin/ingress_webhooks", wantStatus: 201, wantFunc: "List", wantKey: "GET /admin/ingress_webhooks"},
		{
			name: "greedy variable", method: "GET", target: "/files/a/b/c", wantStatus: 201, wantFunc: "Files",
			wantKey: "GET /files/{proxy+}", wantParams: map[string]string{"proxy": "a/b/c"},
		},
		{name: "literal beats greedy", method: "GET", target: "/files/special", wantStatus: 201, wantFunc: "Special", wantKey: "GET /files/special"},
		{
			name: "ANY route", method: "PATCH", target: "/any/1", wantStatus: 201, wantFunc: "Any",
			wantKey: "ANY /any/{x}", wantParams: map[string]string{"x": "1"},
		},
		{
			name: "specific method beats ANY", method: "DELETE", target: "/any/1", wantStatus: 201, wantFunc: "AnyDelete",
			wantKey: "DELETE /any/{x}", wantParams: map[string]string{"x": "1"},
		},
		{name: "unknown path", method: "POST", target: "/nope", wantStatus: 404},
		{name: "known path, wrong method", method: "GET", target: "/public/ingress_webhooks/1", wantStatus: 404},
		{name: "missing path parameter", method: "POST", target: "/public/ingress_webhooks/", wantStatus: 404},
		{name: "extra segment", method: "POST", target: "/public/ingress_webhooks/1/2", wantStatus: 404},
		{name: "greedy needs a segment", method: "GET", target: "/files/", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, recs := newFront(t, nil)
			w := serve(h, httptest.NewRequest(tt.method, tt.target, nil))
			if w.Code != tt.wantStatus {
				t.Fatalf("%s %s status = %d; want %d", tt.method, tt.target, w.Code, tt.wantStatus)
			}
			if tt.wantStatus == 404 {
				if got := w.Body.String(); got != `{"message":"Not Found"}` {
					t.Errorf("%s %s body = %s; want API Gateway's Not Found", tt.method, tt.target, got)
				}
				for fn, r := range recs {
					if r.calls != 0 {
						t.Errorf("%s %s called %s; want no handler", tt.method, tt.target, fn)
					}
				}
				return
			}
			for fn, r := range recs {
				if want := fn == tt.wantFunc; (r.calls == 1) != want {
					t.Errorf("%s %s: %s called %d times; want called=%v", tt.method, tt.target, fn, r.calls, want)
				}
			}
			got := recs[tt.wantFunc].got
			if got.RouteKey != tt.wantKey || got.RequestContext.RouteKey != tt.wantKey {
				t.Errorf("routeKey = %q / %q; want %q", got.RouteKey, got.RequestContext.RouteKey, tt.wantKey)
			}
			if !reflect.DeepEqual(got.PathParameters, tt.wantParams) {
				t.Errorf("pathParameters = %v; want %v", got.PathParameters, tt.wantParams)
			}
		})
	}
}

func TestEventShape(t *testing.T) {
	h, recs := newFront(t, nil)
	req := httptest.NewRequest("POST", "http://hooks.example.com:3000/public/ingress_webhooks/abc?a=1&a=2&b=x%20y", strings.NewReader(`{"data":{}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("X-RocketLead-Ingress-Token", "first")
	req.Header.Add("x-rocketlead-ingress-token", "second")
	req.Header.Set("User-Agent", "curl/8")
	req.Header.Add("Cookie", "a=1; b=2")
	serve(h, req)
	got := recs["Ingress"].got

	checks := []struct {
		name      string
		got, want any
	}{
		{"version", got.Version, "2.0"},
		{"rawPath", got.RawPath, "/public/ingress_webhooks/abc"},
		{"rawQueryString", got.RawQueryString, "a=1&a=2&b=x%20y"},
		{"repeated header joined", got.Headers["x-rocketlead-ingress-token"], "first,second"},
		{"content-type lower-cased", got.Headers["content-type"], "application/json"},
		{"host header", got.Headers["host"], "hooks.example.com:3000"},
		{"no cookie header", got.Headers["cookie"], ""},
		{"cookies", got.Cookies, []string{"a=1", "b=2"}},
		{"query repeats joined", got.QueryStringParameters, map[string]string{"a": "1,2", "b": "x y"}},
		{"body as text", got.Body, `{"data":{}}`},
		{"not base64", got.IsBase64Encoded, false},
		{"accountId", got.RequestContext.AccountID, "123456789012"},
		{"apiId", got.RequestContext.APIID, "local"},
		{"stage", got.RequestContext.Stage, "$default"},
		{"domainName", got.RequestContext.DomainName, "hooks.example.com:3000"},
		{"domainPrefix", got.RequestContext.DomainPrefix, "hooks"},
		{"http.method", got.RequestContext.HTTP.Method, "POST"},
		{"http.path", got.RequestContext.HTTP.Path, "/public/ingress_webhooks/abc"},
		{"http.protocol", got.RequestContext.HTTP.Protocol, "HTTP/1.1"},
		{"http.sourceIp", got.RequestContext.HTTP.SourceIP, "192.0.2.1"},
		{"http.userAgent", got.RequestContext.HTTP.UserAgent, "curl/8"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s = %#v; want %#v", c.name, c.got, c.want)
			}
		})
	}
	for name := range got.Headers {
		if name != strings.ToLower(name) {
			t.Errorf("header %q is not lower-case", name)
		}
	}
	if got.RequestContext.RequestID == "" || got.RequestContext.TimeEpoch == 0 || got.RequestContext.Time == "" {
		t.Errorf("requestContext requestId/time/timeEpoch = %q/%q/%d; want all set",
			got.RequestContext.RequestID, got.RequestContext.Time, got.RequestContext.TimeEpoch)
	}
}

func TestRequestIDIsFreshPerRequest(t *testing.T) {
	h, recs := newFront(t, nil)
	seen := map[string]bool{}
	for range 3 {
		w := serve(h, httptest.NewRequest("GET", "/admin/ingress_webhooks", nil))
		id := recs["List"].got.RequestContext.RequestID
		if seen[id] {
			t.Fatalf("requestId %q repeated", id)
		}
		seen[id] = true
		if got := w.Header().Get("Apigw-Requestid"); got != id {
			t.Errorf("apigw-requestid header = %q; want %q", got, id)
		}
	}
}

func TestEventBody(t *testing.T) {
	binary := []byte{0x89, 'P', 'N', 'G', 0, 0xff}
	nonUTF8JSON := []byte("{\"data\":{\"k\":\"\xff\xfe\"}}")
	tests := []struct {
		name        string
		contentType string
		body        []byte
		wantBase64  bool
	}{
		{name: "json text", contentType: "application/json; charset=utf-8", body: []byte(`{"data":{"a":"é"}}`)},
		{name: "vendor json", contentType: "application/vnd.api+json", body: []byte(`{}`)},
		{name: "plain text", contentType: "text/plain", body: []byte("hello")},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: []byte("a=1")},
		{name: "xml", contentType: "application/xml", body: []byte("<a/>")},
		{name: "binary body", contentType: "application/octet-stream", body: binary, wantBase64: true},
		{name: "non-UTF-8 json", contentType: "application/json", body: nonUTF8JSON, wantBase64: true},
		{name: "no content type", body: []byte(`{}`), wantBase64: true},
		{name: "empty body", contentType: "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, recs := newFront(t, nil)
			req := httptest.NewRequest("POST", "/public/ingress_webhooks/1", bytes.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			serve(h, req)
			got := recs["Ingress"].got
			if got.IsBase64Encoded != tt.wantBase64 {
				t.Fatalf("isBase64Encoded = %v; want %v", got.IsBase64Encoded, tt.wantBase64)
			}
			decoded := []byte(got.Body)
			if got.IsBase64Encoded {
				var err error
				if decoded, err = base64.StdEncoding.DecodeString(got.Body); err != nil {
					t.Fatalf("body is not base64: %v", err)
				}
			}
			if !bytes.Equal(decoded, tt.body) {
				t.Errorf("decoded body = %q; want %q", decoded, tt.body)
			}
		})
	}
}

func TestGatewayErrors(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(r *recorder)
		body       io.Reader
		wantStatus int
		wantBody   string
		wantCalls  int
	}{
		{
			name:       "body over 10 MiB",
			body:       bytes.NewReader(make([]byte, 10<<20+1)),
			wantStatus: 413, wantBody: `{"message":"Request Entity Too Large"}`,
		},
		{
			name: "body of exactly 10 MiB is accepted", body: bytes.NewReader(make([]byte, 10<<20)),
			wantStatus: 201, wantCalls: 1,
		},
		{
			name:       "handler error",
			setup:      func(r *recorder) { r.err = errors.New("dynamodb unavailable") },
			wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`, wantCalls: 1,
		},
		{
			name:       "handler panic",
			setup:      func(r *recorder) { r.panic = true },
			wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`, wantCalls: 1,
		},
		{
			name: "invalid base64 response body",
			setup: func(r *recorder) {
				r.resp = events.APIGatewayV2HTTPResponse{StatusCode: 201, Body: "!!", IsBase64Encoded: true}
			},
			wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`, wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h, recs := newFront(t, slog.New(slog.NewJSONHandler(&logs, nil)))
			rec := recs["Ingress"]
			if tt.setup != nil {
				tt.setup(rec)
			}
			w := serve(h, httptest.NewRequest("POST", "/public/ingress_webhooks/1", tt.body))
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d; want %d", w.Code, tt.wantStatus)
			}
			if tt.wantBody != "" && w.Body.String() != tt.wantBody {
				t.Errorf("body = %s; want %s", w.Body.String(), tt.wantBody)
			}
			if rec.calls != tt.wantCalls {
				t.Errorf("handler calls = %d; want %d", rec.calls, tt.wantCalls)
			}
			if tt.wantStatus == 500 && w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", w.Header().Get("Content-Type"))
			}
		})
	}
}

func TestResponse(t *testing.T) {
	tests := []struct {
		name        string
		resp        events.APIGatewayV2HTTPResponse
		wantStatus  int
		wantBody    string
		wantHeaders http.Header
	}{
		{
			name:       "zero status is 200",
			resp:       events.APIGatewayV2HTTPResponse{Body: "ok"},
			wantStatus: 200, wantBody: "ok",
		},
		{
			name: "headers, multi-value headers and cookies",
			resp: events.APIGatewayV2HTTPResponse{
				StatusCode:        201,
				Headers:           map[string]string{"content-type": "application/json"},
				MultiValueHeaders: map[string][]string{"X-Multi": {"a", "b"}},
				Cookies:           []string{"s=1; Path=/", "t=2"},
				Body:              `{"id":"1"}`,
			},
			wantStatus: 201, wantBody: `{"id":"1"}`,
			wantHeaders: http.Header{
				"Content-Type": {"application/json"},
				"X-Multi":      {"a", "b"},
				"Set-Cookie":   {"s=1; Path=/", "t=2"},
			},
		},
		{
			name:       "base64 body is decoded",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: base64.StdEncoding.EncodeToString([]byte{0, 0xff}), IsBase64Encoded: true},
			wantStatus: 200, wantBody: "\x00\xff",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, recs := newFront(t, nil)
			recs["List"].resp = tt.resp
			w := serve(h, httptest.NewRequest("GET", "/admin/ingress_webhooks", nil))
			if w.Code != tt.wantStatus || w.Body.String() != tt.wantBody {
				t.Errorf("response = %d %q; want %d %q", w.Code, w.Body.String(), tt.wantStatus, tt.wantBody)
			}
			for k, want := range tt.wantHeaders {
				if got := w.Header().Values(k); !reflect.DeepEqual(got, want) {
					t.Errorf("header %s = %q; want %q", k, got, want)
				}
			}
		})
	}
}

func TestRequestLogOmitsHeadersAndBody(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newFront(t, slog.New(slog.NewJSONHandler(&logs, nil)))
	const secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	req := httptest.NewRequest("POST", "/public/ingress_webhooks/1", strings.NewReader(`{"data":{"email":"lead@example.com"}}`))
	req.Header.Set("x-rocketlead-ingress-token", secret)
	req.Header.Set("Content-Type", "application/json")
	w := serve(h, req)

	line := logs.String()
	for _, want := range []string{`"route":"POST /public/ingress_webhooks/{id}"`, `"status":201`, `"requestId":"` + w.Header().Get("Apigw-Requestid") + `"`, `"latency"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log %s lacks %s", line, want)
		}
	}
	for _, leak := range []string{secret, "lead@example.com"} {
		if strings.Contains(line, leak) {
			t.Errorf("log %s contains %q", line, leak)
		}
	}
}

func TestNewRejectsBadRoutes(t *testing.T) {
	ok := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{}, nil
	}
	tests := []struct {
		name   string
		routes []front.Route
	}{
		{name: "function without handler", routes: []front.Route{{Method: "GET", Path: "/a", Function: "Missing"}}},
		{name: "path without slash", routes: []front.Route{{Method: "GET", Path: "a", Function: "Fn"}}},
		{name: "unclosed variable", routes: []front.Route{{Method: "GET", Path: "/a/{id", Function: "Fn"}}},
		{name: "greedy not last", routes: []front.Route{{Method: "GET", Path: "/{p+}/a", Function: "Fn"}}},
		{name: "duplicate route", routes: []front.Route{
			{Method: "GET", Path: "/a", Function: "Fn"}, {Method: "get", Path: "/a", Function: "Fn"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := front.New(tt.routes, map[string]front.Handler{"Fn": ok}, nil); err == nil {
				t.Errorf("New(%v) = nil error; want an error", tt.routes)
			}
		})
	}
}

func TestOverHTTP(t *testing.T) {
	seen := make(chan events.APIGatewayV2HTTPRequest, 1)
	h, err := front.New(testRoutes[:1], map[string]front.Handler{
		"Ingress": func(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			seen <- req
			return events.APIGatewayV2HTTPResponse{StatusCode: 201, Body: `{"id":"x"}`}, nil
		},
	}, nil)
	if err != nil {
		t.Fatalf("New = %v; want nil", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	req, err := http.NewRequest("POST", srv.URL+"/public/ingress_webhooks/1", strings.NewReader(`{"data":{}}`))
	if err != nil {
		t.Fatalf("NewRequest = %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("X-Rocketlead-Ingress-Token", "aa")
	req.Header.Add("X-Rocketlead-Ingress-Token", "bb")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("POST = %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || string(body) != `{"id":"x"}` {
		t.Errorf("POST = %d %s; want 201 {\"id\":\"x\"}", resp.StatusCode, body)
	}
	got := <-seen
	if tok := got.Headers["x-rocketlead-ingress-token"]; tok != "aa,bb" {
		t.Errorf("token header seen by handler = %q; want %q", tok, "aa,bb")
	}
	if got.RequestContext.HTTP.SourceIP != "127.0.0.1" {
		t.Errorf("sourceIp = %q; want 127.0.0.1", got.RequestContext.HTTP.SourceIP)
	}
}
