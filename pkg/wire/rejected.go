package wire

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// RejectedView is a kept rejected request as the admin endpoints answer it. Body is the
// request body when it is valid UTF-8, BodyBase64 otherwise; summaries carry neither.
type RejectedView struct {
	ID             string          `json:"id"`
	WebhookID      string          `json:"webhookId"`
	ReceivedAt     string          `json:"receivedAt"`
	ContentType    string          `json:"contentType"`
	IdempotencyKey string          `json:"idempotencyKey,omitempty"`
	Error          json.RawMessage `json:"error"`
	ExpiresAt      string          `json:"expiresAt"`
	// Deliveries counts the retries of a refused delivery (same idempotency key) kept as
	// this one request; LastReceivedAt is the last one's time.
	Deliveries     int64   `json:"deliveries,omitempty"`
	LastReceivedAt string  `json:"lastReceivedAt,omitempty"`
	Body           *string `json:"body,omitempty"`
	BodyBase64     string  `json:"bodyBase64,omitempty"`
}

// ViewRejected returns the admin representation of r, with its body when withBody is true.
func ViewRejected(r *lead.RejectedRequest, withBody bool) RejectedView {
	v := RejectedView{
		ID: r.ID, WebhookID: r.WebhookID, ReceivedAt: lead.FormatTime(r.ReceivedAt), ContentType: r.ContentType,
		IdempotencyKey: r.IdempotencyKey, Error: json.RawMessage(r.ErrorBody), ExpiresAt: lead.FormatTime(r.ExpiresAt),
	}
	if r.Deliveries > 1 {
		v.Deliveries, v.LastReceivedAt = r.Deliveries, lead.FormatTime(r.LastReceivedAt)
	}
	if !json.Valid(r.ErrorBody) {
		v.Error = json.RawMessage("null")
	}
	if withBody {
		if utf8.Valid(r.Body) {
			b := string(r.Body)
			v.Body = &b
		} else {
			v.BodyBase64 = base64.StdEncoding.EncodeToString(r.Body)
		}
	}
	return v
}

// RejectedPageView is one page of a rejected request listing.
type RejectedPageView struct {
	Rejected   []RejectedView `json:"rejected"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

// ViewRejectedPage returns the admin representation of a listing page, without bodies.
func ViewRejectedPage(p *lead.RejectedPage) RejectedPageView {
	view := func(r *lead.RejectedRequest) RejectedView { return ViewRejected(r, false) }
	return RejectedPageView{Rejected: viewAll(p.Rejected, view), NextCursor: p.NextCursor}
}

// ParseListRejected reads the query of a rejected request listing: limit and cursor, both
// optional; any other parameter is a 400.
func ParseListRejected(query map[string]string) (limit int, cursor string, err error) {
	var details []lead.Detail
	for _, k := range slices.Sorted(maps.Keys(query)) {
		v := query[k]
		switch k {
		case "cursor":
			cursor = v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > lead.MaxListLimit {
				details = append(details, lead.Detail{Path: "limit", Problem: fmt.Sprintf("must be a whole number from 1 to %d", lead.MaxListLimit)})
				continue
			}
			limit = n
		default:
			details = append(details, lead.Detail{Path: lead.DetailPath("", k), Problem: "unknown query parameter"})
		}
	}
	if len(details) > 0 {
		return 0, "", lead.InvalidDetails(details...)
	}
	return limit, cursor, nil
}
