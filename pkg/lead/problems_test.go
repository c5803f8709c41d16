package lead

import (
	"fmt"
	"strings"
	"testing"
)

func TestProblemsListTheFirstAndCountThemAll(t *testing.T) {
	for _, n := range []int{1, 3, MaxListedProblems, MaxListedProblems + 1, 116_000} {
		var ps Problems
		for i := range n {
			if ps.Listing() {
				ps.Add(fmt.Sprintf("data.k%d", i), "must be a string")
			} else {
				ps.Skip()
			}
		}
		var e *Error
		if err := ps.Err(); err != nil {
			e = err.(*Error)
		}
		wantListed, wantCount := min(n, MaxListedProblems), 0
		if n > MaxListedProblems {
			wantCount = n
		}
		if e == nil || len(e.Details) != wantListed || e.ProblemCount != wantCount {
			t.Fatalf("%d problems: %+v; want %d listed, ProblemCount %d", n, e, wantListed, wantCount)
		}
		if n > 1 && (!strings.HasPrefix(e.Message, fmt.Sprintf("%d problems in the body, first: data.k0 must be a string; data.k1", n)) || strings.Contains(e.Message, "data.k3 ")) {
			t.Errorf("%d problems: message %q; want the count and the first three", n, e.Message)
		}
	}
	var none Problems
	if err := none.Err(); err != nil {
		t.Errorf("no problems: %v; want nil", err)
	}
}

func TestAMismatchOfManyKeysListsTheFirst(t *testing.T) {
	s, data := Schema{}, map[string]any{}
	for i := range 500 {
		k := fmt.Sprintf("k%03d", i)
		s[k], data[k] = TypeNumber, "x"
	}
	_, _, err := s.Apply(data)
	e, ok := err.(*Error)
	if !ok || len(e.TypeErrors) != MaxListedProblems || len(e.Details) != MaxListedProblems || e.ProblemCount != 500 {
		t.Fatalf("Apply(500 mismatches) = %v; want %d type errors and details listed of 500", err, MaxListedProblems)
	}
	if _, ok := e.TypeErrors["k000"]; !ok || !strings.Contains(e.Message, "k002 expected number") || strings.Contains(e.Message, "k003") || !strings.HasSuffix(e.Message, "500 keys in all") {
		t.Errorf("message %q, type errors from k000: %v; want the first three named and the count", e.Message, ok)
	}
}
