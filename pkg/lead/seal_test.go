package lead

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"
)

// TestSealerSealsUnderTheHKDFSubkeyForOneWebhook: a sealed secret opens to itself for its
// webhook only, is not the secret in the clear, differs each time (random nonce), is
// AES-256-GCM under HKDF-SHA256(key, info "secret-seal") (not under the key itself), and
// a changed byte does not open.
func TestSealerSealsUnderTheHKDFSubkeyForOneWebhook(t *testing.T) {
	key := []byte("the-secrets-manager-key")
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	a, b := "0f8fad5b-d9cb-469f-a165-70867728950e", "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	sealed, err := s.Seal(secret, signingSecretAD(a))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.Seal(secret, signingSecretAD(a))
	if bytes.Contains(sealed, secret) || bytes.Equal(sealed, again) {
		t.Errorf("sealed value holds the secret, or sealing is deterministic")
	}
	if got, err := s.Open(sealed, signingSecretAD(a)); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("Open = %q, %v; want the secret", got, err)
	}
	if _, err := s.Open(sealed, signingSecretAD(b)); err == nil {
		t.Errorf("a secret sealed for one webhook opens for another")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.Open(tampered, signingSecretAD(a)); err == nil {
		t.Errorf("a changed byte opens")
	}
	sub, err := hkdf.Key(sha256.New, key, nil, "secret-seal", 32)
	if err != nil {
		t.Fatal(err)
	}
	open := func(k []byte) error {
		block, err := aes.NewCipher(k)
		if err != nil {
			return err
		}
		gcm, _ := cipher.NewGCM(block)
		_, err = gcm.Open(nil, sealed[:12], sealed[12:], signingSecretAD(a))
		return err
	}
	if err := open(sub); err != nil {
		t.Errorf("not AES-256-GCM under the HKDF subkey: %v", err)
	}
	raw := sha256.Sum256(key)
	if err := open(raw[:]); err == nil {
		t.Errorf("opens under a key other than the subkey")
	}
	if _, err := NewSealer(nil); err == nil {
		t.Errorf("NewSealer(empty key) succeeded")
	}
}

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
