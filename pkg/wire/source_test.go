package wire_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/vendors"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// headers makes a case-insensitive header lookup of a map, as API Gateway's events need.
func headers(h map[string]string) func(string) (string, int) {
	return func(name string) (string, int) {
		v, n := "", 0
		for k, x := range h {
			if strings.EqualFold(k, name) {
				v, n = x, n+1
			}
		}
		return v, n
	}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := vendors.Fixture(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A realistic token for Google's key box.
const googleKey = "7f3c1a9e5b2d4c6f8a0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a"

// sourceCase is one vendor fixture: how it is sent, and the data keys and types it must
// give (values spot-checked).
type sourceCase struct {
	source      string
	file        string
	contentType string
	want        map[string]any // key → the value expected (lead.Number for numbers)
	absent      []string       // keys that must not be there
	delivery    string
	test        bool
}

func sourceCases() []sourceCase {
	return []sourceCase{
		{source: "google-ads", file: "google-ads.json", contentType: "application/json",
			want: map[string]any{"full_name": "Ada Lovelace", "email": "ada@example.com", "phone_number": "+16505550100",
				"postal_code": "94043", "how_many_seats_do_you_need": "25",
				"_google-ads.campaign_id": lead.Number("20000000000"), "_google-ads.form_id": lead.Number("40000000000"),
				"_google-ads.gcl_id": "EAIaIQobChMI-test-gclid", "_google-ads.lead_submit_time": "2026-05-10 12:00:00+00:00"},
			absent:   []string{"google_key", "_google-ads.google_key", "is_test", "_google-ads.is_test"},
			delivery: "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz-0123456789-AaBbCcDdEeFfGgHhIiJjKkLl"},
		{source: "google-ads", file: "google-ads-test.json", contentType: "application/json",
			want: map[string]any{"full_name": "Ada Lovelace"}, delivery: "TeSter-123-test-delivery", test: true},
		{source: "typeform", file: "typeform.json", contentType: "application/json",
			want: map[string]any{"first_name": "Ada", "email": "ada@example.com", "phone": "+16505550100", "website": "https://example.com",
				"seats": lead.Number("25"), "rating": lead.Number("4"), "nps": lead.Number("9"), "newsletter": true, "terms": true,
				"start_date": "2026-06-01", "plan": "Enterprise", "interests": []string{"CRM", "Email"}, "country": "Germany",
				"brief":      "https://api.typeform.com/forms/lT4Z3j/responses/a3a12ec67a1365927098a606107fac15/fields/pIFcC4qRFkqF/files/brief.pdf",
				"deposit":    "1.00",
				"utm_source": "newsletter", "utm_campaign": "spring", "user_id": "abc123",
				"_typeform.form_id": "lT4Z3j", "_typeform.token": "a3a12ec67a1365927098a606107fac15",
				"_typeform.submitted_at": "2026-05-10T12:00:00Z", "_typeform.score": lead.Number("9")},
			delivery: "a3a12ec67a1365927098a606107fac15"},
		{source: "tally", file: "tally.json", contentType: "application/json",
			want: map[string]any{"Name": "Ada Lovelace", "Email": "ada@example.com", "Seats": lead.Number("25"), "Start date": "2026-06-01",
				"Plan": "Enterprise", "Interests": []string{"CRM", "Email"}, "Interests (CRM)": true, "Interests (Ads)": false,
				"Country": "Germany", "Channels": []string{"Phone", "Email"}, "Rating": lead.Number("4"),
				"Brief": []string{"https://storage.tally.so/private/brief.pdf"}, "I agree to be contacted": true,
				"utm_source": "newsletter", "utm_campaign": "spring", "score": lead.Number("12"),
				"question_dup001": "first", "question_dup002": "second",
				"_tally.responseId": "2wgx4n", "_tally.formId": "VwbNEw", "_tally.formName": "Contact"},
			absent:   []string{"Comment"},
			delivery: "2wgx4n"},
		{source: "webflow", file: "webflow.json", contentType: "application/json",
			want: map[string]any{"Name": "Ada Lovelace", "Email": "ada@example.com", "Seats": "25", "Newsletter": true,
				"_webflow.form_name": "Contact Form", "_webflow.id": "6321ca84df3949bfc6752327", "_webflow.formId": "65429eadebe8a9f3a30f62d0",
				"_webflow.submittedAt": "2026-05-10T12:00:00.000Z", "_webflow.pageUrl": "https://www.example.com/contact"},
			absent:   []string{"schema", "_webflow.schema"},
			delivery: "6321ca84df3949bfc6752327"},
		{source: "standard-webhooks", file: "standard-webhooks.json", contentType: "application/json",
			want: map[string]any{"email": "ada@example.com", "seats": lead.Number("25"), "newsletter": true,
				"interests": []string{"CRM", "Email"}, "notes": nil,
				"_standard-webhooks.type": "lead.created", "_standard-webhooks.timestamp": "2026-05-10T12:00:00Z"},
			absent: []string{"address", "_standard-webhooks.data"}},
		{source: "jotform", file: "jotform.multipart",
			want: map[string]any{"fullName": "Ada Lovelace", "email": "ada@example.com", "phoneNumber": "(650) 555-0100",
				"preferredDate": "2026-06-01", "address": "12 St James's Square, London, SW1Y 4JH, United Kingdom",
				"interests": []string{"CRM", "Email"}, "seats": "25", "utm_source": "newsletter",
				"_jotform.form_id": "231234567890123", "_jotform.submission_id": "5912345678901234567", "_jotform.form_title": "Contact"},
			absent:   []string{"slug", "event_id", "ip", "rawRequest", "pretty"},
			delivery: "5912345678901234567"},
		{source: "unbounce", file: "unbounce.urlencoded", contentType: "application/x-www-form-urlencoded",
			want: map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "interests": []string{"CRM", "Email"}, "seats": "25",
				"utm_source": "newsletter", "_unbounce.page_id": "a1b2c3d4-e5f6-11e4-8b5f-22000a8c0a3d", "_unbounce.variant": "a",
				"_unbounce.date_submitted": "2026-05-10", "_unbounce.ip_address": "203.0.113.7"},
			absent: []string{"data.json", "data.xml", "ip_address", "page_id"}},
	}
}

// request returns the fixture as sent, Google's key filled in.
func (c sourceCase) request(t *testing.T) wire.SourceRequest {
	t.Helper()
	raw := []byte(strings.ReplaceAll(string(fixture(t, c.file)), "{{GOOGLE_KEY}}", googleKey))
	ct := c.contentType
	if c.source == "jotform" {
		ct = "multipart/form-data; boundary=" + string(fixture(t, "jotform.boundary"))
	}
	return wire.SourceRequest{Header: headers(nil), ContentType: ct, Raw: raw, Now: time.Now()}
}

// TestSourcesReadTheirVendorsFixtures: each vendor's realistic submission gives the
// documented keys with the vendor's types, its delivery id and its test flag.
func TestSourcesReadTheirVendorsFixtures(t *testing.T) {
	for _, c := range sourceCases() {
		t.Run(c.file, func(t *testing.T) {
			got, err := wire.ParseSourced(c.source, c.request(t), nil, lead.DefaultLimits())
			if err != nil {
				t.Fatalf("ParseSourced = %v", err)
			}
			for k, want := range c.want {
				v, ok := got.Body.Data[k]
				if !ok {
					t.Errorf("key %q missing; data %v", k, got.Body.Data)
					continue
				}
				if !reflect.DeepEqual(v, want) {
					t.Errorf("data[%q] = %#v; want %#v", k, v, want)
				}
			}
			for _, k := range c.absent {
				if _, ok := got.Body.Data[k]; ok {
					t.Errorf("key %q is stored; it must not be", k)
				}
			}
			for k, v := range got.Body.Data {
				if s, ok := v.(string); ok && s == googleKey {
					t.Errorf("key %q holds the google_key", k)
				}
			}
			if got.DeliveryID != c.delivery || got.Test != c.test {
				t.Errorf("delivery %q test %v; want %q %v", got.DeliveryID, got.Test, c.delivery, c.test)
			}
		})
	}
}

// TestAnotherSourcesShapeIsA400NamingTheSourceExpected: a body of another vendor's shape
// is refused with a 400 that names the source the webhook expects.
func TestAnotherSourcesShapeIsA400NamingTheSourceExpected(t *testing.T) {
	cases := sourceCases()
	for i, c := range cases {
		other := cases[(i+3)%len(cases)]
		if other.source == c.source || c.source == "standard-webhooks" && strings.HasSuffix(other.file, ".json") && other.source != "google-ads" {
			continue
		}
		t.Run(c.source+"/"+other.file, func(t *testing.T) {
			_, err := wire.ParseSourced(c.source, other.request(t), nil, lead.DefaultLimits())
			if lead.ErrorCode(err) != lead.EINVALID || !strings.Contains(err.Error(), c.source) {
				t.Fatalf("ParseSourced(%s body as %s) = %v; want a 400 naming %s", other.source, c.source, err, c.source)
			}
		})
	}
}

// TestStandardWebhooksPublishedTestVector: the signature of the Standard Webhooks spec's
// published example verifies, and the test helper reproduces it exactly.
func TestStandardWebhooksPublishedTestVector(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = 1614265330
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	body := []byte(`{"test": 2432232314}`)
	if got := vendors.StandardSignature(secret, id, ts, body); got != want {
		t.Fatalf("the helper signs %s; the spec says %s", got, want)
	}
	src := wire.LookupSource("standard-webhooks")
	for _, sig := range []string{want, "v1,bm9wZQ== " + want, "v2,abc " + want} {
		r := wire.SourceRequest{Header: headers(map[string]string{"webhook-id": id, "webhook-timestamp": strconv.Itoa(ts), "webhook-signature": sig}),
			Raw: body, Now: time.Unix(ts+10, 0)}
		if err := src.Authenticate(r, secretsOf(secret), nil); err != nil {
			t.Errorf("signature list %q: %v; want it accepted", sig, err)
		}
	}
	r := wire.SourceRequest{Header: headers(map[string]string{"webhook-id": id, "webhook-timestamp": strconv.Itoa(ts), "webhook-signature": want}),
		Raw: body, Now: time.Unix(ts+6*60, 0)}
	if err := src.Authenticate(r, secretsOf(secret), nil); !isSignature401(err) {
		t.Errorf("the vector six minutes later: %v; want 401 Invalid webhook signature (stale)", err)
	}
}

func secretsOf(s ...string) func() ([][]byte, error) {
	return func() ([][]byte, error) {
		out := make([][]byte, len(s))
		for i, x := range s {
			out[i] = []byte(x)
		}
		return out, nil
	}
}

// isSignature401 reports whether err is the 401 Invalid webhook signature.
func isSignature401(err error) bool {
	var e *lead.Error
	return errors.As(err, &e) && e.Code == lead.EUNAUTHORIZED && e.Reason == "Invalid webhook signature"
}

// signed is a fixture's request signed by its vendor's recipe with secret at the time.
func signed(t *testing.T, source, secret string, body []byte, at time.Time) map[string]string {
	t.Helper()
	switch source {
	case "typeform":
		return vendors.Typeform(secret, body)
	case "tally":
		return vendors.Tally(secret, body)
	case "webflow":
		return vendors.Webflow(secret, body, at)
	case "standard-webhooks":
		return vendors.StandardWebhooks(secret, "msg_2hG6Qp8n0", at, body)
	}
	t.Fatalf("%s signs nothing", source)
	return nil
}

// TestSignedSourcesAuthenticateTheVendorsWay: the vendor's signature over the raw bytes
// passes, with the current secret or the previous one still in its grace; a wrong
// secret, a changed byte, a missing or repeated header and a stale timestamp are each a
// 401 Invalid webhook signature.
func TestSignedSourcesAuthenticateTheVendorsWay(t *testing.T) {
	now := time.Now()
	for _, source := range []string{"typeform", "tally", "webflow", "standard-webhooks"} {
		t.Run(source, func(t *testing.T) {
			secret, err := wire.SourceRules{}.NewSecret(source)
			if err != nil {
				t.Fatal(err)
			}
			if p := (wire.SourceRules{}).CheckSecret(source, secret); p != "" {
				t.Fatalf("generated secret refused: %s", p)
			}
			file := source + ".json"
			body := fixture(t, file)
			src := wire.LookupSource(source)
			auth := func(h map[string]string, raw []byte, at time.Time, secrets ...string) error {
				return src.Authenticate(wire.SourceRequest{Header: headers(h), Raw: raw, Now: at}, secretsOf(secrets...), nil)
			}
			good := signed(t, source, secret, body, now)
			if err := auth(good, body, now, secret); err != nil {
				t.Fatalf("the vendor's signature: %v; want accepted", err)
			}
			if err := auth(good, body, now, "previous-secret-of-16", secret); err != nil {
				t.Errorf("with the secret second in the list (grace): %v; want accepted", err)
			}
			other, _ := wire.SourceRules{}.NewSecret(source)
			changed := append([]byte(nil), body...)
			changed[len(changed)/2] ^= 0x01
			missing := map[string]string{}
			for k, v := range good {
				if !strings.Contains(strings.ToLower(k), "signature") {
					missing[k] = v
				}
			}
			bad := map[string]error{
				"wrong secret":     auth(good, body, now, other),
				"changed byte":     auth(good, changed, now, secret),
				"missing header":   auth(missing, body, now, secret),
				"no secret stored": auth(good, body, now),
			}
			if source == "webflow" || source == "standard-webhooks" {
				stale := now.Add(-6 * time.Minute)
				bad["stale timestamp"] = auth(signed(t, source, secret, body, stale), body, now, secret)
				bad["future timestamp"] = auth(signed(t, source, secret, body, now.Add(6*time.Minute)), body, now, secret)
			}
			for name, err := range bad {
				if !isSignature401(err) {
					t.Errorf("%s: %v; want 401 Invalid webhook signature", name, err)
				}
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("%s: the error names the secret", name)
				}
			}
		})
	}
}

