package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
)

// TestEntryEventsHandlerUnderPutEventsFaults hands one stream batch of 25 entries (three
// PutEvents requests: 10, 10 and 5 events) to the real entry-events handler while the wire
// injector fails its PutEvents calls, and checks the stream promises: every record is
// published or reported in batchItemFailures (never silently dropped), no record whose event
// was accepted is reported, the handler answers inside its deadline, and nothing panics.
func TestEntryEventsHandlerUnderPutEventsFaults(t *testing.T) {
	const n = 25
	every := func(kind faults.Kind) faults.Rule {
		return faults.Rule{Op: faults.PutEvents, Kind: kind, Probability: 1}
	}
	first := func(n int, kind faults.Kind) faults.Rule {
		return faults.Rule{Op: faults.PutEvents, Kind: kind, Count: n}
	}
	tests := []struct {
		name string
		rule faults.Rule
		// wantFailed are the indexes of the records the handler must report.
		wantFailed []int
		// wantTwice are the indexes of the records whose event reaches the bus more than
		// once (a lost response the SDK retried).
		wantTwice []int
	}{
		{name: "throttled once: the SDK retries", rule: first(1, faults.Throttle)},
		{name: "HTTP 500 once: the SDK retries", rule: first(1, faults.Error)},
		// Stream records are retried from the first reported one on, so the requests after
		// a failed one are not sent: reported, not published.
		{name: "throttled past the SDK's attempts", rule: first(3, faults.Throttle), wantFailed: span(0, n)},
		{name: "HTTP 500 on every call", rule: every(faults.Error), wantFailed: span(0, n)},
		{name: "response lost once: applied, retried, published twice", rule: first(1, faults.Lost), wantTwice: span(0, 10)},
		{name: "response lost on every call: published and reported", rule: every(faults.Lost), wantFailed: span(0, n), wantTwice: span(0, 10)},
		{name: "partial failure: exactly the failed entry and the requests after it",
			rule:       faults.Rule{Op: faults.PutEvents, Kind: faults.Partial, Count: 1, Failed: []int{4}},
			wantFailed: append([]int{4}, span(10, n)...)},
		{name: "partial failure of a whole request", rule: faults.Rule{Op: faults.PutEvents, Kind: faults.Partial, Count: 1, Failed: span(0, 10)},
			wantFailed: span(0, n)},
		{name: "slow past the deadline: reported before it", rule: faults.Rule{Op: faults.PutEvents, Kind: faults.Slow, Probability: 1, Latency: 10 * time.Second},
			wantFailed: span(0, n)},
		// The handler reads the entry from the stream image and never calls DynamoDB.
		{name: "every DynamoDB call failing changes nothing", rule: faults.Rule{Op: "*", Kind: faults.Error, Probability: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := awstest.Start(t)
			batch, ids := streamBatch(t, env, n)
			_, err := env.Faults.Add(tt.rule)
			awstest.Must(t, err)
			handler := entryEvents(t, env, nil)

			const deadline = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			begin := time.Now()
			resp, err := handler(ctx, batch)
			took := time.Since(begin)
			awstest.Must(t, err)
			if took >= deadline {
				t.Errorf("handler answered after %s; want inside its %s deadline", took, deadline)
			}

			reported := map[string]bool{}
			for _, f := range resp.BatchItemFailures {
				reported[f.ItemIdentifier] = true
			}
			count := map[string]int{}
			for _, id := range publishedIDs(t, env.Events()) {
				count[id]++
			}
			var failed, twice []int
			for i, rec := range batch.Records {
				if reported[rec.Change.SequenceNumber] {
					failed = append(failed, i)
				} else if count[ids[i]] == 0 {
					t.Errorf("record %d (entry %s) neither published nor reported: silently dropped", i, ids[i])
				}
				if count[ids[i]] > 1 {
					twice = append(twice, i)
				}
			}
			if !slices.Equal(failed, tt.wantFailed) {
				t.Errorf("reported records %v; want %v", failed, tt.wantFailed)
			}
			if !slices.Equal(twice, tt.wantTwice) {
				t.Errorf("records published more than once %v; want %v", twice, tt.wantTwice)
			}
			if env.Faults.Count(tt.rule.Op, tt.rule.Kind) == 0 && tt.rule.Op == faults.PutEvents {
				t.Errorf("no %s fault injected on PutEvents", tt.rule.Kind)
			}
			t.Logf("%s: %d reported, %d events for %d records, %s, faults %v", tt.rule, len(failed), len(env.Events()), n, took, env.Faults.Counts())
		})
	}
}

// span returns the integers from..to-1.
func span(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}
