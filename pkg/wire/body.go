package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// ParseBody parses an ingest body strictly: one JSON object, valid UTF-8, no duplicate keys,
// no trailing data, only the fields "data" and "customFieldData", and data values of the
// shapes the schema knows: string, number, boolean, array of strings or null. Every
// failure is a 400 *lead.Error with details: at most lead.MaxListedProblems listed, all
// counted, whatever the body holds.
func ParseBody(raw []byte, lim lead.Limits) (*lead.Body, error) {
	top, err := topObject(raw)
	if err != nil {
		return nil, err
	}
	data, err := dataObject(top)
	if err != nil {
		return nil, err
	}
	var ps lead.Problems
	b := &lead.Body{Data: dataFields(data, lim, &ps)}
	keys := len(data.keys)
	if cfV, ok := top.values["customFieldData"]; ok && cfV != nil {
		cf, ok := cfV.(*object)
		if !ok {
			ps.Add("customFieldData", "must be an object, got "+kindOf(cfV))
		} else {
			b.CustomFieldData = customFields(cf, lim, &ps)
			keys += len(cf.keys)
		}
	}
	if keys > lim.MaxKeysPerRequest {
		path := "data"
		if len(data.keys) <= lim.MaxKeysPerRequest {
			path = "$" // only data and customFieldData together are too many
		}
		return nil, lead.Invalid(fmt.Sprintf("too many keys: %d in data and customFieldData, at most %d per request", keys, lim.MaxKeysPerRequest),
			lead.Detail{Path: path, Problem: fmt.Sprintf("more than %d keys", lim.MaxKeysPerRequest)})
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return b, nil
}

// topObject decodes raw into its top-level JSON object: valid UTF-8, not empty, no lone
// surrogate escape, strictly one object.
func topObject(raw []byte) (*object, error) {
	if !utf8.Valid(raw) {
		return nil, lead.Invalid("the body is not valid UTF-8", lead.Detail{Path: "$", Problem: "invalid UTF-8"})
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, lead.Invalid(`the body is empty; send a JSON object like {"data": {"email": "ada@example.com"}}`,
			lead.Detail{Path: "$", Problem: "empty body"})
	}
	if !pairedSurrogates(raw) {
		return nil, lead.Invalid(`the body has a \u escape of a lone UTF-16 surrogate, which is not a character`,
			lead.Detail{Path: "$", Problem: "lone surrogate escape"})
	}
	v, err := decodeStrict(raw)
	if err != nil {
		return nil, err
	}
	top, ok := v.(*object)
	if !ok {
		return nil, lead.Invalid(`the body must be a JSON object like {"data": {"email": "ada@example.com"}}`,
			lead.Detail{Path: "$", Problem: "must be an object, got " + kindOf(v)})
	}
	return top, nil
}

// dataObject returns the body's "data" object; a body with other top-level fields, or
// without data, is a 400 that says where lead fields belong.
func dataObject(top *object) (*object, error) {
	var ps lead.Problems
	for _, k := range top.keys {
		if k != "data" && k != "customFieldData" {
			ps.Add(lead.DetailPath("", k), "unknown field")
		}
	}
	dataV, hasData := top.values["data"]
	if ps.Count() > 0 || !hasData {
		msg := `the body has unknown top-level fields; lead fields belong inside "data", e.g. {"data": {"email": "ada@example.com"}}`
		if !hasData {
			ps.Add("data", "required")
			msg = `"data" is missing; put the lead fields inside a "data" object, e.g. {"data": {"email": "ada@example.com"}}`
			if zapierFlattened(top.keys) {
				msg += `; keys named data__<key> are Zapier's flattened names: in the Zapier webhook step choose Payload Type json with Unflatten yes, which nests them inside "data"`
			}
		}
		e := ps.Err().(*lead.Error)
		e.Message = msg
		return nil, e
	}
	data, ok := dataV.(*object)
	if !ok {
		return nil, lead.Invalid(`"data" must be an object of lead fields`,
			lead.Detail{Path: "data", Problem: "must be an object, got " + kindOf(dataV)})
	}
	return data, nil
}

// zapierFlattened reports whether the keys are Zapier's flattened names: every one data__<key>
// or customFieldData__<id>, at least one of them data__. Zapier nests them inside data and
// customFieldData only with Payload Type json and Unflatten yes; otherwise data.email
// arrives as the key data__email.
func zapierFlattened(keys []string) bool {
	data := false
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k, "data__") && k != "data__":
			data = true
		case strings.HasPrefix(k, "customFieldData__") && k != "customFieldData__":
		default:
			return false
		}
	}
	return data
}

// dataFields checks the data keys and values, recording problems in ps.
func dataFields(data *object, lim lead.Limits, ps *lead.Problems) map[string]any {
	out := make(map[string]any, len(data.keys))
	for _, k := range data.keys {
		if p := checkKey(k, lim); p != "" {
			ps.Add(lead.DetailPath("data", k), p)
			continue
		}
		out[k] = dataValue(lead.DetailPath("data", k), data.values[k], lim, ps)
	}
	return out
}

// customFields checks the customFieldData values, recording problems in ps. Ids are matched
// case-insensitively, so two spellings of one id are a duplicate key, not a silent pick.
func customFields(cf *object, lim lead.Limits, ps *lead.Problems) map[string]any {
	out := make(map[string]any, len(cf.keys))
	seen := make(map[string]bool, len(cf.keys))
	for _, k := range cf.keys {
		path := lead.DetailPath("customFieldData", k)
		if id := strings.ToLower(k); seen[id] {
			ps.Add(path, "duplicate key: the same custom field id is already in customFieldData")
			continue
		} else {
			seen[id] = true
		}
		out[k] = dataValue(path, cf.values[k], lim, ps)
	}
	return out
}

func checkKey(k string, lim lead.Limits) string {
	switch {
	case k == "":
		return "empty key"
	case len(k) > lim.MaxKeyBytes:
		return fmt.Sprintf("key longer than %d bytes", lim.MaxKeyBytes)
	}
	return ""
}

// dataValue checks one data or custom field value against the shapes a schema can lock
// (a custom field's own type is checked later, once the field definitions are read).
func dataValue(path string, v any, lim lead.Limits, ps *lead.Problems) any {
	switch x := v.(type) {
	case nil, string, bool:
		return x
	case json.Number:
		c, ok := lead.CanonicalNumber(string(x))
		if !ok {
			ps.Add(path, "number out of range or more than 38 significant digits")
			return nil
		}
		return lead.Number(c)
	case []any:
		return stringList(path, x, lim, ps)
	default:
		ps.Add(path, "unsupported value: "+kindOf(v)+"; use a string, number, boolean, array of strings or null")
		return nil
	}
}

// stringList checks a list of strings; the path of an element is built only when its
// problem is listed.
func stringList(path string, xs []any, lim lead.Limits, ps *lead.Problems) any {
	if len(xs) > lim.MaxListElements {
		ps.Add(path, fmt.Sprintf("more than %d elements", lim.MaxListElements))
		return nil
	}
	out := make([]string, len(xs))
	for i, e := range xs {
		s, ok := e.(string)
		switch {
		case ok:
			out[i] = s
		case ps.Listing():
			ps.Add(fmt.Sprintf("%s[%d]", path, i), "must be a string")
		default:
			ps.Skip()
		}
	}
	return out
}
