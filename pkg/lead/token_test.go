package lead

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

func TestNewTokenIsWellFormedAndFresh(t *testing.T) {
	a, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewToken()
	if !WellFormedToken(a) || a != strings.ToLower(a) || a == b {
		t.Errorf("NewToken() = %q, %q; want two different 64 lower-case hex tokens", a, b)
	}
}

func TestWellFormedToken(t *testing.T) {
	good := strings.Repeat("ab12", 16)
	tests := []struct {
		in   string
		want bool
	}{
		{good, true},
		{strings.ToUpper(good), true},
		{good[:63], false},
		{good + "a", false},
		{good[:63] + "g", false},
		{good[:31] + "," + good[:32], false},
		{"", false},
	}
	for _, tt := range tests {
		if got := WellFormedToken(tt.in); got != tt.want {
			t.Errorf("WellFormedToken(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestHasherVerify(t *testing.T) {
	h, err := NewHasher([]byte("server-key"))
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := NewToken()
	prev, _ := NewToken()
	other, _ := NewToken()
	m := hmac.New(sha256.New, []byte("server-key"))
	m.Write([]byte(cur))
	if !bytes.Equal(h.Hash(cur), m.Sum(nil)) {
		t.Fatal("Hash is not HMAC-SHA256(key, token)")
	}
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	w := &Webhook{TokenHash: h.Hash(cur), PreviousTokenHash: h.Hash(prev), PreviousTokenExpiresAt: now.Add(time.Minute)}
	tests := []struct {
		name  string
		token string
		at    time.Time
		want  bool
	}{
		{"current", cur, now, true},
		{"current upper-case", strings.ToUpper(cur), now, true},
		{"previous within grace", prev, now, true},
		{"previous after grace", prev, now.Add(time.Minute), false},
		{"other", other, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.Verify(w, tt.token, tt.at); got != tt.want {
				t.Errorf("Verify(%s) = %v; want %v", tt.name, got, tt.want)
			}
		})
	}
	if _, err := NewHasher(nil); err == nil {
		t.Error("NewHasher(nil) succeeded; want an error for an empty key")
	}
}
