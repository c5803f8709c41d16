package apigw

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// WebhookCreator creates webhooks (POST /admin/ingress_webhooks).
type WebhookCreator interface {
	Create(ctx context.Context, in lead.CreateWebhookInput) (*lead.CreatedWebhook, error)
}

// WebhookRotator rotates webhook tokens (POST /admin/ingress_webhooks/{id}/rotate).
type WebhookRotator interface {
	Rotate(ctx context.Context, in lead.RotateWebhookInput) (*lead.RotatedWebhook, error)
}

// WebhookUpdater changes a webhook's settings (PATCH /admin/ingress_webhooks/{id}).
type WebhookUpdater interface {
	Update(ctx context.Context, in lead.UpdateWebhookInput) (*lead.WebhookSummary, error)
}

// WebhookLister lists an organization's webhooks (GET /admin/ingress_webhooks).
type WebhookLister interface {
	List(ctx context.Context, in lead.ListWebhooksInput) (*lead.WebhookPage, error)
}

// WebhookDeleter deletes webhooks (DELETE /admin/ingress_webhooks/{id}).
type WebhookDeleter interface {
	Delete(ctx context.Context, webhookID string) error
}

// Handler is the signature of every HTTP API Lambda handler of the service.
type Handler = func(context.Context, Request) (Response, error)

// Endpoint is the signature of the service's HTTP handlers: the response and, as a value,
// the outcome the Observer logs and counts. Observe makes a Handler of it.
type Endpoint = func(context.Context, Request) (Response, Outcome)

// CreateWebhookHandler handles POST /admin/ingress_webhooks. baseURL, when not empty, is
// where the public endpoint is served (PUBLIC_BASE_URL); otherwise the URL is built from
// the request's domain and stage.
func CreateWebhookHandler(svc WebhookCreator, baseURL string) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		var created *lead.CreatedWebhook
		raw, err := requestBody(req)
		if err == nil {
			var in lead.CreateWebhookInput
			if in, err = wire.ParseCreateWebhook(raw); err == nil {
				created, err = svc.Create(ctx, in)
			}
		}
		if err != nil {
			return outcome(ErrorResponse(err, RequestID(req)), err)
		}
		created.URL = PublicURL(req, baseURL, created.ID)
		return respondJSON(req, http.StatusCreated, created,
			slog.String("webhookId", created.ID), slog.String("poolId", created.PoolID))
	}
}

// RotateWebhookHandler handles POST /admin/ingress_webhooks/{id}/rotate with an optional
// body {"gracePeriodSeconds": N}.
func RotateWebhookHandler(svc WebhookRotator) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		id := req.PathParameters["id"]
		var rotated *lead.RotatedWebhook
		raw, err := requestBody(req)
		if err == nil {
			var in lead.RotateWebhookInput
			if in, err = wire.ParseRotateWebhook(id, raw); err == nil {
				rotated, err = svc.Rotate(ctx, in)
			}
		}
		if err != nil {
			return outcome(ErrorResponse(err, RequestID(req)), err, webhookAttr(id)...)
		}
		return respondJSON(req, http.StatusOK, rotated,
			slog.String("webhookId", rotated.ID), slog.Bool("grace", !rotated.PreviousTokenExpiresAt.IsZero()))
	}
}

// UpdateWebhookHandler handles PATCH /admin/ingress_webhooks/{id} with the body
// {"allowQueryToken": true|false}; the answer is the webhook's summary, with a plain warning
// when it accepts its token in the URL.
func UpdateWebhookHandler(svc WebhookUpdater, baseURL string) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		id := req.PathParameters["id"]
		var updated *lead.WebhookSummary
		raw, err := requestBody(req)
		if err == nil {
			var in lead.UpdateWebhookInput
			if in, err = wire.ParseUpdateWebhook(id, raw); err == nil {
				updated, err = svc.Update(ctx, in)
			}
		}
		if err != nil {
			return outcome(ErrorResponse(err, RequestID(req)), err, webhookAttr(id)...)
		}
		updated.URL = PublicURL(req, baseURL, updated.ID)
		return respondJSON(req, http.StatusOK, updated,
			slog.String("webhookId", updated.ID), slog.Bool("allowQueryToken", updated.AllowQueryToken))
	}
}

