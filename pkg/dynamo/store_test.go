package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// newPool creates a pool with a default lead state and returns it as PoolWithFields reads it.
func newPool(t *testing.T, s *dynamo.Store) *lead.Pool {
	t.Helper()
	ctx := context.Background()
	org, id := uuid.NewString(), uuid.NewString()
	awstest.Must(t, s.CreatePool(ctx, &lead.Pool{ID: id, OrganizationID: org, Name: "P"}, &lead.State{ID: uuid.NewString(), Name: "New"}))
	p, _, err := s.PoolWithFields(ctx, id, org, nil)
	awstest.Must(t, err)
	return p
}

func newEntry(p *lead.Pool, data map[string]any) *lead.Entry {
	id, _ := lead.NewEntryID()
	return &lead.Entry{ID: id, PoolID: p.ID, OrganizationID: p.OrganizationID, WebhookID: uuid.NewString(),
		LeadStateID: p.DefaultLeadStateID, CreatedAt: time.Now().UTC().Truncate(time.Second), Data: data}
}

func TestPutEntryLocksManyKeysWithinTheExpressionLimit(t *testing.T) {
	for _, tc := range []struct {
		n      int
		seeded bool
	}{{100, false}, {101, true}, {150, false}, {500, true}} {
		t.Run(fmt.Sprintf("%d keys, schema seeded %v", tc.n, tc.seeded), func(t *testing.T) {
			s := newStore(t)
			ctx := context.Background()
			p := newPool(t, s)
			if tc.seeded {
				// A non-empty schema, so the size condition is checked against a real count.
				awstest.Must(t, s.PutEntry(ctx, newEntry(p, map[string]any{"seed": "x"}), lead.SchemaLock{Locked: p.Schema, New: lead.Schema{"seed": lead.TypeString}}, nil))
				p, _, _ = s.PoolWithFields(ctx, p.ID, p.OrganizationID, nil)
			}
			data, keys := map[string]any{}, lead.Schema{}
			for i := range tc.n - len(p.Schema) {
				k := fmt.Sprintf("field_%03d", i)
				data[k], keys[k] = lead.Number(fmt.Sprint(i)), lead.TypeNumber
			}
			awstest.Must(t, s.PutEntry(ctx, newEntry(p, data), lead.SchemaLock{Locked: p.Schema, Version: p.SchemaVersion, New: keys}, nil))
			got, _, err := s.PoolWithFields(ctx, p.ID, p.OrganizationID, nil)
			awstest.Must(t, err)
			if len(got.Schema) != tc.n || got.Schema["field_000"] != lead.TypeNumber {
				t.Errorf("schema has %d keys (field_000 %q); want %d", len(got.Schema), got.Schema["field_000"], tc.n)
			}
			// The lock holds: locking one of those keys again, from the schema as it was, fails.
			err = s.PutEntry(ctx, newEntry(p, map[string]any{"field_001": "one"}), lead.SchemaLock{Locked: p.Schema, New: lead.Schema{"field_001": lead.TypeString}}, nil)
			if !errors.Is(err, lead.ErrSchemaChanged) {
				t.Errorf("relocking field_001 = %v; want ErrSchemaChanged", err)
			}
		})
	}
}

// lockedPool returns the pool after a request locked the keys of data.
func lockedPool(ctx context.Context, t *testing.T, s *dynamo.Store, p *lead.Pool, data map[string]any) *lead.Pool {
	t.Helper()
	keys := lead.Schema{}
	for k, v := range data {
		keys[k], _ = lead.InferType(v)
	}
	awstest.Must(t, s.PutEntry(ctx, newEntry(p, data), lead.SchemaLock{Locked: p.Schema, Version: p.SchemaVersion, New: keys}, nil))
	got, _, err := s.PoolWithFields(ctx, p.ID, p.OrganizationID, nil)
	awstest.Must(t, err)
	return got
}

func manyKeys(prefix string, n int) (map[string]any, lead.Schema) {
	data, keys := map[string]any{}, lead.Schema{}
	for i := range n {
		k := fmt.Sprintf("%s_%03d", prefix, i)
		data[k], keys[k] = "x", lead.TypeString
	}
	return data, keys
}

