package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rocketlead/ingress-webhooks/infra/local/front"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/app/entryevents"
	"github.com/rocketlead/ingress-webhooks/pkg/app/lambdas"
)

// buildHandlers builds every function of lambdas.Functions with the builder its Lambda uses:
// the HTTP handlers by logical id, for the front, and the one stream handler, for the relay
// that stands in for the table's stream. Locally the routes are not IAM-checked, as under
// `sam local start-api`.
func buildHandlers(ctx context.Context, cfg aws.Config, env app.Env, logger *slog.Logger) (map[string]front.Handler, entryevents.Handler, error) {
	handlers := map[string]front.Handler{}
	var stream entryevents.Handler
	for _, fn := range lambdas.Functions() {
		// Each function's log lines and metrics name it, as AWS_LAMBDA_FUNCTION_NAME does in Lambda.
		env := env
		env.FunctionName = fn.LogicalID
		switch {
		case fn.HTTP != nil:
			h, err := fn.HTTP(ctx, cfg, env, logger)
			if err != nil {
				return nil, nil, fmt.Errorf("build %s: %w", fn.LogicalID, err)
			}
			handlers[fn.LogicalID] = h
		case fn.Stream != nil:
			if stream != nil {
				return nil, nil, fmt.Errorf("build %s: a second stream consumer; the local relay feeds one", fn.LogicalID)
			}
			h, err := fn.Stream(ctx, cfg, env, logger)
			if err != nil {
				return nil, nil, fmt.Errorf("build %s: %w", fn.LogicalID, err)
			}
			stream = h
		default:
			return nil, nil, fmt.Errorf("build %s: lambdas.Functions gives it no builder", fn.LogicalID)
		}
	}
	if stream == nil {
		return nil, nil, fmt.Errorf("lambdas.Functions has no stream consumer for the local relay")
	}
	return handlers, stream, nil
}
