package lead

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"
)

// ErrSchemaChanged is returned by IngestStore.PutEntry when the schema lock lost a race:
// another request locked one of the new keys (or the pool changed) first. Nothing was
// written; the caller re-reads the pool and checks again.
var ErrSchemaChanged = errors.New("pool schema changed concurrently")

// ErrIdempotencyKeyTaken is returned by IngestStore.PutEntry when another request with the
// same idempotency key committed first. Nothing was written; the caller replays that one.
// The store returns it as an *IdempotencyKeyTakenError carrying that request's record when
// the write's answer held it.
var ErrIdempotencyKeyTaken = errors.New("idempotency key already used")

// IdempotencyKeyTakenError is ErrIdempotencyKeyTaken with the record that holds the key, as
// the failed write returned it (nil when it did not).
type IdempotencyKeyTakenError struct {
	Record *IdempotencyRecord
}

// Error implements the error interface.
func (e *IdempotencyKeyTakenError) Error() string { return ErrIdempotencyKeyTaken.Error() }

// Is makes errors.Is(err, ErrIdempotencyKeyTaken) hold.
func (e *IdempotencyKeyTakenError) Is(target error) bool { return target == ErrIdempotencyKeyTaken }

// IdempotencyRecord remembers the first request with an Idempotency-Key for a webhook: the
// fingerprint of its content, the entry it created and a digest of that entry, so a repeat
// within the window gets the same answer and creates nothing. It is small whatever the
// lead's size: a repeat has the same content, so its entry is rebuilt from the repeat
// itself and the digest proves it the same; only when it is not (the pool's default lead
// state changed meanwhile…) is the stored entry read.
type IdempotencyRecord struct {
	WebhookID   string
	Key         string
	Fingerprint []byte // Fingerprint of the parsed body
	EntryID     string
	// Answer is the digest of the first request's entry (everything its 201 body shows);
	// nil in a record that has none. A record of an older digest only costs a read.
	Answer    []byte
	CreatedAt time.Time // the first request's "now": its entry's createdAt, to the second
	ExpiresAt time.Time
}

// IngestStore is what the ingest service needs from storage.
type IngestStore interface {
	// Webhook returns the webhook with the id (strongly consistent), or nil if none.
	Webhook(ctx context.Context, id string) (*Webhook, error)
	// Pool returns the pool and the organization's custom fields with the given ids (keyed
	// by id) in one read; the pool is nil if it does not exist.
	PoolWithFields(ctx context.Context, poolID, organizationID string, customFieldIDs []string) (*Pool, map[string]CustomField, error)
	// PutEntry commits the entry, locking lock.New in the pool schema and recording idem
	// (when not nil) in the same transaction. It returns ErrSchemaChanged when the schema
	// is no longer lock.Locked (a key of lock.New got locked meanwhile),
	// ErrIdempotencyKeyTaken when a live record for the key exists, and nil when an entry
	// with e.ID already exists (a retried write of its own that had committed).
	PutEntry(ctx context.Context, e *Entry, lock SchemaLock, idem *IdempotencyRecord) error
	// Idempotency returns the live (unexpired at now) record for a webhook's key, or nil.
	Idempotency(ctx context.Context, webhookID, key string, now time.Time) (*IdempotencyRecord, error)
	// Entry returns the entry of the pool with the id (strongly consistent), or nil.
	Entry(ctx context.Context, poolID, entryID string) (*Entry, error)
}

// SchemaLock is the schema a write was checked against, its version, and the keys the write
// adds to it.
type SchemaLock struct {
	Locked  Schema
	Version int64
	New     Schema
}

// Input is an authenticated ingest request, its body parsed by the API adapter: the lead,
// the caller's idempotency key ("" when none), whether it is a dry run, and, for the replay
// of a kept rejected request, that request's id (the entry write then deletes it).
type Input struct {
	Body           *Body
	IdempotencyKey string
	DryRun         bool
	RejectedID     string
	// RemoteIP is the sender's address, passed to a CAPTCHA provider ("" when unknown).
	RemoteIP string
}

