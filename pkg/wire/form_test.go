package wire

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

const cfID = "0191a2b3-c4d5-4e6f-8a9b-0c1d2e3f4a5b"

func multipartBody(boundary string, parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--" + boundary + "\r\n" + p + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

func field(name, value string) string {
	return "Content-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value
}

// ingestReq is an ingest body and its Content-Type, as ParseIngest reads them.
type ingestReq struct {
	ContentType string
	Body        string
}

const formType = MediaURLEncoded

func multipartType(boundary string) string {
	if boundary == "" {
		return MediaMultipart
	}
	return MediaMultipart + "; boundary=" + boundary
}

func TestParseIngestForms(t *testing.T) {
	tests := []struct {
		name      string
		p         ingestReq
		wantData  map[string]any
		wantCF    map[string]any
		wantCode  lead.Code
		wantInMsg string
	}{
		{"urlencoded fields become string data keys",
			ingestReq{formType, "email=ada%40example.com&first+name=Ada&age=36&vip=True&budget="},
			map[string]any{"email": "ada@example.com", "first name": "Ada", "age": "36", "vip": "True", "budget": ""}, nil, "", ""},
		{"a repeated field becomes a list of strings, data[key] is key",
			ingestReq{formType, "tags=a&data%5Btags%5D=b&data[city]=Oslo"},
			map[string]any{"tags": []string{"a", "b"}, "city": "Oslo"}, nil, "", ""},
		{"customFieldData[id] goes to customFieldData, lower-cased",
			ingestReq{formType, "email=a&customFieldData%5B" + strings.ToUpper(cfID) + "%5D=5000"},
			map[string]any{"email": "a"}, map[string]any{cfID: "5000"}, "", ""},
		{"a JSON object under the urlencoded header is read as JSON",
			ingestReq{formType, `{"data":{"age":36}}`},
			map[string]any{"age": lead.Number("36")}, nil, "", ""},
		{"a trailing newline and empty pairs are ignored",
			ingestReq{formType, "email=a&&\n"},
			map[string]any{"email": "a"}, nil, "", ""},
		{"multipart text fields",
			ingestReq{multipartType("XyZ"), multipartBody("XyZ", field("email", "ada@example.com"), field("tags", "a"), field("tags", "b"), field("customFieldData["+cfID+"]", "google_ad"))},
			map[string]any{"email": "ada@example.com", "tags": []string{"a", "b"}}, map[string]any{cfID: "google_ad"}, "", ""},
		{"multipart file part is a 400",
			ingestReq{multipartType("XyZ"), multipartBody("XyZ", "Content-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF")},
			nil, nil, lead.EINVALID, "files are not accepted"},
		{"multipart without boundary names the fix",
			ingestReq{multipartType(""), multipartBody("XyZ", field("email", "a"))},
			nil, nil, lead.EINVALID, "needs its boundary"},
		{"multipart with the wrong boundary names the type it was read as",
			ingestReq{multipartType("other"), multipartBody("XyZ", field("email", "a"))},
			nil, nil, lead.EINVALID, "read as multipart/form-data"},
		{"a multipart body under the urlencoded header names the fix",
			ingestReq{formType, multipartBody("XyZ", field("email", "a"))},
			nil, nil, lead.EINVALID, "set Content-Type to multipart/form-data"},
		{"broken percent-escape",
			ingestReq{formType, "email=100%"},
			nil, nil, lead.EINVALID, "broken %-escape"},
		{"invalid UTF-8 after unescaping",
			ingestReq{formType, "name=%FF"},
			nil, nil, lead.EINVALID, "not valid UTF-8"},
		{"empty form",
			ingestReq{formType, ""},
			nil, nil, lead.EINVALID, "empty"},
		{"empty key",
			ingestReq{formType, "=x"},
			nil, nil, lead.EINVALID, "empty key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseIngest(tt.p.ContentType, []byte(tt.p.Body), lead.DefaultLimits())
			if tt.wantCode != "" {
				e, ok := err.(*lead.Error)
				if !ok || e.Code != tt.wantCode || !strings.Contains(e.Message, tt.wantInMsg) {
					t.Fatalf("Decode(%.40q) error = %v; want %s containing %q", tt.p.Body, err, tt.wantCode, tt.wantInMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%.40q) error = %v", tt.p.Body, err)
			}
			if !reflect.DeepEqual(b.Data, tt.wantData) || !reflect.DeepEqual(b.CustomFieldData, tt.wantCF) {
				t.Errorf("Decode(%.40q) = %#v, %#v; want %#v, %#v", tt.p.Body, b.Data, b.CustomFieldData, tt.wantData, tt.wantCF)
			}
		})
	}
}

func TestParseIngestFormLimits(t *testing.T) {
	lim := lead.DefaultLimits()
	lim.MaxKeysPerRequest, lim.MaxKeyBytes, lim.MaxListElements = 2, 4, 3
	tests := []struct {
		name string
		body string
		want string
	}{
		{"too many keys", "a=1&b=2&c=3", "too many keys"},
		{"key too long", "abcde=1", "key longer than 4 bytes"},
		{"list too long", "a=1&a=2&a=3&a=4", "repeated more than 3 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIngest(formType, []byte(tt.body), lim)
			if lead.ErrorCode(err) != lead.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode(%q) = %v; want Validation failed containing %q", tt.body, err, tt.want)
			}
		})
	}
}

