package lead

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sharedCounters stands for the counter items: what every instance flushed, per webhook
// and second; fail makes flushes fail.
type sharedCounters struct {
	mu      sync.Mutex
	counts  map[string]map[int64]int64
	fail    error
	flushes int
}

func newShared() *sharedCounters { return &sharedCounters{counts: map[string]map[int64]int64{}} }

func (s *sharedCounters) AddRateCounts(_ context.Context, id string, counts []RateCount) ([]RateCount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	blocks := map[int64]bool{}
	for _, c := range counts {
		blocks[c.Second/RateBlockSeconds] = true
	}
	s.flushes += len(blocks)
	if s.fail != nil {
		return counts, s.fail
	}
	if s.counts[id] == nil {
		s.counts[id] = map[int64]int64{}
	}
	for _, c := range counts {
		s.counts[id][c.Second] += c.Count
	}
	return nil, nil
}

// read is the webhook as the ingest read returns it: its counts of the read window.
func (s *sharedCounters) read(w Webhook, now int64) *Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Counted = nil
	for sec, n := range s.counts[w.ID] {
		if sec >= now-RateWindowSeconds {
			w.Counted = append(w.Counted, RateCount{Second: sec, Count: n})
		}
	}
	return &w
}

func TestRoomArithmetic(t *testing.T) {
	now := int64(1000)
	for _, tc := range []struct {
		name         string
		counts       map[int64]int64
		limit, burst int
		room         int64
		retry        int
	}{
		{"idle: the full burst", nil, 20, 40, 40, 1},
		{"used this second", map[int64]int64{1000: 15}, 20, 40, 25, 1},
		{"the burst spent this second: wait the window out", map[int64]int64{1000: 40}, 20, 40, 0, 2},
		{"the burst spent last second: nothing this second", map[int64]int64{999: 40}, 20, 40, 0, 1},
		{"steady at the limit: the limit each second", map[int64]int64{997: 20, 998: 20, 999: 20}, 20, 40, 20, 1},
		{"overshoot is a debt", map[int64]int64{999: 50}, 20, 40, -10, 1},
		{"counts older than the window are forgotten", map[int64]int64{998: 500}, 20, 40, 40, 1},
		{"burst equal to the limit: per second", map[int64]int64{999: 10, 1000: 10}, 10, 10, 0, 1},
		{"burst 30 on 20: at most 30 a second, 40 in two", map[int64]int64{999: 25}, 20, 30, 15, 1},
		{"a long window: 5 in 5 seconds", map[int64]int64{997: 4, 1000: 1}, 1, 5, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := room(tc.counts, now, tc.limit, tc.burst); got != tc.room {
				t.Errorf("room = %d; want %d", got, tc.room)
			}
			if tc.room < 1 {
				if got := retryAfter(tc.counts, now, tc.limit, tc.burst); got != tc.retry {
					t.Errorf("retryAfter = %d; want %d", got, tc.retry)
				}
			}
		})
	}
}

func TestRateDefaultsFor(t *testing.T) {
	d := RateDefaults{Limit: 20, Burst: 40}
	for _, tc := range []struct {
		w            Webhook
		limit, burst int
	}{
		{Webhook{}, 20, 40},
		{Webhook{RateLimit: 5}, 5, 10},
		{Webhook{RateLimit: 5, RateBurst: 7}, 5, 7},
		{Webhook{RateBurst: 100}, 20, 100},
		{Webhook{RateBurst: 3}, 20, 20}, // a burst below the limit counts as the limit
	} {
		if l, b := d.For(&tc.w); l != tc.limit || b != tc.burst {
			t.Errorf("For(%d, %d) = %d, %d; want %d, %d", tc.w.RateLimit, tc.w.RateBurst, l, b, tc.limit, tc.burst)
		}
	}
	for _, bad := range []RateDefaults{{0, 0}, {1001, 2002}, {10, 9}, {10, 101}} {
		if bad.Check() == nil {
			t.Errorf("Check(%v) = nil; want an error", bad)
		}
	}
}

