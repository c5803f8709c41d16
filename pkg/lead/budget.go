package lead

import (
	"context"
	"time"
)

// The request budget and what derives from it: the one definition of the service's time.
//
// A request has RequestBudget to be answered: a call DynamoDB keeps refusing is retried
// until then (less the store's settle reserve) and answered 503. The functions' timeout
// (FunctionTimeout, Globals.Function.Timeout in template.yaml) leaves room beyond it, and a
// write whose outcome is unknown may be settled (read back, fenced) past the request's
// deadline up to the function's deadline less AnswerMargin: SettleBudget after the start
// when the invocation carries no deadline of its own.
const (
	// RequestBudget is the overall deadline of a request, below the functions' timeout so
	// that a request DynamoDB keeps refusing is still answered (503) rather than cut off.
	RequestBudget = 8 * time.Second
	// FunctionTimeout is the functions' timeout: the function's own deadline when the
	// invocation's context carries none (the local runner).
	FunctionTimeout = RequestBudget + 2*time.Second
	// AnswerMargin is the part of the function's time kept to answer after settling a
	// write whose outcome is unknown.
	AnswerMargin = 500 * time.Millisecond
	// SettleBudget is the longest a request of an HTTP function takes outside Lambda: its
	// settlement ends by FunctionTimeout less AnswerMargin after its start.
	SettleBudget = FunctionTimeout - AnswerMargin
)

type settleByKey struct{}

// WithSettleBy returns ctx carrying the time by which the store must have settled a write
// whose outcome is unknown: the function's own deadline less AnswerMargin. It may lie past
// ctx's deadline (the request's), which bounds new work, not settlement.
func WithSettleBy(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, settleByKey{}, t)
}

// SettleBy returns the time WithSettleBy put in ctx, if any.
func SettleBy(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(settleByKey{}).(time.Time)
	return t, ok
}
