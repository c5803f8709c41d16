package lead

import "time"

// FieldType is the locked type of a data key in a pool schema.
type FieldType string

// The schema types a data key can be locked to.
const (
	TypeString     FieldType = "string"
	TypeNumber     FieldType = "number"
	TypeBoolean    FieldType = "boolean"
	TypeStringList FieldType = "string[]"
)

// Valid reports whether t is one of the four schema types.
func (t FieldType) Valid() bool {
	switch t {
	case TypeString, TypeNumber, TypeBoolean, TypeStringList:
		return true
	}
	return false
}

// Schema maps a data key to its locked type.
type Schema map[string]FieldType

// Webhook is an ingress webhook bound to one pool. TokenHash is HMAC-SHA256(key, token);
// PreviousTokenHash, when set, stays valid until PreviousTokenExpiresAt (rotation grace).
// AllowQueryToken lets senders that cannot set a header pass the token as ?token=.
type Webhook struct {
	ID                     string
	OrganizationID         string
	PoolID                 string
	Name                   string
	TokenHash              []byte
	PreviousTokenHash      []byte
	PreviousTokenExpiresAt time.Time
	CreatedAt              time.Time
	RotatedAt              time.Time
	AllowQueryToken        bool
	// Form holds the webhook's settings for public HTML forms; nil for none.
	Form *FormSettings
	// Version counts the changes of the stored webhook: every update and delete is
	// conditional on the version it read, so a write that arrives late changes nothing.
	Version int64

	// Native source: see source.go.
	SourceSettings

	// RateLimit is the webhook's limit in requests per second and RateBurst the burst it
	// allows on top (0: the service's defaults, see RateDefaults).
	RateLimit int
	RateBurst int
	// Counted are the per-second counts of the webhook's admitted requests, summed over
	// every function instance, as the ingest read saw them (empty elsewhere).
	Counted []RateCount
}

// Pool is a lead pool (a table of lead entries) with its schema and default lead state.
// LeadStateIDs lists the lead states that exist in the pool.
type Pool struct {
	ID                 string
	OrganizationID     string
	Name               string
	DefaultLeadStateID string
	LeadStateIDs       []string
	Schema             Schema
	// SchemaVersion counts the changes of Schema (locks by requests and administration
	// alike); a write that replaces the schema is conditional on the version it read.
	SchemaVersion int64
	// Version counts the other changes of the stored pool (its lead states and default).
	Version int64
}

// HasLeadState reports whether the pool holds a lead state with the given id.
func (p *Pool) HasLeadState(id string) bool {
	for _, s := range p.LeadStateIDs {
		if s == id {
			return true
		}
	}
	return false
}

// State is a lead state of a pool: one state a lead can be in.
type State struct {
	ID     string
	PoolID string
	Name   string
	// Version counts the changes of the stored lead state.
	Version int64
}

// CustomFieldType is the type of an organization's custom field.
type CustomFieldType string

// The custom field types: free text, a number, a boolean, a date (YYYY-MM-DD), one option of
// a list (select) or several (multiselect).
const (
	CustomText        CustomFieldType = "text"
	CustomNumber      CustomFieldType = "number"
	CustomBoolean     CustomFieldType = "boolean"
	CustomDate        CustomFieldType = "date"
	CustomSelect      CustomFieldType = "select"
	CustomMultiselect CustomFieldType = "multiselect"
)

// Valid reports whether t is a known custom field type.
func (t CustomFieldType) Valid() bool {
	switch t {
	case CustomText, CustomNumber, CustomBoolean, CustomDate, CustomSelect, CustomMultiselect:
		return true
	}
	return false
}

// CustomField is an organization-level field that entries may fill through customFieldData.
type CustomField struct {
	ID             string
	OrganizationID string
	Name           string
	Type           CustomFieldType
	Options        []string
	// Version counts the changes of the stored custom field.
	Version int64
}

// Entry is a lead entry as stored and as returned in the 201 body and the event (their
// JSON form is wire.EntryView). CreatedAt is whole seconds in UTC, so it renders as RFC 3339
// without fractions, as the API documents it.
// Data values are string, Number, bool, []string or nil.
type Entry struct {
	ID              string
	PoolID          string
	OrganizationID  string
	Data            map[string]any
	CustomFieldData map[string]any
	LeadStateID     string
	CreatedAt       time.Time
	// WebhookID names the webhook that created the entry; it is stored, not returned.
	WebhookID string
}

// FormatTime renders t as RFC 3339 in UTC, the form of every timestamp the service returns.
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
