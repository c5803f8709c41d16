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
	first, err := newV7(at)
	if err != nil {
		t.Fatal(err)
	}
	later, _ := newV7(at.Add(time.Millisecond))
	u, err := uuid.Parse(first)
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || first != u.String() {
		t.Fatalf("newV7() = %q (version %d, variant %v, err %v); want a canonical UUIDv7", first, u.Version(), u.Variant(), err)
	}
	if sec, nsec := u.Time().UnixTime(); time.Unix(sec, nsec).UTC() != at {
		t.Errorf("newV7(%v) carries time %v; want %v", at, time.Unix(sec, nsec).UTC(), at)
	}
	if !(first < later) {
		t.Errorf("newV7 ids do not sort by time: %q then %q", first, later)
	}
	if id, err := NewEntryID(); err != nil || !IsUUID(id) {
		t.Errorf("NewEntryID() = %q, %v; want a UUID", id, err)
	}
}
