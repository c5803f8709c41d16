// Package entryevents is the entry-events function: its handler, which turns the table's
// stream into table.entry.added events, and its builder. It is apart from package app so
// that only the function that calls EventBridge links its client.
package entryevents

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/eventbus"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// EntryEvents builds the stream handler of the entry-events function: every entry committed
// to the table becomes one table.entry.added event on the configured bus.
func EntryEvents(_ context.Context, cfg aws.Config, env app.Env, logger *slog.Logger) (Handler, error) {
	// Each PutEvents attempt is timed and retried as every function's calls are, so a hung
	// call is cut and tried again inside the invocation.
	cfg = app.ClientConfig(cfg)
	bus := env.EventBusName
	if bus == "" {
		bus = app.DefaultEventBusName
	}
	source := env.EventSource
	if source == "" {
		source = lead.DefaultEventSource
	}
	pub := eventbus.New(eventbridge.NewFromConfig(cfg), bus, source, logger)
	return NewHandler(pub, logger, env.Metrics()), nil
}
