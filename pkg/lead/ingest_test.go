package lead

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	testOrg     = "0b7e5a43-7d0c-4b8e-9d1a-2f3c4d5e6f70"
	testPool    = "7b1e3c52-2f0a-4c3e-9d55-0c1f3b8e6a10"
	testState   = "1c498f2e-5ca8-4403-aeed-1c624bd2a606"
	testWebhook = "4c7a6b81-616d-435d-9315-c51f71cc358b"
	testField   = "b12f0007-57b9-49cb-ad30-9d0b8d0f816c"
	testEntry   = "01a22a37-7552-7050-90e9-e4f299072a03"
)

var testToken = strings.Repeat("ab", 32)

// ingestFixture is a service over a memStore holding one webhook on one pool with a
// default lead state and one custom field.
func ingestFixture(t *testing.T) (*IngestService, *memStore) {
	t.Helper()
	h, err := NewHasher([]byte("test key"))
	if err != nil {
		t.Fatal(err)
	}
	m := newMemStore()
	m.pools[testPool] = &Pool{ID: testPool, OrganizationID: testOrg, Name: "Inbound", DefaultLeadStateID: testState,
		LeadStateIDs: []string{testState}, Schema: Schema{"email": TypeString}}
	m.webhooks[testWebhook] = &Webhook{ID: testWebhook, OrganizationID: testOrg, PoolID: testPool, TokenHash: h.Hash(testToken)}
	m.fields[testOrg] = map[string]CustomField{testField: {ID: testField, OrganizationID: testOrg, Name: "Source", Type: CustomText}}
	svc := NewIngestService(m, h)
	svc.Now = func() time.Time { return time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC) }
	svc.NewID = func() (string, error) { return testEntry, nil }
	return svc, m
}

func TestIngestChecksInOrderAndReadsNoBodyBeforeAuthentication(t *testing.T) {
	tooLarge := Errorf(ETOOLARGE, "too large")
	badBody := Invalid("bad body")
	tests := []struct {
		name       string
		webhookID  string
		token      string
		payload    *payload
		idemErr    error
		wantCode   Code
		wantLooked bool // whether the service may have read the payload
	}{
		{"malformed token beats an unknown webhook and a huge body", "not-a-uuid", "abc", &payload{bytesErr: tooLarge}, nil, EUNAUTHORIZED, false},
		{"webhook id that is not a UUID", "not-a-uuid", testToken, &payload{bytesErr: tooLarge}, nil, ENOTFOUND, false},
		{"unknown webhook", "5d0e7f7c-3b0a-4f52-9a51-3e8a0e6b7c11", testToken, &payload{bytesErr: tooLarge}, nil, ENOTFOUND, false},
		{"wrong token beats a bad body", testWebhook, strings.Repeat("cd", 32), &payload{decodeErr: badBody}, nil, EUNAUTHORIZED, false},
		{"body size after authentication, before the idempotency key", testWebhook, testToken, &payload{bytesErr: tooLarge}, Invalid("bad key"), ETOOLARGE, true},
		{"bad idempotency key after the size check", testWebhook, testToken, &payload{raw: []byte("{}"), decodeErr: badBody}, Invalid("bad key"), EINVALID, true},
		{"body that does not decode", testWebhook, testToken, &payload{raw: []byte("{}"), decodeErr: badBody}, nil, EINVALID, true},
		{"unknown custom field", testWebhook, testToken, &payload{raw: []byte("{}"), body: &Body{Data: map[string]any{},
			CustomFieldData: map[string]any{"5d0e7f7c-3b0a-4f52-9a51-3e8a0e6b7c11": "x"}}}, nil, EINVALID, true},
		{"schema mismatch", testWebhook, testToken, dataPayload("{}", map[string]any{"email": Number("5")}), nil, EINVALID, true},
		{"upper-case token and webhook id are the same", strings.ToUpper(testWebhook), strings.ToUpper(testToken), dataPayload("{}", map[string]any{"email": "a@b.co"}), nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m := ingestFixture(t)
			_, err := send(svc, request{WebhookID: tt.webhookID, Token: tt.token, IdempotencyKeyErr: tt.idemErr, Payload: tt.payload})
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Ingest = %v; want success", err)
				}
			} else if ErrorCode(err) != tt.wantCode {
				t.Fatalf("Ingest error = %v (code %s); want code %s", err, ErrorCode(err), tt.wantCode)
			}
			if !tt.wantLooked && tt.payload.looked > 0 {
				t.Errorf("the payload was read %d times before the caller was authenticated", tt.payload.looked)
			}
			if tt.wantCode != "" && len(m.entries) > 0 {
				t.Errorf("%d entries stored after a failed check; want none", len(m.entries))
			}
		})
	}
}

