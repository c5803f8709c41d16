// Package front is the local stand-in for an API Gateway HTTP API (payload format 2.0): it
// matches requests against the routes declared in template.yaml, builds the
// events.APIGatewayV2HTTPRequest API Gateway would send, calls the function's handler in
// process and writes its events.APIGatewayV2HTTPResponse back as HTTP.
package front

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/template"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// maxBodyBytes is the largest request body an HTTP API accepts (its 10 MB payload limit).
const maxBodyBytes = 10 << 20

// Route is one HttpApi route of template.yaml, as package template reads it.
type Route = template.Route

// Handler is a Lambda handler for API Gateway HTTP API (payload format 2.0) events.
type Handler func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// API Gateway's own response bodies.
const (
	bodyNotFound      = `{"message":"Not Found"}`
	bodyBadRequest    = `{"message":"Bad Request"}`
	bodyTooLarge      = `{"message":"Request Entity Too Large"}`
	bodyInternalError = `{"message":"Internal Server Error"}`
)

type segmentKind int

// Ordered by precedence: API Gateway prefers a literal segment to a variable, and a variable
// to a greedy variable.
const (
	literalSegment segmentKind = iota
	paramSegment
	greedySegment
)

type segment struct {
	kind  segmentKind
	value string // the literal, or the parameter name
}

type route struct {
	Route
	key      string
	segments []segment
	handler  Handler
}

type front struct {
	routes []route
	logger *slog.Logger
}

// New returns an http.Handler serving routes with handlers, keyed by Route.Function. It fails
// when a route's path template is malformed, when two routes share a method and path, or when
// a route names a function without a handler. A nil logger discards the request log.
func New(routes []Route, handlers map[string]Handler, logger *slog.Logger) (http.Handler, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &front{logger: logger}
	seen := make(map[string]bool, len(routes))
	for _, r := range routes {
		h, ok := handlers[r.Function]
		if !ok || h == nil {
			return nil, fmt.Errorf("route %s %s: no handler for function %s", r.Method, r.Path, r.Function)
		}
		segs, err := parseTemplate(r.Path)
		if err != nil {
			return nil, fmt.Errorf("route %s %s: %w", r.Method, r.Path, err)
		}
		method := strings.ToUpper(r.Method)
		key := method + " " + r.Path
		if seen[key] {
			return nil, fmt.Errorf("route %s: declared twice", key)
		}
		seen[key] = true
		f.routes = append(f.routes, route{Route: r, key: key, segments: segs, handler: h})
	}
	return f, nil
}

func parseTemplate(path string) ([]segment, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path template must start with /")
	}
	parts := strings.Split(path[1:], "/")
	segs := make([]segment, len(parts))
	for i, p := range parts {
		name, isVar := strings.CutPrefix(p, "{")
		if !isVar {
			segs[i] = segment{kind: literalSegment, value: p}
			continue
		}
		name, ok := strings.CutSuffix(name, "}")
		if !ok || name == "" {
			return nil, fmt.Errorf("malformed path variable %q", p)
		}
		if greedy, ok := strings.CutSuffix(name, "+"); ok {
			if i != len(parts)-1 || greedy == "" {
				return nil, fmt.Errorf("greedy variable %q must be the last segment", p)
			}
			segs[i] = segment{kind: greedySegment, value: greedy}
			continue
		}
		segs[i] = segment{kind: paramSegment, value: name}
	}
	return segs, nil
}

