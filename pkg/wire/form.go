package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// formFields are the fields of a form in the order they were sent.
type formFields struct {
	fields []formField
}

type formField struct{ name, value string }

func (f *formFields) add(name, value string) {
	f.fields = append(f.fields, formField{name, value})
}

// formExample is how a form body should look, for messages.
const formExample = "email=ada%40example.com&firstName=Ada"

// parseURLEncoded splits an application/x-www-form-urlencoded body into its fields. Unlike
// net/url.ParseQuery it keeps the order of fields and treats ';' as a plain character. A
// field that does not decode is named in the error by its name, not its position.
func parseURLEncoded(raw []byte) (*formFields, error) {
	s := strings.TrimRight(string(raw), "\r\n")
	if strings.TrimSpace(s) == "" {
		return nil, lead.Invalid("the form body is empty; send at least one field, e.g. "+formExample,
			lead.Detail{Path: "$", Problem: "empty body"})
	}
	if looksMultipart(raw) {
		return nil, lead.Invalid("the body was read as "+MediaURLEncoded+" but it is a multipart form; set Content-Type to "+MediaMultipart+" with its boundary",
			lead.Detail{Path: "$", Problem: "not an urlencoded form"})
	}
	f := &formFields{}
	for _, pair := range strings.Split(s, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		name, kerr := url.QueryUnescape(k)
		if kerr != nil {
			name = k
		}
		value, verr := url.QueryUnescape(v)
		if kerr != nil || verr != nil {
			return nil, lead.Invalid(fmt.Sprintf("the body was read as %s and field %s has a broken %%-escape; encode the form with a form encoder (%%40 for @, %%25 for %%)", MediaURLEncoded, quoteName(name)),
				lead.Detail{Path: lead.DetailPath("data", name), Problem: "invalid urlencoded form"})
		}
		if !utf8.ValidString(name) || !utf8.ValidString(value) {
			what := "the value of field " + quoteName(name)
			if !utf8.ValidString(name) {
				what = "the field name " + quoteName(name)
			}
			return nil, lead.Invalid(fmt.Sprintf("the body was read as %s and %s is not valid UTF-8; send the form as UTF-8 (charset=utf-8)", MediaURLEncoded, what),
				lead.Detail{Path: lead.DetailPath("data", name), Problem: "invalid UTF-8"})
		}
		f.add(name, value)
	}
	if len(f.fields) == 0 {
		return nil, lead.Invalid("the form body has no fields; send at least one, e.g. "+formExample,
			lead.Detail{Path: "$", Problem: "empty body"})
	}
	return f, nil
}

// parseMultipart reads the text fields of a multipart/form-data body. A file part is a 400,
// except an <input type=file> left empty (no file name, no content), which is no field.
func parseMultipart(raw []byte, boundary string) (*formFields, error) {
	if boundary == "" {
		return nil, lead.Invalid("a "+MediaMultipart+" body needs its boundary in the Content-Type header (multipart/form-data; boundary=…); let your HTTP client set the header",
			lead.Detail{Path: "$", Problem: "no multipart boundary"})
	}
	mr := multipart.NewReader(bytes.NewReader(raw), boundary)
	f := &formFields{}
	emptyFiles := 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, notMultipart("it is not a valid multipart body")
		}
		name, value, err := multipartField(part)
		switch {
		case err != nil:
			return nil, err
		case value == nil:
			emptyFiles++
		default:
			f.add(name, string(value))
		}
	}
	switch {
	case len(f.fields) == 0 && emptyFiles > 0:
		return nil, lead.Invalid("the form has no fields but empty file inputs; send at least one text field, e.g. email",
			lead.Detail{Path: "$", Problem: "empty body"})
	case len(f.fields) == 0:
		return nil, notMultipart("no field was found with that boundary")
	}
	return f, nil
}

func notMultipart(why string) error {
	return lead.Invalid("the body was read as "+MediaMultipart+" with the boundary of its Content-Type and "+why+"; let your HTTP client build the form and set the header, or send JSON",
		lead.Detail{Path: "$", Problem: "invalid multipart form"})
}

