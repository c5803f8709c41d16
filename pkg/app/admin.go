package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// CreateWebhook builds the handler of POST /admin/ingress_webhooks; it reads the token key
// once, here, at cold start.
func CreateWebhook(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	svc, err := webhookAdmin(ctx, cfg, env, true)
	if err != nil {
		return nil, err
	}
	return observed(env, logger, apigw.CreateWebhookHandler(svc, env.PublicBaseURL)), nil
}

// RotateWebhook builds the handler of POST /admin/ingress_webhooks/{id}/rotate; it reads the
// token key once, here, at cold start.
func RotateWebhook(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	svc, err := webhookAdmin(ctx, cfg, env, true)
	if err != nil {
		return nil, err
	}
	return observed(env, logger, apigw.RotateWebhookHandler(svc)), nil
}

// ListWebhooks builds the handler of GET /admin/ingress_webhooks; it needs no token key.
func ListWebhooks(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	svc, err := webhookAdmin(ctx, cfg, env, false)
	if err != nil {
		return nil, err
	}
	return observed(env, logger, apigw.ListWebhooksHandler(svc, env.PublicBaseURL)), nil
}

// DeleteWebhook builds the handler of DELETE /admin/ingress_webhooks/{id}; it needs no token key.
func DeleteWebhook(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	svc, err := webhookAdmin(ctx, cfg, env, false)
	if err != nil {
		return nil, err
	}
	return observed(env, logger, apigw.DeleteWebhookHandler(svc)), nil
}

// UpdateWebhook builds the handler of PATCH /admin/ingress_webhooks/{id}; it reads the key
// once, here, at cold start, to seal the signing secret of a source or a form's CAPTCHA
// secret set by the update.
func UpdateWebhook(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	svc, err := webhookAdmin(ctx, cfg, env, true)
	if err != nil {
		return nil, err
	}
	return observed(env, logger, apigw.UpdateWebhookHandler(svc, env.PublicBaseURL)), nil
}

// WebhookAdmin returns the webhook admin service on the configured table; withKey loads the
// service key (needed to create, rotate and seal signing and CAPTCHA secrets) from Secrets
// Manager. The operator CLI uses it too.
func WebhookAdmin(ctx context.Context, cfg aws.Config, env Env, withKey bool) (*lead.WebhookAdmin, error) {
	return webhookAdmin(ctx, cfg, env, withKey)
}

func webhookAdmin(ctx context.Context, cfg aws.Config, env Env, withKey bool) (*lead.WebhookAdmin, error) {
	if env.TableName == "" {
		return nil, fmt.Errorf("webhook admin: no table name configured")
	}
	cfg = withCallCounting(cfg)
	store := dynamo.New(dynamodb.NewFromConfig(cfg), env.TableName)
	var keys serverKeys
	if withKey {
		var err error
		if keys, err = loadKeys(ctx, cfg, env); err != nil {
			return nil, err
		}
		store = store.WithSealer(keys.sealer)
	}
	svc := lead.NewWebhookAdmin(store, keys.hasher)
	svc.Rules = wire.SourceRules{}
	rates, err := env.RateDefaults()
	if err != nil {
		return nil, err
	}
	svc.Rates = rates
	if keys.sealer != nil {
		svc.Sealer = keys.sealer
	}
	return svc, nil
}

// SetSigningSecret builds the handler of PUT /admin/ingress_webhooks/{id}/signing-secret; it
// reads the key once, here, at cold start, to seal the new secret.
func SetSigningSecret(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	svc, err := webhookAdmin(ctx, cfg, env, true)
	if err != nil {
		return nil, err
	}
	return observed(env, logger, apigw.SigningSecretHandler(svc)), nil
}