func TestSchemaWritesAreConditionalOnTheVersionRead(t *testing.T) {
	tests := []struct {
		name string
		run  func(ctx context.Context, t *testing.T, s *dynamo.Store, p *lead.Pool) error
		want error // nil for success
	}{
		{"a whole-map lock after an unlock and a relock left the schema at the size read", func(ctx context.Context, t *testing.T, s *dynamo.Store, p *lead.Pool) error {
			p = lockedPool(ctx, t, s, p, map[string]any{"age": "36"})
			stale := p
			awstest.Must(t, s.ReplaceSchema(ctx, p.ID, p.SchemaVersion, lead.Schema{}))
			p, _, _ = s.PoolWithFields(ctx, p.ID, p.OrganizationID, nil)
			lockedPool(ctx, t, s, p, map[string]any{"age": lead.Number("36")})
			// Same size as read (one key), but age is now number: the stale write must fail.
			data, keys := manyKeys("k", 101)
			return s.PutEntry(ctx, newEntry(stale, data), lead.SchemaLock{Locked: stale.Schema, Version: stale.SchemaVersion, New: keys}, nil)
		}, lead.ErrSchemaChanged},
		{"a per-key lock of a key an administrator declared since the read", func(ctx context.Context, t *testing.T, s *dynamo.Store, p *lead.Pool) error {
			p = lockedPool(ctx, t, s, p, map[string]any{"age": "36"})
			awstest.Must(t, s.ReplaceSchema(ctx, p.ID, p.SchemaVersion, lead.Schema{"age": lead.TypeString, "city": lead.TypeStringList}))
			return s.PutEntry(ctx, newEntry(p, map[string]any{"city": "Oslo"}), lead.SchemaLock{Locked: p.Schema, Version: p.SchemaVersion, New: lead.Schema{"city": lead.TypeString}}, nil)
		}, lead.ErrSchemaChanged},
		{"per-key locks that would push the schema past 1,000 keys", func(ctx context.Context, t *testing.T, s *dynamo.Store, p *lead.Pool) error {
			data, _ := manyKeys("a", 950)
			p = lockedPool(ctx, t, s, p, data)
			// Read when the schema had 950 keys; another request took 40 more meanwhile.
			more, _ := manyKeys("b", 40)
			lockedPool(ctx, t, s, p, more)
			last, keys := manyKeys("c", 40)
			return s.PutEntry(ctx, newEntry(p, last), lead.SchemaLock{Locked: p.Schema, Version: p.SchemaVersion, New: keys}, nil)
		}, lead.ErrSchemaChanged},
		{"a schema replacement after a request locked a key", func(ctx context.Context, t *testing.T, s *dynamo.Store, p *lead.Pool) error {
			p = lockedPool(ctx, t, s, p, map[string]any{"age": "36"})
			lockedPool(ctx, t, s, p, map[string]any{"city": "Oslo"})
			return s.ReplaceSchema(ctx, p.ID, p.SchemaVersion, lead.Schema{"age": lead.TypeNumber})
		}, lead.ErrSchemaChanged},
		{"a schema replacement of a pool that does not exist", func(ctx context.Context, t *testing.T, s *dynamo.Store, p *lead.Pool) error {
			return s.ReplaceSchema(ctx, uuid.NewString(), 0, lead.Schema{"age": lead.TypeNumber})
		}, lead.ErrSchemaChanged},
		{"a schema replacement from the version read", func(ctx context.Context, t *testing.T, s *dynamo.Store, p *lead.Pool) error {
			p = lockedPool(ctx, t, s, p, map[string]any{"age": "36"})
			awstest.Must(t, s.ReplaceSchema(ctx, p.ID, p.SchemaVersion, lead.Schema{"age": lead.TypeNumber}))
			got, _, err := s.PoolWithFields(ctx, p.ID, p.OrganizationID, nil)
			awstest.Must(t, err)
			if got.Schema["age"] != lead.TypeNumber || got.SchemaVersion != p.SchemaVersion+1 {
				return fmt.Errorf("schema %v version %d; want age number, version %d", got.Schema, got.SchemaVersion, p.SchemaVersion+1)
			}
			// The next request's lock starts from the new version.
			lockedPool(ctx, t, s, got, map[string]any{"city": "Oslo"})
			return nil
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			p := newPool(t, s)
			err := tt.run(context.Background(), t, s, p)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v; want %v", err, tt.want)
			}
		})
	}
}

