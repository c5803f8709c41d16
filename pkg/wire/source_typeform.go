package wire

import (
	"encoding/json"
	"regexp"
)

// The typeform source: form_response.answers[] typed by type, keyed by the
// field's ref; hidden fields as keys. Signed with Typeform-Signature: sha256=<base64
// HMAC-SHA256(secret, raw body)>. form_response.token is the delivery id.
var _ = register(&Source{
	name:      "typeform",
	sigHeader: "Typeform-Signature",
	verify:    base64Body("Typeform-Signature", "sha256="),
	newSecret: func() (string, error) { return randomSecret("", 32, base64URL) },
	jsonBody:  true,
	read:      readTypeform,
	// Typeform disables a webhook that answers 404 or 410.
	noNotFound: true,
})

const typeformShape = `a JSON object with form_response.answers[]`

// typeformMeta are form_response's ids and times, kept under _typeform.
var typeformMeta = []string{"form_id", "token", "submitted_at", "landed_at"}

var datePrefix = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)

func readTypeform(r SourceRequest) (*sourceData, error) {
	obj, err := vendorJSON(r.Raw, "typeform", typeformShape)
	if err != nil {
		return nil, err
	}
	fr := member(obj, "form_response")
	if fr == nil {
		return nil, wrongShape("typeform", typeformShape)
	}
	answers, ok := fr.values["answers"].([]any)
	if _, present := fr.values["answers"]; present && !ok {
		return nil, wrongShape("typeform", typeformShape)
	}
	d := newSourceData()
	for _, a := range answers {
		ans, ok := a.(*object)
		if !ok {
			return nil, wrongShape("typeform", typeformShape)
		}
		field := member(ans, "field")
		k := dataKey(text(field, "ref"))
		if k == "" {
			k = dataKey(text(field, "id"))
		}
		if k == "" {
			continue
		}
		if v, ok := typeformValue(ans); ok {
			d.set(k, v)
		}
	}
	if hidden := member(fr, "hidden"); hidden != nil {
		for _, k := range hidden.keys {
			if s := text(hidden, k); s != "" || hidden.values[k] == "" {
				d.set(dataKey(k), s)
			}
		}
	}
	for _, m := range typeformMeta {
		d.meta("typeform", m, fr.values[m])
	}
	d.meta("typeform", "event_id", obj.values["event_id"])
	if calc := member(fr, "calculated"); calc != nil {
		d.meta("typeform", "score", calc.values["score"])
	}
	d.deliveryID = text(fr, "token")
	return d, nil
}

// typeformValue is an answer's value, typed where Typeform types it: number, boolean,
// choices as a list of labels, a date as YYYY-MM-DD; the rest as text.
func typeformValue(ans *object) (any, bool) {
	typ := text(ans, "type")
	switch typ {
	case "number":
		n, ok := ans.values["number"].(json.Number)
		return n, ok
	case "boolean":
		b, ok := ans.values["boolean"].(bool)
		return b, ok
	case "date":
		s := text(ans, "date")
		if m := datePrefix.FindString(s); m != "" {
			return m, true
		}
		return s, s != ""
	case "choice":
		c := member(ans, "choice")
		if l := text(c, "label"); l != "" {
			return l, true
		}
		o := text(c, "other")
		return o, o != ""
	case "choices":
		c := member(ans, "choices")
		if c == nil {
			return nil, false
		}
		labels := stringsOf(c.values["labels"])
		if o := text(c, "other"); o != "" {
			labels = append(labels, o)
		}
		if labels == nil {
			labels = []any{}
		}
		return labels, true
	case "payment":
		p := member(ans, "payment")
		s := text(p, "amount")
		return s, s != ""
	}
	// text, email, phone_number, url, file_url and any newer scalar type: the member named
	// by the type.
	switch v := ans.values[typ].(type) {
	case string, bool, json.Number:
		return v, true
	}
	return nil, false
}
