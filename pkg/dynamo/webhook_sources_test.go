package dynamo_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// TestSourceSettingsAreVersionedWrites: a webhook's source, mapping, sealed signing secret
// and last test delivery are written with the webhook, each change counts the version, a
// rotation with grace keeps the replaced secret as the previous one, one without clears
// it, and a deleted webhook takes none of them.
func TestSourceSettingsAreVersionedWrites(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	w := &lead.Webhook{ID: uuid.NewString(), OrganizationID: uuid.NewString(), PoolID: uuid.NewString(), Name: "n", TokenHash: []byte("h0"), CreatedAt: now}
	w.Source, w.Mapping, w.SigningSecret, w.SecretRotatedAt = "typeform", map[string]string{"email": "/form_response/answers/0/email"}, []byte("sealed-1"), now
	awstest.Must(t, s.CreateWebhook(ctx, w))
	got, err := s.Webhook(ctx, w.ID)
	awstest.Must(t, err)
	if got.Source != "typeform" || got.Mapping["email"] == "" || !bytes.Equal(got.SigningSecret, []byte("sealed-1")) || !got.SecretRotatedAt.Equal(now) {
		t.Fatalf("created webhook reads back %+v", got.SourceSettings)
	}

	moved, err := s.SetWebhookSource(ctx, w.ID, "tally", nil, nil, now)
	awstest.Must(t, err)
	if moved.Version != 2 || moved.Source != "tally" || moved.Mapping != nil || !bytes.Equal(moved.SigningSecret, []byte("sealed-1")) {
		t.Errorf("after SetWebhookSource: version %d, %+v; want 2, tally, no mapping, the secret kept", moved.Version, moved.SourceSettings)
	}
	graced, err := s.SetSigningSecret(ctx, w.ID, []byte("sealed-2"), now, now.Add(time.Hour))
	awstest.Must(t, err)
	if graced.Version != 3 || !bytes.Equal(graced.SigningSecret, []byte("sealed-2")) || !bytes.Equal(graced.PreviousSigningSecret, []byte("sealed-1")) ||
		!graced.PreviousSecretExpiresAt.Equal(now.Add(time.Hour)) {
		t.Errorf("after a rotation with grace: %+v, version %d", graced.SourceSettings, graced.Version)
	}
	plain, err := s.SetSigningSecret(ctx, w.ID, []byte("sealed-3"), now, time.Time{})
	awstest.Must(t, err)
	if plain.Version != 4 || plain.PreviousSigningSecret != nil || !plain.PreviousSecretExpiresAt.IsZero() {
		t.Errorf("after a rotation without grace: %+v, version %d; want no previous secret", plain.SourceSettings, plain.Version)
	}
	awstest.Must(t, s.RecordTestDelivery(ctx, w.ID, lead.TestDelivery{At: now, Result: "200 OK: would be stored"}))
	tested, err := s.Webhook(ctx, w.ID)
	awstest.Must(t, err)
	if tested.Version != 5 || tested.LastTestDelivery == nil || tested.LastTestDelivery.Result != "200 OK: would be stored" {
		t.Errorf("after a test delivery: %+v, version %d", tested.LastTestDelivery, tested.Version)
	}
	withSecret, err := s.SetWebhookSource(ctx, w.ID, "webflow", map[string]string{"a": "/b"}, []byte("sealed-4"), now)
	awstest.Must(t, err)
	if !bytes.Equal(withSecret.SigningSecret, []byte("sealed-4")) || withSecret.PreviousSigningSecret != nil || withSecret.Mapping["a"] != "/b" {
		t.Errorf("a source change with a secret: %+v", withSecret.SourceSettings)
	}

	awstest.Must(t, s.DeleteWebhook(ctx, w.ID))
	if _, err := s.SetWebhookSource(ctx, w.ID, "tally", nil, nil, now); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("SetWebhookSource(deleted) = %v; want lead.ErrNotFound", err)
	}
	if _, err := s.SetSigningSecret(ctx, w.ID, []byte("x"), now, time.Time{}); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("SetSigningSecret(deleted) = %v; want lead.ErrNotFound", err)
	}
	if err := s.RecordTestDelivery(ctx, w.ID, lead.TestDelivery{At: now}); !errors.Is(err, lead.ErrNotFound) {
		t.Errorf("RecordTestDelivery(deleted) = %v; want lead.ErrNotFound", err)
	}
}
