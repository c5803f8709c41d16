package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

func TestParseBodyAccepts(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantData   map[string]any
		wantCustom map[string]any
	}{
		{"all shapes", `{"data":{"email":"a@b.co","age":25,"vip":true,"tags":["x","y"],"none":null,"empty":[]}}`,
			map[string]any{"email": "a@b.co", "age": lead.Number("25"), "vip": true, "tags": []string{"x", "y"}, "none": nil, "empty": []string{}}, nil},
		{"number canonicalized", `{"data":{"n":1.50e1}}`, map[string]any{"n": lead.Number("15")}, nil},
		{"custom fields", `{"data":{},"customFieldData":{"6f1c2a9e-1111-4a5b-8c9d-000000000001":"instagram_ad"}}`,
			map[string]any{}, map[string]any{"6f1c2a9e-1111-4a5b-8c9d-000000000001": "instagram_ad"}},
		{"null custom field data is absent", `{"data":{"a":"b"},"customFieldData":null}`, map[string]any{"a": "b"}, nil},
		{"whitespace around", " \n{\"data\":{\"k\":\"v\"}}\n ", map[string]any{"k": "v"}, nil},
		{"unicode key", `{"data":{"prénom":"Zoë"}}`, map[string]any{"prénom": "Zoë"}, nil},
		{"surrogate pair escape", `{"data":{"e":"\ud83d\ude00"}}`, map[string]any{"e": "\U0001F600"}, nil},
		{"escaped backslash before u", `{"data":{"p":"C:\\ud800"}}`, map[string]any{"p": `C:\ud800`}, nil},
		{"blank key is a key", `{"data":{" ":"x"}}`, map[string]any{" ": "x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBody([]byte(tt.body), lead.DefaultLimits())
			if err != nil {
				t.Fatalf("ParseBody(%s) error = %v", tt.body, err)
			}
			if !reflect.DeepEqual(b.Data, tt.wantData) {
				t.Errorf("ParseBody(%s).Data = %#v; want %#v", tt.body, b.Data, tt.wantData)
			}
			if !reflect.DeepEqual(b.CustomFieldData, tt.wantCustom) {
				t.Errorf("ParseBody(%s).CustomFieldData = %#v; want %#v", tt.body, b.CustomFieldData, tt.wantCustom)
			}
		})
	}
}

func TestParseBodyRejects(t *testing.T) {
	manyKeys := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = `"k` + strconv.Itoa(i) + `":1`
		}
		return `{"data":{` + strings.Join(parts, ",") + `}}`
	}
	longList := `{"data":{"l":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 1001), ",") + `]}}`
	tests := []struct {
		name     string
		body     string
		wantPath string
		wantMsg  string
	}{
		{"empty body", ``, "$", "empty"},
		{"not an object", `[1,2]`, "$", "JSON object"},
		{"a string", `"hello"`, "$", "JSON object"},
		{"invalid JSON", `{"data":`, "$", "not valid JSON"},
		{"trailing data", `{"data":{}} {}`, "$", "after the JSON object"},
		{"trailing garbage", `{"data":{}}x`, "$", ""},
		{"duplicate top key", `{"data":{},"data":{}}`, "data", "duplicate key"},
		{"duplicate data key", `{"data":{"a":1,"a":2}}`, "data.a", "duplicate key"},
		{"custom field id twice in two cases", `{"data":{},"customFieldData":{"6f1c2a9e-1111-4a5b-8c9d-00000000000a":"x","6F1C2A9E-1111-4A5B-8C9D-00000000000A":"y"}}`, "customFieldData", "duplicate key"},
		{"lone surrogate escape", `{"data":{"a":"\ud800"}}`, "$", "surrogate"},
		{"lone low surrogate escape", `{"data":{"a":"x\udc00"}}`, "$", "surrogate"},
		{"high surrogate then non-surrogate", `{"data":{"a":"\ud800\u0041"}}`, "$", "surrogate"},
		{"invalid UTF-8", "{\"data\":{\"a\":\"\xff\"}}", "$", "UTF-8"},
		{"flat body", `{"email":"a@b.co"}`, "email", `inside a "data" object`},
		{"unknown top field", `{"data":{},"extra":1}`, "extra", "unknown top-level"},
		{"data not object", `{"data":[1]}`, "data", `"data" must be an object`},
		{"data null", `{"data":null}`, "data", `"data" must be an object`},
		{"nested object", `{"data":{"addr":{"city":"x"}}}`, "data.addr", "unsupported value"},
		{"array of numbers", `{"data":{"tags":["a",1]}}`, "data.tags[1]", "must be a string"},
		{"nested array", `{"data":{"tags":[["a"]]}}`, "data.tags[0]", "must be a string"},
		{"empty key", `{"data":{"":"x"}}`, `data[""]`, "empty key"},
		{"key too long", `{"data":{"` + strings.Repeat("k", 257) + `":"x"}}`, "data.kkk", "longer than 256"},
		{"too many keys", manyKeys(501), "data", "too many keys"},
		{"list too long", longList, "data.l", "more than 1000"},
		{"number too precise", `{"data":{"n":1234567890123456789012345678901234567891}}`, "data.n", "38 significant"},
		{"number out of range", `{"data":{"n":1e200}}`, "data.n", "out of range"},
		{"custom not object", `{"data":{},"customFieldData":[1]}`, "customFieldData", "must be an object"},
		{"deep nesting", `{"data":{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, "$", "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBody([]byte(tt.body), lead.DefaultLimits())
			e, ok := err.(*lead.Error)
			if !ok || e.Code != lead.EINVALID {
				t.Fatalf("ParseBody(%.60s) error = %v; want a Validation failed error", tt.body, err)
			}
			if e.Reason != "Validation failed" {
				t.Errorf("reason = %q; want Validation failed", e.Reason)
			}
			if len(e.Details) == 0 || !strings.HasPrefix(e.Details[0].Path, tt.wantPath) {
				t.Errorf("details = %+v; want first path starting %q", e.Details, tt.wantPath)
			}
			if !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("message = %q; want it to contain %q", e.Message, tt.wantMsg)
			}
		})
	}
}

