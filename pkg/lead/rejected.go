package lead

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrRejectedQuotaFull is returned by RejectedStore.KeepRejected when the webhook already
// kept its daily maximum of rejected requests; nothing was written.
var ErrRejectedQuotaFull = errors.New("daily maximum of kept rejected requests reached")

// ErrRejectedUnsettled is returned by RejectedStore.KeepRejected when the write keeping the
// request could not be settled in the function's time: it may be kept, or be kept yet.
var ErrRejectedUnsettled = errors.New("keeping the rejected request could not be settled")

// ErrRejectedGone is returned by RejectedStore.PutReplayedEntry when the rejected request is
// no longer there (a concurrent replay committed it, or it was discarded); nothing was written.
var ErrRejectedGone = errors.New("rejected request no longer exists")

// RejectedRequest is a request refused with a 400 after authentication, kept so that an
// operator can see it and replay it once the cause is repaired.
type RejectedRequest struct {
	ID             string // UUIDv7
	WebhookID      string
	ReceivedAt     time.Time
	ContentType    string
	IdempotencyKey string
	Body           []byte // exactly as received, transport encoding undone; nil in summaries
	ErrorBody      []byte // the JSON error body the request was answered with
	ErrorReason    string // the error body's short reason
	ExpiresAt      time.Time
	// Version counts the changes of the stored request (its recorded error).
	Version int64
	// Deliveries counts the deliveries of the request: a vendor retrying a refused delivery
	// (same idempotency key) updates the one kept request, its error and LastReceivedAt.
	Deliveries     int64
	LastReceivedAt time.Time
}

// RejectedPage is one page of a webhook's rejected requests, newest first.
type RejectedPage struct {
	Rejected   []*RejectedRequest
	NextCursor string
}

// RejectedStore keeps, lists, replays and discards rejected requests.
type RejectedStore interface {
	// KeepRejected stores r and counts it against the webhook's daily maximum in one write;
	// ErrRejectedQuotaFull when the maximum is reached.
	KeepRejected(ctx context.Context, r *RejectedRequest, dailyMax int) error
	// Rejected returns a live rejected request (body included), or nil.
	Rejected(ctx context.Context, webhookID, id string, now time.Time) (*RejectedRequest, error)
	// ListRejected returns a page of live rejected requests without bodies, newest first;
	// ErrInvalidCursor for a cursor of another listing.
	ListRejected(ctx context.Context, webhookID string, limit int, cursor string, now time.Time) (*RejectedPage, error)
	// RecordRejectedError replaces the recorded error of a rejected request that still exists.
	RecordRejectedError(ctx context.Context, webhookID, id string, errorBody []byte, reason string) error
	// DiscardRejected deletes a rejected request; ErrNotFound when there is none.
	DiscardRejected(ctx context.Context, webhookID, id string) error
	// PutReplayedEntry is IngestStore.PutEntry that also deletes the rejected request in the
	// same transaction, on condition that it still exists (ErrRejectedGone otherwise).
	PutReplayedEntry(ctx context.Context, e *Entry, lock SchemaLock, idem *IdempotencyRecord, webhookID, rejectedID string) error
}

// RejectedRetention and RejectedDailyMax are the defaults for keeping rejected requests.
const (
	RejectedRetention = 14 * 24 * time.Hour
	RejectedDailyMax  = 1000
)

// Kept reports whether an ingest error is one whose request is kept: a 400 of the body,
// custom field, schema or lead state checks.
func Kept(err error) bool {
	switch ErrorCode(err) {
	case EINVALID, ENOLEADSTATE:
		return true
	}
	return false
}

// RejectedID returns the id of the kept rejected request an error names, or "".
func RejectedID(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Rejected != nil && e.Rejected.Kept {
		return e.Rejected.ID
	}
	return ""
}

// WithRejected returns a copy of the application error err with the fate of its request
// (err itself when it is not an application error).
func WithRejected(err error, fate RejectedFate) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Rejected = &fate
	return &c
}

// RejectedAdmin lists, shows, replays and discards a webhook's rejected requests.
type RejectedAdmin struct {
	Ingest *IngestService
	Store  RejectedStore
}

