package lead

import (
	"errors"
	"fmt"
)

// Code classifies an Error; the API adapter maps each code to one HTTP status.
type Code string

// The error codes of the application. Anything that is not an *Error is EINTERNAL.
const (
	EUNAUTHORIZED Code = "unauthorized"  // 401 Invalid webhook token
	EFORBIDDEN    Code = "forbidden"     // 403 Origin not allowed
	ENOTFOUND     Code = "not_found"     // 404
	ETOOLARGE     Code = "too_large"     // 413
	EUNSUPPORTED  Code = "unsupported"   // 415 Unsupported media type
	EINVALID      Code = "invalid"       // 400 Validation failed
	ENOLEADSTATE  Code = "no_lead_state" // 400 No default lead state
	EKEYREUSED    Code = "key_reused"    // 422 Idempotency key reused with another body
	ETHROTTLED    Code = "throttled"     // 429 Too many requests: over the webhook's rate limit; nothing stored
	EUNAVAILABLE  Code = "unavailable"   // 503 Service unavailable: throttled or conflicted past the retries; nothing stored
	EUNSETTLED    Code = "unsettled"     // 500 Outcome unknown: a write that could not be settled; it may be stored
	EINTERNAL     Code = "internal"      // 500
)

// Detail points at one offending part of a request.
type Detail struct {
	Path    string
	Problem string
}

// TypeError describes one data key whose value disagrees with the pool schema.
type TypeError struct {
	Expected FieldType
	Got      string
}

// Error is the application error: a code, the short reason shown as "error", one human
// sentence and optional structured details. Its fields never carry tokens or lead values.
type Error struct {
	Code       Code
	Reason     string
	Message    string
	Details    []Detail
	TypeErrors map[string]TypeError
	// Rejected, when not nil, says what became of the refused request the service tried to
	// keep for replay; the request's log line and metrics report it.
	Rejected *RejectedFate
	// EntryID, for EKEYREUSED, is the entry the first request with the key created; for
	// EUNSETTLED, the id the entry has if its write did commit.
	EntryID string
	// RetryAfter, for ETHROTTLED, is how many whole seconds (at least 1) the caller should
	// wait before sending again.
	RetryAfter int
	// ProblemCount is how many problems were found when there were more than Details or
	// TypeErrors list (at most MaxListedProblems each); 0 when they list them all.
	ProblemCount int
}

// MaxListedProblems is how many problems an error lists in Details, and in TypeErrors; the
// rest are counted in ProblemCount. A 256 KiB body can hold a hundred thousand problems:
// its answer names the first ones, and it is built in time proportional to them.
const MaxListedProblems = 50

// RejectedFate is the fate of a refused request the service tried to keep: its id when it
// was kept (the error body then names it as rejectedId), Kept false when it could not be
// (the webhook's daily allowance was used, the write failed), and Why, for the log line.
// Unsettled says the write keeping it could not be settled: it may be kept after all, so
// the answer names ID (a 400 without rejectedId means "not kept") and says unsettled.
type RejectedFate struct {
	ID        string
	Kept      bool
	Unsettled bool
	Why       string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%s: %s", e.Reason, e.Message)
	}
	return e.Reason
}

// Errorf returns an *Error with the code's default reason and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: DefaultReason(code), Message: fmt.Sprintf(format, args...)}
}

// DefaultReason is the short "error" text for a code.
func DefaultReason(code Code) string {
	switch code {
	case EUNAUTHORIZED:
		return "Invalid webhook token"
	case EFORBIDDEN:
		return "Origin not allowed"
	case ENOTFOUND:
		return "Webhook not found"
	case ETOOLARGE:
		return "Payload too large"
	case EUNSUPPORTED:
		return "Unsupported media type"
	case EINVALID:
		return "Validation failed"
	case ENOLEADSTATE:
		return "No default lead state"
	case EKEYREUSED:
		return "Idempotency key reused"
	case ETHROTTLED:
		return "Too many requests"
	case EUNAVAILABLE:
		return "Service unavailable"
	case EUNSETTLED:
		return "Outcome unknown"
	default:
		return "Internal error"
	}
}

// ErrorCode returns the code of err, or EINTERNAL when err is not an application error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// Unavailable is the 503 of a write DynamoDB kept refusing (throttling, transaction
// conflicts) until the request's deadline: nothing was stored and retrying later is safe.
func Unavailable() *Error {
	return Errorf(EUNAVAILABLE, "the service is busy and stored nothing; retry after the time in the Retry-After header")
}

// Unsettled is the 500 of an entry write the service could not settle: neither the write,
// nor the fence that would refuse it, nor a read of its key got an answer before the
// function's time ran out, so the entry entryID may be stored, or be stored yet. Every other
// 5xx means nothing was stored.
func Unsettled(entryID string) *Error {
	e := Errorf(EUNSETTLED, "the service could not learn whether entry %s was stored: check for it before sending the lead again, or send it again with the same Idempotency-Key header, which never stores it twice", entryID)
	e.EntryID = entryID
	return e
}

// UnsettledWrite is the 500 of a write the service could not settle (an administrator's
// change, or any write whose caller names nothing more precise): neither the write, nor the
// fence that would refuse it, nor a read of its item got an answer before the function's
// time ran out, so the change may be applied, or be applied yet. The answer says
// "unsettled": true; every other 5xx means nothing was stored.
func UnsettledWrite() *Error {
	return Errorf(EUNSETTLED, "the service could not learn whether the change was applied: read the item before making the change again")
}

// Invalid builds the 400 Validation failed error with a message and details.
func Invalid(message string, details ...Detail) *Error {
	return &Error{Code: EINVALID, Reason: DefaultReason(EINVALID), Message: message, Details: details}
}

// InvalidDetails builds the 400 Validation failed error whose message sums up the details;
// past MaxListedProblems it lists the first and counts them all.
func InvalidDetails(details ...Detail) *Error {
	var p Problems
	for _, d := range details {
		p.Add(d.Path, d.Problem)
	}
	return p.err()
}

// Problems collects the problems of a request: the first MaxListedProblems listed, every
// one counted. A caller with many candidates asks Listing first and, when it is false,
// calls Skip rather than build a path that would not be shown.
type Problems struct {
	listed []Detail
	count  int
}

// Add records a problem at path.
func (p *Problems) Add(path, problem string) {
	p.count++
	if len(p.listed) < MaxListedProblems {
		p.listed = append(p.listed, Detail{Path: path, Problem: problem})
	}
}

// Listing reports whether the next problem would be listed.
func (p *Problems) Listing() bool { return len(p.listed) < MaxListedProblems }

// Skip counts a problem that is not listed.
func (p *Problems) Skip() { p.count++ }

// Count is how many problems were recorded.
func (p *Problems) Count() int { return p.count }

// Err is the 400 Validation failed error of the problems, nil when there are none. Its
// message names the first few and how many there are.
func (p *Problems) Err() error {
	if p.count == 0 {
		return nil
	}
	return p.err()
}

func (p *Problems) err() *Error {
	e := Invalid(validationMessage(p.listed, p.count), p.listed...)
	if p.count > len(p.listed) {
		e.ProblemCount = p.count
	}
	return e
}