// TestLimiterOneInstanceAdmitsTheBurstThenTheLimit: alone, an instance admits the burst in
// the first second and the limit in each second after, refuses the rest with a
// Retry-After of whole seconds, and counts only what it admits.
func TestLimiterOneInstanceAdmitsTheBurstThenTheLimit(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	shared := newShared()
	l := NewLimiter(RateDefaults{Limit: 10, Burst: 20}, shared)
	l.Now = clock.Now
	wh := Webhook{ID: "w"}
	perSecond := make([]int, 5)
	for sec := range perSecond {
		for i := 0; i < 100; i++ {
			err := l.Admit(context.Background(), shared.read(wh, clock.Now().Unix()))
			var e *Error
			switch {
			case err == nil:
				perSecond[sec]++
			case errors.As(err, &e) && e.Code == ETHROTTLED:
				if e.RetryAfter < 1 {
					t.Fatalf("RetryAfter %d", e.RetryAfter)
				}
			default:
				t.Fatalf("Admit: %v", err)
			}
			clock.Add(10 * time.Millisecond)
		}
	}
	// The burst at once, then nothing until the 2-second window has passed: 10 a second.
	want := []int{20, 0, 20, 0, 20}
	if fmt.Sprint(perSecond) != fmt.Sprint(want) {
		t.Errorf("admitted per second = %v; want %v", perSecond, want)
	}
	st := l.Stats()
	if st.Admitted != 60 || st.Throttled != 440 {
		t.Errorf("stats %+v; want 60 admitted, 440 throttled", st)
	}
	if st.Flushes > 5 {
		t.Errorf("%d flushes in 5 seconds; want at most one a second", st.Flushes)
	}
}

// TestLimiterQuietWebhookNeverFlushes: a webhook far below its limit costs no call.
func TestLimiterQuietWebhookNeverFlushes(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	shared := newShared()
	l := NewLimiter(RateDefaults{Limit: 20, Burst: 40}, shared)
	l.Now = clock.Now
	wh := Webhook{ID: "quiet"}
	for i := 0; i < 600; i++ { // 2 per second for 5 minutes
		if err := l.Admit(context.Background(), shared.read(wh, clock.Now().Unix())); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		clock.Add(500 * time.Millisecond)
	}
	if shared.flushes != 0 {
		t.Errorf("%d flushes for a webhook at a tenth of its limit; want 0", shared.flushes)
	}
}

// TestLimiterFlushFailureFailsOpen: a failing counter write never fails the request, is
// tried at most once a second, and its counts stay to judge this instance's requests and
// go out with the next flush.
func TestLimiterFlushFailureFailsOpen(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	shared := newShared()
	shared.fail = errors.New("ProvisionedThroughputExceededException")
	l := NewLimiter(RateDefaults{Limit: 10, Burst: 20}, shared)
	l.Now = clock.Now
	wh := Webhook{ID: "w"}
	for i := 0; i < 12; i++ {
		if err := l.Admit(context.Background(), shared.read(wh, clock.Now().Unix())); err != nil {
			t.Fatalf("request %d: %v; a failed flush must not fail the request", i, err)
		}
	}
	st := l.Stats()
	if st.Flushes != 1 || st.FlushFailures != 1 {
		t.Errorf("stats %+v; want one flush tried in the second, failed", st)
	}
	// The 12 held locally still judge: 8 more fit in the window's 20, not 9.
	shared.fail = nil
	clock.Add(time.Second)
	admitted := 0
	for i := 0; i < 9; i++ {
		if err := l.Admit(context.Background(), shared.read(wh, clock.Now().Unix())); err == nil {
			admitted++
		}
	}
	if admitted != 8 {
		t.Errorf("admitted %d in the next second; want 8 (20 in the window less the 12 held)", admitted)
	}
	var total int64
	for _, n := range shared.counts["w"] {
		total += n
	}
	// The next second's first admission flushed the 12 held and itself (the rest wait
	// for the next second).
	if total != 13 {
		t.Errorf("shared count %d after the flush recovered; want 13: the 12 held and the one that flushed", total)
	}
}

