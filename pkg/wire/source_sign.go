package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// SignatureWindow is how far a signed request's timestamp may be from the time it
// arrives, either way (Webflow and Standard Webhooks: 5 minutes).
const SignatureWindow = 5 * time.Minute

// hmacSHA256 is HMAC-SHA256(key, parts...).
func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// anyMatch reports whether the signature sig (already decoded) is the MAC of the parts
// under one of the keys; every key is tried, so the time does not say which one matched.
func anyMatch(sig []byte, keys [][]byte, parts ...[]byte) bool {
	ok := false
	for _, k := range keys {
		if hmac.Equal(sig, hmacSHA256(k, parts...)) {
			ok = true
		}
	}
	return ok
}

// base64Body verifies a signature that is base64(HMAC-SHA256(secret, raw body)), after an
// optional prefix (Typeform's "sha256="); the secrets are used as written.
func base64Body(header, prefix string) func(r SourceRequest, secrets [][]byte) error {
	return func(r SourceRequest, secrets [][]byte) error {
		v, n := r.Header(header)
		if n != 1 {
			return lead.SignatureInvalid("send the " + header + " header exactly once")
		}
		enc, ok := strings.CutPrefix(strings.TrimSpace(v), prefix)
		if !ok {
			return lead.SignatureInvalid("the " + header + " header must start with " + prefix)
		}
		sig, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(sig) != sha256.Size {
			return lead.SignatureInvalid("the " + header + " header is not a base64 HMAC-SHA256")
		}
		if !anyMatch(sig, secrets, r.Raw) {
			return lead.SignatureInvalid("the " + header + " signature does not match the body and the webhook's signing secret")
		}
		return nil
	}
}

// timestampWithin reads a decimal timestamp in units of unit and checks it is within
// SignatureWindow of now.
func timestampWithin(v string, unit time.Duration, now time.Time) bool {
	if v == "" || len(v) > 19 {
		return false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return false
	}
	t := time.Unix(0, 0).Add(time.Duration(n) * unit)
	d := now.Sub(t)
	return d <= SignatureWindow && d >= -SignatureWindow
}

// hexDecode decodes a hex signature, either case.
func hexDecode(s string) ([]byte, bool) {
	b, err := hex.DecodeString(strings.ToLower(strings.TrimSpace(s)))
	return b, err == nil
}

// base64URL is the alphabet of generated secrets: URL- and header-safe, no padding.
var base64URL = base64.RawURLEncoding
