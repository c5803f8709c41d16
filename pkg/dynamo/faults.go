package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// RequestBudget is how long the store keeps trying a call DynamoDB refuses for now
// (throttling, transaction conflicts) when the caller's context has no deadline: below the
// functions' 10 s timeout, with room to answer.
const RequestBudget = 8 * time.Second

// SettleTimeout bounds each consistent read that settles a failed write; it may run past
// the request's deadline (a write cut by it), up to settleBy.
const SettleTimeout = time.Second

// settleReserve is the part of the deadline kept for that read and the answer: no new
// attempt starts inside it.
const settleReserve = 1500 * time.Millisecond

// transient reports whether DynamoDB refused the call without applying it, for now: a
// transaction cancelled by a conflict or throttling (and no failed condition), a
// single-item write on an item a transaction holds, or throttling past the SDK's retries.
func transient(err error) bool {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		busy := false
		for _, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed", "ValidationError", "ItemCollectionSizeLimitExceeded":
				return false
			case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
				busy = true
			}
		}
		return busy
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "TransactionConflictException", "TransactionInProgressException", "ThrottlingException",
			"ProvisionedThroughputExceededException", "RequestLimitExceeded":
			return true
		}
	}
	return false
}

// ambiguous reports whether a failed write may nevertheless have been applied: no answer
// (a timeout, a lost response, a cancelled context) or a server-side fault.
func ambiguous(err error) bool {
	if err == nil || transient(err) {
		return false
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorFault() == smithy.FaultServer
	}
	return true
}

// deadline is when the caller's request must be answered: its context's deadline, or
// RequestBudget from now.
func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(RequestBudget)
}

// settleBy is when settling a write whose outcome is unknown (the fence, its read-backs)
// must end: lead.SettleBy, the function's deadline less the time it needs to answer, which
// the HTTP functions' observer sets; without it, the request's deadline plus SettleTimeout
// less answerMargin.
func settleBy(ctx context.Context) time.Time {
	if t, ok := lead.SettleBy(ctx); ok {
		return t
	}
	return deadline(ctx).Add(SettleTimeout - answerMargin)
}

// detached is ctx without its cancellation but with its deadline (or RequestBudget): a
// write that has begun is not abandoned because the client went away.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadline(context.WithoutCancel(ctx), deadline(ctx))
}

// pause waits a jittered, growing delay before the next attempt: a random time up to
// 25 ms·2^attempt (capped at 1 s). It reports false, without waiting, when the attempt
// would start inside the settle reserve of the deadline.
func pause(ctx context.Context, attempt int) bool {
	return backoff(ctx, min(25*time.Millisecond<<min(attempt, 6), time.Second), deadline(ctx).Add(-settleReserve))
}

// backoff waits a random time up to ceiling and reports true, or reports false without
// waiting when the wait would end after last, and early when ctx ends.
func backoff(ctx context.Context, ceiling time.Duration, last time.Time) bool {
	d := time.Duration(rand.Int64N(int64(ceiling)) + 1)
	if time.Until(last) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// unavailable is the error of a call DynamoDB kept refusing until the deadline: the 503.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, lead.Unavailable(), err)
}

// retrying is the DB every Store calls through: calls DynamoDB refused without applying them
// (transient) are tried again with jittered backoff until the request's deadline, then
// answered with the 503 error; a read that got no answer or a server fault is tried again too,
// a few times. Writes run on a context detached from the caller's
// cancellation, so a client that goes away does not cut a write short.
type retrying struct{ db DB }

func retry[O any](ctx context.Context, op string, write bool, call func(context.Context) (O, error)) (O, error) {
	if write {
		var cancel context.CancelFunc
		ctx, cancel = detached(ctx)
		defer cancel()
	}
	for attempt := 1; ; attempt++ {
		out, err := call(ctx)
		if err == nil {
			return out, nil
		}
		// A read is safe to repeat whatever happened to it; a write only when DynamoDB
		// said it applied nothing (the entry write settles the rest itself).
		again := transient(err) || !write && ambiguous(err) && attempt < maxSettleAttempts
		if !again {
			return out, err
		}
		if !pause(ctx, attempt) {
			if transient(err) {
				return out, unavailable(op, err)
			}
			return out, fmt.Errorf("%s: %w", op, err)
		}
	}
}

func (r retrying) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return retry(ctx, "GetItem", false, func(ctx context.Context) (*dynamodb.GetItemOutput, error) { return r.db.GetItem(ctx, in, optFns...) })
}

func (r retrying) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return retry(ctx, "BatchGetItem", false, func(ctx context.Context) (*dynamodb.BatchGetItemOutput, error) {
		return r.db.BatchGetItem(ctx, in, optFns...)
	})
}

func (r retrying) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return retry(ctx, "Query", false, func(ctx context.Context) (*dynamodb.QueryOutput, error) { return r.db.Query(ctx, in, optFns...) })
}

func (r retrying) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return retry(ctx, "PutItem", true, func(ctx context.Context) (*dynamodb.PutItemOutput, error) { return r.db.PutItem(ctx, in, optFns...) })
}

func (r retrying) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return retry(ctx, "UpdateItem", true, func(ctx context.Context) (*dynamodb.UpdateItemOutput, error) {
		return r.db.UpdateItem(ctx, in, optFns...)
	})
}

func (r retrying) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return retry(ctx, "DeleteItem", true, func(ctx context.Context) (*dynamodb.DeleteItemOutput, error) {
		return r.db.DeleteItem(ctx, in, optFns...)
	})
}

func (r retrying) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return retry(ctx, "TransactWriteItems", true, func(ctx context.Context) (*dynamodb.TransactWriteItemsOutput, error) {
		return r.db.TransactWriteItems(ctx, in, optFns...)
	})
}
