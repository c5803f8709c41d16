package dynamo

// Durable writes: the one home of what makes a failure answered by the store true. Calls
// DynamoDB refuses for now are retried within the request's budget; a write whose outcome
// is unknown is settled by reading its item back; a write the store gives up on is fenced
// (the next version of a mutable item, a tombstone for a create, a fence item at a new
// item's key) before its failure is answered; and a write that could not be settled is
// said as such (unsettledError: 500 "Outcome unknown"), never as "nothing stored".

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

// ---- The budget: every bound below derives from lead.RequestBudget and its settle time.

// SettleTimeout bounds each consistent read that settles a failed write; it may run past
// the request's deadline (a write cut by it), up to settleBy.
const SettleTimeout = time.Second

// settleReserve is the part of the request's deadline kept for the read-back and the
// answer: no new attempt of a write starts inside it.
const settleReserve = 1500 * time.Millisecond

// maxSettleAttempts bounds the tries of a write that gets no answer: a fault that persists
// (DynamoDB answering 500) is answered, after the fence, as a 500 that stored nothing.
const maxSettleAttempts = 3

// deadline is when the caller's request must be answered: its context's deadline, or
// lead.RequestBudget from now.
func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(lead.RequestBudget)
}

// settleBy is when settling a write whose outcome is unknown (the fence, its read-backs)
// must end: lead.SettleBy, the function's deadline less its answer margin, which the HTTP
// functions' observer sets; without it, as the observer would set it for a request whose
// deadline is the context's (lead.SettleBudget after a start lead.RequestBudget before).
func settleBy(ctx context.Context) time.Time {
	if t, ok := lead.SettleBy(ctx); ok {
		return t
	}
	return deadline(ctx).Add(lead.SettleBudget - lead.RequestBudget)
}

// detached is ctx without its cancellation but with its deadline (or lead.RequestBudget): a
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

// fencePause waits a short jittered delay before the next try of a fence (a random time up
// to 10 ms·2^attempt: at most 80 ms for the first three, so that many tries fit in the
// first second, then at most 320 ms), and reports false without waiting when it would end
// past ctx's deadline (the settle time).
func fencePause(ctx context.Context, attempt int) bool {
	return backoff(ctx, 10*time.Millisecond<<min(attempt, 5), deadline(ctx))
}

// raceAgain waits a short jittered delay before a read-modify-write of one item starts over
// because another change overtook it between its read and its write (a random time up to
// 5 ms·2^race, at most 160 ms), and reports false, without waiting, when the next try would
// start inside the settle reserve of the request's deadline: then the caller answers 503.
func raceAgain(ctx context.Context, race int) bool {
	return backoff(ctx, 5*time.Millisecond<<min(race, 5), deadline(ctx).Add(-settleReserve))
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

// oneAttempt turns the SDK's retries off for one call.
func oneAttempt(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }

// ---- What DynamoDB's answer says of a write.

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

// refusedByCondition reports whether DynamoDB refused the write because a condition failed:
// an answer about the data, not about DynamoDB.
func refusedByCondition(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return true
			}
		}
	}
	return false
}

// unavailable is the error of a call DynamoDB kept refusing until the deadline: the 503.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, lead.Unavailable(), err)
}

// ---- Retry: the DB every Store calls through.

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
		// said it applied nothing (settle settles the rest).
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

// ---- Settlement.

// unanswered records whether an attempt of one call (the SDK retries inside a call) got no
// answer or a server fault: an attempt whose write DynamoDB may have applied, so that a
// later attempt's failed condition may be that write's own doing.
type unanswered struct{ seen atomic.Bool }

// option is the per-call client option that records the call's attempts.
func (u *unanswered) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		record := middleware.FinalizeMiddlewareFunc("RecordUnanswered",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleFinalize(ctx, in)
				if ambiguous(err) {
					u.seen.Store(true)
				}
				return out, md, err
			})
		// Inside the retry loop, each attempt passes here once.
		if err := stack.Finalize.Insert(record, "Retry", middleware.After); err != nil {
			return stack.Finalize.Add(record, middleware.After)
		}
		return nil
	})
}

// writeFunc is one write's call: it must pass optFns to its call (they record the attempts
// that got no answer).
type writeFunc = func(ctx context.Context, optFns ...func(*dynamodb.Options)) error

// The outcomes an item read back tells of a write.
type outcome int

const (
	pending   outcome = iota // not applied yet, and it may still land
	applied                  // applied, by this write or an attempt of it whose answer was lost
	overtaken                // not applied, and it never will be: the key holds something else
)

