package secretkey

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpensOnlyWithItsKeyAndItem(t *testing.T) {
	s, err := NewSealer([]byte("service key"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSealer([]byte("another key"))
	aad := []byte("WEBHOOK#1WEBHOOK")
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
		"other item": func() ([]byte, error) { return s.Open(sealed, []byte("WEBHOOK#2WEBHOOK")) },
		"other key":  func() ([]byte, error) { return other.Open(sealed, aad) },
		"tampered":   func() ([]byte, error) { return s.Open(tampered, aad) },
		"short":      func() ([]byte, error) { return s.Open(sealed[:5], aad) },
		"not sealed": func() ([]byte, error) { return s.Open([]byte("plain text value, long enough to pass"), aad) },
	} {
		if _, err := open(); !errors.Is(err, ErrUnseal) {
			t.Errorf("Open(%s) = %v; want ErrUnseal", name, err)
		}
	}
	if _, err := NewSealer(nil); err == nil {
		t.Error("NewSealer(empty key) = nil error; want one")
	}
}
