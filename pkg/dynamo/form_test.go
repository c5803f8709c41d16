package dynamo_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/secretkey"
)

// TestFormSettingsAreStoredWithTheSecretSealed: form settings round-trip through create and
// update (each update counting the version), the CAPTCHA secret opens only on the ingest
// read of a store with the sealer, and a store without one refuses to write a secret.
func TestFormSettingsAreStoredWithTheSecretSealed(t *testing.T) {
	ctx := context.Background()
	plain := newStore(t)
	sealer, err := secretkey.NewSealer([]byte(awstest.TokenKey))
	awstest.Must(t, err)
	s := plain.WithSealer(sealer)
	id := uuid.NewString()
	form := &lead.FormSettings{SuccessURL: "https://shop.example/thanks", HoneypotField: "_gotcha",
		AllowedOrigins: []string{"https://shop.example"}, Captcha: &lead.Captcha{Provider: lead.ReCAPTCHA, Secret: "s3cret", MinScore: 0.5}}
	w := &lead.Webhook{ID: id, OrganizationID: uuid.NewString(), PoolID: uuid.NewString(), Name: "n", TokenHash: []byte("h0"), CreatedAt: time.Now(), Form: form}
	if err := plain.CreateWebhook(ctx, w); err == nil {
		t.Fatal("a store without a sealer wrote a CAPTCHA secret")
	}
	awstest.Must(t, s.CreateWebhook(ctx, w))
	got, err := s.Webhook(ctx, id)
	awstest.Must(t, err)
	want := *form
	want.Captcha = &lead.Captcha{Provider: lead.ReCAPTCHA, Secret: "s3cret", MinScore: 0.5, Configured: true}
	if !reflect.DeepEqual(got.Form, &want) {
		t.Errorf("read back %+v (captcha %+v); want %+v", got.Form, got.Form.Captcha, want)
	}
	if sealedOnly, err := plain.Webhook(ctx, id); err != nil || sealedOnly.Form.Captcha.Secret != "" || !sealedOnly.Form.Captcha.Configured {
		t.Errorf("a store without the sealer read %+v, %v; want the secret left sealed", sealedOnly.Form.Captcha, err)
	}
	allow := true
	updated, err := s.UpdateWebhook(ctx, id, lead.WebhookChange{AllowQueryToken: &allow, SetForm: true, Form: &lead.FormSettings{HoneypotField: "_hp"}})
	awstest.Must(t, err)
	if updated.Version != 2 || !updated.AllowQueryToken || updated.Form == nil || updated.Form.HoneypotField != "_hp" || updated.Form.Captcha != nil {
		t.Errorf("update = version %d, %+v; want version 2 with the new form alone", updated.Version, updated.Form)
	}
	cleared, err := s.UpdateWebhook(ctx, id, lead.WebhookChange{SetForm: true})
	awstest.Must(t, err)
	if cleared.Version != 3 || cleared.Form != nil || !cleared.AllowQueryToken {
		t.Errorf("clearing the form = version %d, %+v; want version 3, no form, the rest unchanged", cleared.Version, cleared.Form)
	}
}

// TestOneUpdateSetsTheSourceAndTheFormInOneWrite: a change of the URL token, the source
// (with a sealed signing secret) and the form settings at once is one version-conditional
// write: the version counts one, and the item holds all of it, both secrets sealed with the
// one sealer and opened by it.
func TestOneUpdateSetsTheSourceAndTheFormInOneWrite(t *testing.T) {
	ctx := context.Background()
	sealer, err := secretkey.NewSealer([]byte(awstest.TokenKey))
	awstest.Must(t, err)
	s := newStore(t).WithSealer(sealer)
	id := uuid.NewString()
	awstest.Must(t, s.CreateWebhook(ctx, &lead.Webhook{ID: id, OrganizationID: uuid.NewString(), PoolID: uuid.NewString(), Name: "n", TokenHash: []byte("h0"), CreatedAt: time.Now()}))
	secret, err := sealer.Seal([]byte("whsec_vendor"), lead.WebhookSealAD(id))
	awstest.Must(t, err)
	allow := true
	at := time.Now().UTC().Truncate(time.Second)
	w, err := s.UpdateWebhook(ctx, id, lead.WebhookChange{
		AllowQueryToken: &allow,
		SetForm:         true,
		Form:            &lead.FormSettings{HoneypotField: "_gotcha", Captcha: &lead.Captcha{Provider: lead.Turnstile, Secret: "cf-secret"}},
		Source:          &lead.SourceChange{Source: "typeform", Mapping: map[string]string{"email": "/form_response/hidden/email"}, SealedSecret: secret, RotatedAt: at},
	})
	awstest.Must(t, err)
	if w.Version != 2 || !w.AllowQueryToken || w.Source != "typeform" || w.Mapping["email"] == "" || w.Form == nil || w.Form.HoneypotField != "_gotcha" {
		t.Fatalf("update = version %d, %+v, form %+v; want version 2 with the token opt-in, the source and the form", w.Version, w.SourceSettings, w.Form)
	}
	got, err := s.Webhook(ctx, id)
	awstest.Must(t, err)
	if plain, err := sealer.Open(got.SigningSecret, lead.WebhookSealAD(id)); err != nil || string(plain) != "whsec_vendor" {
		t.Errorf("stored signing secret opens to %q, %v; want the vendor's", plain, err)
	}
	if got.Form == nil || got.Form.Captcha == nil || got.Form.Captcha.Secret != "cf-secret" {
		t.Errorf("stored form %+v; want the CAPTCHA secret opened by the sealer", got.Form)
	}
	if !got.SecretRotatedAt.Equal(at) {
		t.Errorf("secretRotatedAt = %v; want %v", got.SecretRotatedAt, at)
	}
}
