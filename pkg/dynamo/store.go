package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/metrics"
)

// DB is the part of the DynamoDB API the store calls; *dynamodb.Client implements it, and
// fault-injection tests wrap it.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store reads and writes the project's items in one DynamoDB table.
type Store struct {
	db            DB
	table         string
	maxItemBytes  int
	maxSchemaKeys int
	// sealer seals and opens the secrets of webhook items (form.go); nil: none.
	sealer Sealer
}

// New returns a Store on the named table.
func New(db DB, table string) *Store {
	lim := lead.DefaultLimits()
	return &Store{db: retrying{db}, table: table, maxItemBytes: lim.MaxItemBytes, maxSchemaKeys: lim.MaxSchemaKeys}
}

// Webhook reads a webhook with a strongly consistent read, so a rotation bites at once.
func (s *Store) Webhook(ctx context.Context, id string) (*lead.Webhook, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            webhookKey(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get webhook %s: %w", id, err)
	}
	if gone(out.Item) {
		return nil, nil
	}
	w, err := webhookFromItem(out.Item)
	if err == nil {
		err = s.openCaptcha(w, out.Item)
	}
	if err != nil {
		return nil, fmt.Errorf("read webhook %s: %w", id, err)
	}
	return w, nil
}

// batchGetMax is BatchGetItem's limit of keys per call.
const batchGetMax = 100

// Pool reads the pool item and the requested custom fields in one BatchGetItem (more only
// past 100 keys or when DynamoDB leaves keys unprocessed).
func (s *Store) PoolWithFields(ctx context.Context, poolID, orgID string, fieldIDs []string) (*lead.Pool, map[string]lead.CustomField, error) {
	keys := make([]map[string]types.AttributeValue, 0, 1+len(fieldIDs))
	keys = append(keys, poolKey(poolID))
	for _, id := range fieldIDs {
		keys = append(keys, customFieldKey(orgID, id))
	}
	var pool *lead.Pool
	fields := map[string]lead.CustomField{}
	for len(keys) > 0 {
		n := min(len(keys), batchGetMax)
		batch := keys[:n]
		keys = keys[n:]
		for attempt := 0; len(batch) > 0; attempt++ {
			if attempt == 5 {
				return nil, nil, fmt.Errorf("read pool %s: keys still unprocessed after %d attempts", poolID, attempt)
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{
					s.table: {Keys: batch, ConsistentRead: aws.Bool(true)},
				},
			})
			if err != nil {
				return nil, nil, fmt.Errorf("read pool %s: %w", poolID, err)
			}
			for _, item := range out.Responses[s.table] {
				if IsTombstone(item) {
					continue
				}
				r := itemReader{item: item}
				switch sk := r.s(attrSK); {
				case r.err != nil:
					return nil, nil, fmt.Errorf("pool %s: %w", poolID, r.err)
				case sk == poolSK:
					p, err := poolFromItem(item)
					if err != nil {
						return nil, nil, err
					}
					if p.OrganizationID == orgID {
						pool = p
					}
				case strings.HasPrefix(sk, customFieldPrefix):
					f, err := customFieldFromItem(item)
					if err != nil {
						return nil, nil, fmt.Errorf("read custom fields of organization %s: %w", orgID, err)
					}
					fields[f.ID] = f
				}
			}
			batch = out.UnprocessedKeys[s.table].Keys
		}
	}
	return pool, fields, nil
}

// PutEntry writes the entry. When lock.New is not empty the schema lock commits with it in
// one TransactWriteItems, and so does the idempotency record when idem is not nil;
// otherwise a single conditional PutItem suffices.
func (s *Store) PutEntry(ctx context.Context, e *lead.Entry, lock lead.SchemaLock, idem *lead.IdempotencyRecord) error {
	return s.putEntry(ctx, e, lock, idem, nil)
}

