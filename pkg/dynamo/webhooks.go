package dynamo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
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

// CreateWebhook writes a new webhook at version 1, on condition that its key is free (a
// deleted webhook's tombstone too refuses it); its organization's listing index keys are
// set too.
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
	putSourceSettings(item, w)
	if w.RateLimit > 0 {
		item[attrRateLimit] = number(int64(w.RateLimit))
	}
	if w.RateBurst > 0 {
		item[attrRateBurst] = number(int64(w.RateBurst))
	}
	if w.Form != nil {
		form, err := s.formAttr(w.ID, w.Form)
		if err != nil {
			return fmt.Errorf("create webhook %s: %w", w.ID, err)
		}
		item[attrForm] = form
	}
	item["gsi1pk"] = str(orgPrefix + w.OrganizationID)
	item["gsi1sk"] = str(webhookPrefix + lead.FormatTime(w.CreatedAt) + "#" + w.ID)
	// The answer of a committed write may be lost, and the retry that follows finds the
	// webhook there: the item read back says whether it is this very webhook.
	err := s.createItem(ctx, item, func(stored map[string]types.AttributeValue) bool { return holdsHash(stored, w.TokenHash) })
	if err != nil {
		return fmt.Errorf("create webhook %s: %w", w.ID, err)
	}
	w.Version = 1
	return nil
}

// holdsHash reports whether a webhook item exists with the token hash.
func holdsHash(item map[string]types.AttributeValue, hash []byte) bool {
	b, ok := item[attrTokenHash].(*types.AttributeValueMemberB)
	return ok && bytes.Equal(b.Value, hash)
}

// RotateWebhook replaces the token hash with one UpdateItem conditional on the version
// read, so concurrent rotations serialise on the item, the last committed one wins, and a
// rotation that reaches DynamoDB late (after a later change was answered) is refused. With
// a grace period the update copies the hash it replaces into previousTokenHash in the same
// write (DynamoDB evaluates SET a = b against the item as it was before the update), so
// nothing can slip in between. Without one, any previous hash is cleared.
func (s *Store) RotateWebhook(ctx context.Context, id string, tokenHash []byte, rotatedAt, graceUntil time.Time) (*lead.Webhook, error) {
	w, err := s.updateWebhook(ctx, "rotate", id, func() *dynamodb.UpdateItemInput {
		names := map[string]string{"#h": attrTokenHash, "#r": attrRotatedAt, "#ph": attrPreviousTokenHash, "#pe": attrPreviousExpiresAt}
		values := map[string]types.AttributeValue{
			":h": &types.AttributeValueMemberB{Value: tokenHash},
			":r": str(rotatedAt.UTC().Format(time.RFC3339Nano)),
		}
		// The previous hash is cleared by writing NULL, not by REMOVE: minidyn v0.8.2 (the
		// local runner and the tests) silently ignores a top-level REMOVE, which would leave
		// an old token valid. NULL decodes as "no previous token" everywhere.
		update := "SET #h = :h, #r = :r, #ph = :none, #pe = :none"
		values[":none"] = &types.AttributeValueMemberNULL{Value: true}
		if !graceUntil.IsZero() {
			// The copy comes first so that an evaluator applying actions in order (minidyn)
			// copies the old hash too.
			update = "SET #ph = #h, #pe = :e, #h = :h, #r = :r"
			delete(values, ":none")
			values[":e"] = str(graceUntil.UTC().Format(time.RFC3339Nano))
		}
		return &dynamodb.UpdateItemInput{
			UpdateExpression:          aws.String(update),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}
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

// SetAllowQueryToken turns the webhook's acceptance of ?token= on or off with one UpdateItem
// conditional on the version read, and returns the webhook as written; an unknown id is
// lead.ErrNotFound.
func (s *Store) SetAllowQueryToken(ctx context.Context, id string, allow bool) (*lead.Webhook, error) {
	return s.UpdateWebhook(ctx, id, lead.WebhookChange{AllowQueryToken: &allow})
}

// updateWebhook reads the webhook with the id and applies the update build makes (a SET
// expression with its names and values; the table, key, version condition, next version
// and ALL_NEW are added here) on the version read, settled like every management write
// (holds says whether an item read back holds the update), and returns the webhook as
// written; an unknown or deleted webhook is lead.ErrNotFound.
func (s *Store) updateWebhook(ctx context.Context, op, id string, build func() *dynamodb.UpdateItemInput, holds func(map[string]types.AttributeValue) bool) (*lead.Webhook, error) {
	var out *dynamodb.UpdateItemOutput
	stored, err := s.changeItem(ctx, webhookKey(id), func(_ map[string]types.AttributeValue, from int64) (func(context.Context, ...func(*dynamodb.Options)) error, func(map[string]types.AttributeValue) bool, error) {
		in := build()
		in.TableName, in.Key, in.ReturnValues = &s.table, webhookKey(id), types.ReturnValueAllNew
		in.ConditionExpression = new(string)
		withVersion(in.UpdateExpression, in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, from)
		return func(ctx context.Context, optFns ...func(*dynamodb.Options)) error {
			var err error
			out, err = s.db.UpdateItem(ctx, in, optFns...)
			return err
		}, holds, nil
	})
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

// DeleteWebhook replaces the webhook by its tombstone, conditional on the version read (see
// deleteItem): the webhook reads as not found and is no longer listed, and a create of it
// that arrives late is refused. An unknown id is lead.ErrNotFound.
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
