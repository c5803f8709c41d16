package metrics

import (
	"context"
	"sync/atomic"
)

// Calls counts the AWS calls of one request or batch: operations, attempts beyond the
// first (retries) and attempts the service refused as throttled, and the fences the
// DynamoDB store wrote after giving up on a write. A nil *Calls counts nothing.
type Calls struct {
	calls, attempts, throttles atomic.Int64
	fences, unsettled          atomic.Int64
	rateFlushes                atomic.Int64
}

type callsKey struct{}

// WithCalls returns a context carrying a fresh counter, and the counter.
func WithCalls(ctx context.Context) (context.Context, *Calls) {
	c := &Calls{}
	return context.WithValue(ctx, callsKey{}, c), c
}

// CallsFrom returns the counter the context carries, or nil.
func CallsFrom(ctx context.Context) *Calls {
	c, _ := ctx.Value(callsKey{}).(*Calls)
	return c
}

// Call counts one operation (however many attempts it takes).
func (c *Calls) Call() {
	if c != nil {
		c.calls.Add(1)
	}
}

// Attempt counts one attempt of an operation; throttled says the service refused it as
// throttled.
func (c *Calls) Attempt(throttled bool) {
	if c == nil {
		return
	}
	c.attempts.Add(1)
	if throttled {
		c.throttles.Add(1)
	}
}

// Fence counts one write the store gave up on (an entry's, a kept request's, a management
// write's): settled says it was fenced, so the failure answered is true; an unsettled one
// may still land behind it.
func (c *Calls) Fence(settled bool) {
	if c == nil {
		return
	}
	if settled {
		c.fences.Add(1)
	} else {
		c.unsettled.Add(1)
	}
}

// RateFlush counts one write of the rate limiter's per-webhook counter (also counted as a
// call by the SDK middleware): what rate limiting costs in calls.
func (c *Calls) RateFlush() {
	if c != nil {
		c.rateFlushes.Add(1)
	}
}

// CallCounts is a snapshot of a Calls counter.
type CallCounts struct {
	Calls     int // operations
	Retries   int // attempts beyond the first of each operation
	Throttles int // attempts refused as throttled
	Fences    int // writes fenced after the store gave up on them
	Unsettled int // writes given up on that could not be fenced
	// RateFlushes are the rate limiter's counter writes (among Calls).
	RateFlushes int
}

// Counts returns the counts so far.
func (c *Calls) Counts() CallCounts {
	if c == nil {
		return CallCounts{}
	}
	calls, attempts := int(c.calls.Load()), int(c.attempts.Load())
	return CallCounts{Calls: calls, Retries: max(attempts-calls, 0), Throttles: int(c.throttles.Load()),
		Fences: int(c.fences.Load()), Unsettled: int(c.unsettled.Load()), RateFlushes: int(c.rateFlushes.Load())}
}