// putEntry is PutEntry with one more transaction item, when also is not nil: its failed
// condition is lead.ErrRejectedGone.
func (s *Store) putEntry(ctx context.Context, e *lead.Entry, lock lead.SchemaLock, idem *lead.IdempotencyRecord, also *types.TransactWriteItem) error {
	newKeys := lock.New
	item, err := EntryItem(e)
	if err != nil {
		return err
	}
	if size := ItemSize(item); size > s.maxItemBytes {
		return lead.Errorf(lead.ETOOLARGE, "the entry would be %d bytes, above DynamoDB's item limit of %d KB", size, s.maxItemBytes/1024)
	}
	notExists := aws.String("attribute_not_exists(pk)")
	if len(newKeys) == 0 && idem == nil && also == nil {
		err := s.settle(ctx, item, func(ctx context.Context) error {
			_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:           &s.table,
				Item:                item,
				ConditionExpression: notExists,
			})
			return err
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			// The id is fixed before the first attempt: this is our own committed write.
			return nil
		}
		if err != nil {
			return fmt.Errorf("put entry: %w", err)
		}
		return nil
	}

	var items []types.TransactWriteItem
	schemaAt, idemAt := -1, -1
	if len(newKeys) > 0 {
		schemaAt = len(items)
		u, err := s.lockSchema(e.PoolID, lock)
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Update: u})
	}
	if idem != nil {
		idemAt = len(items)
		rec := idempotencyItem(idem) // fingerprint, entry id and expiry: a few hundred bytes
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:                 &s.table,
			Item:                      rec,
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR expiresAt < :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": epoch(idem.CreatedAt)},
			// A repeat learns the first request's record from the cancellation itself.
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}})
	}
	alsoAt := -1
	if also != nil {
		alsoAt = len(items)
		items = append(items, *also)
	}
	entryAt := len(items)
	items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: notExists}})

	in := &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String(requestToken(items)), TransactItems: items}
	err = s.settle(ctx, item, func(ctx context.Context) error {
		_, err := s.db.TransactWriteItems(ctx, in)
		if rec := takenRecord(err, idemAt); rec != nil {
			if v, ok := rec[attrEntryID].(*types.AttributeValueMemberS); ok && v.Value == e.ID {
				// The key's record names this very entry: an earlier attempt committed.
				return nil
			}
			// Another request's record: its entry is not ours, and ours is not stored (the
			// record and the entry commit together), so there is nothing to read back.
			return decided{err}
		}
		return err
	})
	var d decided
	if errors.As(err, &d) {
		err = d.err
	}
	if err == nil {
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && len(tce.CancellationReasons) == len(items) {
		failed := func(i int) bool {
			return i >= 0 && aws.ToString(tce.CancellationReasons[i].Code) == "ConditionalCheckFailed"
		}
		switch {
		case failed(entryAt):
			// Our entry is already there: an earlier attempt of this very write committed.
			return nil
		case failed(alsoAt):
			return lead.ErrRejectedGone
		case failed(idemAt):
			taken := &lead.IdempotencyKeyTakenError{}
			if old := tce.CancellationReasons[idemAt].Item; len(old) > 0 {
				if taken.Record, err = idempotencyFromItem(idem.WebhookID, idem.Key, old); err != nil {
					return fmt.Errorf("idempotency key of webhook %s taken: %w", idem.WebhookID, err)
				}
			}
			return taken
		case failed(schemaAt):
			return lead.ErrSchemaChanged
		}
	}
	return fmt.Errorf("lock schema and put entry: %w", err)
}

// settle runs write, the entry's write, on a context detached from the caller's
// cancellation, until its outcome is known, so that a failure always means nothing was or
// will be stored:
//   - a refusal by a condition may be an earlier attempt's own commit (one whose answer was
//     lost, retried by the SDK) failing this attempt's conditions: the entry's key is read
//     back, and an entry there is a success;
//   - a write that got no answer (timeout, lost response, server fault) is settled by
//     reading the entry back with a consistent read: stored is a success; not stored is
//     tried again (with the same content, so the same condition and request token);
//   - when the store gives up (the tries or the time are spent, DynamoDB kept refusing, or
//     refused the request), a write of an earlier try may still be on its way and commit
//     after a read said "not stored", so the entry's key is fenced before the failure is
//     answered (fence), and the fence's own failed condition tells a committed entry.
//
// A refusal by a condition (the schema changed, the idempotency key is taken) is the
// caller's answer and does not fence: the caller may write the same entry id again.
func (s *Store) settle(ctx context.Context, item map[string]types.AttributeValue, write func(context.Context) error) error {
	wctx, cancel := detached(ctx)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := write(wctx)
		if err == nil || errors.As(err, new(decided)) {
			return err
		}
		if !ambiguous(err) {
			if !refusedByCondition(err) {
				// DynamoDB kept refusing or refused the request: the fence also finds an
				// earlier try's commit.
				return s.fence(ctx, item, err)
			}
			switch held, rerr := s.held(ctx, item); {
			case rerr == nil && held == heldEntry:
				return nil
			case rerr == nil && held == heldFence:
				return decided{fmt.Errorf("%w (the write was refused: %v)", errFenced, err)}
			}
			return err
		}
		if attempt == maxSettleAttempts {
			// The fence replaces the last read-back: it finds a committed entry as well.
			return s.fence(ctx, item, fmt.Errorf("write got no answer %d times: %w", attempt, err))
		}
		if held, rerr := s.held(ctx, item); rerr == nil && held == heldEntry {
			return nil
		}
		if !pause(wctx, attempt) {
			// Out of time: the call kept failing or hanging, and nothing is stored yet.
			return s.fence(ctx, item, unavailable(fmt.Sprintf("write got no answer %d times", attempt), err))
		}
	}
}

