package lead

import (
	"context"
	"errors"
	"testing"
)

func catalogFixture() (*Catalog, *memStore) {
	m := newMemStore()
	m.pools[testPool] = &Pool{ID: testPool, OrganizationID: testOrg, Name: "Inbound", DefaultLeadStateID: testState, LeadStateIDs: []string{testState}, Schema: Schema{}}
	m.states[testPool] = map[string]State{testState: {ID: testState, PoolID: testPool, Name: "New"}}
	return NewCatalog(m), m
}

func TestCatalogCreatePoolMakesItsFirstStateTheDefault(t *testing.T) {
	tests := []struct {
		name      string
		in        CreatePoolInput
		wantState string
		wantPath  string // "" for success
	}{
		{"first state named New by default", CreatePoolInput{OrganizationID: testOrg, Name: "Leads"}, "New", ""},
		{"first state named by the caller", CreatePoolInput{OrganizationID: testOrg, Name: "Leads", LeadStateName: "Inbox"}, "Inbox", ""},
		{"organization not a UUID", CreatePoolInput{OrganizationID: "o", Name: "Leads"}, "", "organizationId"},
		{"blank name", CreatePoolInput{OrganizationID: testOrg, Name: " "}, "", "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, m := catalogFixture()
			p, st, err := c.CreatePool(context.Background(), tt.in)
			if tt.wantPath != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != EINVALID || e.Details[0].Path != tt.wantPath || len(m.pools) != 1 {
					t.Errorf("CreatePool(%+v) = %v; want a 400 naming %s and nothing stored", tt.in, err, tt.wantPath)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			stored := m.pools[p.ID]
			if stored == nil || stored.DefaultLeadStateID != st.ID || !stored.HasLeadState(st.ID) || st.Name != tt.wantState || st.PoolID != p.ID || !IsUUID(p.ID) || !IsUUID(st.ID) {
				t.Errorf("stored %+v with state %+v; want a pool whose default is its first state %q", stored, st, tt.wantState)
			}
		})
	}
}

