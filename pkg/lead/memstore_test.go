package lead

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// memStore is an in-memory store for the services' unit tests: it implements IngestStore,
// WebhookStore and CatalogStore with the semantics their interfaces document. The err
// fields, when set, are returned by the named operation instead of doing it; putEntryErrs
// are returned by PutEntry calls in turn (nil entries let the call through).
type memStore struct {
	mu           sync.Mutex
	webhooks     map[string]*Webhook
	pools        map[string]*Pool
	states       map[string]map[string]State // pool id → state id → state
	fields       map[string]map[string]CustomField
	entries      map[string]*Entry
	locks        []SchemaLock
	idem         map[string]*IdempotencyRecord
	putEntryErrs []error
	entryReads   int    // calls of Entry
	beforePut    func() // runs inside PutEntry before the write, to simulate a racing request
	webhookErr   error
	poolErr      error
	listCursor   string // the one cursor ListWebhooks accepts besides ""
}

func newMemStore() *memStore {
	return &memStore{
		webhooks: map[string]*Webhook{},
		pools:    map[string]*Pool{},
		states:   map[string]map[string]State{},
		fields:   map[string]map[string]CustomField{},
		entries:  map[string]*Entry{},
		idem:     map[string]*IdempotencyRecord{},
	}
}

func clonePool(p *Pool) *Pool {
	c := *p
	c.Schema = maps.Clone(p.Schema)
	c.LeadStateIDs = slices.Clone(p.LeadStateIDs)
	return &c
}

func (m *memStore) Webhook(_ context.Context, id string) (*Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.webhookErr != nil {
		return nil, m.webhookErr
	}
	if w, ok := m.webhooks[id]; ok {
		c := *w
		return &c, nil
	}
	return nil, nil
}

func (m *memStore) PoolWithFields(ctx context.Context, poolID, orgID string, fieldIDs []string) (*Pool, map[string]CustomField, error) {
	p, err := m.Pool(ctx, poolID)
	if err != nil || p == nil || p.OrganizationID != orgID {
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	fields := map[string]CustomField{}
	for _, id := range fieldIDs {
		if f, ok := m.fields[orgID][id]; ok {
			fields[id] = f
		}
	}
	return p, fields, nil
}

func (m *memStore) PutEntry(_ context.Context, e *Entry, lock SchemaLock, idem *IdempotencyRecord) error {
	if m.beforePut != nil {
		m.beforePut()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.putEntryErrs) > 0 {
		err := m.putEntryErrs[0]
		m.putEntryErrs = m.putEntryErrs[1:]
		if err != nil {
			return err
		}
	}
	if _, ok := m.entries[e.ID]; ok {
		return nil
	}
	p := m.pools[e.PoolID]
	if p == nil || len(p.Schema) != len(lock.Locked) {
		return ErrSchemaChanged
	}
	for k := range lock.New {
		if _, taken := p.Schema[k]; taken {
			return ErrSchemaChanged
		}
	}
	if idem != nil {
		if rec, taken := m.idem[idem.WebhookID+"/"+idem.Key]; taken {
			c := *rec
			return &IdempotencyKeyTakenError{Record: &c}
		}
		c := *idem
		m.idem[idem.WebhookID+"/"+idem.Key] = &c
	}
	maps.Copy(p.Schema, lock.New)
	m.locks = append(m.locks, lock)
	c := *e
	m.entries[e.ID] = &c
	return nil
}

func (m *memStore) Entry(_ context.Context, poolID, entryID string) (*Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entryReads++
	if e, ok := m.entries[entryID]; ok && e.PoolID == poolID {
		c := *e
		return &c, nil
	}
	return nil, nil
}

func (m *memStore) Idempotency(_ context.Context, webhookID, key string, now time.Time) (*IdempotencyRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.idem[webhookID+"/"+key]
	if !ok || !now.Before(r.ExpiresAt) {
		return nil, nil
	}
	c := *r
	return &c, nil
}

func (m *memStore) Pool(_ context.Context, poolID string) (*Pool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.poolErr != nil {
		return nil, m.poolErr
	}
	if p, ok := m.pools[poolID]; ok {
		return clonePool(p), nil
	}
	return nil, nil
}

func (m *memStore) CreateWebhook(_ context.Context, w *Webhook) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *w
	m.webhooks[w.ID] = &c
	return nil
}

