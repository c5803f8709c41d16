package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// Unit is a CloudWatch metric unit.
type Unit string

// The units the service emits.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
)

// MaxMetrics is how many metrics one EMF document may define.
const MaxMetrics = 100

// Metric is one value of a document.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Dimension is one dimension name and its value.
type Dimension struct {
	Name  string
	Value string
}

// Emitter writes EMF documents to one writer, one line each; it is safe for concurrent use.
// A nil *Emitter emits nothing.
type Emitter struct {
	mu        sync.Mutex
	w         io.Writer
	namespace string
	base      []Dimension
	now       func() time.Time
}

// New returns an Emitter writing to w in the namespace, with base as the dimensions of
// every document (e.g. the function name).
func New(w io.Writer, namespace string, base ...Dimension) *Emitter {
	return &Emitter{w: w, namespace: namespace, base: base, now: time.Now}
}

// WithClock returns a copy of e reading the time from now; tests pin the timestamp with it.
func (e *Emitter) WithClock(now func() time.Time) *Emitter {
	return &Emitter{w: e.w, namespace: e.namespace, base: e.base, now: now}
}

// Emit writes one document holding ms. Every metric is aggregated under the base dimensions
// and, when by is not empty, also under the base dimensions plus by (e.g. the outcome of a
// request). props are written beside the metrics for searching the logs, never as
// dimensions; a property named like a metric or a dimension is dropped.
func (e *Emitter) Emit(by []Dimension, ms []Metric, props map[string]any) error {
	if e == nil || len(ms) == 0 {
		return nil
	}
	if len(ms) > MaxMetrics {
		return fmt.Errorf("emit %d metrics: at most %d per document", len(ms), MaxMetrics)
	}
	doc := make(map[string]any, len(props)+len(ms)+len(e.base)+len(by)+1)
	for k, v := range props {
		doc[k] = v
	}
	names := make([]string, 0, len(e.base))
	for _, d := range e.base {
		doc[d.Name] = d.Value
		names = append(names, d.Name)
	}
	sets := [][]string{names}
	if len(by) > 0 {
		full := append(append([]string{}, names...), make([]string, 0, len(by))...)
		for _, d := range by {
			doc[d.Name] = d.Value
			full = append(full, d.Name)
		}
		sets = append(sets, full)
	}
	defs := make([]metricDef, 0, len(ms))
	for _, m := range ms {
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return fmt.Errorf("emit metric %s: value %v is not a number CloudWatch accepts", m.Name, m.Value)
		}
		doc[m.Name] = m.Value
		defs = append(defs, metricDef{Name: m.Name, Unit: m.Unit})
	}
	doc["_aws"] = awsMetadata{
		Timestamp: e.now().UnixMilli(),
		CloudWatchMetrics: []directive{{
			Namespace:  e.namespace,
			Dimensions: sets,
			Metrics:    defs,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode EMF document: %w", err)
	}
	b = append(b, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.w.Write(b); err != nil {
		return fmt.Errorf("write EMF document: %w", err)
	}
	return nil
}

type awsMetadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

type metricDef struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit"`
}
