package lead

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// SealInfo is the HKDF info of the subkey that seals secrets (DESIGN.md). The token HMAC
// keeps using the Secrets Manager key itself, as it always has, so that every token hash
// already stored stays valid; only the new purpose gets a derived key.
const SealInfo = "secret-seal"

// Sealer encrypts the secrets the service must use in the clear (vendor signing secrets):
// AES-256-GCM under a subkey derived with HKDF-SHA256 from the Secrets Manager key, with
// the owning item's key as associated data, so a sealed value moved to another item does
// not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the sealing subkey from the server-side key; the key must not be empty.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) == 0 {
		return nil, fmt.Errorf("secret sealing key is empty")
	}
	sub, err := hkdf.Key(sha256.New, key, nil, SealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive the sealing key: %w", err)
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

// Seal encrypts plain for the item named by ad: a random 12-byte nonce, then the
// ciphertext and its tag.
func (s *Sealer) Seal(plain, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: read nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, ad), nil
}

// Open decrypts a value Seal made for the same item.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("open sealed secret: too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, fmt.Errorf("open sealed secret: %w", err)
	}
	return plain, nil
}

// signingSecretAD is the associated data of a webhook's sealed signing secret: the
// webhook item's partition and sort key, as DESIGN.md asks.
func signingSecretAD(webhookID string) []byte {
	return []byte("WEBHOOK#" + webhookID + "\x00WEBHOOK")
}
