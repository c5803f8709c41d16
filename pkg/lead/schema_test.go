package lead

import (
	"reflect"
	"strings"
	"testing"
)

func TestCoerce(t *testing.T) {
	tests := []struct {
		name string
		in   any
		t    FieldType
		want any
		ok   bool
	}{
		{"string to string", "a", TypeString, "a", true},
		{"number never becomes string", Number("123"), TypeString, nil, false},
		{"bool never becomes string", true, TypeString, nil, false},
		{"list never becomes string", []string{"a"}, TypeString, nil, false},
		{"number", Number("2.5"), TypeNumber, Number("2.5"), true},
		{"numeric string", "25", TypeNumber, Number("25"), true},
		{"numeric string canonical", "25.10", TypeNumber, Number("25.1"), true},
		{"non-numeric string", "25 years", TypeNumber, nil, false},
		{"spaced numeric string", " 25", TypeNumber, nil, false},
		{"bool to number", true, TypeNumber, nil, false},
		{"bool", false, TypeBoolean, false, true},
		{"true string", "true", TypeBoolean, true, true},
		{"false string", "false", TypeBoolean, false, true},
		{"TRUE string in any letter case", "TRUE", TypeBoolean, true, true},
		{"True string as Zapier sends it", "True", TypeBoolean, true, true},
		{"fAlSe string", "fAlSe", TypeBoolean, false, true},
		{"empty string into number is null", "", TypeNumber, nil, true},
		{"empty string into boolean is null", "", TypeBoolean, nil, true},
		{"empty string stays a string", "", TypeString, "", true},
		{"empty string into a list is one element", "", TypeStringList, []string{""}, true},
		{"spaced true string", " true", TypeBoolean, nil, false},
		{"yes string", "yes", TypeBoolean, nil, false},
		{"number to bool", Number("1"), TypeBoolean, nil, false},
		{"list", []string{"a", "b"}, TypeStringList, []string{"a", "b"}, true},
		{"single string to list", "a", TypeStringList, []string{"a"}, true},
		{"number to list", Number("1"), TypeStringList, nil, false},
		{"null always", nil, TypeNumber, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Coerce(tt.in, tt.t)
			if ok != tt.ok || (ok && !reflect.DeepEqual(got, tt.want)) {
				t.Errorf("Coerce(%#v, %s) = %#v, %v; want %#v, %v", tt.in, tt.t, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSchemaApply(t *testing.T) {
	schema := Schema{"email": TypeString, "age": TypeNumber, "vip": TypeBoolean, "tags": TypeStringList}
	t.Run("infers new keys and coerces locked ones", func(t *testing.T) {
		stored, newKeys, err := schema.Apply(map[string]any{
			"email": "a@b.co", "age": "41", "vip": "true", "tags": "hot",
			"city": "Oslo", "score": Number("9"), "ok": true, "list": []string{}, "unset": nil,
		})
		if err != nil {
			t.Fatalf("Apply error = %v", err)
		}
		wantStored := map[string]any{
			"email": "a@b.co", "age": Number("41"), "vip": true, "tags": []string{"hot"},
			"city": "Oslo", "score": Number("9"), "ok": true, "list": []string{}, "unset": nil,
		}
		if !reflect.DeepEqual(stored, wantStored) {
			t.Errorf("stored = %#v; want %#v", stored, wantStored)
		}
		wantNew := Schema{"city": TypeString, "score": TypeNumber, "ok": TypeBoolean, "list": TypeStringList}
		if !reflect.DeepEqual(newKeys, wantNew) {
			t.Errorf("newKeys = %v; want %v", newKeys, wantNew)
		}
	})
	t.Run("a mismatch fails the whole request with typeErrors", func(t *testing.T) {
		_, _, err := schema.Apply(map[string]any{"email": Number("123"), "age": "old", "city": "Oslo"})
		e, ok := err.(*Error)
		if !ok || e.Code != EINVALID {
			t.Fatalf("Apply error = %v; want Validation failed", err)
		}
		want := map[string]TypeError{"email": {TypeString, "number"}, "age": {TypeNumber, "string"}}
		if !reflect.DeepEqual(e.TypeErrors, want) {
			t.Errorf("typeErrors = %v; want %v", e.TypeErrors, want)
		}
		if e.Message != "type mismatch — age expected number, got string; email expected string, got number" {
			t.Errorf("message = %q", e.Message)
		}
	})
	t.Run("a single mismatch names the fix, a detail names it per key", func(t *testing.T) {
		_, _, err := schema.Apply(map[string]any{"vip": "yes"})
		e, ok := err.(*Error)
		if !ok || e.Code != EINVALID || len(e.Details) != 1 {
			t.Fatalf("Apply(vip: yes) error = %v; want one Validation failed detail", err)
		}
		if want := "send true or false (any letter case, quoted or not)"; !strings.Contains(e.Message, want) || !strings.Contains(e.Details[0].Problem, want) {
			t.Errorf("message %q / detail %q; want both to contain %q", e.Message, e.Details[0].Problem, want)
		}
		if strings.Contains(e.Message, "yes") {
			t.Errorf("message %q repeats the data value", e.Message)
		}
	})
	t.Run("null for a locked key is kept and locks nothing", func(t *testing.T) {
		stored, newKeys, err := schema.Apply(map[string]any{"email": nil})
		if err != nil || len(newKeys) != 0 || stored["email"] != nil {
			t.Errorf("Apply(email: null) = %v, %v, %v; want stored null, no new keys", stored, newKeys, err)
		}
	})
}
