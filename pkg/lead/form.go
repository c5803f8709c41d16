package lead

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FormSettings are a webhook's settings for public HTML forms; nil means none.
type FormSettings struct {
	// SuccessURL and ErrorURL are where a form-body POST is redirected (303) after a 201
	// and after a 400 (ErrorURL empty: SuccessURL).
	SuccessURL string
	ErrorURL   string
	// HoneypotField is a field no person fills: never stored; a submission with it
	// non-empty is answered as a success and stores nothing.
	HoneypotField string
	// AllowedOrigins, when not empty, are the only origins a browser may post from, and
	// those answered with CORS headers.
	AllowedOrigins []string
	// Captcha, when not nil, requires a verified widget response with every submission.
	Captcha *Captcha
}

// Captcha is a webhook's CAPTCHA verification. Secret is the provider's secret key in the
// clear: set on the way in (administration) and once the store opened it (ingest); the
// store keeps it sealed and Configured says one is stored. It is never returned.
type Captcha struct {
	Provider CaptchaProvider
	Secret   string
	// MinScore is the lowest reCAPTCHA v3 score accepted; 0 accepts any verified response.
	MinScore   float64
	Configured bool
}

// CaptchaProvider names a CAPTCHA service with a siteverify API.
type CaptchaProvider string

// The CAPTCHA providers a form can use.
const (
	Turnstile CaptchaProvider = "turnstile"
	ReCAPTCHA CaptchaProvider = "recaptcha"
	HCaptcha  CaptchaProvider = "hcaptcha"
)

// ResponseField is the form field the provider's widget fills with its response; "" for an
// unknown provider.
func (p CaptchaProvider) ResponseField() string {
	switch p {
	case Turnstile:
		return "cf-turnstile-response"
	case ReCAPTCHA:
		return "g-recaptcha-response"
	case HCaptcha:
		return "h-captcha-response"
	}
	return ""
}

// Limits of the form settings.
const (
	maxFormURLLen      = 2000
	maxHoneypotLen     = 100
	maxAllowedOrigins  = 20
	maxCaptchaSecretLn = 1000
)

// FormInput is the form settings as an administrator sends them; Captcha.Secret is the
// clear secret, required whenever a captcha is set (it is never shown, so it is sent again
// with every change of the form settings).
type FormInput struct {
	SuccessURL     string
	ErrorURL       string
	HoneypotField  string
	AllowedOrigins []string
	Captcha        *CaptchaInput
}

// CaptchaInput is the captcha part of FormInput; MinScore is for reCAPTCHA v3 only.
type CaptchaInput struct {
	Provider string
	Secret   string
	MinScore *float64
}

// Settings validates the input (absolute https URLs, or http on localhost; origins
// without a path; a known provider with a secret) and returns the settings it sets.
func (in *FormInput) Settings() (*FormSettings, []Detail) {
	var details []Detail
	f := &FormSettings{HoneypotField: in.HoneypotField}
	f.SuccessURL, details = formURL("form.successUrl", in.SuccessURL, details)
	f.ErrorURL, details = formURL("form.errorUrl", in.ErrorURL, details)
	if f.ErrorURL != "" && f.SuccessURL == "" {
		details = append(details, Detail{Path: "form.errorUrl", Problem: "needs form.successUrl too"})
	}
	details = append(details, honeypotDetails(in.HoneypotField)...)
	if len(in.AllowedOrigins) > maxAllowedOrigins {
		details = append(details, Detail{Path: "form.allowedOrigins", Problem: fmt.Sprintf("at most %d origins", maxAllowedOrigins)})
	}
	for i, o := range in.AllowedOrigins {
		norm, ok := origin(o)
		if !ok {
			details = append(details, Detail{Path: fmt.Sprintf("form.allowedOrigins[%d]", i),
				Problem: "must be https://host[:port] without a path (http:// only for localhost and 127.0.0.1)"})
			continue
		}
		f.AllowedOrigins = append(f.AllowedOrigins, norm)
	}
	if in.Captcha != nil {
		c, d := in.Captcha.settings()
		f.Captcha, details = c, append(details, d...)
	}
	return f, details
}

