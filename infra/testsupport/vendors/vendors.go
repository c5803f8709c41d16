// Package vendors signs test deliveries the way each form and ad vendor does,
// written from the vendors' published recipes and independent of the service's own
// verification code, and loads the realistic fixtures under pkg/wire/testdata/sources. It
// runs only inside `go test`.
package vendors

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Fixture returns the fixture file of pkg/wire/testdata/sources with the name.
func Fixture(name string) ([]byte, error) {
	_, here, _, _ := runtime.Caller(0)
	return os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "..", "pkg", "wire", "testdata", "sources", name))
}

func mac(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Typeform signs as Typeform does: Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, body)>.
func Typeform(secret string, body []byte) map[string]string {
	return map[string]string{"Typeform-Signature": "sha256=" + base64.StdEncoding.EncodeToString(mac([]byte(secret), string(body)))}
}

// Tally signs as Tally does: Tally-Signature: <base64 HMAC-SHA256(secret, body)>.
func Tally(secret string, body []byte) map[string]string {
	return map[string]string{"Tally-Signature": base64.StdEncoding.EncodeToString(mac([]byte(secret), string(body)))}
}

// Webflow signs as Webflow does: x-webflow-timestamp in milliseconds and
// x-webflow-signature: hex HMAC-SHA256(secret, timestamp + ":" + body).
func Webflow(secret string, body []byte, at time.Time) map[string]string {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	return map[string]string{
		"x-webflow-timestamp": ts,
		"x-webflow-signature": hex.EncodeToString(mac([]byte(secret), ts+":"+string(body))),
	}
}

// StandardSignature is the Standard Webhooks signature of a message: v1,<base64
// HMAC-SHA256(key, id.timestamp.body)>, the key being the base64 after whsec_.
func StandardSignature(secret, id string, ts int64, body []byte) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic("vendors: a whsec_ secret is base64: " + err.Error())
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id+"."+strconv.FormatInt(ts, 10)+"."+string(body)))
}

// StandardWebhooks returns the headers of a Standard Webhooks delivery.
func StandardWebhooks(secret, id string, at time.Time, body []byte) map[string]string {
	return map[string]string{
		"webhook-id":        id,
		"webhook-timestamp": strconv.FormatInt(at.Unix(), 10),
		"webhook-signature": StandardSignature(secret, id, at.Unix(), body),
	}
}
