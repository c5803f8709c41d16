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
		{"idempotency key twice, joined by API Gateway", map[string]string{TokenHeader: token, "Idempotency-Key": "a,b"}, "", "", "", true},
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

func TestPayloadFollowsTheContentType(t *testing.T) {
	tests := []struct {
		name        string
		contentType []string // none: no header; several: the header repeated
		want        string   // the payload's type
		multipart   bool
		declared    string
		unsupported string
	}{
		{"no header is JSON", nil, "json", false, "", ""},
		{"application/json with charset", []string{"application/json; charset=utf-8"}, "json", false, "", ""},
		{"a +json type", []string{"application/vnd.api+json"}, "json", false, "", ""},
		{"upper-case type", []string{"Application/JSON"}, "json", false, "", ""},
		{"text/plain is read as JSON", []string{"text/plain;charset=UTF-8"}, "json", false, wire.MediaText, ""},
		{"urlencoded form", []string{"application/x-www-form-urlencoded; charset=utf-8"}, "form", false, "", ""},
		{"multipart form with its boundary", []string{"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"}, "form", true, "", ""},
		{"xml is unsupported", []string{"application/xml"}, "unsupported", false, "", "application/xml"},
		{"octet-stream is unsupported", []string{"application/octet-stream"}, "unsupported", false, "", "application/octet-stream"},
		{"an unparsable header is unsupported", []string{"json please"}, "unsupported", false, "", ""},
		{"a repeated header is unsupported", []string{"application/json", "application/json"}, "unsupported", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := Request{Headers: map[string]string{}}
			for i, ct := range tt.contentType {
				req.Headers[[]string{"content-type", "Content-Type"}[i]] = ct
			}
			switch p := Payload(req).(type) {
			case *wire.JSONPayload:
				if tt.want != "json" || p.Declared != tt.declared {
					t.Errorf("Payload(%q) = JSON declared %q; want %s declared %q", tt.contentType, p.Declared, tt.want, tt.declared)
				}
			case *wire.FormPayload:
				if tt.want != "form" || p.Multipart != tt.multipart || (p.Multipart && p.Boundary == "") {
					t.Errorf("Payload(%q) = form %+v; want %s multipart %v", tt.contentType, p, tt.want, tt.multipart)
				}
			case *wire.UnsupportedPayload:
				if tt.want != "unsupported" || p.MediaType != tt.unsupported {
					t.Errorf("Payload(%q) = unsupported %q; want %s %q", tt.contentType, p.MediaType, tt.want, tt.unsupported)
				}
			default:
				t.Errorf("Payload(%q) = %T", tt.contentType, p)
			}
		})
	}
}

func TestIngestCommandReadsTheQuery(t *testing.T) {
	token := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	tests := []struct {
		name          string
		headers       map[string]string
		query         map[string]string
		wantToken     string
		wantFromQuery bool
		wantDryRun    bool
		wantQueryErr  bool
		wantErr       bool
	}{
		{"token from the query when there is no header", nil, map[string]string{"token": token}, token, true, false, false, false},
		{"the header wins over the query", map[string]string{TokenHeader: other}, map[string]string{"token": token}, other, false, false, false, false},
		{"a repeated query token", nil, map[string]string{"token": token + "," + token}, "", false, false, false, true},
		{"dryRun=true", map[string]string{TokenHeader: token}, map[string]string{"dryRun": "true"}, token, false, true, false, false},
		{"dryRun=TRUE", map[string]string{TokenHeader: token}, map[string]string{"dryRun": "TRUE"}, token, false, true, false, false},
		{"dryRun=false", map[string]string{TokenHeader: token}, map[string]string{"dryRun": "false"}, token, false, false, false, false},
		{"dryRun=yes is reported after authentication", map[string]string{TokenHeader: token}, map[string]string{"dryRun": "yes"}, token, false, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := IngestCommand(Request{Headers: tt.headers, QueryStringParameters: tt.query, PathParameters: map[string]string{"id": "w"}})
			if tt.wantErr {
				if lead.ErrorCode(err) != lead.EUNAUTHORIZED {
					t.Fatalf("IngestCommand = %v; want 401", err)
				}
				return
			}
			if err != nil || cmd.Token != tt.wantToken || cmd.TokenFromQuery != tt.wantFromQuery || cmd.DryRun != tt.wantDryRun || (cmd.QueryErr != nil) != tt.wantQueryErr {
				t.Errorf("IngestCommand = token %.8s… fromQuery %v dryRun %v queryErr %v, %v; want %.8s… %v %v %v",
					cmd.Token, cmd.TokenFromQuery, cmd.DryRun, cmd.QueryErr, err, tt.wantToken, tt.wantFromQuery, tt.wantDryRun, tt.wantQueryErr)
			}
		})
	}
}