// maxSettleAttempts bounds the tries of a write that gets no answer: a fault that persists
// (DynamoDB answering 500) is answered, after the fence, as a 500 that stored nothing.
const maxSettleAttempts = 3

// FenceTimeout bounds the fence, tries included. It stands in for the last read-back, and
// it ends answerMargin before the request's deadline plus SettleTimeout at the latest, so a
// request that gives up still answers within that.
const FenceTimeout = SettleTimeout

// answerMargin is the time kept after the fence to answer.
const answerMargin = 100 * time.Millisecond

// errFenced is the error of an entry write whose key holds a fence.
var errFenced = errors.New("the entry's key is fenced")

// fence makes the entry's key unusable after the store gave up on the entry's write, before
// the failure cause is answered: a fence item (FenceType, under 200 bytes, expiring after
// FenceTTL) is put at exactly the entry's key on condition that the key is free. Every
// write of the entry carries that condition too, so a write still on its way is refused
// when it lands, and cause is true: nothing was or will be stored. A failed condition
// returns the item at the key (ALL_OLD; read back where the engine does not return it): the
// entry means a try committed after all, a success; a fence means an earlier try of this
// fence was written. A fence that cannot be settled within FenceTimeout (no answer,
// throttled) leaves cause as it is, marked unsettled in the error and counted in the
// request's metrics: only then may a late write still commit behind the failure.
func (s *Store) fence(ctx context.Context, item map[string]types.AttributeValue, cause error) error {
	end := time.Now().Add(FenceTimeout)
	if last := deadline(ctx).Add(SettleTimeout - answerMargin); last.Before(end) {
		end = last
	}
	fctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), end)
	defer cancel()
	calls := metrics.CallsFrom(ctx)
	in := &dynamodb.PutItemInput{
		TableName:                           &s.table,
		Item:                                fenceItem(item[attrPK], item[attrSK], time.Now()),
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	var err error
	for attempt := 1; ; attempt++ {
		// One attempt per call: this loop retries every failure with short pauses, where
		// the SDK's backoff after a throttle could spend the whole budget on one wait.
		_, err = s.db.PutItem(fctx, in, oneAttempt)
		if err == nil {
			calls.Fence(true)
			return fmt.Errorf("%w (the entry's key is fenced: nothing was or will be stored)", cause)
		}
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			held, rerr := heldBy(ccf.Item), error(nil)
			if len(ccf.Item) == 0 {
				held, rerr = s.held(fctx, item)
			}
			switch {
			case rerr == nil && held == heldEntry:
				return nil
			case rerr == nil && held == heldFence:
				calls.Fence(true)
				return fmt.Errorf("%w (the entry's key is fenced: nothing was or will be stored)", cause)
			}
			if rerr != nil {
				err = rerr
			}
		}
		if !fencePause(fctx, attempt) {
			break
		}
	}
	calls.Fence(false)
	return fmt.Errorf("%w (unsettled: the entry's key could not be fenced, so a write still on its way may yet commit: %v)", cause, err)
}

// oneAttempt turns the SDK's retries off for one call.
func oneAttempt(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }

