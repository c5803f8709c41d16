// Command fairness is the fair-use load test: one noisy webhook sending at ten times its
// rate limit must slow down only itself. It starts a local runner (built here, on loopback
// ports) that serves the ingress function with up to -instances instances, each with its own
// rate counts and one request at a time, a new one started when all are busy, as Lambda runs
// them; creates quiet webhooks with the
// default limit and one noisy webhook with a low one (created through the admin route, its
// limit set through the store as the operator's tools set it); then runs,
// in the same run, a quiet-only baseline and the same quiet traffic beside the noisy sender.
//
//	go run ./infra/checks/fairness [-seconds 10] [-instances 2] [-quiet 20] [-quiet-rate 1]
//	                               [-limit 5] [-burst 10] [-factor 10] [-dynamodb-endpoint URL]
//
// It prints the quiet webhooks' share of 201s and p99 against the baseline, the noisy
// webhook's stored rate against its limit (the overshoot, beside the limiter's bound), and
// the DynamoDB calls per request the rate counting cost (its counter writes, summed from the
// RateFlushes metric of the functions' metric documents, over the requests). It exits 1 when
// the accounting fails: a quiet request not answered 201, an entry without its 201 or a 201
// without its entry, a 429 without Retry-After, the noisy webhook stored beyond its bound, or
// more than MaxFlushesPerRequest calls per request. The speed target (the quiet p99 within
// P99Target times the baseline's) is reported, not enforced: timing on a shared machine says
// more about the machine than about the product.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rocketlead/ingress-webhooks/infra/checks/runnerproc"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// The targets of the fair-use promise.
const (
	// MaxFlushesPerRequest is the most DynamoDB calls per request the rate counting may add.
	MaxFlushesPerRequest = 0.05
	// P99Target is how many times the quiet-only baseline's p99 the quiet webhooks' p99
	// may reach beside the noisy sender.
	P99Target = 1.2
)

// Options shape a run.
type Options struct {
	Seconds   float64 // length of each phase
	Instances int     // the most ingress function instances of the runner
	Quiet     int     // quiet webhooks
	QuietRate float64 // requests a second of each quiet webhook
	Limit     int     // the noisy webhook's rateLimit
	Burst     int     // its rateBurst
	Factor    float64 // the noisy webhook sends Factor × Limit requests a second
	// DynamoDBEndpoint, when set, runs the runner on that engine (DynamoDB Local).
	DynamoDBEndpoint string
}

// DefaultOptions are make fairness's.
func DefaultOptions() Options {
	return Options{Seconds: 10, Instances: 2, Quiet: 20, QuietRate: 1, Limit: 5, Burst: 10, Factor: 10}
}

// Phase is what one group of senders got in one phase.
type Phase struct {
	Sent, Created, Throttled, Other int
	// ThrottledWithoutRetryAfter are 429s without a Retry-After header.
	ThrottledWithoutRetryAfter int
	// Statuses counts every answer by status (-1: no answer).
	Statuses      map[int]int
	P50, P99, Max time.Duration
}

// Result is a run's figures.
type Result struct {
	Options  Options
	Baseline Phase // quiet webhooks, alone
	Quiet    Phase // quiet webhooks, beside the noisy one
	Noisy    Phase
	// NoisyStored and QuietStored are the entries read back from the table.
	NoisyStored, QuietStored int
	// QuietCreated are the quiet 201s of both phases and the warm-up.
	QuietCreated int
	// NoisyBound is the most entries the noisy webhook may get in its phase: its limit for
	// every second the phase touches, its burst, and what the other instances may admit
	// before they see each other's counts.
	NoisyBound int
	// Flushes are the rate counter writes of the noisy phase and of the whole run; Requests
	// the requests they are counted over.
	Flushes, RunFlushes   int
	Requests, RunRequests int
	NoisyElapsed          time.Duration
	// LoadAverage is the machine's at the end of the run (/proc/loadavg), when known: the
	// latencies are the machine's as much as the service's.
	LoadAverage string
	// flushDocs are the metric documents that carried counter writes.
	flushDocs int
}

// FlushesPerRequest is the counting's extra calls per request in the noisy phase.
func (r Result) FlushesPerRequest() float64 { return ratio(r.Flushes, r.Requests) }