// multipartField reads one part: its field name and value, or a nil value for an empty file
// input, which is ignored.
func multipartField(part *multipart.Part) (string, []byte, error) {
	name := part.FormName()
	if name == "" {
		return "", nil, notMultipart("a part has no form field name")
	}
	if !utf8.ValidString(name) {
		return "", nil, lead.Invalid(fmt.Sprintf("the body was read as %s and the field name %s is not valid UTF-8; send the form as UTF-8", MediaMultipart, quoteName(name)),
			lead.Detail{Path: lead.DetailPath("data", name), Problem: "invalid UTF-8"})
	}
	value, err := io.ReadAll(part)
	if err != nil {
		return "", nil, notMultipart("a part is cut short")
	}
	if isFilePart(part) {
		if part.FileName() == "" && len(value) == 0 {
			return name, nil, nil
		}
		return "", nil, lead.Invalid(fmt.Sprintf("field %s is a file upload; files are not accepted, send the field as a text value", quoteName(name)),
			lead.Detail{Path: lead.DetailPath("data", name), Problem: "file parts are not accepted"})
	}
	if !utf8.Valid(value) {
		return "", nil, lead.Invalid(fmt.Sprintf("the body was read as %s and the value of field %s is not valid UTF-8; send the form as UTF-8", MediaMultipart, quoteName(name)),
			lead.Detail{Path: lead.DetailPath("data", name), Problem: "invalid UTF-8"})
	}
	return name, value, nil
}

// isFilePart reports whether a part is a file input: its Content-Disposition has a filename
// parameter, even an empty one (what a browser sends for a file input left empty).
func isFilePart(part *multipart.Part) bool {
	if part.FileName() != "" {
		return true
	}
	_, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	if err != nil {
		return false
	}
	_, ok := params["filename"]
	return ok
}

func quoteName(name string) string {
	return lead.DetailPath("", name)
}

// looksMultipart reports whether raw starts like a multipart body.
func looksMultipart(raw []byte) bool {
	t := bytes.TrimLeft(raw, "\r\n")
	return bytes.HasPrefix(t, []byte("--")) && bytes.Contains(bytes.ToLower(t[:min(len(t), 512)]), []byte("content-disposition"))
}

// fieldName is a form field name read: the key it fills (in data or customFieldData), and
// whether it is one element of a list, with its index when it has one.
type fieldName struct {
	key    string
	custom bool
	list   bool
	index  int // -1: no index (k[] or a repeated plain field)
}

// acceptedFieldNames lists the field name forms a form may use, for messages.
const acceptedFieldNames = "k, k[], k[0], data[k], data[k][], data[k][0], customFieldData[<id>], customFieldData[<id>][] or customFieldData[<id>][0]"

// maxIndexDigits bounds a list index: a list holds at most a few thousand elements.
const maxIndexDigits = 6

// readFieldName reads a form field name: k, data[k] or customFieldData[<id>], each
// optionally followed by [] or [N] for one element of the list k. Any other bracket form
// is a 400 naming the field and the accepted forms.
func readFieldName(name string) (fieldName, error) {
	base, segs, ok := splitBrackets(name)
	fn := fieldName{key: base, index: -1}
	if ok && len(segs) > 0 && (base == "data" || base == "customFieldData") {
		fn.key, fn.custom, segs = segs[0], base == "customFieldData", segs[1:]
		if fn.custom {
			fn.key = strings.ToLower(fn.key) // ids are matched case-insensitively
		}
	}
	switch {
	case !ok || fn.key == "" && len(segs) > 0 || len(segs) > 1:
		ok = false
	case len(segs) == 1 && segs[0] == "":
		fn.list = true
	case len(segs) == 1:
		n, err := strconv.Atoi(segs[0])
		ok = err == nil && n >= 0 && len(segs[0]) <= maxIndexDigits && segs[0] == strconv.Itoa(n)
		fn.list, fn.index = true, n
	}
	if !ok {
		return fieldName{}, lead.Invalid(fmt.Sprintf("form field %s has a bracket form that is not accepted; name fields %s", quoteName(name), acceptedFieldNames),
			lead.Detail{Path: lead.DetailPath("data", name), Problem: "unsupported field name: use " + acceptedFieldNames})
	}
	return fn, nil
}

