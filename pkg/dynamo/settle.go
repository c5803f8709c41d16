package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

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

// errNoTimeToWrite is why a write was not started: too little of the request's time is left
// to write and settle it.
var errNoTimeToWrite = errors.New("too close to the request's deadline to start a write")

// settleWrite runs write, one write of the item at key, until its outcome is known, on a
// context detached from the caller's cancellation (a write that has begun is not abandoned).
// When an attempt may have been applied without its answer reaching us (no answer, a server
// fault, or a failed condition after such an attempt), the item is read back with a
// consistent read and applied says whether it holds the write: then the write succeeded and
// settleWrite returns the item as read (nil for a deleted one) with a nil error. A write not
// applied is tried again (its condition recognises its own earlier attempt) until the
// deadline, maxSettleAttempts times at most; a failure is therefore a write that changed
// nothing. It returns (nil, nil) when write itself succeeded, and write's error when its
// refusal was not the doing of an earlier attempt. Inside the settle reserve of the deadline
// it starts no write: the 503 error, nothing written.
func (s *Store) settleWrite(ctx context.Context, key map[string]types.AttributeValue,
	write func(context.Context, ...func(*dynamodb.Options)) error, applied func(item map[string]types.AttributeValue) bool,
) (map[string]types.AttributeValue, error) {
	wctx, cancel := detached(ctx)
	defer cancel()
	maybe := false
	for attempt := 1; ; attempt++ {
		if attempt == 1 && time.Until(deadline(wctx)) < settleReserve {
			// A write cut by the deadline may still be applied, and its read-back might not
			// fit before the answer is due: none is started that close to the deadline.
			return nil, fmt.Errorf("%w: %w", lead.Unavailable(), errNoTimeToWrite)
		}
		var rec unanswered
		err := write(wctx, rec.option)
		if err == nil {
			return nil, nil
		}
		maybe = maybe || rec.seen.Load() || ambiguous(err)
		if !maybe {
			return nil, err
		}
		item, rerr := s.readBack(ctx, key)
		if rerr == nil && applied(item) {
			return item, nil
		}
		if rerr != nil {
			return nil, fmt.Errorf("write may have been applied and %w: %w", rerr, err)
		}
		if !ambiguous(err) {
			// Refused, and the item does not hold an earlier attempt's write: a real refusal.
			return nil, err
		}
		if attempt == maxSettleAttempts {
			return nil, fmt.Errorf("write got no answer %d times and is not applied: %w", attempt, err)
		}
		if !pause(wctx, attempt) {
			return nil, unavailable(fmt.Sprintf("write got no answer %d times and is not applied", attempt), err)
		}
	}
}

// readBack reads the item at key with a consistent read on a context of its own (at most
// SettleTimeout, and not past the function's lead.SettleBy), detached from the caller's:
// nil when there is none. Only the attributes named in project are read when there are any.
func (s *Store) readBack(ctx context.Context, key map[string]types.AttributeValue, project ...string) (map[string]types.AttributeValue, error) {
	end := time.Now().Add(SettleTimeout)
	if t, ok := lead.SettleBy(ctx); ok && t.Before(end) {
		end = t
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), end)
	defer cancel()
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

// deleteItem deletes the item at key on condition that it exists, lead.ErrNotFound when it
// does not. A delete whose answer was lost is settled by reading the item back: gone is a
// success, even when the retry that followed found nothing to delete (it was this delete's
// own doing; an item that vanished otherwise meanwhile is gone all the same).
func (s *Store) deleteItem(ctx context.Context, key map[string]types.AttributeValue) error {
	_, err := s.settleWrite(ctx, key, func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
		_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:           &s.table,
			Key:                 key,
			ConditionExpression: aws.String("attribute_exists(pk)"),
		}, optFns...)
		return err
	}, func(item map[string]types.AttributeValue) bool { return item == nil })
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return lead.ErrNotFound
	}
	return err
}