func (a *RejectedAdmin) webhook(ctx context.Context, webhookID string) (*Webhook, error) {
	if !IsUUID(webhookID) {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	wh, err := a.Ingest.Store.Webhook(ctx, strings.ToLower(webhookID))
	if err != nil {
		return nil, fmt.Errorf("read webhook: %w", err)
	}
	if wh == nil {
		return nil, Errorf(ENOTFOUND, "no webhook has this id")
	}
	return wh, nil
}

func rejectedNotFound() *Error {
	return &Error{Code: ENOTFOUND, Reason: "Not found", Message: "no rejected request of this webhook has this id (kept requests expire)"}
}

// List returns a page of the webhook's rejected requests, newest first, without bodies.
func (a *RejectedAdmin) List(ctx context.Context, webhookID string, limit int, cursor string) (*RejectedPage, error) {
	wh, err := a.webhook(ctx, webhookID)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = DefaultListLimit
	}
	page, err := a.Store.ListRejected(ctx, wh.ID, limit, cursor, a.Ingest.Now())
	if errors.Is(err, ErrInvalidCursor) {
		return nil, Invalid("the cursor is not one this listing returned", Detail{Path: "cursor", Problem: "invalid"})
	}
	if err != nil {
		return nil, fmt.Errorf("list rejected requests of webhook %s: %w", wh.ID, err)
	}
	return page, nil
}

// Show returns one rejected request with its body.
func (a *RejectedAdmin) Show(ctx context.Context, webhookID, id string) (*RejectedRequest, error) {
	wh, err := a.webhook(ctx, webhookID)
	if err != nil {
		return nil, err
	}
	if !IsUUID(id) {
		return nil, rejectedNotFound()
	}
	r, err := a.Store.Rejected(ctx, wh.ID, strings.ToLower(id), a.Ingest.Now())
	if err != nil {
		return nil, fmt.Errorf("read rejected request %s: %w", id, err)
	}
	if r == nil {
		return nil, rejectedNotFound()
	}
	return r, nil
}

// Discard deletes one rejected request.
func (a *RejectedAdmin) Discard(ctx context.Context, webhookID, id string) error {
	wh, err := a.webhook(ctx, webhookID)
	if err != nil {
		return err
	}
	if !IsUUID(id) {
		return rejectedNotFound()
	}
	err = a.Store.DiscardRejected(ctx, wh.ID, strings.ToLower(id))
	if errors.Is(err, ErrNotFound) {
		return rejectedNotFound()
	}
	return err
}

// Replay sends a kept rejected request, its body parsed again by the adapter as it was
// when it arrived, through the checks of a new request (its idempotency key included, no
// token). On success the entry is stored and the rejected request deleted in one
// transaction, so replays never create two entries. A failure is the error a new request
// would get, for the adapter to record on the rejected request (RecordRefusal) when it is
// the request's (Refusal); a rejected request replayed or discarded meanwhile is a 404.
func (a *RejectedAdmin) Replay(ctx context.Context, r *RejectedRequest, body *Body) (*IngestResult, error) {
	return a.ReplayParsed(ctx, r, func(*Webhook) (*Body, error) { return body, nil })
}

// ReplayParsed is Replay with the body parsed by parse once the webhook is read (its
// source says how); a parse error is the replay's error.
func (a *RejectedAdmin) ReplayParsed(ctx context.Context, r *RejectedRequest, parse func(*Webhook) (*Body, error)) (*IngestResult, error) {
	wh, err := a.webhook(ctx, r.WebhookID)
	if err != nil {
		return nil, err
	}
	body, err := parse(wh)
	if err != nil {
		return nil, err
	}
	res, err := a.Ingest.Ingest(ctx, wh, Input{Body: body, IdempotencyKey: r.IdempotencyKey, RejectedID: r.ID})
	if errors.Is(err, ErrRejectedGone) {
		return nil, &Error{Code: ENOTFOUND, Reason: "Not found", Message: "this rejected request was replayed or discarded meanwhile"}
	}
	if err != nil {
		return nil, err
	}
	if res.Replayed {
		// Its idempotency key already holds an entry: nothing is left to replay.
		if derr := a.Store.DiscardRejected(ctx, r.WebhookID, r.ID); derr != nil && !errors.Is(derr, ErrNotFound) {
			return nil, fmt.Errorf("delete replayed request %s: %w", r.ID, derr)
		}
	}
	return res, nil
}

// Refusal reports whether a replay's error is the request's own (a 400 of its body,
// custom fields, schema or lead state, or its idempotency key reused): the error to record
// on the rejected request. A failure of ours, or one of the rejected request itself, leaves
// the recorded error alone.
func Refusal(err error) bool {
	return Kept(err) || ErrorCode(err) == EKEYREUSED
}

// RecordRefusal records on a rejected request the error a replay of it got, as rendered
// (errorBody); one replayed or discarded meanwhile is left alone.
func (a *RejectedAdmin) RecordRefusal(ctx context.Context, r *RejectedRequest, errorBody []byte, refusal error) error {
	err := a.Store.RecordRejectedError(ctx, r.WebhookID, r.ID, errorBody, errorReason(refusal))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("record error of replayed request %s: %w", r.ID, err)
	}
	return nil
}

// BodyLimits are the limits a replayed body is parsed within: those of the ingest service.
func (a *RejectedAdmin) BodyLimits() Limits { return a.Ingest.Limits }

func errorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return DefaultReason(EINTERNAL)
}
