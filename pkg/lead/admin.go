package lead

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors the admin stores return; the services turn them into coded *Error values.
var (
	// ErrNotFound means the item a write or read addressed does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidCursor means a list cursor could not be decoded or belongs to another listing.
	ErrInvalidCursor = errors.New("invalid list cursor")
	// ErrChanged means a conditional write found the item changed since it was read.
	ErrChanged = errors.New("item changed concurrently")
)

// Limits of the management operations.
const (
	// MaxNameLen is the longest name, in characters, of a webhook, pool, lead state or field.
	MaxNameLen = 200
	// MaxGracePeriod is the longest a rotated-out token may stay valid.
	MaxGracePeriod = 7 * 24 * time.Hour
	// DefaultListLimit and MaxListLimit bound one page of a webhook listing.
	DefaultListLimit = 50
	MaxListLimit     = 100
)

// WebhookStore is what the webhook admin service needs from storage.
type WebhookStore interface {
	// Pool returns the pool with the id, or nil if there is none.
	Pool(ctx context.Context, poolID string) (*Pool, error)
	// CreateWebhook writes a new webhook.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// RotateWebhook replaces the token hash in one conditional write and returns the
	// webhook as written. When graceUntil is not zero the replaced hash stays valid until
	// then; otherwise any previous hash is removed. It returns ErrNotFound for an unknown id.
	RotateWebhook(ctx context.Context, id string, tokenHash []byte, rotatedAt, graceUntil time.Time) (*Webhook, error)
	// ListWebhooks returns up to limit webhooks of the organization after the cursor (""
	// for the first page) and the cursor of the next page ("" when there is none). A
	// cursor it cannot decode is ErrInvalidCursor.
	ListWebhooks(ctx context.Context, organizationID string, limit int, cursor string) ([]*Webhook, string, error)
	// UpdateWebhook applies a change of settings in one write conditional on the version
	// read and returns the webhook as written; it returns ErrNotFound for an unknown id.
	UpdateWebhook(ctx context.Context, id string, ch WebhookChange) (*Webhook, error)
	// DeleteWebhook deletes a webhook; it returns ErrNotFound for an unknown id.
	DeleteWebhook(ctx context.Context, id string) error
}

// WebhookAdmin creates, rotates, lists and deletes webhooks. Hasher is needed by Create and
// Rotate only.
type WebhookAdmin struct {
	Store  WebhookStore
	Hasher *Hasher
	Now    func() time.Time
	NewID  func() (string, error)

	// Native sources: the adapter's rules, the store of source settings (the
	// same store, when it implements SourceStore) and the sealer of signing secrets.
	Rules   SourceRules
	Sources SourceStore
	Sealer  Sealer
	// Rates are the rate limit and burst of a webhook that sets none (zero: DefaultRates).
	Rates RateDefaults
}

// NewWebhookAdmin returns an admin service with the wall clock and UUIDv4 webhook ids;
// hasher may be nil for a service that only lists and deletes.
func NewWebhookAdmin(store WebhookStore, hasher *Hasher) *WebhookAdmin {
	a := &WebhookAdmin{Store: store, Hasher: hasher, Now: time.Now, NewID: NewID}
	a.Sources, _ = store.(SourceStore)
	return a
}

// CreateWebhookInput asks for a new webhook on a pool of an organization.
type CreateWebhookInput struct {
	OrganizationID string
	PoolID         string
	Name           string
	// AllowQueryToken lets senders that cannot set a header pass the token as ?token=.
	AllowQueryToken bool
	// Native source settings.
	SourceInput
	// Form, when not nil, are the webhook's public HTML form settings.
	Form *FormInput
	// Rate limit and burst (nil: the defaults).
	RateInput
}

// UpdateWebhookInput changes a webhook's settings; a nil field is left as it is.
type UpdateWebhookInput struct {
	WebhookID       string
	AllowQueryToken *bool
	// Native source settings.
	SourceInput
	// SetForm replaces the form settings with Form; a nil Form removes them.
	SetForm bool
	Form    *FormInput
	// Rate limit and burst.
	RateInput
}

