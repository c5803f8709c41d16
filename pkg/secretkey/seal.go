package secretkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// SealInfo is the HKDF info of the subkey that seals the secrets the service must use in the
// clear (CAPTCHA secret keys, vendor signing secrets); the token hash keeps the key itself.
const SealInfo = "secret-seal"

// sealVersion prefixes every sealed value, so that another scheme can follow.
const sealVersion = 1

// ErrUnseal means a sealed value could not be opened: another key, another item, or damage.
var ErrUnseal = errors.New("sealed secret cannot be opened")

// Sealer encrypts secrets with AES-256-GCM under a subkey derived with HKDF-SHA256 from the
// Secrets Manager key (info SealInfo). The associated data binds a sealed value to its item
// (its pk and sk), so a value copied to another item does not open there.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the sealing subkey from the service key; the key must not be empty.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("sealing key is empty")
	}
	sub, err := hkdf.Key(sha256.New, key, nil, SealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive sealing key: %w", err)
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, fmt.Errorf("sealing cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealing cipher: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain bound to aad: version byte, random nonce, ciphertext and tag.
func (s *Sealer) Seal(plain, aad []byte) ([]byte, error) {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: read nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:], plain, aad), nil
}

// Open decrypts a value Seal made with the same aad; anything else is ErrUnseal.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}
