package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/vendors"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
)

// TestCLISetsSourcesAndSigningSecrets: rlctl creates a webhook of a signed source (the
// generated secret printed once, and working), sets a vendor's secret with a grace period
// for the old one, changes the source and mapping, and lists the source; no later output
// shows a secret.
func TestCLISetsSourcesAndSigningSecrets(t *testing.T) {
	c := newCLI(t)
	org := uuid.NewString()
	var created struct {
		Pool struct {
			ID string `json:"id"`
		} `json:"pool"`
	}
	c.mustJSON(&created, "pool", "create", "--org", org, "--name", "Inbound")
	var hook struct {
		ID, Token, Source string
		Secret            string `json:"newSigningSecret"`
	}
	c.mustJSON(&hook, "webhook", "create", "--org", org, "--pool", created.Pool.ID, "--name", "Typeform", "--source", "typeform")
	if hook.Source != "typeform" || len(hook.Secret) < 32 {
		t.Fatalf("webhook create --source typeform = %+v; want the source and a generated secret", hook)
	}
	body, err := vendors.Fixture("typeform.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(secret string, raw []byte) int {
		h := vendors.Typeform(secret, raw)
		h["content-type"] = "application/json"
		return c.ingestRequest(apigw.Request{PathParameters: map[string]string{"id": hook.ID}, Body: string(raw), Headers: h})
	}
	if code := post(hook.Secret, body); code != http.StatusCreated {
		t.Errorf("signed with the generated secret: %d; want 201", code)
	}
	const vendorSecret = "typeform-secret-set-in-the-vendor-ui"
	out := c.mustJSON(nil, "webhook", "signing-secret", "--id", hook.ID, "--secret", vendorSecret, "--grace", "1h")
	if !strings.Contains(out, "previousSecretExpiresAt") {
		t.Errorf("signing-secret --grace 1h = %s; want the old secret's end", out)
	}
	second := []byte(strings.Replace(string(body), "a3a12ec67a1365927098a606107fac15", "b3a12ec67a1365927098a606107fac16", -1))
	if code := post(hook.Secret, second); code != http.StatusCreated {
		t.Errorf("the old secret in its grace: %d; want 201", code)
	}
	third := []byte(strings.Replace(string(body), "a3a12ec67a1365927098a606107fac15", "c3a12ec67a1365927098a606107fac17", -1))
	if code := post(vendorSecret, third); code != http.StatusCreated {
		t.Errorf("the vendor's secret: %d; want 201", code)
	}
	outs := []string{out}
	outs = append(outs, c.mustJSON(nil, "webhook", "set", "--id", hook.ID, "--mapping", `{"mail":"/form_response/answers/2/email"}`))
	table, err := c.run("webhook", "list", "--org", org)
	if err != nil || !strings.Contains(table, "typeform") {
		t.Errorf("webhook list = %q, %v; want the source", table, err)
	}
	outs = append(outs, table, c.mustJSON(nil, "webhook", "list", "--org", org))
	var moved struct {
		Source string
		Secret string `json:"newSigningSecret"`
	}
	c.mustJSON(&moved, "webhook", "set", "--id", hook.ID, "--source", "standard-webhooks", "--mapping", "null")
	if moved.Source != "standard-webhooks" || !strings.HasPrefix(moved.Secret, "whsec_") {
		t.Errorf("webhook set --source standard-webhooks = %+v; want a whsec_ secret generated", moved)
	}
	for _, o := range outs {
		for _, s := range []string{hook.Secret, vendorSecret} {
			if strings.Contains(o, s) {
				t.Errorf("a later output shows a secret: %s", o)
			}
		}
	}
	if _, err := c.run("webhook", "set", "--id", hook.ID); err == nil {
		t.Errorf("webhook set with nothing to set succeeded")
	}
}
