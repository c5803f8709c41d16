package apigw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// Headers of the public endpoint.
const (
	TokenHeader           = "x-rocketlead-ingress-token"
	IdempotencyKeyHeader  = "idempotency-key"
	ContentTypeHeader     = "content-type"
	ContentEncodingHeader = "content-encoding"
)

// Query parameters of the public endpoint: the token, for senders that cannot set a header
// (only for a webhook that opted in), and the dry run switch.
const (
	TokenQueryParameter  = "token"
	DryRunQueryParameter = "dryRun"
)

// Ingester is the ingest service as the public endpoint uses it, one step after the other:
// authenticate the caller, store the parsed lead, keep a refused request.
type Ingester interface {
	Authenticate(ctx context.Context, webhookID, token string, fromQuery bool) (*lead.Webhook, error)
	BodyLimits() lead.Limits
	Ingest(ctx context.Context, wh *lead.Webhook, in lead.Input) (*lead.IngestResult, error)
	NewRejected(wh *lead.Webhook, contentType, idempotencyKey string, body []byte, refusal error) (*lead.RejectedRequest, error)
	Keep(ctx context.Context, r *lead.RejectedRequest) lead.RejectedFate
	// FormSettings are the webhook's form settings, for a CORS preflight (no token is
	// sent with one); an unknown webhook is a 404.
	FormSettings(ctx context.Context, webhookID string) (*lead.FormSettings, error)
}

// IngestHandler handles POST /public/ingress_webhooks/{id}. A service that is also a
// SourceIngester takes the native requests of form and ad vendors too.
func IngestHandler(svc Ingester) Endpoint {
	src, _ := svc.(SourceIngester)
	return ingestEndpoint{svc: svc, src: src}.serve
}

// ingestEndpoint is the public ingest endpoint on its service.
type ingestEndpoint struct {
	svc Ingester
	src SourceIngester // nil: only the JSON body with data
}

// ingestHeaders are the headers and query parameters of an ingest request, as read.
type ingestHeaders struct {
	contentType     string
	contentEncoding string
	idempotencyKey  string
	dryRun          bool
}

// serve answers one ingest request in the documented order of checks, first failure wins:
// authenticate (the token, or the way of the webhook's source), the origin of a
// webhook with listed origins (403), size, media type, headers, parse (by the
// webhook's source), ingest, render (the vendor's success answer; for a form body the
// form's redirect or the built-in page). A 400 from parsing on is kept as a rejected
// request (not for a dry run; without the honeypot and CAPTCHA widget fields), once per
// idempotency key or vendor delivery id; a vendor's test delivery is a dry run. OPTIONS is
// the CORS preflight.
func (h ingestEndpoint) serve(ctx context.Context, req Request) (Response, Outcome) {
	if req.RequestContext.HTTP.Method == http.MethodOptions {
		return h.preflight(ctx, req)
	}
	out := Outcome{Ingest: true, Attrs: webhookAttr(req.PathParameters["id"])}
	// The Content-Type is read first only to know how to answer a person at a browser; it
	// is judged in its turn, after authentication and size.
	hd := ingestHeaders{contentType: headerOnce(req, ContentTypeHeader)}
	wh, raw, err := h.authenticate(ctx, req)
	if err == nil {
		err = checkOrigin(wh, req)
	}
	if err == nil {
		err = h.admit(ctx, wh)
	}
	if err != nil {
		return h.answer(req, out, wh, hd, nil, err)
	}
	if raw == nil {
		if raw, err = wire.DecodeBody(req.Body, req.IsBase64Encoded, h.svc.BodyLimits().MaxBodyBytes); err != nil {
			return h.answer(req, out, wh, hd, nil, err)
		}
	}
	hd, err = readIngestHeaders(req)
	out.DryRun = hd.dryRun
	if err != nil {
		return h.answer(req, out, wh, hd, nil, err)
	}
	var res *lead.IngestResult
	parsed, err := wire.ParseSourced(wh.SourceName(), h.sourceRequest(req, hd, raw), wh.Mapping, h.svc.BodyLimits())
	if err == nil {
		if hd.idempotencyKey == "" {
			hd.idempotencyKey = parsed.DeliveryID
		}
		if parsed.Test {
			// A vendor's test delivery is a dry run: checked, never stored, remembered.
			hd.dryRun, out.DryRun = true, true
		}
		res, err = h.svc.Ingest(ctx, wh, lead.Input{Body: parsed.Body, IdempotencyKey: hd.idempotencyKey, DryRun: hd.dryRun,
			RemoteIP: req.RequestContext.HTTP.SourceIP})
	}
	if lead.Kept(err) && !hd.dryRun {
		err = h.keep(ctx, wh, hd, wire.WithoutFields(hd.contentType, raw, formFields(wh)...), err, RequestID(req))
	}
	if parsed != nil && parsed.Test && h.src != nil {
		h.recordTest(ctx, wh, err)
	}
	if src := wire.LookupSource(wh.SourceName()); src != nil {
		if err == nil {
			return h.answerSource(req, out, wh, hd, src, res)
		}
		err = src.KnownWebhookError(err)
	}
	return h.answer(req, out, wh, hd, res, err)
}