// TestGoogleKeyIsTheToken: Google's key authenticates only when it is the webhook's token
// (Google_key spelled as some forms send it too); a body without one is a 401.
func TestGoogleKeyIsTheToken(t *testing.T) {
	src := wire.LookupSource("google-ads")
	body := []byte(strings.ReplaceAll(string(fixture(t, "google-ads.json")), "{{GOOGLE_KEY}}", googleKey))
	matches := func(tok string) bool { return tok == googleKey }
	if err := src.Authenticate(wire.SourceRequest{Header: headers(nil), Raw: body}, nil, matches); err != nil {
		t.Errorf("the right key: %v", err)
	}
	capital := []byte(strings.Replace(string(body), `"google_key"`, `"Google_key"`, 1))
	if err := src.Authenticate(wire.SourceRequest{Header: headers(nil), Raw: capital}, nil, matches); err != nil {
		t.Errorf("Google_key: %v", err)
	}
	for name, raw := range map[string][]byte{
		"wrong key":  []byte(strings.ReplaceAll(string(body), googleKey, strings.Repeat("0", 64))),
		"no key":     []byte(strings.Replace(string(body), `"google_key"`, `"other_key"`, 1)),
		"not JSON":   []byte("google_key=" + googleKey),
		"empty body": nil,
	} {
		if err := src.Authenticate(wire.SourceRequest{Header: headers(nil), Raw: raw}, nil, matches); !isSignature401(err) {
			t.Errorf("%s: %v; want 401 Invalid webhook signature", name, err)
		}
	}
}

