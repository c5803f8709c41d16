package wire

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

func TestDecodeBody(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name     string
		body     string
		isBase64 bool
		max      int
		want     string
		wantCode lead.Code
	}{
		{"plain body", `{"data":{}}`, false, 16, `{"data":{}}`, ""},
		{"plain body one byte too large", strings.Repeat("x", 17), false, 16, "", lead.ETOOLARGE},
		{"base64 body", b64([]byte(`{"data":{}}`)), true, 16, `{"data":{}}`, ""},
		{"base64 body exactly at the limit", b64([]byte(strings.Repeat("x", 16))), true, 16, strings.Repeat("x", 16), ""},
		{"base64 body one byte too large", b64([]byte(strings.Repeat("x", 17))), true, 16, "", lead.ETOOLARGE},
		{"base64 body far too large is refused before decoding", strings.Repeat("!", 1000), true, 16, "", lead.ETOOLARGE},
		{"invalid base64", "not base64!", true, 16, "", lead.EINVALID},
		{"base64 with padding in the middle", "YQ==YQ==", true, 16, "", lead.EINVALID},
		{"base64 with non-zero trailing bits", "YR==", true, 16, "", lead.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBody(tt.body, tt.isBase64, tt.max)
			if lead.ErrorCode(err) != tt.wantCode && !(tt.wantCode == "" && err == nil) {
				t.Fatalf("DecodeBody(%.20q) = %v; want code %q", tt.body, err, tt.wantCode)
			}
			if err == nil && string(got) != tt.want {
				t.Errorf("DecodeBody(%.20q) = %q; want %q", tt.body, got, tt.want)
			}
		})
	}
}

func TestEntryJSONRendersNumbersExactly(t *testing.T) {
	e := &lead.Entry{ID: "e", Data: map[string]any{"n": lead.Number("12345678901234567890.123456789")}}
	b, err := EntryJSON(e)
	if err != nil || !strings.Contains(string(b), `"n":12345678901234567890.123456789`) {
		t.Errorf("EntryJSON = %s, %v; want the number digit for digit", b, err)
	}
	if _, err := EntryJSON(&lead.Entry{ID: "e", Data: map[string]any{"n": lead.Number("1e999")}}); err == nil {
		t.Error("EntryJSON(out-of-range number) error = nil; want an error")
	}
}
