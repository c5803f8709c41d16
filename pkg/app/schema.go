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

// ShowSchema builds the handler of GET /admin/tables/{tableId}/schema.
func ShowSchema(_ context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	svc, err := SchemaAdmin(cfg, env)
	if err != nil {
		return nil, err
	}
	return observed(env, logger, apigw.ShowSchemaHandler(svc)), nil
}

// PatchSchema builds the handler of PATCH /admin/tables/{tableId}/schema.
func PatchSchema(_ context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
	svc, err := SchemaAdmin(cfg, env)
	if err != nil {
		return nil, err
	}
	return observed(env, logger, apigw.PatchSchemaHandler(svc)), nil
}

// SchemaAdmin returns the schema administration on the configured table. The operator CLI
// uses it too.
func SchemaAdmin(cfg aws.Config, env Env) (*lead.SchemaAdmin, error) {
	if env.TableName == "" {
		return nil, fmt.Errorf("schema admin: no table name configured")
	}
	return lead.NewSchemaAdmin(dynamo.New(dynamodb.NewFromConfig(withCallCounting(cfg)), env.TableName)), nil
}
