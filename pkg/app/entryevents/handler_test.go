package entryevents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocketlead/ingress-webhooks/pkg/app/entryevents"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// fakePublisher records what it is asked to publish and fails the entry ids in fail.
type fakePublisher struct {
	calls [][]lead.EntryAdded
	fail  map[string]bool
}

func (p *fakePublisher) Publish(_ context.Context, evs []lead.EntryAdded) []error {
	p.calls = append(p.calls, evs)
	errs := make([]error, len(evs))
	for i, ev := range evs {
		if p.fail[ev.Entry.ID] {
			errs[i] = errors.New("ThrottlingException: Rate exceeded")
		}
	}
	return errs
}

func (p *fakePublisher) published() []lead.EntryAdded {
	var out []lead.EntryAdded
	for _, c := range p.calls {
		out = append(out, c...)
	}
	return out
}

func loadEvent(t *testing.T, name string) events.DynamoDBEvent {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return ev
}

func failedIDs(resp events.DynamoDBEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func TestHandlerPublishesEntryInsertsSkipsOthersFailsUndecodable(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pub := &fakePublisher{}
	resp, err := entryevents.NewHandler(pub, logger, nil)(context.Background(), loadEvent(t, "mixed_batch.json"))
	if err != nil {
		t.Fatalf("handler error = %v; want nil (failures are reported per record)", err)
	}

	// 101 and 109 are entry inserts; 102 MODIFY, 103 pool, 104 idempotency record and
	// 105 REMOVE are skipped; 106 (bad createdAt), 107 (nested map in data) and 108 (no
	// new image) cannot be decoded and must reach the on-failure destination.
	if got, want := fmt.Sprint(failedIDs(resp)), "[106 107 108]"; got != want {
		t.Errorf("batchItemFailures = %s; want %s", got, want)
	}
	var ids []string
	for _, ev := range pub.published() {
		ids = append(ids, ev.Entry.ID[len(ev.Entry.ID)-1:])
	}
	if got := fmt.Sprint(ids); got != "[1 9]" {
		t.Errorf("published entries ending in %s; want [1 9]", got)
	}
	if len(pub.calls) != 1 {
		t.Errorf("Publish called %d times; want once per batch", len(pub.calls))
	}
	for _, secret := range []string{"ada@example.com", "grace@example.com", "12345678901234567890"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain lead data %q:\n%s", secret, logs.String())
		}
	}
}

