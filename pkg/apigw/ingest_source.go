package apigw

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// SourceIngester is what the public endpoint needs, beyond Ingester, to take the native
// requests of form and ad vendors: the webhook looked up by id, its signing
// secrets in the clear, the token check of a key a vendor puts in the body, the clock the
// signature timestamps are judged by, and the memory of the last test delivery.
type SourceIngester interface {
	LookUp(ctx context.Context, webhookID string) (*lead.Webhook, error)
	SigningSecrets(wh *lead.Webhook) ([][]byte, error)
	TokenMatches(wh *lead.Webhook, token string) bool
	RecordTestDelivery(ctx context.Context, wh *lead.Webhook, result string) error
	Clock() time.Time
}

// A vendor source's webhook over its rate limit gets the same 429 Too many requests with
// Retry-After as any sender, decided after the vendor's authentication and before its body
// is parsed: nothing stored, nothing kept, not a 5xx (which would page the operator for a
// sender's flood). The vendors that retry a failed delivery (Typeform, Tally, Webflow,
// Standard Webhooks senders) send it again later with the same delivery id, so the retry
// is one lead; those that never retry (Jotform, Unbounce) lose it as they would on any
// failure, and Google keeps the lead in the advertiser's account. A flood from one form
// thus slows that form only.

// sourceRequest is the request as a source's parser reads it.
func (h ingestEndpoint) sourceRequest(req Request, hd ingestHeaders, raw []byte) wire.SourceRequest {
	sr := wire.SourceRequest{Header: func(name string) (string, int) { return Header(req, name) }, ContentType: hd.contentType, Raw: raw}
	if h.src != nil {
		sr.Now = h.src.Clock()
	}
	return sr
}

// recordTest remembers a test delivery's result on the webhook: best effort, for the
// vendor's answer does not depend on it (a failure is in the log line's error only when
// the request failed anyway).
func (h ingestEndpoint) recordTest(ctx context.Context, wh *lead.Webhook, err error) {
	result := "200 OK: would be stored"
	if err != nil {
		reason := lead.DefaultReason(lead.ErrorCode(err))
		var e *lead.Error
		if errors.As(err, &e) {
			reason = e.Reason
		}
		result = strconv.Itoa(Status(err)) + " " + reason
	}
	_ = h.src.RecordTestDelivery(context.WithoutCancel(ctx), wh, result)
}

// answerSource renders a vendor source's success the way the vendor counts it delivered:
// 200 {} for Google (a test delivery too), 200 with the entry for Webflow, 201 with the
// entry for the others; a test delivery elsewhere is the dry run's answer.
func (h ingestEndpoint) answerSource(req Request, out Outcome, wh *lead.Webhook, hd ingestHeaders, src *wire.Source, res *lead.IngestResult) (Response, Outcome) {
	if src.EmptySuccess() {
		out.Result = res
		if !res.DryRun {
			out.Attrs = append(out.Attrs, createdAttrs(res)...)
		}
		resp := RawJSON(http.StatusOK, []byte("{}"))
		out.Status = resp.StatusCode
		return resp, out
	}
	resp, o := h.answer(req, out, wh, hd, res, nil)
	if resp.StatusCode == http.StatusCreated && src.SuccessStatus() != http.StatusCreated {
		resp.StatusCode = src.SuccessStatus()
		o.Status = resp.StatusCode
	}
	o.Attrs = append(o.Attrs, slog.String("source", src.Name()))
	return resp, o
}