func TestIngestStoresTheEntry(t *testing.T) {
	tests := []struct {
		name       string
		data       map[string]any
		custom     map[string]any
		wantData   map[string]any
		wantCustom map[string]any
		wantNew    Schema
	}{
		{"known key, no lock", map[string]any{"email": "a@b.co"}, nil, map[string]any{"email": "a@b.co"}, nil, Schema{}},
		{"new keys are locked with their inferred types", map[string]any{"email": "a@b.co", "age": Number("36"), "tags": []string{"x"}},
			nil, map[string]any{"email": "a@b.co", "age": Number("36"), "tags": []string{"x"}}, nil, Schema{"age": TypeNumber, "tags": TypeStringList}},
		{"null infers nothing", map[string]any{"note": nil}, nil, map[string]any{"note": nil}, nil, Schema{}},
		{"custom field data is keyed by lower-case id", map[string]any{}, map[string]any{strings.ToUpper(testField): "web"},
			map[string]any{}, map[string]any{testField: "web"}, Schema{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m := ingestFixture(t)
			p := &payload{raw: []byte("{}"), body: &Body{Data: tt.data, CustomFieldData: tt.custom}}
			res, err := send(svc, request{WebhookID: testWebhook, Token: testToken, Payload: p})
			if err != nil {
				t.Fatalf("Ingest = %v; want success", err)
			}
			e := m.entries[testEntry]
			if e == nil || res.Entry == nil || res.Replayed {
				t.Fatalf("stored %v, result %+v; want entry %s stored and returned", m.entries, res, testEntry)
			}
			want := &Entry{ID: testEntry, PoolID: testPool, OrganizationID: testOrg, Data: tt.wantData, CustomFieldData: tt.wantCustom,
				LeadStateID: testState, CreatedAt: svc.Now(), WebhookID: testWebhook}
			if !reflect.DeepEqual(e, want) {
				t.Errorf("stored entry = %+v; want %+v", e, want)
			}
			if body, _ := json.Marshal(want); rendered(res) != string(body) {
				t.Errorf("Body = %s; want the rendered entry %s", rendered(res), body)
			}
			if len(m.locks) != 1 || !maps.Equal(m.locks[0].New, tt.wantNew) {
				t.Errorf("locks = %+v; want one lock of %v", m.locks, tt.wantNew)
			}
			if res.KeysLocked != len(tt.wantNew) || res.LockRetries != 0 {
				t.Errorf("KeysLocked, LockRetries = %d, %d; want %d, 0", res.KeysLocked, res.LockRetries, len(tt.wantNew))
			}
		})
	}
}

func TestIngestFailsWithoutADefaultLeadState(t *testing.T) {
	for name, change := range map[string]func(*Pool){
		"no default named":         func(p *Pool) { p.DefaultLeadStateID = "" },
		"default no longer exists": func(p *Pool) { p.LeadStateIDs = nil },
	} {
		t.Run(name, func(t *testing.T) {
			svc, m := ingestFixture(t)
			change(m.pools[testPool])
			_, err := send(svc, request{WebhookID: testWebhook, Token: testToken,
				Payload: dataPayload("{}", map[string]any{"fresh": "x"})})
			if ErrorCode(err) != ENOLEADSTATE || len(m.entries) != 0 || m.pools[testPool].Schema["fresh"] != "" {
				t.Errorf("Ingest = %v (entries %d, schema %v); want ENOLEADSTATE, nothing stored or locked", err, len(m.entries), m.pools[testPool].Schema)
			}
		})
	}
}

func TestIngestSchemaIsFull(t *testing.T) {
	svc, m := ingestFixture(t)
	svc.Limits.MaxSchemaKeys = 2
	_, err := send(svc, request{WebhookID: testWebhook, Token: testToken,
		Payload: dataPayload("{}", map[string]any{"a": "x", "b": "y"})})
	var e *Error
	if !errors.As(err, &e) || e.Code != EINVALID || !strings.Contains(e.Message, "schema is full") || len(m.entries) != 0 {
		t.Errorf("Ingest past the schema limit = %v; want a 400 saying the schema is full, nothing stored", err)
	}
}

