package dynamo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// Attribute names of the webhook item written by rotation.
const (
	attrTokenHash         = "tokenHash"
	attrPreviousTokenHash = "previousTokenHash"
	attrPreviousExpiresAt = "previousTokenExpiresAt"
	attrRotatedAt         = "rotatedAt"
	attrAllowQueryToken   = "allowQueryToken"
	attrGSI1PK            = "gsi1pk"
	attrGSI1SK            = "gsi1sk"
)

// CreateWebhook writes a new webhook; its organization's listing index keys are set too.
func (s *Store) CreateWebhook(ctx context.Context, w *lead.Webhook) error {
	item := webhookKey(w.ID)
	item["type"] = str("webhook")
	item["id"] = str(w.ID)
	item["organizationId"] = str(w.OrganizationID)
	item["tableId"] = str(w.PoolID)
	item["name"] = str(w.Name)
	item["tokenHash"] = &types.AttributeValueMemberB{Value: w.TokenHash}
	item["createdAt"] = str(lead.FormatTime(w.CreatedAt))
	if w.AllowQueryToken {
		item[attrAllowQueryToken] = &types.AttributeValueMemberBOOL{Value: true}
	}
	item["gsi1pk"] = str(orgPrefix + w.OrganizationID)
	item["gsi1sk"] = str(webhookPrefix + lead.FormatTime(w.CreatedAt) + "#" + w.ID)
	// The answer of a committed write may be lost, and the retry that follows finds the
	// webhook there: the item read back says whether it is this very webhook.
	_, err := s.settleWrite(ctx, webhookKey(w.ID), func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
		_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           &s.table,
			Item:                item,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}, optFns...)
		return err
	}, func(stored map[string]types.AttributeValue) bool { return holdsHash(stored, w.TokenHash) })
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("create webhook %s: %w", w.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, err)
	}
	return nil
}

// holdsHash reports whether a webhook item exists with the token hash.
func holdsHash(item map[string]types.AttributeValue, hash []byte) bool {
	b, ok := item[attrTokenHash].(*types.AttributeValueMemberB)
	return ok && bytes.Equal(b.Value, hash)
}

