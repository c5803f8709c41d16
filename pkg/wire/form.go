package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// The media types of the ingest endpoint.
const (
	MediaJSON       = "application/json"
	MediaURLEncoded = "application/x-www-form-urlencoded"
	MediaMultipart  = "multipart/form-data"
	MediaText       = "text/plain"
)

// AcceptedMediaTypes names the content types the ingest endpoint accepts, for messages.
const AcceptedMediaTypes = "application/json (or any +json type), application/x-www-form-urlencoded, multipart/form-data, or text/plain holding a JSON object"

// FormPayload is a form body (application/x-www-form-urlencoded or multipart/form-data) as
// API Gateway delivers it. It implements lead.Payload: every field becomes a data key with a
// string value, a repeated field a list of strings, a field named customFieldData[<id>] a
// custom field value and a field named data[<key>] the data key <key>. An urlencoded body
// that is a JSON object (what curl -d sends without a Content-Type) is read as JSON.
type FormPayload struct {
	Body   string
	Base64 bool
	// Multipart is true for multipart/form-data, whose parts are separated by Boundary.
	Multipart bool
	Boundary  string

	raw    JSONPayload
	inited bool
}

// Bytes returns the body with base64 undone, as JSONPayload.Bytes does.
func (p *FormPayload) Bytes(max int) ([]byte, error) {
	if !p.inited {
		p.raw = JSONPayload{Body: p.Body, Base64: p.Base64}
		p.inited = true
	}
	return p.raw.Bytes(max)
}

// Decode parses the form into lead fields within the limits.
func (p *FormPayload) Decode(lim lead.Limits) (*lead.Body, error) {
	raw, err := p.Bytes(lim.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	var fields *formFields
	if p.Multipart {
		fields, err = parseMultipart(raw, p.Boundary)
	} else {
		if isJSONObject(raw) {
			return parseJSON(raw, MediaURLEncoded, lim)
		}
		fields, err = parseURLEncoded(raw)
	}
	if err != nil {
		return nil, err
	}
	return fields.body(lim)
}

// isJSONObject reports whether raw, once trimmed, has the shape of one JSON object; its
// content is checked by ParseBody.
func isJSONObject(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) >= 2 && t[0] == '{' && t[len(t)-1] == '}'
}

// formFields are the fields of a form in the order they first appeared, each with every
// value it was sent with.
type formFields struct {
	names  []string
	values map[string][]string
}

func (f *formFields) add(name, value string) {
	if f.values == nil {
		f.values = map[string][]string{}
	}
	if _, ok := f.values[name]; !ok {
		f.names = append(f.names, name)
	}
	f.values[name] = append(f.values[name], value)
}

// formExample is how a form body should look, for messages.
const formExample = "email=ada%40example.com&firstName=Ada"

// parseURLEncoded splits an application/x-www-form-urlencoded body into its fields. Unlike
// net/url.ParseQuery it keeps the order of fields and treats ';' as a plain character.
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
	for i, pair := range strings.Split(s, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		name, kerr := url.QueryUnescape(k)
		value, verr := url.QueryUnescape(v)
		if kerr != nil || verr != nil {
			return nil, lead.Invalid(fmt.Sprintf("the body was read as %s and field %d has a broken %%-escape; encode the form with a form encoder (%%40 for @, %%25 for %%)", MediaURLEncoded, i+1),
				lead.Detail{Path: "$", Problem: "invalid urlencoded form"})
		}
		if !utf8.ValidString(name) || !utf8.ValidString(value) {
			return nil, lead.Invalid(fmt.Sprintf("field %d of the form is not valid UTF-8; send the form as UTF-8 (charset=utf-8)", i+1),
				lead.Detail{Path: "$", Problem: "invalid UTF-8"})
		}
		f.add(name, value)
	}
	if len(f.names) == 0 {
		return nil, lead.Invalid("the form body has no fields; send at least one, e.g. "+formExample,
			lead.Detail{Path: "$", Problem: "empty body"})
	}
	return f, nil
}

