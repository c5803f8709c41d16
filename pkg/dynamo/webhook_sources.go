package dynamo

import (
	"bytes"
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// Attribute names of a webhook's native source settings. The signing secrets
// are sealed (lead.Sealer); nothing here is ever in the clear.
const (
	attrSource             = "source"
	attrMapping            = "mapping"
	attrSigningSecret      = "signingSecret"
	attrPrevSigningSecret  = "previousSigningSecret"
	attrPrevSecretExpires  = "previousSecretExpiresAt"
	attrSecretRotatedAt    = "secretRotatedAt"
	attrLastTestDeliveryAt = "lastTestDeliveryAt"
	attrLastTestResult     = "lastTestDeliveryResult"
)

// putSourceSettings adds a new webhook's source settings to its item.
func putSourceSettings(item map[string]types.AttributeValue, w *lead.Webhook) {
	if w.Source != "" {
		item[attrSource] = str(w.Source)
	}
	if len(w.Mapping) > 0 {
		item[attrMapping] = stringMapValue(w.Mapping)
	}
	if len(w.SigningSecret) > 0 {
		item[attrSigningSecret] = &types.AttributeValueMemberB{Value: w.SigningSecret}
		item[attrSecretRotatedAt] = str(w.SecretRotatedAt.UTC().Format(time.RFC3339Nano))
	}
}

// readSourceSettings reads a webhook item's source settings.
func readSourceSettings(r *itemReader) lead.SourceSettings {
	s := lead.SourceSettings{
		Source:                  r.optS(attrSource),
		SigningSecret:           r.optB(attrSigningSecret),
		PreviousSigningSecret:   r.optB(attrPrevSigningSecret),
		PreviousSecretExpiresAt: r.optTime(attrPrevSecretExpires),
		SecretRotatedAt:         r.optTime(attrSecretRotatedAt),
	}
	if m := r.stringMap(attrMapping); len(m) > 0 {
		s.Mapping = m
	}
	if at := r.optTime(attrLastTestDeliveryAt); !at.IsZero() {
		s.LastTestDelivery = &lead.TestDelivery{At: at, Result: r.optS(attrLastTestResult)}
	}
	return s
}

func stringMapValue(m map[string]string) types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = str(v)
	}
	return &types.AttributeValueMemberM{Value: out}
}

// holdsSecret reports whether a webhook item holds the sealed secret.
func holdsSecret(item map[string]types.AttributeValue, sealed []byte) bool {
	b, ok := item[attrSigningSecret].(*types.AttributeValueMemberB)
	return ok && bytes.Equal(b.Value, sealed)
}

// SetWebhookSource sets the webhook's source and mapping (a nil mapping clears it) and,
// when sealed is not nil, its signing secret (dropping any previous one): UpdateWebhook
// with a source change alone.
func (s *Store) SetWebhookSource(ctx context.Context, id, source string, mapping map[string]string, sealed []byte, rotatedAt time.Time) (*lead.Webhook, error) {
	return s.UpdateWebhook(ctx, id, lead.WebhookChange{Source: &lead.SourceChange{Source: source, Mapping: mapping, SealedSecret: sealed, RotatedAt: rotatedAt}})
}

// setSource adds a source change to an update's SET clauses, names and values. Cleared
// attributes are written as NULL, not removed (see RotateWebhook).
func setSource(c *lead.SourceChange, sets []string, names map[string]string, values map[string]types.AttributeValue) []string {
	none := &types.AttributeValueMemberNULL{Value: true}
	names["#src"], names["#map"] = attrSource, attrMapping
	values[":src"], values[":map"] = str(c.Source), none
	if len(c.Mapping) > 0 {
		values[":map"] = stringMapValue(c.Mapping)
	}
	sets = append(sets, "#src = :src", "#map = :map")
	if c.SealedSecret != nil {
		names["#sec"], names["#psec"], names["#pexp"], names["#srot"] = attrSigningSecret, attrPrevSigningSecret, attrPrevSecretExpires, attrSecretRotatedAt
		values[":sec"] = &types.AttributeValueMemberB{Value: c.SealedSecret}
		values[":srot"] = str(c.RotatedAt.UTC().Format(time.RFC3339Nano))
		values[":none"] = none
		sets = append(sets, "#sec = :sec", "#psec = :none", "#pexp = :none", "#srot = :srot")
	}
	return sets
}

// holdsSource reports whether a webhook item read back holds the source change.
func holdsSource(item map[string]types.AttributeValue, c *lead.SourceChange) bool {
	src, _ := item[attrSource].(*types.AttributeValueMemberS)
	return src != nil && src.Value == c.Source && (c.SealedSecret == nil || holdsSecret(item, c.SealedSecret))
}

// SetSigningSecret replaces the sealed signing secret with one UpdateItem conditional on
// the version read; with graceUntil not zero the replaced secret is copied into
// previousSigningSecret in the same write (as RotateWebhook does for tokens), otherwise
// any previous secret is cleared.
func (s *Store) SetSigningSecret(ctx context.Context, id string, sealed []byte, rotatedAt, graceUntil time.Time) (*lead.Webhook, error) {
	return s.updateWebhook(ctx, "rotate signing secret of", id, func() *dynamodb.UpdateItemInput {
		names := map[string]string{"#sec": attrSigningSecret, "#psec": attrPrevSigningSecret, "#pexp": attrPrevSecretExpires, "#srot": attrSecretRotatedAt}
		values := map[string]types.AttributeValue{
			":sec":  &types.AttributeValueMemberB{Value: sealed},
			":srot": str(rotatedAt.UTC().Format(time.RFC3339Nano)),
		}
		update := "SET #sec = :sec, #srot = :srot, #psec = :none, #pexp = :none"
		values[":none"] = &types.AttributeValueMemberNULL{Value: true}
		if !graceUntil.IsZero() {
			update = "SET #psec = #sec, #pexp = :e, #sec = :sec, #srot = :srot"
			delete(values, ":none")
			values[":e"] = str(graceUntil.UTC().Format(time.RFC3339Nano))
		}
		return &dynamodb.UpdateItemInput{UpdateExpression: aws.String(update), ExpressionAttributeNames: names, ExpressionAttributeValues: values}
	}, func(item map[string]types.AttributeValue) bool { return holdsSecret(item, sealed) })
}

// RecordTestDelivery remembers the webhook's last test delivery with one UpdateItem
// conditional on the version read (a later test delivery's record wins).
func (s *Store) RecordTestDelivery(ctx context.Context, id string, d lead.TestDelivery) error {
	at := d.At.UTC().Format(time.RFC3339Nano)
	_, err := s.updateWebhook(ctx, "record test delivery of", id, func() *dynamodb.UpdateItemInput {
		return &dynamodb.UpdateItemInput{
			UpdateExpression:          aws.String("SET #ta = :ta, #tr = :tr"),
			ExpressionAttributeNames:  map[string]string{"#ta": attrLastTestDeliveryAt, "#tr": attrLastTestResult},
			ExpressionAttributeValues: map[string]types.AttributeValue{":ta": str(at), ":tr": str(d.Result)},
		}
	}, func(item map[string]types.AttributeValue) bool {
		t, _ := item[attrLastTestDeliveryAt].(*types.AttributeValueMemberS)
		return t != nil && t.Value == at
	})
	return err
}

// The store keeps the source settings of webhooks and the test deliveries.
var (
	_ lead.SourceStore       = (*Store)(nil)
	_ lead.TestDeliveryStore = (*Store)(nil)
)