func FuzzParseBody(f *testing.F) {
	for _, s := range []string{
		`{"data":{"email":"a@b.co","age":25,"tags":["x"]}}`,
		`{"data":{"a":1,"a":2}}`,
		`{"data":{}, "customFieldData":{"x":[1]}}`,
		`{"email":"x"}`,
		`[]`,
		` {"data":{"a\"b":"\u00e9\n\ud83d\ude00","n":-1.5e+3,"l":[true,false,null,[{}],"x"]}} `,
		`{"data":{"a":{"b":{"a":1,"a":2}}}}`,
		strings.Repeat("[", 40) + strings.Repeat("]", 40),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// The scanner of valid JSON reads what the token decoder reads, errors included.
		if json.Valid(raw) && utf8.Valid(raw) {
			fast, ferr := decodeStrict(raw)
			slow, serr := decodeTokens(raw)
			if !reflect.DeepEqual(fast, slow) || fmt.Sprint(ferr) != fmt.Sprint(serr) || !sameDetails(ferr, serr) {
				t.Fatalf("decodeStrict(%q) = %#v, %v; the token decoder: %#v, %v", raw, fast, ferr, slow, serr)
			}
		}
		b, err := ParseBody(raw, lead.DefaultLimits())
		if err != nil {
			if _, ok := err.(*lead.Error); !ok {
				t.Fatalf("ParseBody returned a non-application error %T: %v", err, err)
			}
			return
		}
		// Everything accepted has only the shapes the store can write.
		for k, v := range b.Data {
			switch v.(type) {
			case nil, string, bool, lead.Number, []string:
			default:
				t.Fatalf("data[%q] has type %T", k, v)
			}
		}
	})
}

// BenchmarkParseAndApply measures the domain work of one request: strict parsing and the
// schema check of a typical Zapier lead against a locked schema.
func BenchmarkParseAndApply(b *testing.B) {
	raw := []byte(`{"data":{"email":"ada@example.com","firstName":"Ada","lastName":"Lovelace","age":"36","newsletter":true,"interests":["analytics","engines"],"utm_source":"instagram"}}`)
	schema := lead.Schema{"email": lead.TypeString, "firstName": lead.TypeString, "lastName": lead.TypeString, "age": lead.TypeNumber,
		"newsletter": lead.TypeBoolean, "interests": lead.TypeStringList, "utm_source": lead.TypeString}
	lim := lead.DefaultLimits()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		body, err := ParseBody(raw, lim)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := schema.Apply(body.Data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseBodyNamesTheKindItGot(t *testing.T) {
	tests := []struct{ body, wantProblem string }{
		{`{"data":5}`, "must be an object, got number"},
		{`{"data":"x"}`, "must be an object, got string"},
		{`{"data":[]}`, "must be an object, got array"},
		{`{"data":null}`, "must be an object, got null"},
		{`{"data":{"a":{}}}`, "unsupported value: object"},
		{`{"data":{},"customFieldData":true}`, "must be an object, got boolean"},
		{`7`, "must be an object, got number"},
	}
	for _, tt := range tests {
		_, err := ParseBody([]byte(tt.body), lead.DefaultLimits())
		var e *lead.Error
		if !errors.As(err, &e) || len(e.Details) == 0 || !strings.HasPrefix(e.Details[0].Problem, tt.wantProblem) {
			t.Errorf("ParseBody(%s) = %v; want a detail starting %q", tt.body, err, tt.wantProblem)
		}
	}
}

// sameDetails reports whether two errors carry the same details.
func sameDetails(a, b error) bool {
	ea, _ := a.(*lead.Error)
	eb, _ := b.(*lead.Error)
	if ea == nil || eb == nil {
		return ea == eb
	}
	return reflect.DeepEqual(ea.Details, eb.Details)
}
