package lead

// Sealer seals and opens the secrets the service must use in the clear (vendor signing
// secrets, CAPTCHA secrets); secretkey.Sealer is the one implementation (AES-256-GCM under
// HKDF-SHA256(key, info "secret-seal")). The associated data names the item that holds the
// value, so a sealed value moved to another item does not open.
type Sealer interface {
	Seal(plain, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// WebhookSealAD is the associated data of a webhook's sealed secrets: the webhook item's
// partition and sort key, so a sealed value opens only on its own item.
func WebhookSealAD(webhookID string) []byte {
	return []byte("WEBHOOK#" + webhookID + "\x00WEBHOOK")
}