// durable describes one write for its settlement: the key of its item, the write, what
// the item read back tells of it (outcome; the read is projected to project when given) and
// the fence, the write that makes the write's condition fail for ever. The fence is one
// attempt of a single-item write whose condition is the write's own (the key is free, the
// item is at the version read): once it holds, the write can never land.
type durable struct {
	key     map[string]types.AttributeValue
	write   writeFunc
	outcome func(item map[string]types.AttributeValue) outcome
	project []string
	fence   func(ctx context.Context) error
}

// errNoTimeToWrite is why a write was not started: too little of the settle time is left
// to write and settle it.
var errNoTimeToWrite = errors.New("too close to the settle time to start a write")

// errOvertaken is the error of a write that was not applied because the item changed since
// it was read (or its key was fenced): its condition can never hold again. A caller of a
// versioned write reads the item again (and may write again on the new version).
var errOvertaken = errors.New("the item changed since it was read")

// errFenced is the error of a write the store gave up on and fenced: nothing was or will
// be stored.
var errFenced = errors.New("the write was fenced: nothing was or will be stored")

// decided wraps a refused write whose answer already says it was not applied: settle
// returns it without reading the item back, and the caller unwraps it.
type decided struct{ err error }

func (d decided) Error() string { return d.err.Error() }
func (d decided) Unwrap() error { return d.err }

// unsettledError is the failure of a write the store could not settle: neither the fence
// nor a read of the key got an answer in the settle time, so the write may yet land. It
// unwraps to lead.UnsettledWrite (500 "Outcome unknown", counted in UnsettledWrites), never
// to its cause: a cause's refusal or 503 would say "nothing stored". An entry's caller puts
// lead.Unsettled naming the entry in front.
type unsettledError struct{ err error }

func (u *unsettledError) Error() string { return u.err.Error() }
func (u *unsettledError) Unwrap() error { return lead.UnsettledWrite() }

// isUnsettled reports whether err is an unsettledError.
func isUnsettled(err error) bool { return errors.As(err, new(*unsettledError)) }

// fenced is the failure of a write fenced after cause. A failed condition in cause is no
// answer about the data (the write's own earlier attempt or the fence may have made it) and
// is told in text only; any other cause (a 503) stays visible.
func fenced(cause error) error {
	if refusedByCondition(cause) {
		return fmt.Errorf("%w (%v)", errFenced, cause)
	}
	return fmt.Errorf("%w: %w", errFenced, cause)
}

// settle runs w's write on a context detached from the caller's cancellation until its
// outcome is known, so that a failure means the write was not and will never be applied,
// or is an *unsettledError. It returns the item as read back when a read-back settled the
// write as applied (nil when the write simply succeeded), and:
//   - the write's error when DynamoDB refused every attempt outright (nothing applied,
//     nothing on its way), or refused it by a condition while the item read back is as
//     before (a real refusal, the caller's answer: it may write again), or a decided error;
//   - after an attempt that may have been applied (no answer, a server fault, or one the
//     SDK retried after such an attempt), the key is read back with a consistent read:
//     applied is a success, overtaken a failure wrapping errOvertaken, pending tries the
//     same write again (its attempts apply at most once) up to maxSettleAttempts and the
//     settle reserve of the deadline;
//   - when the store gives up after such an attempt, the write is fenced (fence) before
//     its failure is answered.
//
// With less than SettleTimeout of the settle time left it starts no write: the 503, nothing
// written.
func (s *Store) settle(ctx context.Context, w durable) (map[string]types.AttributeValue, error) {
	wctx, cancel := detached(ctx)
	defer cancel()
	if time.Until(settleBy(ctx)) < SettleTimeout {
		// A write cut by the deadline may still be applied, and its settlement (a read-back,
		// a fence) might not fit before the answer is due: none is started with less than
		// one read-back's time left of the settle time.
		return nil, fmt.Errorf("%w: %w", lead.Unavailable(), errNoTimeToWrite)
	}
	var rec unanswered
	for attempt := 1; ; attempt++ {
		err := w.write(wctx, rec.option)
		if err == nil || errors.As(err, new(decided)) {
			return nil, err
		}
		if !rec.seen.Load() {
			// Every attempt sent was answered, and refused: nothing applied, nothing on its
			// way. A call cut by the deadline between attempts (in the SDK's backoff after a
			// throttle) stored nothing either: DynamoDB kept refusing until the deadline.
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, unavailable("write refused until the deadline", err)
			}
			return nil, err
		}
		if item, done, err := s.settleAttempt(ctx, w, attempt, err); done {
			return item, err
		}
		if !pause(wctx, attempt) {
			// Out of time: the write kept failing or hanging, and it is not applied yet.
			return s.fence(ctx, w, unavailable(fmt.Sprintf("write got no answer %d times", attempt), err))
		}
	}
}

