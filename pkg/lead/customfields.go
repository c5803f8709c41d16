package lead

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
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
// (keyed by lower-case id) and returns the values to store, keyed by lower-case id. Values
// must have the field's own type: a string is no number here. The coercions of Coerce
// (numeric strings, "true"/"false", one string for a list) belong to the pool schema only.
func ValidateCustomFields(data map[string]any, fields map[string]CustomField) (map[string]any, error) {
	out := make(map[string]any, len(data))
	var details []Detail
	for _, k := range slices.Sorted(maps.Keys(data)) {
		path := DetailPath("customFieldData", k)
		f, ok := fields[strings.ToLower(k)]
		if !IsUUID(k) || !ok {
			details = append(details, Detail{Path: path, Problem: "not a custom field of this organization"})
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
	switch f.Type {
	case CustomText:
		if s, ok := v.(string); ok {
			return s, ""
		}
		return nil, fmt.Sprintf("%s expects a string, got %s", name, valueType(v))
	case CustomNumber:
		if n, ok := v.(Number); ok {
			return n, ""
		}
		return nil, fmt.Sprintf("%s expects a number, got %s", name, valueType(v))
	case CustomBoolean:
		if b, ok := v.(bool); ok {
			return b, ""
		}
		return nil, fmt.Sprintf("%s expects a boolean, got %s", name, valueType(v))
	case CustomDate:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Sprintf("%s expects a date YYYY-MM-DD, got %s", name, valueType(v))
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil || len(s) != len(time.DateOnly) {
			return nil, fmt.Sprintf("%s expects a date YYYY-MM-DD", name)
		}
		return s, ""
	case CustomSelect:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Sprintf("%s expects one of its options as a string, got %s", name, valueType(v))
		}
		if !contains(f.Options, s) {
			return nil, fmt.Sprintf("%s has no option %q", name, s)
		}
		return s, ""
	case CustomMultiselect:
		l, ok := v.([]string)
		if !ok {
			return nil, fmt.Sprintf("%s expects an array of its options, got %s", name, valueType(v))
		}
		seen := map[string]bool{}
		for _, s := range l {
			if !contains(f.Options, s) {
				return nil, fmt.Sprintf("%s has no option %q", name, s)
			}
			if seen[s] {
				return nil, fmt.Sprintf("%s lists option %q twice", name, s)
			}
			seen[s] = true
		}
		return l, ""
	}
	return nil, fmt.Sprintf("field %q has an unknown type", f.Name)
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
