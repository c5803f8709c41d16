package main

import (
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
	t.Log(out.String())
	if err != nil {
		t.Fatalf("loadtest: %v", err)
	}
}