// errNeedsOldRecord marks a case that needs the engine to return the old record with a
// transaction's cancellation.
var errNeedsOldRecord = errors.New("the engine returns no old record")

func TestPutEntryOutcomes(t *testing.T) {
	tests := []struct {
		name string
		run  func(ctx context.Context, s *dynamo.Store, p *lead.Pool) error
		want error // nil for success
	}{
		{"a key locked by another request since the read", func(ctx context.Context, s *dynamo.Store, p *lead.Pool) error {
			awstest.Must(t, s.PutEntry(ctx, newEntry(p, map[string]any{"age": lead.Number("1")}), lead.SchemaLock{Locked: p.Schema, New: lead.Schema{"age": lead.TypeNumber}}, nil))
			return s.PutEntry(ctx, newEntry(p, map[string]any{"age": "one"}), lead.SchemaLock{Locked: p.Schema, New: lead.Schema{"age": lead.TypeString}}, nil)
		}, lead.ErrSchemaChanged},
		{"a retried write of an entry that committed", func(ctx context.Context, s *dynamo.Store, p *lead.Pool) error {
			e := newEntry(p, map[string]any{"a": "x"})
			awstest.Must(t, s.PutEntry(ctx, e, lead.SchemaLock{Locked: p.Schema}, nil))
			return s.PutEntry(ctx, e, lead.SchemaLock{Locked: p.Schema}, nil)
		}, nil},
		{"an idempotency key another request took", func(ctx context.Context, s *dynamo.Store, p *lead.Pool) error {
			rec := func(e *lead.Entry) *lead.IdempotencyRecord {
				return &lead.IdempotencyRecord{WebhookID: e.WebhookID, Key: "k", Fingerprint: []byte("h"), EntryID: e.ID,
					CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
			}
			first := newEntry(p, map[string]any{})
			awstest.Must(t, s.PutEntry(ctx, first, lead.SchemaLock{Locked: p.Schema}, rec(first)))
			second := newEntry(p, map[string]any{})
			second.WebhookID = first.WebhookID
			return s.PutEntry(ctx, second, lead.SchemaLock{Locked: p.Schema}, rec(second))
		}, lead.ErrIdempotencyKeyTaken},
		{"a retried idempotent write that committed: the record names this entry", func(ctx context.Context, s *dynamo.Store, p *lead.Pool) error {
			if os.Getenv("RL_DYNAMODB_ENDPOINT") == "" {
				// The embedded engine returns no old record with the cancellation, and its
				// answer to the read-back that then settles the write is a ValidationException.
				return errNeedsOldRecord
			}
			e := newEntry(p, map[string]any{})
			rec := &lead.IdempotencyRecord{WebhookID: e.WebhookID, Key: "k", Fingerprint: []byte("h"), EntryID: e.ID,
				CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
			awstest.Must(t, s.PutEntry(ctx, e, lead.SchemaLock{Locked: p.Schema}, rec))
			return s.PutEntry(ctx, e, lead.SchemaLock{Locked: p.Schema}, rec)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			p := newPool(t, s)
			err := tt.run(context.Background(), s, p)
			if errors.Is(err, errNeedsOldRecord) {
				t.Skip("needs the old record in the cancellation: DynamoDB Local (make test-dynamodb-local)")
			}
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("PutEntry = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestPutEntryRefusesAnItemAboveDynamoDBsLimit(t *testing.T) {
	s := newStore(t)
	p := newPool(t, s)
	big := make([]string, 1000)
	for i := range big {
		big[i] = fmt.Sprintf("%0420d", i)
	}
	err := s.PutEntry(context.Background(), newEntry(p, map[string]any{"big": big}), lead.SchemaLock{Locked: p.Schema, New: lead.Schema{"big": lead.TypeStringList}}, nil)
	if lead.ErrorCode(err) != lead.ETOOLARGE {
		t.Errorf("PutEntry(400 KB entry) = %v; want ETOOLARGE", err)
	}
}