// WebhookChange is one change of a webhook's stored settings, written at once: a nil
// AllowQueryToken is left as it is; with SetForm, Form replaces the form settings (nil:
// none); a non-nil Source sets the source settings.
type WebhookChange struct {
	AllowQueryToken *bool
	SetForm         bool
	Form            *FormSettings
	Source          *SourceChange
	// Rate, when not nil, sets the webhook's rate limit and burst (0: the default).
	Rate *RateChange
}

// RateChange is a webhook's rate limit and burst as stored; 0 stands for the default.
type RateChange struct {
	Limit int
	Burst int
}

// SourceChange sets a webhook's source and mapping (nil: none) and, when SealedSecret is
// not nil, its signing secret (any previous one dropped), rotated at RotatedAt.
type SourceChange struct {
	Source       string
	Mapping      map[string]string
	SealedSecret []byte
	RotatedAt    time.Time
}

// QueryTokenWarning is what the management API says about a webhook that accepts its token
// in the URL.
const QueryTokenWarning = "this webhook accepts its token in the URL (?token=): a URL with a token is a password in a URL; " +
	"it ends up in browser history, proxy and access logs and in any page that embeds it. " +
	"Prefer a server-side relay that sends the x-rocketlead-ingress-token header; if the URL leaks, rotate the token"

// RotateWebhookInput asks for a new token; GracePeriod (whole seconds, at most seven
// days) keeps the replaced token valid that long.
type RotateWebhookInput struct {
	WebhookID   string
	GracePeriod time.Duration
}

// ListWebhooksInput selects one page of an organization's webhooks; Limit 0 means the default.
type ListWebhooksInput struct {
	OrganizationID string
	Limit          int
	Cursor         string
}

// WebhookSummary is a webhook as the management API shows it: never a token or a hash.
// URL is filled by the caller, which knows where the public endpoint is served.
type WebhookSummary struct {
	ID                     string
	URL                    string
	OrganizationID         string
	PoolID                 string
	Name                   string
	CreatedAt              time.Time
	RotatedAt              time.Time
	PreviousTokenExpiresAt time.Time
	AllowQueryToken        bool
	// Form is the form settings, the CAPTCHA secret never shown.
	Form *FormSummary
	// QueryTokenWarning is set when AllowQueryToken is: what that exposes and the remedy.
	QueryTokenWarning string
	// Native source settings: never a secret.
	SourceView
	// RateLimit and RateBurst are the webhook's rate limit (requests per second) and burst,
	// its own or the defaults.
	RateLimit int
	RateBurst int
	// GeneratedSigningSecret is a signing secret the service just generated (create,
	// update to a signed source): shown in that answer only, never again.
	GeneratedSigningSecret string
}

// Summarize returns the webhook's public view.
func Summarize(w *Webhook) WebhookSummary {
	s := WebhookSummary{
		ID:             w.ID,
		OrganizationID: w.OrganizationID,
		PoolID:         w.PoolID,
		Name:           w.Name,
		CreatedAt:      w.CreatedAt.UTC(),
		SourceView:     viewSource(w),
		Form:           summarizeForm(w.Form),
	}
	s.RateLimit, s.RateBurst = DefaultRates().For(w)
	if w.AllowQueryToken {
		s.AllowQueryToken, s.QueryTokenWarning = true, QueryTokenWarning
	}
	if !w.RotatedAt.IsZero() {
		s.RotatedAt = w.RotatedAt.UTC()
	}
	if len(w.PreviousTokenHash) > 0 && !w.PreviousTokenExpiresAt.IsZero() {
		s.PreviousTokenExpiresAt = w.PreviousTokenExpiresAt.UTC()
	}
	return s
}

// CreatedWebhook is the result of a create: the only time the token is shown.
type CreatedWebhook struct {
	WebhookSummary
	Token string
}

// RotatedWebhook is the result of a rotation: the only time the new token is shown.
type RotatedWebhook struct {
	ID                     string
	Token                  string
	RotatedAt              time.Time
	PreviousTokenExpiresAt time.Time
}

// WebhookPage is one page of a listing; NextCursor is empty on the last page.
type WebhookPage struct {
	Webhooks   []WebhookSummary
	NextCursor string
}