func TestIngestAfterLosingASchemaLockRace(t *testing.T) {
	tests := []struct {
		name     string
		racer    Schema // what the competing request locked first
		wantCode Code
		wantKeys int // keys the stored entry locked itself
	}{
		{"the same type won: the entry is stored against the new schema", Schema{"age": TypeNumber}, "", 0},
		{"another type won: a type mismatch", Schema{"age": TypeString}, EINVALID, 0},
		{"another key was locked: the entry is stored", Schema{"city": TypeString}, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m := ingestFixture(t)
			raced := false
			m.beforePut = func() {
				if !raced {
					raced = true
					m.mu.Lock()
					for k, v := range tt.racer {
						m.pools[testPool].Schema[k] = v
					}
					m.mu.Unlock()
				}
			}
			res, err := send(svc, request{WebhookID: testWebhook, Token: testToken,
				Payload: dataPayload("{}", map[string]any{"age": Number("36")})})
			if ErrorCode(err) != tt.wantCode && !(tt.wantCode == "" && err == nil) {
				t.Fatalf("Ingest = %v; want code %q", err, tt.wantCode)
			}
			if err == nil && (res.LockRetries != 1 || res.KeysLocked != tt.wantKeys) {
				t.Errorf("LockRetries, KeysLocked = %d, %d; want 1, %d", res.LockRetries, res.KeysLocked, tt.wantKeys)
			}
			if stored := len(m.entries) == 1; stored != (tt.wantCode == "") {
				t.Errorf("entries stored = %d; want stored %v", len(m.entries), tt.wantCode == "")
			}
			if got := m.pools[testPool].Schema["age"]; got != TypeNumber && tt.wantCode == "" {
				t.Errorf("schema age = %q; want number", got)
			}
		})
	}
}

func TestIngestGivesUpAfterBoundedLockRetries(t *testing.T) {
	svc, m := ingestFixture(t)
	for range maxLockAttempts {
		m.putEntryErrs = append(m.putEntryErrs, ErrSchemaChanged)
	}
	_, err := send(svc, request{WebhookID: testWebhook, Token: testToken,
		Payload: dataPayload("{}", map[string]any{"age": Number("1")})})
	if !errors.Is(err, ErrSchemaChanged) || ErrorCode(err) != EUNAVAILABLE {
		t.Errorf("Ingest after %d lost races = %v; want a 503 unavailable error wrapping ErrSchemaChanged", maxLockAttempts, err)
	}
}

func TestIngestIdempotency(t *testing.T) {
	first := request{WebhookID: testWebhook, Token: testToken, IdempotencyKey: "order-1",
		Payload: dataPayload(`{"data":{"email":"a@b.co"}}`, map[string]any{"email": "a@b.co"})}
	tests := []struct {
		name         string
		second       request
		wantCode     Code
		wantReplayed bool
	}{
		{"the same body replays the first answer", first, "", true},
		{"the same content in other bytes (whitespace, key order, a form) replays", request{WebhookID: testWebhook, Token: testToken, IdempotencyKey: "order-1",
			Payload: dataPayload("data%5Bemail%5D=a%40b.co", map[string]any{"email": "a@b.co"})}, "", true},
		{"another body with the key is 422", request{WebhookID: testWebhook, Token: testToken, IdempotencyKey: "order-1",
			Payload: dataPayload(`{"data":{"email":"b@b.co"}}`, map[string]any{"email": "b@b.co"})}, EKEYREUSED, false},
		{"another key creates another entry", request{WebhookID: testWebhook, Token: testToken, IdempotencyKey: "order-2",
			Payload: dataPayload(`{"data":{"email":"a@b.co"}}`, map[string]any{"email": "a@b.co"})}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m := ingestFixture(t)
			n := 0
			svc.NewID = func() (string, error) { n++; return testEntry[:len(testEntry)-1] + string(rune('0'+n)), nil }
			res1, err := send(svc, first)
			if err != nil {
				t.Fatal(err)
			}
			res2, err := send(svc, tt.second)
			if ErrorCode(err) != tt.wantCode && !(tt.wantCode == "" && err == nil) {
				t.Fatalf("second Ingest = %v; want code %q", err, tt.wantCode)
			}
			wantEntries := 1
			if tt.wantCode == "" && !tt.wantReplayed {
				wantEntries = 2
			}
			if len(m.entries) != wantEntries {
				t.Errorf("%d entries stored; want %d", len(m.entries), wantEntries)
			}
			if tt.wantReplayed && (res2 == nil || !res2.Replayed || rendered(res2) != rendered(res1)) {
				t.Errorf("second result = %+v; want a replay of %s", res2, rendered(res1))
			}
			var e *Error
			if tt.wantCode == EKEYREUSED && (!errors.As(err, &e) || e.EntryID != res1.Entry.ID) {
				t.Errorf("422 = %#v; want it to name the first entry %s", err, res1.Entry.ID)
			}
		})
	}
}

