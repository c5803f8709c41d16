package lead

import (
	"context"
	"encoding/json"
)

// request is one ingest request as the tests send it, standing in for the API adapter: the
// token and webhook id, the header values already read (a bad idempotency key as the
// adapter's error), and the payload the adapter would parse.
type request struct {
	WebhookID         string
	Token             string
	TokenFromQuery    bool
	DryRun            bool
	IdempotencyKey    string
	IdempotencyKeyErr error
	Payload           *payload
	ContentType       string
	RequestID         string
}

// payload is a body whose bytes and parse are given; it counts how often it was looked at,
// so tests can prove nothing was read before authentication.
type payload struct {
	raw       []byte
	bytesErr  error
	body      *Body
	decodeErr error
	looked    int
}

func dataPayload(raw string, data map[string]any) *payload {
	return &payload{raw: []byte(raw), body: &Body{Data: data}}
}

// send takes r through the service as the adapter does, one step after the other:
// authenticate, the body's size, the headers, parse, ingest, and keep a refusal.
func send(svc *IngestService, r request) (*IngestResult, error) {
	ctx := context.Background()
	wh, err := svc.Authenticate(ctx, r.WebhookID, r.Token, r.TokenFromQuery)
	if err != nil {
		return nil, err
	}
	r.Payload.looked++
	if r.Payload.bytesErr != nil {
		return nil, r.Payload.bytesErr
	}
	if r.IdempotencyKeyErr != nil {
		return nil, r.IdempotencyKeyErr
	}
	var res *IngestResult
	err = r.Payload.decodeErr
	if err == nil {
		res, err = svc.Ingest(ctx, wh, Input{Body: r.Payload.body, IdempotencyKey: r.IdempotencyKey, DryRun: r.DryRun})
	}
	if Kept(err) && !r.DryRun {
		err = keep(ctx, svc, wh, r, err)
	}
	return res, err
}

// keep keeps a refusal as the adapter does: the service fixes the id, the error body naming
// it is rendered (here by renderError), the service stores both.
func keep(ctx context.Context, svc *IngestService, wh *Webhook, r request, refusal error) error {
	k, err := svc.NewRejected(wh, r.ContentType, r.IdempotencyKey, r.Payload.raw, refusal)
	if err != nil || k == nil {
		return refusal
	}
	k.ErrorBody = renderError(WithRejected(refusal, RejectedFate{ID: k.ID, Kept: true}), r.RequestID)
	return WithRejected(refusal, svc.Keep(ctx, k))
}

// renderError is the tests' error body: the reason, the rejected id and the request id.
func renderError(err error, requestID string) []byte {
	return []byte(`{"error":"` + errorReason(err) + `","rejectedId":"` + RejectedID(err) + `","requestId":"` + requestID + `"}`)
}

// rendered is the 201 body of a result, as the adapter renders it.
func rendered(res *IngestResult) string {
	if res == nil || res.Entry == nil {
		return ""
	}
	b, err := json.Marshal(res.Entry)
	if err != nil {
		return "unrenderable: " + err.Error()
	}
	return string(b)
}
