package lead

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"time"
)

// TokenLen is the length of a token in hex characters (32 random bytes).
const TokenLen = 64

// NewToken returns a fresh token: 32 bytes from crypto/rand as 64 lower-case hex characters.
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random token bytes: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// WellFormedToken reports whether s is exactly 64 hex characters.
func WellFormedToken(s string) bool {
	if len(s) != TokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Hasher turns tokens into the HMAC-SHA256 hashes stored in place of them.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher for the server-side key; the key must not be empty.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("token hashing key is empty")
	}
	return &Hasher{key: append([]byte(nil), key...)}, nil
}

// Hash returns HMAC-SHA256(key, token); hex is case-insensitive, so the token is
// lower-cased first.
func (h *Hasher) Hash(token string) []byte {
	var buf [TokenLen]byte
	n := copy(buf[:], token)
	for i := 0; i < n; i++ {
		if c := buf[i]; 'A' <= c && c <= 'F' {
			buf[i] = c + ('a' - 'A')
		}
	}
	m := hmac.New(sha256.New, h.key)
	m.Write(buf[:n])
	return m.Sum(nil)
}

// Verify reports in constant time whether token matches the webhook's current hash, or its
// previous hash while the rotation grace period lasts.
func (h *Hasher) Verify(w *Webhook, token string, now time.Time) bool {
	sum := h.Hash(token)
	ok := subtle.ConstantTimeCompare(sum, w.TokenHash) == 1
	if len(w.PreviousTokenHash) > 0 && now.Before(w.PreviousTokenExpiresAt) {
		// Both comparisons always run, so timing says nothing about which one matched.
		ok = subtle.ConstantTimeCompare(sum, w.PreviousTokenHash) == 1 || ok
	}
	return ok
}
