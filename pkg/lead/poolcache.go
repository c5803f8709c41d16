package lead

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultPoolCacheTTL is how long a function instance trusts a pool and custom fields it
// read: a change made by an administrator (a lead state, the default lead state, the schema,
// a custom field, the pool deleted) applies to requests that start up to this long after it.
const DefaultPoolCacheTTL = 5 * time.Second

// poolCacheMax bounds the entries a cache holds; past it, expired entries are dropped, and
// if that is not enough, all of them.
const poolCacheMax = 4096

// PoolCache is an IngestStore that keeps the pools and custom fields it read for TTL, so a
// warm request reads only the webhook (strongly consistent, so a rotation or a delete bites
// at once) and writes its entry. The schema lock stays race-safe because the conditional
// write decides, not the cached schema: a write that loses its lock condition
// (ErrSchemaChanged) drops the cached pool, so the service's re-read goes to storage. A zero
// or negative TTL caches nothing.
// It is safe for concurrent use.
type PoolCache struct {
	IngestStore
	TTL time.Duration
	Now func() time.Time

	mu     sync.Mutex
	pools  map[string]cachedPool
	fields map[fieldCacheKey]cachedField
}

type cachedPool struct {
	pool    *Pool // nil: the pool does not exist
	orgID   string
	expires time.Time
}

type fieldCacheKey struct{ orgID, fieldID string }

type cachedField struct {
	field   CustomField
	exists  bool
	expires time.Time
}

// NewPoolCache returns a cache of store's pools and custom fields for ttl, on the wall clock.
func NewPoolCache(store IngestStore, ttl time.Duration) *PoolCache {
	return &PoolCache{IngestStore: store, TTL: ttl, Now: time.Now}
}

// PutEntry writes through to the store; when the write lost its schema lock condition, the
// cached pool is stale and is dropped, so the next read of it goes to storage.
func (c *PoolCache) PutEntry(ctx context.Context, e *Entry, lock SchemaLock, idem *IdempotencyRecord) error {
	err := c.IngestStore.PutEntry(ctx, e, lock, idem)
	if errors.Is(err, ErrSchemaChanged) {
		c.ForgetPool(e.PoolID)
	}
	return err
}

// ForgetPool drops the cached pool, so that its next read goes to the store.
func (c *PoolCache) ForgetPool(poolID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pools, poolID)
}

// PoolWithFields answers from the cache when the pool and every requested field are
// cached and fresh; otherwise it reads the pool and the missing fields in one store call
// and caches what it read (absent ones too). The pool returned is shared: callers must not
// change it.
func (c *PoolCache) PoolWithFields(ctx context.Context, poolID, orgID string, fieldIDs []string) (*Pool, map[string]CustomField, error) {
	if c.TTL <= 0 {
		return c.IngestStore.PoolWithFields(ctx, poolID, orgID, fieldIDs)
	}
	now := c.Now()
	pool, fields, missing, poolHit := c.lookup(poolID, orgID, fieldIDs, now)
	if poolHit && len(missing) == 0 {
		return pool, fields, nil
	}
	pool, read, err := c.IngestStore.PoolWithFields(ctx, poolID, orgID, missing)
	if err != nil {
		return nil, nil, err
	}
	for id, f := range read {
		fields[id] = f
	}
	c.store(poolID, orgID, pool, missing, read, now.Add(c.TTL))
	return pool, fields, nil
}

// lookup returns what the cache holds fresh at now: the pool (poolHit), the fields found
// and the field ids it must read.
func (c *PoolCache) lookup(poolID, orgID string, fieldIDs []string, now time.Time) (pool *Pool, fields map[string]CustomField, missing []string, poolHit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fields = make(map[string]CustomField, len(fieldIDs))
	if p, ok := c.pools[poolID]; ok && p.orgID == orgID && now.Before(p.expires) {
		pool, poolHit = p.pool, true
	}
	for _, id := range fieldIDs {
		f, ok := c.fields[fieldCacheKey{orgID, id}]
		switch {
		case !ok || !now.Before(f.expires):
			missing = append(missing, id)
		case f.exists:
			fields[id] = f.field
		}
	}
	return pool, fields, missing, poolHit
}

// store caches the pool and the fields read (those of ids not in read as absent) until
// expires.
func (c *PoolCache) store(poolID, orgID string, pool *Pool, ids []string, read map[string]CustomField, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pools == nil {
		c.pools = map[string]cachedPool{}
		c.fields = map[fieldCacheKey]cachedField{}
	}
	if len(c.pools)+len(c.fields)+1+len(ids) > poolCacheMax {
		c.sweep(expires.Add(-c.TTL))
	}
	c.pools[poolID] = cachedPool{pool: pool, orgID: orgID, expires: expires}
	for _, id := range ids {
		f, ok := read[id]
		c.fields[fieldCacheKey{orgID, id}] = cachedField{field: f, exists: ok, expires: expires}
	}
}

// sweep drops the entries expired at now, and everything if that leaves the cache full.
func (c *PoolCache) sweep(now time.Time) {
	for k, p := range c.pools {
		if !now.Before(p.expires) {
			delete(c.pools, k)
		}
	}
	for k, f := range c.fields {
		if !now.Before(f.expires) {
			delete(c.fields, k)
		}
	}
	if len(c.pools)+len(c.fields) >= poolCacheMax/2 {
		clear(c.pools)
		clear(c.fields)
	}
}
