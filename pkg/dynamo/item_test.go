package dynamo

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

func TestEntryItemRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		e    lead.Entry
	}{
		{"every value shape", lead.Entry{
			ID: "01890000-0000-7000-8000-000000000001", PoolID: "t", OrganizationID: "o", WebhookID: "w", LeadStateID: "s",
			CreatedAt: time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC),
			Data: map[string]any{"email": "a@b.co", "n": lead.Number("12345678901234567890.123456789"), "ok": true,
				"tags": []string{"x", ""}, "empty": []string{}, "none": nil, "blank": ""},
			CustomFieldData: map[string]any{"f": "instagram_ad", "g": []string{"a"}},
		}},
		{"no custom fields", lead.Entry{ID: "e", PoolID: "t", OrganizationID: "o", CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			Data: map[string]any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			item, err := EntryItem(&tt.e)
			if err != nil {
				t.Fatalf("EntryItem error = %v", err)
			}
			if got := item["sk"].(*types.AttributeValueMemberS).Value; got != EntryPrefix+tt.e.ID {
				t.Errorf("sk = %q; want %q", got, EntryPrefix+tt.e.ID)
			}
			back, err := EntryFromItem(item)
			if err != nil {
				t.Fatalf("EntryFromItem error = %v", err)
			}
			if !reflect.DeepEqual(*back, tt.e) {
				t.Errorf("EntryFromItem(EntryItem(e)) = %+v; want %+v", *back, tt.e)
			}
		})
	}
}

func TestEntryFromItemRejectsForeignShapes(t *testing.T) {
	item, err := EntryItem(&lead.Entry{ID: "e", CreatedAt: time.Now().UTC().Truncate(time.Second), Data: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	item["data"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": &types.AttributeValueMemberM{}}}
	if _, err := EntryFromItem(item); err == nil {
		t.Error("EntryFromItem accepted a nested map in data; want an error")
	}
}

func TestEntryItemRejectsValuesOfUnknownTypes(t *testing.T) {
	for name, e := range map[string]*lead.Entry{
		"float in data":            {ID: "e", Data: map[string]any{"n": 1.5}},
		"nested map in data":       {ID: "e", Data: map[string]any{"m": map[string]any{}}},
		"int in custom field data": {ID: "e", Data: map[string]any{}, CustomFieldData: map[string]any{"f": 3}},
	} {
		t.Run(name, func(t *testing.T) {
			if item, err := EntryItem(e); err == nil {
				t.Errorf("EntryItem = %v, nil; want an error instead of a NULL attribute", item)
			}
		})
	}
}

func TestItemSizeCountsNamesAndValues(t *testing.T) {
	small := map[string]types.AttributeValue{"a": str("xy")}
	if got := ItemSize(small); got != 3 {
		t.Errorf("ItemSize({a: xy}) = %d; want 3", got)
	}
	big, err := EntryItem(&lead.Entry{ID: "e", CreatedAt: time.Now(), Data: map[string]any{"blob": strings.Repeat("x", 300_000)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ItemSize(big); got < 300_000 || got > 300_400 {
		t.Errorf("ItemSize(300 kB entry) = %d; want a little over 300000", got)
	}
}