// Create checks that the pool exists and belongs to the organization, and stores a new
// webhook with a fresh token, which only the result carries.
func (s *WebhookAdmin) Create(ctx context.Context, in CreateWebhookInput) (*CreatedWebhook, error) {
	var details []Detail
	orgID, d := uuidField("organizationId", in.OrganizationID)
	details = append(details, d...)
	poolID, d := uuidField("tableId", in.PoolID)
	details = append(details, d...)
	name, d := nameField("name", in.Name)
	details = append(details, d...)
	source, mapping, secret, generated, d := s.sourceFields(in.SourceInput, nil)
	details = append(details, d...)
	var form *FormSettings
	if in.Form != nil {
		form, d = in.Form.Settings()
		details = append(details, d...)
	}
	rate, d := in.RateInput.change(s.rates(), false)
	details = append(details, d...)
	if len(details) > 0 {
		return nil, InvalidDetails(details...)
	}
	if s.Hasher == nil {
		return nil, fmt.Errorf("create webhook: no token hasher configured")
	}
	pool, err := s.Store.Pool(ctx, poolID)
	if err != nil {
		return nil, fmt.Errorf("create webhook: read pool %s: %w", poolID, err)
	}
	if pool == nil || pool.OrganizationID != orgID {
		// One answer for both: a caller learns nothing about other organizations' pools.
		return nil, Invalid("the lead pool does not exist in this organization",
			Detail{Path: "tableId", Problem: "no lead pool with this id in the organization"})
	}
	id, err := s.NewID()
	if err != nil {
		return nil, err
	}
	token, err := NewToken()
	if err != nil {
		return nil, fmt.Errorf("create webhook: %w", err)
	}
	w := &Webhook{
		ID:              id,
		OrganizationID:  orgID,
		PoolID:          poolID,
		Name:            name,
		TokenHash:       s.Hasher.Hash(token),
		CreatedAt:       s.Now().UTC().Truncate(time.Second),
		AllowQueryToken: in.AllowQueryToken,
		Form:            form,
	}
	if rate != nil {
		w.RateLimit, w.RateBurst = rate.Limit, rate.Burst
	}
	if source != SourceRocketLead {
		w.Source, w.Mapping = source, mapping
	}
	if w.SigningSecret, err = s.seal(id, secret); err != nil {
		return nil, fmt.Errorf("create webhook: %w", err)
	}
	if len(w.SigningSecret) > 0 {
		w.SecretRotatedAt = w.CreatedAt
	}
	if err := s.Store.CreateWebhook(ctx, w); err != nil {
		return nil, fmt.Errorf("create webhook: %w", err)
	}
	out := &CreatedWebhook{WebhookSummary: s.summarize(w), Token: token}
	if generated {
		out.GeneratedSigningSecret = secret
	}
	return out, nil
}

// Rotate replaces the webhook's token in one conditional write: the old token fails from
// the next request on, or once the grace period is over.
func (s *WebhookAdmin) Rotate(ctx context.Context, in RotateWebhookInput) (*RotatedWebhook, error) {
	var details []Detail
	id, d := uuidField("id", in.WebhookID)
	details = append(details, d...)
	details = append(details, graceDetails(in.GracePeriod)...)
	if len(details) > 0 {
		return nil, InvalidDetails(details...)
	}
	if s.Hasher == nil {
		return nil, fmt.Errorf("rotate webhook %s: no token hasher configured", id)
	}
	token, err := NewToken()
	if err != nil {
		return nil, fmt.Errorf("rotate webhook %s: %w", id, err)
	}
	now := s.Now().UTC().Truncate(time.Second)
	var graceUntil time.Time
	if in.GracePeriod > 0 {
		graceUntil = now.Add(in.GracePeriod)
	}
	w, err := s.Store.RotateWebhook(ctx, id, s.Hasher.Hash(token), now, graceUntil)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	if err != nil {
		return nil, fmt.Errorf("rotate webhook %s: %w", id, err)
	}
	out := &RotatedWebhook{ID: w.ID, Token: token, RotatedAt: now}
	if !graceUntil.IsZero() {
		out.PreviousTokenExpiresAt = graceUntil
	}
	return out, nil
}

