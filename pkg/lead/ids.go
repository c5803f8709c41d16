package lead

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// NewID returns a random UUIDv4, the id of webhooks, pools, lead states and custom fields.
// A webhook id is part of a public URL, so ids must reveal nothing, not even their
// creation time.
func NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return formatUUID(b), nil
}

// NewEntryID returns a UUIDv7: 48 bits of Unix milliseconds, then 12 bits of sub-millisecond
// time, then random bits, so entry sort keys follow creation time. Ids made by one instance
// are strictly increasing even within one clock tick.
func NewEntryID() (string, error) {
	return newV7(time.Now())
}

var (
	v7Mu   sync.Mutex
	v7Last int64 // the last milliseconds<<12 | fraction handed out
)

func newV7(now time.Time) (string, error) {
	nanos := now.UnixNano()
	t := nanos/1e6<<12 | (nanos%1e6)*4096/1e6
	v7Mu.Lock()
	if t <= v7Last {
		t = v7Last + 1
	}
	v7Last = t
	v7Mu.Unlock()
	return encodeV7(t)
}

// encodeV7 writes a UUIDv7 for t, Unix milliseconds shifted left by 12 bits with the
// sub-millisecond fraction in those 12 bits.
func encodeV7(t int64) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[8:]); err != nil {
		return "", fmt.Errorf("new entry id: %w", err)
	}
	binary.BigEndian.PutUint64(b[:8], uint64(t>>12)<<16|uint64(t&0xfff))
	b[6] = b[6]&0x0f | 0x70 // version 7, above the 12 fraction bits
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return formatUUID(b), nil
}

// formatUUID writes b in the canonical lower-case 8-4-4-4-12 form.
func formatUUID(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// IsUUID reports whether s is a UUID in its canonical 8-4-4-4-12 hex form (either case).
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