// RateLimiter is an Ingester that enforces per-webhook rate limits: Admit judges an
// authenticated request (the 429 of lead.Throttled when over).
type RateLimiter interface {
	Admit(ctx context.Context, wh *lead.Webhook) error
}

// admit judges the authenticated request against its webhook's rate limit, when the
// service has one.
func (h ingestEndpoint) admit(ctx context.Context, wh *lead.Webhook) error {
	if lim, ok := h.svc.(RateLimiter); ok {
		return lim.Admit(ctx, wh)
	}
	return nil
}

// headerOnce is a header sent once, "" otherwise.
func headerOnce(req Request, name string) string {
	if v, n := Header(req, name); n == 1 {
		return v
	}
	return ""
}

// formFields are the fields of a form post never kept: the honeypot, the CAPTCHA widget's.
func formFields(wh *lead.Webhook) []string {
	if wh.Form == nil {
		return nil
	}
	var names []string
	if wh.Form.HoneypotField != "" {
		names = append(names, wh.Form.HoneypotField)
	}
	if wh.Form.Captcha != nil {
		names = append(names, wh.Form.Captcha.Provider.ResponseField())
	}
	return names
}

// authenticate reads the token (the header, or without one ?token=) and has the service
// check it: a repeated token is a 401 before anything else. Without a token, a webhook
// whose source authenticates another way (a signature, a key in the body) is looked up
// and the request checked that way, over the raw bytes, which it then returns.
func (h ingestEndpoint) authenticate(ctx context.Context, req Request) (*lead.Webhook, []byte, error) {
	wh, err := h.authenticateToken(ctx, req)
	if !errors.Is(err, errNoToken) || h.src == nil {
		return wh, nil, err
	}
	if wh, err = h.src.LookUp(ctx, req.PathParameters["id"]); err != nil {
		if lead.ErrorCode(err) == lead.ENOTFOUND {
			// As without sources: a request without a token learns nothing about ids.
			return nil, nil, noTokenError()
		}
		return nil, nil, err
	}
	src := wire.LookupSource(wh.SourceName())
	if src == nil {
		return nil, nil, noTokenError()
	}
	raw, err := wire.DecodeBody(req.Body, req.IsBase64Encoded, h.svc.BodyLimits().MaxBodyBytes)
	if err != nil {
		return nil, nil, err
	}
	sr := wire.SourceRequest{Header: func(name string) (string, int) { return Header(req, name) }, Raw: raw, Now: h.src.Clock()}
	err = src.Authenticate(sr, func() ([][]byte, error) { return h.src.SigningSecrets(wh) },
		func(token string) bool { return h.src.TokenMatches(wh, token) })
	if err != nil {
		return nil, nil, err
	}
	return wh, raw, nil
}

// errNoToken marks a request that carries no token at all.
var errNoToken = errors.New("no token")

func noTokenError() error {
	return lead.Errorf(lead.EUNAUTHORIZED, "the %s header is missing", TokenHeader)
}

// authenticateToken checks the token of the header or ?token=; errNoToken (wrapped in the
// 401 of a missing token) when the request carries none.
func (h ingestEndpoint) authenticateToken(ctx context.Context, req Request) (*lead.Webhook, error) {
	token, n := Header(req, TokenHeader)
	fromQuery := false
	if n == 0 {
		if q, ok := req.QueryStringParameters[TokenQueryParameter]; ok {
			token, n, fromQuery = q, 1, true
		}
	}
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: %w", noTokenError(), errNoToken)
	case n > 1 || strings.Contains(token, ","):
		return nil, lead.Errorf(lead.EUNAUTHORIZED, "send the token exactly once, in the %s header", TokenHeader)
	}
	return h.svc.Authenticate(ctx, req.PathParameters["id"], token, fromQuery)
}