func TestIngestRepeatAfterThePoolChangedStillReplays(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *memStore)
	}{
		{"the key's type changed", func(m *memStore) { m.pools[testPool].Schema["email"] = TypeNumber }},
		{"the default lead state is gone", func(m *memStore) { m.pools[testPool].DefaultLeadStateID = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m := ingestFixture(t)
			cmd := request{WebhookID: testWebhook, Token: testToken, IdempotencyKey: "k",
				Payload: dataPayload(`{"data":{"email":"a@b.co"}}`, map[string]any{"email": "a@b.co"})}
			first, err := send(svc, cmd)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(m)
			again, err := send(svc, cmd)
			if err != nil || !again.Replayed || rendered(again) != rendered(first) {
				t.Errorf("repeat = %+v, %v; want the first answer replayed", again, err)
			}
			// Without the key the same body is now refused: the replay came from the record.
			cmd.IdempotencyKey = ""
			if _, err := send(svc, cmd); err == nil {
				t.Error("the same body without the key was stored; want it refused by the changed pool")
			}
		})
	}
}

func TestIngestReplayIsRebuiltFromTheRepeatWhenItsDigestMatches(t *testing.T) {
	const otherState = "0196b4a0-0000-7000-8000-0000000000e5"
	tests := []struct {
		name       string
		change     func(m *memStore)
		entryReads int
	}{
		{"the pool is unchanged: rebuilt, the entry is not read", func(*memStore) {}, 0},
		{"the default lead state changed: the answer differs, so the entry is read", func(m *memStore) {
			m.pools[testPool].LeadStateIDs = append(m.pools[testPool].LeadStateIDs, otherState)
			m.pools[testPool].DefaultLeadStateID = otherState
		}, 1},
		{"a record without an answer digest: the entry is read", func(m *memStore) {
			for _, r := range m.idem {
				r.Answer = nil
			}
		}, 1},
		{"a digest that does not match: the entry is read", func(m *memStore) {
			for _, r := range m.idem {
				r.Answer = entryDigest(&Entry{ID: "another"})
			}
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m := ingestFixture(t)
			n := 0
			svc.NewID = func() (string, error) { n++; return testEntry[:len(testEntry)-1] + string(rune('0'+n)), nil }
			cmd := request{WebhookID: testWebhook, Token: testToken, IdempotencyKey: "k",
				Payload: dataPayload(`{"data":{"email":"a@b.co"}}`, map[string]any{"email": "a@b.co"})}
			first, err := send(svc, cmd)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(m)
			// The repeat comes a minute later: its own entry would have another time and id.
			later := svc.Now().Add(time.Minute)
			svc.Now = func() time.Time { return later }
			again, err := send(svc, cmd)
			if err != nil || !again.Replayed || rendered(again) != rendered(first) {
				t.Fatalf("repeat = %+v, %v; want the first answer %s replayed", again, err, rendered(first))
			}
			if len(m.entries) != 1 {
				t.Errorf("%d entries stored; want 1", len(m.entries))
			}
			if m.entryReads != tt.entryReads {
				t.Errorf("the replay read the entry %d times; want %d", m.entryReads, tt.entryReads)
			}
		})
	}
}