// settleAttempt settles a failed attempt of w after an attempt that may have been applied:
// done reports that item and err are settle's answer; otherwise the write is tried again.
func (s *Store) settleAttempt(ctx context.Context, w durable, attempt int, err error) (item map[string]types.AttributeValue, done bool, _ error) {
	switch {
	case !ambiguous(err) && !refusedByCondition(err):
		// DynamoDB kept refusing (or refused the request) after an attempt that may still
		// land: the fence decides, and finds an earlier attempt's commit.
		item, err := s.fence(ctx, w, err)
		return item, true, err
	case ambiguous(err) && attempt == maxSettleAttempts:
		// The fence replaces the last read-back: it finds an applied write as well.
		item, err := s.fence(ctx, w, fmt.Errorf("write got no answer %d times: %w", attempt, err))
		return item, true, err
	}
	item, rerr := s.readBack(ctx, w.key, w.project...)
	if rerr != nil {
		if refusedByCondition(err) {
			// Refused, maybe by an earlier attempt's commit, and the key could not be read:
			// the fence tells, or makes sure nothing lands.
			item, err := s.fence(ctx, w, err)
			return item, true, err
		}
		return nil, false, nil
	}
	switch w.outcome(item) {
	case applied:
		return item, true, nil
	case overtaken:
		return nil, true, fmt.Errorf("%w (the write was refused: %v)", errOvertaken, err)
	}
	if refusedByCondition(err) {
		// Refused, and the item is still as before: a real refusal, and final (an earlier
		// attempt still on its way meets the same item, or a newer one).
		return nil, true, err
	}
	return nil, false, nil
}

// fence settles a write the store gives up on, before its failure cause is answered: w's
// fence is written, on the write's own condition, so that a write still on its way is
// refused when it lands, and the failure is true. A fence that failed is settled by the
// item at the key (ALL_OLD on a failed condition, or read back): the write applied after
// all is a success (the item); overtaken (an earlier try of the fence, a later change) a
// failure that changed nothing. The fence is tried with short
// jittered pauses until it settles or the settle time runs out (settleBy: the function's
// time less its answer margin), so that a slow machine or a brief outage settles instead of
// giving up. Only a fence that still cannot be settled is an *unsettledError: only then may
// a late write land behind the failure. Both are counted in the request's metrics.
func (s *Store) fence(ctx context.Context, w durable, cause error) (map[string]types.AttributeValue, error) {
	fctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), settleBy(ctx))
	defer cancel()
	calls := metrics.CallsFrom(ctx)
	var err error
	attempt := 1
	for ; ; attempt++ {
		// One attempt per call: this loop retries every failure with short pauses, where
		// the SDK's backoff after a throttle could spend the whole budget on one wait.
		err = w.fence(fctx)
		if err == nil {
			calls.Fence(true)
			return nil, fenced(cause)
		}
		// The item at the key settles a fence refused by its condition, and one whose answer
		// was lost (it may have been applied: the next try would be refused too).
		item, rerr := conditionItem(err), error(nil)
		if item == nil {
			item, rerr = s.consistentRead(fctx, w.key, w.project...)
		}
		if rerr == nil {
			switch w.outcome(item) {
			case applied:
				return item, nil
			case overtaken:
				calls.Fence(true)
				return nil, fenced(cause)
			}
		} else {
			err = rerr
		}
		if !fencePause(fctx, attempt) {
			break
		}
	}
	calls.Fence(false)
	return nil, &unsettledError{fmt.Errorf("%w (unsettled: the write could not be fenced in %d tries, so it may yet land: %v)", cause, attempt, err)}
}

// conditionItem is the item a single-item write refused by its condition handed back
// (ReturnValuesOnConditionCheckFailure ALL_OLD), or nil.
func conditionItem(err error) map[string]types.AttributeValue {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && len(ccf.Item) > 0 {
		return ccf.Item
	}
	return nil
}