// RunFlushesPerRequest is the same over the whole run.
func (r Result) RunFlushesPerRequest() float64 { return ratio(r.RunFlushes, r.RunRequests) }

// P99Ratio is the quiet p99 beside the noisy sender over the baseline's.
func (r Result) P99Ratio() float64 {
	if r.Baseline.P99 <= 0 {
		return math.Inf(1)
	}
	return float64(r.Quiet.P99) / float64(r.Baseline.P99)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Check returns the accounting violations of a run, none when it kept every promise that
// does not depend on the machine's speed.
func (r Result) Check() []string {
	var bad []string
	for _, p := range []struct {
		name string
		ph   Phase
	}{{"baseline", r.Baseline}, {"beside the noisy webhook", r.Quiet}} {
		if p.ph.Created != p.ph.Sent {
			bad = append(bad, fmt.Sprintf("quiet webhooks %s: %d of %d answered 201 (statuses %v)", p.name, p.ph.Created, p.ph.Sent, p.ph.Statuses))
		}
	}
	if r.QuietStored != r.QuietCreated {
		bad = append(bad, fmt.Sprintf("quiet webhooks: %d entries stored, %d answered 201", r.QuietStored, r.QuietCreated))
	}
	if r.NoisyStored != r.Noisy.Created {
		bad = append(bad, fmt.Sprintf("noisy webhook: %d entries stored, %d answered 201", r.NoisyStored, r.Noisy.Created))
	}
	if r.Noisy.Throttled == 0 {
		bad = append(bad, "noisy webhook: never answered 429: the test shows nothing")
	}
	if r.Noisy.Other != 0 {
		bad = append(bad, fmt.Sprintf("noisy webhook: %d answers neither 201 nor 429 (statuses %v)", r.Noisy.Other, r.Noisy.Statuses))
	}
	if n := r.Noisy.ThrottledWithoutRetryAfter + r.Quiet.ThrottledWithoutRetryAfter; n != 0 {
		bad = append(bad, fmt.Sprintf("%d answers 429 without Retry-After", n))
	}
	if r.NoisyStored > r.NoisyBound {
		bad = append(bad, fmt.Sprintf("noisy webhook: %d entries stored; its bound is %d", r.NoisyStored, r.NoisyBound))
	}
	if f := r.FlushesPerRequest(); f > MaxFlushesPerRequest {
		bad = append(bad, fmt.Sprintf("rate counting: %.3f calls per request beside the noisy webhook; at most %.2f", f, MaxFlushesPerRequest))
	}
	if r.RunFlushes > 0 && r.flushDocs == 0 {
		bad = append(bad, "rate counting: flushes counted without their metric documents")
	}
	return bad
}

// Print writes the run's figures.
func (r Result) Print(w io.Writer) {
	o := r.Options
	fmt.Fprintf(w, "fairness: up to %d ingress instances; %d quiet webhooks at %.1f/s each; noisy webhook limit %d/s burst %d sending %.0f/s (%.0fx); %.0f s per phase; load average %s\n",
		o.Instances, o.Quiet, o.QuietRate, o.Limit, o.Burst, o.Factor*float64(o.Limit), o.Factor, o.Seconds, r.LoadAverage)
	pct := func(p Phase) float64 { return 100 * ratio(p.Created, p.Sent) }
	fmt.Fprintf(w, "quiet alone:       %d requests, 201 %.1f%%, p50 %v, p99 %v, max %v\n",
		r.Baseline.Sent, pct(r.Baseline), r.Baseline.P50, r.Baseline.P99, r.Baseline.Max)
	verdict := "met"
	if r.P99Ratio() > P99Target {
		verdict = "missed"
	}
	fmt.Fprintf(w, "quiet beside noisy: %d requests, 201 %.1f%% (%.1f%% of the baseline's), p50 %v, p99 %v (%.2fx the baseline's; target <= %.1fx: %s), max %v\n",
		r.Quiet.Sent, pct(r.Quiet), 100*ratio(r.Quiet.Created*r.Baseline.Sent, max(r.Quiet.Sent*r.Baseline.Created, 1)),
		r.Quiet.P50, r.Quiet.P99, r.P99Ratio(), P99Target, verdict, r.Quiet.Max)
	secs := r.NoisyElapsed.Seconds()
	// What one token bucket would have stored: the limit for each second sent, and the burst.
	ideal := int(math.Round(float64(o.Limit)*secs)) + o.Burst
	fmt.Fprintf(w, "noisy: %d requests: 201 %d, 429 %d (every 429 with Retry-After: %v), other %d; stored %d in %.1f s = %.1f/s against its limit %d/s; "+
		"overshoot %+d over limit x seconds + burst (%d); the limiter's documented bound %d (its rule, and each second the burst of each of the other %d instances): %s\n",
		r.Noisy.Sent, r.Noisy.Created, r.Noisy.Throttled, r.Noisy.ThrottledWithoutRetryAfter == 0, r.Noisy.Other,
		r.NoisyStored, secs, float64(r.NoisyStored)/secs, o.Limit, r.NoisyStored-ideal, ideal, r.NoisyBound, o.Instances-1,
		map[bool]string{true: "within", false: "EXCEEDED"}[r.NoisyStored <= r.NoisyBound])
	fmt.Fprintf(w, "rate counting: %d counter writes for %d requests beside the noisy webhook = %.4f calls per request (target <= %.2f); %d for %d over the run = %.4f\n",
		r.Flushes, r.Requests, r.FlushesPerRequest(), MaxFlushesPerRequest, r.RunFlushes, r.RunRequests, r.RunFlushesPerRequest())
}

func main() {
	o := DefaultOptions()
	flag.Float64Var(&o.Seconds, "seconds", o.Seconds, "length of each phase (baseline, then beside the noisy webhook)")
	flag.IntVar(&o.Instances, "instances", o.Instances, "the most ingress function instances of the runner (started as needed)")
	flag.IntVar(&o.Quiet, "quiet", o.Quiet, "quiet webhooks")
	flag.Float64Var(&o.QuietRate, "quiet-rate", o.QuietRate, "requests a second of each quiet webhook")
	flag.IntVar(&o.Limit, "limit", o.Limit, "the noisy webhook's rateLimit (requests a second)")
	flag.IntVar(&o.Burst, "burst", o.Burst, "the noisy webhook's rateBurst")
	flag.Float64Var(&o.Factor, "factor", o.Factor, "the noisy webhook sends this many times its limit")
	flag.StringVar(&o.DynamoDBEndpoint, "dynamodb-endpoint", "", "external DynamoDB engine (DynamoDB Local) for the runner")
	flag.Parse()
	r, err := Run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fairness:", err)
		os.Exit(1)
	}
	r.Print(os.Stdout)
	if bad := r.Check(); len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "fairness: violated:", b)
		}
		os.Exit(1)
	}
}

