package apigw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

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
			map[string]float64{"LeadsAccepted": 1, "ClientErrors": 0, "SchemaKeysLocked": 3, "LockConflictsRetried": 2, "IdempotentReplays": 0, "ServerErrors": 0, "Requests": 1},
			[]string{"RejectedRequestsKept", "RejectedRequestsNotKept", "HoneypotCaught"}},
		{"honeypot caught", &lead.IngestResult{Entry: entry, Honeypot: true}, nil, nil, 201, "honeypot",
			map[string]float64{"HoneypotCaught": 1, "LeadsAccepted": 0, "ClientErrors": 0}, nil},
		{"idempotent replay", &lead.IngestResult{Entry: entry, Replayed: true}, nil, nil, 201, "replayed",
			map[string]float64{"IdempotentReplays": 1, "LeadsAccepted": 0, "SchemaKeysLocked": 0}, nil},
		{"dry run", &lead.IngestResult{Entry: entry, DryRun: true}, nil, map[string]string{apigw.DryRunQueryParameter: "true"}, 200, "dry_run",
			map[string]float64{"LeadsAccepted": 0, "ClientErrors": 0}, nil},
		{"rejected and kept", nil, rejected(&lead.RejectedFate{ID: "r1", Kept: true}), nil, 400, "invalid",
			map[string]float64{"ClientErrors": 1, "RejectedRequestsKept": 1}, []string{"RejectedRequestsNotKept"}},
		{"rejected and not kept", nil, rejected(&lead.RejectedFate{}), nil, 400, "invalid",
			map[string]float64{"ClientErrors": 1, "RejectedRequestsNotKept": 1}, []string{"RejectedRequestsKept"}},
		{"store failure", nil, errors.New("dynamodb: internal server error"), nil, 500, "internal",
			map[string]float64{"ServerErrors": 1, "ClientErrors": 0, "LeadsAccepted": 0}, nil},
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
			// One line, the log line and the EMF document at once; nothing else.
			var doc map[string]any
			if err := json.Unmarshal(emf.Bytes(), &doc); err != nil || bytes.Count(emf.Bytes(), []byte("\n")) != 1 || logs.Len() != 0 {
				t.Fatalf("line %q (%v), other logs %q; want one JSON line and nothing else", emf.String(), err, logs.String())
			}
			if doc["Outcome"] != tt.outcome || doc["status"] != float64(tt.status) {
				t.Errorf("Outcome, status = %v, %v; want %s, %d", doc["Outcome"], doc["status"], tt.outcome, tt.status)
			}
			for name, want := range tt.want {
				// A count of zero is left out of the line: a missing count reads as zero.
				if got, _ := doc[name].(float64); got != want {
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

// TestObserveSaysWhatIsUnsettled: an entry write the store could not settle is the 500
// "Outcome unknown" naming the entry, with "unsettled": true, in the body, the log line and
// the UnsettledWrites metric; a rejected request whose keeping is unsettled is a 400 naming
// its rejectedId (a 400 without one means "not kept") with "unsettled": true, counted
// neither kept nor not kept. Observe gives the handler the function's settle time.
func TestObserveSaysWhatIsUnsettled(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		fate     lead.RejectedFate
		status   int
		body     map[string]any
		metrics  map[string]float64
		absent   []string
		logAttrs map[string]any
	}{
		{"entry write unsettled", fmt.Errorf("store entry: %w: %w", lead.Unsettled("e1"), errors.New("fence: no answer")), lead.RejectedFate{}, 500,
			map[string]any{"error": "Outcome unknown", "entryId": "e1", "unsettled": true},
			map[string]float64{"ServerErrors": 1, "UnsettledWrites": 1, "LeadsAccepted": 0},
			[]string{"RejectedRequestsKept", "RejectedRequestsNotKept"},
			map[string]any{"Outcome": "unsettled", "UnsettledWrites": 1.0, "entryId": "e1", "level": "ERROR"}},
		{"keeping a rejected request unsettled", lead.Invalid("type mismatch"), lead.RejectedFate{ID: "r1", Unsettled: true}, 400,
			map[string]any{"error": "Validation failed", "rejectedId": "r1", "unsettled": true},
			map[string]float64{"ClientErrors": 1, "UnsettledWrites": 1},
			[]string{"RejectedRequestsKept", "RejectedRequestsNotKept"},
			map[string]any{"rejectedId": "r1", "rejectedUnsettled": true, "Outcome": "invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs, emf bytes.Buffer
			var settleIn time.Duration
			fake := &apigw.FakeIngester{Err: tt.err, Fate: tt.fate, OnIngest: func(ctx context.Context) {
				by, ok := lead.SettleBy(ctx)
				if !ok {
					t.Errorf("the handler's context carries no settle time")
				}
				settleIn = time.Until(by)
				metrics.CallsFrom(ctx).Fence(false) // what the store counts when it cannot settle
			}}
			h := apigw.Observe(apigw.IngestHandler(fake), apigw.Observer{Function: "IngressFunction", Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
				Metrics: metrics.New(&emf, "ns", metrics.Dimension{Name: "FunctionName", Value: "IngressFunction"})})
			req := apigw.Request{RouteKey: "POST /public/ingress_webhooks/{id}", PathParameters: map[string]string{"id": "w"},
				Headers: map[string]string{apigw.TokenHeader: strings.Repeat("a", 64)}, Body: `{"data":{"a":"b"}}`}
			resp, err := h(context.Background(), req)
			if err != nil || resp.StatusCode != tt.status {
				t.Fatalf("handler = %d, %v; want %d", resp.StatusCode, err, tt.status)
			}
			// Outside Lambda the function's deadline is FunctionTimeout after the start.
			if want := lead.SettleBudget; settleIn > want || settleIn < want-time.Second {
				t.Errorf("settle time %v after the start; want about %v", settleIn, want)
			}
			var body, doc map[string]any
			for _, d := range []struct {
				b []byte
				v *map[string]any
			}{{[]byte(resp.Body), &body}, {emf.Bytes(), &doc}} {
				if err := json.Unmarshal(d.b, d.v); err != nil {
					t.Fatalf("%q: %v", d.b, err)
				}
			}
			for k, want := range tt.body {
				if body[k] != want {
					t.Errorf("body %s = %v; want %v (%s)", k, body[k], want, resp.Body)
				}
			}
			for name, want := range tt.metrics {
				if got, _ := doc[name].(float64); got != want {
					t.Errorf("%s = %v; want %v", name, doc[name], want)
				}
			}
			for _, name := range tt.absent {
				if _, ok := doc[name]; ok {
					t.Errorf("%s emitted; want absent", name)
				}
			}
			for k, want := range tt.logAttrs {
				if doc[k] != want {
					t.Errorf("line %s = %v; want %v", k, doc[k], want)
				}
			}
		})
	}
}

func TestObserveSettlesBeforeTheInvocationsDeadline(t *testing.T) {
	var by time.Time
	h := apigw.Observe(func(ctx context.Context, _ apigw.Request) (apigw.Response, apigw.Outcome) {
		by, _ = lead.SettleBy(ctx)
		return apigw.Response{StatusCode: 204}, apigw.Outcome{Status: 204}
	}, apigw.Observer{Function: "F"})
	deadline := time.Now().Add(3 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if _, err := h(ctx, apigw.Request{}); err != nil {
		t.Fatal(err)
	}
	if want := deadline.Add(-lead.AnswerMargin); !by.Equal(want) {
		t.Errorf("settle by %v; want the invocation's deadline less the answer margin, %v", by, want)
	}
}