// TestLimiterManyInstancesStayWithinTheBound runs 4 instances (4 limiters sharing the
// counters, as 4 Lambda instances share the table) on one fake clock: a noisy webhook sends
// at 10× its limit spread over the instances, 20 quiet ones at 1–2 requests a second. The
// noisy webhook's admitted count in any second stays within the documented bound, its
// admitted rate near its limit, and the counting costs at most 0.05 calls per request.
func TestLimiterManyInstancesStayWithinTheBound(t *testing.T) {
	const instances, limit, burst, seconds = 4, 20, 40, 30
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	shared := newShared()
	lims := make([]*Limiter, instances)
	for i := range lims {
		lims[i] = NewLimiter(RateDefaults{Limit: limit, Burst: burst}, shared)
		lims[i].Now = clock.Now
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noisy := Webhook{ID: "noisy"}
	quiet := make([]Webhook, 20)
	for i := range quiet {
		quiet[i] = Webhook{ID: fmt.Sprintf("quiet-%d", i)}
	}
	admittedPerSecond := make([]int64, seconds)
	requests, quietRefused := 0, 0
	const tick = 10 * time.Millisecond // 100 ticks a second
	for sec := 0; sec < seconds; sec++ {
		for tk := 0; tk < 100; tk++ {
			now := clock.Now().Unix()
			// Noisy: 200 a second, 2 a tick, each on a random instance.
			for range 2 {
				requests++
				if err := lims[rng.IntN(instances)].Admit(context.Background(), shared.read(noisy, now)); err == nil {
					admittedPerSecond[sec]++
				}
			}
			// Quiet: each sends with probability 1.5/100 a tick (1.5 a second).
			for _, q := range quiet {
				if rng.IntN(1000) < 15 {
					requests++
					if err := lims[rng.IntN(instances)].Admit(context.Background(), shared.read(q, now)); err != nil {
						quietRefused++
					}
				}
			}
			clock.Add(tick)
		}
	}
	// Bound: the burst, plus for each other instance what it may hold unflushed: half the
	// burst, or what it admits in a second (here at most its view of the bucket, the burst).
	bound := int64(burst + (instances-1)*max(burst/2, burst))
	var total int64
	for sec, n := range admittedPerSecond {
		total += n
		if n > bound {
			t.Errorf("second %d: %d admitted; want at most the bound %d", sec, n, bound)
		}
	}
	rate := float64(total) / seconds
	var flushes int64
	for _, l := range lims {
		flushes += l.Stats().Flushes
	}
	perRequest := float64(flushes) / float64(requests)
	t.Logf("noisy: %.1f admitted/s against a limit of %d (burst %d, bound per second %d); max in a second %d; flushes %d for %d requests = %.4f calls/request",
		rate, limit, burst, bound, maxOf(admittedPerSecond), flushes, requests, perRequest)
	// On average: the limit, plus per window of 2 seconds what the 3 other instances hold
	// unflushed (a quarter of the burst each, when they flush on time).
	if most := float64(limit) + float64((instances-1)*burst/4)/2; rate > most {
		t.Errorf("noisy webhook admitted %.1f/s on average; want at most %.1f", rate, most)
	}
	if quietRefused != 0 {
		t.Errorf("%d quiet requests refused; want none", quietRefused)
	}
	if perRequest > 0.05 {
		t.Errorf("counting cost %.4f calls per request; want at most 0.05", perRequest)
	}
}

func maxOf(xs []int64) int64 {
	var m int64
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// TestLimiterConcurrentRequestsAdmitTheBurstExactly: one instance serving requests
// concurrently admits exactly the burst within a second, flushing at most once: the counts
// of a flush under way still judge, and so do those flushed when a request's read came
// before the flush landed.
func TestLimiterConcurrentRequestsAdmitTheBurstExactly(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	shared := newShared()
	l := NewLimiter(RateDefaults{Limit: 25, Burst: 50}, shared)
	l.Now = clock.Now
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_ = l.Admit(context.Background(), shared.read(Webhook{ID: "w"}, clock.Now().Unix()))
			}
		}()
	}
	wg.Wait()
	if st := l.Stats(); st.Admitted != 50 || st.Throttled != 750 || st.Flushes != 1 {
		t.Errorf("stats %+v; want 50 admitted, 750 throttled, one flush", st)
	}
}
