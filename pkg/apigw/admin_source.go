package apigw

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// SigningSecretSetter sets webhooks' signing secrets (PUT /admin/ingress_webhooks/{id}/signing-secret).
type SigningSecretSetter interface {
	RotateSigningSecret(ctx context.Context, in lead.SecretRotation) (*lead.RotatedSecret, error)
}

// SigningSecretHandler handles PUT /admin/ingress_webhooks/{id}/signing-secret with an
// optional body {"signingSecret": "<the vendor's>", "gracePeriodSeconds": N}: 200 with the
// generated secret (shown this once) or, for a vendor's secret, without it. The log line
// never carries a secret.
func SigningSecretHandler(svc SigningSecretSetter) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		id := req.PathParameters["id"]
		var out *lead.RotatedSecret
		raw, err := requestBody(req)
		if err == nil {
			var in lead.SecretRotation
			if in, err = wire.ParseSigningSecret(id, raw); err == nil {
				out, err = svc.RotateSigningSecret(ctx, in)
			}
		}
		if err != nil {
			return outcome(ErrorResponse(err, RequestID(req)), err, webhookAttr(id)...)
		}
		return respondJSON(req, http.StatusOK, wire.ViewRotatedSecret(out),
			slog.String("webhookId", out.ID), slog.String("source", out.Source),
			slog.Bool("generated", out.SigningSecret != ""), slog.Bool("grace", !out.PreviousSecretExpiresAt.IsZero()))
	}
}
