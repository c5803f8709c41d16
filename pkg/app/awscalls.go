package app

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"

	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

// CountCalls is an SDK client option (aws.Config.APIOptions) that counts, in the
// metrics.Calls of the request's context, each operation, each attempt (so its retries) and
// each attempt refused as throttled. Without a counter in the context it does nothing.
func CountCalls(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CountCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			metrics.CallsFrom(ctx).Call()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before); err != nil {
		return fmt.Errorf("add call counter: %w", err)
	}
	attempt := middleware.FinalizeMiddlewareFunc("CountAttempts",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleFinalize(ctx, in)
			metrics.CallsFrom(ctx).Attempt(err != nil && retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary)
			return out, md, err
		})
	// Inside the retry loop, each attempt passes here once.
	if err := stack.Finalize.Insert(attempt, "Retry", middleware.After); err != nil {
		if err := stack.Finalize.Add(attempt, middleware.After); err != nil {
			return fmt.Errorf("add attempt counter: %w", err)
		}
	}
	return nil
}

// withCallCounting returns a copy of cfg whose clients count their calls with CountCalls;
// every builder makes its clients from it.
func withCallCounting(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(append([]func(*middleware.Stack) error{}, cfg.APIOptions...), CountCalls)
	return cfg
}
