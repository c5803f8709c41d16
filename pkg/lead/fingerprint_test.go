package lead

import (
	"bytes"
	"testing"
)

func TestFingerprintIsTheParsedContent(t *testing.T) {
	base := &Body{Data: map[string]any{"email": "a@b.co", "age": Number("36"), "tags": []string{"x", "y"}, "ok": true, "n": nil},
		CustomFieldData: map[string]any{"AbC": "web"}}
	tests := []struct {
		name string
		b    *Body
		same bool
	}{
		{"the same maps built again", &Body{Data: map[string]any{"n": nil, "ok": true, "tags": []string{"x", "y"}, "age": Number("36"), "email": "a@b.co"},
			CustomFieldData: map[string]any{"AbC": "web"}}, true},
		{"custom field ids count case-insensitively", &Body{Data: base.Data, CustomFieldData: map[string]any{"abc": "web"}}, true},
		{"a number and its string differ", &Body{Data: map[string]any{"email": "a@b.co", "age": "36", "tags": []string{"x", "y"}, "ok": true, "n": nil},
			CustomFieldData: base.CustomFieldData}, false},
		{"list order counts", &Body{Data: map[string]any{"email": "a@b.co", "age": Number("36"), "tags": []string{"y", "x"}, "ok": true, "n": nil},
			CustomFieldData: base.CustomFieldData}, false},
		{"false and null differ", &Body{Data: map[string]any{"email": "a@b.co", "age": Number("36"), "tags": []string{"x", "y"}, "ok": true, "n": false},
			CustomFieldData: base.CustomFieldData}, false},
		{"a key moved from data to customFieldData differs", &Body{Data: map[string]any{}, CustomFieldData: map[string]any{"email": "a@b.co"}}, false},
		{"keys and values cannot run together", &Body{Data: map[string]any{"ab": "c"}}, false},
	}
	want := Fingerprint(base)
	for _, tt := range tests {
		if got := bytes.Equal(Fingerprint(tt.b), want); got != tt.same {
			t.Errorf("%s: fingerprints equal = %v; want %v", tt.name, got, tt.same)
		}
	}
	if a, b := Fingerprint(&Body{Data: map[string]any{"ab": "c"}}), Fingerprint(&Body{Data: map[string]any{"a": "bc"}}); bytes.Equal(a, b) {
		t.Error(`{"ab":"c"} and {"a":"bc"} share a fingerprint; want them apart`)
	}
}
