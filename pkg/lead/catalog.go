package lead

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// CatalogStore is what the catalog service needs from storage: pools, their lead states and
// organizations' custom fields.
type CatalogStore interface {
	// CreatePool writes the pool with state as its first and default lead state, atomically.
	CreatePool(ctx context.Context, p *Pool, state *State) error
	// Pool returns the pool with the id, or nil if there is none.
	Pool(ctx context.Context, poolID string) (*Pool, error)
	// AddLeadState adds a lead state to an existing pool (ErrNotFound otherwise).
	AddLeadState(ctx context.Context, poolID string, state *State) error
	// SetDefaultLeadState names the pool's default; ErrNotFound when the pool has no such state.
	SetDefaultLeadState(ctx context.Context, poolID, stateID string) error
	// DeleteLeadState removes a lead state that is not the default; ErrNotFound when it
	// does not exist, ErrChanged when it is (or just became) the default.
	DeleteLeadState(ctx context.Context, poolID, stateID string) error
	// ListLeadStates returns the pool's lead states.
	ListLeadStates(ctx context.Context, poolID string) ([]State, error)
	// PutCustomField creates a custom field; a taken id is an error.
	PutCustomField(ctx context.Context, f *CustomField) error
	// ListCustomFields returns the organization's custom fields.
	ListCustomFields(ctx context.Context, organizationID string) ([]CustomField, error)
	// DeleteCustomField deletes a custom field; ErrNotFound when there is none.
	DeleteCustomField(ctx context.Context, organizationID, fieldID string) error
}

// Catalog manages the pools, lead states and custom fields that webhooks write into: what
// the RocketLead console does, for operators.
type Catalog struct {
	Store CatalogStore
	NewID func() (string, error)
}

// NewCatalog returns a catalog service with random UUIDv4 ids.
func NewCatalog(store CatalogStore) *Catalog {
	return &Catalog{Store: store, NewID: NewID}
}

// CreatePoolInput names a new pool and its first lead state, which becomes the default.
type CreatePoolInput struct {
	OrganizationID string
	Name           string
	LeadStateName  string // "New" when empty
}

func notFound(what string) *Error {
	return &Error{Code: ENOTFOUND, Reason: "Not found", Message: "no " + what + " has this id"}
}

// CreatePool creates a pool with its default lead state.
func (c *Catalog) CreatePool(ctx context.Context, in CreatePoolInput) (*Pool, *State, error) {
	if in.LeadStateName == "" {
		in.LeadStateName = "New"
	}
	var details []Detail
	orgID, d := uuidField("organizationId", in.OrganizationID)
	details = append(details, d...)
	name, d := nameField("name", in.Name)
	details = append(details, d...)
	stateName, d := nameField("leadState", in.LeadStateName)
	details = append(details, d...)
	if len(details) > 0 {
		return nil, nil, InvalidDetails(details...)
	}
	poolID, err := c.NewID()
	if err != nil {
		return nil, nil, err
	}
	stateID, err := c.NewID()
	if err != nil {
		return nil, nil, err
	}
	p := &Pool{ID: poolID, OrganizationID: orgID, Name: name, DefaultLeadStateID: stateID, LeadStateIDs: []string{stateID}, Schema: Schema{}}
	st := &State{ID: stateID, PoolID: poolID, Name: stateName}
	if err := c.Store.CreatePool(ctx, p, st); err != nil {
		return nil, nil, fmt.Errorf("create pool: %w", err)
	}
	return p, st, nil
}

// Pool returns a pool with its schema.
func (c *Catalog) Pool(ctx context.Context, poolID string) (*Pool, error) {
	id, details := uuidField("tableId", poolID)
	if len(details) > 0 {
		return nil, InvalidDetails(details...)
	}
	p, err := c.Store.Pool(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get pool %s: %w", id, err)
	}
	if p == nil {
		return nil, notFound("lead pool")
	}
	return p, nil
}

// AddLeadState adds a lead state to a pool.
func (c *Catalog) AddLeadState(ctx context.Context, poolID, name string) (*State, error) {
	var details []Detail
	poolID, d := uuidField("tableId", poolID)
	details = append(details, d...)
	stateName, d := nameField("name", name)
	details = append(details, d...)
	if len(details) > 0 {
		return nil, InvalidDetails(details...)
	}
	// Looking first keeps the common mistake out of the transaction: a cancelled one is
	// costly, and the local DynamoDB mishandles its rollback.
	p, err := c.Store.Pool(ctx, poolID)
	if err != nil {
		return nil, fmt.Errorf("add lead state: read pool %s: %w", poolID, err)
	}
	if p == nil {
		return nil, notFound("lead pool")
	}
	id, err := c.NewID()
	if err != nil {
		return nil, err
	}
	st := &State{ID: id, PoolID: poolID, Name: stateName}
	err = c.Store.AddLeadState(ctx, poolID, st)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound("lead pool")
	}
	if err != nil {
		return nil, fmt.Errorf("add lead state to pool %s: %w", poolID, err)
	}
	return st, nil
}

// SetDefaultLeadState makes an existing lead state the pool's default.
func (c *Catalog) SetDefaultLeadState(ctx context.Context, poolID, stateID string) error {
	poolID, stID, err := poolAndState(poolID, stateID)
	if err != nil {
		return err
	}
	err = c.Store.SetDefaultLeadState(ctx, poolID, stID)
	if errors.Is(err, ErrNotFound) {
		return notFound("lead state of this pool")
	}
	if err != nil {
		return fmt.Errorf("set default lead state of pool %s: %w", poolID, err)
	}
	return nil
}