// IngestResult is a stored (or replayed) entry: the adapter renders it as the 201 body.
type IngestResult struct {
	Entry *Entry
	// Replayed is true when the answer repeats an earlier request with the same
	// Idempotency-Key: Entry is the one that request stored; nothing was created.
	Replayed bool
	// DryRun is true for the answer to a dry run: Entry is what would have been stored
	// and NewSchemaKeys the keys it would have locked; nothing was written.
	DryRun        bool
	NewSchemaKeys Schema
	// KeysLocked is how many keys the entry added to the pool schema (locked their type).
	KeysLocked int
	// LockRetries is how often the write lost a schema lock race and was checked again.
	LockRetries int
	// Honeypot is true for the answer to a submission that filled the form's honeypot
	// field: Entry is made up and nothing was stored.
	Honeypot bool
}

// IdempotencyWindow is how long an Idempotency-Key is remembered.
const IdempotencyWindow = 24 * time.Hour

// IngestService turns authenticated requests into lead entries.
type IngestService struct {
	Store  IngestStore
	Hasher *Hasher
	Limits Limits
	Now    func() time.Time
	NewID  func() (string, error)

	// Rejected, when not nil, keeps the requests refused by the body, custom field, schema
	// or lead state checks (never those of a dry run), at most RejectedDailyMax per
	// webhook and UTC day, for RejectedRetention.
	Rejected          RejectedStore
	RejectedRetention time.Duration
	RejectedDailyMax  int

	// Native sources: Sealer opens signing secrets; Deliveries, when not nil,
	// remembers test deliveries.
	Sealer     Sealer
	Deliveries TestDeliveryStore
	// Captcha verifies the widget responses of webhooks whose form requires a CAPTCHA.
	Captcha CaptchaVerifier

	// Limiter, when not nil, enforces the webhooks' rate limits (Admit), judging by the
	// counts RateStore's webhook read returns; one per function instance.
	Limiter   *Limiter
	RateStore RateStore
}

// NewIngestService returns a service with the default limits, the wall clock and UUIDv7 ids.
func NewIngestService(store IngestStore, hasher *Hasher) *IngestService {
	return &IngestService{
		Store:  store,
		Hasher: hasher,
		Limits: DefaultLimits(),
		Now:    time.Now,
		NewID:  NewEntryID,

		RejectedRetention: RejectedRetention,
		RejectedDailyMax:  RejectedDailyMax,
	}
}

// maxLockAttempts bounds how often a request re-reads the schema after losing a lock race;
// each loss means another request locked a key, so the schema only grows towards a fixpoint.
const maxLockAttempts = 8

// BodyLimits are the limits a body is parsed within.
func (s *IngestService) BodyLimits() Limits { return s.Limits }

// Authenticate finds the webhook a request addresses and checks its token, in the
// documented order: token well-formed (401), webhook exists (404), token matches and, from
// the URL, is allowed there (401). Nothing about the body is looked at before it succeeds.
func (s *IngestService) Authenticate(ctx context.Context, webhookID, token string, fromQuery bool) (*Webhook, error) {
	if !WellFormedToken(token) {
		return nil, Errorf(EUNAUTHORIZED, "the token must be the 64 hex characters shown when the webhook was created or rotated")
	}
	wh, err := s.LookUp(ctx, webhookID)
	if err != nil {
		return nil, err
	}
	if fromQuery && !wh.AllowQueryToken {
		return nil, Errorf(EUNAUTHORIZED, "this webhook does not accept the token in the URL; send it in the x-rocketlead-ingress-token header")
	}
	if !s.Hasher.Verify(wh, token, s.Now()) {
		return nil, Errorf(EUNAUTHORIZED, "the token does not match this webhook")
	}
	return wh, nil
}

