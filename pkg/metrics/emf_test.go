package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

func TestEmitWritesOneEMFDocumentPerLine(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	tests := []struct {
		name     string
		by       []metrics.Dimension
		ms       []metrics.Metric
		props    map[string]any
		wantDims [][]string
		wantKeys map[string]any
	}{
		{
			name:     "base dimensions only",
			ms:       []metrics.Metric{{Name: "EventsPublished", Unit: metrics.Count, Value: 3}},
			wantDims: [][]string{{"FunctionName"}},
			wantKeys: map[string]any{"FunctionName": "fn", "EventsPublished": 3.0},
		},
		{
			name:     "outcome adds a second dimension set",
			by:       []metrics.Dimension{{Name: "Outcome", Value: "invalid"}},
			ms:       []metrics.Metric{{Name: "ClientErrors", Unit: metrics.Count, Value: 1}, {Name: "Duration", Unit: metrics.Milliseconds, Value: 2.5}},
			wantDims: [][]string{{"FunctionName"}, {"FunctionName", "Outcome"}},
			wantKeys: map[string]any{"FunctionName": "fn", "Outcome": "invalid", "ClientErrors": 1.0, "Duration": 2.5},
		},
		{
			name:     "ids are properties, and a property never overrides a metric or dimension",
			ms:       []metrics.Metric{{Name: "LeadsAccepted", Unit: metrics.Count, Value: 1}},
			props:    map[string]any{"webhookId": "w-1", "LeadsAccepted": "x", "FunctionName": "other"},
			wantDims: [][]string{{"FunctionName"}},
			wantKeys: map[string]any{"webhookId": "w-1", "LeadsAccepted": 1.0, "FunctionName": "fn"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := metrics.New(&buf, "RocketLead/Test", metrics.Dimension{Name: "FunctionName", Value: "fn"}).WithClock(func() time.Time { return at })
			if err := e.Emit(tt.by, tt.ms, tt.props); err != nil {
				t.Fatalf("Emit: %v", err)
			}
			lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
			if len(lines) != 1 {
				t.Fatalf("Emit wrote %d lines; want 1", len(lines))
			}
			var doc struct {
				AWS struct {
					Timestamp         int64
					CloudWatchMetrics []struct {
						Namespace  string
						Dimensions [][]string
						Metrics    []struct{ Name, Unit string }
					}
				} `json:"_aws"`
			}
			if err := json.Unmarshal(lines[0], &doc); err != nil {
				t.Fatalf("document %s: %v", lines[0], err)
			}
			var flat map[string]any
			_ = json.Unmarshal(lines[0], &flat)
			if doc.AWS.Timestamp != at.UnixMilli() || len(doc.AWS.CloudWatchMetrics) != 1 {
				t.Fatalf("_aws = %+v; want timestamp %d and one directive", doc.AWS, at.UnixMilli())
			}
			d := doc.AWS.CloudWatchMetrics[0]
			if d.Namespace != "RocketLead/Test" || !reflect.DeepEqual(d.Dimensions, tt.wantDims) {
				t.Errorf("directive = %+v; want namespace RocketLead/Test, dimensions %v", d, tt.wantDims)
			}
			if len(d.Metrics) != len(tt.ms) {
				t.Errorf("directive metrics = %v; want %d", d.Metrics, len(tt.ms))
			}
			for i, m := range tt.ms {
				if i < len(d.Metrics) && (d.Metrics[i].Name != m.Name || d.Metrics[i].Unit != string(m.Unit)) {
					t.Errorf("metric %d = %+v; want %s %s", i, d.Metrics[i], m.Name, m.Unit)
				}
			}
			for k, want := range tt.wantKeys {
				if flat[k] != want {
					t.Errorf("document[%q] = %v; want %v", k, flat[k], want)
				}
			}
		})
	}
}

