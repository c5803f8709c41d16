package wire

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// SourceRequest is an ingest request as a source reads it: its headers (looked up
// case-insensitively, with how often each was sent), its Content-Type, the raw bytes as
// received (base64 undone) and the time it arrived.
type SourceRequest struct {
	Header      func(name string) (string, int)
	ContentType string
	Raw         []byte
	Now         time.Time
}

// header returns a header sent exactly once ("" when absent or repeated).
func (r SourceRequest) header(name string) string {
	if r.Header == nil {
		return ""
	}
	v, n := r.Header(name)
	if n != 1 {
		return ""
	}
	return v
}

// SourceLead is a request read by its source: the parsed lead, the vendor's delivery id
// (the idempotency key of the request, "" when the vendor sends none) and whether it is a
// test delivery (answered as a dry run; nothing stored).
type SourceLead struct {
	Body       *lead.Body
	DeliveryID string
	Test       bool
}

// Source is one native lead source: how its vendor authenticates, which
// secrets it uses and how its body becomes the parsed lead.
type Source struct {
	name string
	// sigHeader is the header that carries the signature ("" for an unsigned source).
	sigHeader string
	// verify checks the signature with any of the secrets (nil: unsigned source).
	verify func(r SourceRequest, secrets [][]byte) error
	// bodyKey returns the key a vendor puts in the body in place of the token (Google).
	bodyKey func(raw []byte) (string, bool)
	// newSecret generates a signing secret; checkSecret says what is wrong with one taken
	// from the vendor.
	newSecret   func() (string, error)
	checkSecret func(string) string
	// jsonBody: the body is a JSON document, so a mapping can pick from it.
	jsonBody bool
	// read turns the request into data keys (in order), the delivery id and the test flag.
	read func(r SourceRequest) (*sourceData, error)
	// answer is the status the vendor counts as delivered (0: 201 with the entry).
	answer int
	// emptyAnswer: the vendor's success body is {} (Google).
	emptyAnswer bool
	// noNotFound: the vendor disables a webhook that answers 404 or 410 (Typeform).
	noNotFound bool
}

// Name is the source's name.
func (s *Source) Name() string { return s.name }

// SuccessStatus is the status a stored lead is answered with: 201 unless the vendor
// counts only another (200 for Google and Webflow).
func (s *Source) SuccessStatus() int {
	if s.answer == 0 {
		return 201
	}
	return s.answer
}

// KnownWebhookError is the error a known webhook of the source answers with: a vendor that
// disables a webhook on 404 or 410 (Typeform) gets a 503 instead when the webhook's pool is
// gone, so it retries while the operator repairs the webhook.
func (s *Source) KnownWebhookError(err error) error {
	if !s.noNotFound || lead.ErrorCode(err) != lead.ENOTFOUND {
		return err
	}
	return fmt.Errorf("%w: %w", lead.Errorf(lead.EUNAVAILABLE, "this webhook's lead pool no longer exists; the operator must point the webhook at a pool (nothing stored, retry later)"), err)
}

// EmptySuccess reports whether the vendor's success answer is the body {} (Google).
func (s *Source) EmptySuccess() bool { return s.emptyAnswer }

// sourceData is what a source read: the data keys in order, the delivery id and whether
// it is a test delivery.
type sourceData struct {
	obj        *object
	deliveryID string
	test       bool
}

func newSourceData() *sourceData {
	return &sourceData{obj: &object{values: map[string]any{}}}
}

// set adds a key (the first value of a key wins: vendors never send a key twice, and a
// hidden field named like an answer must not replace it).
func (d *sourceData) set(k string, v any) {
	if _, dup := d.obj.values[k]; dup {
		return
	}
	d.obj.keys = append(d.obj.keys, k)
	d.obj.values[k] = v
}

// meta adds a vendor id or time under the reserved prefix _<source>. when it is a scalar.
func (d *sourceData) meta(source, k string, v any) {
	switch v.(type) {
	case string, json.Number, bool:
		d.set("_"+source+"."+k, v)
	}
}

// sources are the native sources by name (rocketlead is not one: it is the body of §2).
var sources = map[string]*Source{}

func register(s *Source) *Source {
	sources[s.name] = s
	return s
}

// LookupSource returns the native source with the name, or nil for rocketlead and for a
// name that is no source.
func LookupSource(name string) *Source {
	return sources[name]
}

// SourceRules is lead.SourceRules from the sources of this package.
type SourceRules struct{}

var _ lead.SourceRules = SourceRules{}

// Known implements lead.SourceRules.
func (SourceRules) Known(name string) bool {
	return name == lead.SourceRocketLead || sources[name] != nil
}

