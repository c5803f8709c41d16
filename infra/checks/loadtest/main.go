// Command loadtest drives a local runner (started here, on loopback ports, with DynamoDB
// faults injected) with a mix of valid, invalid and unauthenticated requests from many
// concurrent clients, then checks the accounting: every stored entry was answered 201 (or
// 500 "Outcome unknown", unsettled) and published once, no entry stands behind a settled
// 5xx (every other 5xx means nothing stored), no lead was stored twice, and the rejected
// requests kept are exactly those whose 400 named a rejectedId (or said unsettled).
//
//	go run ./infra/checks/loadtest [-n 20000] [-c 32] [-faults SPEC] [-dynamodb-endpoint URL]
//
// Each valid request carries a unique marker value in its data; the entries, the 201
// answers and the published events are matched on it. It exits 1 on any accounting violation.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rocketlead/ingress-webhooks/infra/checks/runnerproc"
	"github.com/rocketlead/ingress-webhooks/infra/local/faults"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
)

// DefaultFaults are the faults of a run: conflicts, throttles, 500s and lost responses on
// the entry writes, throttles and 500s on the reads (the webhook's Query among them).
const DefaultFaults = "TransactWriteItems:conflict:0.05,TransactWriteItems:throttle:0.02,TransactWriteItems:lost:0.01," +
	"PutItem:throttle:0.02,PutItem:error:0.02,PutItem:lost:0.02,Query:throttle:0.01,GetItem:throttle:0.01,BatchGetItem:error:0.01"

type outcome struct {
	status    int
	marker    string // valid requests only
	id        string // 201, and the entryId of an unsettled 500
	unsettled bool   // the answer said "unsettled": true
	rejected  string // a 400's rejectedId
	took      time.Duration
}

func main() {
	n := flag.Int("n", 20000, "requests to send")
	c := flag.Int("c", 32, "concurrent clients")
	faultSpec := flag.String("faults", DefaultFaults, "DynamoDB faults of the runner (its -faults flag)")
	seedN := flag.Int64("fault-seed", 1, "the runner's -fault-seed")
	endpoint := flag.String("dynamodb-endpoint", "", "external DynamoDB engine (DynamoDB Local) for the runner")
	flag.Parse()
	if err := run(os.Stdout, *n, *c, *faultSpec, *seedN, *endpoint); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, n, clients int, faultSpec string, faultSeed int64, endpoint string) error {
	r, err := runnerproc.Start(runnerproc.Options{Args: func(dir string) []string {
		args := []string{"-events-file", filepath.Join(dir, "events.jsonl"), "-faults", faultSpec, "-fault-seed", fmt.Sprint(faultSeed),
			// Every client sends as one webhook: its rate limit is not what this test measures.
			"-rate-limit", "1000", "-rate-burst", "10000"}
		if endpoint != "" {
			args = append(args, "-dynamodb-endpoint", endpoint)
		}
		return args
	}})
	if err != nil {
		return err
	}
	defer r.Stop()
	s, awsAddr, eventsFile := r.Seed, r.AWSAddr, filepath.Join(r.Dir, "events.jsonl")

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	outcomes := make([]outcome, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				outcomes[i] = send(client, s, i)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	// A late fault's write lands after its delay: wait for the last ones, so that a write
	// committing behind a 5xx is in the accounting.
	if d := lateDelay(faultSpec); d > 0 {
		time.Sleep(d + 500*time.Millisecond)
	}

	// Read back every entry of the pool (through the same faulted AWS address: the store
	// retries) and wait for the relay to publish them.
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String("http://" + awsAddr), RetryMaxAttempts: 10}
	store := dynamo.New(dynamodb.NewFromConfig(cfg), "rocketlead-local") // the runner's table
	return account(w, store, s, eventsFile, outcomes, elapsed, clients)
}

// lateDelay is the longest delay of the spec's late rules, 0 without any.
func lateDelay(spec string) time.Duration {
	rules, _ := faults.Parse(spec) // the runner refuses a bad spec
	var d time.Duration
	for _, r := range rules {
		if r.Kind == faults.Late {
			d = max(d, cmp.Or(r.Latency, faults.DefaultLateDelay))
		}
	}
	return d
}

