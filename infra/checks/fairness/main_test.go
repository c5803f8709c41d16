package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/ddblocal"
)

// TestShortFairnessKeepsTheAccounting is the short form of make fairness that make test
// runs: up to 2 ingress instances, 20 quiet webhooks at 1 request a second, a noisy one at 10
// times its limit of 5 a second, 5 seconds a phase (about 15 s in all). It asserts the
// accounting only: every quiet request answered 201 (alone and beside the noisy one), every
// 201 stored and nothing else, every 429 with Retry-After, the noisy webhook stored within
// the limiter's documented bound (its rule plus, each second, what the other instances have
// not flushed), and at most
// MaxFlushesPerRequest counter writes per request (an instance writes a webhook's count at
// most once a second: at most 2 × 7 seconds touched for 350 requests, 0.04). Latency is
// printed, never asserted: on a busy 2-core machine it measures the machine.
func TestShortFairnessKeepsTheAccounting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a runner and sends about 450 requests")
	}
	o := DefaultOptions()
	o.Seconds = 5
	o.DynamoDBEndpoint = ddblocal.Endpoint()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("fairness run: %v", err)
	}
	var out strings.Builder
	r.Print(&out)
	t.Log("\n" + out.String())
	for _, bad := range r.Check() {
		t.Error(bad)
	}
}

// TestCheckFindsEachBrokenPromise: a run that kept its promises passes, and each broken
// one is named.
func TestCheckFindsEachBrokenPromise(t *testing.T) {
	good := Result{
		Options:  DefaultOptions(),
		Baseline: Phase{Sent: 40, Created: 40},
		Quiet:    Phase{Sent: 40, Created: 40},
		Noisy:    Phase{Sent: 400, Created: 60, Throttled: 340},
		// 40 + 40 + 20 of the warm-up
		QuietCreated: 100, QuietStored: 100, NoisyStored: 60, NoisyBound: 100,
		Flushes: 10, Requests: 440, RunFlushes: 10, RunRequests: 480, flushDocs: 10,
	}
	if bad := good.Check(); len(bad) != 0 {
		t.Fatalf("a good run: %v", bad)
	}
	for _, c := range []struct {
		name  string
		spoil func(*Result)
		want  string
	}{
		{"a quiet request refused", func(r *Result) { r.Quiet.Created-- }, "answered 201"},
		{"a quiet entry lost", func(r *Result) { r.QuietStored-- }, "entries stored"},
		{"a noisy entry without its 201", func(r *Result) { r.NoisyStored++ }, "answered 201"},
		{"over the bound", func(r *Result) { r.NoisyStored, r.Noisy.Created = 101, 101 }, "its bound"},
		{"never throttled", func(r *Result) { r.Noisy.Throttled = 0 }, "never answered 429"},
		{"a 429 without Retry-After", func(r *Result) { r.Noisy.ThrottledWithoutRetryAfter = 1 }, "Retry-After"},
		{"a noisy 5xx", func(r *Result) { r.Noisy.Other = 1 }, "neither 201 nor 429"},
		{"too many counter writes", func(r *Result) { r.Flushes = 23 }, "calls per request"},
	} {
		r := good
		c.spoil(&r)
		bad := strings.Join(r.Check(), "; ")
		if !strings.Contains(bad, c.want) {
			t.Errorf("%s: Check() = %q; want it to say %q", c.name, bad, c.want)
		}
	}
}

// TestNoisyBoundIsTheRulePlusTheOtherInstancesUnflushedCountsEachSecond: 10/s burst 20 on 4
// instances over 4.2 s touch 6 seconds: the rule allows 10 × 2 in each 2 seconds (60), and
// each second each of the 3 other instances may hold up to the burst unflushed (360).
func TestNoisyBoundIsTheRulePlusTheOtherInstancesUnflushedCountsEachSecond(t *testing.T) {
	o := DefaultOptions()
	o.Instances, o.Limit, o.Burst = 4, 10, 20
	if got, want := noisyBound(o, 4200*time.Millisecond), 10*2*3+3*20*6; got != want {
		t.Errorf("noisyBound = %d; want %d", got, want)
	}
	o.Instances = 1 // nothing unseen: the rule alone, 5 seconds touched in windows of 2
	if got, want := noisyBound(o, 4*time.Second), 10*2*3; got != want {
		t.Errorf("noisyBound = %d; want %d", got, want)
	}
}
