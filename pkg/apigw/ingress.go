package apigw

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// Headers of the public endpoint.
const (
	TokenHeader          = "x-rocketlead-ingress-token"
	IdempotencyKeyHeader = "idempotency-key"
)

// Ingester stores one lead entry per authenticated request.
type Ingester interface {
	Ingest(ctx context.Context, req lead.IngestRequest) (*lead.IngestResult, error)
}

// IngestHandler handles POST /public/ingress_webhooks/{id}.
func IngestHandler(svc Ingester, logger *slog.Logger) func(context.Context, Request) (Response, error) {
	return func(ctx context.Context, req Request) (Response, error) {
		start := time.Now()
		token, count := Header(req, TokenHeader)
		idemKey, idemCount := Header(req, IdempotencyKeyHeader)
		id := req.PathParameters["id"]
		res, err := svc.Ingest(ctx, lead.IngestRequest{
			WebhookID:       id,
			Token:           token,
			TokenHeaders:    count,
			Body:            []byte(req.Body),
			Base64:          req.IsBase64Encoded,
			IdempotencyKey:  idemKey,
			IdempotencyKeys: idemCount,
		})
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
