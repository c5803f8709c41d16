package lead

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// InferType returns the schema type a data value locks, and false for null, which infers
// nothing.
func InferType(v any) (FieldType, bool) {
	switch v.(type) {
	case string:
		return TypeString, true
	case Number:
		return TypeNumber, true
	case bool:
		return TypeBoolean, true
	case []string:
		return TypeStringList, true
	}
	return "", false
}

// Coerce converts v to the locked type t using only the coercions the API documents: a numeric
// string into number, "true"/"false" in any letter case into boolean, a single string into
// string[], and "" into number or boolean as null (senders that send only strings, form
// bodies and Zapier, send an empty field as ""). Nothing becomes a string.
// ok is false when v neither matches t nor can be coerced.
func Coerce(v any, t FieldType) (out any, ok bool) {
	if v == nil {
		return nil, true
	}
	if s, isString := v.(string); isString && s == "" && (t == TypeNumber || t == TypeBoolean) {
		return nil, true
	}
	switch t {
	case TypeString:
		s, ok := v.(string)
		return s, ok
	case TypeNumber:
		switch x := v.(type) {
		case Number:
			return x, true
		case string:
			if c, ok := CanonicalNumber(x); ok {
				return Number(c), true
			}
		}
	case TypeBoolean:
		switch x := v.(type) {
		case bool:
			return x, true
		case string:
			switch {
			case strings.EqualFold(x, "true"):
				return true, true
			case strings.EqualFold(x, "false"):
				return false, true
			}
		}
	case TypeStringList:
		switch x := v.(type) {
		case []string:
			return x, true
		case string:
			return []string{x}, true
		}
	}
	return nil, false
}

// Apply checks data against the schema: it returns the data with coerced values and the
// keys that are not in the schema yet with their inferred types. A value that matches
// neither its locked type nor a coercion fails the whole request with typeErrors.
func (s Schema) Apply(data map[string]any) (stored map[string]any, newKeys Schema, err error) {
	stored = make(map[string]any, len(data))
	var typeErrors map[string]TypeError
	for k, v := range data {
		locked, ok := s[k]
		if !ok {
			if t, ok := InferType(v); ok {
				if newKeys == nil {
					newKeys = Schema{}
				}
				newKeys[k] = t
			}
			stored[k] = v
			continue
		}
		c, ok := Coerce(v, locked)
		if !ok {
			if typeErrors == nil {
				typeErrors = map[string]TypeError{}
			}
			typeErrors[k] = TypeError{Expected: locked, Got: valueType(v)}
			continue
		}
		stored[k] = c
	}
	if typeErrors != nil {
		return nil, nil, mismatch(typeErrors)
	}
	return stored, newKeys, nil
}

func valueType(v any) string {
	if t, ok := InferType(v); ok {
		return string(t)
	}
	return KindOf(v)
}

// mismatch is the 400 of values that disagree with their locked types: the first
// MaxListedProblems keys (in key order) as typeErrors and details, every one counted, the
// first few named in the message.
func mismatch(typeErrors map[string]TypeError) *Error {
	keys := slices.Sorted(maps.Keys(typeErrors))
	listed := keys[:min(len(keys), MaxListedProblems)]
	parts := make([]string, 0, namedInMessage)
	details := make([]Detail, len(listed))
	shown := make(map[string]TypeError, len(listed))
	for i, k := range listed {
		te := typeErrors[k]
		if i < namedInMessage {
			parts = append(parts, fmt.Sprintf("%s expected %s, got %s", k, te.Expected, te.Got))
		}
		details[i] = Detail{Path: DetailPath("data", k), Problem: fmt.Sprintf("expected %s, got %s; %s", te.Expected, te.Got, fixFor(te.Expected))}
		shown[k] = te
	}
	msg := "type mismatch — " + strings.Join(parts, "; ")
	switch {
	case len(keys) == 1:
		msg += " (" + fixFor(typeErrors[keys[0]].Expected) + ")"
	case len(keys) > namedInMessage:
		msg += fmt.Sprintf("; %d keys in all", len(keys))
	}
	e := &Error{
		Code:       EINVALID,
		Reason:     DefaultReason(EINVALID),
		Message:    msg,
		Details:    details,
		TypeErrors: shown,
	}
	if len(keys) > len(listed) {
		e.ProblemCount = len(keys)
	}
	return e
}

// fixFor says what a sender should send for a key locked to t. The value sent is not
// repeated: data values are lead data.
func fixFor(t FieldType) string {
	switch t {
	case TypeString:
		return `send it as a string, e.g. "123" in quotes`
	case TypeNumber:
		return `send a number or a numeric string such as "36", or "" or null for no value`
	case TypeBoolean:
		return `send true or false (any letter case, quoted or not), or "" or null for no value`
	case TypeStringList:
		return "send a string or an array of strings"
	}
	return "send a value of the locked type"
}
