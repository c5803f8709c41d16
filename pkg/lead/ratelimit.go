package lead

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Rate limits of a webhook: requests per second and the burst allowed on top.
const (
	// DefaultRateLimit is a webhook's limit when neither it nor the configuration sets one.
	DefaultRateLimit = 20
	// MinRateLimit and MaxRateLimit bound a webhook's limit (requests per second).
	MinRateLimit = 1
	MaxRateLimit = 1000
	// MaxBurstFactor bounds a burst: at least the limit, at most this many times it.
	MaxBurstFactor = 10
	// RateWindowSeconds is how many whole seconds before the current one the ingest read
	// returns counts of: the longest window (MaxBurstFactor seconds) and one more.
	RateWindowSeconds = MaxBurstFactor + 1
)

// RateCount is one second's count of a webhook's admitted requests.
type RateCount struct {
	Second int64 // Unix seconds
	Count  int64
}

// RateDefaults are the limit and burst of a webhook that sets none.
type RateDefaults struct {
	Limit int
	Burst int
}

// DefaultRates are the built-in defaults: 20 requests per second, a burst of 40.
func DefaultRates() RateDefaults {
	return RateDefaults{Limit: DefaultRateLimit, Burst: 2 * DefaultRateLimit}
}

// Check says what is wrong with the defaults, nil when they are usable.
func (d RateDefaults) Check() error {
	if msg := rateProblem(d.Limit, d.Burst); msg != "" {
		return fmt.Errorf("rate defaults %d/s burst %d: %s", d.Limit, d.Burst, msg)
	}
	return nil
}

// For is the webhook's limit and burst: its own, else the defaults. A webhook that sets
// only a limit has a burst of twice it (at most the largest burst); a burst below the
// limit counts as the limit.
func (d RateDefaults) For(w *Webhook) (limit, burst int) {
	limit, burst = d.Limit, d.Burst
	if w.RateLimit > 0 {
		limit, burst = w.RateLimit, 2*w.RateLimit
	}
	if w.RateBurst > 0 {
		burst = w.RateBurst
	}
	return limit, max(burst, limit)
}

// rateProblem says what is wrong with a limit and burst, "" when nothing is.
func rateProblem(limit, burst int) string {
	switch {
	case limit < MinRateLimit || limit > MaxRateLimit:
		return fmt.Sprintf("the limit must be a whole number from %d to %d requests per second", MinRateLimit, MaxRateLimit)
	case burst < limit || burst > MaxBurstFactor*limit:
		return fmt.Sprintf("the burst must be a whole number from the limit to %d times it", MaxBurstFactor)
	}
	return ""
}

// Throttled is the 429 of a request over its webhook's rate limit: nothing stored, nothing
// kept; the caller waits retryAfter whole seconds.
func Throttled(limit, retryAfter int) *Error {
	e := Errorf(ETHROTTLED, "this webhook takes at most %d requests per second; nothing was stored; send again after the time in the Retry-After header, and slow down", limit)
	e.RetryAfter = max(retryAfter, 1)
	return e
}

// RateBlockSeconds is how many consecutive seconds one shared counter holds: a flush of
// an instance's counts is one write per block they fall in, usually one.
const RateBlockSeconds = 10

// RateFlusher adds an instance's counts to a webhook's shared per-second counters (ADDs
// that never touch the webhook itself).
type RateFlusher interface {
	// AddRateCounts adds the counts, one write per block of RateBlockSeconds seconds, and
	// returns, when a write fails, the counts it surely did not add (a write that may have
	// landed is not among them: counted twice, it would refuse what the limit allows).
	AddRateCounts(ctx context.Context, webhookID string, counts []RateCount) (unwritten []RateCount, err error)
}

// RateStore is what rate limiting needs from storage: the webhook read with its counts,
// and the counter's ADD.
type RateStore interface {
	RateFlusher
	// WebhookCounted is IngestStore.Webhook with the webhook's per-second counts of the
	// seconds from since on (Webhook.Counted), in the same strongly consistent read.
	WebhookCounted(ctx context.Context, id string, since int64) (*Webhook, error)
}

// DefaultFlushTimeout bounds one flush: it is one attempt, and a request never waits
// longer for it.
const DefaultFlushTimeout = 150 * time.Millisecond

