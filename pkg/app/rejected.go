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
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// RejectedRequests manages a table's kept rejected requests for the admin routes and the
// operator CLI: listing, showing and discarding are the domain's; a replay parses the kept
// body with the parser of the public endpoint (wire.ParseIngest), has the domain ingest it,
// and records a refusal's rendered error body on the rejected request.
type RejectedRequests struct {
	*lead.RejectedAdmin
}

// Replay sends a kept rejected request through the checks of a new request; requestID names
// the replay in the error it records. The error is the one a new request would get, naming
// the rejected request (which stays) when it is the request's own.
func (r RejectedRequests) Replay(ctx context.Context, webhookID, id, requestID string) (*lead.IngestResult, error) {
	kept, err := r.Show(ctx, webhookID, id)
	if err != nil {
		return nil, err
	}
	// The kept body is read by the webhook's source, as it was when it arrived; its
	// signature was checked then (the kept request holds the delivery id as its key).
	res, err := r.ReplayParsed(ctx, kept, func(wh *lead.Webhook) (*lead.Body, error) {
		parsed, err := wire.ParseSourced(wh.SourceName(), wire.SourceRequest{ContentType: kept.ContentType, Raw: kept.Body, Now: r.Ingest.Now()}, wh.Mapping, r.BodyLimits())
		if err != nil {
			return nil, err
		}
		return parsed.Body, nil
	})
	if err == nil || !lead.Refusal(err) {
		return res, err
	}
	named := lead.WithRejected(err, lead.RejectedFate{ID: kept.ID, Kept: true})
	if rerr := r.RecordRefusal(ctx, kept, wire.ErrorJSON(named, requestID), err); rerr != nil {
		return nil, rerr
	}
	return nil, named
}

// RejectedAdmin returns the management of kept rejected requests on the configured table;
// replays run through the ingest service without a token key. The operator CLI uses it too.
func RejectedAdmin(cfg aws.Config, env Env) (RejectedRequests, error) {
	if env.TableName == "" {
		return RejectedRequests{}, fmt.Errorf("rejected requests: no table name configured")
	}
	// One client and one store serve both the replays and the kept requests.
	store := dynamo.New(dynamodb.NewFromConfig(withCallCounting(cfg)), env.TableName)
	svc, err := ingestService(store, env, nil)
	if err != nil {
		return RejectedRequests{}, err
	}
	return RejectedRequests{&lead.RejectedAdmin{Ingest: svc, Store: store}}, nil
}

func rejectedHandler(build func(apigw.RejectedManager) apigw.Endpoint) Builder[apigw.Handler] {
	return func(_ context.Context, cfg aws.Config, env Env, logger *slog.Logger) (apigw.Handler, error) {
		svc, err := RejectedAdmin(cfg, env)
		if err != nil {
			return nil, err
		}
		return observed(env, logger, build(svc)), nil
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
