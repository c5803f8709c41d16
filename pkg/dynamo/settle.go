package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
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

// errOvertaken is the error of a write that was not applied because the item changed since
// it was read: its condition (the version read) can never hold again. The caller reads the
// item again (and may write again on the new version).
var errOvertaken = errors.New("the item changed since it was read")

// versioned describes one write of a mutable item for its settlement: the item's key, the
// attribute that counts its versions (attrVersion; a pool's schema has attrSchemaVersion),
// the version the write is conditional on (0: the item has none yet), whether the write
// creates the item (on condition that the key is free) and holds, which says whether an item
// read back holds the write's content. Every write of a mutable item sets version from+1 on
// condition that the item is still at from, so an item read back settles the write:
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

// The outcomes an item read back tells of a versioned write.
type outcome int

const (
	pending outcome = iota
	applied
	overtaken
)

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

// settleWrite runs write, one versioned write v, until its outcome is known, on a context
// detached from the caller's cancellation (a write that has begun is not abandoned). When an
// attempt may have been applied without its answer reaching us (no answer, a server fault,
// or a failed condition after such an attempt), the item is read back with a consistent
// read and v.outcome settles it: applied is a success (settleWrite returns the item as read,
// nil error), overtaken a failure wrapping errOvertaken, pending is tried again (the same
// request, so the same condition: its earlier attempts and it apply at most once) until
// the deadline, maxSettleAttempts times at most. Then the write is fenced (fenceWrite): a
// failure is therefore a write that changed nothing and never will. It returns (nil, nil)
// when write itself succeeded, and write's error when its refusal was not the doing of an
// earlier attempt. Inside the settle reserve of the deadline it starts no write: the 503
// error, nothing written.
func (s *Store) settleWrite(ctx context.Context, v versioned,
	write func(context.Context, ...func(*dynamodb.Options)) error,
) (map[string]types.AttributeValue, error) {
	wctx, cancel := detached(ctx)
	defer cancel()
	if time.Until(deadline(wctx)) < settleReserve {
		// A write cut by the deadline may still be applied, and its read-back might not
		// fit before the answer is due: none is started that close to the deadline.
		return nil, fmt.Errorf("%w: %w", lead.Unavailable(), errNoTimeToWrite)
	}
	maybe := false
	var cause error
	for attempt := 1; ; attempt++ {
		var rec unanswered
		err := write(wctx, rec.option)
		if err == nil {
			return nil, nil
		}
		maybe = maybe || rec.seen.Load() || ambiguous(err)
		if !maybe {
			return nil, err
		}
		cause = err
		item, rerr := s.readBack(ctx, v.key)
		if rerr == nil {
			switch v.outcome(item) {
			case applied:
				return item, nil
			case overtaken:
				return nil, fmt.Errorf("%w: %w", errOvertaken, err)
			}
			if refusedByCondition(err) {
				// Refused, and the item is still as read: a real refusal, and final (an
				// earlier attempt still on its way meets the same item, or a newer version).
				return nil, err
			}
		}
		if !ambiguous(err) {
			// Refused for now (DynamoDB kept throttling until the deadline) after an attempt
			// that may still land: the fence decides.
			cause = err
			break
		}
		if rerr != nil || attempt == maxSettleAttempts {
			cause = fmt.Errorf("write got no answer %d times and is not applied yet: %w", attempt, err)
			break
		}
		if !pause(wctx, attempt) {
			cause = unavailable(fmt.Sprintf("write got no answer %d times and is not applied yet", attempt), err)
			break
		}
	}
	return s.fenceWrite(ctx, v, cause)
}

