package apigw

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// Request and Response are the HTTP API payload 2.0 event types.
type (
	Request  = events.APIGatewayV2HTTPRequest
	Response = events.APIGatewayV2HTTPResponse
)

// statusByCode is the one table from application error code to HTTP status.
var statusByCode = map[lead.Code]int{
	lead.EUNAUTHORIZED: http.StatusUnauthorized,
	lead.EFORBIDDEN:    http.StatusForbidden,
	lead.ENOTFOUND:     http.StatusNotFound,
	lead.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	lead.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	lead.EINVALID:      http.StatusBadRequest,
	lead.ENOLEADSTATE:  http.StatusBadRequest,
	lead.EKEYREUSED:    http.StatusUnprocessableEntity,
	lead.ETHROTTLED:    http.StatusTooManyRequests,
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

// ErrorResponse answers with err's JSON error body (wire.ErrorJSON: at most 16 KiB) and
// the status of its code. Errors without a code are reported as a bare internal error:
// their text may hold SDK details and never reaches the caller.
func ErrorResponse(err error, requestID string) Response {
	resp := RawJSON(Status(err), wire.ErrorJSON(err, requestID))
	switch resp.StatusCode {
	case http.StatusServiceUnavailable:
		resp.Headers["Retry-After"] = RetryAfterSeconds
	case http.StatusTooManyRequests:
		// The webhook's own limit: the seconds until its budget has room again.
		wait := 1
		var e *lead.Error
		if errors.As(err, &e) && e.RetryAfter > 1 {
			wait = e.RetryAfter
		}
		resp.Headers["Retry-After"] = strconv.Itoa(wait)
	}
	return resp
}

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
