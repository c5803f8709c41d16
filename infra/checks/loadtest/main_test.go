package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/ddblocal"
)

// TestShortLoadKeepsTheAccounting is the short version of make loadtest that make test runs
// (on the embedded engine, and on DynamoDB Local in its pass): 1,000 requests from 32
// clients with the default faults, and not one accounting violation.
func TestShortLoadKeepsTheAccounting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a runner and sends 1,000 requests")
	}
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("LOADTEST_N")); err == nil && v > 0 {
		// make loadtest ENGINE=dynamodb-local: the full run, through this test in ddbpass.
		n = v
	}
	var out strings.Builder
	err := run(&out, n, 32, DefaultFaults, 1, ddblocal.Endpoint())
	report(t, out.String())
	if err != nil {
		t.Fatalf("loadtest: %v", err)
	}
}

// LateFaults add to the default faults writes that DynamoDB applies after answering 500, on
// half the entry writes: about one valid request in ten runs out of tries and is answered
// 500, while writes of its earlier tries are still on their way.
const LateFaults = DefaultFaults + ",PutItem:late:0.5,TransactWriteItems:late:0.5"

// TestLoadWithLateWritesHasNoEntryBehindA5xx sends 600 requests with LateFaults: the
// entry write the store gives up on is fenced, so the late writes are refused and no entry
// stands behind a settled 5xx (without the fence, about one in ten valid requests ended so);
// an entry may stand only behind a 500 that said "unsettled". The keeps of the 400s are
// settled too: a 400 without rejectedId was not kept.
func TestLoadWithLateWritesHasNoEntryBehindA5xx(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a runner and sends 600 requests")
	}
	var out strings.Builder
	err := run(&out, 600, 32, LateFaults, 1, ddblocal.Endpoint())
	report(t, out.String())
	if err != nil {
		t.Fatalf("loadtest: %v", err)
	}
	if !strings.Contains(out.String(), "500:") {
		t.Errorf("no request was answered 500: the late faults did not make the store give up, so the test shows nothing")
	}
}

// report logs a run's accounting lines and appends them, with the test and the engine, to
// the file RL_ACCOUNTING_OUT names (make test-busy prints it at the end).
func report(t *testing.T, lines string) {
	t.Helper()
	t.Log(lines)
	path := os.Getenv("RL_ACCOUNTING_OUT")
	if path == "" {
		return
	}
	engine := "the embedded engine"
	if ddblocal.Endpoint() != "" {
		engine = "DynamoDB Local"
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("accounting report: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s on %s:\n%s", t.Name(), engine, lines); err != nil {
		t.Errorf("accounting report: %v", err)
	}
}
