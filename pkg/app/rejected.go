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
)

// RejectedAdmin returns the management of kept rejected requests on the configured table;
// replays run through the ingest service without a token key. The operator CLI uses it too.
func RejectedAdmin(cfg aws.Config, env Env) (*lead.RejectedAdmin, error) {
	if env.TableName == "" {
		return nil, fmt.Errorf("rejected requests: no table name configured")
	}
	// One client and one store serve both the replays and the kept requests.
	store := dynamo.New(dynamodb.NewFromConfig(withCallCounting(cfg)), env.TableName)
	svc, err := ingestService(store, env, nil)
	if err != nil {
		return nil, err
	}
	return &lead.RejectedAdmin{Ingest: svc, Store: store}, nil
}

func rejectedHandler(build func(apigw.RejectedManager, *slog.Logger) apigw.Handler) Builder[apigw.Handler] {
	return func(_ context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
		svc, err := RejectedAdmin(cfg, env)
		if err != nil {
			return nil, err
		}
		return observed(env, logger, build(svc, logger)), nil
	}
}

// ListRejected builds the handler of GET /admin/ingress_webhooks/{id}/rejected.
func ListRejected(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	return rejectedHandler(apigw.ListRejectedHandler)(ctx, cfg, env, logger)
}

// ShowRejected builds the handler of GET /admin/ingress_webhooks/{id}/rejected/{rejectedId}.
func ShowRejected(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	return rejectedHandler(apigw.ShowRejectedHandler)(ctx, cfg, env, logger)
}

// ReplayRejected builds the handler of POST /admin/ingress_webhooks/{id}/rejected/{rejectedId}/replay.
func ReplayRejected(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	return rejectedHandler(apigw.ReplayRejectedHandler)(ctx, cfg, env, logger)
}

// DiscardRejected builds the handler of DELETE /admin/ingress_webhooks/{id}/rejected/{rejectedId}.
func DiscardRejected(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	return rejectedHandler(apigw.DiscardRejectedHandler)(ctx, cfg, env, logger)
}
