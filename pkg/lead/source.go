package lead

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// SourceRocketLead is the default source: the JSON body with data, authenticated by the token.
// The other sources are known by name only here; how each authenticates and
// reads its vendor's body is the API adapter's (package wire), told through SourceRules.
const SourceRocketLead = "rocketlead"

// MaxMappingKeys bounds a webhook's mapping.
const MaxMappingKeys = 100

// SourceSettings are a webhook's native source settings: the source, the optional mapping
// (data key → JSON Pointer), the sealed signing secret with its rotation grace, and the
// last test delivery. Sealed secrets are never shown.
type SourceSettings struct {
	Source                  string // "" reads as SourceRocketLead
	Mapping                 map[string]string
	SigningSecret           []byte // sealed
	PreviousSigningSecret   []byte // sealed; valid until PreviousSecretExpiresAt
	PreviousSecretExpiresAt time.Time
	SecretRotatedAt         time.Time
	LastTestDelivery        *TestDelivery
}

// SourceName is the webhook's source, SourceRocketLead when none was set.
func (s SourceSettings) SourceName() string {
	if s.Source == "" {
		return SourceRocketLead
	}
	return s.Source
}

// TestDelivery is the last test delivery a vendor sent (Google's "Send test data"): when,
// and what it would have got.
type TestDelivery struct {
	At     time.Time
	Result string
}

// SourceRules say what the adapter knows about sources: which exist, which authenticate by
// a signing secret, how one is generated, which secrets a vendor's UI produces, and which
// mappings a source can apply.
type SourceRules interface {
	// Known reports whether name is a source.
	Known(name string) bool
	// Names lists the sources, for messages.
	Names() []string
	// Signed reports whether the source authenticates by a signature with a signing secret.
	Signed(name string) bool
	// NewSecret generates a signing secret in the source's format.
	NewSecret(name string) (string, error)
	// CheckSecret says what is wrong with a secret taken from the vendor ("" when nothing).
	CheckSecret(name, secret string) string
	// CheckMapping says what is wrong with a mapping for the source, one detail per problem.
	CheckMapping(name string, mapping map[string]string) []Detail
}

// SourceStore is what the source settings need from storage; every write is conditional
// on the version read and increments it.
type SourceStore interface {
	// Webhook returns the webhook with the id (strongly consistent), or nil if none.
	Webhook(ctx context.Context, id string) (*Webhook, error)
	// SetSigningSecret replaces the sealed signing secret; with graceUntil not zero the
	// replaced one stays valid until then. ErrNotFound for an unknown id.
	SetSigningSecret(ctx context.Context, id string, sealed []byte, rotatedAt, graceUntil time.Time) (*Webhook, error)
	// RecordTestDelivery remembers the webhook's last test delivery.
	RecordTestDelivery(ctx context.Context, id string, d TestDelivery) error
}

// SigningSecretView is what the management API shows of a signing secret: whether one is
// configured and when it was last set, never the secret.
type SigningSecretView struct {
	Configured              bool
	RotatedAt               time.Time
	PreviousSecretExpiresAt time.Time
}

// SourceView is the source part of a webhook's summary.
type SourceView struct {
	Source           string
	Mapping          map[string]string
	SigningSecret    *SigningSecretView
	LastTestDelivery *TestDelivery
}

// viewSource summarises a webhook's source settings.
func viewSource(w *Webhook) SourceView {
	v := SourceView{Source: w.SourceName(), Mapping: w.Mapping, LastTestDelivery: w.LastTestDelivery}
	if len(w.SigningSecret) > 0 || w.Source != "" && w.Source != SourceRocketLead {
		v.SigningSecret = &SigningSecretView{Configured: len(w.SigningSecret) > 0}
		if !w.SecretRotatedAt.IsZero() {
			v.SigningSecret.RotatedAt = w.SecretRotatedAt.UTC()
		}
		if len(w.PreviousSigningSecret) > 0 && !w.PreviousSecretExpiresAt.IsZero() {
			v.SigningSecret.PreviousSecretExpiresAt = w.PreviousSecretExpiresAt.UTC()
		}
	}
	return v
}

// summarize is Summarize with the signing secret view only for a signed source (or one
// that has a secret).
func (s *WebhookAdmin) summarize(w *Webhook) WebhookSummary {
	sum := Summarize(w)
	sum.RateLimit, sum.RateBurst = s.rates().For(w)
	if sum.SigningSecret != nil && !sum.SigningSecret.Configured && (s.Rules == nil || !s.Rules.Signed(w.SourceName())) {
		sum.SigningSecret = nil
	}
	return sum
}

// SourceInput is the source part of a create or update: a nil field is left as it is
// (create: the default). SigningSecret is a secret taken from the vendor's UI.
type SourceInput struct {
	Source        *string
	Mapping       *map[string]string // a pointer to nil clears the mapping
	SigningSecret *string
}

// empty reports whether the input changes nothing.
func (in SourceInput) empty() bool {
	return in.Source == nil && in.Mapping == nil && in.SigningSecret == nil
}

