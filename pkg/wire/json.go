package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// kindOf names the JSON kind of a value decodeStrict returned.
func kindOf(v any) string {
	switch v.(type) {
	case *object:
		return "object"
	case json.Number:
		return "number"
	}
	return lead.KindOf(v)
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
// Valid JSON is read by the scanner; anything else by the token decoder, which names the
// byte where it breaks or the data after the value.
func decodeStrict(raw []byte) (any, error) {
	if json.Valid(raw) {
		s := &scanner{raw: raw}
		return s.value(nil, 0)
	}
	return decodeTokens(raw)
}

// decodeTokens decodes raw token by token, as encoding/json reads it.
func decodeTokens(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec, "", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, lead.Invalid("the body has data after the JSON object; send the object alone, with nothing after its closing }", lead.Detail{Path: "$", Problem: "trailing data"})
	}
	return v, nil
}

func syntaxError(err error) *lead.Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return lead.Invalid(fmt.Sprintf("the body is not valid JSON (at byte %d)", se.Offset), lead.Detail{Path: "$", Problem: "invalid JSON"})
	}
	return lead.Invalid("the body is not valid JSON", lead.Detail{Path: "$", Problem: "invalid JSON"})
}

// decodeValue decodes the next value; path names it in errors ("" for the body itself).
func decodeValue(dec *json.Decoder, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, lead.Invalid("the body is nested too deeply", lead.Detail{Path: "$", Problem: "nested too deeply"})
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
					return nil, lead.Invalid("the body is not valid JSON", lead.Detail{Path: "$", Problem: "invalid JSON"})
				}
				if _, dup := obj.values[k]; dup {
					return nil, lead.Invalid(fmt.Sprintf("duplicate key %q in the body", k), lead.Detail{Path: lead.DetailPath(path, k), Problem: "duplicate key"})
				}
				v, err := decodeValue(dec, lead.DetailPath(path, k), depth+1)
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
		return nil, lead.Invalid("the body is not valid JSON", lead.Detail{Path: "$", Problem: "invalid JSON"})
	default:
		return t, nil
	}
}