func (m *memStore) RotateWebhook(_ context.Context, id string, tokenHash []byte, rotatedAt, graceUntil time.Time) (*Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.webhooks[id]
	if !ok {
		return nil, ErrNotFound
	}
	w.PreviousTokenHash, w.PreviousTokenExpiresAt = nil, time.Time{}
	if !graceUntil.IsZero() {
		w.PreviousTokenHash, w.PreviousTokenExpiresAt = w.TokenHash, graceUntil
	}
	w.TokenHash, w.RotatedAt = tokenHash, rotatedAt
	c := *w
	return &c, nil
}

func (m *memStore) UpdateWebhook(_ context.Context, id string, ch WebhookChange) (*Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.webhooks[id]
	if !ok {
		return nil, ErrNotFound
	}
	if ch.AllowQueryToken != nil {
		w.AllowQueryToken = *ch.AllowQueryToken
	}
	if ch.SetForm {
		w.Form = ch.Form
	}
	if src := ch.Source; src != nil {
		w.Source, w.Mapping = src.Source, src.Mapping
		if src.SealedSecret != nil {
			w.SigningSecret, w.SecretRotatedAt = src.SealedSecret, src.RotatedAt
			w.PreviousSigningSecret, w.PreviousSecretExpiresAt = nil, time.Time{}
		}
	}
	c := *w
	return &c, nil
}

func (m *memStore) ListWebhooks(_ context.Context, orgID string, limit int, cursor string) ([]*Webhook, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []*Webhook
	for _, w := range m.webhooks {
		if w.OrganizationID == orgID {
			c := *w
			all = append(all, &c)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CreatedAt.Before(all[j].CreatedAt) })
	start := 0
	switch {
	case cursor == "":
	case cursor == m.listCursor:
		start, _ = strconv.Atoi(cursor)
	default:
		return nil, "", ErrInvalidCursor
	}
	all = all[min(start, len(all)):]
	next := ""
	if len(all) > limit {
		all = all[:limit]
		m.listCursor = strconv.Itoa(start + limit)
		next = m.listCursor
	}
	return all, next, nil
}

func (m *memStore) DeleteWebhook(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.webhooks[id]; !ok {
		return ErrNotFound
	}
	delete(m.webhooks, id)
	return nil
}

func (m *memStore) CreatePool(_ context.Context, p *Pool, st *State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pools[p.ID] = clonePool(p)
	m.states[p.ID] = map[string]State{st.ID: *st}
	return nil
}

func (m *memStore) AddLeadState(_ context.Context, poolID string, st *State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pools[poolID]
	if !ok {
		return ErrNotFound
	}
	p.LeadStateIDs = append(p.LeadStateIDs, st.ID)
	m.states[poolID][st.ID] = *st
	return nil
}

func (m *memStore) SetDefaultLeadState(_ context.Context, poolID, stateID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pools[poolID]
	if !ok || !p.HasLeadState(stateID) {
		return ErrNotFound
	}
	p.DefaultLeadStateID = stateID
	return nil
}

func (m *memStore) DeleteLeadState(_ context.Context, poolID, stateID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pools[poolID]
	switch {
	case !ok || !p.HasLeadState(stateID):
		return ErrNotFound
	case p.DefaultLeadStateID == stateID:
		return ErrChanged
	}
	p.LeadStateIDs = slices.DeleteFunc(p.LeadStateIDs, func(id string) bool { return id == stateID })
	delete(m.states[poolID], stateID)
	return nil
}

func (m *memStore) ListLeadStates(_ context.Context, poolID string) ([]State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.SortedFunc(maps.Values(m.states[poolID]), func(a, b State) int { return cmp.Compare(a.ID, b.ID) }), nil
}

func (m *memStore) PutCustomField(_ context.Context, f *CustomField) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fields[f.OrganizationID] == nil {
		m.fields[f.OrganizationID] = map[string]CustomField{}
	}
	m.fields[f.OrganizationID][f.ID] = *f
	return nil
}

func (m *memStore) ListCustomFields(_ context.Context, orgID string) ([]CustomField, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.SortedFunc(maps.Values(m.fields[orgID]), func(a, b CustomField) int { return cmp.Compare(a.Name, b.Name) }), nil
}

func (m *memStore) DeleteCustomField(_ context.Context, orgID, fieldID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.fields[orgID][fieldID]; !ok {
		return ErrNotFound
	}
	delete(m.fields[orgID], fieldID)
	return nil
}

// The store satisfies every interface the services declare.
var (
	_ IngestStore  = (*memStore)(nil)
	_ WebhookStore = (*memStore)(nil)
	_ CatalogStore = (*memStore)(nil)
)
