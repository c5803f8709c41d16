package wire

import (
	"encoding/json"
	"strings"
)

// The tally source: data.fields[] of {key, label, type, value, options?},
// keyed by label when it is unique, else by key; choice values are option ids, resolved
// to the options' texts. Signed with Tally-Signature: <base64 HMAC-SHA256(secret, raw
// body)>; Tally can set headers, so the token header works too. data.responseId is the
// delivery id.
var _ = register(&Source{
	name:      "tally",
	sigHeader: "Tally-Signature",
	verify:    base64Body("Tally-Signature", ""),
	newSecret: func() (string, error) { return randomSecret("", 32, base64URL) },
	jsonBody:  true,
	read:      readTally,
})

const tallyShape = `a JSON object with data.fields[] of {"key", "label", "type", "value"}`

// tallyMeta are data's ids and times, kept under _tally.
var tallyMeta = []string{"responseId", "submissionId", "respondentId", "formId", "formName", "createdAt"}

// tallySingleChoice are the field types whose value is one option, sent as a list of one id.
var tallySingleChoice = map[string]bool{"MULTIPLE_CHOICE": true, "DROPDOWN": true}

func readTally(r SourceRequest) (*sourceData, error) {
	obj, err := vendorJSON(r.Raw, "tally", tallyShape)
	if err != nil {
		return nil, err
	}
	data := member(obj, "data")
	fields, ok := data.valuesOf("fields").([]any)
	if data == nil || !ok {
		return nil, wrongShape("tally", tallyShape)
	}
	labels := map[string]int{}
	var fs []*object
	for _, f := range fields {
		fo, ok := f.(*object)
		if !ok {
			return nil, wrongShape("tally", tallyShape)
		}
		fs = append(fs, fo)
		labels[dataKey(text(fo, "label"))]++
	}
	d := newSourceData()
	for _, f := range fs {
		k := dataKey(text(f, "label"))
		if k == "" || labels[k] > 1 {
			k = dataKey(text(f, "key"))
		}
		if k == "" {
			continue
		}
		if v, ok := tallyValue(f); ok {
			d.set(k, v)
		}
	}
	for _, m := range tallyMeta {
		d.meta("tally", m, data.values[m])
	}
	d.meta("tally", "eventId", obj.values["eventId"])
	d.deliveryID = text(data, "responseId")
	return d, nil
}

// valuesOf returns the member k of a possibly nil object.
func (o *object) valuesOf(k string) any {
	if o == nil {
		return nil
	}
	return o.values[k]
}

// tallyValue is a field's value: option ids resolved to their texts (one text for a
// single choice, a list otherwise), files as their URLs, scalars as sent.
func tallyValue(f *object) (any, bool) {
	switch v := f.values["value"].(type) {
	case nil:
		return nil, true
	case string, bool, json.Number:
		return v, true
	case []any:
		texts := map[string]string{}
		if opts, ok := f.values["options"].([]any); ok {
			for _, o := range opts {
				if oo, ok := o.(*object); ok {
					texts[text(oo, "id")] = text(oo, "text")
				}
			}
		}
		out := make([]any, 0, len(v))
		for _, e := range v {
			switch x := e.(type) {
			case string:
				if t, ok := texts[x]; ok {
					x = t
				}
				out = append(out, x)
			case *object: // a file: its URL
				if u := text(x, "url"); u != "" {
					out = append(out, u)
				}
			}
		}
		if tallySingleChoice[strings.ToUpper(text(f, "type"))] {
			if len(out) == 0 {
				return nil, true
			}
			return out[0], true
		}
		return out, true
	}
	return nil, false
}
