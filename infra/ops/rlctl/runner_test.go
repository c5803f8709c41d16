package main

import (
	"context"
	"flag"
	"net/http/httptest"
	"testing"

	"github.com/rocketlead/ingress-webhooks/infra/local/localaws"
)

// TestWebhookURLsFollowTheRunnersAddress: with --endpoint and no --base-url, rlctl prints
// webhook URLs on the address the runner's AWS endpoint reports (its -addr), and on the
// default :3000 only when the endpoint says nothing.
func TestWebhookURLsFollowTheRunnersAddress(t *testing.T) {
	srv := localaws.New(localaws.Options{})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	if got := runnerBaseURL(context.Background(), hs.URL); got != localBaseURL {
		t.Errorf("before the runner says where it is: %s; want %s", got, localBaseURL)
	}
	if localaws.RunnerInfoPath != runnerInfoPath {
		t.Fatalf("rlctl asks %s, the runner answers %s", runnerInfoPath, localaws.RunnerInfoPath)
	}
	srv.SetRunnerInfo(localaws.RunnerInfo{PublicBaseURL: "http://127.0.0.1:4001"})
	if got := runnerBaseURL(context.Background(), hs.URL+"/"); got != "http://127.0.0.1:4001" {
		t.Errorf("runnerBaseURL = %s; want http://127.0.0.1:4001", got)
	}
	s, err := parse(context.Background(), flag.NewFlagSet("webhook create", flag.ContinueOnError), []string{"--endpoint", hs.URL}, nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if s.baseURL != "http://127.0.0.1:4001" {
		t.Errorf("parse --endpoint: base URL %s; want the runner's http://127.0.0.1:4001", s.baseURL)
	}
}
