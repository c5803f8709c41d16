package dynamo

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// Sort key prefixes of the rejected request items, under the webhook's partition.
const (
	rejectedPrefix    = "REJECTED#"
	rejectCountPrefix = "REJECTCOUNT#"
)

func rejectedKey(webhookID, id string) map[string]types.AttributeValue {
	return key(webhookPrefix+webhookID, rejectedPrefix+id)
}

// rejectCountKey is the counter of a webhook's kept rejected requests on one UTC day.
func rejectCountKey(webhookID string, day time.Time) map[string]types.AttributeValue {
	return key(webhookPrefix+webhookID, rejectCountPrefix+day.UTC().Format(time.DateOnly))
}

func rejectedItem(r *lead.RejectedRequest) map[string]types.AttributeValue {
	item := rejectedKey(r.WebhookID, r.ID)
	item["type"] = str("rejected")
	item["id"] = str(r.ID)
	item["webhookId"] = str(r.WebhookID)
	item["receivedAt"] = str(r.ReceivedAt.UTC().Format(time.RFC3339Nano))
	item["contentType"] = str(r.ContentType)
	item["idempotencyKey"] = str(r.IdempotencyKey)
	item["errorBody"] = str(string(r.ErrorBody))
	item["errorReason"] = str(r.ErrorReason)
	item[TTLAttribute] = epoch(r.ExpiresAt)
	item[attrVersion] = number(1)
	// The body is binary: it is kept byte for byte, whatever its encoding. DynamoDB refuses
	// an empty binary value, so an empty body is no attribute.
	if len(r.Body) > 0 {
		item["body"] = &types.AttributeValueMemberB{Value: r.Body}
	}
	return item
}

func rejectedFromItem(item map[string]types.AttributeValue) (*lead.RejectedRequest, error) {
	rd := itemReader{item: item}
	r := &lead.RejectedRequest{
		ID:             rd.s("id"),
		WebhookID:      rd.s("webhookId"),
		ReceivedAt:     rd.time("receivedAt"),
		ContentType:    rd.s("contentType"),
		IdempotencyKey: rd.s("idempotencyKey"),
		Body:           rd.optB("body"),
		ErrorBody:      []byte(rd.s("errorBody")),
		ErrorReason:    rd.s("errorReason"),
		ExpiresAt:      rd.epoch(TTLAttribute),
		Version:        rd.optInt(attrVersion),
		Deliveries:     max(1, rd.optInt(attrDeliveries)),
		LastReceivedAt: rd.optTime(attrLastReceivedAt),
	}
	if rd.err != nil {
		return nil, fmt.Errorf("rejected request %s: %w", r.ID, rd.err)
	}
	return r, nil
}

// KeepRejected stores a rejected request and counts it in the webhook's counter of the UTC
// day, in one TransactWriteItems: the counter only grows while below dailyMax, and the
// request is kept only if it was counted. Two items in one call, not an UpdateItem then a
// PutItem: a failure between two calls would leave a count without its request (or a
// request beyond the maximum). The counter expires a day after its day ends.
//
// A request with an idempotency key claims the key's marker in the same transaction; when
// the key is already kept, that kept request is updated instead (keepAgain) and r takes
// its id.
func (s *Store) KeepRejected(ctx context.Context, r *lead.RejectedRequest, dailyMax int) error {
	return s.keep(ctx, r, dailyMax, "")
}

