package wire

import (
	"bytes"
	"errors"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// IsFormMedia reports whether a Content-Type is a browser form's: urlencoded or multipart.
func IsFormMedia(contentType string) bool {
	m, err := ingestMediaOf(contentType)
	return err == nil && (m.format == formatURLEncoded || m.format == formatMultipart)
}

// ErrorCodeOf is the short code a form redirect names an error by: its reason in snake
// case ("validation_failed", "captcha_failed", "no_default_lead_state").
func ErrorCodeOf(err error) string {
	var e *lead.Error
	reason := lead.DefaultReason(lead.EINTERNAL)
	if errors.As(err, &e) {
		reason = e.Reason
	}
	return strings.ReplaceAll(strings.ToLower(reason), " ", "_")
}

// formPage is the built-in page a browser gets after a form post without a success URL:
// no styles or scripts (the answer's CSP is default-src 'none'), readable on a phone.
var formPage = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title></head>
<body><main><h1>{{.Title}}</h1><p>{{.Text}}</p>{{if .Fields}}<p>Please check: {{range $i, $f := .Fields}}{{if $i}}, {{end}}<strong>{{$f}}</strong>{{end}}.</p>{{end}}{{if .Back}}<p>Go back and correct it, then send the form again.</p>{{end}}</main></body></html>
`))

// FormPageCSP is the Content-Security-Policy of the built-in page.
const FormPageCSP = "default-src 'none'"

// FormPage renders the built-in page for an answer's status and error (nil for a
// success): the problem in plain words and, for a 400, the names of the fields at fault;
// never an id, never a value sent.
func FormPage(status int, err error) []byte {
	page := struct {
		Title, Text string
		Fields      []string
		Back        bool
	}{Title: "Thank you — received", Text: "Your message was sent."}
	switch {
	case err == nil:
	case status == http.StatusBadRequest && ErrorCodeOf(err) == "captcha_failed":
		page.Title, page.Text, page.Back = "Please complete the CAPTCHA", "The form could not be sent: the CAPTCHA was not completed or has expired.", true
	case status == http.StatusBadRequest:
		page.Title, page.Text, page.Back = "Please correct the form", "The form could not be sent: some fields are missing or not in the expected form.", true
		page.Fields = fieldsAtFault(err)
	case status == http.StatusServiceUnavailable, status == http.StatusTooManyRequests:
		page.Title, page.Text = "Please try again", "The form could not be sent just now. Wait a moment and send it again."
	case status == http.StatusRequestEntityTooLarge:
		page.Title, page.Text, page.Back = "The form is too large", "The form could not be sent: it is larger than allowed.", true
	case status >= 500:
		page.Title, page.Text = "Something went wrong", "The form may not have been sent. Please try again later."
	default:
		page.Title, page.Text = "This form cannot be sent", "The form is not set up to send here. Please tell the site's owner."
	}
	var b bytes.Buffer
	_ = formPage.Execute(&b, page) // a template on a struct of strings cannot fail to render
	return b.Bytes()
}

// fieldsAtFault are the field names an error's details and type errors point at
// (data.email → email), sorted, at most ten.
func fieldsAtFault(err error) []string {
	var e *lead.Error
	if !errors.As(err, &e) {
		return nil
	}
	var names []string
	for _, d := range e.Details {
		name := strings.TrimPrefix(strings.TrimPrefix(d.Path, "data."), "data")
		name = strings.Trim(name, `[]"`)
		if name != "" && name != "$" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for k := range e.TypeErrors {
		if !slices.Contains(names, k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names[:min(len(names), 10)]
}

// WithoutFields returns a form body without the named fields (a CAPTCHA widget's
// response, a honeypot), for keeping a refused request: urlencoded bodies are re-encoded,
// multipart bodies rewritten part by part with their boundary. Any other body, or one that
// does not parse, is returned unchanged.
func WithoutFields(contentType string, raw []byte, names ...string) []byte {
	m, err := ingestMediaOf(contentType)
	if err != nil || len(names) == 0 || looksJSON(raw) {
		return raw
	}
	switch m.format {
	case formatURLEncoded:
		var kept []string
		for _, pair := range strings.Split(string(withoutBOM(raw)), "&") {
			k, _, _ := strings.Cut(pair, "=")
			if name, err := url.QueryUnescape(k); err == nil && slices.Contains(names, name) {
				continue
			}
			kept = append(kept, pair)
		}
		return []byte(strings.Join(kept, "&"))
	case formatMultipart:
		if out, err := multipartWithout(raw, m.boundary, names); err == nil {
			return out
		}
	}
	return raw
}

func multipartWithout(raw []byte, boundary string, names []string) ([]byte, error) {
	r := multipart.NewReader(bytes.NewReader(raw), boundary)
	var out bytes.Buffer
	w := multipart.NewWriter(&out)
	if err := w.SetBoundary(boundary); err != nil {
		return nil, err
	}
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		_, params, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		if slices.Contains(names, params["name"]) {
			continue
		}
		pw, err := w.CreatePart(p.Header)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(pw, p); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