// Ingest checks an authenticated, parsed request against the pool (custom fields, schema,
// default lead state) and stores its entry, with its idempotency record when it carries a
// key; a dry run stores nothing. A repeat of a stored request with the same key gets that
// request's entry back (Replayed), even when the pool changed since so that its checks
// would now fail.
func (s *IngestService) Ingest(ctx context.Context, wh *Webhook, input Input) (*IngestResult, error) {
	if input.Body == nil {
		return nil, fmt.Errorf("ingest into webhook %s: the input carries no body", wh.ID)
	}
	now := s.Now()
	// The honeypot and widget fields leave the body first: neither is stored nor part of
	// the request's fingerprint (a retry carries a new widget response).
	screen := screenForm(wh.Form, input.Body)
	if screen.honeypot {
		return s.decoy(ctx, wh, input, now)
	}
	var idem *IdempotencyRecord
	if input.IdempotencyKey != "" && !input.DryRun {
		idem = &IdempotencyRecord{WebhookID: wh.ID, Key: input.IdempotencyKey, Fingerprint: Fingerprint(input.Body), CreatedAt: now, ExpiresAt: now.Add(IdempotencyWindow)}
	}
	var res *IngestResult
	var err error
	if wh.Form != nil && wh.Form.Captcha != nil {
		err = s.checkCaptcha(ctx, wh, input, screen.response)
	}
	if err == nil {
		res, err = s.store(ctx, wh, input, idem, now)
	}
	if code := ErrorCode(err); err != nil && idem != nil && code != EINTERNAL && code != EUNSETTLED && code != EKEYREUSED {
		// A repeat of a request that was stored gets its answer even when the pool changed
		// since so that its checks would now fail: the record is read only on this path.
		if rres, rerr := s.replayStored(ctx, wh, idem, nil, nil, now); rres != nil || rerr != nil {
			return rres, rerr
		}
	}
	return res, err
}

// store checks a parsed body against the pool and stores its entry, with its idempotency
// record when idem is not nil: the write is tried first, and a key already taken is answered
// from the record the failed write returned. A lost schema lock race reads the pool again.
func (s *IngestService) store(ctx context.Context, wh *Webhook, input Input, idem *IdempotencyRecord, now time.Time) (*IngestResult, error) {
	pool, e, err := s.newEntry(ctx, wh, input.Body, now)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		lock, err := s.prepare(e, pool, input.Body)
		if err != nil {
			return nil, err
		}
		if input.DryRun {
			return &IngestResult{Entry: e, DryRun: true, NewSchemaKeys: lock.New}, nil
		}
		res, err := s.write(ctx, wh, input, e, lock, idem, now)
		if !errors.Is(err, ErrSchemaChanged) {
			if res != nil {
				res.LockRetries = attempt - 1
			}
			return res, err
		}
		if attempt == maxLockAttempts {
			// Every lost race is another writer's commit: the pool is busy, nothing is stored.
			return nil, fmt.Errorf("store entry %s in pool %s (%d attempts): %w: %w", e.ID, pool.ID, attempt, Unavailable(), err)
		}
		// The schema the write was checked against is stale (a pool cache dropped it): read again.
		if pool, err = s.pool(ctx, wh, nil); err != nil {
			return nil, err
		}
	}
}

// pool reads the webhook's pool and the custom fields with the given ids.
func (s *IngestService) pool(ctx context.Context, wh *Webhook, customFieldIDs []string) (*Pool, error) {
	pool, _, err := s.poolWithFields(ctx, wh, customFieldIDs)
	return pool, err
}

func (s *IngestService) poolWithFields(ctx context.Context, wh *Webhook, customFieldIDs []string) (*Pool, map[string]CustomField, error) {
	pool, fields, err := s.Store.PoolWithFields(ctx, wh.PoolID, wh.OrganizationID, customFieldIDs)
	if err != nil {
		return nil, nil, fmt.Errorf("read pool %s: %w", wh.PoolID, err)
	}
	if pool == nil {
		return nil, nil, Errorf(ENOTFOUND, "the webhook's lead pool no longer exists")
	}
	return pool, fields, nil
}

