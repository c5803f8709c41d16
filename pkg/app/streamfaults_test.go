package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/app/entryevents"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
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
		{name: "slow inside the deadline: published", rule: faults.Rule{Op: faults.PutEvents, Kind: faults.Slow, Probability: 1, Latency: 300 * time.Millisecond}},
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

			// The invocation's deadline: the handler cuts its calls entryevents.AnswerReserve
			// before it and must have answered by it.
			const deadline = entryevents.AnswerReserve + 3*time.Second
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

// TestEveryStoredEntryGetsItsEventUnderFaults sends POSTs through the ingest handler while
// the injector fails the DynamoDB writes (conflicts, throttling, 500s, lost responses) and
// the entry-events handler's PutEvents calls (and, for a few POSTs, fails every entry write:
// 5xx, nothing stored), with the stream relay retrying from the first reported record as
// Lambda does, as often as the template's event source mapping (11 attempts). It checks the
// outbox promises: every stored entry was answered 201 and reaches the bus at least once, no
// event names an entry that was not stored, each event carries its entry's id (the consumers'
// de-duplication key) and a repeated event is byte for byte the first. Duplicates come only
// from puts EventBridge applied that are then retried: a lost answer (its whole request, at
// most 10) and a partial failure (the accepted entries after the failed one, which the retry
// from the failed record hands over again); with neither there are none.
func TestEveryStoredEntryGetsItsEventUnderFaults(t *testing.T) {
	const writes = "TransactWriteItems:conflict:0.1,TransactWriteItems:throttle:0.05,TransactWriteItems:lost:0.1," +
		"PutItem:throttle:0.05,PutItem:error:0.1,PutItem:lost:0.1"
	tests := []struct {
		name string
		// putEvents are the PutEvents faults: each once in turn on the first calls, then
		// on 10 % of the calls.
		putEvents []faults.Kind
	}{
		{name: "PutEvents throttled and failing: no duplicate", putEvents: []faults.Kind{faults.Throttle, faults.Error}},
		{name: "PutEvents partially failing too", putEvents: []faults.Kind{faults.Throttle, faults.Error, faults.Partial}},
		{name: "PutEvents answers lost too", putEvents: []faults.Kind{faults.Throttle, faults.Error, faults.Partial, faults.Lost}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const posts, clients, outages = 45, 5, 3
			f := newFixture(t)
			// Batches of at most 4 records: several entries per PutEvents request, and
			// many requests.
			relay := f.env.StartRelayWith(t, entryEvents(t, f.env, nil), localaws.RelayOptions{MaxAttempts: 11, BatchSize: 4})
			// Each PutEvents fault first on one call, in turn, then at random.
			spec := writes
			for _, kind := range tt.putEvents {
				spec += fmt.Sprintf(",PutEvents:%s:#1", kind)
			}
			for _, kind := range tt.putEvents {
				spec += fmt.Sprintf(",PutEvents:%s:0.1", kind)
			}
			awstest.Must(t, f.env.Faults.AddSpec(spec))
			// counts sums the faults injected across the resets around each outage.
			counts := map[faults.Key]int{}
			stopFaults := func() {
				for k, c := range f.env.Faults.Counts() {
					counts[k] += c
				}
				f.env.Faults.Reset()
			}

			// Five clients at once, so the relay's batches hold several records.
			type result struct {
				status int
				id     string
				err    error
			}
			results := make([]result, posts)
			post := func(i int) result {
				// Every fifth POST locks a new key (TransactWriteItems); the others write
				// with PutItem once their keys are locked.
				body := fmt.Sprintf(`{"data":{"email":"lead%d@example.com","n":%d}}`, i, i)
				if i%5 == 0 {
					body = fmt.Sprintf(`{"data":{"email":"lead%d@example.com","n":%d,"k%d":"v"}}`, i, i, i)
				}
				resp, err := f.handler(context.Background(), f.post(body, f.token))
				if err != nil {
					return result{err: err}
				}
				r := result{status: resp.StatusCode}
				if resp.StatusCode == http.StatusCreated {
					var got struct {
						ID string `json:"id"`
					}
					r.err = json.Unmarshal([]byte(resp.Body), &got)
					r.id = got.ID
				}
				return r
			}
			var wg sync.WaitGroup
			for w := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < posts; i += clients {
						results[i] = post(i)
					}
				}()
			}
			wg.Wait()
			waitRelay(t, relay)
			// Then a few POSTs meet an entry write that fails on every call (and nothing
			// else): a 5xx with nothing stored, and no event.
			stopFaults()
			for _, op := range []string{"PutItem", "TransactWriteItems"} {
				_, err := f.env.Faults.Add(faults.Rule{Op: op, Kind: faults.Error, Probability: 1})
				awstest.Must(t, err)
			}
			for i := range outages {
				r := post(posts + i)
				if r.err != nil || r.status < 500 {
					t.Errorf("POST during a write outage: status %d, error %v; want a 5xx", r.status, r.err)
				}
				results = append(results, r)
			}
			stopFaults()
			awstest.Must(t, f.env.Faults.AddSpec(spec))

			statuses := map[int]int{}
			created := map[string]bool{}
			for i, r := range results {
				statuses[r.status]++
				switch {
				case r.err != nil:
					t.Errorf("POST %d: %v", i, r.err)
				case r.status == http.StatusCreated:
					created[r.id] = true
				case r.status < 500:
					t.Errorf("POST %d: status %d because of a fault", i, r.status)
				}
			}
			waitRelay(t, relay)
			stopFaults()
			lost := counts[faults.Key{Op: faults.PutEvents, Kind: faults.Lost}]
			partial := counts[faults.Key{Op: faults.PutEvents, Kind: faults.Partial}]

			stored := map[string]bool{}
			for _, e := range f.entries(t) {
				stored[e.ID] = true
				if !created[e.ID] {
					t.Errorf("entry %s stored but not answered 201", e.ID)
				}
			}
			for id := range created {
				if !stored[id] {
					t.Errorf("entry %s answered 201 but not stored", id)
				}
			}
			byEntry := map[string][]string{}
			for _, ev := range f.env.Events() {
				var d wire.EntryAddedView
				awstest.Must(t, json.Unmarshal(ev.Detail, &d))
				if !stored[d.Entry.ID] {
					t.Errorf("event for entry %s, which was not stored", d.Entry.ID)
				}
				byEntry[d.Entry.ID] = append(byEntry[d.Entry.ID], string(ev.Detail))
			}
			duplicates := 0
			for id := range stored {
				details := byEntry[id]
				if len(details) == 0 {
					t.Errorf("stored entry %s has no event", id)
					continue
				}
				duplicates += len(details) - 1
				for _, d := range details[1:] {
					if d != details[0] {
						t.Errorf("entry %s published twice with different details:\n%s\n%s", id, details[0], d)
					}
				}
			}
			if relay.Dropped() != 0 {
				t.Errorf("relay gave up on %d records", relay.Dropped())
			}
			if duplicates > 10*(lost+partial) {
				t.Errorf("%d duplicate events with %d lost PutEvents answers and %d partial failures; want at most 10 per such fault",
					duplicates, lost, partial)
			}
			onEvents, onWrites := 0, 0
			for k, c := range counts {
				if k.Op == faults.PutEvents {
					onEvents += c
				} else {
					onWrites += c
				}
			}
			if onEvents == 0 || onWrites == 0 || len(stored) == 0 {
				t.Errorf("faults %v, %d entries stored: the run did not exercise both paths", counts, len(stored))
			}
			for _, kind := range tt.putEvents {
				if counts[faults.Key{Op: faults.PutEvents, Kind: kind}] == 0 {
					t.Errorf("no PutEvents %s fault injected: faults %v", kind, counts)
				}
			}
			t.Logf("%d POSTs: statuses %v; %d entries stored, %d events, %d duplicates (%d lost PutEvents answers, %d partial failures); faults %v",
				posts+outages, statuses, len(stored), len(f.env.Events()), duplicates, lost, partial, counts)
		})
	}
}
