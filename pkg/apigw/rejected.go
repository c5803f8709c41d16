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
func ListRejectedHandler(svc RejectedManager) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		var page *lead.RejectedPage
		limit, cursor, err := wire.ParseListRejected(req.QueryStringParameters)
		if err == nil {
			page, err = svc.List(ctx, req.PathParameters["id"], limit, cursor)
		}
		if err != nil {
			return outcome(ErrorResponse(err, RequestID(req)), err, rejectedAttrs(req)...)
		}
		return respondJSON(req, http.StatusOK, wire.ViewRejectedPage(page),
			append(rejectedAttrs(req), slog.Int("count", len(page.Rejected)))...)
	}
}

// ShowRejectedHandler handles GET /admin/ingress_webhooks/{id}/rejected/{rejectedId}.
func ShowRejectedHandler(svc RejectedManager) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		r, err := svc.Show(ctx, req.PathParameters["id"], req.PathParameters["rejectedId"])
		if err != nil {
			return outcome(ErrorResponse(err, RequestID(req)), err, rejectedAttrs(req)...)
		}
		return respondJSON(req, http.StatusOK, wire.ViewRejected(r, true), rejectedAttrs(req)...)
	}
}

// ReplayRejectedHandler handles POST /admin/ingress_webhooks/{id}/rejected/{rejectedId}/replay:
// 201 with the entry, or the error a new request would get.
func ReplayRejectedHandler(svc RejectedManager) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		res, err := svc.Replay(ctx, req.PathParameters["id"], req.PathParameters["rejectedId"], RequestID(req))
		if err != nil {
			return outcome(ErrorResponse(err, RequestID(req)), err, rejectedAttrs(req)...)
		}
		resp, err := created(res)
		if err != nil {
			return outcome(ErrorResponse(err, RequestID(req)), err, rejectedAttrs(req)...)
		}
		return outcome(resp, nil, append(rejectedAttrs(req), createdAttrs(res)...)...)
	}
}

// DiscardRejectedHandler handles DELETE /admin/ingress_webhooks/{id}/rejected/{rejectedId}: 204.
func DiscardRejectedHandler(svc RejectedManager) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		if err := svc.Discard(ctx, req.PathParameters["id"], req.PathParameters["rejectedId"]); err != nil {
			return outcome(ErrorResponse(err, RequestID(req)), err, rejectedAttrs(req)...)
		}
		resp := Response{StatusCode: http.StatusNoContent, Headers: map[string]string{"Cache-Control": "no-store"}}
		return outcome(resp, nil, rejectedAttrs(req)...)
	}
}