// webhook is one the run created.
type webhook struct {
	ID, URL, Token string
}

// flushCounter sums the rate counter writes of the functions' metric documents on the
// runner's standard output.
type flushCounter struct {
	flushes, flushDocs atomic.Int64
}

func (f *flushCounter) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		// Only the documents that carry the metric are parsed: the runner prints hundreds
		// of lines a second, on the cores the run measures.
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("{")) || !bytes.Contains(line, []byte(`"`+apigw.MetricRateFlushes+`"`)) {
			continue
		}
		var doc map[string]any
		if json.Unmarshal(line, &doc) != nil {
			continue
		}
		if n, ok := doc[apigw.MetricRateFlushes].(float64); ok && n > 0 {
			f.flushes.Add(int64(n))
			f.flushDocs.Add(1)
		}
	}
}

// Run runs the scenario and returns its figures; an error is a run that could not be made
// (the runner, the admin calls), not a broken promise (see Result.Check).
func Run(ctx context.Context, o Options) (Result, error) {
	res := Result{Options: o}
	var counter flushCounter
	r, err := runnerproc.Start(runnerproc.Options{
		// -v: the functions' metric documents on standard output, where the rate counter
		// writes are counted.
		Args: func(string) []string {
			args := []string{"-instances", fmt.Sprint(o.Instances), "-v"}
			if o.DynamoDBEndpoint != "" {
				args = append(args, "-dynamodb-endpoint", o.DynamoDBEndpoint)
			}
			return args
		},
		Stdout: counter.read,
	})
	if err != nil {
		return res, err
	}
	defer r.Stop()
	s, awsAddr := r.Seed, r.AWSAddr
	api := strings.TrimSuffix(s.URL, "/public/ingress_webhooks/"+s.WebhookID)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String("http://" + awsAddr), RetryMaxAttempts: 10}
	store := dynamo.New(dynamodb.NewFromConfig(cfg), "rocketlead-local") // the runner's table

	// The quiet webhooks keep the default limit; they send far below it.
	quiet := make([]webhook, o.Quiet)
	for i := range quiet {
		if quiet[i], err = createWebhook(ctx, client, api, s, fmt.Sprintf("quiet %d", i)); err != nil {
			return res, err
		}
	}
	noisy, err := createWebhook(ctx, client, api, s, "noisy")
	if err != nil {
		return res, err
	}
	if err := setRate(ctx, store, noisy.ID, o.Limit, o.Burst); err != nil {
		return res, err
	}

	// Warm-up, counted in neither phase: every instance reads the pool and the token key
	// once, so that the baseline is not the run's cold start.
	warm := senders(quiet, o.QuietRate, "warm")
	warmOut := drive(ctx, client, warm, 2)
	res.QuietCreated += created(warmOut)

	d := time.Duration(o.Seconds * float64(time.Second))
	runStart := counter.flushes.Load()
	base := drive(ctx, client, senders(quiet, o.QuietRate, "base"), d.Seconds())
	res.Baseline = summarize(base)
	res.QuietCreated += res.Baseline.Created

	before := counter.flushes.Load()
	all := append(senders(quiet, o.QuietRate, "quiet"), sender{hook: noisy, rate: o.Factor * float64(o.Limit), prefix: "noisy", noisy: true})
	t0 := time.Now()
	mixed := drive(ctx, client, all, d.Seconds())
	res.NoisyElapsed = time.Since(t0)
	var quietOut, noisyOut []outcome
	for _, oc := range mixed {
		if oc.noisy {
			noisyOut = append(noisyOut, oc)
		} else {
			quietOut = append(quietOut, oc)
		}
	}
	res.Quiet, res.Noisy = summarize(quietOut), summarize(noisyOut)
	res.QuietCreated += res.Quiet.Created
	// Every answered request has written its metric document before its answer; give the
	// reader the lines still in the pipe.
	time.Sleep(300 * time.Millisecond)
	res.Flushes = int(counter.flushes.Load() - before)
	res.RunFlushes = int(counter.flushes.Load() - runStart)
	res.Requests = len(mixed)
	res.RunRequests = len(base) + len(mixed)
	res.flushDocs = int(counter.flushDocs.Load())
	res.NoisyBound = noisyBound(o, res.NoisyElapsed)
	res.LoadAverage = "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.LoadAverage = strings.Join(strings.Fields(string(b))[:3], " ")
	}

	entries, err := store.Entries(ctx, s.PoolID, 1<<20)
	if err != nil {
		return res, fmt.Errorf("read the entries back: %w", err)
	}
	for _, e := range entries {
		m, _ := e.Data["marker"].(string)
		switch {
		case strings.HasPrefix(m, "noisy-"):
			res.NoisyStored++
		case m != "":
			res.QuietStored++
		}
	}
	return res, nil
}

