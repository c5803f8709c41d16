package app

import (
	"context"
	"fmt"
	"time"

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

// AttemptTimeout bounds each attempt of every AWS call (each try of the SDK's retry loop):
// a call that hangs is cut and retried well inside the request's deadline.
const AttemptTimeout = 3 * time.Second

// TimeAttempts is an SDK client option (aws.Config.APIOptions) that gives each attempt of a
// call its own AttemptTimeout, inside the retry loop: the response is read within it.
func TimeAttempts(stack *middleware.Stack) error {
	timed := middleware.FinalizeMiddlewareFunc("AttemptTimeout",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			ctx, cancel := context.WithTimeout(ctx, AttemptTimeout)
			defer cancel()
			return next.HandleFinalize(ctx, in)
		})
	if err := stack.Finalize.Insert(timed, "Retry", middleware.After); err != nil {
		if err := stack.Finalize.Add(timed, middleware.After); err != nil {
			return fmt.Errorf("add attempt timeout: %w", err)
		}
	}
	return nil
}

// newRetryer is the SDK retry policy of the functions: at most 3 attempts with jittered
// exponential backoff capped at 1 s, so the SDK's own retries fit in the request deadline;
// the store retries what stays refused (throttling, transaction conflicts) until then.
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 3
		o.MaxBackoff = time.Second
	})
}

// ClientConfig returns a copy of cfg for a function's clients: calls counted (CountCalls),
// each attempt timed (TimeAttempts), and the functions' retry policy unless cfg has one.
func ClientConfig(cfg aws.Config) aws.Config {
	return withCallCounting(cfg)
}

// withCallCounting returns a copy of cfg whose clients count their calls with CountCalls
// and time each attempt (TimeAttempts), with the functions' retry policy unless cfg has
// one; every builder makes its clients from it.
func withCallCounting(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(append([]func(*middleware.Stack) error{}, cfg.APIOptions...), CountCalls, TimeAttempts)
	if cfg.Retryer == nil {
		cfg.Retryer = newRetryer
	}
	return cfg
}
