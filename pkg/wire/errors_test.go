package wire

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// TestErrorJSONStaysSmallWithLongKeys: fifty problems whose keys are 256 bytes of control
// characters (six bytes each once escaped) and fifty type errors of 256-byte keys still make
// at most 16 KiB: fewer are listed, truncated and problemCount say so.
func TestErrorJSONStaysSmallWithLongKeys(t *testing.T) {
	var ps lead.Problems
	tes := map[string]lead.TypeError{}
	for i := range 60 {
		k := fmt.Sprintf("%03d", i) + strings.Repeat("\x01", 253)
		ps.Add(lead.DetailPath("data", k), "expected number, got string; "+strings.Repeat("send a number ", 40))
		tes[k] = lead.TypeError{Expected: lead.TypeNumber, Got: "string"}
	}
	e := ps.Err().(*lead.Error)
	e.TypeErrors = tes
	e.Message = strings.Repeat("long message ", 1000)
	body := ErrorJSON(e, "req")
	var got struct {
		Message      string                     `json:"message"`
		Details      []map[string]string        `json:"details"`
		TypeErrors   map[string]json.RawMessage `json:"typeErrors"`
		Truncated    bool                       `json:"truncated"`
		ProblemCount int                        `json:"problemCount"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(body) > MaxErrorBodyBytes || !got.Truncated || got.ProblemCount != 60 || len(got.Details) == 0 || len(got.TypeErrors) == 0 || len(got.Message) > 1024 {
		t.Errorf("%d bytes, %d details, %d type errors, truncated %v, problemCount %d, message of %d bytes; want at most %d bytes, some of each listed, truncated, 60, at most 1 KiB",
			len(body), len(got.Details), len(got.TypeErrors), got.Truncated, got.ProblemCount, len(got.Message), MaxErrorBodyBytes)
	}
}

// TestErrorJSONListsEverythingThatFits: a few short problems are all listed, untruncated.
func TestErrorJSONListsEverythingThatFits(t *testing.T) {
	body := string(ErrorJSON(lead.InvalidDetails(lead.Detail{Path: "data.a", Problem: "x"}, lead.Detail{Path: "data.b", Problem: "y"}), "req"))
	if strings.Contains(body, "truncated") || strings.Contains(body, "problemCount") || !strings.Contains(body, `"data.b"`) {
		t.Errorf("ErrorJSON = %s; want both details and no truncation", body)
	}
}