// Names implements lead.SourceRules.
func (SourceRules) Names() []string {
	names := []string{lead.SourceRocketLead}
	for n := range sources {
		names = append(names, n)
	}
	return lead.SortedSourceNames(names)
}

// Signed implements lead.SourceRules.
func (SourceRules) Signed(name string) bool {
	s := sources[name]
	return s != nil && s.verify != nil
}

// NewSecret implements lead.SourceRules.
func (SourceRules) NewSecret(name string) (string, error) {
	s := sources[name]
	if s == nil || s.newSecret == nil {
		return "", fmt.Errorf("source %s has no signing secret", name)
	}
	return s.newSecret()
}

// CheckSecret implements lead.SourceRules.
func (SourceRules) CheckSecret(name, secret string) string {
	s := sources[name]
	switch {
	case s == nil || s.verify == nil:
		return "this source has no signing secret"
	case len(secret) < 16 || len(secret) > 512:
		return "must be 16 to 512 characters"
	case strings.IndexFunc(secret, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0:
		return "must be printable ASCII without spaces"
	case s.checkSecret != nil:
		return s.checkSecret(secret)
	}
	return ""
}

// CheckMapping implements lead.SourceRules: a mapping needs a JSON source; each value is a
// JSON Pointer (RFC 6901) and each key a data key.
func (SourceRules) CheckMapping(name string, mapping map[string]string) []lead.Detail {
	s := sources[name]
	if s == nil || !s.jsonBody {
		return []lead.Detail{{Path: "mapping", Problem: "only a JSON vendor source (google-ads, typeform, tally, webflow, standard-webhooks) takes a mapping"}}
	}
	var ds []lead.Detail
	lim := lead.DefaultLimits()
	for k, p := range mapping {
		path := lead.DetailPath("mapping", k)
		if msg := checkKey(k, lim); msg != "" {
			ds = append(ds, lead.Detail{Path: path, Problem: msg})
		} else if _, err := splitPointer(p); err != nil {
			ds = append(ds, lead.Detail{Path: path, Problem: err.Error()})
		}
	}
	return ds
}

// randomSecret returns n random bytes, base64url without padding.
func randomSecret(prefix string, n int, enc *base64.Encoding) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random secret bytes: %w", err)
	}
	return prefix + enc.EncodeToString(b), nil
}

// Authenticate checks a request to a webhook of this source that carries no token (header
// or ?token=, which the token check handles for every source): its signature with the
// webhook's secrets, or the key in its body. Every failure is a 401 Invalid webhook
// signature; nothing else of the request is looked at before it succeeds.
func (s *Source) Authenticate(r SourceRequest, secrets func() ([][]byte, error), tokenMatches func(string) bool) error {
	switch {
	case s.verify != nil && s.sigHeader != "":
		if _, n := r.Header(s.sigHeader); n == 0 {
			return lead.SignatureInvalid("the " + s.sigHeader + " header is missing; sign the request with the webhook's signing secret")
		}
		ks, err := secrets()
		if err != nil {
			return err
		}
		if len(ks) == 0 {
			return lead.SignatureInvalid("this webhook has no signing secret yet; set one (PUT /admin/ingress_webhooks/{id}/signing-secret)")
		}
		return s.verify(r, ks)
	case s.bodyKey != nil:
		key, ok := s.bodyKey(r.Raw)
		if !ok {
			return lead.SignatureInvalid("the body carries no google_key; paste the webhook's token into the form's Key box")
		}
		if !tokenMatches(key) {
			return lead.SignatureInvalid("the google_key does not match this webhook's token")
		}
		return nil
	}
	return lead.Errorf(lead.EUNAUTHORIZED, "send the token in the x-rocketlead-ingress-token header, or as ?token= if the webhook accepts it there")
}

// ParseSourced parses an ingest request as the webhook's source reads it: the body of §2
// for rocketlead (ParseIngest, the one parser of the public endpoint), the vendor's own
// request otherwise, with the webhook's mapping for a JSON source. The data keys are
// checked like those of any body.
func ParseSourced(source string, r SourceRequest, mapping map[string]string, lim lead.Limits) (*SourceLead, error) {
	s := LookupSource(source)
	if s == nil {
		b, err := ParseIngest(r.ContentType, r.Raw, lim)
		if err != nil {
			return nil, err
		}
		return &SourceLead{Body: b}, nil
	}
	d, err := s.read(r)
	if err != nil {
		return nil, err
	}
	if len(mapping) > 0 && s.jsonBody {
		if d.obj, err = mapped(r.Raw, mapping); err != nil {
			return nil, err
		}
	}
	if n := len(d.obj.keys); n > lim.MaxKeysPerRequest {
		return nil, lead.Invalid(fmt.Sprintf("too many keys: %d, at most %d per request", n, lim.MaxKeysPerRequest),
			lead.Detail{Path: "data", Problem: fmt.Sprintf("more than %d keys", lim.MaxKeysPerRequest)})
	}
	var ps lead.Problems
	body := &lead.Body{Data: dataFields(d.obj, lim, &ps)}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return &SourceLead{Body: body, DeliveryID: deliveryKey(d.deliveryID), Test: d.test}, nil
}

