package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// The wire forms of the domain values, rendered from fully populated values and from
// values whose optional fields are empty: a renamed field or a changed omitempty fails.
func TestViewsRenderTheDocumentedFields(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	later := at.Add(time.Hour)
	entry := &lead.Entry{
		ID: "e1", PoolID: "p1", OrganizationID: "o1",
		Data:            map[string]any{"email": "a@example.com", "age": lead.Number("42"), "tags": []string{"x"}, "ok": true, "none": nil},
		CustomFieldData: map[string]any{"cf1": "web"},
		LeadStateID:     "s1", CreatedAt: at, WebhookID: "w1",
	}
	bare := &lead.Entry{ID: "e2", PoolID: "p1", OrganizationID: "o1", Data: map[string]any{}, LeadStateID: "s1", CreatedAt: at, WebhookID: "w1"}
	full := lead.WebhookSummary{
		ID: "w1", URL: "https://x/public/ingress_webhooks/w1", OrganizationID: "o1", PoolID: "p1", Name: "n",
		CreatedAt: at, RotatedAt: later, PreviousTokenExpiresAt: later.Add(time.Hour), AllowQueryToken: true,
		Form: &lead.FormSummary{SuccessURL: "https://s", ErrorURL: "https://e", HoneypotField: "hp", AllowedOrigins: []string{"https://o"},
			Captcha: &lead.CaptchaSummary{Provider: lead.ReCAPTCHA, Configured: true, MinScore: 0.5}},
		QueryTokenWarning: "warn",
		SourceView: lead.SourceView{Source: "webflow", Mapping: map[string]string{"a": "b"},
			SigningSecret:    &lead.SigningSecretView{Configured: true, RotatedAt: later, PreviousSecretExpiresAt: later.Add(time.Hour)},
			LastTestDelivery: &lead.TestDelivery{At: at, Result: "200 OK"}},
		RateLimit: 20, RateBurst: 40, GeneratedSigningSecret: "sec",
	}
	minimal := lead.WebhookSummary{ID: "w2", OrganizationID: "o1", PoolID: "p1", Name: "m", CreatedAt: at,
		Form:       &lead.FormSummary{Captcha: &lead.CaptchaSummary{Provider: lead.Turnstile}},
		SourceView: lead.SourceView{Source: "rocketlead", SigningSecret: &lead.SigningSecretView{}}, RateLimit: 5, RateBurst: 5}
	const fullJSON = `{"id":"w1","url":"https://x/public/ingress_webhooks/w1","organizationId":"o1","tableId":"p1","name":"n",` +
		`"createdAt":"2026-03-01T09:30:00Z","rotatedAt":"2026-03-01T10:30:00Z","previousTokenExpiresAt":"2026-03-01T11:30:00Z",` +
		`"allowQueryToken":true,"form":{"successUrl":"https://s","errorUrl":"https://e","honeypotField":"hp",` +
		`"allowedOrigins":["https://o"],"captcha":{"provider":"recaptcha","configured":true,"minScore":0.5}},` +
		`"queryTokenWarning":"warn","source":"webflow","mapping":{"a":"b"},"signingSecret":{"configured":true,` +
		`"rotatedAt":"2026-03-01T10:30:00Z","previousSecretExpiresAt":"2026-03-01T11:30:00Z"},` +
		`"lastTestDelivery":{"at":"2026-03-01T09:30:00Z","result":"200 OK"},"rateLimit":20,"rateBurst":40,"newSigningSecret":"sec"`
	const minimalJSON = `{"id":"w2","organizationId":"o1","tableId":"p1","name":"m","createdAt":"2026-03-01T09:30:00Z",` +
		`"allowQueryToken":false,"form":{"captcha":{"provider":"turnstile","configured":false}},"source":"rocketlead",` +
		`"signingSecret":{"configured":false},"rateLimit":5,"rateBurst":5}`
	const entryJSON = `{"id":"e1","tableId":"p1","organizationId":"o1",` +
		`"data":{"age":42,"email":"a@example.com","none":null,"ok":true,"tags":["x"]},` +
		`"customFieldData":{"cf1":"web"},"leadStateId":"s1","createdAt":"2026-03-01T09:30:00Z"}`
	const bareJSON = `{"id":"e2","tableId":"p1","organizationId":"o1","data":{},"leadStateId":"s1","createdAt":"2026-03-01T09:30:00Z"}`
	const trigger = `"trigger":{"type":"ingress_webhook","id":"w1"}`

	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"entry", wire.ViewEntry(entry), entryJSON},
		{"entry without custom fields", wire.ViewEntry(bare), bareJSON},
		{"event", wire.ViewEntryAdded(lead.NewEntryAdded(entry)), `{"entry":` + entryJSON + `,` + trigger + `}`},
		{"event reference", wire.ViewEntryAddedRef(lead.NewEntryAdded(entry).Ref()),
			`{"entry":{"id":"e1","tableId":"p1","organizationId":"o1","leadStateId":"s1","createdAt":"2026-03-01T09:30:00Z"},` + trigger + `,"truncated":true}`},
		{"webhook", wire.ViewWebhook(full), fullJSON + `}`},
		{"webhook, optional fields empty", wire.ViewWebhook(minimal), minimalJSON},
		{"created webhook", wire.ViewCreatedWebhook(&lead.CreatedWebhook{WebhookSummary: full, Token: "tok"}), fullJSON + `,"token":"tok"}`},
		{"rotated webhook", wire.ViewRotatedWebhook(&lead.RotatedWebhook{ID: "w1", Token: "tok", RotatedAt: at, PreviousTokenExpiresAt: later}),
			`{"id":"w1","token":"tok","rotatedAt":"2026-03-01T09:30:00Z","previousTokenExpiresAt":"2026-03-01T10:30:00Z"}`},
		{"rotated webhook without grace", wire.ViewRotatedWebhook(&lead.RotatedWebhook{ID: "w1", Token: "tok", RotatedAt: at}),
			`{"id":"w1","token":"tok","rotatedAt":"2026-03-01T09:30:00Z"}`},
		{"webhook page", wire.ViewWebhookPage(&lead.WebhookPage{Webhooks: []lead.WebhookSummary{minimal}, NextCursor: "c"}),
			`{"webhooks":[` + minimalJSON + `],"nextCursor":"c"}`},
		{"last webhook page", wire.ViewWebhookPage(&lead.WebhookPage{Webhooks: []lead.WebhookSummary{}}), `{"webhooks":[]}`},
		{"schema", wire.ViewSchema(&lead.SchemaView{PoolID: "p1", Schema: lead.Schema{"age": lead.TypeNumber, "tags": lead.TypeStringList}, KeyCount: 2}),
			`{"tableId":"p1","schema":{"age":"number","tags":"string[]"},"keyCount":2}`},
		{"empty schema", wire.ViewSchema(&lead.SchemaView{PoolID: "p1", Schema: lead.Schema{}}), `{"tableId":"p1","schema":{},"keyCount":0}`},
		{"rotated secret", wire.ViewRotatedSecret(&lead.RotatedSecret{ID: "w1", Source: "tally", SigningSecret: "sec", RotatedAt: at, PreviousSecretExpiresAt: later}),
			`{"id":"w1","source":"tally","newSigningSecret":"sec","rotatedAt":"2026-03-01T09:30:00Z","previousSecretExpiresAt":"2026-03-01T10:30:00Z"}`},
		{"rotated vendor secret", wire.ViewRotatedSecret(&lead.RotatedSecret{ID: "w1", Source: "tally", RotatedAt: at}),
			`{"id":"w1","source":"tally","rotatedAt":"2026-03-01T09:30:00Z"}`},
	} {
		b, err := json.Marshal(c.v)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(b) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, b, c.want)
		}
	}
}
