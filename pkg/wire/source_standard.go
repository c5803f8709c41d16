package wire

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// The standard-webhooks source (standardwebhooks.com): headers webhook-id,
// webhook-timestamp (seconds, within 5 minutes) and webhook-signature, a space-separated
// list of v1,<base64 HMAC-SHA256(key, id "." timestamp "." raw body)>, any of which may
// match; the secret is whsec_<base64 key>. The body's data object is the lead; its other
// top-level scalars go under _standard-webhooks. webhook-id is the delivery id.
var _ = register(&Source{
	name:        "standard-webhooks",
	sigHeader:   "webhook-signature",
	verify:      verifyStandard,
	newSecret:   func() (string, error) { return randomSecret(whsecPrefix, 24, base64.StdEncoding) },
	checkSecret: checkWhsec,
	jsonBody:    true,
	read:        readStandard,
})

const (
	whsecPrefix   = "whsec_"
	standardShape = `a JSON object whose "data" member is an object`
)

// whsecKey is the HMAC key of a Standard Webhooks secret: the base64 after whsec_ (the
// prefix is optional, as in the reference libraries).
func whsecKey(secret []byte) ([]byte, bool) {
	s := strings.TrimPrefix(string(secret), whsecPrefix)
	k, err := base64.StdEncoding.DecodeString(s)
	return k, err == nil && len(k) > 0
}

func checkWhsec(secret string) string {
	if _, ok := whsecKey([]byte(secret)); !ok {
		return "must be whsec_ followed by base64"
	}
	return ""
}

func verifyStandard(r SourceRequest, secrets [][]byte) error {
	id, ts := r.header("webhook-id"), r.header("webhook-timestamp")
	if id == "" || ts == "" {
		return lead.SignatureInvalid("send the webhook-id and webhook-timestamp headers exactly once with webhook-signature")
	}
	if !timestampWithin(ts, time.Second, r.Now) {
		return lead.SignatureInvalid("the webhook-timestamp is not within 5 minutes of now")
	}
	keys := make([][]byte, 0, len(secrets))
	for _, s := range secrets {
		if k, ok := whsecKey(s); ok {
			keys = append(keys, k)
		}
	}
	v, _ := r.Header("webhook-signature")
	ok := false
	for _, part := range strings.Fields(v) {
		version, enc, found := strings.Cut(part, ",")
		if !found || version != "v1" {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(sig) != 32 {
			continue
		}
		if anyMatch(sig, keys, []byte(id), []byte("."), []byte(ts), []byte("."), r.Raw) {
			ok = true
		}
	}
	if !ok {
		return lead.SignatureInvalid("no v1 signature in webhook-signature matches the body and the webhook's signing secret")
	}
	return nil
}

func readStandard(r SourceRequest) (*sourceData, error) {
	obj, err := vendorJSON(r.Raw, "standard-webhooks", standardShape)
	if err != nil {
		return nil, err
	}
	data := member(obj, "data")
	if data == nil {
		return nil, wrongShape("standard-webhooks", standardShape)
	}
	d := newSourceData()
	for _, k := range data.keys {
		switch v := data.values[k].(type) {
		case *object:
			// A nested object is no lead value: a mapping can pick from it.
		default:
			d.set(dataKey(k), v)
		}
	}
	for _, k := range obj.keys {
		if k != "data" {
			d.meta("standard-webhooks", k, obj.values[k])
		}
	}
	d.deliveryID = r.header("webhook-id")
	return d, nil
}