func (in *CaptchaInput) settings() (*Captcha, []Detail) {
	var details []Detail
	c := &Captcha{Provider: CaptchaProvider(in.Provider), Secret: in.Secret, Configured: true}
	if c.Provider.ResponseField() == "" {
		details = append(details, Detail{Path: "form.captcha.provider", Problem: "must be turnstile, recaptcha or hcaptcha"})
	}
	if n := len(in.Secret); n == 0 || n > maxCaptchaSecretLn || strings.IndexFunc(in.Secret, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		details = append(details, Detail{Path: "form.captcha.secret",
			Problem: fmt.Sprintf("required: the provider's secret key, 1 to %d printable ASCII characters", maxCaptchaSecretLn)})
	}
	if in.MinScore != nil {
		switch s := *in.MinScore; {
		case c.Provider != ReCAPTCHA:
			details = append(details, Detail{Path: "form.captcha.minScore", Problem: "only for recaptcha (v3 scores)"})
		case math.IsNaN(s) || s < 0 || s > 1:
			details = append(details, Detail{Path: "form.captcha.minScore", Problem: "must be from 0.0 to 1.0"})
		default:
			c.MinScore = s
		}
	}
	return c, details
}

// formURL checks a redirect URL: empty, or absolute https (http only on localhost and
// 127.0.0.1), without user info or fragment.
func formURL(path, v string, details []Detail) (string, []Detail) {
	if v == "" {
		return "", details
	}
	u, err := url.Parse(v)
	ok := err == nil && len(v) <= maxFormURLLen && u.User == nil && u.Fragment == "" && u.Host != "" &&
		(u.Scheme == "https" || u.Scheme == "http" && localHost(u.Hostname()))
	if !ok {
		return "", append(details, Detail{Path: path, Problem: "must be an absolute https:// URL without a fragment (http:// only for localhost and 127.0.0.1)"})
	}
	return v, details
}

// honeypotDetails checks a honeypot field name: 1 to 100 characters, no control
// characters or white space, not a bracketed data or custom field name.
func honeypotDetails(name string) []Detail {
	if name == "" {
		return nil
	}
	if !utf8.ValidString(name) || len(name) > maxHoneypotLen || strings.ContainsAny(name, "[]") ||
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		return []Detail{{Path: "form.honeypotField", Problem: "must be a plain field name of 1 to 100 characters, e.g. _gotcha"}}
	}
	return nil
}

// localHost reports whether a host name is this machine's, where http is allowed.
func localHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1"
}

// origin normalises an origin (scheme, host and port, lower-case) and reports whether it
// is one a webhook may list.
func origin(v string) (string, bool) {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.User != nil || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" ||
		!(u.Scheme == "https" || u.Scheme == "http" && localHost(u.Hostname())) {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}

// RequestOrigin is the origin a browser request comes from: its Origin header or, without
// one, its Referer's origin; "" for a request with neither (a server).
func RequestOrigin(originHeader, referer string) string {
	if originHeader != "" {
		return strings.ToLower(originHeader)
	}
	if referer == "" {
		return ""
	}
	u, err := url.Parse(referer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "unreadable referer" // present, so judged, and never listed
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// ListsOrigin reports whether the webhook's form settings list the origin (a CORS answer
// may name it).
func (f *FormSettings) ListsOrigin(o string) bool {
	if f == nil || o == "" {
		return false
	}
	for _, a := range f.AllowedOrigins {
		if a == o {
			return true
		}
	}
	return false
}

// CheckOrigin is step 3a of the order of checks: a webhook that lists origins refuses a request
// from another one (403, not kept); a request without an origin (a server) passes.
func (f *FormSettings) CheckOrigin(o string) error {
	if f == nil || len(f.AllowedOrigins) == 0 || o == "" || f.ListsOrigin(o) {
		return nil
	}
	return &Error{Code: EFORBIDDEN, Reason: DefaultReason(EFORBIDDEN),
		Message: "this webhook accepts posts only from the web sites its form settings list"}
}

// FormSummary is the form settings as the management API shows them: the captcha secret
// never, only that one is configured.
type FormSummary struct {
	SuccessURL     string
	ErrorURL       string
	HoneypotField  string
	AllowedOrigins []string
	Captcha        *CaptchaSummary
}

// CaptchaSummary is a captcha as the management API shows it.
type CaptchaSummary struct {
	Provider   CaptchaProvider
	Configured bool
	MinScore   float64
}

// summarizeForm is the public view of form settings, nil for none.
func summarizeForm(f *FormSettings) *FormSummary {
	if f == nil {
		return nil
	}
	s := &FormSummary{SuccessURL: f.SuccessURL, ErrorURL: f.ErrorURL, HoneypotField: f.HoneypotField, AllowedOrigins: f.AllowedOrigins}
	if c := f.Captcha; c != nil {
		s.Captcha = &CaptchaSummary{Provider: c.Provider, Configured: c.Configured || c.Secret != "", MinScore: c.MinScore}
	}
	return s
}
