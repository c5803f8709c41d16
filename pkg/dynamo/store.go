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
}

// New returns a Store on the named table.
func New(db DB, table string) *Store {
	lim := lead.DefaultLimits()
	return &Store{db: db, table: table, maxItemBytes: lim.MaxItemBytes, maxSchemaKeys: lim.MaxSchemaKeys}
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
	if len(out.Item) == 0 {
		return nil, nil
	}
	w, err := webhookFromItem(out.Item)
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
		_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           &s.table,
			Item:                item,
			ConditionExpression: notExists,
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
		items = append(items, types.TransactWriteItem{Update: s.lockSchema(e.PoolID, lock)})
	}
	if idem != nil {
		idemAt = len(items)
		rec := idempotencyItem(idem)
		if size := ItemSize(rec); size > s.maxItemBytes {
			return lead.Errorf(lead.ETOOLARGE, "the entry is too large to be kept for Idempotency-Key replays (%d bytes)", size)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:                 &s.table,
			Item:                      rec,
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR expiresAt < :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": epoch(idem.CreatedAt)},
		}})
	}
	alsoAt := -1
	if also != nil {
		alsoAt = len(items)
		items = append(items, *also)
	}
	entryAt := len(items)
	items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: notExists}})

	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		ClientRequestToken: aws.String(requestToken(e.ID, newKeys)),
		TransactItems:      items,
	})
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
			return lead.ErrIdempotencyKeyTaken
		case failed(schemaAt):
			return lead.ErrSchemaChanged
		}
	}
	return fmt.Errorf("lock schema and put entry: %w", err)
}

// maxKeysPerCondition keeps the per-key lock expressions under DynamoDB's 4 KB limit for
// expression strings (about 34 bytes per key in the condition).
const maxKeysPerCondition = 100

// attrSchemaVersion counts the changes of a pool's schema. Every write of the schema adds
// one, so "the version I read" is "the schema I read", even though an administrator's
// unlock can make a schema shrink and grow back to the same size.
const attrSchemaVersion = "schemaVersion"

// lockSchema adds the new keys to the pool schema only if none of them is there yet, and
// counts one more schema version.
//   - Up to maxKeysPerCondition keys onto a schema that has keys, each key is its own
//     nested SET with attribute_not_exists, so requests adding different keys do not
//     conflict; the schema must still exist and have room for them (size), so concurrent
//     requests never push it past the limit.
//   - Otherwise (the first lock of a pool, or more keys than per-key expressions fit in
//     DynamoDB's 4 KB) the whole merged map is written on condition that the schema
//     version is still the one read (absent for a pool whose schema never changed), so a
//     pool never holds an empty schema map and no concurrent change is overwritten.
func (s *Store) lockSchema(poolID string, lock lead.SchemaLock) *types.Update {
	names := map[string]string{"#s": "schema", "#v": attrSchemaVersion}
	values := map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}
	var update, cond string
	switch {
	case len(lock.Locked) > 0 && len(lock.New) <= maxKeysPerCondition:
		sets := make([]string, 0, len(lock.New))
		conds := []string{"attribute_exists(#s)", "size(#s) <= :room"}
		values[":room"] = &types.AttributeValueMemberN{Value: strconv.Itoa(s.maxSchemaKeys - len(lock.New))}
		for i, k := range slices.Sorted(maps.Keys(lock.New)) {
			n, v := "#"+strconv.Itoa(i), ":"+strconv.Itoa(i)
			names[n] = k
			values[v] = str(string(lock.New[k]))
			sets = append(sets, "#s."+n+" = "+v)
			conds = append(conds, "attribute_not_exists(#s."+n+")")
		}
		update, cond = "SET "+strings.Join(sets, ", ")+" ADD #v :one", strings.Join(conds, " AND ")
	default:
		merged := make(map[string]types.AttributeValue, len(lock.Locked)+len(lock.New))
		for k, t := range lock.Locked {
			merged[k] = str(string(t))
		}
		for k, t := range lock.New {
			merged[k] = str(string(t))
		}
		values[":m"] = &types.AttributeValueMemberM{Value: merged}
		update, cond = "SET #s = :m ADD #v :one", "attribute_exists(pk) AND "+versionCondition(lock.Version, values)
	}
	return &types.Update{
		TableName:                 &s.table,
		Key:                       poolKey(poolID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
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
// otherwise. The map travels as an attribute value, so its size is bounded by the item,
// not by the 4 KB expression limit.
func (s *Store) ReplaceSchema(ctx context.Context, poolID string, version int64, schema lead.Schema) error {
	names := map[string]string{"#s": "schema", "#v": attrSchemaVersion}
	values := map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}
	m := make(map[string]types.AttributeValue, len(schema))
	for k, t := range schema {
		m[k] = str(string(t))
	}
	values[":m"] = &types.AttributeValueMemberM{Value: m}
	update := "SET #s = :m ADD #v :one"
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       poolKey(poolID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("attribute_exists(pk) AND " + versionCondition(version, values)),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
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
	rec, err := idempotencyFromItem(out.Item)
	if err != nil {
		return nil, fmt.Errorf("read idempotency record of webhook %s: %w", webhookID, err)
	}
	if !now.Before(rec.ExpiresAt) {
		return nil, nil
	}
	return rec, nil
}

// requestToken derives the transaction's idempotency token from everything it writes: the
// SDK's own retries of one attempt share it, while a new attempt with other keys (after a
// lost lock race) gets another, which DynamoDB requires.
func requestToken(entryID string, newKeys lead.Schema) string {
	h := sha256.New()
	h.Write([]byte(entryID))
	for _, k := range slices.Sorted(maps.Keys(newKeys)) {
		h.Write([]byte{0})
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(newKeys[k]))
	}
	return hex.EncodeToString(h.Sum(nil))[:36]
}
