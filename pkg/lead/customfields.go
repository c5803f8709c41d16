package lead

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// CustomFieldIDs returns the ids named in customFieldData that can be looked up (UUIDs),
// lower-cased, in a stable order.
func (b *Body) CustomFieldIDs() []string {
	var ids []string
	for _, k := range slices.Sorted(maps.Keys(b.CustomFieldData)) {
		if IsUUID(k) {
			ids = append(ids, strings.ToLower(k))
		}
	}
	return ids
}

// ValidateCustomFields checks customFieldData against the organization's custom fields
// (keyed by lower-case id) and returns the values to store, keyed by lower-case id. The
// coercions of the pool schema apply here too, because form bodies and Zapier send only
// strings: a number field takes a numeric string, a boolean field "true"/"false" in any
// letter case, a number or boolean field "" as null, a multiselect field one option as a
// string. A problem names the value sent, the field's type and, for a choice, its options:
// the answer goes back to the sender only, never to logs.
func ValidateCustomFields(data map[string]any, fields map[string]CustomField) (map[string]any, error) {
	out := make(map[string]any, len(data))
	var details []Detail
	for _, k := range slices.Sorted(maps.Keys(data)) {
		path := DetailPath("customFieldData", k)
		f, ok := fields[strings.ToLower(k)]
		if !IsUUID(k) || !ok {
			details = append(details, Detail{Path: path, Problem: "not a custom field of this organization; use the id of one of its custom fields, as listed in RocketLead"})
			continue
		}
		v, problem := customFieldValue(f, data[k])
		if problem != "" {
			details = append(details, Detail{Path: path, Problem: problem})
			continue
		}
		out[strings.ToLower(k)] = v
	}
	if len(details) > 0 {
		return nil, InvalidDetails(details...)
	}
	return out, nil
}

func customFieldValue(f CustomField, v any) (any, string) {
	if v == nil {
		return nil, ""
	}
	name := fmt.Sprintf("%s field %q", f.Type, f.Name)
	got := describe(v)
	switch f.Type {
	case CustomText:
		if s, ok := v.(string); ok {
			return s, ""
		}
		return nil, fmt.Sprintf("%s expects a string, got %s; send the text in quotes", name, got)
	case CustomNumber:
		if n, ok := Coerce(v, TypeNumber); ok {
			return n, ""
		}
		return nil, fmt.Sprintf(`%s expects a number, got %s; send a number or a numeric string such as "5000", or "" or null for no value`, name, got)
	case CustomBoolean:
		if b, ok := Coerce(v, TypeBoolean); ok {
			return b, ""
		}
		return nil, fmt.Sprintf(`%s expects a boolean, got %s; send true or false (any letter case, quoted or not), or "" or null for no value`, name, got)
	case CustomDate:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Sprintf("%s expects a date YYYY-MM-DD, got %s", name, got)
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil || len(s) != len(time.DateOnly) {
			return nil, fmt.Sprintf("%s expects a date YYYY-MM-DD such as \"2026-05-10\", got %s", name, got)
		}
		return s, ""
	case CustomSelect:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Sprintf("%s expects one of its options as a string, got %s; options: %s", name, got, optionList(f.Options))
		}
		if !contains(f.Options, s) {
			return nil, fmt.Sprintf("%s has no option %s; options: %s", name, quoteShort(s), optionList(f.Options))
		}
		return s, ""
	case CustomMultiselect:
		l, ok := Coerce(v, TypeStringList)
		if !ok {
			return nil, fmt.Sprintf("%s expects an array of its options (or one option as a string), got %s; options: %s", name, got, optionList(f.Options))
		}
		seen := map[string]bool{}
		for _, s := range l.([]string) {
			if !contains(f.Options, s) {
				return nil, fmt.Sprintf("%s has no option %s; options: %s", name, quoteShort(s), optionList(f.Options))
			}
			if seen[s] {
				return nil, fmt.Sprintf("%s lists option %s twice", name, quoteShort(s))
			}
			seen[s] = true
		}
		return l, ""
	}
	return nil, fmt.Sprintf("field %q has an unknown type", f.Name)
}

// maxShownValue bounds how much of a sent value an error repeats.
const maxShownValue = 64

// describe names a sent value for an error: its kind and, for a string or number, the value
// itself, shortened.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return "the string " + quoteShort(x)
	case Number:
		return "the number " + string(x)
	case bool:
		return fmt.Sprintf("the boolean %t", x)
	}
	return valueType(v)
}

// quoteShort quotes s as JSON, cut to maxShownValue bytes on a character boundary.
func quoteShort(s string) string {
	if len(s) > maxShownValue {
		cut := maxShownValue
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return quoteJSON(s[:cut]) + "…"
	}
	return quoteJSON(s)
}

// optionList renders a field's options for an error message.
func optionList(options []string) string {
	if len(options) == 0 {
		return "none defined"
	}
	quoted := make([]string, len(options))
	for i, o := range options {
		quoted[i] = quoteJSON(o)
	}
	return strings.Join(quoted, ", ")
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