// readBack reads the item at key with a consistent read on a context of its own (at most
// SettleTimeout, and not past settleBy), detached from the caller's: nil when there is
// none. Only the attributes named in project are read when there are any.
func (s *Store) readBack(ctx context.Context, key map[string]types.AttributeValue, project ...string) (map[string]types.AttributeValue, error) {
	end := time.Now().Add(SettleTimeout)
	if t := settleBy(ctx); t.Before(end) {
		end = t
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), end)
	defer cancel()
	return s.consistentRead(ctx, key, project...)
}

// consistentRead is readBack on ctx as it is.
func (s *Store) consistentRead(ctx context.Context, key map[string]types.AttributeValue, project ...string) (map[string]types.AttributeValue, error) {
	in := &dynamodb.GetItemInput{TableName: &s.table, Key: key, ConsistentRead: aws.Bool(true)}
	if len(project) > 0 {
		in.ExpressionAttributeNames = make(map[string]string, len(project))
		refs := make([]string, len(project))
		for i, name := range project {
			refs[i] = fmt.Sprintf("#p%d", i)
			in.ExpressionAttributeNames[refs[i]] = name
		}
		in.ProjectionExpression = aws.String(strings.Join(refs, ", "))
	}
	out, err := s.db.GetItem(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("read the item back: %w", err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

// ---- New items: an entry, a kept rejected request.

// newItem is the durable write of item, a new immutable item at a key no other write uses,
// whose every attempt is conditional on the key being free: the item read back is applied,
// a fence there overtaken, nothing pending. Its fence is a fence item (FenceType, under 200
// bytes, expiring after FenceTTL) at exactly the key, on the same condition.
func (s *Store) newItem(item map[string]types.AttributeValue, write writeFunc) durable {
	key := map[string]types.AttributeValue{attrPK: item[attrPK], attrSK: item[attrSK]}
	return durable{
		key:     key,
		write:   write,
		outcome: newItemOutcome,
		project: []string{attrPK, TypeAttribute},
		fence: func(ctx context.Context) error {
			_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:                           &s.table,
				Item:                                fenceItem(key[attrPK], key[attrSK], time.Now()),
				ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}, oneAttempt)
			return err
		},
	}
}

// newItemOutcome is what the item at a new item's key tells of its write.
func newItemOutcome(item map[string]types.AttributeValue) outcome {
	switch {
	case len(item) == 0:
		return pending
	case IsFence(item):
		return overtaken
	}
	return applied
}

// ---- Versioned items: webhooks, pools, lead states, custom fields, rejected requests.

// versioned describes one write of a mutable item: the item's key, the attribute that
// counts its versions (attrVersion; a pool's schema has attrSchemaVersion), the version the
// write is conditional on (0: the item has none yet), whether the write creates the item
// (on condition that the key is free) and holds, which says whether an item read back
// holds the write's content. Every write of a mutable item sets version from+1 on condition
// that the item is still at from, so an item read back settles the write:
//   - at from+1 with the write's content: applied (by this write, or by an attempt of it
//     whose answer was lost: all its attempts carry the same condition and content);
//   - still at from (absent, for a create): not applied yet, and it may still land;
//   - at any other version, or a tombstone: not applied, and it never will be, since
//     versions only grow.
type versioned struct {
	key    map[string]types.AttributeValue
	attr   string
	from   int64
	create bool
	holds  func(item map[string]types.AttributeValue) bool
}

func (v versioned) outcome(item map[string]types.AttributeValue) outcome {
	attr := v.attr
	if attr == "" {
		attr = attrVersion
	}
	ver := versionOf(item, attr)
	switch {
	case len(item) > 0 && ver == v.from+1 && v.holds(item):
		return applied
	case v.create && len(item) == 0, !v.create && len(item) > 0 && !IsTombstone(item) && ver == v.from:
		return pending
	}
	return overtaken
}

// versionedWrite is the durable write of v: its fence is, for a create, a tombstone at the
// key (the key is free); otherwise the next version and nothing else (the item is still at
// from). Once the fence holds, the write's condition can never hold again.
func (s *Store) versionedWrite(v versioned, write writeFunc) durable {
	return durable{key: v.key, write: write, outcome: v.outcome, fence: func(ctx context.Context) error {
		if v.create {
			_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:                           &s.table,
				Item:                                tombstoneItem(v.key, 0, time.Now()),
				ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}, oneAttempt)
			return err
		}
		cond, names, values := versionCond(v.attr, v.from)
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           &s.table,
			Key:                                 v.key,
			UpdateExpression:                    aws.String("SET " + versionSet),
			ConditionExpression:                 aws.String(cond),
			ExpressionAttributeNames:            names,
			ExpressionAttributeValues:           values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}, oneAttempt)
		return err
	}}
}

