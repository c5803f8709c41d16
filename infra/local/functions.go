package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rocketlead/ingress-webhooks/infra/local/front"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/app/entryevents"
	"github.com/rocketlead/ingress-webhooks/pkg/app/lambdas"
)

// buildHandlers builds every function of lambdas.Functions with the builder its Lambda uses:
// the HTTP handlers by logical id, for the front, and the one stream handler, for the relay
// that stands in for the table's stream. Locally the routes are not IAM-checked, as under
// `sam local start-api`. With instances > 0 each HTTP function is served as Lambda serves
// it, by up to that many instances built as they are needed (see instancePool); with 0, one
// handler serves every request at once.
func buildHandlers(ctx context.Context, cfg aws.Config, env app.Env, logger *slog.Logger, instances int) (map[string]front.Handler, entryevents.Handler, error) {
	handlers := map[string]front.Handler{}
	var stream entryevents.Handler
	for _, fn := range lambdas.Functions() {
		// Each function's log lines and metrics name it, as AWS_LAMBDA_FUNCTION_NAME does in Lambda.
		env := env
		env.FunctionName = fn.LogicalID
		switch {
		case fn.HTTP != nil:
			build := func() (front.Handler, error) {
				h, err := fn.HTTP(ctx, cfg, env, logger)
				if err != nil {
					return nil, fmt.Errorf("build %s: %w", fn.LogicalID, err)
				}
				return h, nil
			}
			h, err := build()
			if err != nil {
				return nil, nil, err
			}
			handlers[fn.LogicalID] = h
			if instances > 0 {
				handlers[fn.LogicalID] = instancePool(h, build, instances)
			}
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

// instancePool serves one function as Lambda does, with at most max instances, each with
// state of its own (caches, rate counts): an instance handles one request at a time; a
// request goes to an idle instance, the one idle the longest, so that requests spread over
// all of them; when every instance is busy a new one is built (a cold start), up to max;
// beyond that a request waits for one, where Lambda would refuse it (its concurrency).
// first is the instance built already.
func instancePool(first front.Handler, build func() (front.Handler, error), max int) front.Handler {
	idle := make(chan front.Handler, max)
	idle <- first
	var mu sync.Mutex
	built := 1
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		var h front.Handler
		select {
		case h = <-idle:
		default:
			mu.Lock()
			grow := built < max
			if grow {
				built++
			}
			mu.Unlock()
			if grow {
				var err error
				if h, err = build(); err != nil {
					mu.Lock()
					built--
					mu.Unlock()
					return events.APIGatewayV2HTTPResponse{}, err
				}
				break
			}
			select {
			case h = <-idle:
			case <-ctx.Done():
				return events.APIGatewayV2HTTPResponse{}, ctx.Err()
			}
		}
		defer func() { idle <- h }()
		return h(ctx, req)
	}
}
