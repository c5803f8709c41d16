package lead

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
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
// fingerprint of its content, the entry it created and a digest of its answer, so a repeat
// within the window gets the same answer and creates nothing. It is small whatever the
// lead's size: a repeat has the same content, so its answer is rebuilt from the repeat
// itself and the digest proves it byte-identical; only when it is not (the pool's default
// lead state changed meanwhile…) is the stored entry read.
type IdempotencyRecord struct {
	WebhookID   string
	Key         string
	Fingerprint []byte // Fingerprint of the parsed body
	EntryID     string
	// Answer is the SHA-256 of the first request's 201 body; nil in a record that has none.
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

// Payload is a request body as it arrived, not yet decoded. The API adapter implements it
// for each content type it accepts; the service asks for the bytes and the decoded body
// only once the caller is authenticated, so a caller without a valid token learns nothing
// from the body checks.
type Payload interface {
	// Bytes returns the body with any transport encoding (base64) undone: the bytes an
	// idempotency key is checked against. A body of more than max bytes is an ETOOLARGE
	// *Error, a broken transport encoding an EINVALID one, a content type the API does not
	// accept an EUNSUPPORTED one.
	Bytes(max int) ([]byte, error)
	// Decode parses the body into lead fields within the limits, the body size included;
	// every failure is a coded *Error.
	Decode(lim Limits) (*Body, error)
}

// IngestCommand is one request to create a lead entry, as the API adapter read it.
type IngestCommand struct {
	// WebhookID is the webhook addressed, as sent (not yet checked to be a UUID).
	WebhookID string
	// Token is the webhook token the caller presented.
	Token string
	// TokenFromQuery is true when the token came from the URL (?token=) rather than the
	// header: accepted only by a webhook that opted in.
	TokenFromQuery bool
	// DryRun asks for every check and no write: no entry, no schema lock, no idempotency
	// record. The result carries the entry that would be stored and the keys it would lock.
	DryRun bool
	// QueryErr, when not nil, is why the adapter could not accept a query parameter (a
	// dryRun that is neither true nor false…), reported after authentication like
	// IdempotencyKeyErr.
	QueryErr error
	// IdempotencyKey is the caller's idempotency key, "" when none was sent.
	IdempotencyKey string
	// IdempotencyKeyErr, when not nil, is why the adapter could not accept the idempotency
	// key (sent twice, not printable ASCII…): a coded error reported after authentication
	// and the body size check, in the place of the key's own checks.
	IdempotencyKeyErr error
	// Payload is the undecoded body.
	Payload Payload
	// ContentType is the Content-Type header as sent ("" when none), kept with a rejected
	// request so that a replay parses its body the same way.
	ContentType string
	// RequestID identifies the request in its error body.
	RequestID string
}

// IngestResult is a stored (or replayed) entry and its 201 body.
type IngestResult struct {
	Entry *Entry // nil for a replay, whose body is all there is
	Body  []byte
	// Replayed is true when the answer repeats an earlier request with the same
	// Idempotency-Key; nothing was created.
	Replayed bool
	// DryRun is true for the answer to a dry run: Entry is what would have been stored
	// (Body is empty) and NewSchemaKeys the keys it would have locked; nothing was written.
	DryRun        bool
	NewSchemaKeys Schema
	// KeysLocked is how many keys the entry added to the pool schema (locked their type).
	KeysLocked int
	// LockRetries is how often the write lost a schema lock race and was checked again.
	LockRetries int
}

// IdempotencyWindow is how long an Idempotency-Key is remembered.
const IdempotencyWindow = 24 * time.Hour

// IngestService turns authenticated requests into lead entries. Render writes an entry as
// the API answers it (the 201 body, also kept for idempotent replays): that representation
// is the adapter's, the service only stores it.
type IngestService struct {
	Store  IngestStore
	Hasher *Hasher
	Render func(*Entry) ([]byte, error)
	Limits Limits
	Now    func() time.Time
	NewID  func() (string, error)

	// Rejected, when not nil, keeps the requests refused by the body, custom field, schema
	// or lead state checks (never those of a dry run), at most RejectedDailyMax per
	// webhook and UTC day, for RejectedRetention. RenderError writes the error body such a
	// request is answered with (kept with it); NewPayload rebuilds a kept body for a replay.
	Rejected          RejectedStore
	RejectedRetention time.Duration
	RejectedDailyMax  int
	RenderError       func(err error, requestID string) ([]byte, error)
	NewPayload        func(contentType string, body []byte) Payload
}

// NewIngestService returns a service with the default limits, the wall clock and UUIDv7 ids.
func NewIngestService(store IngestStore, hasher *Hasher, render func(*Entry) ([]byte, error)) *IngestService {
	return &IngestService{
		Store:  store,
		Hasher: hasher,
		Render: render,
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

// Ingest authenticates the request, validates the body against the pool and stores one
// entry, in the documented order: token well-formed, webhook exists, token matches, then
// the body (size, idempotency key, shape, custom fields, schema, default lead state).
// Nothing about the body is looked at before the caller is authenticated.
func (s *IngestService) Ingest(ctx context.Context, cmd IngestCommand) (*IngestResult, error) {
	if !WellFormedToken(cmd.Token) {
		return nil, Errorf(EUNAUTHORIZED, "the token must be the 64 hex characters shown when the webhook was created or rotated")
	}
	if !IsUUID(cmd.WebhookID) {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	wh, err := s.Store.Webhook(ctx, strings.ToLower(cmd.WebhookID))
	if err != nil {
		return nil, fmt.Errorf("read webhook: %w", err)
	}
	if wh == nil {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	if cmd.TokenFromQuery && !wh.AllowQueryToken {
		return nil, Errorf(EUNAUTHORIZED, "this webhook does not accept the token in the URL; send it in the x-rocketlead-ingress-token header")
	}
	now := s.Now()
	if !s.Hasher.Verify(wh, cmd.Token, now) {
		return nil, Errorf(EUNAUTHORIZED, "the token does not match this webhook")
	}

	if cmd.Payload == nil {
		return nil, fmt.Errorf("ingest into webhook %s: the command carries no payload", wh.ID)
	}
	raw, err := cmd.Payload.Bytes(s.Limits.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if cmd.IdempotencyKeyErr != nil {
		return nil, cmd.IdempotencyKeyErr
	}
	if cmd.QueryErr != nil {
		return nil, cmd.QueryErr
	}
	res, err := s.ingest(ctx, wh, ingestInput{raw: raw, payload: cmd.Payload, idempotencyKey: cmd.IdempotencyKey, requestID: cmd.RequestID, dryRun: cmd.DryRun})
	if err != nil && Kept(err) && s.Rejected != nil && !cmd.DryRun {
		return nil, s.keep(ctx, wh, cmd, raw, now, err)
	}
	return res, err
}

// ingestInput is an authenticated request body: a new one, or a rejected one replayed
// (rejectedID set: the entry write then deletes it).
type ingestInput struct {
	raw            []byte
	payload        Payload
	idempotencyKey string
	requestID      string
	dryRun         bool
	rejectedID     string
}

// ingest checks an authenticated body (idempotency key, shape, custom fields, schema,
// default lead state) and stores its entry.
func (s *IngestService) ingest(ctx context.Context, wh *Webhook, in ingestInput) (*IngestResult, error) {
	now := s.Now()
	body, err := in.payload.Decode(s.Limits)
	if err != nil {
		return nil, err
	}
	var idem *IdempotencyRecord
	if in.idempotencyKey != "" && !in.dryRun {
		idem = &IdempotencyRecord{WebhookID: wh.ID, Key: in.idempotencyKey, Fingerprint: Fingerprint(body), CreatedAt: now, ExpiresAt: now.Add(IdempotencyWindow)}
	}
	res, err := s.store(ctx, wh, in, body, idem, now)
	if code := ErrorCode(err); err != nil && idem != nil && code != EINTERNAL && code != EUNSETTLED && code != EKEYREUSED {
		// A repeat of a request that was stored gets its answer even when the pool changed
		// since so that its checks would now fail: the record is read only on this path.
		if rres, rerr := s.replayStored(ctx, wh, idem, nil, nil, now); rres != nil || rerr != nil {
			return rres, rerr
		}
	}
	return res, err
}

// store checks a decoded body against the pool and stores its entry, with its idempotency
// record when idem is not nil: the write is tried first, and a key already taken is answered
// from the record the failed write returned.
func (s *IngestService) store(ctx context.Context, wh *Webhook, in ingestInput, body *Body, idem *IdempotencyRecord, now time.Time) (*IngestResult, error) {
	pool, fields, err := s.Store.PoolWithFields(ctx, wh.PoolID, wh.OrganizationID, body.CustomFieldIDs())
	if err != nil {
		return nil, fmt.Errorf("read pool %s: %w", wh.PoolID, err)
	}
	if pool == nil {
		return nil, Errorf(ENOTFOUND, "the webhook's lead pool no longer exists")
	}
	var customData map[string]any
	if len(body.CustomFieldData) > 0 {
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
		PoolID:          wh.PoolID,
		OrganizationID:  wh.OrganizationID,
		CustomFieldData: customData,
		CreatedAt:       now.UTC().Truncate(time.Second),
		WebhookID:       wh.ID,
	}
	for attempt := 1; ; attempt++ {
		lock, err := s.prepare(e, pool, body)
		if err != nil {
			return nil, err
		}
		if in.dryRun {
			return &IngestResult{Entry: e, DryRun: true, NewSchemaKeys: lock.New}, nil
		}
		res := &IngestResult{Entry: e, KeysLocked: len(lock.New), LockRetries: attempt - 1}
		if res.Body, err = s.Render(e); err != nil {
			return nil, fmt.Errorf("render entry %s: %w", e.ID, err)
		}
		if idem != nil {
			idem.EntryID = e.ID
			idem.Answer = answerDigest(res.Body)
		}
		if in.rejectedID != "" {
			err = s.Rejected.PutReplayedEntry(ctx, e, lock, idem, wh.ID, in.rejectedID)
		} else {
			err = s.Store.PutEntry(ctx, e, lock, idem)
		}
		if err == nil {
			return res, nil
		}
		if errors.Is(err, ErrIdempotencyKeyTaken) {
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
		}
		if errors.Is(err, ErrRejectedGone) {
			return nil, err
		}
		if !errors.Is(err, ErrSchemaChanged) {
			return nil, fmt.Errorf("store entry %s in pool %s: %w", e.ID, pool.ID, err)
		}
		if attempt == maxLockAttempts {
			// Every lost race is another writer's commit: the pool is busy, nothing is stored.
			return nil, fmt.Errorf("store entry %s in pool %s (%d attempts): %w: %w", e.ID, pool.ID, attempt, Unavailable(), err)
		}
		// The schema the write was checked against is stale (a pool cache dropped it): read again.
		if pool, _, err = s.Store.PoolWithFields(ctx, wh.PoolID, wh.OrganizationID, nil); err != nil {
			return nil, fmt.Errorf("re-read pool %s: %w", wh.PoolID, err)
		}
		if pool == nil {
			return nil, Errorf(ENOTFOUND, "the webhook's lead pool no longer exists")
		}
	}
}

// keep stores a refused request as a rejected request and returns its error naming it. A
// request that cannot be kept (the daily maximum, a failed write) still gets its 400,
// without rejectedId, and the error says why for the log line.
func (s *IngestService) keep(ctx context.Context, wh *Webhook, cmd IngestCommand, raw []byte, now time.Time, refusal error) error {
	notKept := func(why string) error {
		return withRejected(refusal, RejectedFate{Why: why})
	}
	id, err := s.NewID()
	if err != nil {
		return notKept("no id: " + err.Error())
	}
	named := withRejectedID(refusal, id)
	errBody, err := s.RenderError(named, cmd.RequestID)
	if err != nil {
		return notKept("error body did not render: " + err.Error())
	}
	r := &RejectedRequest{
		ID:             id,
		WebhookID:      wh.ID,
		ReceivedAt:     now.UTC(),
		ContentType:    cmd.ContentType,
		IdempotencyKey: cmd.IdempotencyKey,
		Body:           raw,
		ErrorBody:      errBody,
		ErrorReason:    errorReason(refusal),
		ExpiresAt:      now.Add(s.RejectedRetention),
	}
	switch err := s.Rejected.KeepRejected(ctx, r, s.RejectedDailyMax); {
	case errors.Is(err, ErrRejectedQuotaFull):
		return notKept("daily maximum reached")
	case errors.Is(err, ErrRejectedUnsettled):
		// It may be kept: the answer names it, and says that it is unsettled.
		return withRejected(refusal, RejectedFate{ID: id, Unsettled: true, Why: "write unsettled: " + err.Error()})
	case err != nil:
		return notKept("write failed: " + err.Error())
	}
	return named
}

// replayStored answers a repeat from the record that holds its key (rec, or else the live
// record read from the store; none: nil, nil), byte for byte the first answer, for the same
// content; 422 naming the entry for other content. The answer is the repeat's own entry
// (prepared, when it got that far) under the first request's id and time, when the record's
// digest shows that to be the first answer; otherwise the stored entry rendered again.
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
		body, err := s.Render(&again)
		if err != nil {
			return nil, fmt.Errorf("render entry %s: %w", again.ID, err)
		}
		if bytes.Equal(answerDigest(body), rec.Answer) {
			return &IngestResult{Body: body, Replayed: true}, nil
		}
	}
	entry, err := s.Store.Entry(ctx, wh.PoolID, rec.EntryID)
	if err != nil {
		return nil, fmt.Errorf("read entry %s for an idempotent replay: %w", rec.EntryID, err)
	}
	if entry == nil {
		return nil, fmt.Errorf("idempotency record of webhook %s names entry %s, which is gone", wh.ID, rec.EntryID)
	}
	body, err := s.Render(entry)
	if err != nil {
		return nil, fmt.Errorf("render entry %s: %w", entry.ID, err)
	}
	return &IngestResult{Body: body, Replayed: true}, nil
}

// answerDigest is the SHA-256 of a 201 body, kept in the idempotency record.
func answerDigest(body []byte) []byte {
	sum := sha256.Sum256(body)
	return sum[:]
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
