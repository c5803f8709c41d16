package secretkey

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"testing"
)

// TestSealOpensOnlyWithItsKeyAndItem: a sealed secret opens to itself for its item only,
// is not the secret in the clear, differs each time (random nonce), is AES-256-GCM under
// HKDF-SHA256(key, info "secret-seal") (not under the key itself), and another key, another
// item, a changed byte, a short or an unsealed value do not open.
func TestSealOpensOnlyWithItsKeyAndItem(t *testing.T) {
	key := []byte("service key")
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSealer([]byte("another key"))
	aad := []byte("WEBHOOK#1\x00WEBHOOK")
	sealed, err := s.Seal([]byte("0x4AAAAAAA-secret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatalf("Seal = %q; holds the plain text", sealed)
	}
	if got, err := s.Open(sealed, aad); err != nil || string(got) != "0x4AAAAAAA-secret" {
		t.Fatalf("Open = %q, %v; want the secret", got, err)
	}
	again, _ := s.Seal([]byte("0x4AAAAAAA-secret"), aad)
	if bytes.Equal(again, sealed) {
		t.Error("two seals of one secret are equal; want a fresh nonce each")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"other item": func() ([]byte, error) { return s.Open(sealed, []byte("WEBHOOK#2\x00WEBHOOK")) },
		"other key":  func() ([]byte, error) { return other.Open(sealed, aad) },
		"tampered":   func() ([]byte, error) { return s.Open(tampered, aad) },
		"short":      func() ([]byte, error) { return s.Open(sealed[:5], aad) },
		"not sealed": func() ([]byte, error) { return s.Open([]byte("plain text value, long enough to pass"), aad) },
	} {
		if _, err := open(); !errors.Is(err, ErrUnseal) {
			t.Errorf("Open(%s) = %v; want ErrUnseal", name, err)
		}
	}
	// The layout: a version byte, the 12-byte nonce, then AES-256-GCM under the subkey.
	if sealed[0] != sealVersion {
		t.Errorf("sealed value starts with %d; want the version %d", sealed[0], sealVersion)
	}
	sub, err := hkdf.Key(sha256.New, key, nil, "secret-seal", 32)
	if err != nil {
		t.Fatal(err)
	}
	openWith := func(k []byte) error {
		block, err := aes.NewCipher(k)
		if err != nil {
			return err
		}
		gcm, _ := cipher.NewGCM(block)
		_, err = gcm.Open(nil, sealed[1:13], sealed[13:], aad)
		return err
	}
	if err := openWith(sub); err != nil {
		t.Errorf("not AES-256-GCM under the HKDF subkey: %v", err)
	}
	raw := sha256.Sum256(key)
	if err := openWith(raw[:]); err == nil {
		t.Errorf("opens under a key other than the subkey")
	}
	if _, err := NewSealer(nil); err == nil {
		t.Error("NewSealer(empty key) = nil error; want one")
	}
}
