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
// failure is a 400 *lead.Error with details.
func ParseBody(raw []byte, lim lead.Limits) (*lead.Body, error) {
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
	var unknown []string
	for _, k := range top.keys {
		if k != "data" && k != "customFieldData" {
			unknown = append(unknown, k)
		}
	}
	dataV, hasData := top.values["data"]
	if len(unknown) > 0 || !hasData {
		details := make([]lead.Detail, 0, len(unknown)+1)
		for _, k := range unknown {
			details = append(details, lead.Detail{Path: lead.DetailPath("", k), Problem: "unknown field"})
		}
		msg := `the body has unknown top-level fields; lead fields belong inside "data", e.g. {"data": {"email": "ada@example.com"}}`
		if !hasData {
			details = append(details, lead.Detail{Path: "data", Problem: "required"})
			msg = `"data" is missing; put the lead fields inside a "data" object, e.g. {"data": {"email": "ada@example.com"}}`
		}
		return nil, lead.Invalid(msg, details...)
	}
	data, ok := dataV.(*object)
	if !ok {
		return nil, lead.Invalid(`"data" must be an object of lead fields`,
			lead.Detail{Path: "data", Problem: "must be an object, got " + kindOf(dataV)})
	}
	b := &lead.Body{Data: make(map[string]any, len(data.keys))}
	var details []lead.Detail
	keys := len(data.keys)
	for _, k := range data.keys {
		if p := checkKey(k, lim); p != "" {
			details = append(details, lead.Detail{Path: lead.DetailPath("data", k), Problem: p})
			continue
		}
		val, problems := dataValue(lead.DetailPath("data", k), data.values[k], lim)
		details = append(details, problems...)
		b.Data[k] = val
	}
	if cfV, ok := top.values["customFieldData"]; ok && cfV != nil {
		cf, ok := cfV.(*object)
		if !ok {
			details = append(details, lead.Detail{Path: "customFieldData", Problem: "must be an object, got " + kindOf(cfV)})
		} else {
			b.CustomFieldData = make(map[string]any, len(cf.keys))
			keys += len(cf.keys)
			seen := make(map[string]bool, len(cf.keys))
			for _, k := range cf.keys {
				path := lead.DetailPath("customFieldData", k)
				// Ids are matched case-insensitively, so two spellings of one id are a
				// duplicate key, not a silent pick.
				if id := strings.ToLower(k); seen[id] {
					details = append(details, lead.Detail{Path: path, Problem: "duplicate key: the same custom field id is already in customFieldData"})
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
		return nil, lead.Invalid(fmt.Sprintf("too many keys: %d in data and customFieldData, at most %d per request", keys, lim.MaxKeysPerRequest),
			lead.Detail{Path: path, Problem: fmt.Sprintf("more than %d keys", lim.MaxKeysPerRequest)})
	}
	if len(details) > 0 {
		return nil, lead.InvalidDetails(details...)
	}
	return b, nil
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

// dataValue checks one data value against the shapes a schema can lock.
func dataValue(path string, v any, lim lead.Limits) (any, []lead.Detail) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, nil
	case json.Number:
		c, ok := lead.CanonicalNumber(string(x))
		if !ok {
			return nil, []lead.Detail{{Path: path, Problem: "number out of range or more than 38 significant digits"}}
		}
		return lead.Number(c), nil
	case []any:
		return stringList(path, x, lim)
	default:
		return nil, []lead.Detail{{Path: path, Problem: "unsupported value: " + kindOf(v) + "; use a string, number, boolean, array of strings or null"}}
	}
}

// customValue accepts the shapes custom field values can take; the field's own type is
// checked later, once the field definitions are read.
func customValue(path string, v any, lim lead.Limits) (any, []lead.Detail) {
	return dataValue(path, v, lim)
}

func stringList(path string, xs []any, lim lead.Limits) (any, []lead.Detail) {
	if len(xs) > lim.MaxListElements {
		return nil, []lead.Detail{{Path: path, Problem: fmt.Sprintf("more than %d elements", lim.MaxListElements)}}
	}
	out := make([]string, len(xs))
	var details []lead.Detail
	for i, e := range xs {
		s, ok := e.(string)
		if !ok {
			details = append(details, lead.Detail{Path: fmt.Sprintf("%s[%d]", path, i), Problem: "must be a string"})
			continue
		}
		out[i] = s
	}
	return out, details
}
