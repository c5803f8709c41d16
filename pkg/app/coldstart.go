package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Builder builds a function's handler from its configuration, once per cold start.
type Builder[H any] func(ctx context.Context, cfg aws.Config, env Env, logger *slog.Logger) (H, error)

// ColdStart does what every function's main does before lambda.Start: read the
// environment (failing on any missing required variable), load the AWS configuration from
// the Lambda environment (LambdaConfig) and build the handler. The main reports an error and exits.
func ColdStart[H any](ctx context.Context, build Builder[H], required ...string) (H, error) {
	var zero H
	env, err := EnvFrom(os.Getenv, required...)
	if err != nil {
		return zero, err
	}
	cfg, err := LambdaConfig(os.Getenv)
	if err != nil {
		return zero, fmt.Errorf("load AWS config: %w", err)
	}
	return build(ctx, cfg, env, env.Logger())
}