// send is request i: a valid lead (2 in 3, some of them locking a new key), an invalid body,
// or a wrong token.
func send(client *http.Client, s runnerproc.Seed, i int) outcome {
	o := outcome{}
	var body string
	token := s.Token
	switch i % 6 {
	case 0:
		body = `{"data":"not an object"}`
	case 1:
		body = `{"data":{"email":"x@y.z"}}`
		token = strings.Repeat("0", 64)
	case 2:
		// A new key per 50 requests: a schema-lock transaction.
		o.marker = fmt.Sprintf("m-%d", i)
		body = fmt.Sprintf(`{"data":{"marker":%q,"k%d":"v"}}`, o.marker, i/50)
	default:
		o.marker = fmt.Sprintf("m-%d", i)
		body = fmt.Sprintf(`{"data":{"marker":%q,"email":"lead%d@example.com"}}`, o.marker, i)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-rocketlead-ingress-token", token)
	t0 := time.Now()
	resp, err := client.Do(req)
	o.took = time.Since(t0)
	if err != nil {
		o.status = -1
		return o
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	o.status = resp.StatusCode
	var e struct {
		ID         string `json:"id"`
		EntryID    string `json:"entryId"`
		Unsettled  bool   `json:"unsettled"`
		RejectedID string `json:"rejectedId"`
	}
	_ = json.Unmarshal(b, &e)
	switch {
	case o.status == http.StatusCreated:
		o.id = e.ID
	case o.status >= 500:
		o.id, o.unsettled = e.EntryID, e.Unsettled
	case o.status == http.StatusBadRequest:
		o.rejected, o.unsettled = e.RejectedID, e.Unsettled
	}
	return o
}

// account checks the accounting of a run (see the package documentation) and writes its
// two lines: the statuses, and the entries and rejected requests behind each kind of answer.
func account(w io.Writer, store *dynamo.Store, s runnerproc.Seed, eventsFile string, outcomes []outcome, elapsed time.Duration, clients int) error {
	ctx := context.Background()
	byStatus := map[int]int{}
	created := map[string]string{}   // entry id → marker
	settled5xx := map[string]bool{}  // markers answered a settled 5xx or not at all
	unsettled := map[string]string{} // entry id named by an unsettled 500 → marker
	rejectedNamed := map[string]bool{}
	rejectedUnsettled := map[string]bool{}
	var lat []time.Duration
	n4xx, nSettled5xx, nUnsettled5xx, n400Named, n400Unnamed := 0, 0, 0, 0, 0
	for _, o := range outcomes {
		byStatus[o.status]++
		lat = append(lat, o.took)
		switch {
		case o.status == http.StatusCreated:
			created[o.id] = o.marker
		case o.status >= 500 && o.unsettled:
			nUnsettled5xx++
			unsettled[o.id] = o.marker
		case o.status >= 500 || o.status < 0:
			nSettled5xx++
			if o.marker != "" {
				settled5xx[o.marker] = true
			}
		case o.status >= 400:
			n4xx++
			switch {
			case o.rejected != "" && o.unsettled:
				rejectedUnsettled[o.rejected] = true
			case o.rejected != "":
				rejectedNamed[o.rejected] = true
				n400Named++
			case o.status == http.StatusBadRequest:
				n400Unnamed++
			}
		}
	}
	var entries map[string]string // id → marker
	var events map[string]int
	for deadline := time.Now().Add(60 * time.Second); ; {
		es, err := store.Entries(ctx, s.PoolID, 1<<20)
		if err != nil {
			return fmt.Errorf("read the entries back: %w", err)
		}
		entries = map[string]string{}
		for _, e := range es {
			m, _ := e.Data["marker"].(string)
			entries[e.ID] = m
		}
		events, err = readEvents(eventsFile)
		if err != nil {
			return err
		}
		if len(events) >= len(entries) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	markers := map[string]int{}
	behindSettled, behindUnsettled, notCreated, dupEvents, eventsNotStored := 0, 0, 0, 0, 0
	for id, m := range entries {
		markers[m]++
		if settled5xx[m] {
			behindSettled++
		}
		_, isCreated := created[id]
		_, isUnsettled := unsettled[id]
		switch {
		case isUnsettled:
			behindUnsettled++
		case !isCreated:
			notCreated++
		}
	}
	duplicates := 0
	for _, k := range markers {
		duplicates += k - 1
	}
	createdNotStored := 0
	for id := range created {
		if _, ok := entries[id]; !ok {
			createdNotStored++
		}
	}
	for id, k := range events {
		dupEvents += k - 1
		if _, ok := entries[id]; !ok {
			eventsNotStored++
		}
	}
	kept, err := keptRejected(ctx, store, s)
	if err != nil {
		return err
	}
	keptUnnamed, namedNotKept, keptUnsettled := 0, 0, 0
	for id := range kept {
		switch {
		case rejectedUnsettled[id]:
			keptUnsettled++
		case !rejectedNamed[id]:
			keptUnnamed++
		}
	}
	for id := range rejectedNamed {
		if !kept[id] {
			namedNotKept++
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(w, "loadtest: %d requests from %d clients in %.1fs: %.0f req/s, p50 %v, p99 %v, max %v; statuses %v\n",
		len(outcomes), clients, elapsed.Seconds(), float64(len(outcomes))/elapsed.Seconds(),
		pct(0.50).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond), lat[len(lat)-1].Round(time.Millisecond), byStatus)
	fmt.Fprintf(w, "answers: 201 %d, 4xx %d (400 naming rejectedId %d, 400 without %d, 400 unsettled %d), settled 5xx %d, unsettled 5xx %d\n",
		len(created), n4xx, n400Named, n400Unnamed, len(rejectedUnsettled), nSettled5xx, nUnsettled5xx)
	fmt.Fprintf(w, "accounting: entries stored %d = distinct entries in 201s %d + behind an unsettled 500 %d = distinct entries in events %d; "+
		"entries behind a settled 5xx %d; duplicates %d; stored without a 201 or an unsettled 500 %d; 201 not stored %d; events twice %d; events of no entry %d; "+
		"rejected kept %d: named %d, unsettled %d, kept without a rejectedId %d, named and not kept %d\n",
		len(entries), len(created), behindUnsettled, len(events), behindSettled, duplicates, notCreated, createdNotStored, dupEvents, eventsNotStored,
		len(kept), len(kept)-keptUnsettled-keptUnnamed, keptUnsettled, keptUnnamed, namedNotKept)
	if len(entries) != len(created)+behindUnsettled || len(entries) != len(events) || behindSettled != 0 || duplicates != 0 ||
		notCreated != 0 || createdNotStored != 0 || dupEvents != 0 || eventsNotStored != 0 || keptUnnamed != 0 || namedNotKept != 0 {
		return errors.New("accounting violated")
	}
	return nil
}

// keptRejected lists the ids of the rejected requests the run's webhook keeps.
func keptRejected(ctx context.Context, store *dynamo.Store, s runnerproc.Seed) (map[string]bool, error) {
	webhookID := path.Base(s.URL)
	kept := map[string]bool{}
	for cursor := ""; ; {
		page, err := store.ListRejected(ctx, webhookID, 100, cursor, time.Now())
		if err != nil {
			return nil, fmt.Errorf("list the rejected requests: %w", err)
		}
		for _, r := range page.Rejected {
			kept[r.ID] = true
		}
		if cursor = page.NextCursor; cursor == "" {
			return kept, nil
		}
	}
}

// readEvents counts the published events per entry id.
func readEvents(path string) (map[string]int, error) {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	out := map[string]int{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ev struct {
			Detail struct {
				Entry struct {
					ID string `json:"id"`
				} `json:"entry"`
			} `json:"Detail"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, fmt.Errorf("events file: %w", err)
		}
		out[ev.Detail.Entry.ID]++
	}
	return out, nil
}