// SecretRotation asks for a new signing secret: taken from the vendor when Secret is not
// empty, generated otherwise; GracePeriod keeps the replaced one valid that long.
type SecretRotation struct {
	WebhookID   string
	Secret      string
	GracePeriod time.Duration
}

// RotatedSecret is the answer of a signing secret change: the generated secret, shown this
// once (empty when the secret came from the vendor).
type RotatedSecret struct {
	ID                      string
	Source                  string
	SigningSecret           string
	RotatedAt               time.Time
	PreviousSecretExpiresAt time.Time
}

// sourceFields checks the source input of a create (current nil) or an update and returns
// the source, the mapping and the secret to seal ("" none, generated says it was generated).
func (s *WebhookAdmin) sourceFields(in SourceInput, current *Webhook) (source string, mapping map[string]string, secret string, generated bool, details []Detail) {
	source = SourceRocketLead
	if current != nil {
		source, mapping = current.SourceName(), current.Mapping
	}
	if in.Source != nil {
		source = strings.ToLower(strings.TrimSpace(*in.Source))
		if s.Rules == nil || !s.Rules.Known(source) {
			known := []string{SourceRocketLead}
			if s.Rules != nil {
				known = s.Rules.Names()
			}
			details = append(details, Detail{Path: "source", Problem: "unknown source; one of " + strings.Join(known, ", ")})
			return
		}
	}
	if in.Mapping != nil {
		mapping = *in.Mapping
		if len(mapping) == 0 {
			mapping = nil
		}
	}
	if len(mapping) > 0 {
		if len(mapping) > MaxMappingKeys {
			details = append(details, Detail{Path: "mapping", Problem: fmt.Sprintf("at most %d keys", MaxMappingKeys)})
		} else if s.Rules != nil {
			details = append(details, s.Rules.CheckMapping(source, mapping)...)
		}
	}
	signed := s.Rules != nil && s.Rules.Signed(source)
	switch {
	case in.SigningSecret != nil && !signed:
		details = append(details, Detail{Path: "signingSecret", Problem: "source " + source + " has no signing secret"})
	case in.SigningSecret != nil:
		secret = *in.SigningSecret
		if p := s.Rules.CheckSecret(source, secret); p != "" {
			details = append(details, Detail{Path: "signingSecret", Problem: p})
		}
	case signed && (current == nil || len(current.SigningSecret) == 0 || current.SourceName() != source):
		// A signed source gets a secret of its own at once, shown in this answer only.
		if s.Rules != nil {
			var err error
			if secret, err = s.Rules.NewSecret(source); err != nil {
				details = append(details, Detail{Path: "signingSecret", Problem: "could not be generated"})
			}
			generated = true
		}
	}
	return
}

// seal seals a webhook's signing secret (nil for "").
func (s *WebhookAdmin) seal(webhookID, secret string) ([]byte, error) {
	if secret == "" {
		return nil, nil
	}
	if s.Sealer == nil {
		return nil, fmt.Errorf("webhook %s: no secret sealer configured", webhookID)
	}
	return s.Sealer.Seal([]byte(secret), WebhookSealAD(webhookID))
}

// sourceChange checks the source part of an update against the webhook as it is and
// returns the change to write, with the secret generated for it ("" when none was generated:
// the vendor's secret is never shown back).
func (s *WebhookAdmin) sourceChange(ctx context.Context, id string, in SourceInput) (*SourceChange, string, error) {
	if s.Sources == nil {
		return nil, "", fmt.Errorf("update webhook %s: no source store configured", id)
	}
	current, err := s.Sources.Webhook(ctx, id)
	if err != nil {
		return nil, "", fmt.Errorf("update webhook %s: %w", id, err)
	}
	if current == nil {
		return nil, "", Errorf(ENOTFOUND, "no webhook has this id")
	}
	source, mapping, secret, generated, details := s.sourceFields(in, current)
	if len(details) > 0 {
		return nil, "", InvalidDetails(details...)
	}
	sealed, err := s.seal(id, secret)
	if err != nil {
		return nil, "", err
	}
	if !generated {
		secret = ""
	}
	return &SourceChange{Source: source, Mapping: mapping, SealedSecret: sealed, RotatedAt: s.Now().UTC().Truncate(time.Second)}, secret, nil
}

