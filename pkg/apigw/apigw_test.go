package apigw

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

func TestHeaderIsCaseInsensitiveAndCountsRepeats(t *testing.T) {
	tests := []struct {
		name      string
		headers   map[string]string
		wantValue string
		wantCount int
	}{
		{"lower-case", map[string]string{"x-rocketlead-ingress-token": "abc"}, "abc", 1},
		{"mixed case", map[string]string{"X-RocketLead-Ingress-Token": " abc "}, "abc", 1},
		{"twice in different case", map[string]string{"x-rocketlead-ingress-token": "a", "X-ROCKETLEAD-INGRESS-TOKEN": "a"}, "a", 2},
		{"absent", map[string]string{"content-type": "application/json"}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, n := Header(Request{Headers: tt.headers}, TokenHeader)
			if n != tt.wantCount || (n == 1 && v != tt.wantValue) {
				t.Errorf("Header(%v) = %q, %d; want %q, %d", tt.headers, v, n, tt.wantValue, tt.wantCount)
			}
		})
	}
}

func TestErrorResponse(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		errText    string
		leaksInner bool
	}{
		{lead.Errorf(lead.EUNAUTHORIZED, "x"), 401, "Invalid webhook token", false},
		{lead.Errorf(lead.ENOTFOUND, "x"), 404, "Webhook not found", false},
		{lead.Errorf(lead.ETOOLARGE, "x"), 413, "Payload too large", false},
		{lead.Errorf(lead.EINVALID, "x"), 400, "Validation failed", false},
		{lead.Errorf(lead.ENOLEADSTATE, "x"), 400, "No default lead state", false},
		{lead.Errorf(lead.EKEYREUSED, "x"), 422, "Idempotency key reused", false},
		{fmt.Errorf("wrapped: %w", lead.Errorf(lead.EINVALID, "x")), 400, "Validation failed", false},
		{errors.New("operation error DynamoDB: PutItem, secret detail"), 500, "Internal error", true},
	}
	for _, tt := range tests {
		t.Run(tt.errText, func(t *testing.T) {
			resp := ErrorResponse(tt.err, "req-1")
			var body map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || body["error"] != tt.errText || body["requestId"] != "req-1" {
				t.Errorf("ErrorResponse(%v) = %d %s; want %d %q", tt.err, resp.StatusCode, resp.Body, tt.status, tt.errText)
			}
			if tt.leaksInner && strings.Contains(resp.Body, "secret detail") {
				t.Errorf("internal error text reached the caller: %s", resp.Body)
			}
			if resp.Headers["Content-Type"] != "application/json" {
				t.Errorf("Content-Type = %q", resp.Headers["Content-Type"])
			}
		})
	}
}

func TestUnrenderableResponseIsA500(t *testing.T) {
	resp, out := respondJSON(Request{}, http.StatusOK, map[string]any{"f": func() {}})
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(resp.Body, `"error":"Internal error"`) {
		t.Errorf("respondJSON(unrenderable) = %d %s; want 500 Internal error", resp.StatusCode, resp.Body)
	}
	if out.Status != http.StatusInternalServerError || out.Err == nil {
		t.Errorf("outcome = %+v; want status 500 with the render error, for the log line", out)
	}
	if _, err := JSON(http.StatusOK, func() {}); err == nil {
		t.Error("JSON(func) error = nil; want a render error")
	}
}
