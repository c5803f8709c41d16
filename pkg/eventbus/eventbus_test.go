package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/rocketlead/ingress-webhooks/pkg/eventbus"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// fakeAPI records every PutEvents request and answers with respond (all accepted if nil).
type fakeAPI struct {
	mu      sync.Mutex
	calls   [][]types.PutEventsRequestEntry
	respond func(call int, in *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error)
}

func (f *fakeAPI) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	call := len(f.calls)
	f.calls = append(f.calls, in.Entries)
	f.mu.Unlock()
	if f.respond != nil {
		return f.respond(call, in)
	}
	return accepted(in), nil
}

func accepted(in *eventbridge.PutEventsInput) *eventbridge.PutEventsOutput {
	out := &eventbridge.PutEventsOutput{}
	for i := range in.Entries {
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String(fmt.Sprintf("ev-%d", i))})
	}
	return out
}

func entry(i int, dataBytes int) lead.EntryAdded {
	return lead.NewEntryAdded(&lead.Entry{
		ID:             fmt.Sprintf("0196b8e2-4c00-7a3b-8f21-%012d", i),
		PoolID:         "7b1e3c52-2f0a-4c3e-9d55-0c1f3b8e6a10",
		OrganizationID: "3f6c9a1e-8d2b-4f7a-b5c4-2e1d0a9b8c7d",
		WebhookID:      "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
		LeadStateID:    "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
		CreatedAt:      time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC),
		Data:           map[string]any{"note": strings.Repeat("x", dataBytes), "age": lead.Number("36")},
	})
}

func entries(n, dataBytes int) []lead.EntryAdded {
	evs := make([]lead.EntryAdded, n)
	for i := range evs {
		evs[i] = entry(i, dataBytes)
	}
	return evs
}

func entrySize(e types.PutEventsRequestEntry) int {
	return len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail))
}

func TestPublishBatchesWithinCountAndSizeLimits(t *testing.T) {
	tests := []struct {
		name      string
		n, data   int
		wantSizes []int
	}{
		{"one event", 1, 10, []int{1}},
		{"ten events fill one request", 10, 10, []int{10}},
		{"25 small events", 25, 10, []int{10, 10, 5}},
		{"60 KB events, four per request", 10, 60 << 10, []int{4, 4, 2}},
		{"120 KB events, two per request", 5, 120 << 10, []int{2, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{}
			evs := entries(tt.n, tt.data)
			errs := eventbus.New(api, "default", "rocketlead.ingress", nil).Publish(context.Background(), evs)
			for i, err := range errs {
				if err != nil {
					t.Errorf("Publish error for event %d = %v; want nil", i, err)
				}
			}
			var sizes []int
			next := 0
			for c, call := range api.calls {
				sizes = append(sizes, len(call))
				total := 0
				for _, e := range call {
					total += entrySize(e)
					var d struct {
						Entry struct{ ID string } `json:"entry"`
					}
					if err := json.Unmarshal([]byte(aws.ToString(e.Detail)), &d); err != nil || d.Entry.ID != evs[next].Entry.ID {
						t.Errorf("call %d carries entry %q; want %q in order", c, d.Entry.ID, evs[next].Entry.ID)
					}
					next++
				}
				if len(call) > eventbus.MaxBatchEntries || total > eventbus.MaxRequestBytes {
					t.Errorf("call %d has %d entries, %d bytes; limits are %d and %d", c, len(call), total, eventbus.MaxBatchEntries, eventbus.MaxRequestBytes)
				}
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tt.wantSizes) {
				t.Errorf("request sizes = %v; want %v", sizes, tt.wantSizes)
			}
		})
	}
}

func TestPublishSetsBusSourceDetailType(t *testing.T) {
	api := &fakeAPI{}
	ev := entry(1, 5)
	eventbus.New(api, "leads-bus", "acme.ingress", nil).Publish(context.Background(), []lead.EntryAdded{ev})
	if len(api.calls) != 1 || len(api.calls[0]) != 1 {
		t.Fatalf("calls = %v; want one call with one entry", api.calls)
	}
	e := api.calls[0][0]
	want, _ := json.Marshal(wire.ViewEntryAdded(ev))
	got := []string{aws.ToString(e.EventBusName), aws.ToString(e.Source), aws.ToString(e.DetailType), aws.ToString(e.Detail)}
	if fmt.Sprint(got) != fmt.Sprint([]string{"leads-bus", "acme.ingress", "table.entry.added", string(want)}) {
		t.Errorf("entry = %v; want bus, source, detail type and the marshalled detail", got)
	}
	if e.Time != nil || e.Resources != nil {
		t.Errorf("entry sets Time %v / Resources %v; want neither (they count towards the size)", e.Time, e.Resources)
	}
}