func TestCatalogLeadStatesAndFields(t *testing.T) {
	unknown := "5d0e7f7c-3b0a-4f52-9a51-3e8a0e6b7c11"
	tests := []struct {
		name     string
		call     func(context.Context, *Catalog, *memStore) error
		wantCode Code // "" for success
	}{
		{"read a pool that does not exist", func(ctx context.Context, c *Catalog, _ *memStore) error {
			_, err := c.Pool(ctx, unknown)
			return err
		}, ENOTFOUND},
		{"read a pool by an id that is not a UUID", func(ctx context.Context, c *Catalog, _ *memStore) error {
			_, err := c.Pool(ctx, "pool")
			return err
		}, EINVALID},
		{"add a state to a pool that does not exist", func(ctx context.Context, c *Catalog, _ *memStore) error {
			_, err := c.AddLeadState(ctx, unknown, "Qualified")
			return err
		}, ENOTFOUND},
		{"add a state, make it the default, delete the old default", func(ctx context.Context, c *Catalog, m *memStore) error {
			st, err := c.AddLeadState(ctx, testPool, "Qualified")
			if err != nil {
				return err
			}
			if err := c.SetDefaultLeadState(ctx, testPool, st.ID); err != nil {
				return err
			}
			if err := c.DeleteLeadState(ctx, testPool, testState); err != nil {
				return err
			}
			if p := m.pools[testPool]; p.DefaultLeadStateID != st.ID || p.HasLeadState(testState) {
				return errors.New("the default did not move or the old state stayed")
			}
			return nil
		}, ""},
		{"delete the default state", func(ctx context.Context, c *Catalog, _ *memStore) error {
			return c.DeleteLeadState(ctx, testPool, testState)
		}, EINVALID},
		{"delete a state that became the default meanwhile", func(ctx context.Context, c *Catalog, m *memStore) error {
			st, err := c.AddLeadState(ctx, testPool, "Qualified")
			if err != nil {
				return err
			}
			m.pools[testPool].DefaultLeadStateID = st.ID // after the service read the pool
			return deleteRacingDefault(ctx, c, m, st.ID)
		}, EINVALID},
		{"delete a state that does not exist", func(ctx context.Context, c *Catalog, _ *memStore) error {
			return c.DeleteLeadState(ctx, testPool, unknown)
		}, ENOTFOUND},
		{"set an unknown state as default", func(ctx context.Context, c *Catalog, _ *memStore) error {
			return c.SetDefaultLeadState(ctx, testPool, unknown)
		}, ENOTFOUND},
		{"list the states of a pool that does not exist", func(ctx context.Context, c *Catalog, _ *memStore) error {
			_, _, err := c.ListLeadStates(ctx, unknown)
			return err
		}, ENOTFOUND},
		{"select field without options", func(ctx context.Context, c *Catalog, _ *memStore) error {
			_, err := c.CreateCustomField(ctx, CreateCustomFieldInput{OrganizationID: testOrg, Name: "Source", Type: CustomSelect})
			return err
		}, EINVALID},
		{"text field with options", func(ctx context.Context, c *Catalog, _ *memStore) error {
			_, err := c.CreateCustomField(ctx, CreateCustomFieldInput{OrganizationID: testOrg, Name: "Note", Type: CustomText, Options: []string{"a"}})
			return err
		}, EINVALID},
		{"duplicate option", func(ctx context.Context, c *Catalog, _ *memStore) error {
			_, err := c.CreateCustomField(ctx, CreateCustomFieldInput{OrganizationID: testOrg, Name: "Source", Type: CustomSelect, Options: []string{"a", "a"}})
			return err
		}, EINVALID},
		{"unknown field type", func(ctx context.Context, c *Catalog, _ *memStore) error {
			_, err := c.CreateCustomField(ctx, CreateCustomFieldInput{OrganizationID: testOrg, Name: "Color", Type: "color"})
			return err
		}, EINVALID},
		{"create, list and delete a field", func(ctx context.Context, c *Catalog, _ *memStore) error {
			f, err := c.CreateCustomField(ctx, CreateCustomFieldInput{OrganizationID: testOrg, Name: "Source", Type: CustomSelect, Options: []string{"web", "ad"}})
			if err != nil {
				return err
			}
			fs, err := c.ListCustomFields(ctx, testOrg)
			if err != nil || len(fs) != 1 || fs[0].ID != f.ID {
				return errors.New("the field is not listed")
			}
			return c.DeleteCustomField(ctx, testOrg, f.ID)
		}, ""},
		{"delete a field that does not exist", func(ctx context.Context, c *Catalog, _ *memStore) error {
			return c.DeleteCustomField(ctx, testOrg, unknown)
		}, ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, m := catalogFixture()
			err := tt.call(context.Background(), c, m)
			if tt.wantCode == "" && err != nil || tt.wantCode != "" && ErrorCode(err) != tt.wantCode {
				t.Errorf("error = %v (code %s); want code %q", err, ErrorCode(err), tt.wantCode)
			}
		})
	}
}

// deleteRacingDefault deletes a state through a catalog whose store reports, as DynamoDB's
// condition would, that the state became the default after the service read the pool.
func deleteRacingDefault(ctx context.Context, c *Catalog, m *memStore, stateID string) error {
	racing := &racingStore{memStore: m}
	return (&Catalog{Store: racing, NewID: c.NewID}).DeleteLeadState(ctx, testPool, stateID)
}

// racingStore reads the pool as it was before another request made the state the default.
type racingStore struct{ *memStore }

func (r *racingStore) Pool(ctx context.Context, poolID string) (*Pool, error) {
	p, err := r.memStore.Pool(ctx, poolID)
	if p != nil {
		p.DefaultLeadStateID = testState
	}
	return p, err
}