// newEntry reads the pool, checks the custom field data against the organization's fields
// and returns the entry to store, with its id fixed before the first write attempt.
func (s *IngestService) newEntry(ctx context.Context, wh *Webhook, body *Body, now time.Time) (*Pool, *Entry, error) {
	pool, fields, err := s.poolWithFields(ctx, wh, body.CustomFieldIDs())
	if err != nil {
		return nil, nil, err
	}
	var customData map[string]any
	if len(body.CustomFieldData) > 0 {
		if customData, err = ValidateCustomFields(body.CustomFieldData, fields); err != nil {
			return nil, nil, err
		}
	}
	id, err := s.NewID()
	if err != nil {
		return nil, nil, err
	}
	return pool, &Entry{
		ID:              id,
		PoolID:          wh.PoolID,
		OrganizationID:  wh.OrganizationID,
		CustomFieldData: customData,
		CreatedAt:       now.UTC().Truncate(time.Second),
		WebhookID:       wh.ID,
	}, nil
}

// write commits a prepared entry (deleting the replayed rejected request with it, for a
// replay). ErrSchemaChanged passes through, for the caller to check again; a key already
// taken is answered as the request that took it was.
func (s *IngestService) write(ctx context.Context, wh *Webhook, input Input, e *Entry, lock SchemaLock, idem *IdempotencyRecord, now time.Time) (*IngestResult, error) {
	if idem != nil {
		idem.EntryID = e.ID
		idem.Answer = entryDigest(e)
	}
	var err error
	if input.RejectedID != "" {
		err = s.Rejected.PutReplayedEntry(ctx, e, lock, idem, wh.ID, input.RejectedID)
	} else {
		err = s.Store.PutEntry(ctx, e, lock, idem)
	}
	switch {
	case err == nil:
		return &IngestResult{Entry: e, KeysLocked: len(lock.New)}, nil
	case errors.Is(err, ErrIdempotencyKeyTaken):
		// An earlier request with the key won: answer as it did.
		var taken *IdempotencyKeyTakenError
		var rec *IdempotencyRecord
		if errors.As(err, &taken) {
			rec = taken.Record
		}
		if res, err := s.replayStored(ctx, wh, idem, rec, e, now); res != nil || err != nil {
			return res, err
		}
		return nil, fmt.Errorf("idempotency key of webhook %s taken, but its record is gone", wh.ID)
	case errors.Is(err, ErrRejectedGone), errors.Is(err, ErrSchemaChanged):
		return nil, err
	}
	return nil, fmt.Errorf("store entry %s in pool %s: %w", e.ID, e.PoolID, err)
}

// NewRejected returns the rejected request to keep for a request refused after
// authentication (its id fixed, its error body still to render by the adapter, naming that
// id), or nil when this service keeps none.
func (s *IngestService) NewRejected(wh *Webhook, contentType, idempotencyKey string, body []byte, refusal error) (*RejectedRequest, error) {
	if s.Rejected == nil {
		return nil, nil
	}
	id, err := s.NewID()
	if err != nil {
		return nil, fmt.Errorf("id of a rejected request: %w", err)
	}
	now := s.Now()
	return &RejectedRequest{
		ID:             id,
		WebhookID:      wh.ID,
		ReceivedAt:     now.UTC(),
		ContentType:    contentType,
		IdempotencyKey: idempotencyKey,
		Body:           body,
		ErrorReason:    errorReason(refusal),
		ExpiresAt:      now.Add(s.RejectedRetention),
	}, nil
}

// Keep stores a rejected request made by NewRejected, its ErrorBody rendered, within the
// webhook's daily maximum. The fate says whether it was kept (the answer then names its id)
// or why not; a request that cannot be kept still gets its 400, without rejectedId.
func (s *IngestService) Keep(ctx context.Context, r *RejectedRequest) RejectedFate {
	switch err := s.Rejected.KeepRejected(ctx, r, s.RejectedDailyMax); {
	case errors.Is(err, ErrRejectedQuotaFull):
		return RejectedFate{Why: "daily maximum reached"}
	case errors.Is(err, ErrRejectedUnsettled):
		// It may be kept: the answer names it, and says that it is unsettled.
		return RejectedFate{ID: r.ID, Unsettled: true, Why: "write unsettled: " + err.Error()}
	case err != nil:
		return RejectedFate{Why: "write failed: " + err.Error()}
	}
	return RejectedFate{ID: r.ID, Kept: true}
}