// fencePause waits a short jittered delay before the next try of a fence (a random time up
// to 10 ms·2^attempt, at most 80 ms, so that many tries fit in FenceTimeout), and reports
// false without waiting when it would end past ctx's deadline.
func fencePause(ctx context.Context, attempt int) bool {
	return backoff(ctx, 10*time.Millisecond<<min(attempt, 3), deadline(ctx))
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

// What an entry's key holds.
type holder int

const (
	heldNothing holder = iota
	heldEntry
	heldFence
)

func heldBy(item map[string]types.AttributeValue) holder {
	switch {
	case len(item) == 0:
		return heldNothing
	case IsFence(item):
		return heldFence
	}
	return heldEntry
}

// held reads the entry's key back (readBack, projected to what tells an entry from a fence)
// and reports what it holds.
func (s *Store) held(ctx context.Context, item map[string]types.AttributeValue) (holder, error) {
	got, err := s.readBack(ctx, map[string]types.AttributeValue{attrPK: item[attrPK], attrSK: item[attrSK]}, attrPK, TypeAttribute)
	if err != nil {
		return heldNothing, err
	}
	return heldBy(got), nil
}

// decided wraps a refused write whose answer already says the entry is not stored: settle
// returns it without reading the entry back.
type decided struct{ err error }

func (d decided) Error() string { return d.err.Error() }
func (d decided) Unwrap() error { return d.err }

// takenRecord returns the idempotency record that a cancelled transaction's failed condition
// on item idemAt handed back (ReturnValuesOnConditionCheckFailure ALL_OLD), or nil.
func takenRecord(err error, idemAt int) map[string]types.AttributeValue {
	var tce *types.TransactionCanceledException
	if idemAt < 0 || !errors.As(err, &tce) || len(tce.CancellationReasons) <= idemAt {
		return nil
	}
	r := tce.CancellationReasons[idemAt]
	if aws.ToString(r.Code) != "ConditionalCheckFailed" || len(r.Item) == 0 {
		return nil
	}
	return r.Item
}

// attrSchemaVersion counts the changes of a pool's schema. Every write of the schema adds
// one, so "the version I read" is "the schema I read", even though an administrator's
// unlock can make a schema shrink and grow back to the same size.
const attrSchemaVersion = "schemaVersion"

// schemaNames are the placeholders of the schema and its version. Every placeholder of a
// schema write has a fixed size: these two, #k<i> for the i-th new key and :t<i> for its
// type; a key's text travels only as a placeholder's value or as a map key in a value.
var schemaNames = map[string]string{"#s": "schema", "#v": attrSchemaVersion}

// lockSchema adds the new keys to the pool schema only if none of them is there yet, and
// counts one more schema version. Before anything is sent it checks that the write is
// within DynamoDB's limits (checkExpressions, and the pool item's size): a set of keys that
// cannot be locked in one write is a 400 (lead.EINVALID), never a request DynamoDB refuses.
//   - New keys onto a schema that has keys: each key is its own nested SET with
//     attribute_not_exists, so requests adding different keys do not conflict; the schema
//     must still exist and have room for them (size), so concurrent requests never push it
//     past the limit. This form is used only for up to maxKeysPerCondition keys, when its
//     expressions fit DynamoDB's limits and no key aliases one of its placeholders
//     (aliasesAPlaceholder).
//   - Otherwise (the first lock of a pool, or keys the per-key form does not fit) the
//     whole merged map is written as one value on condition that the schema version is
//     still the one read (absent for a pool whose schema never changed), so a pool never
//     holds an empty schema map and no concurrent change is overwritten. Its expressions
//     have a fixed size whatever the keys.
func (s *Store) lockSchema(poolID string, lock lead.SchemaLock) (*types.Update, error) {
	merged := make(map[string]types.AttributeValue, len(lock.Locked)+len(lock.New))
	for k, t := range lock.Locked {
		merged[k] = str(string(t))
	}
	for k, t := range lock.New {
		merged[k] = str(string(t))
	}
	if err := s.checkSchemaSize(merged); err != nil {
		return nil, err
	}
	if len(lock.Locked) > 0 {
		if u := s.lockKeys(poolID, lock); u != nil {
			return u, nil
		}
	}
	names := maps.Clone(schemaNames)
	values := map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}, ":m": &types.AttributeValueMemberM{Value: merged}}
	update, cond := "SET #s = :m ADD #v :one", "attribute_exists(pk) AND "+versionCondition(lock.Version, values)
	if err := checkExpressions([]string{update, cond}, names, values); err != nil {
		return nil, lead.Invalid(fmt.Sprintf("these %d new keys cannot be locked in one write: %v", len(lock.New), err),
			lead.Detail{Path: "data", Problem: "the keys cannot be locked in one write; send fewer new keys"})
	}
	return &types.Update{
		TableName:                 &s.table,
		Key:                       poolKey(poolID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}, nil
}

// maxKeysPerCondition bounds the keys of lockSchema's per-key form: 100 keys of any text
// make a condition of about 3.5 KB, within DynamoDB's 4 KB (checked all the same).
const maxKeysPerCondition = 100

