package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startRunner runs the local runner on free ports until the test ends and returns its seed.
func startRunner(t *testing.T) *seed {
	t.Helper()
	seedFile := filepath.Join(t.TempDir(), "seed.json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, options{addr: "127.0.0.1:0", awsAddr: "127.0.0.1:0", seedFile: seedFile, template: "../../template.yaml"}, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("runner stopped with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("runner did not stop within 10s of cancellation")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(seedFile)
		if err == nil {
			var s seed
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatalf("seed file is not JSON: %v", err)
			}
			return &s
		}
		select {
		case err := <-done:
			t.Fatalf("runner exited before writing the seed file: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no seed file after 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunnerServesTheSeededExample(t *testing.T) {
	s := startRunner(t)
	for name, v := range map[string]string{"organizationId": s.OrganizationID, "tableId": s.TableID, "webhookId": s.WebhookID,
		"token": s.Token, "url": s.URL, "leadStateId": s.LeadStateID, "customFieldId": s.CustomFieldID} {
		if v == "" {
			t.Errorf("seed file has no %s", name)
		}
	}
	body := fmt.Sprintf(`{"data":{"email":"ada@example.com","age":36},"customFieldData":{%q:"instagram_ad"}}`, s.CustomFieldID)
	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"seeded token creates an entry", s.Token, http.StatusCreated},
		{"another token is refused", strings.Repeat("0", 64), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Rocketlead-Ingress-Token", tt.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("POST %s = %d %s; want %d", s.URL, resp.StatusCode, b, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tt.status == http.StatusCreated {
				var e map[string]any
				if err := json.Unmarshal(b, &e); err != nil || e["tableId"] != s.TableID || e["leadStateId"] != s.LeadStateID {
					t.Errorf("201 body = %s; want an entry of the seeded pool", b)
				}
			}
		})
	}
}
