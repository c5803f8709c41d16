package awstest

import "testing"

// Must fails the test at once when err is not nil: for setup steps whose failure leaves
// nothing to test.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
