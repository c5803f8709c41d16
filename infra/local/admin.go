package main

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rocketlead/ingress-webhooks/infra/local/front"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
)

// addAdminHandlers builds the four webhook management handlers with the same builders the
// functions use and registers them by logical id. Locally the routes are not IAM-checked,
// as under `sam local start-api`.
func addAdminHandlers(ctx context.Context, cfg aws.Config, env app.Env, logger *slog.Logger, handlers map[string]front.Handler) error {
	for id, build := range map[string]app.Builder[apigw.Handler]{
		"CreateWebhookFunction": app.CreateWebhook,
		"RotateWebhookFunction": app.RotateWebhook,
		"ListWebhooksFunction":  app.ListWebhooks,
		"DeleteWebhookFunction": app.DeleteWebhook,
	} {
		h, err := build(ctx, cfg, env, logger)
		if err != nil {
			return err
		}
		handlers[id] = h
	}
	return nil
}