func TestPublishReportsFailuresPerEvent(t *testing.T) {
	withCodes := func(failed ...int) func(int, *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error) {
		return func(_ int, in *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error) {
			out := accepted(in)
			for _, i := range failed {
				out.Entries[i] = types.PutEventsResultEntry{ErrorCode: aws.String("ThrottlingException"), ErrorMessage: aws.String("Rate exceeded")}
			}
			out.FailedEntryCount = int32(len(failed))
			return out, nil
		}
	}
	tests := []struct {
		name       string
		n          int
		respond    func(int, *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error)
		wantFailed []int
		// wantCalls is the PutEvents calls made; 0 means one per request of ten.
		wantCalls int
	}{
		{"all accepted", 10, nil, nil, 0},
		{"two of ten failed", 10, withCodes(3, 7), []int{3, 7}, 0},
		{"transport error fails the request's events", 10, func(int, *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error) {
			return nil, errors.New("connection reset by peer")
		}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0},
		{"transport error on the second request only", 15, func(call int, in *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error) {
			if call == 1 {
				return nil, errors.New("timeout")
			}
			return accepted(in), nil
		}, []int{10, 11, 12, 13, 14}, 0},
		{"FailedEntryCount without codes fails the whole request", 3, func(_ int, in *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error) {
			out := accepted(in)
			out.FailedEntryCount = 1
			return out, nil
		}, []int{0, 1, 2}, 0},
		{"an entry without EventId is not accepted", 3, func(_ int, in *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error) {
			out := accepted(in)
			out.Entries[1] = types.PutEventsResultEntry{}
			return out, nil
		}, []int{1}, 0},
		{"fewer results than entries fail the request", 3, func(_ int, in *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error) {
			out := accepted(in)
			out.Entries = out.Entries[:2]
			return out, nil
		}, []int{0, 1, 2}, 0},
		// Lambda retries a stream batch from its first reported record on: events after a
		// failed one are not sent (they would be published twice), nor is a failing bus
		// called again.
		{"partial failure in the first request: the later requests are not sent", 25, withCodes(4), span(4, 5, 10, 25), 1},
		{"transport error on the first request: the later ones are not sent", 25, func(int, *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error) {
			return nil, errors.New("connection reset by peer")
		}, span(0, 25), 1},
		{"partial failure in the last request: the earlier ones stand", 25, func(call int, in *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error) {
			if call == 2 {
				return withCodes(4)(call, in)
			}
			return accepted(in), nil
		}, []int{24}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{respond: tt.respond}
			errs := eventbus.New(api, "default", "rocketlead.ingress", nil).Publish(context.Background(), entries(tt.n, 10))
			var failed []int
			for i, err := range errs {
				if err != nil {
					failed = append(failed, i)
				}
			}
			if fmt.Sprint(failed) != fmt.Sprint(tt.wantFailed) {
				t.Errorf("failed events = %v; want %v (errors %v)", failed, tt.wantFailed, errs)
			}
			wantCalls := tt.wantCalls
			if wantCalls == 0 {
				wantCalls = (tt.n + eventbus.MaxBatchEntries - 1) / eventbus.MaxBatchEntries
			}
			if len(api.calls) != wantCalls {
				t.Errorf("%d PutEvents calls; want %d", len(api.calls), wantCalls)
			}
		})
	}
}

// span returns the integers of the half-open ranges [from, to) given as pairs.
func span(bounds ...int) []int {
	var s []int
	for i := 0; i+1 < len(bounds); i += 2 {
		for v := bounds[i]; v < bounds[i+1]; v++ {
			s = append(s, v)
		}
	}
	return s
}

func TestPublishEntryErrorCarriesTheCode(t *testing.T) {
	api := &fakeAPI{respond: func(_ int, in *eventbridge.PutEventsInput) (*eventbridge.PutEventsOutput, error) {
		return &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []types.PutEventsResultEntry{
			{ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("try again")},
		}}, nil
	}}
	errs := eventbus.New(api, "default", "s", nil).Publish(context.Background(), entries(1, 1))
	var ee *eventbus.EntryError
	if !errors.As(errs[0], &ee) || ee.Code != "InternalFailure" {
		t.Errorf("Publish error = %v; want an *EntryError with code InternalFailure", errs[0])
	}
}

func TestPublishReplacesAnOversizedEventWithAReference(t *testing.T) {
	api := &fakeAPI{}
	big := entry(1, 300<<10)
	small := entry(2, 10)
	errs := eventbus.New(api, "default", "rocketlead.ingress", nil).Publish(context.Background(), []lead.EntryAdded{small, big, small})
	for i, err := range errs {
		if err != nil {
			t.Errorf("event %d: %v; an oversized event is published as a reference, not failed", i, err)
		}
	}
	var details []map[string]any
	for _, call := range api.calls {
		for _, e := range call {
			if s := entrySize(e); s > eventbus.MaxRequestBytes {
				t.Errorf("published entry is %d bytes; want at most %d", s, eventbus.MaxRequestBytes)
			}
			var d map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(e.Detail)), &d); err != nil {
				t.Fatalf("detail is not JSON: %v", err)
			}
			details = append(details, d)
		}
	}
	if len(details) != 3 {
		t.Fatalf("%d events published; want 3 (none dropped)", len(details))
	}
	ref := details[1]
	e, _ := ref["entry"].(map[string]any)
	want := map[string]any{
		"id": big.Entry.ID, "tableId": big.Entry.PoolID, "organizationId": big.Entry.OrganizationID,
		"leadStateId": big.Entry.LeadStateID, "createdAt": "2026-05-10T12:00:00Z",
	}
	if fmt.Sprint(e) != fmt.Sprint(want) || ref["truncated"] != true {
		t.Errorf("reference detail = %v; want entry %v and truncated true", ref, want)
	}
	if tr, _ := ref["trigger"].(map[string]any); tr["type"] != "ingress_webhook" || tr["id"] != big.Entry.WebhookID {
		t.Errorf("reference trigger = %v; want the webhook", ref["trigger"])
	}
	for _, i := range []int{0, 2} {
		if _, truncated := details[i]["truncated"]; truncated {
			t.Errorf("event %d is truncated; only the oversized one may be", i)
		}
		if data, _ := details[i]["entry"].(map[string]any)["data"].(map[string]any); data["age"] != float64(36) {
			t.Errorf("event %d data = %v; want the full entry", i, data)
		}
	}
}
