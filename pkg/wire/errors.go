package wire

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// MaxErrorBodyBytes bounds every error body, whatever the request: Lambda answers at most
// 6 MB, and building a long answer costs the caller's time.
const MaxErrorBodyBytes = 16 << 10

// Bounds of the texts of an error body, so that few problems with long keys fit too.
const (
	maxMessageBytes = 1024
	maxPathBytes    = 300
	maxProblemBytes = 400
)

// errorBody is the JSON error body of every failed request: the short reason, one sentence,
// optional details and type errors (with truncated and problemCount when not all are
// listed), and the request id.
type errorBody struct {
	Error        string                   `json:"error"`
	Message      string                   `json:"message,omitempty"`
	Details      []detailJSON             `json:"details,omitempty"`
	TypeErrors   map[string]typeErrorJSON `json:"typeErrors,omitempty"`
	Truncated    bool                     `json:"truncated,omitempty"`
	ProblemCount int                      `json:"problemCount,omitempty"`
	RejectedID   string                   `json:"rejectedId,omitempty"`
	EntryID      string                   `json:"entryId,omitempty"`
	Unsettled    bool                     `json:"unsettled,omitempty"`
	RequestID    string                   `json:"requestId"`
}

type detailJSON struct {
	Path    string `json:"path"`
	Problem string `json:"problem"`
}

type typeErrorJSON struct {
	Expected string `json:"expected"`
	Got      string `json:"got"`
}

// InternalMessage is the message of every internal error: its text may hold SDK details
// and never reaches the caller.
const InternalMessage = "something went wrong on our side; retrying the request is safe"

// ErrorJSON renders err as the JSON error body, at most MaxErrorBodyBytes: at most
// lead.MaxListedProblems details and type errors, fewer when their text is long, with
// "truncated" and "problemCount" when not all problems are listed. Errors without a code,
// and internal ones, are a bare internal error.
func ErrorJSON(err error, requestID string) []byte {
	var e *lead.Error
	if !errors.As(err, &e) || e.Code == lead.EINTERNAL {
		return mustJSON(errorBody{Error: lead.DefaultReason(lead.EINTERNAL), Message: InternalMessage, RequestID: requestID})
	}
	body := errorBody{
		Error:     e.Reason,
		Message:   clip(e.Message, maxMessageBytes),
		EntryID:   e.EntryID,
		RequestID: requestID,
	}
	if e.Rejected != nil && (e.Rejected.Kept || e.Rejected.Unsettled) {
		// Unsettled: it may be kept, so the answer names it (no rejectedId means not kept).
		body.RejectedID = e.Rejected.ID
		body.Unsettled = e.Rejected.Unsettled
	}
	// Outcome unknown: the entry named by EntryID may be stored.
	body.Unsettled = body.Unsettled || e.Code == lead.EUNSETTLED
	details := e.Details[:min(len(e.Details), lead.MaxListedProblems)]
	keys := slices.Sorted(maps.Keys(e.TypeErrors))
	keys = keys[:min(len(keys), lead.MaxListedProblems)]
	all := max(e.ProblemCount, len(e.Details), len(e.TypeErrors))
	for nd, nt := len(details), len(keys); ; nd, nt = nd/2, nt/2 {
		body.Details, body.TypeErrors = detailsJSON(details[:nd]), typeErrorsJSON(e.TypeErrors, keys[:nt])
		body.Truncated = nd < all && len(details) > 0 || nt < all && len(keys) > 0
		body.ProblemCount = 0
		if body.Truncated {
			body.ProblemCount = all
		}
		b := mustJSON(body)
		if len(b) <= MaxErrorBodyBytes || nd+nt == 0 {
			return b
		}
	}
}

func detailsJSON(ds []lead.Detail) []detailJSON {
	if len(ds) == 0 {
		return nil
	}
	out := make([]detailJSON, len(ds))
	for i, d := range ds {
		out[i] = detailJSON{Path: clip(d.Path, maxPathBytes), Problem: clip(d.Problem, maxProblemBytes)}
	}
	return out
}

func typeErrorsJSON(tes map[string]lead.TypeError, keys []string) map[string]typeErrorJSON {
	if len(keys) == 0 {
		return nil
	}
	out := make(map[string]typeErrorJSON, len(keys))
	for _, k := range keys {
		out[k] = typeErrorJSON{Expected: string(tes[k].Expected), Got: tes[k].Got}
	}
	return out
}

// clip shortens s to at most n bytes, on a character boundary, marking the cut with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// mustJSON renders an error body made of strings and numbers only, which cannot fail; should
// it ever, the caller still gets JSON.
func mustJSON(body errorBody) []byte {
	b, err := json.Marshal(body)
	if err != nil {
		return []byte(`{"error":"Internal error","message":"` + InternalMessage + `"}`)
	}
	return b
}