// TestMappingPicksByJSONPointer: a mapping replaces the defaults; an absent pointer gives
// no key; a pointer at an object is a 400 naming the key.
func TestMappingPicksByJSONPointer(t *testing.T) {
	c := sourceCases()[2] // typeform
	mapping := map[string]string{
		"email":    "/form_response/answers/2/email",
		"source":   "/form_response/hidden/utm_source",
		"interest": "/form_response/answers/12/choices/labels",
		"nothing":  "/form_response/hidden/none",
		"a~b/c":    "/form_response/hidden/user_id",
	}
	got, err := wire.ParseSourced("typeform", c.request(t), mapping, lead.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"email": "ada@example.com", "source": "newsletter", "interest": []string{"CRM", "Email"}, "a~b/c": "abc123"}
	if !reflect.DeepEqual(got.Body.Data, want) {
		t.Errorf("mapped data %v; want %v", got.Body.Data, want)
	}
	_, err = wire.ParseSourced("typeform", c.request(t), map[string]string{"whole": "/form_response/hidden"}, lead.DefaultLimits())
	if lead.ErrorCode(err) != lead.EINVALID || !strings.Contains(err.Error(), "whole") {
		t.Errorf("a pointer at an object: %v; want a 400 naming the key", err)
	}
	if ds := (wire.SourceRules{}).CheckMapping("jotform", map[string]string{"a": "/x"}); len(ds) == 0 {
		t.Errorf("a mapping for a form source is accepted")
	}
	if ds := (wire.SourceRules{}).CheckMapping("typeform", map[string]string{"a": "x", "b": "/a~2"}); len(ds) != 2 {
		t.Errorf("CheckMapping of two bad pointers = %v; want two details", ds)
	}
}

// TestVendorSuccessAnswers: Google and Webflow count only 200 as delivered; Google's body is {}.
func TestVendorSuccessAnswers(t *testing.T) {
	for source, want := range map[string]int{"google-ads": http.StatusOK, "webflow": http.StatusOK, "typeform": http.StatusCreated,
		"tally": http.StatusCreated, "standard-webhooks": http.StatusCreated, "jotform": http.StatusCreated, "unbounce": http.StatusCreated} {
		if got := wire.LookupSource(source).SuccessStatus(); got != want {
			t.Errorf("%s answers %d; want %d", source, got, want)
		}
	}
	if !wire.LookupSource("google-ads").EmptySuccess() {
		t.Errorf("google-ads does not answer {}")
	}
	b, _ := json.Marshal(wire.SourceRules{}.Names())
	if !strings.HasPrefix(string(b), `["rocketlead",`) || len(wire.SourceRules{}.Names()) != 8 {
		t.Errorf("source names %s; want rocketlead first and 8 in all", b)
	}
}

func vendorsFixture(name string) ([]byte, error) { return vendors.Fixture(name) }