// Limiter enforces the webhooks' rate limits in one function instance. It counts the
// requests it admits per webhook and second; it judges a request by the counts the ingest
// read returned (every instance's flushed counts) plus its own unflushed ones (see room:
// at most burst in one second, at most limit per second over a window of burst/limit
// seconds). It adds its unflushed counts of a webhook to the shared counters at most once
// a second, and only when they matter: when they reach a quarter of the burst, when the
// room left is at most half the burst, or when a request is refused. A webhook well below
// its limit therefore costs no call.
//
// The bound: other instances cannot see what an instance has not flushed, so in any
// second a webhook gets at most the room its counts leave plus, for each other instance, its
// unflushed count: under a quarter of the burst, or, for an instance busier than that,
// what it admitted since its last flush, at most one second ago. A flush that fails is not
// retried in the request: the counts stay local (they still judge this instance's
// requests) and go with the next flush, a second later at the earliest. A Limiter is safe
// for concurrent use; build one per instance.
type Limiter struct {
	Defaults RateDefaults
	Flusher  RateFlusher // nil: counts stay local
	Now      func() time.Time
	// FlushTimeout bounds one flush (DefaultFlushTimeout when 0).
	FlushTimeout time.Duration

	mu    sync.Mutex
	hooks map[string]*hookCount

	admitted, throttled, flushes, flushFailures atomic.Int64
}

// hookCount is one webhook's state in an instance, per second: its unflushed admitted
// requests, those of a flush under way, and those it flushed (a read that started before
// its flush landed does not hold them: a second counts at least what this instance
// flushed to it); and the second of its last flush.
type hookCount struct {
	local, flying, flushed map[int64]int64
	lastFlush              int64
}

// NewLimiter returns a limiter with the defaults, the wall clock and the flusher.
func NewLimiter(d RateDefaults, f RateFlusher) *Limiter {
	return &Limiter{Defaults: d, Flusher: f, Now: time.Now}
}

// RateStats are a limiter's counts since it was built.
type RateStats struct {
	Admitted, Throttled int64
	// Flushes are the counter writes tried; FlushFailures those that failed.
	Flushes, FlushFailures int64
}

// Stats returns the limiter's counts.
func (l *Limiter) Stats() RateStats {
	return RateStats{Admitted: l.admitted.Load(), Throttled: l.throttled.Load(),
		Flushes: l.flushes.Load(), FlushFailures: l.flushFailures.Load()}
}

// Admit judges one authenticated request of wh (its Counted as just read): nil when it is
// admitted (and counted), the 429 of Throttled when the webhook is over its limit. It may
// flush the instance's counts of the webhook first, within FlushTimeout; a flush that
// fails never fails the request.
func (l *Limiter) Admit(ctx context.Context, wh *Webhook) error {
	limit, burst := l.Defaults.For(wh)
	now := l.Now().Unix()
	l.mu.Lock()
	h := l.hook(wh.ID, now-windowSeconds(limit, burst)+1)
	counts := make(map[int64]int64, len(wh.Counted)+len(h.local))
	for _, c := range wh.Counted {
		counts[c.Second] += c.Count
	}
	for s, n := range h.flushed {
		counts[s] = max(counts[s], n)
	}
	for _, m := range []map[int64]int64{h.local, h.flying} {
		for s, n := range m {
			counts[s] += n
		}
	}
	left := room(counts, now, limit, burst)
	ok := left >= 1
	if ok {
		h.local[now]++
		l.admitted.Add(1)
		left--
	}
	var unflushed int64
	for _, n := range h.local {
		unflushed += n
	}
	// A refused request flushes what this instance holds, so that the others see it too.
	flush := l.Flusher != nil && now > h.lastFlush && h.flying == nil && unflushed > 0 &&
		(!ok || 4*unflushed >= int64(burst) || 2*left <= int64(burst))
	if flush {
		l.flushLocked(ctx, wh.ID, h, now)
	} else {
		l.mu.Unlock()
	}
	if !ok {
		l.throttled.Add(1)
		return Throttled(limit, retryAfter(counts, now, limit, burst))
	}
	return nil
}

// flushLocked sends the webhook's unflushed counts (one write per block) and releases
// l.mu, which it is called with; the counts not written come back to be sent later.
func (l *Limiter) flushLocked(ctx context.Context, webhookID string, h *hookCount, now int64) {
	taken := make([]RateCount, 0, len(h.local))
	blocks := map[int64]bool{}
	for s, n := range h.local {
		taken = append(taken, RateCount{Second: s, Count: n})
		blocks[s/RateBlockSeconds] = true
	}
	slices.SortFunc(taken, func(a, b RateCount) int { return cmp.Compare(a.Second, b.Second) })
	h.flying, h.local, h.lastFlush = h.local, map[int64]int64{}, now
	l.mu.Unlock()
	l.flushes.Add(int64(len(blocks)))
	unwritten, err := l.flush(ctx, webhookID, taken)
	l.mu.Lock()
	for s, n := range h.flying {
		h.flushed[s] += n
	}
	h.flying = nil
	if err != nil {
		l.flushFailures.Add(1)
		for _, c := range unwritten {
			h.local[c.Second] += c.Count
			h.flushed[c.Second] -= c.Count
		}
	}
	l.mu.Unlock()
}