// deliveryKey turns a vendor's delivery id into an idempotency key: as it is when it is one
// (1–255 printable ASCII, no comma), otherwise its SHA-256 in hex.
func deliveryKey(id string) string {
	if id == "" {
		return ""
	}
	ok := len(id) <= 255
	for i := 0; ok && i < len(id); i++ {
		ok = id[i] >= 0x20 && id[i] <= 0x7e && id[i] != ','
	}
	if ok {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// wrongShape is the 400 of a body that is not the source's shape at all.
func wrongShape(source, expected string) error {
	return lead.Invalid(fmt.Sprintf("the body is not a %s webhook body (expected %s); check that the webhook's source is right", source, expected),
		lead.Detail{Path: "$", Problem: "not a " + source + " body"})
}

// vendorJSON decodes a vendor's JSON body strictly (as any JSON body: valid UTF-8, no
// duplicate keys) and returns its top-level object; anything else is the source's 400.
func vendorJSON(raw []byte, source, expected string) (*object, error) {
	v, err := decodeStrict(withoutBOM(raw))
	var e *lead.Error
	if errors.As(err, &e) {
		c := *e
		c.Message = fmt.Sprintf("the body is not a %s webhook body (expected %s): %s", source, expected, e.Message)
		return nil, &c
	}
	if err != nil {
		return nil, err
	}
	obj, ok := v.(*object)
	if !ok {
		return nil, wrongShape(source, expected)
	}
	return obj, nil
}

// member returns obj's member k as an object (nil when absent or not an object).
func member(obj *object, k string) *object {
	if obj == nil {
		return nil
	}
	o, _ := obj.values[k].(*object)
	return o
}

// text returns obj's member k as text: a string as is, a number as written, a boolean as
// true/false ("" when absent or of another kind).
func text(obj *object, k string) string {
	if obj == nil {
		return ""
	}
	switch v := obj.values[k].(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// stringsOf returns a JSON array of strings as []any of strings (what dataFields reads as
// a string[]); other elements are rendered as text, and a non-array is nil.
func stringsOf(v any) []any {
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]any, 0, len(arr))
	for _, e := range arr {
		switch x := e.(type) {
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, string(x))
		case bool:
			out = append(out, strconv.FormatBool(x))
		}
	}
	return out
}

// dataKey makes a vendor's field identifier into a data key: trimmed, as it is otherwise.
func dataKey(s string) string { return strings.TrimSpace(s) }

// mapped picks the data keys of a mapping from a JSON body: a pointer that is absent gives
// no key; a pointer to an object is a 400 naming the key; arrays must hold strings.
func mapped(raw []byte, mapping map[string]string) (*object, error) {
	v, err := decodeStrict(withoutBOM(raw))
	if err != nil {
		return nil, err
	}
	out := &object{values: map[string]any{}}
	keys := make([]string, 0, len(mapping))
	for k := range mapping {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var ps lead.Problems
	for _, k := range keys {
		segs, err := splitPointer(mapping[k])
		if err != nil {
			ps.Add(lead.DetailPath("mapping", k), err.Error())
			continue
		}
		got, ok := resolvePointer(v, segs)
		if !ok {
			continue
		}
		if _, isObj := got.(*object); isObj {
			ps.Add(lead.DetailPath("data", k), "the mapping's pointer "+mapping[k]+" points at an object; point at a string, number, boolean or array of strings")
			continue
		}
		out.keys = append(out.keys, k)
		out.values[k] = got
	}
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// splitPointer splits a JSON Pointer (RFC 6901) into its unescaped reference tokens.
func splitPointer(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("must be a JSON Pointer such as /form_response/hidden/utm_source, not the whole body")
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("must be a JSON Pointer starting with /")
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		for j := 0; j < len(s); j++ {
			if s[j] == '~' && (j+1 == len(s) || s[j+1] != '0' && s[j+1] != '1') {
				return nil, fmt.Errorf("~ must be followed by 0 or 1 in a JSON Pointer")
			}
		}
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs, nil
}

// resolvePointer follows reference tokens through decoded JSON.
func resolvePointer(v any, segs []string) (any, bool) {
	for _, s := range segs {
		switch x := v.(type) {
		case *object:
			var ok bool
			if v, ok = x.values[s]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(x) || (len(s) > 1 && s[0] == '0') {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}
