package lead

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"
)

// TestTokenHashIsUnchangedBySealing: the token HMAC still uses the Secrets Manager key
// itself, so hashes stored before sealing existed still verify.
func TestTokenHashIsUnchangedBySealing(t *testing.T) {
	key := []byte("the-secrets-manager-key")
	h, _ := NewHasher(key)
	token := "7f3c1a9e5b2d4c6f8a0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a"
	m := hmacSHA256ForTest(key, token)
	if !bytes.Equal(h.Hash(token), m) {
		t.Errorf("the token hash is not HMAC-SHA256(key, token)")
	}
	if !h.Verify(&Webhook{TokenHash: m}, token, time.Now()) {
		t.Errorf("a stored hash of the old scheme does not verify")
	}
}

func hmacSHA256ForTest(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
