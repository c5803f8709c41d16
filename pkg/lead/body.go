package lead

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits are the request limits of SPEC §9.
type Limits struct {
	MaxBodyBytes      int // after base64 decoding
	MaxKeysPerRequest int // data keys plus customFieldData keys
	MaxKeyBytes       int
	MaxSchemaKeys     int
	MaxListElements   int
	MaxItemBytes      int // DynamoDB's item size limit
}

// DefaultLimits returns the limits of SPEC §9.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:      256 << 10,
		MaxKeysPerRequest: 500,
		MaxKeyBytes:       256,
		MaxSchemaKeys:     1000,
		MaxListElements:   1000,
		MaxItemBytes:      400 * 1024,
	}
}

// Body is a parsed ingress request body. Data values are string, json.Number (canonical),
// bool, []string or nil; CustomFieldData values are string, json.Number, bool, []string or nil.
type Body struct {
	Data            map[string]any
	CustomFieldData map[string]any
}

// ParseBody parses an ingress body strictly: one JSON object, valid UTF-8, no duplicate keys,
// no trailing data, only the fields "data" and "customFieldData", and data values of the
// shapes of SPEC §3. Every failure is a 400 *Error with details.
func ParseBody(raw []byte, lim Limits) (*Body, error) {
	if !utf8.Valid(raw) {
		return nil, invalid("the body is not valid UTF-8", Detail{Path: "$", Problem: "invalid UTF-8"})
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, invalid(`the body is empty; send a JSON object like {"data": {"email": "ada@example.com"}}`,
			Detail{Path: "$", Problem: "empty body"})
	}
	if !pairedSurrogates(raw) {
		return nil, invalid(`the body has a \u escape of a lone UTF-16 surrogate, which is not a character`,
			Detail{Path: "$", Problem: "lone surrogate escape"})
	}
	v, err := decodeStrict(raw)
	if err != nil {
		return nil, err
	}
	top, ok := v.(*object)
	if !ok {
		return nil, invalid(`the body must be a JSON object like {"data": {"email": "ada@example.com"}}`,
			Detail{Path: "$", Problem: "must be an object, got " + kindOf(v)})
	}
	var unknown []string
	for _, k := range top.keys {
		if k != "data" && k != "customFieldData" {
			unknown = append(unknown, k)
		}
	}
	dataV, hasData := top.values["data"]
	if len(unknown) > 0 || !hasData {
		details := make([]Detail, 0, len(unknown)+1)
		for _, k := range unknown {
			details = append(details, Detail{Path: jsonPath("", k), Problem: "unknown field"})
		}
		msg := `the body has unknown top-level fields; lead fields belong inside "data", e.g. {"data": {"email": "ada@example.com"}}`
		if !hasData {
			details = append(details, Detail{Path: "data", Problem: "required"})
			msg = `"data" is missing; put the lead fields inside a "data" object, e.g. {"data": {"email": "ada@example.com"}}`
		}
		return nil, invalid(msg, details...)
	}
	data, ok := dataV.(*object)
	if !ok {
		return nil, invalid(`"data" must be an object of lead fields`,
			Detail{Path: "data", Problem: "must be an object, got " + kindOf(dataV)})
	}
	b := &Body{Data: make(map[string]any, len(data.keys))}
	var details []Detail
	keys := len(data.keys)
	for _, k := range data.keys {
		if p := checkKey(k, lim); p != "" {
			details = append(details, Detail{Path: jsonPath("data", k), Problem: p})
			continue
		}
		val, problems := dataValue(jsonPath("data", k), data.values[k], lim)
		details = append(details, problems...)
		b.Data[k] = val
	}
	if cfV, ok := top.values["customFieldData"]; ok && cfV != nil {
		cf, ok := cfV.(*object)
		if !ok {
			details = append(details, Detail{Path: "customFieldData", Problem: "must be an object, got " + kindOf(cfV)})
		} else {
			b.CustomFieldData = make(map[string]any, len(cf.keys))
			keys += len(cf.keys)
			seen := make(map[string]bool, len(cf.keys))
			for _, k := range cf.keys {
				path := jsonPath("customFieldData", k)
				// Ids are matched case-insensitively, so two spellings of one id are a
				// duplicate key, not a silent pick.
				if id := strings.ToLower(k); seen[id] {
					details = append(details, Detail{Path: path, Problem: "duplicate key: the same custom field id is already in customFieldData"})
					continue
				} else {
					seen[id] = true
				}
				val, problems := customValue(path, cf.values[k], lim)
				details = append(details, problems...)
				b.CustomFieldData[k] = val
			}
		}
	}
	if keys > lim.MaxKeysPerRequest {
		path := "data"
		if len(data.keys) <= lim.MaxKeysPerRequest {
			path = "$" // only data and customFieldData together are too many
		}
		return nil, invalid(fmt.Sprintf("too many keys: %d in data and customFieldData, at most %d per request", keys, lim.MaxKeysPerRequest),
			Detail{Path: path, Problem: fmt.Sprintf("more than %d keys", lim.MaxKeysPerRequest)})
	}
	if len(details) > 0 {
		return nil, invalid(validationMessage(details), details...)
	}
	return b, nil
}