// splitBrackets splits name into the text before its first [ and the texts of the bracket
// groups that follow it, back to back; false when a bracket is unclosed, nested or followed
// by anything but another group.
func splitBrackets(name string) (base string, segs []string, ok bool) {
	i := strings.IndexByte(name, '[')
	if i < 0 {
		return name, nil, true
	}
	base, rest := name[:i], name[i:]
	for rest != "" {
		if rest[0] != '[' {
			return "", nil, false
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 || strings.IndexByte(rest[1:end], '[') >= 0 {
			return "", nil, false
		}
		segs = append(segs, rest[1:end])
		rest = rest[end+1:]
	}
	return base, segs, true
}

// listValue is one value of a field in a list, with its index (-1: none) and arrival order.
type listValue struct {
	index, order int
	value        string
}

// formKey is what the fields of one key fold into: its values in arrival order, and
// whether any field named it as a list.
type formKey struct {
	values []listValue
	list   bool
}

// fold folds the fields into the keys they fill, in order of first appearance: plain and
// data[k] fields by name, list elements (k[], k[N]…) into one list of k.
func (f *formFields) fold() (data, custom *keyedValues, err error) {
	data, custom = newKeyedValues(), newKeyedValues()
	for order, field := range f.fields {
		fn, err := readFieldName(field.name)
		if err != nil {
			return nil, nil, err
		}
		dst := data
		if fn.custom {
			dst = custom
		}
		k := dst.key(fn.key)
		k.list = k.list || fn.list
		k.values = append(k.values, listValue{index: fn.index, order: order, value: field.value})
	}
	return data, custom, nil
}

// keyedValues are the keys of a folded form in order of first appearance.
type keyedValues struct {
	names []string
	keys  map[string]*formKey
}

func newKeyedValues() *keyedValues { return &keyedValues{keys: map[string]*formKey{}} }

func (kv *keyedValues) key(name string) *formKey {
	k, ok := kv.keys[name]
	if !ok {
		k = &formKey{}
		kv.keys[name] = k
		kv.names = append(kv.names, name)
	}
	return k
}

// value is the key's value: one string, or the list of strings of a repeated or list field,
// indexed elements in index order, then the others in order of appearance.
func (k *formKey) value() any {
	if len(k.values) == 1 && !k.list {
		return k.values[0].value
	}
	vs := slices.Clone(k.values)
	slices.SortStableFunc(vs, func(a, b listValue) int {
		switch {
		case a.index >= 0 && b.index >= 0:
			return a.index - b.index
		case a.index >= 0:
			return -1
		case b.index >= 0:
			return 1
		}
		return a.order - b.order
	})
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.value
	}
	return out
}

// body maps the fields to lead fields within the limits: customFieldData[<id>] and
// data[<key>] are unwrapped, list forms folded, one value is a string, several a list of
// strings.
func (f *formFields) body(lim lead.Limits) (*lead.Body, error) {
	data, custom, err := f.fold()
	if err != nil {
		return nil, err
	}
	if n := len(data.names) + len(custom.names); n > lim.MaxKeysPerRequest {
		return nil, lead.Invalid(fmt.Sprintf("too many keys: %d form fields, at most %d per request", n, lim.MaxKeysPerRequest),
			lead.Detail{Path: "$", Problem: fmt.Sprintf("more than %d keys", lim.MaxKeysPerRequest)})
	}
	if err := zapierFormFields(data.names); err != nil {
		return nil, err
	}
	var ps lead.Problems
	b := &lead.Body{Data: data.fill("data", lim, &ps)}
	if len(custom.names) > 0 {
		b.CustomFieldData = custom.fill("customFieldData", lim, &ps)
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return b, nil
}

// fill checks the keys and the length of their lists, recording problems in ps.
func (kv *keyedValues) fill(parent string, lim lead.Limits, ps *lead.Problems) map[string]any {
	out := make(map[string]any, len(kv.names))
	for _, name := range kv.names {
		path := lead.DetailPath(parent, name)
		if p := checkKey(name, lim); p != "" {
			ps.Add(path, p)
			continue
		}
		if k := kv.keys[name]; len(k.values) > lim.MaxListElements {
			ps.Add(path, fmt.Sprintf("repeated more than %d times", lim.MaxListElements))
		} else {
			out[name] = k.value()
		}
	}
	return out
}

// zapierFormFields refuses a form whose fields are all Zapier's flattened names (data__email,
// customFieldData__<id>): with Payload Type form, Zapier sends them as they are named, and
// they would lock data__email in the pool schema for good.
func zapierFormFields(names []string) error {
	if !zapierFlattened(names) {
		return nil
	}
	return lead.Invalid("every form field is named data__<key> (Zapier's flattened names); in the Zapier webhook step either name the rows without data__ (email, customFieldData[<id>]) with Payload Type form, or choose Payload Type json with Unflatten yes",
		lead.Detail{Path: lead.DetailPath("data", names[0]), Problem: "flattened data__ field name"})
}