// replayStored answers a repeat from the record that holds its key (rec, or else the live
// record read from the store; none: nil, nil) with the first request's entry, for the same
// content; 422 naming the entry for other content. The entry is the repeat's own (prepared,
// when it got that far) under the first request's id and time, when the record's digest
// shows it to be the first one; otherwise the stored entry is read.
func (s *IngestService) replayStored(ctx context.Context, wh *Webhook, want, rec *IdempotencyRecord, prepared *Entry, now time.Time) (*IngestResult, error) {
	if rec == nil || !now.Before(rec.ExpiresAt) {
		var err error
		if rec, err = s.Store.Idempotency(ctx, want.WebhookID, want.Key, now); err != nil {
			return nil, fmt.Errorf("read idempotency record: %w", err)
		}
		if rec == nil {
			return nil, nil
		}
	}
	if subtle.ConstantTimeCompare(rec.Fingerprint, want.Fingerprint) != 1 {
		e := Errorf(EKEYREUSED, "this Idempotency-Key was already used with other content (entry %s)", rec.EntryID)
		e.EntryID = rec.EntryID
		return nil, e
	}
	if prepared != nil && len(rec.Answer) > 0 {
		again := *prepared
		again.ID = rec.EntryID
		again.CreatedAt = rec.CreatedAt.UTC().Truncate(time.Second)
		if bytes.Equal(entryDigest(&again), rec.Answer) {
			return &IngestResult{Entry: &again, Replayed: true}, nil
		}
	}
	entry, err := s.Store.Entry(ctx, wh.PoolID, rec.EntryID)
	if err != nil {
		return nil, fmt.Errorf("read entry %s for an idempotent replay: %w", rec.EntryID, err)
	}
	if entry == nil {
		return nil, fmt.Errorf("idempotency record of webhook %s names entry %s, which is gone", wh.ID, rec.EntryID)
	}
	return &IngestResult{Entry: entry, Replayed: true}, nil
}

// entryDigest is the SHA-256 of everything an entry's answer shows (its ids, data, custom
// field data, lead state and time), kept in the idempotency record: equal digests, equal
// answers. A record written with another digest (an older answer's) only costs a read.
func entryDigest(e *Entry) []byte {
	h := sha256.New()
	for _, s := range []string{"entry/1", e.ID, e.PoolID, e.OrganizationID, e.LeadStateID, FormatTime(e.CreatedAt)} {
		writeString(h, s)
	}
	fingerprintMap(h, e.Data, false)
	fingerprintMap(h, e.CustomFieldData, false)
	return h.Sum(nil)
}

// prepare checks the body against the pool as last read and fills the entry's data and
// lead state; it returns the keys the write must lock.
func (s *IngestService) prepare(e *Entry, pool *Pool, body *Body) (SchemaLock, error) {
	data, newKeys, err := pool.Schema.Apply(body.Data)
	if err != nil {
		return SchemaLock{}, err
	}
	if n := len(pool.Schema) + len(newKeys); len(newKeys) > 0 && n > s.Limits.MaxSchemaKeys {
		return SchemaLock{}, Invalid(fmt.Sprintf("the pool schema is full: %d new keys would make %d, at most %d", len(newKeys), n, s.Limits.MaxSchemaKeys),
			Detail{Path: "data", Problem: fmt.Sprintf("the pool's schema is full (at most %d keys); unlock keys no sender uses", s.Limits.MaxSchemaKeys)})
	}
	if pool.DefaultLeadStateID == "" || !pool.HasLeadState(pool.DefaultLeadStateID) {
		return SchemaLock{}, Errorf(ENOLEADSTATE, "the lead pool has no default lead state; set one in RocketLead")
	}
	e.Data = data
	e.LeadStateID = pool.DefaultLeadStateID
	return SchemaLock{Locked: pool.Schema, Version: pool.SchemaVersion, New: newKeys}, nil
}