// lockKeys is lockSchema's per-key form, or nil when the keys are more than
// maxKeysPerCondition, the form does not fit DynamoDB's limits or a key aliases one of its
// placeholders.
func (s *Store) lockKeys(poolID string, lock lead.SchemaLock) *types.Update {
	if len(lock.New) > maxKeysPerCondition {
		return nil
	}
	names := maps.Clone(schemaNames)
	values := map[string]types.AttributeValue{
		":one":  &types.AttributeValueMemberN{Value: "1"},
		":room": &types.AttributeValueMemberN{Value: strconv.Itoa(s.maxSchemaKeys - len(lock.New))},
	}
	keys := slices.Sorted(maps.Keys(lock.New))
	for i, k := range keys {
		names["#k"+strconv.Itoa(i)] = k
	}
	for _, k := range keys {
		if aliasesAPlaceholder(k, names) {
			return nil
		}
	}
	var update, cond strings.Builder
	update.WriteString("SET ")
	cond.WriteString("attribute_exists(#s) AND size(#s) <= :room")
	for i, k := range keys {
		n, v := "#k"+strconv.Itoa(i), ":t"+strconv.Itoa(i)
		values[v] = str(string(lock.New[k]))
		if i > 0 {
			update.WriteString(", ")
		}
		update.WriteString("#s." + n + " = " + v)
		cond.WriteString(" AND attribute_not_exists(#s." + n + ")")
		if update.Len() > maxExpressionBytes || cond.Len() > maxExpressionBytes {
			return nil
		}
	}
	update.WriteString(" ADD #v :one")
	if checkExpressions([]string{update.String(), cond.String()}, names, values) != nil {
		return nil
	}
	return &types.Update{
		TableName:                 &s.table,
		Key:                       poolKey(poolID),
		UpdateExpression:          aws.String(update.String()),
		ConditionExpression:       aws.String(cond.String()),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
}

// checkSchemaSize refuses a schema map that would not leave poolReserveBytes of the pool
// item to its other attributes: a 400 before the write.
func (s *Store) checkSchemaSize(schema map[string]types.AttributeValue) error {
	size := len("schema") + valueSize(&types.AttributeValueMemberM{Value: schema})
	if limit := s.maxItemBytes - poolReserveBytes; size > limit {
		return lead.Invalid(fmt.Sprintf("the pool schema would be %d bytes, above the %d bytes a pool item keeps for it", size, limit),
			lead.Detail{Path: "data", Problem: "the pool's schema is too large; unlock keys no sender uses"})
	}
	return nil
}

// versionCondition is the condition that the pool's schema version (#v) is still version;
// a pool whose schema never changed has no version attribute.
func versionCondition(version int64, values map[string]types.AttributeValue) string {
	if version == 0 {
		return "attribute_not_exists(#v)"
	}
	values[":v"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(version, 10)}
	return "#v = :v"
}

// ReplaceSchema writes the whole schema of a pool (possibly empty: the next request's lock
// then writes the whole map, conditional on the version) and counts one more version, on condition
// that the pool exists and the version is still the one read: lead.ErrSchemaChanged
// otherwise. The map travels as an attribute value, so its size is bounded by the item
// (checkSchemaSize: a 400 before the write), not by the 4 KB expression limit, and its
// expressions have a fixed size.
func (s *Store) ReplaceSchema(ctx context.Context, poolID string, version int64, schema lead.Schema) error {
	names := maps.Clone(schemaNames)
	values := map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}
	m := make(map[string]types.AttributeValue, len(schema))
	for k, t := range schema {
		m[k] = str(string(t))
	}
	if err := s.checkSchemaSize(m); err != nil {
		return err
	}
	values[":m"] = &types.AttributeValueMemberM{Value: m}
	update := "SET #s = :m ADD #v :one"
	cond := "attribute_exists(pk) AND " + versionCondition(version, values)
	// A retry after a commit whose answer was lost fails the version condition: the pool
	// read back at the next version with this schema is that commit.
	holds := func(item map[string]types.AttributeValue) bool {
		p, err := poolFromItem(item)
		return err == nil && maps.Equal(p.Schema, schema)
	}
	v := versioned{key: poolKey(poolID), attr: attrSchemaVersion, from: version, holds: holds}
	_, err := s.settleWrite(ctx, v, func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &s.table,
			Key:                       poolKey(poolID),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}, optFns...)
		return err
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) || errors.Is(err, errOvertaken) {
		return fmt.Errorf("replace schema of pool %s: %w", poolID, lead.ErrSchemaChanged)
	}
	if err != nil {
		return fmt.Errorf("replace schema of pool %s: %w", poolID, err)
	}
	return nil
}

