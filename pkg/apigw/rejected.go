package apigw

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// RejectedManager lists, shows, replays and discards a webhook's kept rejected requests
// (/admin/ingress_webhooks/{id}/rejected…).
type RejectedManager interface {
	List(ctx context.Context, webhookID string, limit int, cursor string) (*lead.RejectedPage, error)
	Show(ctx context.Context, webhookID, id string) (*lead.RejectedRequest, error)
	Replay(ctx context.Context, webhookID, id, requestID string) (*lead.IngestResult, error)
	Discard(ctx context.Context, webhookID, id string) error
}

// rejectedAttrs names the webhook and the rejected request in the log line when well formed.
func rejectedAttrs(req Request) []any {
	attrs := webhookAttr(req.PathParameters["id"])
	if id := req.PathParameters["rejectedId"]; lead.IsUUID(id) {
		attrs = append(attrs, slog.String("rejectedId", strings.ToLower(id)))
	}
	return attrs
}

// ListRejectedHandler handles GET /admin/ingress_webhooks/{id}/rejected?limit=&cursor=.
func ListRejectedHandler(svc RejectedManager, logger *slog.Logger) Handler {
	return func(ctx context.Context, req Request) (Response, error) {
		var page *lead.RejectedPage
		limit, cursor, err := wire.ParseListRejected(req.QueryStringParameters)
		if err == nil {
			page, err = svc.List(ctx, req.PathParameters["id"], limit, cursor)
		}
		if err != nil {
			return adminOutcome(ctx, logger, req, ErrorResponse(err, RequestID(req)), err, rejectedAttrs(req)...), nil
		}
		return respondJSON(ctx, logger, req, http.StatusOK, wire.ViewRejectedPage(page),
			append(rejectedAttrs(req), slog.Int("count", len(page.Rejected)))...), nil
	}
}

// ShowRejectedHandler handles GET /admin/ingress_webhooks/{id}/rejected/{rejectedId}.
func ShowRejectedHandler(svc RejectedManager, logger *slog.Logger) Handler {
	return func(ctx context.Context, req Request) (Response, error) {
		r, err := svc.Show(ctx, req.PathParameters["id"], req.PathParameters["rejectedId"])
		if err != nil {
			return adminOutcome(ctx, logger, req, ErrorResponse(err, RequestID(req)), err, rejectedAttrs(req)...), nil
		}
		return respondJSON(ctx, logger, req, http.StatusOK, wire.ViewRejected(r, true), rejectedAttrs(req)...), nil
	}
}

// ReplayRejectedHandler handles POST /admin/ingress_webhooks/{id}/rejected/{rejectedId}/replay:
// 201 with the entry, or the error a new request would get.
func ReplayRejectedHandler(svc RejectedManager, logger *slog.Logger) Handler {
	return func(ctx context.Context, req Request) (Response, error) {
		res, err := svc.Replay(ctx, req.PathParameters["id"], req.PathParameters["rejectedId"], RequestID(req))
		if err != nil {
			return adminOutcome(ctx, logger, req, ErrorResponse(err, RequestID(req)), err, rejectedAttrs(req)...), nil
		}
		resp := RawJSON(http.StatusCreated, res.Body)
		attrs := rejectedAttrs(req)
		if res.Replayed {
			resp.Headers["Idempotent-Replayed"] = "true"
			attrs = append(attrs, slog.Bool("replayed", true))
		} else {
			attrs = append(attrs, slog.String("entryId", res.Entry.ID), slog.String("poolId", res.Entry.PoolID))
		}
		return adminOutcome(ctx, logger, req, resp, nil, attrs...), nil
	}
}

// DiscardRejectedHandler handles DELETE /admin/ingress_webhooks/{id}/rejected/{rejectedId}: 204.
func DiscardRejectedHandler(svc RejectedManager, logger *slog.Logger) Handler {
	return func(ctx context.Context, req Request) (Response, error) {
		if err := svc.Discard(ctx, req.PathParameters["id"], req.PathParameters["rejectedId"]); err != nil {
			return adminOutcome(ctx, logger, req, ErrorResponse(err, RequestID(req)), err, rejectedAttrs(req)...), nil
		}
		resp := Response{StatusCode: http.StatusNoContent, Headers: map[string]string{"Cache-Control": "no-store"}}
		return adminOutcome(ctx, logger, req, resp, nil, rejectedAttrs(req)...), nil
	}
}