// versionCond is the condition that the item exists at version from (of attr), and the
// names and values it and versionSet use.
func versionCond(attr string, from int64) (string, map[string]string, map[string]types.AttributeValue) {
	names := map[string]string{"#vv": attr}
	values := map[string]types.AttributeValue{":vnext": number(from + 1)}
	if from == 0 {
		return "attribute_exists(pk) AND attribute_not_exists(#vv)", names, values
	}
	values[":vfrom"] = number(from)
	return "#vv = :vfrom", names, values
}

// versionSet is the update action that writes the next version.
const versionSet = "#vv = :vnext"

// withVersion adds the version condition on from and the next version's SET to an update
// of a mutable item: its update expression must start with SET, and its names and values
// must not use #vv, :vfrom or :vnext.
func withVersion(update, cond *string, names map[string]string, values map[string]types.AttributeValue, from int64) {
	vc, vn, vv := versionCond(attrVersion, from)
	maps.Copy(names, vn)
	maps.Copy(values, vv)
	*update = aws.ToString(update) + ", " + versionSet
	if c := aws.ToString(cond); c != "" {
		vc = "(" + c + ") AND " + vc
	}
	*cond = vc
}

// current reads the item at key (strongly consistent) and its version: nil when there is
// none or it is a tombstone.
func (s *Store) current(ctx context.Context, key map[string]types.AttributeValue) (map[string]types.AttributeValue, int64, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, 0, err
	}
	if gone(out.Item) {
		return nil, 0, nil
	}
	v := versionOf(out.Item, attrVersion)
	if v < 0 {
		return nil, 0, fmt.Errorf("attribute %s: not a whole number", attrVersion)
	}
	return out.Item, v, nil
}

// changeFunc builds the write of one change of an item as read at version from, and holds,
// which says whether an item read back holds the change's content.
type changeFunc func(item map[string]types.AttributeValue, from int64) (writeFunc, func(map[string]types.AttributeValue) bool, error)

// changeItem applies one change to the item at key, on the version it reads: change builds
// the write for the item as read at version from, and a write overtaken by another change
// between the read and the write starts over on the new version (raceAgain), so concurrent
// changes serialise on the item and the last committed one wins. An absent item (or a
// tombstone) is lead.ErrNotFound. It returns the item as written when the settlement read
// it back, else nil.
func (s *Store) changeItem(ctx context.Context, key map[string]types.AttributeValue, change changeFunc) (map[string]types.AttributeValue, error) {
	for race := 1; ; race++ {
		item, from, err := s.current(ctx, key)
		if err != nil {
			return nil, err
		}
		if item == nil {
			return nil, lead.ErrNotFound
		}
		write, holds, err := change(item, from)
		if err != nil {
			return nil, err
		}
		stored, err := s.settle(ctx, s.versionedWrite(versioned{key: key, attr: attrVersion, from: from, holds: holds}, write))
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) && !errors.Is(err, errOvertaken) {
			return stored, err
		}
		if !raceAgain(ctx, race) {
			return nil, unavailable(fmt.Sprintf("the item changed %d times while it was being written", race), err)
		}
	}
}

// deleteItem replaces the item at key by its tombstone (tombstoneItem), on condition that
// it is still at the version read: lead.ErrNotFound when there is none. A delete whose
// answer was lost is settled by reading the key back: the tombstone of the next version is
// this delete's.
func (s *Store) deleteItem(ctx context.Context, key map[string]types.AttributeValue) error {
	_, err := s.changeItem(ctx, key, func(item map[string]types.AttributeValue, from int64) (writeFunc, func(map[string]types.AttributeValue) bool, error) {
		cond, names, values := versionCond(attrVersion, from)
		delete(values, ":vnext")
		tomb := tombstoneItem(key, from, time.Now())
		if _, listed := item[attrGSI1PK]; listed {
			// Out of the organization's listing: into a gsi1 partition of its own. DynamoDB
			// would drop the item from the index when the keys are simply left out, but the
			// embedded engine (minidyn v0.8.2) keeps a replaced item's stale index entry,
			// with no key, and then fails every query of the index.
			pk := key[attrPK].(*types.AttributeValueMemberS).Value
			tomb[attrGSI1PK], tomb[attrGSI1SK] = str(DeletedType+"#"+pk), str(DeletedType)
		}
		return func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
			_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:                 &s.table,
				Item:                      tomb,
				ConditionExpression:       aws.String(cond),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: nilIfEmpty(values),
			}, optFns...)
			return err
		}, IsTombstone, nil
	})
	return err
}