// Idempotency reads a webhook's idempotency record; DynamoDB's TTL deletes expired ones
// only eventually, so expiry is compared here too.
func (s *Store) Idempotency(ctx context.Context, webhookID, key string, now time.Time) (*lead.IdempotencyRecord, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            idempotencyKey(webhookID, key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get idempotency record: %w", err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	rec, err := idempotencyFromItem(webhookID, key, out.Item)
	if err != nil {
		return nil, fmt.Errorf("read idempotency record of webhook %s: %w", webhookID, err)
	}
	if !now.Before(rec.ExpiresAt) {
		return nil, nil
	}
	return rec, nil
}

// requestToken derives the transaction's idempotency token from everything it sends: the
// retries of one attempt (the SDK's, and the store's after a conflict or a lost response)
// share it, so DynamoDB applies the transaction at most once, while a new attempt with other
// content (other keys or expression values after a lost lock race) gets another, as
// DynamoDB requires: a token reused with other content is IdempotentParameterMismatch.
func requestToken(items []types.TransactWriteItem) string {
	h := sha256.New()
	w := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(strconv.Itoa(len(p))))
			h.Write([]byte{':'})
			h.Write([]byte(p))
		}
	}
	for _, it := range items {
		// Each action as its kind, table, expressions, item or key, names and values.
		var (
			kind, table, update, cond string
			item                      map[string]types.AttributeValue
			names                     map[string]string
			values                    map[string]types.AttributeValue
		)
		switch {
		case it.Put != nil:
			p := it.Put
			kind, table, cond, item, names, values = "put", aws.ToString(p.TableName), aws.ToString(p.ConditionExpression), p.Item, p.ExpressionAttributeNames, p.ExpressionAttributeValues
		case it.Update != nil:
			u := it.Update
			kind, table, update, cond, item, names, values = "update", aws.ToString(u.TableName), aws.ToString(u.UpdateExpression), aws.ToString(u.ConditionExpression), u.Key, u.ExpressionAttributeNames, u.ExpressionAttributeValues
		case it.Delete != nil:
			d := it.Delete
			kind, table, cond, item, names, values = "delete", aws.ToString(d.TableName), aws.ToString(d.ConditionExpression), d.Key, d.ExpressionAttributeNames, d.ExpressionAttributeValues
		case it.ConditionCheck != nil:
			c := it.ConditionCheck
			kind, table, cond, item, names, values = "check", aws.ToString(c.TableName), aws.ToString(c.ConditionExpression), c.Key, c.ExpressionAttributeNames, c.ExpressionAttributeValues
		}
		w(kind, table, update, cond)
		hashItem(w, item)
		w("names", strconv.Itoa(len(names)))
		for _, k := range slices.Sorted(maps.Keys(names)) {
			w(k, names[k])
		}
		hashItem(w, values)
	}
	return hex.EncodeToString(h.Sum(nil))[:36]
}

// hashItem feeds an item to w with its types and its map keys in order: the same item
// always gives the same bytes, and different items different ones.
func hashItem(w func(...string), m map[string]types.AttributeValue) {
	w("M", strconv.Itoa(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		w(k)
		hashValue(w, m[k])
	}
}

func hashValue(w func(...string), v types.AttributeValue) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		w("S", v.Value)
	case *types.AttributeValueMemberN:
		w("N", v.Value)
	case *types.AttributeValueMemberB:
		w("B", string(v.Value))
	case *types.AttributeValueMemberBOOL:
		w("BOOL", strconv.FormatBool(v.Value))
	case *types.AttributeValueMemberNULL:
		w("NULL")
	case *types.AttributeValueMemberSS:
		w(append([]string{"SS", strconv.Itoa(len(v.Value))}, v.Value...)...)
	case *types.AttributeValueMemberNS:
		w(append([]string{"NS", strconv.Itoa(len(v.Value))}, v.Value...)...)
	case *types.AttributeValueMemberBS:
		w("BS", strconv.Itoa(len(v.Value)))
		for _, b := range v.Value {
			w(string(b))
		}
	case *types.AttributeValueMemberL:
		w("L", strconv.Itoa(len(v.Value)))
		for _, e := range v.Value {
			hashValue(w, e)
		}
	case *types.AttributeValueMemberM:
		hashItem(w, v.Value)
	default:
		w(fmt.Sprintf("%T", v))
	}
}
