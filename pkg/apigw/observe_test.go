package apigw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

func TestObserveEmitsEachIngestMetricFromItsPath(t *testing.T) {
	entry := &lead.Entry{ID: "e1", PoolID: "p1"}
	rejected := func(r *lead.RejectedFate) error {
		e := lead.Invalid("type mismatch")
		e.Rejected = r
		return e
	}
	tests := []struct {
		name    string
		res     *lead.IngestResult
		err     error
		query   map[string]string
		status  int
		outcome string
		want    map[string]float64
		absent  []string
	}{
		{"created after two lost lock races", &lead.IngestResult{Entry: entry, KeysLocked: 3, LockRetries: 2}, nil, nil, 201, "created",
			map[string]float64{"LeadsAccepted": 1, "LeadsRejected": 0, "SchemaKeysLocked": 3, "LockConflictsRetried": 2, "IdempotentReplays": 0, "ServerErrors": 0, "Requests": 1},
			[]string{"RejectedRequestsKept", "RejectedRequestsNotKept", "HoneypotCaught"}},
		{"honeypot caught", &lead.IngestResult{Entry: entry, Honeypot: true}, nil, nil, 201, "honeypot",
			map[string]float64{"HoneypotCaught": 1, "LeadsAccepted": 0, "LeadsRejected": 0}, nil},
		{"idempotent replay", &lead.IngestResult{Entry: entry, Replayed: true}, nil, nil, 201, "replayed",
			map[string]float64{"IdempotentReplays": 1, "LeadsAccepted": 0, "SchemaKeysLocked": 0}, nil},
		{"dry run", &lead.IngestResult{Entry: entry, DryRun: true}, nil, map[string]string{apigw.DryRunQueryParameter: "true"}, 200, "dry_run",
			map[string]float64{"LeadsAccepted": 0, "LeadsRejected": 0}, nil},
		{"rejected and kept", nil, rejected(&lead.RejectedFate{ID: "r1", Kept: true}), nil, 400, "invalid",
			map[string]float64{"LeadsRejected": 1, "RejectedRequestsKept": 1}, []string{"RejectedRequestsNotKept"}},
		{"rejected and not kept", nil, rejected(&lead.RejectedFate{}), nil, 400, "invalid",
			map[string]float64{"LeadsRejected": 1, "RejectedRequestsNotKept": 1}, []string{"RejectedRequestsKept"}},
		{"store failure", nil, errors.New("dynamodb: internal server error"), nil, 500, "internal",
			map[string]float64{"ServerErrors": 1, "LeadsRejected": 0, "LeadsAccepted": 0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs, emf bytes.Buffer
			fate := lead.RejectedFate{}
			var le *lead.Error
			if errors.As(tt.err, &le) && le.Rejected != nil {
				fate = *le.Rejected
			}
			h := apigw.Observe(apigw.IngestHandler(&apigw.FakeIngester{Result: tt.res, Err: tt.err, Fate: fate}), apigw.Observer{Function: "IngressFunction", Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
				Metrics: metrics.New(&emf, "ns", metrics.Dimension{Name: "FunctionName", Value: "IngressFunction"})})
			req := apigw.Request{RouteKey: "POST /public/ingress_webhooks/{id}", PathParameters: map[string]string{"id": "w"},
				Headers: map[string]string{apigw.TokenHeader: strings.Repeat("a", 64)}, QueryStringParameters: tt.query, Body: `{"data":{}}`}
			resp, err := h(context.Background(), req)
			if err != nil || resp.StatusCode != tt.status {
				t.Fatalf("handler = %d, %v; want %d", resp.StatusCode, err, tt.status)
			}
			var doc, line map[string]any
			if err := json.Unmarshal(emf.Bytes(), &doc); err != nil {
				t.Fatalf("EMF %q: %v", emf.String(), err)
			}
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log %q: %v", logs.String(), err)
			}
			if doc["Outcome"] != tt.outcome || line["outcome"] != tt.outcome {
				t.Errorf("Outcome = %v (log %v); want %s", doc["Outcome"], line["outcome"], tt.outcome)
			}
			for name, want := range tt.want {
				if doc[name] != want {
					t.Errorf("%s = %v; want %v", name, doc[name], want)
				}
			}
			for _, name := range tt.absent {
				if _, ok := doc[name]; ok {
					t.Errorf("%s emitted; want absent", name)
				}
			}
		})
	}
}