// keep is KeepRejected; replaced names a kept request of r's key that is gone.
func (s *Store) keep(ctx context.Context, r *lead.RejectedRequest, dailyMax int, replaced string) error {
	item := rejectedItem(r)
	if size := ItemSize(item); size > s.maxItemBytes {
		return fmt.Errorf("rejected request of %d bytes is above the item limit", size)
	}
	day := r.ReceivedAt.UTC().Truncate(24 * time.Hour)
	in := &dynamodb.TransactWriteItemsInput{
		ClientRequestToken: aws.String(strings.ReplaceAll(r.ID, "-", "")),
		TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName:                &s.table,
				Key:                      rejectCountKey(r.WebhookID, day),
				UpdateExpression:         aws.String("ADD #n :one SET #e = :exp"),
				ConditionExpression:      aws.String("attribute_not_exists(#n) OR #n < :max"),
				ExpressionAttributeNames: map[string]string{"#n": "count", "#e": TTLAttribute},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":one": &types.AttributeValueMemberN{Value: "1"},
					":max": &types.AttributeValueMemberN{Value: strconv.Itoa(dailyMax)},
					":exp": epoch(day.Add(48 * time.Hour)),
				},
			}},
			{Put: &types.Put{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		},
	}
	if r.IdempotencyKey != "" {
		in.TransactItems = append(in.TransactItems, s.rejectKeyPut(r, replaced))
	}
	// Settled like an entry: a write that got no answer is read back and tried again, and
	// one given up on after such an attempt is fenced (the fence's key is the request's),
	// so that an error means "not kept", even once late writes have landed.
	_, err := s.settle(ctx, s.newItem(item, func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
		_, err := s.db.TransactWriteItems(ctx, in, optFns...)
		return err
	}))
	if isUnsettled(err) {
		return fmt.Errorf("keep rejected request %s of webhook %s: %w: %w", r.ID, r.WebhookID, lead.ErrRejectedUnsettled, err)
	}
	switch cancelled(err) {
	case 0:
		return lead.ErrRejectedQuotaFull
	case 1:
		return nil // this very request, kept by an earlier attempt
	case 2:
		if replaced != "" {
			return fmt.Errorf("keep rejected request of webhook %s: its idempotency key was kept again meanwhile", r.WebhookID)
		}
		return s.keepAgain(ctx, r, dailyMax)
	}
	if err != nil {
		return fmt.Errorf("keep rejected request of webhook %s: %w", r.WebhookID, err)
	}
	return nil
}

// Rejected reads a rejected request; one past its expiry (TTL deletion is late) is none.
func (s *Store) Rejected(ctx context.Context, webhookID, id string, now time.Time) (*lead.RejectedRequest, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: rejectedKey(webhookID, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get rejected request %s: %w", id, err)
	}
	if gone(out.Item) || IsFence(out.Item) {
		// A fence (KeepRejected gave up on the write) is no request, nor is a tombstone.
		return nil, nil
	}
	r, err := rejectedFromItem(out.Item)
	if err != nil {
		return nil, err
	}
	if !now.Before(r.ExpiresAt) {
		return nil, nil
	}
	return r, nil
}

// ListRejected queries a webhook's rejected requests newest first (UUIDv7 ids sort by
// time), without their bodies. The cursor is the last sort key returned, base64url.
func (s *Store) ListRejected(ctx context.Context, webhookID string, limit int, cursor string, now time.Time) (*lead.RejectedPage, error) {
	in := &dynamodb.QueryInput{
		TableName:              &s.table,
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :p)"),
		// Every attribute but the body (the type tells a tombstone or a fence); placeholders, so no name
		// can collide with a reserved word.
		ProjectionExpression: aws.String("#i, #w, #r, #c, #k, #b, #x, #e, #t, #v, #d, #l"),
		ExpressionAttributeNames: map[string]string{"#i": "id", "#w": "webhookId", "#r": "receivedAt", "#c": "contentType",
			"#k": "idempotencyKey", "#b": "errorBody", "#x": "errorReason", "#e": TTLAttribute, "#t": TypeAttribute, "#v": attrVersion,
			"#d": attrDeliveries, "#l": attrLastReceivedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(webhookPrefix + webhookID),
			":p":  str(rejectedPrefix),
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(int32(limit)),
		ConsistentRead:   aws.Bool(true),
	}
	if cursor != "" {
		b, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
		id := strings.TrimPrefix(string(b), rejectedPrefix)
		if err != nil || len(cursor) > maxCursorLen || !bytes.HasPrefix(b, []byte(rejectedPrefix)) || !lead.IsUUID(id) {
			return nil, lead.ErrInvalidCursor
		}
		in.ExclusiveStartKey = rejectedKey(webhookID, id)
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("query rejected requests of webhook %s: %w", webhookID, err)
	}
	page := &lead.RejectedPage{Rejected: []*lead.RejectedRequest{}}
	for _, item := range out.Items {
		if IsTombstone(item) || IsFence(item) {
			continue
		}
		r, err := rejectedFromItem(item)
		if err != nil {
			return nil, err
		}
		if now.Before(r.ExpiresAt) {
			page.Rejected = append(page.Rejected, r)
		}
	}
	if sk, ok := out.LastEvaluatedKey[attrSK].(*types.AttributeValueMemberS); ok {
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(sk.Value))
	}
	return page, nil
}

