package lead

import (
	"context"
	"time"
)

type settleByKey struct{}

// WithSettleBy returns ctx carrying the time by which the store must have settled a write
// whose outcome is unknown: the function's own deadline less the time it needs to answer.
// It may lie past ctx's deadline (the request's), which bounds new work, not settlement.
func WithSettleBy(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, settleByKey{}, t)
}

// SettleBy returns the time WithSettleBy put in ctx, if any.
func SettleBy(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(settleByKey{}).(time.Time)
	return t, ok
}
