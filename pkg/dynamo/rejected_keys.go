package dynamo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// A refused request that carries an idempotency key (sent, or a vendor's delivery id) is
// kept once per key: a marker item beside the kept requests names the one kept
// for the key, and a vendor retrying a refused delivery updates that one (its count of
// deliveries, its last error and time) instead of adding another.
const (
	rejectKeyPrefix    = "REJECTKEY#"
	attrRejectedID     = "rejectedId"
	attrDeliveries     = "deliveries"
	attrLastReceivedAt = "lastReceivedAt"
)

// rejectKeyKey is the key of the marker of a webhook's idempotency key.
func rejectKeyKey(webhookID, idemKey string) map[string]types.AttributeValue {
	sum := sha256.Sum256([]byte(idemKey))
	return key(webhookPrefix+webhookID, rejectKeyPrefix+base64.RawURLEncoding.EncodeToString(sum[:]))
}

// rejectKeyPut is the transaction item that claims the key for r: on condition that no
// marker exists, or that it names replaced (a kept request that is gone).
func (s *Store) rejectKeyPut(r *lead.RejectedRequest, replaced string) types.TransactWriteItem {
	item := rejectKeyKey(r.WebhookID, r.IdempotencyKey)
	item["type"] = str("rejectkey")
	item[attrRejectedID] = str(r.ID)
	item[TTLAttribute] = epoch(r.ExpiresAt)
	put := &types.Put{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}
	if replaced != "" {
		put.ConditionExpression = aws.String("attribute_not_exists(pk) OR #rid = :old")
		put.ExpressionAttributeNames = map[string]string{"#rid": attrRejectedID}
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":old": str(replaced)}
	}
	return types.TransactWriteItem{Put: put}
}

// keepAgain handles a refused request whose key is already kept: the kept request takes
// this delivery's error and time and counts it, and r takes its id (its error body, which
// names r's id, is rewritten to name the kept one). When the kept request is gone
// (replayed, discarded, expired) the request is kept afresh, the marker moved to it.
func (s *Store) keepAgain(ctx context.Context, r *lead.RejectedRequest, dailyMax int) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: rejectKeyKey(r.WebhookID, r.IdempotencyKey), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return fmt.Errorf("read kept request of an idempotency key: %w", err)
	}
	id := ""
	if v, ok := out.Item[attrRejectedID].(*types.AttributeValueMemberS); ok {
		id = v.Value
	}
	switch id {
	case r.ID:
		return nil // this very request: an earlier attempt of the write committed
	case "":
		return fmt.Errorf("keep rejected request of webhook %s: its idempotency key's marker is gone", r.WebhookID)
	}
	body := bytes.ReplaceAll(r.ErrorBody, []byte(r.ID), []byte(id))
	last := r.ReceivedAt.UTC().Format(time.RFC3339Nano)
	_, err = s.changeItem(ctx, rejectedKey(r.WebhookID, id), func(item map[string]types.AttributeValue, from int64) (func(context.Context, ...func(*dynamodb.Options)) error, func(map[string]types.AttributeValue) bool, error) {
		if exp, ok := item[TTLAttribute].(*types.AttributeValueMemberN); ok {
			if sec, err := strconv.ParseInt(exp.Value, 10, 64); err == nil && !r.ReceivedAt.Before(time.Unix(sec, 0)) {
				return nil, nil, lead.ErrNotFound // expired, TTL deletion pending
			}
		}
		in := &dynamodb.UpdateItemInput{
			TableName:           &s.table,
			Key:                 rejectedKey(r.WebhookID, id),
			UpdateExpression:    aws.String("SET #b = :b, #x = :r, #l = :l, #d = if_not_exists(#d, :one) + :one"),
			ConditionExpression: new(string),
			ExpressionAttributeNames: map[string]string{"#b": "errorBody", "#x": "errorReason", "#l": attrLastReceivedAt,
				"#d": attrDeliveries},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":b": str(string(body)), ":r": str(r.ErrorReason), ":l": str(last), ":one": number(1),
			},
		}
		withVersion(in.UpdateExpression, in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, from)
		return func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
				_, err := s.db.UpdateItem(ctx, in, optFns...)
				return err
			}, func(item map[string]types.AttributeValue) bool {
				l, _ := item[attrLastReceivedAt].(*types.AttributeValueMemberS)
				return l != nil && l.Value == last
			}, nil
	})
	if errors.Is(err, lead.ErrNotFound) {
		return s.keep(ctx, r, dailyMax, id)
	}
	if err != nil {
		return fmt.Errorf("update kept request %s of webhook %s: %w", id, r.WebhookID, err)
	}
	r.ID, r.ErrorBody = id, body
	return nil
}
