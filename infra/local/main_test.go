package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport"
	"github.com/rocketlead/ingress-webhooks/infra/testsupport/ddblocal"
)

// startRunner runs the local runner on random ports, its output discarded, until the test
// ends and returns its seed.
func startRunner(t *testing.T) seed {
	t.Helper()
	s, _ := startRunnerWith(t, "", io.Discard)
	return s
}

// startRunnerWith runs the local runner on random ports until the test ends, printing to out
// and appending events to eventsFile when set, and returns its seed; stop cancels it and
// returns run's error once it has shut down.
func startRunnerWith(t *testing.T, eventsFile string, out io.Writer, tweaks ...func(*options)) (s seed, stop func() error) {
	t.Helper()
	dir := t.TempDir()
	o := options{
		addr:       "127.0.0.1:0",
		awsAddr:    "127.0.0.1:0",
		seedFile:   filepath.Join(dir, "seed.json"),
		template:   "../../template.yaml",
		eventsFile: eventsFile,
		// The DynamoDB Local pass of make test runs the runner on it.
		dynamoEndpoint: ddblocal.Endpoint(),
	}
	for _, tweak := range tweaks {
		tweak(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, o, out) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-errc:
			case <-time.After(30 * time.Second):
				runErr = errors.New("runner did not stop within 30s")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })

	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(o.seedFile)
		if err == nil {
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatalf("seed file: %v", err)
			}
			return s, stop
		}
		select {
		case err := <-errc:
			t.Fatalf("runner stopped before seeding: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("runner wrote no seed file within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type publishedLine struct {
	Source       string `json:"Source"`
	DetailType   string `json:"DetailType"`
	EventBusName string `json:"EventBusName"`
	Detail       struct {
		Entry   json.RawMessage `json:"entry"`
		Trigger struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"trigger"`
	} `json:"Detail"`
}

// eventLines parses the JSON lines among text whose first key is Source.
func eventLines(t *testing.T, text string) []publishedLine {
	t.Helper()
	var out []publishedLine
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, `{"Source":`) {
			continue
		}
		var ev publishedLine
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event line %q: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

func TestRunnerPublishesOneEventPerCreatedEntryUnderConcurrency(t *testing.T) {
	const posts = 200
	eventsFile := filepath.Join(t.TempDir(), "events.jsonl")
	stdout := &testsupport.SyncBuffer{}
	s, stop := startRunnerWith(t, eventsFile, stdout, func(o *options) { o.rateLimit, o.rateBurst = "1000", "1000" })

	client := &http.Client{Timeout: 30 * time.Second}
	bodies := make([]string, posts)
	statuses := make([]int, posts)
	var wg sync.WaitGroup
	for i := range posts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"data":{"email":"lead%d@example.com","n":%d,"vip":%v},"customFieldData":{%q:"website"}}`, i, i, i%2 == 0, s.CustomFieldID)
			req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("x-rocketlead-ingress-token", s.Token)
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("POST %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			statuses[i], bodies[i] = resp.StatusCode, string(b)
		}()
	}
	wg.Wait()
	if err := stop(); err != nil {
		t.Fatalf("run = %v; want a clean stop", err)
	}

	// The accounting of a busy machine: a 201 names its entry, a 500 "Outcome unknown"
	// ("unsettled": true) names the entry that may yet be stored, and every other answer
	// must be a 5xx that stored nothing (a 503 when DynamoDB stayed busy, a 500 when a call
	// got no answer in the request's time).
	created := map[string]string{} // entry id -> 201 body
	unsettled := map[string]bool{} // entry id named by an Outcome unknown answer
	other := map[int]int{}
	for i, st := range statuses {
		var e struct {
			ID, EntryID string
			Unsettled   bool
		}
		_ = json.Unmarshal([]byte(bodies[i]), &e)
		switch {
		case st == http.StatusCreated && e.ID != "":
			created[e.ID] = bodies[i]
		case st == http.StatusInternalServerError && e.Unsettled && e.EntryID != "":
			unsettled[e.EntryID] = true
			other[st]++
		case st >= 500 && !e.Unsettled:
			other[st]++
		default:
			t.Errorf("POST %d = %d %s; want a 201 with the entry, a 5xx, or a 500 Outcome unknown naming its entry", i, st, bodies[i])
		}
	}
	t.Logf("%d POSTs: %d created, others %v", posts, len(created), other)
	if len(created) == 0 {
		t.Fatal("no POST created an entry")
	}

	file, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatalf("events file: %v", err)
	}
	for name, text := range map[string]string{"events file": string(file), "stdout": stdout.String()} {
		evs := eventLines(t, text)
		if len(evs) < len(created) || len(evs) > len(created)+len(unsettled) {
			t.Errorf("%s has %d events; want one per 201 response (%d), and at most one more per Outcome unknown (%d)",
				name, len(evs), len(created), len(unsettled))
		}
		seen := map[string]int{}
		for _, ev := range evs {
			var e struct{ ID string }
			_ = json.Unmarshal(ev.Detail.Entry, &e)
			seen[e.ID]++
			if seen[e.ID] > 1 {
				t.Errorf("%s: entry %s published %d times", name, e.ID, seen[e.ID])
			}
			body, ok := created[e.ID]
			if !ok {
				if !unsettled[e.ID] {
					t.Errorf("%s: event for entry %s, which neither a 201 nor an Outcome unknown named", name, e.ID)
				}
				continue
			}
			if string(ev.Detail.Entry) != body {
				t.Errorf("%s: event entry\n%s\nwant the 201 body\n%s", name, ev.Detail.Entry, body)
			}
			if ev.Source != "rocketlead.ingress" || ev.DetailType != "table.entry.added" || ev.EventBusName != "default" ||
				ev.Detail.Trigger.Type != "ingress_webhook" || ev.Detail.Trigger.ID != s.WebhookID {
				t.Errorf("%s: event %+v; want Source, DetailType, bus and trigger of the webhook", name, ev)
			}
		}
		for id := range created {
			if seen[id] == 0 {
				t.Errorf("%s: no event for entry %s, which a 201 reported", name, id)
			}
		}
	}
	if strings.Count(string(file), "\n") != len(eventLines(t, string(file))) {
		t.Errorf("events file holds lines that are not events")
	}
}

// TestRunnerPassesContentTypesAndQueryStringsAsAPIGatewayDoes sends form bodies, a dry run
// and a URL token over HTTP to the runner: the front must hand the Content-Type, the body
// (multipart base64-encoded, as API Gateway does) and the query string to the function.
func TestRunnerPassesContentTypesAndQueryStringsAsAPIGatewayDoes(t *testing.T) {
	s := startRunner(t)
	multipart := "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nada@example.com\r\n" +
		"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"customFieldData[" + s.CustomFieldID + "]\"\r\n\r\ninstagram_ad\r\n" +
		"------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n"
	tests := []struct {
		name        string
		query       string
		contentType string
		token       bool
		body        string
		status      int
		inBody      string
	}{
		{"urlencoded form", "", "application/x-www-form-urlencoded", true, "email=ada%40example.com&tags=a&tags=b", http.StatusCreated, `"tags":["a","b"]`},
		{"multipart form", "", "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", true, multipart, http.StatusCreated, `"instagram_ad"`},
		{"dry run", "?dryRun=true", "application/json", true, `{"data":{"city":"Oslo"}}`, http.StatusOK, `"newSchemaKeys":{"city":"string"}`},
		{"token in the URL without opt-in", "?token=" + s.Token, "application/x-www-form-urlencoded", false, "email=a", http.StatusUnauthorized, "does not accept the token in the URL"},
		{"xml", "", "application/xml", true, "<lead/>", http.StatusUnsupportedMediaType, "Unsupported media type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, s.URL+tt.query, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			if tt.token {
				req.Header.Set("x-rocketlead-ingress-token", s.Token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.inBody) {
				t.Errorf("POST %s (%s) = %d %s; want %d containing %s", tt.query, tt.contentType, resp.StatusCode, b, tt.status, tt.inBody)
			}
		})
	}
}

// callJSON sends one request to the runner, with the token header when token is set, and
// returns the status and the JSON object answered (nil for an empty body).
func callJSON(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("build %s %s: %v", method, url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("x-rocketlead-ingress-token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, url, err)
	}
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: body %q is not JSON", method, url, b)
		}
	}
	return resp.StatusCode, m
}