// RecordRejectedError replaces the recorded error of a rejected request, if it still exists,
// with an UpdateItem conditional on the version read.
func (s *Store) RecordRejectedError(ctx context.Context, webhookID, id string, errorBody []byte, reason string) error {
	_, err := s.changeItem(ctx, rejectedKey(webhookID, id), func(_ map[string]types.AttributeValue, from int64) (writeFunc, func(map[string]types.AttributeValue) bool, error) {
		in := &dynamodb.UpdateItemInput{
			TableName:                &s.table,
			Key:                      rejectedKey(webhookID, id),
			UpdateExpression:         aws.String("SET #b = :b, #x = :r"),
			ConditionExpression:      new(string),
			ExpressionAttributeNames: map[string]string{"#b": "errorBody", "#x": "errorReason"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":b": str(string(errorBody)), ":r": str(reason),
			},
		}
		withVersion(in.UpdateExpression, in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, from)
		return func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
				_, err := s.db.UpdateItem(ctx, in, optFns...)
				return err
			}, func(item map[string]types.AttributeValue) bool {
				b, _ := item["errorBody"].(*types.AttributeValueMemberS)
				return b != nil && b.Value == string(errorBody)
			}, nil
	})
	if err != nil {
		return fmt.Errorf("record error of rejected request %s: %w", id, err)
	}
	return nil
}

// DiscardRejected replaces a rejected request by its tombstone, conditional on the version
// read (see deleteItem); lead.ErrNotFound when there is none.
func (s *Store) DiscardRejected(ctx context.Context, webhookID, id string) error {
	if err := s.deleteItem(ctx, rejectedKey(webhookID, id)); err != nil {
		return fmt.Errorf("delete rejected request %s: %w", id, err)
	}
	return nil
}

// PutReplayedEntry writes the entry of a replayed rejected request and replaces that request
// by its tombstone in the same transaction, on condition that it is still at the version
// read here: of concurrent replays, one commits and the others get lead.ErrRejectedGone,
// and a keep of the same request that arrives late is refused by the tombstone.
func (s *Store) PutReplayedEntry(ctx context.Context, e *lead.Entry, lock lead.SchemaLock, idem *lead.IdempotencyRecord, webhookID, rejectedID string) error {
	key := rejectedKey(webhookID, rejectedID)
	item, from, err := s.current(ctx, key)
	if err != nil {
		return fmt.Errorf("read rejected request %s: %w", rejectedID, err)
	}
	if item == nil {
		return lead.ErrRejectedGone
	}
	cond, names, values := versionCond(attrVersion, from)
	delete(values, ":vnext")
	// The tombstone's time is the entry's, so every attempt of the transaction sends the
	// same item (and the same request token).
	return s.putEntry(ctx, e, lock, idem, &types.TransactWriteItem{Put: &types.Put{
		TableName:                 &s.table,
		Item:                      tombstoneItem(key, from, e.CreatedAt),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: nilIfEmpty(values),
	}})
}

var (
	_ lead.RejectedStore = (*Store)(nil)
	_ lead.SchemaStore   = (*Store)(nil)
)