func TestParseIngestNamesTheTypeAndTheFix(t *testing.T) {
	tests := []struct {
		name string
		p    ingestReq
		want []string
	}{
		{"multipart under a JSON header", ingestReq{MediaJSON, multipartBody("XyZ", field("email", "a"))},
			[]string{"read as JSON (Content-Type application/json)", "set Content-Type to multipart/form-data"}},
		{"form under a JSON header", ingestReq{"", "email=a%40b.co&age=3"},
			[]string{"read as JSON", "set Content-Type to application/x-www-form-urlencoded, or send JSON"}},
		{"form under text/plain", ingestReq{MediaText, "email=a"},
			[]string{"Content-Type text/plain, which is read as JSON", "application/x-www-form-urlencoded"}},
		{"broken JSON", ingestReq{MediaJSON, `{"data": {`},
			[]string{"not valid JSON", `send a JSON object like {"data"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIngest(tt.p.ContentType, []byte(tt.p.Body), lead.DefaultLimits())
			if lead.ErrorCode(err) != lead.EINVALID {
				t.Fatalf("Decode(%.30q) = %v; want Validation failed", tt.p.Body, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Decode(%.30q) = %q; want it to contain %q", tt.p.Body, err, w)
				}
			}
		})
	}
}

func TestCheckIngestMedia(t *testing.T) {
	tests := []struct {
		contentType, encoding string
		want                  string // "" accepted; else a 415 containing it
	}{
		{"", "", ""},
		{"application/json; charset=utf-8", "", ""},
		{"application/vnd.api+json", "identity", ""},
		{"text/plain", "", ""},
		{formType, "", ""},
		{multipartType("x"), "", ""},
		{"application/xml", "", "application/xml is not accepted; send application/json"},
		{"application/json, text/plain", "", "could not be read"},
		{MediaJSON, "gzip", "Content-Encoding gzip is not accepted; send the body uncompressed"},
		{formType, "br", "send the body uncompressed"},
		{MediaJSON, "deflate", "send the body uncompressed"},
	}
	for _, tt := range tests {
		err := CheckIngestMedia(tt.contentType, tt.encoding)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckIngestMedia(%q, %q) = %v; want accepted", tt.contentType, tt.encoding, err)
		case tt.want != "" && (lead.ErrorCode(err) != lead.EUNSUPPORTED || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckIngestMedia(%q, %q) = %v; want 415 containing %q", tt.contentType, tt.encoding, err, tt.want)
		}
	}
}

func TestAFormJSONLookalikeNamesHowItWasRead(t *testing.T) {
	_, err := ParseIngest(formType, []byte(`{"data": {"email": }}`), lead.DefaultLimits())
	if lead.ErrorCode(err) != lead.EINVALID || !strings.Contains(err.Error(), "read as JSON (it starts with { or [ under Content-Type application/x-www-form-urlencoded)") {
		t.Errorf("Decode(broken JSON object under the form header) = %v; want a 400 naming how it was read", err)
	}
}

func FuzzParseIngestForm(f *testing.F) {
	f.Add("email=a%40b.co&tags=a&tags=b&customFieldData%5B"+cfID+"%5D=5", false)
	f.Add(multipartBody("XyZ", field("email", "a"), field("data[x]", "y")), true)
	f.Add(`{"data":{"a":1}}`, false)
	f.Add("k[1]=b&k[0]=a&data[t][]=x&customFieldData%5B"+cfID+"%5D%5B%5D=1", false)
	f.Fuzz(func(t *testing.T, body string, multipart bool) {
		ct := formType
		if multipart {
			ct = multipartType("XyZ")
		}
		b, err := ParseIngest(ct, []byte(body), lead.DefaultLimits())
		if err != nil {
			if lead.ErrorCode(err) == lead.EINTERNAL {
				t.Fatalf("Decode(%q) = uncoded error %v", body, err)
			}
			return
		}
		for k, v := range b.Data {
			if k == "" {
				t.Fatalf("ParseIngest(%q) accepted an empty key", body)
			}
			if strings.Contains(k, "[") && !looksJSON([]byte(body)) {
				t.Fatalf("ParseIngest(%q) made the key %q of a bracket form; want it folded or refused", body, k)
			}
			switch v.(type) {
			case string, []string, nil, bool, lead.Number:
			default:
				t.Fatalf("Decode(%q) data %q = %T", body, k, v)
			}
		}
	})
}