// parseMultipart reads the text fields of a multipart/form-data body; a file part is a 400.
func parseMultipart(raw []byte, boundary string) (*formFields, error) {
	if boundary == "" {
		return nil, lead.Invalid("a "+MediaMultipart+" body needs its boundary in the Content-Type header (multipart/form-data; boundary=…); let your HTTP client set the header",
			lead.Detail{Path: "$", Problem: "no multipart boundary"})
	}
	notMultipart := func(why string) error {
		return lead.Invalid("the body was read as "+MediaMultipart+" with the boundary of its Content-Type and "+why+"; let your HTTP client build the form and set the header, or send JSON",
			lead.Detail{Path: "$", Problem: "invalid multipart form"})
	}
	mr := multipart.NewReader(bytes.NewReader(raw), boundary)
	f := &formFields{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, notMultipart("it is not a valid multipart body")
		}
		name := part.FormName()
		if name == "" {
			return nil, notMultipart("a part has no form field name")
		}
		if !utf8.ValidString(name) {
			return nil, lead.Invalid("a field name of the form is not valid UTF-8; send the form as UTF-8",
				lead.Detail{Path: "$", Problem: "invalid UTF-8"})
		}
		if part.FileName() != "" {
			return nil, lead.Invalid(fmt.Sprintf("field %s is a file upload; files are not accepted, send the field as a text value", quoteName(name)),
				lead.Detail{Path: lead.DetailPath("data", name), Problem: "file parts are not accepted"})
		}
		value, err := io.ReadAll(part)
		if err != nil {
			return nil, notMultipart("a part is cut short")
		}
		if !utf8.Valid(value) {
			return nil, lead.Invalid(fmt.Sprintf("field %s of the form is not valid UTF-8; send the form as UTF-8", quoteName(name)),
				lead.Detail{Path: lead.DetailPath("data", name), Problem: "invalid UTF-8"})
		}
		f.add(name, string(value))
	}
	if len(f.names) == 0 {
		return nil, notMultipart("no field was found with that boundary")
	}
	return f, nil
}

func quoteName(name string) string {
	return lead.DetailPath("", name)
}

// looksMultipart reports whether raw starts like a multipart body.
func looksMultipart(raw []byte) bool {
	t := bytes.TrimLeft(raw, "\r\n")
	return bytes.HasPrefix(t, []byte("--")) && bytes.Contains(bytes.ToLower(t[:min(len(t), 512)]), []byte("content-disposition"))
}

// bracketed returns the inner name of prefix[inner], and false when name is not of that form.
func bracketed(name, prefix string) (string, bool) {
	if strings.HasPrefix(name, prefix+"[") && strings.HasSuffix(name, "]") {
		return name[len(prefix)+1 : len(name)-1], true
	}
	return "", false
}

// body maps the fields to lead fields within the limits: customFieldData[<id>] and
// data[<key>] are unwrapped, one value is a string, several a list of strings.
func (f *formFields) body(lim lead.Limits) (*lead.Body, error) {
	data := &formFields{}
	custom := &formFields{}
	for _, name := range f.names {
		dst, key := data, name
		if id, ok := bracketed(name, "customFieldData"); ok {
			// Ids are matched case-insensitively: two spellings are one field.
			dst, key = custom, strings.ToLower(id)
		} else if k, ok := bracketed(name, "data"); ok {
			key = k
		}
		for _, v := range f.values[name] {
			dst.add(key, v)
		}
	}
	if n := len(data.names) + len(custom.names); n > lim.MaxKeysPerRequest {
		return nil, lead.Invalid(fmt.Sprintf("too many keys: %d form fields, at most %d per request", n, lim.MaxKeysPerRequest),
			lead.Detail{Path: "$", Problem: fmt.Sprintf("more than %d keys", lim.MaxKeysPerRequest)})
	}
	b := &lead.Body{Data: make(map[string]any, len(data.names))}
	var details []lead.Detail
	fill := func(parent string, fields *formFields, dst map[string]any) {
		for _, k := range fields.names {
			path := lead.DetailPath(parent, k)
			if p := checkKey(k, lim); p != "" {
				details = append(details, lead.Detail{Path: path, Problem: p})
				continue
			}
			vs := fields.values[k]
			switch {
			case len(vs) == 1:
				dst[k] = vs[0]
			case len(vs) > lim.MaxListElements:
				details = append(details, lead.Detail{Path: path, Problem: fmt.Sprintf("repeated more than %d times", lim.MaxListElements)})
			default:
				dst[k] = vs
			}
		}
	}
	fill("data", data, b.Data)
	if len(custom.names) > 0 {
		b.CustomFieldData = make(map[string]any, len(custom.names))
		fill("customFieldData", custom, b.CustomFieldData)
	}
	if len(details) > 0 {
		return nil, lead.InvalidDetails(details...)
	}
	return b, nil
}

// UnsupportedPayload is a body under a Content-Type the endpoint does not accept. Once the
// caller is authenticated it is a 413 when too large, else a 415 naming the accepted types.
type UnsupportedPayload struct {
	Body   string
	Base64 bool
	// MediaType is the type sent, already parsed (never arbitrary header text); "" when the
	// header could not be parsed.
	MediaType string
}

// Bytes checks the size, then refuses the type.
func (p *UnsupportedPayload) Bytes(max int) ([]byte, error) {
	if _, err := DecodeBody(p.Body, p.Base64, max); lead.ErrorCode(err) == lead.ETOOLARGE {
		return nil, err
	}
	return nil, p.unsupported()
}

// Decode refuses the type.
func (p *UnsupportedPayload) Decode(lead.Limits) (*lead.Body, error) {
	return nil, p.unsupported()
}

func (p *UnsupportedPayload) unsupported() error {
	sent := "the Content-Type header could not be read"
	if p.MediaType != "" {
		sent = "Content-Type " + p.MediaType + " is not accepted"
	}
	return lead.Errorf(lead.EUNSUPPORTED, "%s; send %s", sent, AcceptedMediaTypes)
}