// RotateWebhook replaces the token hash with one conditional UpdateItem, so concurrent
// rotations serialise on the item and the last committed one wins. With a grace period the
// update copies the hash it replaces into previousTokenHash in the same write (DynamoDB
// evaluates SET a = b against the item as it was before the update), so no read is needed
// and nothing can slip in between. Without one, any previous hash is cleared.
func (s *Store) RotateWebhook(ctx context.Context, id string, tokenHash []byte, rotatedAt, graceUntil time.Time) (*lead.Webhook, error) {
	names := map[string]string{"#h": attrTokenHash, "#r": attrRotatedAt, "#ph": attrPreviousTokenHash, "#pe": attrPreviousExpiresAt}
	values := map[string]types.AttributeValue{
		":h": &types.AttributeValueMemberB{Value: tokenHash},
		":r": str(rotatedAt.UTC().Format(time.RFC3339Nano)),
	}
	// The previous hash is cleared by writing NULL, not by REMOVE: minidyn v0.8.2 (the
	// local runner and the tests) silently ignores a top-level REMOVE, which would leave an
	// old token valid. NULL decodes as "no previous token" everywhere.
	update := "SET #h = :h, #r = :r, #ph = :none, #pe = :none"
	values[":none"] = &types.AttributeValueMemberNULL{Value: true}
	if !graceUntil.IsZero() {
		// The copy comes first so that an evaluator applying actions in order (minidyn)
		// copies the old hash too.
		update = "SET #ph = #h, #pe = :e, #h = :h, #r = :r"
		delete(values, ":none")
		values[":e"] = str(graceUntil.UTC().Format(time.RFC3339Nano))
	}
	// The condition that the hash is not ours yet makes a retried attempt, whose earlier
	// attempt committed without an answer, fail instead of applying twice (which, with a
	// grace period, would copy the new hash over the replaced one); the item read back then
	// says the rotation is stored.
	w, err := s.updateWebhook(ctx, "rotate", id, &dynamodb.UpdateItemInput{
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("attribute_exists(pk) AND #h <> :h"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}, func(item map[string]types.AttributeValue) bool { return holdsHash(item, tokenHash) })
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(w.TokenHash, tokenHash) {
		// The write committed with ALL_NEW; anything else is a broken store, not a retry case.
		return nil, fmt.Errorf("rotate webhook %s: stored hash differs from the written one", id)
	}
	return w, nil
}

// SetAllowQueryToken turns the webhook's acceptance of ?token= on or off with one
// conditional UpdateItem and returns the webhook as written; an unknown id is
// lead.ErrNotFound.
func (s *Store) SetAllowQueryToken(ctx context.Context, id string, allow bool) (*lead.Webhook, error) {
	return s.updateWebhook(ctx, "update", id, &dynamodb.UpdateItemInput{
		UpdateExpression:          aws.String("SET #q = :q"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#q": attrAllowQueryToken},
		ExpressionAttributeValues: map[string]types.AttributeValue{":q": &types.AttributeValueMemberBOOL{Value: allow}},
	}, func(item map[string]types.AttributeValue) bool {
		q, _ := item[attrAllowQueryToken].(*types.AttributeValueMemberBOOL)
		return item != nil && (q != nil && q.Value) == allow
	})
}

// updateWebhook applies in (its expressions and a condition that includes the item's
// existence; the table, key and ALL_NEW are set here) to the webhook with the id, settled
// like every management write (applied says whether an item read back holds the update), and
// returns the webhook as written; a failed condition is lead.ErrNotFound.
func (s *Store) updateWebhook(ctx context.Context, op, id string, in *dynamodb.UpdateItemInput, applied func(map[string]types.AttributeValue) bool) (*lead.Webhook, error) {
	in.TableName, in.Key, in.ReturnValues = &s.table, webhookKey(id), types.ReturnValueAllNew
	var out *dynamodb.UpdateItemOutput
	stored, err := s.settleWrite(ctx, in.Key, func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
		var err error
		out, err = s.db.UpdateItem(ctx, in, optFns...)
		return err
	}, applied)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil, fmt.Errorf("%s webhook %s: %w", op, id, lead.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s webhook %s: %w", op, id, err)
	}
	if stored == nil {
		stored = out.Attributes
	}
	w, err := webhookFromItem(stored)
	if err != nil {
		return nil, fmt.Errorf("%s webhook %s: %w", op, id, err)
	}
	return w, nil
}

// DeleteWebhook deletes a webhook item with a conditional DeleteItem; an unknown id is
// lead.ErrNotFound.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	err := s.deleteItem(ctx, webhookKey(id))
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// ListWebhooks queries the organization's webhooks on gsi1, oldest first. The cursor is the
// query's LastEvaluatedKey as base64url JSON; a cursor that is not a key of this
// organization's listing is lead.ErrInvalidCursor. The index is eventually consistent: a
// webhook created a moment ago may show up a moment later.
func (s *Store) ListWebhooks(ctx context.Context, orgID string, limit int, cursor string) ([]*lead.Webhook, string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(GSI1Name),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :sk)"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrGSI1PK, "#sk": attrGSI1SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(orgPrefix + orgID), ":sk": str(webhookPrefix)},
		Limit:                     aws.Int32(int32(limit)),
	}
	if cursor != "" {
		start, err := decodeCursor(cursor, orgID)
		if err != nil {
			return nil, "", fmt.Errorf("list webhooks of organization %s: %w", orgID, err)
		}
		in.ExclusiveStartKey = start
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("list webhooks of organization %s: %w", orgID, err)
	}
	ws := make([]*lead.Webhook, 0, len(out.Items))
	for _, item := range out.Items {
		w, err := webhookFromItem(item)
		if err != nil {
			return nil, "", fmt.Errorf("list webhooks of organization %s: %w", orgID, err)
		}
		ws = append(ws, w)
	}
	next := ""
	if len(out.LastEvaluatedKey) > 0 {
		if next, err = encodeCursor(out.LastEvaluatedKey); err != nil {
			return nil, "", fmt.Errorf("list webhooks of organization %s: %w", orgID, err)
		}
	}
	return ws, next, nil
}

// cursorAttrs are the key attributes of a gsi1 LastEvaluatedKey: the index key and the
// table key.
var cursorAttrs = []string{attrPK, attrSK, attrGSI1PK, attrGSI1SK}

// maxCursorLen bounds what is decoded; a real cursor is a few hundred characters.
const maxCursorLen = 1024

func encodeCursor(key map[string]types.AttributeValue) (string, error) {
	m := make(map[string]string, len(cursorAttrs))
	for _, a := range cursorAttrs {
		s, ok := key[a].(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("encode cursor: key attribute %s missing or not a string", a)
		}
		m[a] = s.Value
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// decodeCursor turns a cursor back into an ExclusiveStartKey, checking that it is a webhook
// key of this organization's listing, so a cursor can never start a query elsewhere.
func decodeCursor(cursor, orgID string) (map[string]types.AttributeValue, error) {
	if len(cursor) > maxCursorLen {
		return nil, lead.ErrInvalidCursor
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil {
		return nil, lead.ErrInvalidCursor
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m map[string]string
	if err := dec.Decode(&m); err != nil || dec.More() || len(m) != len(cursorAttrs) {
		return nil, lead.ErrInvalidCursor
	}
	id, isWebhook := strings.CutPrefix(m[attrPK], webhookPrefix)
	switch {
	case !isWebhook || !lead.IsUUID(id),
		m[attrSK] != webhookSK,
		m[attrGSI1PK] != orgPrefix+orgID,
		!strings.HasPrefix(m[attrGSI1SK], webhookPrefix) || !strings.HasSuffix(m[attrGSI1SK], "#"+id):
		return nil, lead.ErrInvalidCursor
	}
	key := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		key[k] = str(v)
	}
	return key, nil
}

// The store implements the admin services' storage interfaces.
var (
	_ lead.WebhookStore = (*Store)(nil)
	_ lead.CatalogStore = (*Store)(nil)
	_ lead.IngestStore  = (*Store)(nil)
)
