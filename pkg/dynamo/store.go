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
	return s.webhookOf(id, out.Item)
}

// webhookOf is the webhook of a webhook item read, its CAPTCHA secret opened; nil when
// there is none (no item, or its tombstone).
func (s *Store) webhookOf(id string, item map[string]types.AttributeValue) (*lead.Webhook, error) {
	if gone(item) {
		return nil, nil
	}
	w, err := webhookFromItem(item)
	if err == nil {
		err = s.openCaptcha(w, item)
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
	item, err := EntryItem(e)
	if err != nil {
		return err
	}
	if size := ItemSize(item); size > s.maxItemBytes {
		return lead.Errorf(lead.ETOOLARGE, "the entry would be %d bytes, above DynamoDB's item limit of %d KB", size, s.maxItemBytes/1024)
	}
	if len(lock.New) == 0 && idem == nil && also == nil {
		return s.putEntryAlone(ctx, e, item)
	}
	tx, err := s.entryTransaction(e.PoolID, item, lock, idem, also)
	if err != nil {
		return err
	}
	return s.putEntryWith(ctx, e, item, tx, idem)
}

// entryNew is the condition of every write of an entry: its key is free.
const entryNew = "attribute_not_exists(pk)"

// putEntryAlone writes the entry item, which locks no key and records no idempotency key,
// as one conditional PutItem, settled (settle): a failed condition is this very write's
// earlier attempt, committed (the id is fixed before the first attempt).
func (s *Store) putEntryAlone(ctx context.Context, e *lead.Entry, item map[string]types.AttributeValue) error {
	_, err := s.settle(ctx, s.newItem(item, func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
		_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           &s.table,
			Item:                item,
			ConditionExpression: aws.String(entryNew),
		}, optFns...)
		return err
	}))
	var ccf *types.ConditionalCheckFailedException
	switch {
	case isUnsettled(err):
		return fmt.Errorf("put entry: %w: %w", lead.Unsettled(e.ID), err)
	case errors.As(err, &ccf):
		return nil
	case err != nil:
		return fmt.Errorf("put entry: %w", err)
	}
	return nil
}

// entryTx is the transaction of an entry and the items that commit with it, with the
// index of each in it (-1: none).
type entryTx struct {
	items                             []types.TransactWriteItem
	schemaAt, idemAt, alsoAt, entryAt int
}

// entryTransaction builds the transaction of the entry item: the schema lock when lock
// has new keys, the idempotency record when idem is not nil, also when not nil, and the
// entry.
func (s *Store) entryTransaction(poolID string, item map[string]types.AttributeValue, lock lead.SchemaLock, idem *lead.IdempotencyRecord, also *types.TransactWriteItem) (entryTx, error) {
	tx := entryTx{schemaAt: -1, idemAt: -1, alsoAt: -1}
	if len(lock.New) > 0 {
		u, err := s.lockSchema(poolID, lock)
		if err != nil {
			return tx, err
		}
		tx.schemaAt = len(tx.items)
		tx.items = append(tx.items, types.TransactWriteItem{Update: u})
	}
	if idem != nil {
		tx.idemAt = len(tx.items)
		tx.items = append(tx.items, types.TransactWriteItem{Put: &types.Put{
			TableName:                 &s.table,
			Item:                      idempotencyItem(idem), // fingerprint, entry id and expiry: a few hundred bytes
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR expiresAt < :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": epoch(idem.CreatedAt)},
			// A repeat learns the first request's record from the cancellation itself.
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}})
	}
	if also != nil {
		tx.alsoAt = len(tx.items)
		tx.items = append(tx.items, *also)
	}
	tx.entryAt = len(tx.items)
	tx.items = append(tx.items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: aws.String(entryNew)}})
	return tx, nil
}

// putEntryWith commits the entry's transaction tx, settled (settle), and tells its
// refusal (entryRefusal). An idempotency record of another request handed back by the
// cancellation decides without a read-back: the record and the entry commit together, so
// ours is not stored.
func (s *Store) putEntryWith(ctx context.Context, e *lead.Entry, item map[string]types.AttributeValue, tx entryTx, idem *lead.IdempotencyRecord) error {
	in := &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String(requestToken(tx.items)), TransactItems: tx.items}
	_, err := s.settle(ctx, s.newItem(item, func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
		_, err := s.db.TransactWriteItems(ctx, in, optFns...)
		if rec := takenRecord(err, tx.idemAt); rec != nil {
			if v, ok := rec[attrEntryID].(*types.AttributeValueMemberS); ok && v.Value == e.ID {
				// The key's record names this very entry: an earlier attempt committed.
				return nil
			}
			return decided{err}
		}
		return err
	}))
	if isUnsettled(err) {
		// Checked before the cancellation reasons: a refusal whose outcome stayed unknown is
		// no answer about the schema or the key.
		return fmt.Errorf("lock schema and put entry: %w: %w", lead.Unsettled(e.ID), err)
	}
	var d decided
	if errors.As(err, &d) {
		err = d.err
	}
	if err == nil {
		return nil
	}
	return tx.refusal(err, idem)
}

// refusal tells the failure err of the entry's transaction by the item whose condition
// failed: the entry (an earlier attempt of this very write committed: success), also
// (lead.ErrRejectedGone), the idempotency record (lead.IdempotencyKeyTakenError with the
// record handed back) or the schema lock (lead.ErrSchemaChanged).
func (tx entryTx) refusal(err error, idem *lead.IdempotencyRecord) error {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && len(tce.CancellationReasons) == len(tx.items) {
		failed := func(i int) bool {
			return i >= 0 && aws.ToString(tce.CancellationReasons[i].Code) == "ConditionalCheckFailed"
		}
		switch {
		case failed(tx.entryAt):
			return nil
		case failed(tx.alsoAt):
			return lead.ErrRejectedGone
		case failed(tx.idemAt):
			taken := &lead.IdempotencyKeyTakenError{}
			if old := tce.CancellationReasons[tx.idemAt].Item; len(old) > 0 {
				if taken.Record, err = idempotencyFromItem(idem.WebhookID, idem.Key, old); err != nil {
					return fmt.Errorf("idempotency key of webhook %s taken: %w", idem.WebhookID, err)
				}
			}
			return taken
		case failed(tx.schemaAt):
			return lead.ErrSchemaChanged
		}
	}
	return fmt.Errorf("lock schema and put entry: %w", err)
}

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
	_, err := s.settle(ctx, s.versionedWrite(v, func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &s.table,
			Key:                       poolKey(poolID),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}, optFns...)
		return err
	}))
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