func validationMessage(details []Detail) string {
	if len(details) == 1 {
		return fmt.Sprintf("%s %s", details[0].Path, details[0].Problem)
	}
	return fmt.Sprintf("%d problems in the body, first: %s %s", len(details), details[0].Path, details[0].Problem)
}

func checkKey(k string, lim Limits) string {
	switch {
	case k == "":
		return "empty key"
	case len(k) > lim.MaxKeyBytes:
		return fmt.Sprintf("key longer than %d bytes", lim.MaxKeyBytes)
	}
	return ""
}

// dataValue checks one data value against the shapes of SPEC §3.
func dataValue(path string, v any, lim Limits) (any, []Detail) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, nil
	case json.Number:
		c, ok := CanonicalNumber(string(x))
		if !ok {
			return nil, []Detail{{Path: path, Problem: "number out of range or more than 38 significant digits"}}
		}
		return json.Number(c), nil
	case []any:
		return stringList(path, x, lim)
	default:
		return nil, []Detail{{Path: path, Problem: "unsupported value: " + kindOf(v) + "; use a string, number, boolean, array of strings or null"}}
	}
}

// customValue accepts the shapes custom field values can take; the field's own type is
// checked later, once the field definitions are read.
func customValue(path string, v any, lim Limits) (any, []Detail) {
	return dataValue(path, v, lim)
}

func stringList(path string, xs []any, lim Limits) (any, []Detail) {
	if len(xs) > lim.MaxListElements {
		return nil, []Detail{{Path: path, Problem: fmt.Sprintf("more than %d elements", lim.MaxListElements)}}
	}
	out := make([]string, len(xs))
	var details []Detail
	for i, e := range xs {
		s, ok := e.(string)
		if !ok {
			details = append(details, Detail{Path: fmt.Sprintf("%s[%d]", path, i), Problem: "must be a string"})
			continue
		}
		out[i] = s
	}
	return out, details
}

func jsonPath(parent, key string) string {
	simple := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			simple = false
			break
		}
	}
	var seg string
	if simple {
		seg = key
		if parent != "" {
			seg = "." + key
		}
	} else {
		q, _ := json.Marshal(key)
		seg = "[" + string(q) + "]"
	}
	return parent + seg
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case []string:
		return "array of strings"
	case *object:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// pairedSurrogates reports whether every \u escape of a UTF-16 surrogate in raw is a high
// surrogate directly followed by a low one. encoding/json would silently turn a lone one
// into U+FFFD, storing something other than what was sent.
func pairedSurrogates(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 < len(raw) && raw[i+1] != 'u' {
			i++ // an escape such as \\ or \": skip its second byte
			continue
		}
		r, ok := surrogateAt(raw, i)
		switch {
		case !ok:
			i++
		case r >= 0xdc00:
			return false // a low surrogate with no high one before it
		default:
			low, ok := surrogateAt(raw, i+6)
			if !ok || low < 0xdc00 {
				return false
			}
			i += 11
		}
	}
	return true
}

// surrogateAt returns the code unit of a \uXXXX escape at raw[i:] when it is a surrogate.
func surrogateAt(raw []byte, i int) (rune, bool) {
	if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
	if err != nil || v < 0xd800 || v > 0xdfff {
		return 0, false
	}
	return rune(v), true
}

// object is a JSON object that remembers its key order.
type object struct {
	keys   []string
	values map[string]any
}

// maxDepth bounds nesting so a hostile body cannot exhaust the stack.
const maxDepth = 32

// decodeStrict decodes exactly one JSON value, rejecting duplicate keys and trailing data.
func decodeStrict(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec, "", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid("the body has data after the JSON object", Detail{Path: "$", Problem: "trailing data"})
	}
	return v, nil
}

func syntaxError(err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return invalid(fmt.Sprintf("the body is not valid JSON (at byte %d)", se.Offset), Detail{Path: "$", Problem: "invalid JSON"})
	}
	return invalid("the body is not valid JSON", Detail{Path: "$", Problem: "invalid JSON"})
}

// decodeValue decodes the next value; path names it in errors ("" for the body itself).
func decodeValue(dec *json.Decoder, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, invalid("the body is nested too deeply", Detail{Path: "$", Problem: "nested too deeply"})
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &object{values: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, syntaxError(err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, invalid("the body is not valid JSON", Detail{Path: "$", Problem: "invalid JSON"})
				}
				if _, dup := obj.values[k]; dup {
					return nil, invalid(fmt.Sprintf("duplicate key %q in the body", k), Detail{Path: jsonPath(path, k), Problem: "duplicate key"})
				}
				v, err := decodeValue(dec, jsonPath(path, k), depth+1)
				if err != nil {
					return nil, err
				}
				obj.keys = append(obj.keys, k)
				obj.values[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, syntaxError(err)
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec, fmt.Sprintf("%s[%d]", path, len(arr)), depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, syntaxError(err)
			}
			return arr, nil
		}
		return nil, invalid("the body is not valid JSON", Detail{Path: "$", Problem: "invalid JSON"})
	default:
		return t, nil
	}
}