func TestIngestReplaysAConcurrentRepeatThatWon(t *testing.T) {
	svc, m := ingestFixture(t)
	other := &Entry{ID: "01a22a37-7552-7050-90e9-e4f2990700ff", PoolID: testPool, OrganizationID: testOrg, Data: map[string]any{},
		LeadStateID: testState, CreatedAt: svc.Now(), WebhookID: testWebhook}
	won := &IdempotencyRecord{WebhookID: testWebhook, Key: "k", EntryID: other.ID, Fingerprint: Fingerprint(&Body{Data: map[string]any{}}),
		ExpiresAt: svc.Now().Add(time.Hour)}
	cmd := request{WebhookID: testWebhook, Token: testToken, IdempotencyKey: "k",
		Payload: dataPayload(`{"data":{}}`, map[string]any{})}
	m.beforePut = func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.idem[testWebhook+"/k"] = won
		m.entries[other.ID] = other
	}
	want, _ := json.Marshal(other)
	res, err := send(svc, cmd)
	if err != nil || !res.Replayed || rendered(res) != string(want) || len(m.entries) != 1 {
		t.Errorf("Ingest = %+v, %v (entries %d); want the winner's entry rendered and nothing stored", res, err, len(m.entries))
	}
}

func TestIngestStoreFailuresAreInternalErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		breakStore func(*memStore)
	}{
		{"webhook read", func(m *memStore) { m.webhookErr = boom }},
		{"pool read", func(m *memStore) { m.poolErr = boom }},
		{"entry write", func(m *memStore) { m.putEntryErrs = []error{boom} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, m := ingestFixture(t)
			tt.breakStore(m)
			_, err := send(svc, request{WebhookID: testWebhook, Token: testToken,
				Payload: dataPayload("{}", map[string]any{})})
			if !errors.Is(err, boom) || ErrorCode(err) != EINTERNAL {
				t.Errorf("Ingest = %v; want an internal error wrapping the store's", err)
			}
		})
	}
}

func TestIngestWithoutPayloadIsAnInternalError(t *testing.T) {
	svc, m := ingestFixture(t)
	_, err := svc.Ingest(context.Background(), m.webhooks[testWebhook], Input{})
	if err == nil || ErrorCode(err) != EINTERNAL {
		t.Errorf("Ingest without payload = %v; want an internal error, not a panic", err)
	}
}

func TestIngestWhenThePoolIsGone(t *testing.T) {
	svc, m := ingestFixture(t)
	delete(m.pools, testPool)
	_, err := send(svc, request{WebhookID: testWebhook, Token: testToken,
		Payload: dataPayload("{}", map[string]any{})})
	if ErrorCode(err) != ENOTFOUND {
		t.Errorf("Ingest into a deleted pool = %v; want ENOTFOUND", err)
	}
}

func TestDryRunReturnsTheEntryAndWritesNothing(t *testing.T) {
	svc, m := ingestFixture(t)
	res, err := send(svc, request{WebhookID: testWebhook, Token: testToken, DryRun: true, IdempotencyKey: "k",
		Payload: dataPayload(`x`, map[string]any{"email": "a@b.co", "age": "36"})})
	if err != nil || !res.DryRun || res.Entry == nil {
		t.Fatalf("Ingest(dry run) = %+v, %v; want a dry-run result with the entry and no body", res, err)
	}
	if !reflect.DeepEqual(res.NewSchemaKeys, Schema{"age": TypeString}) || res.Entry.LeadStateID != testState {
		t.Errorf("dry run = keys %v, state %s; want age as a new string key and the default state", res.NewSchemaKeys, res.Entry.LeadStateID)
	}
	if len(m.entries) != 0 || len(m.locks) != 0 || len(m.idem) != 0 {
		t.Errorf("dry run wrote %d entries, %d locks, %d idempotency records; want none", len(m.entries), len(m.locks), len(m.idem))
	}
}

func TestQueryTokenNeedsTheWebhooksOptIn(t *testing.T) {
	for _, allow := range []bool{false, true} {
		svc, m := ingestFixture(t)
		m.webhooks[testWebhook].AllowQueryToken = allow
		_, err := send(svc, request{WebhookID: testWebhook, Token: testToken, TokenFromQuery: true,
			Payload: dataPayload(`x`, map[string]any{"email": "a@b.co"})})
		if got := ErrorCode(err); (allow && err != nil) || (!allow && got != EUNAUTHORIZED) {
			t.Errorf("Ingest(right token in the URL, opted in %v) = %v; want %v", allow, err, map[bool]string{true: "success", false: "401"}[allow])
		}
	}
}
