package lead

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingStore counts the pool reads that reach the store.
type countingStore struct {
	*memStore
	poolReads atomic.Int64
}

func (c *countingStore) PoolWithFields(ctx context.Context, poolID, orgID string, fieldIDs []string) (*Pool, map[string]CustomField, error) {
	c.poolReads.Add(1)
	return c.memStore.PoolWithFields(ctx, poolID, orgID, fieldIDs)
}

// cachedFixture is ingestFixture with its store behind a PoolCache on a clock the test moves.
func cachedFixture(t *testing.T, ttl time.Duration) (*IngestService, *memStore, *countingStore, *time.Time) {
	t.Helper()
	svc, m := ingestFixture(t)
	counting := &countingStore{memStore: m}
	now := svc.Now()
	cache := NewPoolCache(counting, ttl)
	cache.Now = func() time.Time { return now }
	svc.Store = cache
	ids := 0
	svc.NewID = func() (string, error) { ids++; return fmt.Sprintf("01a22a37-7552-7050-90e9-%012d", ids), nil }
	return svc, m, counting, &now
}

func TestPoolCacheServesTheWarmPathWithinItsTTL(t *testing.T) {
	tests := []struct {
		name      string
		ttl       time.Duration
		advance   time.Duration // clock moved between the two requests
		custom    map[string]any
		wantReads int64
	}{
		{"second request within the TTL reads no pool", 5 * time.Second, 4 * time.Second, nil, 1},
		{"second request within the TTL reads no custom field either", 5 * time.Second, time.Second, map[string]any{testField: "web"}, 1},
		{"second request after the TTL reads the pool again", 5 * time.Second, 5 * time.Second, nil, 2},
		{"a zero TTL reads on every request", 0, 0, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m, counting, now := cachedFixture(t, tt.ttl)
			for i := range 2 {
				p := &payload{raw: []byte("{}"), body: &Body{Data: map[string]any{"email": "a@b.co"}, CustomFieldData: tt.custom}}
				if _, err := send(svc, request{WebhookID: testWebhook, Token: testToken, Payload: p}); err != nil {
					t.Fatalf("request %d: Ingest = %v", i+1, err)
				}
				*now = now.Add(tt.advance)
			}
			if got := counting.poolReads.Load(); got != tt.wantReads {
				t.Errorf("pool reads = %d; want %d", got, tt.wantReads)
			}
			if len(m.entries) != 2 {
				t.Errorf("entries = %d; want 2", len(m.entries))
			}
		})
	}
}

func TestPoolCacheChangesApplyWithinTheBound(t *testing.T) {
	tests := []struct {
		name       string
		change     func(m *memStore)
		wantWithin Code // within the TTL: "" is stored from the cached pool
		wantErr    Code // after the TTL
	}{
		{"default lead state removed", func(m *memStore) { m.pools[testPool].DefaultLeadStateID = "" }, "", ENOLEADSTATE},
		// The memStore's write refuses a pool that is gone, as a lost lock: the re-read decides.
		{"pool deleted", func(m *memStore) { delete(m.pools, testPool) }, ENOTFOUND, ENOTFOUND},
		{"custom field deleted", func(m *memStore) { delete(m.fields[testOrg], testField) }, "", EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m, _, now := cachedFixture(t, 5*time.Second)
			post := func() error {
				p := &payload{raw: []byte("{}"), body: &Body{Data: map[string]any{"email": "a@b.co"}, CustomFieldData: map[string]any{testField: "web"}}}
				_, err := send(svc, request{WebhookID: testWebhook, Token: testToken, Payload: p})
				return err
			}
			if err := post(); err != nil {
				t.Fatalf("first request: %v", err)
			}
			m.mu.Lock()
			tt.change(m)
			m.mu.Unlock()
			*now = now.Add(4 * time.Second)
			if err := post(); ErrorCode(err) != tt.wantWithin && !(tt.wantWithin == "" && err == nil) {
				t.Errorf("request within the bound = %v; want code %q", err, tt.wantWithin)
			}
			*now = now.Add(time.Second)
			if err := post(); ErrorCode(err) != tt.wantErr {
				t.Errorf("request after the bound = %v; want code %s", err, tt.wantErr)
			}
		})
	}
}

func TestPoolCacheALostLockReadsThePoolAgain(t *testing.T) {
	tests := []struct {
		name      string
		racer     Schema // locked by another instance after this one cached the pool
		value     any
		wantCode  Code
		wantReads int64
	}{
		{"the key got another type: the fresh schema refuses it", Schema{"age": TypeString}, Number("36"), EINVALID, 2},
		{"the key got the same type: stored against the fresh schema", Schema{"age": TypeNumber}, Number("36"), "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m, counting, _ := cachedFixture(t, time.Minute)
			if _, err := send(svc, request{WebhookID: testWebhook, Token: testToken,
				Payload: dataPayload("{}", map[string]any{"email": "a@b.co"})}); err != nil {
				t.Fatal(err)
			}
			m.mu.Lock()
			for k, v := range tt.racer {
				m.pools[testPool].Schema[k] = v
			}
			m.mu.Unlock()
			before := len(m.entries)
			_, err := send(svc, request{WebhookID: testWebhook, Token: testToken,
				Payload: dataPayload("{}", map[string]any{"age": tt.value})})
			if ErrorCode(err) != tt.wantCode && !(tt.wantCode == "" && err == nil) {
				t.Fatalf("Ingest = %v; want code %q", err, tt.wantCode)
			}
			if stored := len(m.entries) > before; stored != (tt.wantCode == "") {
				t.Errorf("stored = %v; want %v", stored, tt.wantCode == "")
			}
			if got := counting.poolReads.Load(); got != tt.wantReads {
				t.Errorf("pool reads = %d; want %d (the lost lock re-reads)", got, tt.wantReads)
			}
		})
	}
}

func TestPoolCacheIsSafeForConcurrentUse(t *testing.T) {
	m := newMemStore()
	for i := range 20 {
		id := fmt.Sprintf("pool-%d", i)
		m.pools[id] = &Pool{ID: id, OrganizationID: testOrg, Schema: Schema{}}
	}
	m.fields[testOrg] = map[string]CustomField{testField: {ID: testField, OrganizationID: testOrg}}
	var clock atomic.Int64
	cache := NewPoolCache(m, time.Second)
	cache.Now = func() time.Time { return time.Unix(0, clock.Add(int64(time.Millisecond))) }
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("pool-%d", (g+i)%20)
				p, f, err := cache.PoolWithFields(context.Background(), id, testOrg, []string{testField, "other"})
				if err != nil || p == nil || p.ID != id || len(f) != 1 {
					t.Errorf("PoolWithFields(%s) = %v, %v, %v; want the pool and one field", id, p, f, err)
					return
				}
				if i%50 == 0 {
					cache.ForgetPool(id)
				}
			}
		})
	}
	wg.Wait()
}
