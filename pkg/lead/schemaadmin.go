package lead

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// SchemaStore is what schema administration needs from storage.
type SchemaStore interface {
	// Pool returns the pool with the id (strongly consistent), or nil if there is none.
	Pool(ctx context.Context, poolID string) (*Pool, error)
	// ReplaceSchema makes schema the pool's schema (possibly empty) and counts one
	// more schema version, on condition that the pool exists and its schema version is
	// still version; otherwise it returns ErrSchemaChanged and writes nothing.
	ReplaceSchema(ctx context.Context, poolID string, version int64, schema Schema) error
}

// SchemaView is a pool's schema as the schema administration answers it.
type SchemaView struct {
	PoolID   string
	Schema   Schema
	KeyCount int
}

// SchemaPatch declares or changes key types (Set) and frees keys (Unlock) in a pool's
// schema; an unlocked key is locked again by the next request that carries it.
type SchemaPatch struct {
	PoolID string
	Set    Schema
	Unlock []string
}

// SchemaAdmin shows and repairs pool schemas: the operator's remedy when the first sender
// locked a key to a type other senders cannot match.
type SchemaAdmin struct {
	Store  SchemaStore
	Limits Limits
}

// NewSchemaAdmin returns a schema administration with the default limits.
func NewSchemaAdmin(store SchemaStore) *SchemaAdmin {
	return &SchemaAdmin{Store: store, Limits: DefaultLimits()}
}

// maxSchemaWriteAttempts bounds the re-reads of a schema patch that lost its conditional
// write to a concurrent change (a request locking keys, another patch). Every lost race
// means another writer committed, so the patch waits a jittered, growing pause before it
// re-reads: a burst of first POSTs cannot starve it.
const maxSchemaWriteAttempts = 16

// Show returns the pool's schema; an unknown pool is ENOTFOUND.
func (a *SchemaAdmin) Show(ctx context.Context, poolID string) (*SchemaView, error) {
	p, err := a.pool(ctx, poolID)
	if err != nil {
		return nil, err
	}
	return viewSchema(p.ID, p.Schema), nil
}

// Patch applies the patch to the pool's schema and returns the schema as written. The write
// is conditional on the schema version read, so it never undoes a key a concurrent request
// locked meanwhile nor pushes the schema past its limit: a lost race re-reads and re-applies.
func (a *SchemaAdmin) Patch(ctx context.Context, in SchemaPatch) (*SchemaView, error) {
	if err := a.checkPatch(in); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		p, err := a.pool(ctx, in.PoolID)
		if err != nil {
			return nil, err
		}
		next := maps.Clone(p.Schema)
		if next == nil {
			next = Schema{}
		}
		for _, k := range in.Unlock {
			delete(next, k)
		}
		maps.Copy(next, in.Set)
		if len(next) > a.Limits.MaxSchemaKeys {
			return nil, Invalid(fmt.Sprintf("the schema would hold %d keys, at most %d", len(next), a.Limits.MaxSchemaKeys),
				Detail{Path: "set", Problem: "the pool's schema would be full"})
		}
		if maps.Equal(next, p.Schema) || len(next) == 0 && len(p.Schema) == 0 {
			return viewSchema(p.ID, next), nil
		}
		err = a.Store.ReplaceSchema(ctx, p.ID, p.SchemaVersion, next)
		if err == nil {
			return viewSchema(p.ID, next), nil
		}
		if !errors.Is(err, ErrSchemaChanged) {
			return nil, fmt.Errorf("replace schema of pool %s (attempt %d): %w", p.ID, attempt, err)
		}
		if attempt == maxSchemaWriteAttempts {
			// Every lost race is another writer's commit: the pool is busy, nothing is written.
			return nil, fmt.Errorf("replace schema of pool %s (%d attempts): %w: %w", p.ID, attempt, Unavailable(), err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, fmt.Errorf("replace schema of pool %s: %w: %w", p.ID, Unavailable(), err)
		}
	}
}

// backoff waits before the next attempt of a conditional write that lost a race: a random
// pause of up to 2^attempt ms (capped at 100 ms), so that racing writers spread out.
func backoff(ctx context.Context, attempt int) error {
	ceiling := time.Duration(min(1<<min(attempt, 7), 100)) * time.Millisecond
	t := time.NewTimer(time.Duration(rand.Int64N(int64(ceiling) + 1)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (a *SchemaAdmin) pool(ctx context.Context, poolID string) (*Pool, error) {
	if !IsUUID(poolID) {
		return nil, notFound("lead pool")
	}
	p, err := a.Store.Pool(ctx, strings.ToLower(poolID))
	if err != nil {
		return nil, fmt.Errorf("read pool %s: %w", poolID, err)
	}
	if p == nil {
		return nil, notFound("lead pool")
	}
	return p, nil
}

// checkPatch validates the keys and types of a patch; a key may not be both set and unlocked.
func (a *SchemaAdmin) checkPatch(in SchemaPatch) error {
	var details []Detail
	keyProblem := func(k string) string {
		switch {
		case k == "":
			return "a key must not be empty"
		case !utf8.ValidString(k):
			return "a key must be valid UTF-8"
		case len(k) > a.Limits.MaxKeyBytes:
			return fmt.Sprintf("a key is at most %d bytes", a.Limits.MaxKeyBytes)
		}
		return ""
	}
	for _, k := range slices.Sorted(maps.Keys(in.Set)) {
		path := DetailPath("set", k)
		if !utf8.ValidString(k) {
			path = "set"
		}
		if problem := keyProblem(k); problem != "" {
			details = append(details, Detail{Path: path, Problem: problem})
		} else if t := in.Set[k]; !t.Valid() {
			details = append(details, Detail{Path: path, Problem: fmt.Sprintf("unknown type %q: use string, number, boolean or string[]", string(t))})
		}
	}
	for i, k := range in.Unlock {
		path := fmt.Sprintf("unlock[%d]", i)
		if problem := keyProblem(k); problem != "" {
			details = append(details, Detail{Path: path, Problem: problem})
		} else if _, both := in.Set[k]; both {
			details = append(details, Detail{Path: path, Problem: "a key cannot be both set and unlocked"})
		}
	}
	if len(in.Set) > a.Limits.MaxSchemaKeys {
		details = append(details, Detail{Path: "set", Problem: fmt.Sprintf("a schema holds at most %d keys", a.Limits.MaxSchemaKeys)})
	}
	if len(details) > 0 {
		return InvalidDetails(details...)
	}
	return nil
}

func viewSchema(poolID string, s Schema) *SchemaView {
	if s == nil {
		s = Schema{}
	}
	return &SchemaView{PoolID: poolID, Schema: s, KeyCount: len(s)}
}