// flush adds the counts to the webhook's counters within FlushTimeout, on a context that
// a cancelled request does not cut short.
func (l *Limiter) flush(ctx context.Context, webhookID string, counts []RateCount) ([]RateCount, error) {
	timeout := l.FlushTimeout
	if timeout <= 0 {
		timeout = DefaultFlushTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	return l.Flusher.AddRateCounts(ctx, webhookID, counts)
}

// hook returns the webhook's state, its counts of seconds before oldest dropped (they no
// longer weigh on any judgment). Called with l.mu held.
func (l *Limiter) hook(id string, oldest int64) *hookCount {
	if l.hooks == nil {
		l.hooks = map[string]*hookCount{}
	}
	h := l.hooks[id]
	if h == nil {
		h = &hookCount{local: map[int64]int64{}, flushed: map[int64]int64{}}
		l.hooks[id] = h
	}
	for _, m := range []map[int64]int64{h.local, h.flushed} {
		for s := range m {
			if s < oldest {
				delete(m, s)
			}
		}
	}
	return h
}

// windowSeconds is the window of a limit and burst: ceil(burst/limit) seconds, the current
// one included.
func windowSeconds(limit, burst int) int64 {
	return int64((burst + limit - 1) / limit)
}

// room is how many more requests the second now admits, given the counts per second (it
// may be negative after an overshoot): at most burst in one second, and at most limit
// times the window over the window's seconds (the current one and those before it). So a
// webhook may spend its burst at once and then waits for the window to pass; over time it
// gets its limit per second.
func room(counts map[int64]int64, now int64, limit, burst int) int64 {
	w := windowSeconds(limit, burst)
	var sum int64
	for s := now - w + 1; s <= now; s++ {
		sum += counts[s]
	}
	return min(int64(burst)-counts[now], int64(limit)*w-sum)
}

// retryAfter is how many whole seconds from now a request would be admitted again, if no
// other is admitted meanwhile: at most the window.
func retryAfter(counts map[int64]int64, now int64, limit, burst int) int {
	w := windowSeconds(limit, burst)
	for d := int64(1); d < w; d++ {
		var sum int64
		for s := now + d - w + 1; s <= now; s++ {
			sum += counts[s]
		}
		if sum < int64(limit)*w {
			return int(d)
		}
	}
	return int(w)
}

// Admit judges an authenticated request against its webhook's rate limit (see Limiter);
// without a limiter every request is admitted.
func (s *IngestService) Admit(ctx context.Context, wh *Webhook) error {
	if s.Limiter == nil {
		return nil
	}
	return s.Limiter.Admit(ctx, wh)
}

// RateInput is the rate part of a create or update: a nil field is left as it is
// (create: the default); a field set to 0 (null in JSON) sets the default.
type RateInput struct {
	RateLimit *int
	RateBurst *int
}

func (in RateInput) empty() bool { return in.RateLimit == nil && in.RateBurst == nil }

// change validates the rate settings of a create or update against the defaults and
// returns what to store (nil: nothing to change). A limit set without a burst resets the
// burst to twice the limit; in an update a burst needs its limit in the same request, so
// that the pair is judged together.
func (in RateInput) change(d RateDefaults, update bool) (*RateChange, []Detail) {
	if in.empty() {
		return nil, nil
	}
	ch := &RateChange{}
	var details []Detail
	if in.RateLimit != nil {
		ch.Limit = *in.RateLimit
		if ch.Limit != 0 && (ch.Limit < MinRateLimit || ch.Limit > MaxRateLimit) {
			details = append(details, Detail{Path: "rateLimit",
				Problem: fmt.Sprintf("must be a whole number of requests per second from %d to %d (null: the default, %d)", MinRateLimit, MaxRateLimit, d.Limit)})
		}
	}
	if in.RateBurst == nil || *in.RateBurst == 0 || len(details) > 0 {
		return ch, details
	}
	ch.Burst = *in.RateBurst
	limit := ch.Limit
	switch {
	case limit == 0 && update && in.RateLimit == nil:
		return ch, append(details, Detail{Path: "rateBurst", Problem: "send rateLimit with rateBurst: the burst is judged against the limit"})
	case limit == 0:
		limit = d.Limit
	}
	if ch.Burst < limit || ch.Burst > MaxBurstFactor*limit {
		details = append(details, Detail{Path: "rateBurst",
			Problem: fmt.Sprintf("must be a whole number of requests from rateLimit (%d) to %d times it (%d)", limit, MaxBurstFactor, MaxBurstFactor*limit)})
	}
	return ch, details
}

// rates are the admin service's rate defaults, DefaultRates when not configured.
func (s *WebhookAdmin) rates() RateDefaults {
	if s.Rates.Limit == 0 {
		return DefaultRates()
	}
	return s.Rates
}