// nilIfEmpty is values, or nil when it has none: DynamoDB refuses an empty map of values.
func nilIfEmpty(values map[string]types.AttributeValue) map[string]types.AttributeValue {
	if len(values) == 0 {
		return nil
	}
	return values
}

// createItem puts a new item of a mutable kind at version 1, on condition that its key is
// free (no item, no tombstone): ErrExists otherwise. A create whose answer was lost is
// settled by reading the key back (holds says whether the item there is this one).
func (s *Store) createItem(ctx context.Context, item map[string]types.AttributeValue, holds func(map[string]types.AttributeValue) bool) error {
	item[attrVersion] = number(1)
	key := map[string]types.AttributeValue{attrPK: item[attrPK], attrSK: item[attrSK]}
	_, err := s.settle(ctx, s.versionedWrite(versioned{key: key, attr: attrVersion, create: true, holds: holds},
		func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
			_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:           &s.table,
				Item:                item,
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			}, optFns...)
			return err
		}))
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) || errors.Is(err, errOvertaken) {
		return ErrExists
	}
	return err
}

// ---- The items of settlement: versions, tombstones and fences.

// FenceType is the type of a fence: the tiny item the store writes at a new item's key (an
// entry's, a kept rejected request's) when it gives up on the item's write, so that a write
// still on its way can never commit after the failure was answered. A fence is never an
// entry: no event, no listing.
const FenceType = "fence"

// DeletedType is the type of a tombstone: what a delete of a mutable item (webhook, lead
// state, custom field, rejected request) leaves at the item's key instead of removing it.
// Every read treats a tombstone as not found, and a create's condition (the key is free)
// refuses it, so a create that arrives late can never bring a deleted item back.
const DeletedType = "deleted"

// TombstoneTTL is how long a tombstone keeps its key before DynamoDB's TTL deletes it: far
// longer than a write can stay on its way (see FenceTTL).
const TombstoneTTL = 24 * time.Hour

// FenceTTL is how long a fence keeps an entry key unusable before DynamoDB's TTL deletes it:
// far longer than a write can stay on its way (DynamoDB refuses a request signed more than
// 15 minutes before it arrives, and remembers a ClientRequestToken for 10).
const FenceTTL = 24 * time.Hour

// attrVersion counts the changes of a mutable item: a create writes 1, and every update
// and delete is conditional on the version it read and writes the next one. An item
// written before versions has none, which reads as 0.
const attrVersion = "version"

// tombstoneItem is the tombstone of the item at key whose version was from: the key, the
// type, the next version, when and until when. It has none of the item's other attributes
// (a webhook's delete adds index keys outside every organization's listing: deleteItem).
func tombstoneItem(key map[string]types.AttributeValue, from int64, now time.Time) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK:        key[attrPK],
		attrSK:        key[attrSK],
		TypeAttribute: str(DeletedType),
		attrVersion:   number(from + 1),
		"deletedAt":   str(lead.FormatTime(now)),
		TTLAttribute:  epoch(now.Add(TombstoneTTL)),
	}
}

// IsTombstone reports whether item is a tombstone.
func IsTombstone(item map[string]types.AttributeValue) bool {
	t, ok := item[TypeAttribute].(*types.AttributeValueMemberS)
	return ok && t.Value == DeletedType
}

// gone reports whether an item read is none: absent, or a tombstone.
func gone(item map[string]types.AttributeValue) bool { return len(item) == 0 || IsTombstone(item) }

// versionOf is the item's version (attr: attrVersion, or a pool's schema version), 0 when
// it has none; -1 when the attribute is not a whole number.
func versionOf(item map[string]types.AttributeValue, attr string) int64 {
	r := itemReader{item: item}
	v := r.optInt(attr)
	if r.err != nil {
		return -1
	}
	return v
}

// fenceItem is the fence of a new item's key: the key, the type, when and until when.
// Under 200 bytes.
func fenceItem(pk, sk types.AttributeValue, now time.Time) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK:        pk,
		attrSK:        sk,
		TypeAttribute: str(FenceType),
		"fencedAt":    str(lead.FormatTime(now)),
		TTLAttribute:  epoch(now.Add(FenceTTL)),
	}
}

// IsFence reports whether item, a table item or a stream record's image, is a fence.
func IsFence(item map[string]types.AttributeValue) bool {
	t, ok := item[TypeAttribute].(*types.AttributeValueMemberS)
	return ok && t.Value == FenceType
}
