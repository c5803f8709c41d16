package apigw

import (
	"errors"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

func TestIngestCommandReadsHeadersAndKeepsTheBodyUndecoded(t *testing.T) {
	token := strings.Repeat("ab", 32)
	tests := []struct {
		name        string
		headers     map[string]string
		wantErrCode lead.Code // of IngestCommand itself
		wantMessage string
		wantKey     string
		wantKeyErr  bool
	}{
		{"token and key", map[string]string{TokenHeader: token, "Idempotency-Key": "order-1"}, "", "", "order-1", false},
		{"no key", map[string]string{TokenHeader: token}, "", "", "", false},
		{"missing token header", map[string]string{}, lead.EUNAUTHORIZED, "header is missing", "", false},
		{"token header twice", map[string]string{TokenHeader: token, "X-RocketLead-Ingress-Token": token}, lead.EUNAUTHORIZED, "exactly once", "", false},
		{"comma-joined token header", map[string]string{TokenHeader: token + "," + token}, lead.EUNAUTHORIZED, "exactly once", "", false},
		{"idempotency key twice", map[string]string{TokenHeader: token, "idempotency-key": "a", "Idempotency-Key": "b"}, "", "", "", true},
		{"empty idempotency key", map[string]string{TokenHeader: token, "idempotency-key": ""}, "", "", "", true},
		{"idempotency key over 255 characters", map[string]string{TokenHeader: token, "idempotency-key": strings.Repeat("k", 256)}, "", "", "", true},
		{"idempotency key with a control character", map[string]string{TokenHeader: token, "idempotency-key": "a\x01"}, "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := Request{Headers: tt.headers, PathParameters: map[string]string{"id": "w"}, Body: "not even JSON", IsBase64Encoded: true}
			cmd, err := IngestCommand(req)
			if tt.wantErrCode != "" {
				var e *lead.Error
				if lead.ErrorCode(err) != tt.wantErrCode || !errorsAs(err, &e) || !strings.Contains(e.Message, tt.wantMessage) {
					t.Fatalf("IngestCommand = %v; want %s mentioning %q", err, tt.wantErrCode, tt.wantMessage)
				}
				return
			}
			if err != nil {
				t.Fatalf("IngestCommand = %v; want a command", err)
			}
			if cmd.WebhookID != "w" || cmd.Token != token || cmd.IdempotencyKey != tt.wantKey || (cmd.IdempotencyKeyErr != nil) != tt.wantKeyErr {
				t.Errorf("command = %+v; want webhook w, the token, key %q, key error %v", cmd, tt.wantKey, tt.wantKeyErr)
			}
			if tt.wantKeyErr && lead.ErrorCode(cmd.IdempotencyKeyErr) != lead.EINVALID {
				t.Errorf("IdempotencyKeyErr = %v; want a 400", cmd.IdempotencyKeyErr)
			}
			p, ok := cmd.Payload.(*wire.JSONPayload)
			if !ok || p.Body != req.Body || !p.Base64 {
				t.Errorf("Payload = %#v; want the undecoded base64 body", cmd.Payload)
			}
		})
	}
}

func errorsAs(err error, target **lead.Error) bool {
	return errors.As(err, target)
}
