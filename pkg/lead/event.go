package lead

import "time"

// EntryAddedDetailType is the DetailType of the event published once per committed entry.
const EntryAddedDetailType = "table.entry.added"

// DefaultEventSource is the event Source when none is configured.
const DefaultEventSource = "rocketlead.ingress"

// TriggerIngressWebhook is the trigger type of entries created through an ingress webhook.
const TriggerIngressWebhook = "ingress_webhook"

// Trigger names what created an entry.
type Trigger struct {
	Type string
	ID   string
}

// EntryAdded is the detail of table.entry.added: the entry exactly as the 201 body renders
// it, and the webhook that created it. Consumers dedupe on Entry.ID.
type EntryAdded struct {
	Entry   *Entry
	Trigger Trigger
}

// NewEntryAdded returns the event detail for an entry committed by an ingress webhook.
func NewEntryAdded(e *Entry) EntryAdded {
	return EntryAdded{Entry: e, Trigger: Trigger{Type: TriggerIngressWebhook, ID: e.WebhookID}}
}

// EntryRef identifies an entry without its data; it stands in for the entry in an event
// that would otherwise exceed the event bus's size limit.
type EntryRef struct {
	ID             string
	PoolID         string
	OrganizationID string
	LeadStateID    string
	CreatedAt      time.Time
}

// EntryAddedRef is the detail of a table.entry.added event whose full form is too large to
// publish: the entry's ids, the trigger and Truncated set, so consumers read the entry itself.
type EntryAddedRef struct {
	Entry     EntryRef
	Trigger   Trigger
	Truncated bool
}

// Ref returns the truncated reference form of the event.
func (a EntryAdded) Ref() EntryAddedRef {
	return EntryAddedRef{
		Entry: EntryRef{
			ID:             a.Entry.ID,
			PoolID:         a.Entry.PoolID,
			OrganizationID: a.Entry.OrganizationID,
			LeadStateID:    a.Entry.LeadStateID,
			CreatedAt:      a.Entry.CreatedAt,
		},
		Trigger:   a.Trigger,
		Truncated: true,
	}
}
