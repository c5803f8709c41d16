package lead

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"
)

// Fingerprint is the SHA-256 of a parsed body's content: its data and custom field data,
// whatever the whitespace, key order or content type they arrived in. Two requests with one
// Idempotency-Key are the same request when their fingerprints are equal. Custom field ids
// count case-insensitively, as everywhere else.
func Fingerprint(b *Body) []byte {
	h := sha256.New()
	fingerprintMap(h, b.Data, false)
	fingerprintMap(h, b.CustomFieldData, true)
	return h.Sum(nil)
}

// fingerprintMap writes m to h unambiguously: a count, then each key and value in key order,
// every string with its length.
func fingerprintMap(h hash.Hash, m map[string]any, lowerKeys bool) {
	keyed := make(map[string]any, len(m))
	for k, v := range m {
		if lowerKeys {
			k = strings.ToLower(k)
		}
		keyed[k] = v
	}
	writeLen(h, len(keyed))
	for _, k := range slices.Sorted(maps.Keys(keyed)) {
		writeString(h, k)
		fingerprintValue(h, keyed[k])
	}
}

func fingerprintValue(h hash.Hash, v any) {
	switch v := v.(type) {
	case nil:
		h.Write([]byte{'z'})
	case string:
		h.Write([]byte{'s'})
		writeString(h, v)
	case Number:
		h.Write([]byte{'n'})
		writeString(h, string(v))
	case bool:
		if v {
			h.Write([]byte{'t'})
		} else {
			h.Write([]byte{'f'})
		}
	case []string:
		h.Write([]byte{'l'})
		writeLen(h, len(v))
		for _, s := range v {
			writeString(h, s)
		}
	case []any:
		h.Write([]byte{'a'})
		writeLen(h, len(v))
		for _, e := range v {
			fingerprintValue(h, e)
		}
	default:
		// Parsing yields only the types above; anything else still counts by its text.
		h.Write([]byte{'?'})
		writeString(h, fmt.Sprintf("%T:%v", v, v))
	}
}

func writeLen(h hash.Hash, n int) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
}

func writeString(h hash.Hash, s string) {
	writeLen(h, len(s))
	h.Write([]byte(s))
}