// match returns the path parameters when the decoded request segments fit r's template.
func (r *route) match(method string, segs []string) (map[string]string, bool) {
	if r.Method != "ANY" && !strings.EqualFold(r.Method, method) {
		return nil, false
	}
	params := map[string]string{}
	for i, s := range r.segments {
		if s.kind == greedySegment {
			rest := strings.Join(segs[min(i, len(segs)):], "/")
			if rest == "" {
				return nil, false
			}
			params[s.value] = rest
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		switch s.kind {
		case literalSegment:
			if segs[i] != s.value {
				return nil, false
			}
		case paramSegment:
			if segs[i] == "" {
				return nil, false
			}
			params[s.value] = segs[i]
		}
	}
	return params, len(segs) == len(r.segments)
}

// moreSpecific reports whether a should win over b when both match a request.
func moreSpecific(a, b *route) bool {
	for i := range min(len(a.segments), len(b.segments)) {
		if a.segments[i].kind != b.segments[i].kind {
			return a.segments[i].kind < b.segments[i].kind
		}
	}
	return a.Method != "ANY" && b.Method == "ANY"
}

func (f *front) find(method string, segs []string) (*route, map[string]string) {
	var best *route
	var bestParams map[string]string
	for i := range f.routes {
		r := &f.routes[i]
		params, ok := r.match(method, segs)
		if ok && (best == nil || moreSpecific(r, best)) {
			best, bestParams = r, params
		}
	}
	return best, bestParams
}

// ServeHTTP matches the request to a route and invokes its handler as API Gateway would.
func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := uuid.NewString()
	w.Header().Set("Apigw-Requestid", requestID)
	routeKey, status := "-", http.StatusNotFound
	defer func() {
		f.logger.Info("request", "method", r.Method, "route", routeKey, "status", status,
			"latency", time.Since(start), "requestId", requestID)
	}()

	rawPath := r.URL.EscapedPath()
	rt, params := f.find(r.Method, decodeSegments(rawPath))
	if rt == nil {
		writeJSON(w, status, bodyNotFound)
		return
	}
	routeKey = rt.key

	// A client that trickles its body is cut off, as API Gateway does; a server without
	// read deadlines (a test's) leaves this to the client.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(BodyReadTimeout))
	body, err := readBody(r)
	if errors.Is(err, errTooLarge) {
		status = http.StatusRequestEntityTooLarge
		writeJSON(w, status, bodyTooLarge)
		return
	}
	if err != nil {
		f.logger.Warn("read request body", "route", routeKey, "requestId", requestID, "err", err)
		status = http.StatusBadRequest
		writeJSON(w, status, bodyBadRequest)
		return
	}

	req := buildEvent(r, rt.key, rawPath, params, body, requestID, start)
	// As Lambda does, the handler's context names the invocation (its own request id).
	// A client that goes away does not cancel the invocation (API Gateway does not); the
	// function's timeout does.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), lead.FunctionTimeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: uuid.NewString()})
	resp, err := invoke(ctx, rt.handler, req)
	if err != nil {
		f.logger.Error("handler failed", "route", routeKey, "requestId", requestID, "err", err)
		status = http.StatusInternalServerError
		writeJSON(w, status, bodyInternalError)
		return
	}
	status, err = writeResponse(w, resp)
	if err != nil {
		f.logger.Error("invalid handler response", "route", routeKey, "requestId", requestID, "err", err)
		status = http.StatusInternalServerError
		writeJSON(w, status, bodyInternalError)
	}
}

// BodyReadTimeout bounds how long the front waits for a request's body.
const BodyReadTimeout = 10 * time.Second

// invoke calls h, turning a panic into an error as the Lambda runtime does.
func invoke(ctx context.Context, h Handler, req events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, req)
}

var errTooLarge = fmt.Errorf("request body larger than %d bytes", maxBodyBytes)

func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > maxBodyBytes {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(body) > maxBodyBytes {
		return nil, errTooLarge
	}
	return body, nil
}

// decodeSegments splits an escaped path into its percent-decoded segments, so an encoded
// slash stays inside its segment.
func decodeSegments(rawPath string) []string {
	parts := strings.Split(strings.TrimPrefix(rawPath, "/"), "/")
	for i, p := range parts {
		if d, err := url.PathUnescape(p); err == nil {
			parts[i] = d
		}
	}
	return parts
}

func buildEvent(r *http.Request, routeKey, rawPath string, params map[string]string, body []byte, requestID string, now time.Time) events.APIGatewayV2HTTPRequest {
	sourceIP := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = host
	}

	headers := make(map[string]string, len(r.Header)+4)
	var cookies []string
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if lower == "cookie" {
			// Payload 2.0 moves cookies out of the headers into their own field.
			for _, v := range values {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lower] = strings.Join(values, ",")
	}
	headers["host"] = r.Host
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	if xff := headers["x-forwarded-for"]; xff != "" {
		headers["x-forwarded-for"] = xff + ", " + sourceIP
	} else {
		headers["x-forwarded-for"] = sourceIP
	}
	headers["x-forwarded-proto"] = proto
	headers["x-forwarded-port"] = port

	var query map[string]string
	if values, _ := url.ParseQuery(r.URL.RawQuery); len(values) > 0 {
		query = make(map[string]string, len(values))
		for k, vs := range values {
			query[k] = strings.Join(vs, ",")
		}
	}
	if len(params) == 0 {
		params = nil
	}

	domainPrefix := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		domainPrefix = h
	}
	domainPrefix, _, _ = strings.Cut(domainPrefix, ".")

	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               rawPath,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    "123456789012",
			Stage:        "$default",
			RequestID:    requestID,
			APIID:        "local",
			DomainName:   r.Host,
			DomainPrefix: domainPrefix,
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      rawPath,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isTextual(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// isTextual reports whether API Gateway passes a body of this content type as text.
func isTextual(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json",
		mt == "application/xml",
		mt == "application/x-www-form-urlencoded",
		strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
		return true
	}
	return false
}

// writeResponse writes resp and returns the status sent. It writes nothing when the response
// is unusable, so the caller can still answer 500.
func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) (int, error) {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return 0, fmt.Errorf("decode base64 response body: %w", err)
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	if status < 100 || status > 999 {
		return 0, fmt.Errorf("status code %d out of range", status)
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status, nil
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