// RotateSigningSecret sets a new signing secret (generated, or the vendor's) for a webhook
// of a signed source; the replaced one stays valid for the grace period.
func (s *WebhookAdmin) RotateSigningSecret(ctx context.Context, in SecretRotation) (*RotatedSecret, error) {
	id, details := uuidField("id", in.WebhookID)
	details = append(details, graceDetails(in.GracePeriod)...)
	if len(details) > 0 {
		return nil, InvalidDetails(details...)
	}
	if s.Sources == nil || s.Rules == nil {
		return nil, fmt.Errorf("rotate signing secret of %s: no source store configured", id)
	}
	current, err := s.Sources.Webhook(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("rotate signing secret of %s: %w", id, err)
	}
	if current == nil {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	source := current.SourceName()
	if !s.Rules.Signed(source) {
		return nil, Invalid("source "+source+" authenticates without a signing secret; set a signed source first",
			Detail{Path: "source", Problem: "not a signed source"})
	}
	secret, generated := in.Secret, false
	if secret == "" {
		if secret, err = s.Rules.NewSecret(source); err != nil {
			return nil, fmt.Errorf("rotate signing secret of %s: %w", id, err)
		}
		generated = true
	} else if p := s.Rules.CheckSecret(source, secret); p != "" {
		return nil, Invalid("the signing secret is not one "+source+" issues", Detail{Path: "signingSecret", Problem: p})
	}
	sealed, err := s.seal(id, secret)
	if err != nil {
		return nil, err
	}
	now := s.Now().UTC().Truncate(time.Second)
	var graceUntil time.Time
	if in.GracePeriod > 0 && len(current.SigningSecret) > 0 {
		graceUntil = now.Add(in.GracePeriod)
	}
	w, err := s.Sources.SetSigningSecret(ctx, id, sealed, now, graceUntil)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	if err != nil {
		return nil, fmt.Errorf("rotate signing secret of %s: %w", id, err)
	}
	out := &RotatedSecret{ID: w.ID, Source: source, RotatedAt: now, PreviousSecretExpiresAt: graceUntil}
	if generated {
		out.SigningSecret = secret
	}
	return out, nil
}

// SigningSecrets returns the webhook's signing secrets in the clear: the current one and,
// while the rotation grace lasts, the previous one. A secret that does not open is an
// error (the key changed or the item was tampered with), never "no secret".
func (s *IngestService) SigningSecrets(wh *Webhook) ([][]byte, error) {
	var out [][]byte
	for _, sealed := range [][]byte{wh.SigningSecret, wh.PreviousSigningSecret} {
		if len(sealed) == 0 {
			continue
		}
		if s.Sealer == nil {
			return nil, fmt.Errorf("webhook %s: no secret sealer configured", wh.ID)
		}
		if len(out) == 1 && !s.Now().Before(wh.PreviousSecretExpiresAt) {
			break
		}
		plain, err := s.Sealer.Open(sealed, WebhookSealAD(wh.ID))
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %w", wh.ID, err)
		}
		out = append(out, plain)
	}
	return out, nil
}

// LookUp finds the webhook a request addresses, for a source that authenticates by
// signature or by a key in the body: 404 when there is none. The caller authenticates the
// request (SignatureInvalid) before anything else of it is reported.
func (s *IngestService) LookUp(ctx context.Context, webhookID string) (*Webhook, error) {
	if !IsUUID(webhookID) {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	var wh *Webhook
	var err error
	if s.Limiter != nil && s.RateStore != nil {
		wh, err = s.RateStore.WebhookCounted(ctx, strings.ToLower(webhookID), s.Limiter.Now().Unix()-RateWindowSeconds)
	} else {
		wh, err = s.Store.Webhook(ctx, strings.ToLower(webhookID))
	}
	if err != nil {
		return nil, fmt.Errorf("read webhook: %w", err)
	}
	if wh == nil {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	return wh, nil
}

// TokenMatches reports in constant time whether a token (a key a vendor puts in the body,
// such as Google's google_key) is the webhook's.
func (s *IngestService) TokenMatches(wh *Webhook, token string) bool {
	if !WellFormedToken(token) {
		var pad [TokenLen]byte
		subtle.ConstantTimeCompare(pad[:], pad[:])
		return false
	}
	return s.Hasher.Verify(wh, token, s.Now())
}

// SignatureInvalid is the 401 of a request whose signature (or body key) is missing,
// malformed, stale or wrong; why is for the message, never a secret.
func SignatureInvalid(why string) *Error {
	return &Error{Code: EUNAUTHORIZED, Reason: "Invalid webhook signature", Message: why}
}

// RecordTestDelivery remembers a vendor's test delivery on the webhook (best effort: the
// vendor's answer does not depend on it); result is the status it got, as text.
func (s *IngestService) RecordTestDelivery(ctx context.Context, wh *Webhook, result string) error {
	if s.Deliveries == nil {
		return nil
	}
	return s.Deliveries.RecordTestDelivery(ctx, wh.ID, TestDelivery{At: s.Now().UTC().Truncate(time.Second), Result: result})
}

// TestDeliveryStore remembers the last test delivery of a webhook.
type TestDeliveryStore interface {
	RecordTestDelivery(ctx context.Context, id string, d TestDelivery) error
}

// SortedSourceNames returns names sorted, SourceRocketLead first.
func SortedSourceNames(names []string) []string {
	out := append([]string(nil), names...)
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == SourceRocketLead) != (out[j] == SourceRocketLead) {
			return out[i] == SourceRocketLead
		}
		return out[i] < out[j]
	})
	return out
}

// Clock is the service's time, by which signature timestamps are judged.
func (s *IngestService) Clock() time.Time { return s.Now() }
