package lead

import (
	"reflect"
	"strings"
	"testing"
)

func TestValidateCustomFields(t *testing.T) {
	const (
		text   = "00000000-0000-4000-8000-000000000001"
		num    = "00000000-0000-4000-8000-000000000002"
		flag   = "00000000-0000-4000-8000-000000000003"
		date   = "00000000-0000-4000-8000-000000000004"
		source = "00000000-0000-4000-8000-000000000005"
		multi  = "00000000-0000-4000-8000-000000000006"
	)
	fields := map[string]CustomField{
		text:   {ID: text, Name: "Note", Type: CustomText},
		num:    {ID: num, Name: "Budget", Type: CustomNumber},
		flag:   {ID: flag, Name: "Consent", Type: CustomBoolean},
		date:   {ID: date, Name: "Birthday", Type: CustomDate},
		source: {ID: source, Name: "Lead source", Type: CustomSelect, Options: []string{"instagram_ad", "google_ad"}},
		multi:  {ID: multi, Name: "Interests", Type: CustomMultiselect, Options: []string{"a", "b", "c"}},
	}
	valid := []struct {
		name string
		id   string
		in   any
		want any
	}{
		{"text", text, "hello", "hello"},
		{"number", num, Number("12.5"), Number("12.5")},
		{"boolean", flag, true, true},
		{"date", date, "1990-02-28", "1990-02-28"},
		{"select", source, "instagram_ad", "instagram_ad"},
		{"multiselect", multi, []string{"a", "c"}, []string{"a", "c"}},
		{"null means no value", source, nil, nil},
		{"upper-case id", strings.ToUpper(text), "x", "x"},
		{"number from a numeric string", num, "5000", Number("5000")},
		{"number from an empty string is no value", num, "", nil},
		{"boolean from True", flag, "True", true},
		{"boolean from FALSE", flag, "FALSE", false},
		{"boolean from an empty string is no value", flag, "", nil},
		{"multiselect from one option string", multi, "b", []string{"b"}},
	}
	for _, tt := range valid {
		t.Run("accepts "+tt.name, func(t *testing.T) {
			got, err := ValidateCustomFields(map[string]any{tt.id: tt.in}, fields)
			if err != nil {
				t.Fatalf("ValidateCustomFields(%v) error = %v", tt.in, err)
			}
			if v := got[strings.ToLower(tt.id)]; !reflect.DeepEqual(v, tt.want) {
				t.Errorf("ValidateCustomFields(%#v) = %#v; want %#v", tt.in, v, tt.want)
			}
		})
	}
	invalidCases := []struct {
		name    string
		id      string
		in      any
		problem string
	}{
		{"unknown id", "00000000-0000-4000-8000-00000000000f", "x", "not a custom field"},
		{"not a uuid", "lead_source", "x", "not a custom field"},
		{"text gets number", text, Number("1"), "expects a string"},
		{"number gets word", num, "lots", "expects a number"},
		{"number gets a word, shown with the fix", num, "5k", `expects a number, got the string "5k"; send a number or a numeric string`},
		{"boolean gets yes, shown with the fix", flag, "yes", `expects a boolean, got the string "yes"; send true or false`},
		{"multiselect gets an unknown single string", multi, "z", `no option "z"; options: "a", "b", "c"`},
		{"text gets an empty list", text, []string{}, "expects a string"},
		{"date gets an empty string", date, "", "YYYY-MM-DD"},
		{"bad date", date, "1990-02-30", "YYYY-MM-DD"},
		{"date with time", date, "1990-02-28T00:00:00Z", "YYYY-MM-DD"},
		{"select unknown option, listing the options", source, "tv", `no option "tv"; options: "instagram_ad", "google_ad"`},
		{"select gets list", source, []string{"instagram_ad"}, "expects one of its options"},
		{"multiselect unknown", multi, []string{"a", "z"}, `no option "z"`},
		{"multiselect duplicate", multi, []string{"a", "a"}, "twice"},
	}
	for _, tt := range invalidCases {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			_, err := ValidateCustomFields(map[string]any{tt.id: tt.in}, fields)
			e, ok := err.(*Error)
			if !ok || e.Code != EINVALID || len(e.Details) != 1 {
				t.Fatalf("ValidateCustomFields(%#v) error = %v; want one Validation failed detail", tt.in, err)
			}
			if !strings.Contains(e.Details[0].Problem, tt.problem) || !strings.HasPrefix(e.Details[0].Path, "customFieldData") {
				t.Errorf("detail = %+v; want problem containing %q", e.Details[0], tt.problem)
			}
		})
	}
}
