package lead

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestNewIDIsRandomUUIDv4(t *testing.T) {
	a, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewID()
	u, err := uuid.Parse(a)
	if err != nil || !IsUUID(a) || u.Version() != 4 || u.Variant() != uuid.RFC4122 || a != u.String() {
		t.Errorf("NewID() = %q (version %d, variant %v, err %v); want a canonical UUIDv4", a, u.Version(), u.Variant(), err)
	}
	if a == b {
		t.Errorf("NewID() returned %q twice", a)
	}
}

func TestNewEntryIDIsTimeOrderedUUIDv7(t *testing.T) {
	at := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	first, err := encodeV7(at.UnixMilli() << 12)
	if err != nil {
		t.Fatal(err)
	}
	later, _ := encodeV7(at.UnixMilli()<<12 | 1)
	u, err := uuid.Parse(first)
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || first != u.String() {
		t.Fatalf("encodeV7() = %q (version %d, variant %v, err %v); want a canonical UUIDv7", first, u.Version(), u.Variant(), err)
	}
	if sec, nsec := u.Time().UnixTime(); time.Unix(sec, nsec).UTC() != at {
		t.Errorf("encodeV7(%v) carries time %v; want %v", at, time.Unix(sec, nsec).UTC(), at)
	}
	if !(first < later) {
		t.Errorf("ids do not sort by their sub-millisecond fraction: %q then %q", first, later)
	}
	prev := ""
	for range 1000 {
		id, err := NewEntryID()
		if err != nil || !IsUUID(id) || id <= prev {
			t.Fatalf("NewEntryID() = %q, %v after %q; want strictly increasing UUIDs", id, err, prev)
		}
		prev = id
	}
}
