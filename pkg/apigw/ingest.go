package apigw

import (
	"context"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// Headers of the public endpoint.
const (
	TokenHeader          = "x-rocketlead-ingress-token"
	IdempotencyKeyHeader = "idempotency-key"
)

// Query parameters of the public endpoint: the token, for senders that cannot set a header
// (only for a webhook that opted in), and the dry run switch.
const (
	TokenQueryParameter  = "token"
	DryRunQueryParameter = "dryRun"
)

// Ingester stores one lead entry per authenticated request.
type Ingester interface {
	Ingest(ctx context.Context, cmd lead.IngestCommand) (*lead.IngestResult, error)
}

// IngestHandler handles POST /public/ingress_webhooks/{id}.
func IngestHandler(svc Ingester, logger *slog.Logger) Handler {
	return func(ctx context.Context, req Request) (Response, error) {
		id := req.PathParameters["id"]
		var res *lead.IngestResult
		cmd, err := IngestCommand(req)
		if err == nil {
			res, err = svc.Ingest(ctx, cmd)
		}
		var resp Response
		attrs := webhookAttr(id)
		noteIngest(ctx, cmd, res)
		switch {
		case err != nil:
			resp = ErrorResponse(err, RequestID(req))
		case res.DryRun:
			b, rerr := wire.DryRunJSON(res.Entry, res.NewSchemaKeys)
			if rerr != nil {
				err = rerr
				resp = ErrorResponse(err, RequestID(req))
			} else {
				resp = RawJSON(http.StatusOK, b)
				attrs = append(attrs, slog.Bool("dryRun", true))
			}
		default:
			resp = RawJSON(http.StatusCreated, res.Body)
			if res.Replayed {
				resp.Headers["Idempotent-Replayed"] = "true"
				attrs = append(attrs, slog.Bool("replayed", true))
			} else {
				attrs = append(attrs, slog.String("entryId", res.Entry.ID), slog.String("poolId", res.Entry.PoolID))
			}
		}
		logOutcome(ctx, logger, req, resp.StatusCode, err, attrs...)
		return resp, nil
	}
}

// IngestCommand reads an ingest request: the token header (or, without one, the token query
// parameter), the Idempotency-Key header, the dryRun query parameter and the undecoded
// body. A missing or repeated token is a 401 at once, the first check of all; a bad
// Idempotency-Key or dryRun travels in the command, to be reported only after the caller is
// authenticated. The query string is never logged.
func IngestCommand(req Request) (lead.IngestCommand, error) {
	token, n := Header(req, TokenHeader)
	fromQuery := false
	if n == 0 {
		if q, ok := req.QueryStringParameters[TokenQueryParameter]; ok {
			token, n, fromQuery = q, 1, true
		}
	}
	switch {
	case n == 0:
		return lead.IngestCommand{}, lead.Errorf(lead.EUNAUTHORIZED, "the %s header is missing", TokenHeader)
	case n > 1 || strings.Contains(token, ","):
		return lead.IngestCommand{}, lead.Errorf(lead.EUNAUTHORIZED, "send the token exactly once, in the %s header", TokenHeader)
	}
	cmd := lead.IngestCommand{
		WebhookID:      req.PathParameters["id"],
		Token:          token,
		TokenFromQuery: fromQuery,
		Payload:        Payload(req),
		RequestID:      RequestID(req),
	}
	if ct, n := Header(req, "content-type"); n == 1 {
		cmd.ContentType = ct
	}
	if v, ok := req.QueryStringParameters[DryRunQueryParameter]; ok {
		switch strings.ToLower(v) {
		case "true", "1":
			cmd.DryRun = true
		case "false", "0":
		default:
			cmd.QueryErr = lead.Invalid("dryRun must be true or false",
				lead.Detail{Path: "query.dryRun", Problem: "must be true or false"})
		}
	}
	if key, n := Header(req, IdempotencyKeyHeader); n > 0 {
		// API Gateway joins a repeated header with commas: a comma is never part of a key.
		if n > 1 || strings.Contains(key, ",") || !validIdempotencyKey(key) {
			cmd.IdempotencyKeyErr = lead.Invalid("the Idempotency-Key header must be sent once, with 1 to 255 printable ASCII characters and no comma",
				lead.Detail{Path: "headers.Idempotency-Key", Problem: "invalid"})
		} else {
			cmd.IdempotencyKey = key
		}
	}
	return cmd, nil
}

// ReplayPayload rebuilds the payload of a kept request from its Content-Type and its body,
// through Payload, so a replay parses the body exactly as the request was parsed.
func ReplayPayload(contentType string, body []byte) lead.Payload {
	req := Request{Body: string(body), Headers: map[string]string{}}
	if contentType != "" {
		req.Headers["content-type"] = contentType
	}
	return Payload(req)
}

// Payload picks the body's reader from the Content-Type header (parameters such as charset
// allowed; no header means JSON): JSON for application/json and +json types, JSON for
// text/plain (a browser's simple request), a form for application/x-www-form-urlencoded
// (whose JSON object body, curl -d's default, is read as JSON) and multipart/form-data,
// and a 415 for anything else. Nothing is read until the caller is authenticated.
func Payload(req Request) lead.Payload {
	ct, n := Header(req, "content-type")
	if n == 0 || ct == "" {
		return &wire.JSONPayload{Body: req.Body, Base64: req.IsBase64Encoded}
	}
	unsupported := &wire.UnsupportedPayload{Body: req.Body, Base64: req.IsBase64Encoded}
	if n > 1 {
		return unsupported
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return unsupported
	}
	switch {
	case mt == wire.MediaJSON || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
		return &wire.JSONPayload{Body: req.Body, Base64: req.IsBase64Encoded}
	case mt == wire.MediaText:
		return &wire.JSONPayload{Body: req.Body, Base64: req.IsBase64Encoded, Declared: wire.MediaText}
	case mt == wire.MediaURLEncoded:
		return &wire.FormPayload{Body: req.Body, Base64: req.IsBase64Encoded}
	case mt == wire.MediaMultipart:
		return &wire.FormPayload{Body: req.Body, Base64: req.IsBase64Encoded, Multipart: true, Boundary: params["boundary"]}
	}
	unsupported.MediaType = mt
	return unsupported
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
