package wire

import (
	"encoding/json"
	"regexp"
	"strings"
)

// The jotform source: a multipart (or urlencoded) body whose rawRequest field
// is a JSON string with the answers under qN_name keys (name, date, address, phone and
// time answers are objects, checkboxes arrays). Jotform sets no headers and signs
// nothing: the webhook opts in to ?token=. submissionID is the delivery id.
var _ = register(&Source{
	name: "jotform",
	read: readJotform,
})

// The unbounce source: an urlencoded body whose data.json field is a JSON
// string mapping each field name to an array of strings. Unbounce can set headers: the
// token header, or ?token=. It sends no delivery id.
var _ = register(&Source{
	name: "unbounce",
	read: readUnbounce,
})

const (
	jotformShape  = `a form body with a rawRequest field holding a JSON object of qN_name answers`
	unbounceShape = `a form body with a data.json field holding a JSON object of arrays of strings`
)

// jotformMeta are the form fields that are Jotform's ids, kept under _jotform.
var jotformMeta = map[string]string{"formID": "form_id", "submissionID": "submission_id", "formTitle": "form_title"}

// unbounceMeta are the fields that are Unbounce's page ids and times, kept under _unbounce.
var unbounceMeta = map[string]bool{"page_id": true, "page_name": true, "page_url": true, "page_uuid": true, "variant": true,
	"date_submitted": true, "time_submitted": true, "ip_address": true}

var jotformAnswer = regexp.MustCompile(`^q\d+_(.+)$`)

// formOf reads a form body (multipart or urlencoded) into its fields by name (the first
// of a repeated name).
func formOf(r SourceRequest) (map[string]string, error) {
	media, err := ingestMediaOf(r.ContentType)
	if err != nil {
		return nil, err
	}
	var f *formFields
	switch media.format {
	case formatMultipart:
		f, err = parseMultipart(r.Raw, media.boundary)
	case formatURLEncoded:
		f, err = parseURLEncoded(withoutBOM(r.Raw))
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(f.fields))
	for _, fd := range f.fields {
		if _, dup := out[fd.name]; !dup {
			out[fd.name] = fd.value
		}
	}
	return out, nil
}

func readJotform(r SourceRequest) (*sourceData, error) {
	form, err := formOf(r)
	if err != nil {
		return nil, err
	}
	raw, ok := form["rawRequest"]
	if !ok {
		return nil, wrongShape("jotform", jotformShape)
	}
	obj, err := vendorJSON([]byte(raw), "jotform", jotformShape)
	if err != nil {
		return nil, wrongShape("jotform", jotformShape)
	}
	d := newSourceData()
	for _, k := range obj.keys {
		m := jotformAnswer.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		if v, ok := jotformValue(obj.values[k]); ok {
			d.set(dataKey(m[1]), v)
		}
	}
	for _, k := range []string{"formID", "submissionID", "formTitle"} {
		if v, ok := form[k]; ok {
			d.meta("jotform", jotformMeta[k], v)
		}
	}
	d.deliveryID = form["submissionID"]
	return d, nil
}

// jotformValue is an answer as a data value: text as is; a list (checkboxes) as strings;
// a phone by its full number, a date as YYYY-MM-DD, a name or an address joined.
func jotformValue(v any) (any, bool) {
	switch x := v.(type) {
	case string, json.Number, bool:
		return x, true
	case []any:
		return stringsOf(x), true
	case *object:
		if full := text(x, "full"); full != "" {
			return full, true
		}
		if y, m, dd := text(x, "year"), text(x, "month"), text(x, "day"); y != "" && m != "" && dd != "" {
			return y + "-" + pad2(m) + "-" + pad2(dd), true
		}
		sep := " "
		if _, isAddress := x.values["addr_line1"]; isAddress {
			sep = ", "
		}
		var parts []string
		for _, k := range x.keys {
			if s := strings.TrimSpace(text(x, k)); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, sep), true
	}
	return nil, false
}

func pad2(s string) string {
	if len(s) == 1 {
		return "0" + s
	}
	return s
}

func readUnbounce(r SourceRequest) (*sourceData, error) {
	form, err := formOf(r)
	if err != nil {
		return nil, err
	}
	raw, ok := form["data.json"]
	if !ok {
		return nil, wrongShape("unbounce", unbounceShape)
	}
	obj, err := vendorJSON([]byte(raw), "unbounce", unbounceShape)
	if err != nil {
		return nil, wrongShape("unbounce", unbounceShape)
	}
	d := newSourceData()
	for _, k := range obj.keys {
		vals := stringsOf(obj.values[k])
		if _, isList := obj.values[k].([]any); !isList {
			continue
		}
		var v any = vals
		if len(vals) == 1 {
			v = vals[0]
		}
		if unbounceMeta[k] {
			d.meta("unbounce", k, v)
			continue
		}
		d.set(dataKey(k), v)
	}
	for _, k := range []string{"page_id", "page_name", "page_url", "variant"} {
		if v, ok := form[k]; ok {
			d.meta("unbounce", k, v)
		}
	}
	return d, nil
}
