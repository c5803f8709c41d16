package apigw

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// TokenHeader is the header that carries an ingress webhook's token.
const TokenHeader = "x-rocketlead-ingress-token"

// Ingester stores one lead entry per authenticated request.
type Ingester interface {
	Ingest(ctx context.Context, req lead.IngestRequest) (*lead.Entry, error)
}

// IngressHandler handles POST /public/ingress_webhooks/{id}.
func IngressHandler(svc Ingester, logger *slog.Logger) func(context.Context, Request) (Response, error) {
	return func(ctx context.Context, req Request) (Response, error) {
		start := time.Now()
		token, count := Header(req, TokenHeader)
		id := req.PathParameters["id"]
		entry, err := svc.Ingest(ctx, lead.IngestRequest{
			WebhookID:    id,
			Token:        token,
			TokenHeaders: count,
			Body:         []byte(req.Body),
			Base64:       req.IsBase64Encoded,
		})
		var resp Response
		attrs := []any{slog.Float64("latencyMs", float64(time.Since(start).Microseconds())/1000)}
		if lead.IsUUID(id) {
			attrs = append(attrs, slog.String("webhookId", id))
		}
		if err != nil {
			resp = ErrorResponse(err, RequestID(req))
		} else {
			resp = JSON(http.StatusCreated, entry)
			attrs = append(attrs, slog.String("entryId", entry.ID), slog.String("tableId", entry.TableID))
		}
		logOutcome(ctx, logger, req, resp.StatusCode, err, attrs...)
		return resp, nil
	}
}