// ListWebhooksHandler handles GET /admin/ingress_webhooks?organizationId=…[&limit=…&cursor=…].
func ListWebhooksHandler(svc WebhookLister, baseURL string) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		var page *lead.WebhookPage
		in, err := wire.ParseListWebhooks(req.QueryStringParameters)
		if err == nil {
			page, err = svc.List(ctx, in)
		}
		if err != nil {
			return outcome(ErrorResponse(err, RequestID(req)), err)
		}
		for i := range page.Webhooks {
			page.Webhooks[i].URL = PublicURL(req, baseURL, page.Webhooks[i].ID)
		}
		return respondJSON(req, http.StatusOK, page,
			slog.String("organizationId", in.OrganizationID), slog.Int("count", len(page.Webhooks)))
	}
}

// DeleteWebhookHandler handles DELETE /admin/ingress_webhooks/{id}: 204 with no body.
func DeleteWebhookHandler(svc WebhookDeleter) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		id := req.PathParameters["id"]
		if err := svc.Delete(ctx, id); err != nil {
			return outcome(ErrorResponse(err, RequestID(req)), err, webhookAttr(id)...)
		}
		resp := Response{StatusCode: http.StatusNoContent, Headers: map[string]string{"Cache-Control": "no-store"}}
		return outcome(resp, nil, webhookAttr(id)...)
	}
}

// PublicPath returns the path of a webhook's public ingest endpoint; callers prefix the
// scheme, host and stage they serve it under.
func PublicPath(webhookID string) string {
	return "/public/ingress_webhooks/" + webhookID
}

// PublicURL returns the public ingest URL of a webhook: under baseURL when it is set,
// otherwise on the request's own domain and stage (the stage is part of the path unless it
// is $default), with the scheme of x-forwarded-proto (https when absent).
func PublicURL(req Request, baseURL, webhookID string) string {
	if baseURL != "" {
		return strings.TrimRight(baseURL, "/") + PublicPath(webhookID)
	}
	domain := req.RequestContext.DomainName
	if domain == "" {
		return PublicPath(webhookID)
	}
	scheme := "https"
	if proto, n := Header(req, "x-forwarded-proto"); n == 1 && strings.EqualFold(proto, "http") {
		scheme = "http"
	}
	prefix := ""
	if stage := req.RequestContext.Stage; stage != "" && stage != "$default" {
		prefix = "/" + stage
	}
	return scheme + "://" + domain + prefix + PublicPath(webhookID)
}

// requestBody returns the raw body, decoding base64 when API Gateway encoded it.
func requestBody(req Request) ([]byte, error) {
	return wire.DecodeBody(req.Body, req.IsBase64Encoded, wire.MaxAdminBodyBytes)
}

// webhookAttr names the webhook in the log line when the id is well formed (never echo
// arbitrary input into logs).
func webhookAttr(id string) []any {
	if lead.IsUUID(id) {
		return []any{slog.String("webhookId", strings.ToLower(id))}
	}
	return nil
}

// outcome is a handler's answer and the outcome it reports: the response's status, the
// error if any and the attributes of the log line.
func outcome(resp Response, err error, attrs ...any) (Response, Outcome) {
	return resp, Outcome{Status: resp.StatusCode, Err: err, Attrs: attrs}
}

// respondJSON answers with v rendered as JSON, or with a 500 when v does not render.
func respondJSON(req Request, status int, v any, attrs ...any) (Response, Outcome) {
	resp, err := JSON(status, v)
	if err != nil {
		return outcome(ErrorResponse(err, RequestID(req)), err, attrs...)
	}
	return outcome(resp, nil, attrs...)
}
