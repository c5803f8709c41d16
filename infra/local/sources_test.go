package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/vendors"
)

// TestRunnerTakesVendorDeliveries is a form vendor's setup over HTTP on the local runner:
// create a Webflow webhook with a generated signing secret, Webflow's signed delivery is
// answered 200 (and its redelivery too, storing nothing more), a stale one 401; PUT
// signing-secret sets the vendor's secret, which then signs.
func TestRunnerTakesVendorDeliveries(t *testing.T) {
	s := startRunner(t)
	base, _, _ := strings.Cut(s.URL, "/public/")
	code, created := callJSON(t, "POST", base+"/admin/ingress_webhooks", "",
		fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":"Webflow","source":"webflow"}`, s.OrganizationID, s.PoolID))
	secret, _ := created["newSigningSecret"].(string)
	if code != http.StatusCreated || secret == "" {
		t.Fatalf("create a webflow webhook: %d %v; want 201 with a generated secret", code, created)
	}
	url, _ := created["url"].(string)
	id, _ := created["id"].(string)
	body, err := vendors.Fixture("webflow.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(secret string, at time.Time) (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range vendors.Webflow(secret, body, at) {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, attempt := range []string{"delivery", "redelivery"} {
		if code, b := post(secret, time.Now()); code != http.StatusOK || !strings.Contains(b, `"Ada Lovelace"`) {
			t.Errorf("Webflow's %s: %d %s; want 200 with the entry", attempt, code, b)
		}
	}
	if code, b := post(secret, time.Now().Add(-10*time.Minute)); code != http.StatusUnauthorized || !strings.Contains(b, "Invalid webhook signature") {
		t.Errorf("a stale delivery: %d %s; want 401 Invalid webhook signature", code, b)
	}
	const vendorSecret = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f"
	if code, b := callJSON(t, "PUT", base+"/admin/ingress_webhooks/"+id+"/signing-secret", "", `{"signingSecret":"`+vendorSecret+`"}`); code != http.StatusOK || b["newSigningSecret"] != nil {
		t.Fatalf("PUT signing-secret with the vendor's: %d %v; want 200 without a secret", code, b)
	}
	if code, _ := post(secret, time.Now()); code != http.StatusUnauthorized {
		t.Errorf("the replaced secret: %d; want 401", code)
	}
	if code, b := post(vendorSecret, time.Now()); code != http.StatusOK {
		t.Errorf("the vendor's secret: %d %s; want 200", code, b)
	}
}