// readIngestHeaders reads the Content-Type and Content-Encoding (a 415 when the body cannot
// be read as sent), then the Idempotency-Key header and the dryRun query parameter (a 400,
// not kept: the request is refused before its body is looked at). The query string is
// never logged.
func readIngestHeaders(req Request) (ingestHeaders, error) {
	var hd ingestHeaders
	ct, n := Header(req, ContentTypeHeader)
	if n > 1 {
		ct = "," // several Content-Type headers: none can be trusted
	}
	hd.contentType = ct
	hd.contentEncoding, _ = Header(req, ContentEncodingHeader)
	if err := wire.CheckIngestMedia(hd.contentType, hd.contentEncoding); err != nil {
		return hd, err
	}
	var dryRunErr error
	if v, ok := req.QueryStringParameters[DryRunQueryParameter]; ok {
		switch strings.ToLower(v) {
		case "true", "1":
			hd.dryRun = true
		case "false", "0":
		default:
			dryRunErr = lead.Invalid("dryRun must be true or false",
				lead.Detail{Path: "query.dryRun", Problem: "must be true or false"})
		}
	}
	if key, n := Header(req, IdempotencyKeyHeader); n > 0 {
		// API Gateway joins a repeated header with commas: a comma is never part of a key.
		if n > 1 || strings.Contains(key, ",") || !validIdempotencyKey(key) {
			return hd, lead.Invalid("the Idempotency-Key header must be sent once, with 1 to 255 printable ASCII characters and no comma",
				lead.Detail{Path: "headers.Idempotency-Key", Problem: "invalid"})
		}
		hd.idempotencyKey = key
	}
	if dryRunErr != nil {
		return hd, dryRunErr
	}
	return hd, nil
}

// keep keeps a refused request for the operator: the service fixes its id, the error body
// naming that id is rendered here, and the service stores both. The error returned carries
// the request's fate: named by rejectedId when kept, why not otherwise.
func (h ingestEndpoint) keep(ctx context.Context, wh *lead.Webhook, hd ingestHeaders, raw []byte, refusal error, requestID string) error {
	r, err := h.svc.NewRejected(wh, hd.contentType, hd.idempotencyKey, raw, refusal)
	switch {
	case err != nil:
		return lead.WithRejected(refusal, lead.RejectedFate{Why: err.Error()})
	case r == nil:
		return refusal
	}
	r.ErrorBody = wire.ErrorJSON(lead.WithRejected(refusal, lead.RejectedFate{ID: r.ID, Kept: true}), requestID)
	return lead.WithRejected(refusal, h.svc.Keep(ctx, r))
}

// answer renders the result: the error, the dry run's 200, or the entry's 201, then
// adapted for a browser (forBrowser).
func (h ingestEndpoint) answer(req Request, out Outcome, wh *lead.Webhook, hd ingestHeaders, res *lead.IngestResult, err error) (Response, Outcome) {
	out.Result = res
	var resp Response
	switch {
	case err != nil:
		resp = ErrorResponse(err, RequestID(req))
	case res.DryRun:
		var b []byte
		if b, err = wire.DryRunJSON(res.Entry, res.NewSchemaKeys); err != nil {
			resp = ErrorResponse(err, RequestID(req))
		} else {
			resp = RawJSON(http.StatusOK, b)
		}
	default:
		if resp, err = created(res); err != nil {
			resp = ErrorResponse(err, RequestID(req))
		} else {
			out.Attrs = append(out.Attrs, createdAttrs(res)...)
		}
	}
	resp = forBrowser(req, wh, hd, resp, res, err)
	out.Status, out.Err = resp.StatusCode, err
	return resp, out
}

// created is the 201 answer of a stored or replayed entry.
func created(res *lead.IngestResult) (Response, error) {
	b, err := wire.EntryJSON(res.Entry)
	if err != nil {
		return Response{}, fmt.Errorf("render the 201 body: %w", err)
	}
	resp := RawJSON(http.StatusCreated, b)
	if res.Replayed {
		resp.Headers["Idempotent-Replayed"] = "true"
	}
	return resp, nil
}

// createdAttrs name a created entry in the log line, or say it was an idempotent replay.
func createdAttrs(res *lead.IngestResult) []any {
	if res.Honeypot {
		return []any{slog.Bool("honeypot", true)}
	}
	if res.Replayed {
		return []any{slog.Bool("replayed", true)}
	}
	return []any{slog.String("entryId", res.Entry.ID), slog.String("poolId", res.Entry.PoolID)}
}

// validIdempotencyKey reports whether k is 1–255 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	if len(k) < 1 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}
