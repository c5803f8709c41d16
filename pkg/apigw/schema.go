package apigw

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// SchemaShower shows a pool's schema (GET /admin/tables/{tableId}/schema).
type SchemaShower interface {
	Show(ctx context.Context, poolID string) (*lead.SchemaView, error)
}

// SchemaPatcher changes a pool's schema (PATCH /admin/tables/{tableId}/schema).
type SchemaPatcher interface {
	Patch(ctx context.Context, in lead.SchemaPatch) (*lead.SchemaView, error)
}

// ShowSchemaHandler handles GET /admin/tables/{tableId}/schema.
func ShowSchemaHandler(svc SchemaShower) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		id := req.PathParameters["tableId"]
		view, err := svc.Show(ctx, id)
		return schemaOutcome(req, id, view, err)
	}
}

// PatchSchemaHandler handles PATCH /admin/tables/{tableId}/schema with a body
// {"set": {"<key>": "<type>"}, "unlock": ["<key>"]}. The change applies to ingest requests
// that start up to POOL_CACHE_SECONDS (5 s by default) after it: ingest instances cache pools.
// A replay of a rejected request reads the pool afresh.
func PatchSchemaHandler(svc SchemaPatcher) Endpoint {
	return func(ctx context.Context, req Request) (Response, Outcome) {
		id := req.PathParameters["tableId"]
		var view *lead.SchemaView
		raw, err := wire.DecodeBody(req.Body, req.IsBase64Encoded, wire.MaxSchemaPatchBytes)
		if err == nil {
			var in lead.SchemaPatch
			if in, err = wire.ParseSchemaPatch(id, raw); err == nil {
				view, err = svc.Patch(ctx, in)
			}
		}
		return schemaOutcome(req, id, view, err)
	}
}

func schemaOutcome(req Request, poolID string, view *lead.SchemaView, err error) (Response, Outcome) {
	var attrs []any
	if lead.IsUUID(poolID) {
		attrs = append(attrs, slog.String("poolId", strings.ToLower(poolID)))
	}
	if err != nil {
		return outcome(ErrorResponse(err, RequestID(req)), err, attrs...)
	}
	return respondJSON(req, http.StatusOK, wire.ViewSchema(view), append(attrs, slog.Int("keyCount", view.KeyCount))...)
}
