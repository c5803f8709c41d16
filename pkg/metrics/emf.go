package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// Unit is a CloudWatch metric unit.
type Unit string

// The units the service emits. A count is written without a unit (CloudWatch's None): every
// reader of the service's counts sums them, and "Unit":"Count" would add 15 bytes a metric to
// every line.
const (
	Count        Unit = ""
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

// Field is one log field of a line: a name and a value encoded as JSON.
type Field struct {
	Key   string
	Value any
}

// Set is a group of metrics aggregated under the base dimensions plus its own, e.g. a count
// by webhook emitted on some requests only.
type Set struct {
	Dimensions []Dimension
	Metrics    []Metric
}

// Line is one log line that is also an EMF document: CloudWatch Logs keeps the fields for
// searching and extracts the metrics from its "_aws" member.
type Line struct {
	// Level is written as "level" when it is not INFO (Lambda takes a line without one as
	// INFO).
	Level slog.Level
	// Fields are the line's log fields, in order; one named like a metric or a dimension
	// is dropped.
	Fields []Field
	// By are the dimensions of a second aggregation of Metrics beside the base dimensions
	// (e.g. the outcome of a request); empty aggregates them under the base ones only.
	By      []Dimension
	Metrics []Metric
	// Sets are further metrics, each under the base dimensions plus its own.
	Sets []Set
}

// Emitter writes lines that are EMF documents to one writer, one line each; it is safe for
// concurrent use. A nil *Emitter emits nothing.
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

// Emit writes one document holding ms, aggregated under the base dimensions and, when by is
// not empty, also under the base dimensions plus by. props are log fields beside the
// metrics (in the order of their names), never dimensions.
func (e *Emitter) Emit(by []Dimension, ms []Metric, props map[string]any) error {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := make([]Field, 0, len(keys))
	for _, k := range keys {
		fields = append(fields, Field{k, props[k]})
	}
	return e.Write(Line{Fields: fields, By: by, Metrics: ms})
}

// Write writes l as one line: a "timestamp" (RFC 3339, so that Lambda adds none), the level
// when not INFO, the fields, the dimension values, the metric values and "_aws", the
// metadata that makes CloudWatch extract the metrics. A line without metrics is not
// written.
func (e *Emitter) Write(l Line) error {
	if e == nil || len(l.Metrics)+len(l.setMetrics()) == 0 {
		return nil
	}
	if n := len(l.Metrics) + len(l.setMetrics()); n > MaxMetrics {
		return fmt.Errorf("emit %d metrics: at most %d per document", n, MaxMetrics)
	}
	now := e.now()
	var b bytes.Buffer
	b.WriteByte('{')
	taken := map[string]bool{}
	add := func(k string, v any) error {
		if taken[k] {
			return nil
		}
		taken[k] = true
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", k, err)
		}
		b.Write(vb)
		return nil
	}
	// Metric and dimension names are reserved before the fields.
	reserved := map[string]bool{"timestamp": true, "level": true, "_aws": true}
	for _, d := range e.base {
		reserved[d.Name] = true
	}
	for _, d := range l.By {
		reserved[d.Name] = true
	}
	for _, m := range append(slices.Clone(l.Metrics), l.setMetrics()...) {
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return fmt.Errorf("emit metric %s: value %v is not a number CloudWatch accepts", m.Name, m.Value)
		}
		reserved[m.Name] = true
	}
	for _, s := range l.Sets {
		for _, d := range s.Dimensions {
			reserved[d.Name] = true
		}
	}
	if err := add("timestamp", now.UTC().Format("2006-01-02T15:04:05.000Z07:00")); err != nil {
		return err
	}
	if l.Level != slog.LevelInfo {
		if err := add("level", l.Level.String()); err != nil {
			return err
		}
	}
	for _, f := range l.Fields {
		if reserved[f.Key] {
			continue
		}
		if err := add(f.Key, f.Value); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(e.base))
	for _, d := range e.base {
		names = append(names, d.Name)
		if err := add(d.Name, d.Value); err != nil {
			return err
		}
	}
	dims := func(extra []Dimension) ([]string, error) {
		set := slices.Clone(names)
		for _, d := range extra {
			set = append(set, d.Name)
			if err := add(d.Name, d.Value); err != nil {
				return nil, err
			}
		}
		return set, nil
	}
	main := directive{Namespace: e.namespace, Dimensions: [][]string{names}}
	if len(l.By) > 0 {
		set, err := dims(l.By)
		if err != nil {
			return err
		}
		main.Dimensions = append(main.Dimensions, set)
	}
	var directives []directive
	if len(l.Metrics) > 0 {
		directives = append(directives, main)
	}
	for _, s := range l.Sets {
		if len(s.Metrics) == 0 {
			continue
		}
		set, err := dims(s.Dimensions)
		if err != nil {
			return err
		}
		directives = append(directives, directive{Namespace: e.namespace, Dimensions: [][]string{set}, Metrics: defs(s.Metrics)})
	}
	if len(l.Metrics) > 0 {
		directives[0].Metrics = defs(l.Metrics)
	}
	for _, m := range append(slices.Clone(l.Metrics), l.setMetrics()...) {
		if err := add(m.Name, m.Value); err != nil {
			return err
		}
	}
	if err := add("_aws", awsMetadata{Timestamp: now.UnixMilli(), CloudWatchMetrics: directives}); err != nil {
		return err
	}
	b.WriteString("}\n")
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write EMF document: %w", err)
	}
	return nil
}

// setMetrics are the metrics of l's sets.
func (l Line) setMetrics() []Metric {
	var ms []Metric
	for _, s := range l.Sets {
		ms = append(ms, s.Metrics...)
	}
	return ms
}

func defs(ms []Metric) []metricDef {
	out := make([]metricDef, 0, len(ms))
	for _, m := range ms {
		out = append(out, metricDef{Name: m.Name, Unit: m.Unit})
	}
	return out
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
	Unit Unit   `json:"Unit,omitempty"`
}