// fenceWrite settles a versioned write the store gives up on, so that its failure is true:
// a write of it still on its way must never land after the failure is answered. The fence
// is a write conditional on what the given-up write is conditional on: for a create, a
// tombstone at the key (the key is free); otherwise the next version and nothing else (the
// item is still at from). Once the fence holds, the given-up write's condition can never
// hold again. The fence and read-backs of the item are tried until the request's deadline
// plus SettleTimeout less answerMargin (the function's timeout is beyond that), and the
// item read back settles everything: applied after all is a success (the item), anything
// else but pending a failure that changed nothing. Only when neither the fence nor a read
// gets through in that time is the failure unsettled, and the error says so.
func (s *Store) fenceWrite(ctx context.Context, v versioned, cause error) (map[string]types.AttributeValue, error) {
	fctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline(ctx).Add(SettleTimeout-answerMargin))
	defer cancel()
	var err error
	for attempt := 1; ; attempt++ {
		// One attempt per call, as the entry's fence: this loop retries with short pauses.
		if v.create {
			_, err = s.db.PutItem(fctx, &dynamodb.PutItemInput{
				TableName:           &s.table,
				Item:                tombstoneItem(v.key, 0, time.Now()),
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			}, oneAttempt)
		} else {
			cond, names, values := versionCond(v.attr, v.from)
			_, err = s.db.UpdateItem(fctx, &dynamodb.UpdateItemInput{
				TableName:                 &s.table,
				Key:                       v.key,
				UpdateExpression:          aws.String("SET " + versionSet),
				ConditionExpression:       aws.String(cond),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: values,
			}, oneAttempt)
		}
		if err == nil {
			return nil, fmt.Errorf("%w (fenced: the write was not applied and never will be)", cause)
		}
		item, rerr := s.consistentRead(fctx, v.key)
		if rerr == nil {
			switch v.outcome(item) {
			case applied:
				return item, nil
			case overtaken:
				return nil, fmt.Errorf("%w (fenced: the write was not applied and never will be)", cause)
			}
		} else {
			err = rerr
		}
		if !fencePause(fctx, attempt) {
			break
		}
	}
	return nil, fmt.Errorf("%w (unsettled: the write could not be fenced, so it may yet land: %v)", cause, err)
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

// raceAgain waits a short jittered delay before a read-modify-write of one item starts over
// because another change overtook it between its read and its write (a random time up to
// 5 ms·2^race, at most 160 ms), and reports false, without waiting, when the next try would
// start inside the settle reserve of the request's deadline: then the caller answers 503.
func raceAgain(ctx context.Context, race int) bool {
	return backoff(ctx, 5*time.Millisecond<<min(race, 5), deadline(ctx).Add(-settleReserve))
}

// changeItem applies one change to the item at key, on the version it reads: change builds
// the write for the item as read at version from (its content check, holds, goes into
// the settlement), and a write overtaken by another change between the read and the write
// starts over on the new version (raceAgain), so concurrent changes serialise on the item
// and the last committed one wins. An absent item (or a tombstone) is lead.ErrNotFound. It
// returns the item as written when the settlement read it back, else nil.
func (s *Store) changeItem(ctx context.Context, key map[string]types.AttributeValue,
	change func(item map[string]types.AttributeValue, from int64) (func(context.Context, ...func(*dynamodb.Options)) error, func(map[string]types.AttributeValue) bool, error),
) (map[string]types.AttributeValue, error) {
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
		stored, err := s.settleWrite(ctx, versioned{key: key, attr: attrVersion, from: from, holds: holds}, write)
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
	_, err := s.changeItem(ctx, key, func(item map[string]types.AttributeValue, from int64) (func(context.Context, ...func(*dynamodb.Options)) error, func(map[string]types.AttributeValue) bool, error) {
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
	_, err := s.settleWrite(ctx, versioned{key: key, attr: attrVersion, create: true, holds: holds},
		func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
			_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:           &s.table,
				Item:                item,
				ConditionExpression: aws.String("attribute_not_exists(pk)"),
			}, optFns...)
			return err
		})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) || errors.Is(err, errOvertaken) {
		return ErrExists
	}
	return err
}
