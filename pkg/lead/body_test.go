package lead

import (
	"encoding/json"
	"testing"
)

func TestQuoteJSONEscapesAsEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `a"b\c`, "\b\f\n\r\t\x00\x1f\x7f", "<a>&b", "é ü 日本", "\u2028\u2029", "bad \xff utf8", "\xed\xa0\x80"} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := quoteJSON(s); got != string(want) {
			t.Errorf("quoteJSON(%q) = %s; want %s", s, got, want)
		}
	}
}

func FuzzQuoteJSON(f *testing.F) {
	f.Add("a<b>\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := quoteJSON(s); got != string(want) {
			t.Errorf("quoteJSON(%q) = %s; want %s", s, got, want)
		}
	})
}

func TestDetailPath(t *testing.T) {
	tests := []struct{ parent, key, want string }{
		{"", "email", "email"},
		{"data", "email", "data.email"},
		{"data", "first name", `data["first name"]`},
		{"data", "", `data[""]`},
		{"", "a.b", `["a.b"]`},
	}
	for _, tt := range tests {
		if got := DetailPath(tt.parent, tt.key); got != tt.want {
			t.Errorf("DetailPath(%q, %q) = %s; want %s", tt.parent, tt.key, got, tt.want)
		}
	}
}