// DeleteLeadState deletes a lead state; the default cannot be deleted.
func (c *Catalog) DeleteLeadState(ctx context.Context, poolID, stateID string) error {
	poolID, stID, err := poolAndState(poolID, stateID)
	if err != nil {
		return err
	}
	isDefault := Invalid("the default lead state cannot be deleted; make another state the default first",
		Detail{Path: "leadStateId", Problem: "is the pool's default lead state"})
	// The read gives the precise answer; the transaction's conditions still guard a race.
	p, err := c.Store.Pool(ctx, poolID)
	switch {
	case err != nil:
		return fmt.Errorf("delete lead state: read pool %s: %w", poolID, err)
	case p == nil:
		return notFound("lead pool")
	case p.DefaultLeadStateID == stID:
		return isDefault
	case !p.HasLeadState(stID):
		return notFound("lead state of this pool")
	}
	err = c.Store.DeleteLeadState(ctx, poolID, stID)
	switch {
	case errors.Is(err, ErrNotFound):
		return notFound("lead state of this pool")
	case errors.Is(err, ErrChanged):
		return isDefault
	case err != nil:
		return fmt.Errorf("delete lead state %s of pool %s: %w", stID, poolID, err)
	}
	return nil
}

// ListLeadStates returns the pool (for its default) and its lead states.
func (c *Catalog) ListLeadStates(ctx context.Context, poolID string) (*Pool, []State, error) {
	p, err := c.Pool(ctx, poolID)
	if err != nil {
		return nil, nil, err
	}
	states, err := c.Store.ListLeadStates(ctx, p.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("list lead states of pool %s: %w", p.ID, err)
	}
	return p, states, nil
}

// CreateCustomFieldInput describes a new custom field; Options are required for select and
// multiselect fields and not allowed for the other types.
type CreateCustomFieldInput struct {
	OrganizationID string
	Name           string
	Type           CustomFieldType
	Options        []string
}

// CreateCustomField creates an organization's custom field.
func (c *Catalog) CreateCustomField(ctx context.Context, in CreateCustomFieldInput) (*CustomField, error) {
	var details []Detail
	orgID, d := uuidField("organizationId", in.OrganizationID)
	details = append(details, d...)
	name, d := nameField("name", in.Name)
	details = append(details, d...)
	if !in.Type.Valid() {
		details = append(details, Detail{Path: "type", Problem: "must be one of text, number, boolean, date, select, multiselect"})
	}
	withOptions := in.Type == CustomSelect || in.Type == CustomMultiselect
	switch {
	case withOptions && len(in.Options) == 0:
		details = append(details, Detail{Path: "options", Problem: "required for " + string(in.Type) + " fields"})
	case !withOptions && len(in.Options) > 0 && in.Type.Valid():
		details = append(details, Detail{Path: "options", Problem: "only select and multiselect fields have options"})
	}
	seen := map[string]bool{}
	for i, o := range in.Options {
		switch {
		case strings.TrimSpace(o) == "":
			details = append(details, Detail{Path: fmt.Sprintf("options[%d]", i), Problem: "empty option"})
		case seen[o]:
			details = append(details, Detail{Path: fmt.Sprintf("options[%d]", i), Problem: "duplicate option"})
		}
		seen[o] = true
	}
	if len(details) > 0 {
		return nil, InvalidDetails(details...)
	}
	id, err := c.NewID()
	if err != nil {
		return nil, err
	}
	f := &CustomField{ID: id, OrganizationID: orgID, Name: name, Type: in.Type, Options: append([]string{}, in.Options...)}
	if err := c.Store.PutCustomField(ctx, f); err != nil {
		return nil, fmt.Errorf("create custom field: %w", err)
	}
	return f, nil
}

// ListCustomFields returns the organization's custom fields.
func (c *Catalog) ListCustomFields(ctx context.Context, organizationID string) ([]CustomField, error) {
	orgID, details := uuidField("organizationId", organizationID)
	if len(details) > 0 {
		return nil, InvalidDetails(details...)
	}
	fs, err := c.Store.ListCustomFields(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("list custom fields of organization %s: %w", orgID, err)
	}
	return fs, nil
}

// DeleteCustomField deletes an organization's custom field.
func (c *Catalog) DeleteCustomField(ctx context.Context, organizationID, fieldID string) error {
	var details []Detail
	orgID, d := uuidField("organizationId", organizationID)
	details = append(details, d...)
	id, d := uuidField("id", fieldID)
	details = append(details, d...)
	if len(details) > 0 {
		return InvalidDetails(details...)
	}
	err := c.Store.DeleteCustomField(ctx, orgID, id)
	if errors.Is(err, ErrNotFound) {
		return notFound("custom field of this organization")
	}
	if err != nil {
		return fmt.Errorf("delete custom field %s: %w", id, err)
	}
	return nil
}

func poolAndState(poolID, stateID string) (string, string, error) {
	var details []Detail
	poolID, d := uuidField("tableId", poolID)
	details = append(details, d...)
	stID, d := uuidField("leadStateId", stateID)
	details = append(details, d...)
	if len(details) > 0 {
		return "", "", InvalidDetails(details...)
	}
	return poolID, stID, nil
}
