package apigw

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// Headers of the public endpoint.
const (
	TokenHeader          = "x-rocketlead-ingress-token"
	IdempotencyKeyHeader = "idempotency-key"
)

// Ingester stores one lead entry per authenticated request.
type Ingester interface {
	Ingest(ctx context.Context, cmd lead.IngestCommand) (*lead.IngestResult, error)
}

// IngestHandler handles POST /public/ingress_webhooks/{id}.
func IngestHandler(svc Ingester, logger *slog.Logger) Handler {
	return func(ctx context.Context, req Request) (Response, error) {
		start := time.Now()
		id := req.PathParameters["id"]
		var res *lead.IngestResult
		cmd, err := IngestCommand(req)
		if err == nil {
			res, err = svc.Ingest(ctx, cmd)
		}
		var resp Response
		attrs := []any{slog.Float64("latencyMs", float64(time.Since(start).Microseconds())/1000)}
		if lead.IsUUID(id) {
			attrs = append(attrs, slog.String("webhookId", id))
		}
		if err != nil {
			resp = ErrorResponse(err, RequestID(req))
		} else {
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

// IngestCommand reads an ingest request: the token header, the Idempotency-Key header and
// the undecoded JSON body. A missing or repeated token header is a 401 at once, the first
// check of all; a bad Idempotency-Key travels in the command, to be reported only after the
// caller is authenticated.
func IngestCommand(req Request) (lead.IngestCommand, error) {
	token, n := Header(req, TokenHeader)
	switch {
	case n == 0:
		return lead.IngestCommand{}, lead.Errorf(lead.EUNAUTHORIZED, "the %s header is missing", TokenHeader)
	case n > 1 || strings.Contains(token, ","):
		return lead.IngestCommand{}, lead.Errorf(lead.EUNAUTHORIZED, "send the %s header exactly once", TokenHeader)
	}
	cmd := lead.IngestCommand{
		WebhookID: req.PathParameters["id"],
		Token:     token,
		Payload:   &wire.JSONPayload{Body: req.Body, Base64: req.IsBase64Encoded},
	}
	if key, n := Header(req, IdempotencyKeyHeader); n > 0 {
		if n > 1 || !validIdempotencyKey(key) {
			cmd.IdempotencyKeyErr = lead.Invalid("the Idempotency-Key header must be sent once, with 1 to 255 printable ASCII characters",
				lead.Detail{Path: "headers.Idempotency-Key", Problem: "invalid"})
		} else {
			cmd.IdempotencyKey = key
		}
	}
	return cmd, nil
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
