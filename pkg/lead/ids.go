package lead

import (
	"fmt"

	"github.com/google/uuid"
)

// NewID returns a random UUIDv4, the id of webhooks, pools, lead states and custom fields.
// A webhook id is part of a public URL, so ids must reveal nothing, not even their
// creation time.
func NewID() (string, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}

// NewEntryID returns a UUIDv7, so entry sort keys follow creation time.
func NewEntryID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new entry id: %w", err)
	}
	return id.String(), nil
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
