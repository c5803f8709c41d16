package wire

import (
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// The JSON forms of the domain's answers: each View type names the fields the API, the
// event and rlctl --json show, and its View function fills it from the domain value. The
// domain types carry no JSON names of their own. Timestamps are the domain's (whole seconds
// in UTC), rendered as RFC 3339; a zero optional one is left out.

// EntryView is an entry as the 201 body of an ingest and the event render it: the webhook
// that created it is stored, not shown.
type EntryView struct {
	ID              string         `json:"id"`
	PoolID          string         `json:"tableId"`
	OrganizationID  string         `json:"organizationId"`
	Data            map[string]any `json:"data"`
	CustomFieldData map[string]any `json:"customFieldData,omitempty"`
	LeadStateID     string         `json:"leadStateId"`
	CreatedAt       time.Time      `json:"createdAt"`
}

// ViewEntry returns the wire form of e.
func ViewEntry(e *lead.Entry) EntryView {
	return EntryView{
		ID: e.ID, PoolID: e.PoolID, OrganizationID: e.OrganizationID, Data: e.Data,
		CustomFieldData: e.CustomFieldData, LeadStateID: e.LeadStateID, CreatedAt: e.CreatedAt,
	}
}

// TriggerView names what created an entry, in an event.
type TriggerView struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// EntryAddedView is the detail of a table.entry.added event: the entry exactly as the 201
// body renders it, and the trigger.
type EntryAddedView struct {
	Entry   *EntryView  `json:"entry"`
	Trigger TriggerView `json:"trigger"`
}

// ViewEntryAdded returns the event detail of a; a nil entry renders as null.
func ViewEntryAdded(a lead.EntryAdded) EntryAddedView {
	v := EntryAddedView{Trigger: TriggerView(a.Trigger)}
	if a.Entry != nil {
		e := ViewEntry(a.Entry)
		v.Entry = &e
	}
	return v
}

// EntryRefView identifies an entry without its data, in a truncated event.
type EntryRefView struct {
	ID             string    `json:"id"`
	PoolID         string    `json:"tableId"`
	OrganizationID string    `json:"organizationId"`
	LeadStateID    string    `json:"leadStateId"`
	CreatedAt      time.Time `json:"createdAt"`
}

// EntryAddedRefView is the detail of a table.entry.added event too large to publish whole:
// the entry's ids, the trigger and "truncated": true.
type EntryAddedRefView struct {
	Entry     EntryRefView `json:"entry"`
	Trigger   TriggerView  `json:"trigger"`
	Truncated bool         `json:"truncated"`
}

// ViewEntryAddedRef returns the event detail of the reference r.
func ViewEntryAddedRef(r lead.EntryAddedRef) EntryAddedRefView {
	return EntryAddedRefView{Entry: EntryRefView(r.Entry), Trigger: TriggerView(r.Trigger), Truncated: r.Truncated}
}

// WebhookView is a webhook as the management API and rlctl show it: never a token or a
// hash, the source settings flattened into it.
type WebhookView struct {
	ID                     string             `json:"id"`
	URL                    string             `json:"url,omitempty"`
	OrganizationID         string             `json:"organizationId"`
	PoolID                 string             `json:"tableId"`
	Name                   string             `json:"name"`
	CreatedAt              time.Time          `json:"createdAt"`
	RotatedAt              time.Time          `json:"rotatedAt,omitzero"`
	PreviousTokenExpiresAt time.Time          `json:"previousTokenExpiresAt,omitzero"`
	AllowQueryToken        bool               `json:"allowQueryToken"`
	Form                   *FormView          `json:"form,omitempty"`
	QueryTokenWarning      string             `json:"queryTokenWarning,omitempty"`
	Source                 string             `json:"source"`
	Mapping                map[string]string  `json:"mapping,omitempty"`
	SigningSecret          *SigningSecretView `json:"signingSecret,omitempty"`
	LastTestDelivery       *TestDeliveryView  `json:"lastTestDelivery,omitempty"`
	RateLimit              int                `json:"rateLimit"`
	RateBurst              int                `json:"rateBurst"`
	GeneratedSigningSecret string             `json:"newSigningSecret,omitempty"`
}

// FormView is a webhook's form settings as shown: whether a CAPTCHA is configured, never
// its secret.
type FormView struct {
	SuccessURL     string       `json:"successUrl,omitempty"`
	ErrorURL       string       `json:"errorUrl,omitempty"`
	HoneypotField  string       `json:"honeypotField,omitempty"`
	AllowedOrigins []string     `json:"allowedOrigins,omitempty"`
	Captcha        *CaptchaView `json:"captcha,omitempty"`
}

// CaptchaView is a form's CAPTCHA as shown.
type CaptchaView struct {
	Provider   string  `json:"provider"`
	Configured bool    `json:"configured"`
	MinScore   float64 `json:"minScore,omitempty"`
}

// SigningSecretView is what is shown of a signing secret: whether one is configured and
// when it was last set, never the secret.
type SigningSecretView struct {
	Configured              bool      `json:"configured"`
	RotatedAt               time.Time `json:"rotatedAt,omitzero"`
	PreviousSecretExpiresAt time.Time `json:"previousSecretExpiresAt,omitzero"`
}

// TestDeliveryView is the last test delivery a vendor sent, and what it would have got.
type TestDeliveryView struct {
	At     time.Time `json:"at"`
	Result string    `json:"result"`
}

// ViewWebhook returns the wire form of s.
func ViewWebhook(s lead.WebhookSummary) WebhookView {
	v := WebhookView{
		ID: s.ID, URL: s.URL, OrganizationID: s.OrganizationID, PoolID: s.PoolID, Name: s.Name,
		CreatedAt: s.CreatedAt, RotatedAt: s.RotatedAt, PreviousTokenExpiresAt: s.PreviousTokenExpiresAt,
		AllowQueryToken: s.AllowQueryToken, QueryTokenWarning: s.QueryTokenWarning,
		Source: s.Source, Mapping: s.Mapping, RateLimit: s.RateLimit, RateBurst: s.RateBurst,
		GeneratedSigningSecret: s.GeneratedSigningSecret,
	}
	if f := s.Form; f != nil {
		v.Form = &FormView{SuccessURL: f.SuccessURL, ErrorURL: f.ErrorURL, HoneypotField: f.HoneypotField, AllowedOrigins: f.AllowedOrigins}
		if c := f.Captcha; c != nil {
			v.Form.Captcha = &CaptchaView{Provider: string(c.Provider), Configured: c.Configured, MinScore: c.MinScore}
		}
	}
	if s.SigningSecret != nil {
		v.SigningSecret = &SigningSecretView{
			Configured: s.SigningSecret.Configured, RotatedAt: s.SigningSecret.RotatedAt,
			PreviousSecretExpiresAt: s.SigningSecret.PreviousSecretExpiresAt,
		}
	}
	if d := s.LastTestDelivery; d != nil {
		v.LastTestDelivery = &TestDeliveryView{At: d.At, Result: d.Result}
	}
	return v
}

// CreatedWebhookView is the answer of a create: the webhook and its token, shown this once.
type CreatedWebhookView struct {
	WebhookView
	Token string `json:"token"`
}

// ViewCreatedWebhook returns the wire form of c.
func ViewCreatedWebhook(c *lead.CreatedWebhook) CreatedWebhookView {
	return CreatedWebhookView{WebhookView: ViewWebhook(c.WebhookSummary), Token: c.Token}
}

// RotatedWebhookView is the answer of a token rotation: the new token, shown this once.
type RotatedWebhookView struct {
	ID                     string    `json:"id"`
	Token                  string    `json:"token"`
	RotatedAt              time.Time `json:"rotatedAt"`
	PreviousTokenExpiresAt time.Time `json:"previousTokenExpiresAt,omitzero"`
}

// ViewRotatedWebhook returns the wire form of r.
func ViewRotatedWebhook(r *lead.RotatedWebhook) RotatedWebhookView {
	return RotatedWebhookView{ID: r.ID, Token: r.Token, RotatedAt: r.RotatedAt, PreviousTokenExpiresAt: r.PreviousTokenExpiresAt}
}

// WebhookPageView is one page of a webhook listing; nextCursor is left out on the last.
type WebhookPageView struct {
	Webhooks   []WebhookView `json:"webhooks"`
	NextCursor string        `json:"nextCursor,omitempty"`
}

// ViewWebhookPage returns the wire form of p; an empty page lists [].
func ViewWebhookPage(p *lead.WebhookPage) WebhookPageView {
	return WebhookPageView{Webhooks: viewAll(p.Webhooks, ViewWebhook), NextCursor: p.NextCursor}
}

// viewAll returns the wire form of each of xs, in order: [] (never null) for none.
func viewAll[T, V any](xs []T, view func(T) V) []V {
	vs := make([]V, 0, len(xs))
	for _, x := range xs {
		vs = append(vs, view(x))
	}
	return vs
}

// RotatedSecretView is the answer of a signing secret change: the generated secret, shown
// this once, and left out when the secret came from the vendor.
type RotatedSecretView struct {
	ID                      string    `json:"id"`
	Source                  string    `json:"source"`
	SigningSecret           string    `json:"newSigningSecret,omitempty"`
	RotatedAt               time.Time `json:"rotatedAt"`
	PreviousSecretExpiresAt time.Time `json:"previousSecretExpiresAt,omitzero"`
}

// ViewRotatedSecret returns the wire form of r.
func ViewRotatedSecret(r *lead.RotatedSecret) RotatedSecretView {
	return RotatedSecretView{
		ID: r.ID, Source: r.Source, SigningSecret: r.SigningSecret,
		RotatedAt: r.RotatedAt, PreviousSecretExpiresAt: r.PreviousSecretExpiresAt,
	}
}

// SchemaView is a pool's schema as the schema administration answers it: each key and
// its type.
type SchemaView struct {
	PoolID   string      `json:"tableId"`
	Schema   lead.Schema `json:"schema"`
	KeyCount int         `json:"keyCount"`
}

// ViewSchema returns the wire form of s.
func ViewSchema(s *lead.SchemaView) SchemaView {
	return SchemaView{PoolID: s.PoolID, Schema: s.Schema, KeyCount: s.KeyCount}
}