func TestEmitRefusesWhatCloudWatchWouldDrop(t *testing.T) {
	many := make([]metrics.Metric, metrics.MaxMetrics+1)
	for i := range many {
		many[i] = metrics.Metric{Name: "m", Unit: metrics.Count, Value: 1}
	}
	tests := []struct {
		name string
		ms   []metrics.Metric
	}{
		{"not a number", []metrics.Metric{{Name: "Duration", Unit: metrics.Milliseconds, Value: math.NaN()}}},
		{"infinite", []metrics.Metric{{Name: "Duration", Unit: metrics.Milliseconds, Value: math.Inf(1)}}},
		{"too many metrics", many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := metrics.New(&buf, "ns").Emit(nil, tt.ms, nil); err == nil || buf.Len() != 0 {
				t.Errorf("Emit = %v, wrote %q; want an error and nothing written", err, buf.String())
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestEmitReportsAWriteFailureAndNilEmitsNothing(t *testing.T) {
	m := []metrics.Metric{{Name: "x", Unit: metrics.Count, Value: 1}}
	if err := metrics.New(failingWriter{}, "ns").Emit(nil, m, nil); err == nil {
		t.Error("Emit to a failing writer = nil; want an error")
	}
	var e *metrics.Emitter
	if err := e.Emit(nil, m, nil); err != nil {
		t.Errorf("nil Emitter.Emit = %v; want nil", err)
	}
}

func TestCallsCountsRetriesAndThrottlesPerContext(t *testing.T) {
	ctx, c := metrics.WithCalls(context.Background())
	if metrics.CallsFrom(ctx) != c {
		t.Fatal("CallsFrom does not return the counter WithCalls put in the context")
	}
	c.Call()
	c.Attempt(true)
	c.Attempt(false)
	c.Call()
	c.Attempt(false)
	if got, want := c.Counts(), (metrics.CallCounts{Calls: 2, Retries: 1, Throttles: 1}); got != want {
		t.Errorf("Counts() = %+v; want %+v", got, want)
	}
	var none *metrics.Calls = metrics.CallsFrom(context.Background())
	none.Call()
	none.Attempt(true)
	if got := none.Counts(); got != (metrics.CallCounts{}) {
		t.Errorf("nil Calls.Counts() = %+v; want zero", got)
	}
}

// TestWriteIsOneLogLineAndOneEMFDocument: the fields come first in their order, the level
// only when it is not INFO, a count carries no unit, and a set (a metric by webhook on some
// requests only) is a directive of its own whose dimension value is a member of the line.
func TestWriteIsOneLogLineAndOneEMFDocument(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	var buf bytes.Buffer
	e := metrics.New(&buf, "ns", metrics.Dimension{Name: "FunctionName", Value: "fn"}).WithClock(func() time.Time { return at })
	line := metrics.Line{
		Level:   slog.LevelError,
		Fields:  []metrics.Field{{Key: "requestId", Value: "r-1"}, {Key: "status", Value: 500}, {Key: "Requests", Value: "shadowed"}},
		By:      []metrics.Dimension{{Name: "Outcome", Value: "internal"}},
		Metrics: []metrics.Metric{{Name: "Requests", Unit: metrics.Count, Value: 1}, {Name: "Duration", Unit: metrics.Milliseconds, Value: 2.5}},
		Sets:    []metrics.Set{{Dimensions: []metrics.Dimension{{Name: "WebhookId", Value: "w-1"}}, Metrics: []metrics.Metric{{Name: "Throttled", Unit: metrics.Count, Value: 1}}}},
	}
	if err := e.Write(line); err != nil {
		t.Fatal(err)
	}
	want := `{"timestamp":"2023-11-14T22:13:20.123Z","level":"ERROR","requestId":"r-1","status":500,"FunctionName":"fn","Outcome":"internal",` +
		`"WebhookId":"w-1","Requests":1,"Duration":2.5,"Throttled":1,"_aws":{"Timestamp":1700000000123,"CloudWatchMetrics":[` +
		`{"Namespace":"ns","Dimensions":[["FunctionName"],["FunctionName","Outcome"]],"Metrics":[{"Name":"Requests"},{"Name":"Duration","Unit":"Milliseconds"}]},` +
		`{"Namespace":"ns","Dimensions":[["FunctionName","WebhookId"]],"Metrics":[{"Name":"Throttled"}]}]}}` + "\n"
	if buf.String() != want {
		t.Errorf("line =\n%s\nwant\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := e.Write(metrics.Line{Level: slog.LevelInfo, Metrics: []metrics.Metric{{Name: "Requests", Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `"level"`) {
		t.Errorf("an INFO line %s has a level; want none (Lambda reads a line without one as INFO)", buf.String())
	}
}