// List returns one page of the organization's webhooks, oldest first, without tokens or hashes.
func (s *WebhookAdmin) List(ctx context.Context, in ListWebhooksInput) (*WebhookPage, error) {
	var details []Detail
	orgID, d := uuidField("organizationId", in.OrganizationID)
	details = append(details, d...)
	limit := in.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 1 || limit > MaxListLimit {
		details = append(details, Detail{Path: "limit", Problem: fmt.Sprintf("must be between 1 and %d", MaxListLimit)})
	}
	if len(details) > 0 {
		return nil, InvalidDetails(details...)
	}
	ws, next, err := s.Store.ListWebhooks(ctx, orgID, limit, in.Cursor)
	if errors.Is(err, ErrInvalidCursor) {
		return nil, Invalid("the cursor is not one this listing returned",
			Detail{Path: "cursor", Problem: "invalid cursor; pass nextCursor of the previous page unchanged"})
	}
	if err != nil {
		return nil, fmt.Errorf("list webhooks of organization %s: %w", orgID, err)
	}
	page := &WebhookPage{Webhooks: make([]WebhookSummary, 0, len(ws)), NextCursor: next}
	for _, w := range ws {
		page.Webhooks = append(page.Webhooks, s.summarize(w))
	}
	return page, nil
}

// Update changes a webhook's settings (whether it accepts ?token=; its source, mapping and
// signing secret; its form settings) in one write and returns its summary. Turning the URL
// token off bites from the next request on; a token that was in a URL should still be
// rotated.
func (s *WebhookAdmin) Update(ctx context.Context, in UpdateWebhookInput) (*WebhookSummary, error) {
	id, details := uuidField("id", in.WebhookID)
	ch := WebhookChange{AllowQueryToken: in.AllowQueryToken, SetForm: in.SetForm}
	if in.AllowQueryToken == nil && !in.SetForm && in.SourceInput.empty() && in.RateInput.empty() {
		details = append(details, Detail{Path: "allowQueryToken", Problem: "required: true or false, unless form, a source or a rate setting is sent"})
	}
	if in.Form != nil {
		var d []Detail
		ch.Form, d = in.Form.Settings()
		details = append(details, d...)
	}
	var d []Detail
	ch.Rate, d = in.RateInput.change(s.rates(), true)
	details = append(details, d...)
	if len(details) > 0 {
		return nil, InvalidDetails(details...)
	}
	var secret string
	if !in.SourceInput.empty() {
		src, generated, err := s.sourceChange(ctx, id, in.SourceInput)
		if err != nil {
			return nil, err
		}
		ch.Source, secret = src, generated
	}
	w, err := s.Store.UpdateWebhook(ctx, id, ch)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	if err != nil {
		return nil, fmt.Errorf("update webhook %s: %w", id, err)
	}
	sum := s.summarize(w)
	sum.GeneratedSigningSecret = secret
	return &sum, nil
}

// Delete removes the webhook; its URL answers 404 from then on.
func (s *WebhookAdmin) Delete(ctx context.Context, webhookID string) error {
	id, details := uuidField("id", webhookID)
	if len(details) > 0 {
		return InvalidDetails(details...)
	}
	err := s.Store.DeleteWebhook(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Errorf(ENOTFOUND, "no webhook has this id")
	}
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// uuidField validates an id and returns it lower-cased, the form ids are stored in.
func uuidField(path, v string) (string, []Detail) {
	if v == "" {
		return "", []Detail{{Path: path, Problem: "required"}}
	}
	if !IsUUID(v) {
		return "", []Detail{{Path: path, Problem: "must be a UUID"}}
	}
	return strings.ToLower(v), nil
}

// nameField validates a display name: 1 to MaxNameLen characters once trimmed, no control
// characters. It returns the trimmed name.
func nameField(path, v string) (string, []Detail) {
	name := strings.TrimSpace(v)
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		return "", []Detail{{Path: path, Problem: "must be valid UTF-8"}}
	case n == 0:
		return "", []Detail{{Path: path, Problem: "required, 1 to 200 characters"}}
	case n > MaxNameLen:
		return "", []Detail{{Path: path, Problem: fmt.Sprintf("longer than %d characters", MaxNameLen)}}
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", []Detail{{Path: path, Problem: "must not contain control characters"}}
	}
	return name, nil
}

func graceDetails(d time.Duration) []Detail {
	if d < 0 || d > MaxGracePeriod || d%time.Second != 0 {
		return []Detail{{Path: "gracePeriodSeconds",
			Problem: fmt.Sprintf("must be a whole number of seconds from 0 to %d", int64(MaxGracePeriod/time.Second))}}
	}
	return nil
}
