package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
)

// dynamoEngine returns the DynamoDB engine for -dynamodb-endpoint: nil (the embedded minidyn)
// when endpoint is empty, else a proxy to it under an access key of this run's own, so every
// start gets a fresh database in the engine (DynamoDB Local keeps one per access key and
// region), as it does with minidyn.
func dynamoEngine(endpoint string) (http.Handler, error) {
	if endpoint == "" {
		return nil, nil
	}
	engine, err := localaws.NewEngineProxy(endpoint, localaws.EngineOptions{
		AccessKey: "rl" + strings.ReplaceAll(uuid.NewString(), "-", ""),
	})
	if err != nil {
		return nil, fmt.Errorf("-dynamodb-endpoint: %w", err)
	}
	return engine, nil
}

// faultInjector puts the -faults rules in front of the AWS endpoints.
func faultInjector(next http.Handler, spec string, seed uint64, logger *slog.Logger) (*faults.Injector, error) {
	in := faults.New(next, faults.Options{Seed: seed, Logger: logger})
	if err := in.AddSpec(spec); err != nil {
		return nil, fmt.Errorf("-faults: %w", err)
	}
	return in, nil
}

// connectRelay feeds the relay: from the writes minidyn commits, or, with an external engine,
// from that engine's DynamoDB Streams API. The returned function stops the feed; call it
// before closing the relay.
func connectRelay(ctx context.Context, external bool, awsSrv *localaws.Server, cfg aws.Config, table string,
	relay *localaws.Relay, logger *slog.Logger) (func(), error) {
	if !external {
		awsSrv.OnWrite(relay.Observe)
		return func() {}, nil
	}
	p, err := localaws.NewStreamPoller(ctx, cfg, relay, localaws.StreamPollerOptions{Table: table, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("stream of the external engine: %w", err)
	}
	return func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(cctx); err != nil {
			logger.Error("stream poller", "err", err)
		}
	}, nil
}
