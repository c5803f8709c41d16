package app

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/eventbus"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// DefaultEventBusName is the bus table.entry.added goes to when EVENT_BUS_NAME is empty: the
// account's default bus.
const DefaultEventBusName = "default"

// EntryEvents builds the stream handler of the entry-events function: every entry committed
// to the table becomes one table.entry.added event on the configured bus.
func EntryEvents(_ context.Context, cfg aws.Config, env Env, logger *slog.Logger) (dynamo.StreamHandler, error) {
	cfg = withCallCounting(cfg)
	bus := env.EventBusName
	if bus == "" {
		bus = DefaultEventBusName
	}
	source := env.EventSource
	if source == "" {
		source = lead.DefaultEventSource
	}
	pub := eventbus.New(eventbridge.NewFromConfig(cfg), bus, source, logger)
	return dynamo.NewStreamHandler(pub, logger, env.Metrics()), nil
}
