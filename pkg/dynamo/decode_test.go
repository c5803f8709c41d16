package dynamo

import (
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

func bin(v string) types.AttributeValue { return &types.AttributeValueMemberB{Value: []byte(v)} }

func sMap(kv ...string) types.AttributeValue {
	m := map[string]types.AttributeValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = str(kv[i+1])
	}
	return &types.AttributeValueMemberM{Value: m}
}

// with returns a copy of item with the attribute set, or removed when v is nil.
func with(item map[string]types.AttributeValue, name string, v types.AttributeValue) map[string]types.AttributeValue {
	out := maps.Clone(item)
	if v == nil {
		delete(out, name)
	} else {
		out[name] = v
	}
	return out
}

func TestDecodersRejectMissingOrMalformedAttributes(t *testing.T) {
	webhook := map[string]types.AttributeValue{
		"id": str("w1"), "organizationId": str("o1"), "tableId": str("p1"), "name": str("Zapier"),
		"tokenHash": bin("h"), "createdAt": str("2026-05-10T12:00:00Z"),
		"previousTokenHash": &types.AttributeValueMemberNULL{Value: true}, "rotatedAt": str("2026-05-11T12:00:00.5Z"),
	}
	pool := map[string]types.AttributeValue{
		"id": str("p1"), "organizationId": str("o1"), "name": str("Inbound"), "defaultLeadStateId": str("s1"),
		"schema": sMap("email", "string"), "leadStates": sMap("s1", "New"),
	}
	field := map[string]types.AttributeValue{
		"id": str("f1"), "organizationId": str("o1"), "name": str("Source"), "fieldType": str("select"),
		"options": &types.AttributeValueMemberL{Value: []types.AttributeValue{str("web")}},
	}
	idem := map[string]types.AttributeValue{
		attrPK: str("IDEMPOTENCY#w1#h"), attrSK: str("IDEMPOTENCY"), "fp": bin("x"), "entryId": str("e1"),
		TTLAttribute: n("1778500000"),
	}
	entry := map[string]types.AttributeValue{
		"id": str("e1"), "tableId": str("p1"), "organizationId": str("o1"), "webhookId": str("w1"),
		"leadStateId": str("s1"), "createdAt": str("2026-05-10T12:00:00Z"), "data": sMap("email", "a@b.co"),
	}
	state := map[string]types.AttributeValue{"id": str("s1"), "tableId": str("p1"), "name": str("New")}
	decoders := map[string]func(map[string]types.AttributeValue) error{
		"webhook":      func(i map[string]types.AttributeValue) error { _, err := webhookFromItem(i); return err },
		"pool":         func(i map[string]types.AttributeValue) error { _, err := poolFromItem(i); return err },
		"custom field": func(i map[string]types.AttributeValue) error { _, err := customFieldFromItem(i); return err },
		"idempotency":  func(i map[string]types.AttributeValue) error { _, err := idempotencyFromItem("w1", "k", i); return err },
		"entry":        func(i map[string]types.AttributeValue) error { _, err := EntryFromItem(i); return err },
		"lead state":   func(i map[string]types.AttributeValue) error { _, err := stateFromItem(i); return err },
	}
	tests := []struct {
		name, decoder string
		item          map[string]types.AttributeValue
		wantErr       string // "" means the item decodes
	}{
		{"a complete webhook decodes", "webhook", webhook, ""},
		{"webhook without createdAt", "webhook", with(webhook, "createdAt", nil), "createdAt"},
		{"webhook with an unparsable createdAt", "webhook", with(webhook, "createdAt", str("yesterday")), "createdAt"},
		{"webhook with an unparsable rotatedAt", "webhook", with(webhook, "rotatedAt", str("2026-13-01")), "rotatedAt"},
		{"webhook without token hash", "webhook", with(webhook, "tokenHash", nil), "tokenHash"},
		{"webhook with a string token hash", "webhook", with(webhook, "tokenHash", str("h")), "tokenHash"},
		{"webhook without pool", "webhook", with(webhook, "tableId", nil), "tableId"},
		{"a complete pool decodes", "pool", pool, ""},
		{"pool without schema or default decodes", "pool", with(with(pool, "schema", nil), "defaultLeadStateId", nil), ""},
		{"pool without organization", "pool", with(pool, "organizationId", nil), "organizationId"},
		{"pool with an unknown schema type", "pool", with(pool, "schema", sMap("email", "text")), "schema"},
		{"pool with a non-string schema type", "pool", with(pool, "schema", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"a": n("1")}}), "schema"},
		{"pool with lead states as a list", "pool", with(pool, "leadStates", &types.AttributeValueMemberL{}), "leadStates"},
		{"a complete custom field decodes", "custom field", field, ""},
		{"custom field with an unknown type", "custom field", with(field, "fieldType", str("color")), "fieldType"},
		{"custom field with a non-string option", "custom field", with(field, "options", &types.AttributeValueMemberL{Value: []types.AttributeValue{n("1")}}), "options"},
		{"a complete idempotency record decodes", "idempotency", idem, ""},
		{"idempotency record without expiry", "idempotency", with(idem, TTLAttribute, nil), TTLAttribute},
		{"idempotency record with a fractional expiry", "idempotency", with(idem, TTLAttribute, n("1.5")), TTLAttribute},
		{"idempotency record without fingerprint", "idempotency", with(idem, "fp", nil), "fp"},
		{"idempotency record without entry id", "idempotency", with(idem, "entryId", nil), "entryId"},
		{"a complete entry decodes", "entry", entry, ""},
		{"entry without lead state", "entry", with(entry, "leadStateId", nil), "leadStateId"},
		{"entry without data", "entry", with(entry, "data", nil), "data"},
		{"a complete lead state decodes", "lead state", state, ""},
		{"lead state without name", "lead state", with(state, "name", nil), "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decoders[tt.decoder](tt.item)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("decode %s = %v; want no error", tt.decoder, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("decode %s = %v; want an error naming %s", tt.decoder, err, tt.wantErr)
			}
		})
	}
}