func TestHandlerDetailIsTheEntryAsThe201BodyRendersIt(t *testing.T) {
	pub := &fakePublisher{}
	ev := loadEvent(t, "mixed_batch.json")
	ev.Records = ev.Records[8:9]
	if _, err := entryevents.NewHandler(pub, nil, nil)(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	got := pub.published()
	if len(got) != 1 {
		t.Fatalf("published %d events; want 1", len(got))
	}
	detail, err := json.Marshal(wire.ViewEntryAdded(got[0]))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"entry":{"id":"0196b8e2-4c00-7a3b-8f21-000000000009","tableId":"7b1e3c52-2f0a-4c3e-9d55-0c1f3b8e6a10",` +
		`"organizationId":"3f6c9a1e-8d2b-4f7a-b5c4-2e1d0a9b8c7d",` +
		`"data":{"budget":12345678901234567890.123456789,"email":"grace@example.com","note":null,"tags":["a","b"],"tiny":-1.5E-130,"vip":true},` +
		`"customFieldData":{"e2c1b0a9-8f7e-4d6c-9b5a-4e3d2c1b0a9f":["x"]},` +
		`"leadStateId":"5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a","createdAt":"2026-05-10T12:00:00Z"},` +
		`"trigger":{"type":"ingress_webhook","id":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"}}`
	if string(detail) != want {
		t.Errorf("detail =\n%s\nwant\n%s", detail, want)
	}
}

func TestHandlerReportsExactlyTheRecordsThePublisherFailed(t *testing.T) {
	ev := loadEvent(t, "mixed_batch.json")
	tests := []struct {
		name string
		fail []string
		want string
	}{
		{"none", nil, "[106 107 108]"},
		{"first entry", []string{"0196b8e2-4c00-7a3b-8f21-000000000001"}, "[106 107 108 101]"},
		{"both entries", []string{"0196b8e2-4c00-7a3b-8f21-000000000001", "0196b8e2-4c00-7a3b-8f21-000000000009"}, "[106 107 108 101 109]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{fail: map[string]bool{}}
			for _, id := range tt.fail {
				pub.fail[id] = true
			}
			resp, err := entryevents.NewHandler(pub, nil, nil)(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(failedIDs(resp)); got != tt.want {
				t.Errorf("batchItemFailures = %s; want %s", got, tt.want)
			}
		})
	}
}

func TestHandlerWithNothingToPublishSucceeds(t *testing.T) {
	pub := &fakePublisher{}
	ev := loadEvent(t, "mixed_batch.json")
	ev.Records = ev.Records[1:5]
	resp, err := entryevents.NewHandler(pub, nil, nil)(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 || len(pub.calls) != 0 {
		t.Errorf("handler = %v, %v with %d Publish calls; want no failures and no call", resp, err, len(pub.calls))
	}
}

func TestHandlerEmitsOneBatchDocumentWithPublishedFailedAndAge(t *testing.T) {
	now := time.Now()
	// Records 101 and 109 of the fixture are entry inserts that decode.
	batch := loadEvent(t, "mixed_batch.json")
	entry := map[string]events.DynamoDBEventRecord{}
	for _, r := range batch.Records {
		entry[r.Change.SequenceNumber] = r
	}
	rec := func(seq string, age time.Duration) events.DynamoDBEventRecord {
		r := entry[seq]
		r.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: now.Add(-age).Truncate(time.Second)}
		return r
	}
	id := func(seq string) string {
		item, err := dynamo.ItemFromImage(entry[seq].Change.NewImage)
		if err != nil {
			t.Fatal(err)
		}
		e, err := dynamo.EntryFromItem(item)
		if err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	tests := []struct {
		name                     string
		recs                     []events.DynamoDBEventRecord
		fail                     map[string]bool
		published, failed, minMs float64
	}{
		{"all published, oldest 2 minutes", []events.DynamoDBEventRecord{rec("101", 5*time.Second), rec("109", 2*time.Minute)}, nil, 2, 0, 119_000},
		{"one not accepted by the bus", []events.DynamoDBEventRecord{rec("101", 0), rec("109", 0)}, map[string]bool{id("109"): true}, 1, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var emf bytes.Buffer
			h := entryevents.NewHandler(&fakePublisher{fail: tt.fail}, nil, metrics.New(&emf, "ns", metrics.Dimension{Name: "FunctionName", Value: "EntryEventsFunction"}))
			if _, err := h(context.Background(), events.DynamoDBEvent{Records: tt.recs}); err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(emf.Bytes(), &doc); err != nil {
				t.Fatalf("EMF %q: %v", emf.String(), err)
			}
			// A count of zero is left out of the line: a missing count reads as zero.
			n := func(name string) float64 { v, _ := doc[name].(float64); return v }
			if _, ok := doc["_aws"]; !ok || n(entryevents.MetricEventsPublished) != tt.published || n(entryevents.MetricEventsFailed) != tt.failed ||
				n(entryevents.MetricStreamRecords) != float64(len(tt.recs)) {
				t.Errorf("EMF %v; want published %v, failed %v, records %d", doc, tt.published, tt.failed, len(tt.recs))
			}
			if age, _ := doc[entryevents.MetricStreamAge].(float64); age < tt.minMs || age > tt.minMs+10_000 {
				t.Errorf("%s = %v ms; want about %v ms (the oldest record)", entryevents.MetricStreamAge, age, tt.minMs)
			}
		})
	}
}

func TestHandlerSkipsAFence(t *testing.T) {
	// Should a fence's record get past the event source filter, the handler still publishes
	// nothing for it and reports no failure.
	pub := &fakePublisher{}
	s := events.NewStringAttribute
	rec := events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
		SequenceNumber: "1",
		Keys:           map[string]events.DynamoDBAttributeValue{"pk": s("TABLE#p#01"), "sk": s("ENTRY#0190")},
		NewImage: map[string]events.DynamoDBAttributeValue{"pk": s("TABLE#p#01"), "sk": s("ENTRY#0190"),
			dynamo.TypeAttribute: s(dynamo.FenceType), "fencedAt": s("2026-11-30T05:00:00Z"), dynamo.TTLAttribute: events.NewNumberAttribute("1796187600")},
	}}
	resp, err := entryevents.NewHandler(pub, nil, nil)(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 0 || len(pub.published()) != 0 {
		t.Errorf("fence record: failures %v, published %v; want neither", resp.BatchItemFailures, pub.published())
	}
}