// noisyBound is the most entries the noisy webhook may get while sending for elapsed, by
// the limiter's documented bound, second by second over every second the sending touches (a
// partial one at each end): what its rule allows (at most the limit times W in any W
// seconds, W = ceil(burst / limit)), plus, in each second, each other instance's unflushed
// count: a quarter of the burst, or what it admitted since its last flush, at most one
// second ago; an instance admits at most the burst in a second (its view of the bucket never
// holds more).
func noisyBound(o Options, elapsed time.Duration) int {
	seconds := int(math.Ceil(elapsed.Seconds())) + 1
	w := (o.Burst + o.Limit - 1) / o.Limit
	windows := (seconds + w - 1) / w
	return o.Limit*w*windows + (o.Instances-1)*o.Burst*seconds
}

// createWebhook creates a webhook in the seeded pool through the admin route.
func createWebhook(ctx context.Context, client *http.Client, api string, s runnerproc.Seed, name string) (webhook, error) {
	b, _ := json.Marshal(map[string]any{"organizationId": s.OrganizationID, "tableId": s.PoolID, "name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/admin/ingress_webhooks", bytes.NewReader(b))
	if err != nil {
		return webhook{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return webhook{}, fmt.Errorf("create webhook %s: %w", name, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var w webhook
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(out, &w) != nil || w.URL == "" || w.Token == "" {
		return webhook{}, fmt.Errorf("create webhook %s: %d %s", name, resp.StatusCode, out)
	}
	return w, nil
}

// setRate gives a webhook its own rate limit and burst, through the store the functions
// use (as the operator's tools do); every request reads the webhook, so it applies at once.
func setRate(ctx context.Context, store *dynamo.Store, id string, limit, burst int) error {
	w, err := store.UpdateWebhook(ctx, id, lead.WebhookChange{Rate: &lead.RateChange{Limit: limit, Burst: burst}})
	if err != nil {
		return fmt.Errorf("set the rate of webhook %s: %w", id, err)
	}
	if w.RateLimit != limit || w.RateBurst != burst {
		return fmt.Errorf("set the rate of webhook %s to %d/s burst %d: it reads %d/s burst %d", id, limit, burst, w.RateLimit, w.RateBurst)
	}
	return nil
}

// sender is one webhook's traffic: rate requests a second, each with a marker of its own.
type sender struct {
	hook   webhook
	rate   float64
	prefix string
	noisy  bool
}

func senders(hooks []webhook, rate float64, prefix string) []sender {
	out := make([]sender, len(hooks))
	for i, h := range hooks {
		out[i] = sender{hook: h, rate: rate, prefix: fmt.Sprintf("%s-%d", prefix, i)}
	}
	return out
}

type outcome struct {
	noisy      bool
	status     int
	retryAfter bool
	took       time.Duration
}

// drive sends every sender's requests on its own schedule for seconds, open loop (a slow
// answer delays no later request, as with independent senders), each sender starting at a
// random point of its first interval; it returns once every request is answered.
func drive(ctx context.Context, client *http.Client, ss []sender, seconds float64) []outcome {
	var mu sync.Mutex
	var out []outcome
	var wg sync.WaitGroup
	start := time.Now()
	for _, s := range ss {
		n := int(math.Round(s.rate * seconds))
		interval := time.Duration(float64(time.Second) / s.rate)
		offset := time.Duration(rand.Int64N(int64(interval)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inner sync.WaitGroup
			for k := range n {
				at := start.Add(offset + time.Duration(k)*interval)
				if d := time.Until(at); d > 0 {
					time.Sleep(d)
				}
				inner.Add(1)
				go func() {
					defer inner.Done()
					oc := send(ctx, client, s, fmt.Sprintf("%s-%d", s.prefix, k))
					mu.Lock()
					out = append(out, oc)
					mu.Unlock()
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	return out
}

// send posts one lead carrying marker.
func send(ctx context.Context, client *http.Client, s sender, marker string) outcome {
	oc := outcome{noisy: s.noisy}
	body := fmt.Sprintf(`{"data":{"marker":%q,"email":"%s@example.com"}}`, marker, marker)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.hook.URL, strings.NewReader(body))
	if err != nil {
		oc.status = -1
		return oc
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-rocketlead-ingress-token", s.hook.Token)
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		oc.took, oc.status = time.Since(t0), -1
		return oc
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	oc.took, oc.status = time.Since(t0), resp.StatusCode
	oc.retryAfter = resp.Header.Get("Retry-After") != ""
	return oc
}

func created(out []outcome) int {
	n := 0
	for _, o := range out {
		if o.status == http.StatusCreated {
			n++
		}
	}
	return n
}

// summarize counts a group's answers and its latency percentiles.
func summarize(out []outcome) Phase {
	p := Phase{Sent: len(out), Statuses: map[int]int{}}
	lat := make([]time.Duration, 0, len(out))
	for _, o := range out {
		p.Statuses[o.status]++
		lat = append(lat, o.took)
		switch o.status {
		case http.StatusCreated:
			p.Created++
		case http.StatusTooManyRequests:
			p.Throttled++
			if !o.retryAfter {
				p.ThrottledWithoutRetryAfter++
			}
		default:
			p.Other++
		}
	}
	if len(lat) == 0 {
		return p
	}
	slices.Sort(lat)
	at := func(q float64) time.Duration {
		return lat[min(len(lat)-1, int(q*float64(len(lat))))].Round(100 * time.Microsecond)
	}
	p.P50, p.P99, p.Max = at(0.50), at(0.99), lat[len(lat)-1].Round(100*time.Microsecond)
	return p
}
