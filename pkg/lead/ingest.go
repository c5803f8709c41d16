package lead

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ErrSchemaChanged is returned by IngestStore.PutEntry when the schema lock lost a race:
// another request locked one of the new keys (or the pool changed) first. Nothing was
// written; the caller re-reads the pool and checks again.
var ErrSchemaChanged = errors.New("pool schema changed concurrently")

// IngestStore is what the ingest service needs from storage.
type IngestStore interface {
	// Webhook returns the webhook with the id (strongly consistent), or nil if none.
	Webhook(ctx context.Context, id string) (*Webhook, error)
	// Pool returns the pool and the organization's custom fields with the given ids (keyed
	// by id) in one read; the pool is nil if it does not exist.
	Pool(ctx context.Context, tableID, organizationID string, customFieldIDs []string) (*Pool, map[string]CustomField, error)
	// PutEntry commits the entry, locking newKeys in the pool schema in the same
	// transaction when there are any. It returns ErrSchemaChanged when a key of newKeys is
	// already locked, and nil when an entry with e.ID already exists (a retried write of
	// its own that had committed).
	PutEntry(ctx context.Context, e *Entry, newKeys Schema) error
}

// IngestRequest is one POST to a webhook, as the API adapter hands it over.
type IngestRequest struct {
	WebhookID string
	// Token is the value of the single token header; TokenHeaders counts how many token
	// headers came (a repeated header is a 401).
	Token        string
	TokenHeaders int
	Body         []byte
	Base64       bool
}

// IngestService turns authenticated POSTs into lead entries.
type IngestService struct {
	Store  IngestStore
	Hasher *Hasher
	Limits Limits
	Now    func() time.Time
	NewID  func() (string, error)
}

// NewIngestService returns a service with the default limits, the wall clock and UUIDv7 ids.
func NewIngestService(store IngestStore, hasher *Hasher) *IngestService {
	return &IngestService{
		Store:  store,
		Hasher: hasher,
		Limits: DefaultLimits(),
		Now:    time.Now,
		NewID:  NewEntryID,
	}
}

// NewEntryID returns a UUIDv7, so entry sort keys follow creation time.
func NewEntryID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new entry id: %w", err)
	}
	return id.String(), nil
}

// maxLockAttempts bounds how often a request re-reads the schema after losing a lock race;
// each loss means another request locked a key, so the schema only grows towards a fixpoint.
const maxLockAttempts = 8

// Ingest authenticates the request, validates the body against the pool and stores one
// entry, in the order of checks of SPEC §2.1.
func (s *IngestService) Ingest(ctx context.Context, req IngestRequest) (*Entry, error) {
	if req.TokenHeaders != 1 || !WellFormedToken(req.Token) {
		return nil, Errorf(EUNAUTHORIZED, "send the webhook's token in the x-rocketlead-ingress-token header")
	}
	if !IsUUID(req.WebhookID) {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	wh, err := s.Store.Webhook(ctx, strings.ToLower(req.WebhookID))
	if err != nil {
		return nil, fmt.Errorf("read webhook: %w", err)
	}
	if wh == nil {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	now := s.Now()
	if !s.Hasher.Verify(wh, req.Token, now) {
		return nil, Errorf(EUNAUTHORIZED, "the token does not match this webhook")
	}

	raw, err := s.decodeBody(req)
	if err != nil {
		return nil, err
	}
	body, err := ParseBody(raw, s.Limits)
	if err != nil {
		return nil, err
	}

	pool, fields, err := s.Store.Pool(ctx, wh.TableID, wh.OrganizationID, body.CustomFieldIDs())
	if err != nil {
		return nil, fmt.Errorf("read pool %s: %w", wh.TableID, err)
	}
	if pool == nil {
		return nil, Errorf(ENOTFOUND, "the webhook's lead pool no longer exists")
	}
	var customData map[string]any
	if body.HasCustomFields {
		if customData, err = ValidateCustomFields(body.CustomFieldData, fields); err != nil {
			return nil, err
		}
	}

	id, err := s.NewID()
	if err != nil {
		return nil, err
	}
	e := &Entry{
		ID:              id,
		TableID:         wh.TableID,
		OrganizationID:  wh.OrganizationID,
		CustomFieldData: customData,
		CreatedAt:       now.UTC().Truncate(time.Second),
		WebhookID:       wh.ID,
	}
	for attempt := 1; ; attempt++ {
		newKeys, err := s.prepare(e, pool, body)
		if err != nil {
			return nil, err
		}
		err = s.Store.PutEntry(ctx, e, newKeys)
		if err == nil {
			return e, nil
		}
		if !errors.Is(err, ErrSchemaChanged) || attempt == maxLockAttempts {
			return nil, fmt.Errorf("store entry %s in pool %s: %w", e.ID, pool.ID, err)
		}
		if pool, _, err = s.Store.Pool(ctx, wh.TableID, wh.OrganizationID, nil); err != nil {
			return nil, fmt.Errorf("re-read pool %s: %w", wh.TableID, err)
		}
		if pool == nil {
			return nil, Errorf(ENOTFOUND, "the webhook's lead pool no longer exists")
		}
	}
}

// prepare checks the body against the pool as last read and fills the entry's data and
// lead state; it returns the keys the write must lock.
func (s *IngestService) prepare(e *Entry, pool *Pool, body *Body) (Schema, error) {
	data, newKeys, err := pool.Schema.Apply(body.Data)
	if err != nil {
		return nil, err
	}
	if n := len(pool.Schema) + len(newKeys); len(newKeys) > 0 && n > s.Limits.MaxSchemaKeys {
		return nil, invalid(fmt.Sprintf("the pool schema is full: %d new keys would make %d, at most %d", len(newKeys), n, s.Limits.MaxSchemaKeys),
			Detail{Path: "data", Problem: "too many distinct keys in this pool"})
	}
	if pool.DefaultLeadStateID == "" || !pool.HasLeadState(pool.DefaultLeadStateID) {
		return nil, Errorf(ENOLEADSTATE, "the lead pool has no default lead state; set one in RocketLead")
	}
	e.Data = data
	e.LeadStateID = pool.DefaultLeadStateID
	return newKeys, nil
}

func (s *IngestService) decodeBody(req IngestRequest) ([]byte, error) {
	max := s.Limits.MaxBodyBytes
	if !req.Base64 {
		if len(req.Body) > max {
			return nil, tooLarge(max)
		}
		return req.Body, nil
	}
	if base64.StdEncoding.DecodedLen(len(req.Body)) > max+2 {
		return nil, tooLarge(max)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(string(req.Body))
	if err != nil {
		return nil, invalid("the body is not valid base64", Detail{Path: "$", Problem: "invalid base64"})
	}
	if len(raw) > max {
		return nil, tooLarge(max)
	}
	return raw, nil
}

func tooLarge(max int) *Error {
	return Errorf(ETOOLARGE, "the body is larger than %d KiB", max>>10)
}
