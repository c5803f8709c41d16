package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport"
)

// TestRunnerServesTheRefusedLeadWalkthrough is the README's "When a lead is refused" over
// HTTP: Zapier's strings lock age as string, Make's numbers are refused and kept, the
// operator declares age a number and replays every kept request; each refused lead ends as
// exactly one entry with exactly one event, and nothing stays kept.
func TestRunnerServesTheRefusedLeadWalkthrough(t *testing.T) {
	eventsFile := filepath.Join(t.TempDir(), "events.jsonl")
	s, stop := startRunnerWith(t, eventsFile, &testsupport.SyncBuffer{})
	base, _, _ := strings.Cut(s.URL, "/public/")
	do := func(method, url, token, body string) (int, map[string]any) {
		t.Helper()
		return callJSON(t, method, url, token, body)
	}
	rejectedURL := base + "/admin/ingress_webhooks/" + s.WebhookID + "/rejected"

	if code, body := do("POST", s.URL, s.Token, `{"data":{"email":"zap@example.com","age":"36","newsletter":"true"}}`); code != http.StatusCreated {
		t.Fatalf("Zapier's POST: %d %v; want 201", code, body)
	}
	refused := map[string]bool{}
	for i := range 3 {
		code, body := do("POST", s.URL, s.Token, fmt.Sprintf(`{"data":{"email":"make%d@example.com","age":%d,"newsletter":true}}`, i, 40+i))
		id, _ := body["rejectedId"].(string)
		if code != http.StatusBadRequest || id == "" {
			t.Fatalf("Make's POST %d: %d %v; want 400 with a rejectedId", i, code, body)
		}
		refused[id] = true
	}
	code, list := do("GET", rejectedURL, "", "")
	if code != http.StatusOK || len(list["rejected"].([]any)) != len(refused) {
		t.Fatalf("rejected list: %d %v; want the %d refused requests", code, list, len(refused))
	}
	if code, body := do("PATCH", base+"/admin/tables/"+s.PoolID+"/schema", "", `{"set":{"age":"number","newsletter":"boolean"}}`); code != http.StatusOK {
		t.Fatalf("schema repair: %d %v; want 200", code, body)
	}
	entries := map[string]string{} // entry id -> email
	for _, x := range list["rejected"].([]any) {
		id := x.(map[string]any)["id"].(string)
		code, entry := do("POST", rejectedURL+"/"+id+"/replay", "", "")
		if code != http.StatusCreated {
			t.Fatalf("replay %s: %d %v; want 201", id, code, entry)
		}
		entries[entry["id"].(string)] = entry["data"].(map[string]any)["email"].(string)
	}
	if code, list := do("GET", rejectedURL, "", ""); code != http.StatusOK || len(list["rejected"].([]any)) != 0 {
		t.Errorf("rejected list after the replays: %d %v; want it empty", code, list)
	}
	if err := stop(); err != nil {
		t.Fatalf("run = %v; want a clean stop", err)
	}

	file, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatalf("events file: %v", err)
	}
	events := map[string]int{}
	for _, ev := range eventLines(t, string(file)) {
		var e struct{ ID string }
		_ = json.Unmarshal(ev.Detail.Entry, &e)
		events[e.ID]++
	}
	emails := map[string]int{}
	for id, email := range entries {
		emails[email]++
		if events[id] != 1 {
			t.Errorf("replayed entry %s (%s) has %d events; want exactly 1", id, email, events[id])
		}
	}
	for i := range 3 {
		if n := emails[fmt.Sprintf("make%d@example.com", i)]; n != 1 {
			t.Errorf("make%d has %d entries; want exactly 1", i, n)
		}
	}
	if len(events) != 1+len(refused) {
		t.Errorf("%d entries published events; want %d (Zapier's and the replayed)", len(events), 1+len(refused))
	}
}
