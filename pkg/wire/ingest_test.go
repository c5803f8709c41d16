package wire

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// TestParseIngestEdges is the form and body edge table of the form and body rules: what curl's default
// form header, n8n, PHP and browsers send.
func TestParseIngestEdges(t *testing.T) {
	const bom = "\ufeff"
	emptyFile := "Content-Disposition: form-data; name=\"attachment\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n"
	tests := []struct {
		name     string
		p        ingestReq
		wantData map[string]any
		wantCF   map[string]any
		wantMsg  []string // a 400 whose message holds each
	}{
		{"a JSON body with a UTF-8 BOM is read", ingestReq{MediaJSON, bom + `{"data":{"a":"x"}}`},
			map[string]any{"a": "x"}, nil, nil},
		{"a form body that is JSON with a BOM and white space is JSON", ingestReq{formType, bom + " \n" + `{"data":{"a":"x"}}`},
			map[string]any{"a": "x"}, nil, nil},
		{"a text/plain JSON body with a BOM is JSON", ingestReq{MediaText, bom + `{"data":{"a":"x"}}`},
			map[string]any{"a": "x"}, nil, nil},
		{"a JSON array under the form header is a 400", ingestReq{formType, `[{"data":{"a":"x"}}]`},
			nil, nil, []string{"read as JSON", "must be a JSON object"}},
		{"a JSON array under text/plain is a 400", ingestReq{MediaText, `[1]`},
			nil, nil, []string{"must be a JSON object"}},
		{"trailing data after a JSON object under the form header is a 400", ingestReq{formType, `{"data":{"a":"x"}};`},
			nil, nil, []string{"read as JSON", "data after the JSON object", "nothing after its closing }"}},
		{"invalid JSON under the form header is a 400", ingestReq{formType, `{"data":{"a":}`},
			nil, nil, []string{"read as JSON", "not valid JSON"}},
		{"k[]=x is a list", ingestReq{formType, "k%5B%5D=x"},
			map[string]any{"k": []string{"x"}}, nil, nil},
		{"k[0]=a&k[1]=b (n8n) is a list in index order", ingestReq{formType, "k[1]=b&k[0]=a&k[]=c"},
			map[string]any{"k": []string{"a", "b", "c"}}, nil, nil},
		{"data[k][] and data[k][N] fold into k", ingestReq{formType, "data%5Btags%5D%5B%5D=x&data[tags][]=y&data[n][2]=c&data[n][0]=a"},
			map[string]any{"tags": []string{"x", "y"}, "n": []string{"a", "c"}}, nil, nil},
		{"customFieldData[id][] folds into a list", ingestReq{formType, "e=1&customFieldData[" + strings.ToUpper(cfID) + "][]=a&customFieldData[" + cfID + "][]=b"},
			map[string]any{"e": "1"}, map[string]any{cfID: []string{"a", "b"}}, nil},
		{"a plain repeated field and k[] fold in order of appearance", ingestReq{formType, "k=a&k[]=b&k=c"},
			map[string]any{"k": []string{"a", "b", "c"}}, nil, nil},
		{"a[b][c] is a 400 naming the field and the forms", ingestReq{formType, "a[b][c]=1"},
			nil, nil, []string{`form field ["a[b][c]"]`, "k[], k[0]"}},
		{"k[x] is a 400", ingestReq{formType, "k[x]=1"}, nil, nil, []string{`["k[x]"]`}},
		{"an unclosed bracket is a 400", ingestReq{formType, "data[tags=1"}, nil, nil, []string{`["data[tags"]`}},
		{"tags][ is never a key", ingestReq{formType, "tags][=1"}, nil, nil, []string{`["tags]["]`}},
		{"a bracket form in a multipart field is a 400", ingestReq{multipartType("XyZ"), multipartBody("XyZ", field("a[b][c]", "1"))},
			nil, nil, []string{`["a[b][c]"]`}},
		{"an empty file input is ignored", ingestReq{multipartType("XyZ"), multipartBody("XyZ", field("email", "a"), emptyFile)},
			map[string]any{"email": "a"}, nil, nil},
		{"an empty file name with content stays a 400", ingestReq{multipartType("XyZ"), multipartBody("XyZ", field("email", "a"), emptyFile+"%PDF")},
			nil, nil, []string{"file upload"}},
		{"invalid UTF-8 in a form value names the field", ingestReq{formType, "email=a&first+name=%FF"},
			nil, nil, []string{"application/x-www-form-urlencoded", `value of field ["first name"] is not valid UTF-8`}},
		{"invalid UTF-8 in a multipart value names the field", ingestReq{multipartType("XyZ"), multipartBody("XyZ", field("city", "\xff"))},
			nil, nil, []string{"multipart/form-data", "value of field city is not valid UTF-8"}},
		{"invalid UTF-8 in a JSON body names the type", ingestReq{MediaJSON, "{\"data\":{\"a\":\"\xff\"}}"},
			nil, nil, []string{"read as JSON (Content-Type application/json) and is not valid UTF-8"}},
		{"a broken escape names the field", ingestReq{formType, "email=a&pct=100%"},
			nil, nil, []string{"field pct has a broken %-escape"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseIngest(tt.p.ContentType, []byte(tt.p.Body), lead.DefaultLimits())
			if tt.wantMsg != nil {
				if lead.ErrorCode(err) != lead.EINVALID {
					t.Fatalf("ParseIngest(%q) = %v; want a 400", tt.p.Body, err)
				}
				for _, w := range tt.wantMsg {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("ParseIngest(%q) = %q; want it to contain %q", tt.p.Body, err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIngest(%q) error = %v", tt.p.Body, err)
			}
			if !reflect.DeepEqual(b.Data, tt.wantData) || !reflect.DeepEqual(b.CustomFieldData, tt.wantCF) {
				t.Errorf("ParseIngest(%q) = %#v, %#v; want %#v, %#v", tt.p.Body, b.Data, b.CustomFieldData, tt.wantData, tt.wantCF)
			}
		})
	}
}

// TestZapierFlattenedKeysGetAHint: a Zapier row named data__email is sent as data__email
// unless the step's Payload Type is json with Unflatten yes. As a form whose every field is
// so named, a 400 says so (instead of locking data__email in the schema); as a JSON body it
// lacks data (a 400 anyway), and the message says the same.
func TestZapierFlattenedKeysGetAHint(t *testing.T) {
	for _, p := range []ingestReq{
		{formType, "data__email=a%40b.co&data__first_name=Ada"},
		{formType, "data__email=a%40b.co&customFieldData__" + cfID + "=x"},
		{MediaJSON, `{"data__email":"a@b.co","customFieldData__x":"1"}`},
	} {
		_, err := ParseIngest(p.ContentType, []byte(p.Body), lead.DefaultLimits())
		if lead.ErrorCode(err) != lead.EINVALID || !strings.Contains(err.Error(), "Payload Type json with Unflatten yes") {
			t.Errorf("ParseIngest(%s, %q) = %v; want a 400 naming Zapier's Unflatten", p.ContentType, p.Body, err)
		}
	}
	// One data__ field among others is a key like any other.
	b, err := ParseIngest(formType, []byte("email=a&data__x=1"), lead.DefaultLimits())
	if err != nil || b.Data["data__x"] != "1" {
		t.Errorf("ParseIngest(a form with one data__ field) = %v, %v; want it stored as sent", b, err)
	}
}

// manyProblemsBody is the amplification body: 116 keys of 244 bytes, each an array
// of 1,000 numbers (260 KB), every element a problem; valid is the same shape with strings.
func manyProblemsBody(valid bool) []byte {
	elem := "1"
	if valid {
		elem = `"1"`
	}
	list := "[" + strings.TrimSuffix(strings.Repeat(elem+",", 1000), ",") + "]"
	var b strings.Builder
	b.WriteString(`{"data":{`)
	for i := range 116 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%03d%s":%s`, i, strings.Repeat("x", 240), list)
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

func TestManyProblemsMakeASmallErrorBody(t *testing.T) {
	_, err := ParseIngest(MediaJSON, manyProblemsBody(false), lead.DefaultLimits())
	body := ErrorJSON(err, "req")
	if len(body) > MaxErrorBodyBytes {
		t.Fatalf("error body of %d bytes; want at most %d", len(body), MaxErrorBodyBytes)
	}
	var got struct {
		Error        string            `json:"error"`
		Message      string            `json:"message"`
		Details      []json.RawMessage `json:"details"`
		Truncated    bool              `json:"truncated"`
		ProblemCount int               `json:"problemCount"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Error != "Validation failed" || !got.Truncated || got.ProblemCount != 116_000 || len(got.Details) == 0 || len(got.Details) > lead.MaxListedProblems {
		t.Errorf("error body = %.300s…; want Validation failed, truncated, problemCount 116000, 1 to %d details", body, lead.MaxListedProblems)
	}
	if !strings.HasPrefix(got.Message, "116000 problems in the body, first: data.k000") {
		t.Errorf("message = %.200q; want the count and the first problems", got.Message)
	}
}

// TestManyProblemsCostAsMuchAsAValidBody: the 400 of a body full of problems is built in
// time proportional to what it lists, not to the request: parsing it and rendering its
// answer allocates (in count and in bytes) within 5% of what parsing the same body with
// valid values does. Before, listing all 116,000 problems took 31% more allocations and
// their 34 MB answer several times the bytes.
func TestManyProblemsCostAsMuchAsAValidBody(t *testing.T) {
	bad, good := manyProblemsBody(false), manyProblemsBody(true)
	lim := lead.DefaultLimits()
	badAllocs, badBytes := allocs(func() {
		_, err := ParseIngest(MediaJSON, bad, lim)
		ErrorJSON(err, "req")
	})
	goodAllocs, goodBytes := allocs(func() {
		if _, err := ParseIngest(MediaJSON, good, lim); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("the 400 of 116,000 problems: %d allocations, %d bytes; the valid body: %d allocations, %d bytes", badAllocs, badBytes, goodAllocs, goodBytes)
	if float64(badAllocs) > 1.05*float64(goodAllocs) || float64(badBytes) > 1.05*float64(goodBytes) {
		t.Errorf("the 400 of 116,000 problems took %d allocations, %d bytes; want within 5%% of the valid body's %d, %d", badAllocs, badBytes, goodAllocs, goodBytes)
	}
}

// allocs returns the allocations and allocated bytes of one run of f (after a warm-up run).
func allocs(f func()) (count, bytes uint64) {
	f()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs, after.TotalAlloc - before.TotalAlloc
}

func BenchmarkManyProblemsErrorBody(b *testing.B) {
	raw, lim := manyProblemsBody(false), lead.DefaultLimits()
	b.ReportAllocs()
	for b.Loop() {
		_, err := ParseIngest(MediaJSON, raw, lim)
		ErrorJSON(err, "req")
	}
}

func BenchmarkValidBodyOfTheSameShape(b *testing.B) {
	raw, lim := manyProblemsBody(true), lead.DefaultLimits()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseIngest(MediaJSON, raw, lim); err != nil {
			b.Fatal(err)
		}
	}
}
