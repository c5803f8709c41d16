package apigw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// Request and Response are the HTTP API payload 2.0 event types.
type (
	Request  = events.APIGatewayV2HTTPRequest
	Response = events.APIGatewayV2HTTPResponse
)

// statusByCode is the one table from application error code to HTTP status.
var statusByCode = map[lead.Code]int{
	lead.EUNAUTHORIZED: http.StatusUnauthorized,
	lead.ENOTFOUND:     http.StatusNotFound,
	lead.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	lead.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	lead.EINVALID:      http.StatusBadRequest,
	lead.ENOLEADSTATE:  http.StatusBadRequest,
	lead.EKEYREUSED:    http.StatusUnprocessableEntity,
	lead.EUNAVAILABLE:  http.StatusServiceUnavailable,
	lead.EUNSETTLED:    http.StatusInternalServerError,
	lead.EINTERNAL:     http.StatusInternalServerError,
}

// RetryAfterSeconds is the Retry-After header of a 503: DynamoDB's throttling and transaction
// conflicts pass within a second or so.
const RetryAfterSeconds = "1"

// Status returns the HTTP status for an error's code.
func Status(err error) int {
	if s, ok := statusByCode[lead.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON error body of every failed request: the short reason, one sentence,
// optional details and type errors, and the request id.
type errorBody struct {
	Error      string                    `json:"error"`
	Message    string                    `json:"message,omitempty"`
	Details    []lead.Detail             `json:"details,omitempty"`
	TypeErrors map[string]lead.TypeError `json:"typeErrors,omitempty"`
	RejectedID string                    `json:"rejectedId,omitempty"`
	EntryID    string                    `json:"entryId,omitempty"`
	Unsettled  bool                      `json:"unsettled,omitempty"`
	RequestID  string                    `json:"requestId"`
}

// ErrorBody renders err as the JSON error body ErrorResponse answers with: what a kept
// rejected request records as the error it got.
func ErrorBody(err error, requestID string) ([]byte, error) {
	return []byte(ErrorResponse(err, requestID).Body), nil
}

// ErrorResponse renders err as the JSON error body. Errors without a code are reported as
// a bare internal error: their text may hold SDK details and never reaches the caller.
func ErrorResponse(err error, requestID string) Response {
	body := errorBody{RequestID: requestID}
	var e *lead.Error
	if errors.As(err, &e) && e.Code != lead.EINTERNAL {
		body.Error = e.Reason
		body.Message = e.Message
		body.Details = e.Details
		body.TypeErrors = e.TypeErrors
		if e.Rejected != nil && (e.Rejected.Kept || e.Rejected.Unsettled) {
			// Unsettled: it may be kept, so the answer names it (no rejectedId means not kept).
			body.RejectedID = e.Rejected.ID
			body.Unsettled = e.Rejected.Unsettled
		}
		body.EntryID = e.EntryID
		body.Unsettled = body.Unsettled || e.Code == lead.EUNSETTLED
	} else {
		body.Error = lead.DefaultReason(lead.EINTERNAL)
		body.Message = internalMessage
	}
	b, merr := json.Marshal(body)
	if merr != nil {
		// Only strings make up the body; should it ever fail, the caller still gets JSON.
		return RawJSON(http.StatusInternalServerError, []byte(`{"error":"Internal error","message":"`+internalMessage+`"}`))
	}
	resp := RawJSON(Status(err), b)
	if resp.StatusCode == http.StatusServiceUnavailable {
		resp.Headers["Retry-After"] = RetryAfterSeconds
	}
	return resp
}

const internalMessage = "something went wrong on our side; retrying the request is safe"

// JSON renders v as a JSON response with the given status. A value that does not render is
// an error, for the caller to answer as an internal error.
func JSON(status int, v any) (Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Response{}, fmt.Errorf("render %T response: %w", v, err)
	}
	return RawJSON(status, b), nil
}

// RawJSON is a response with an already rendered JSON body.
func RawJSON(status int, b []byte) Response {
	return Response{
		StatusCode: status,
		Headers: map[string]string{
			"Content-Type":           "application/json",
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
		},
		Body: string(b),
	}
}

// Header returns the values of the named header, matched case-insensitively: HTTP APIs
// lower-case header names, REST APIs and local tools may not. A repeated header arrives
// comma-joined from API Gateway, or as several map keys from other callers.
func Header(req Request, name string) (value string, count int) {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			value = strings.TrimSpace(v)
			count++
		}
	}
	return value, count
}

// RequestID returns the API Gateway request id of the event.
func RequestID(req Request) string {
	return req.RequestContext.RequestID
}

// logOutcome reports a request's outcome: to the Observer wrapping the handler, which writes
// the one line and the metrics of the request, or else straight to logger as one structured
// line. Never headers, tokens or bodies.
func logOutcome(ctx context.Context, logger *slog.Logger, req Request, status int, err error, attrs ...any) {
	if n := noteFrom(ctx); n != nil {
		n.status, n.err, n.logged = status, err, true
		n.attrs = append(n.attrs, attrs...)
		return
	}
	attrs = append(attrs,
		slog.String("apiRequestId", RequestID(req)),
		slog.String("route", req.RouteKey),
		slog.Int("status", status),
		slog.String("outcome", outcomeOf(&note{status: status, err: err})),
	)
	attrs = append(attrs, errorAttrs(status, err)...)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	logger.Log(ctx, level, "request", attrs...)
}

// noteIngest tells the Observer that the request is an ingest (a dry run or not), and its
// result if any.
func noteIngest(ctx context.Context, cmd lead.IngestCommand, res *lead.IngestResult) {
	if n := noteFrom(ctx); n != nil {
		n.ingest, n.dryRun, n.result = true, cmd.DryRun || (res != nil && res.DryRun), res
	}
}
