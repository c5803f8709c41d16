package app_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// TestFormAndBodyEdges is the form and body edge table through the ingest handler on the embedded
// engine: what curl's default form header, n8n, PHP, browsers and compressing clients send.
// A 201 stores the keys shown; a 4xx stores nothing, and a 400 is kept as a rejected
// request whose stored body is the one sent.
func TestFormAndBodyEdges(t *testing.T) {
	r := newRejected(t)
	const form, bom = "application/x-www-form-urlencoded", "\ufeff"
	emptyFile := "--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nada@example.com\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--XyZ--\r\n"
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		inMessage   string
		wantData    map[string]any
	}{
		{"a JSON body with a UTF-8 BOM is read", "application/json", bom + `{"data":{"bom":"yes"}}`, 201, "", map[string]any{"bom": "yes"}},
		{"a BOM and a JSON object under the form header", form, bom + "\n" + `{"data":{"bom2":"yes"}}`, 201, "", map[string]any{"bom2": "yes"}},
		{"a JSON array under the form header is a 400, not a key", form, `[{"data":{"x":"1"}}]`, 400, "must be a JSON object", nil},
		{"a JSON array under text/plain is a 400", "text/plain", `[{"data":{"x":"1"}}]`, 400, "must be a JSON object", nil},
		{"trailing data under the form header is a 400", form, `{"data":{"x":"1"}};`, 400, "nothing after its closing }", nil},
		{"invalid JSON under the form header is a 400", form, `{"data":{"x":}`, 400, "not valid JSON", nil},
		{"k[]=x (PHP, jQuery) is a list", form, "email=a&phpTags%5B%5D=x", 201, "", map[string]any{"email": "a", "phpTags": []any{"x"}}},
		{"k[0]=a&k[1]=b (n8n) is a list in index order", form, "email=a&n8nTags[1]=b&n8nTags[0]=a", 201, "", map[string]any{"email": "a", "n8nTags": []any{"a", "b"}}},
		{"data[k][] and data[k][N] fold into k", form, "data[email]=a&data[tags][]=x&data[tags][]=y&data[ix][1]=b&data[ix][0]=a", 201, "",
			map[string]any{"email": "a", "tags": []any{"x", "y"}, "ix": []any{"a", "b"}}},
		{"a[b][c] is a 400 naming the field", form, "email=a&a[b][c]=1", 400, `form field ["a[b][c]"] has a bracket form that is not accepted`, nil},
		{"k[x] is a 400", form, "email=a&k[x]=1", 400, `["k[x]"]`, nil},
		{"an unclosed bracket is a 400", form, "email=a&data[tags=1", 400, `["data[tags"]`, nil},
		{"an empty file input is ignored", "multipart/form-data; boundary=XyZ", emptyFile, 201, "", map[string]any{"email": "ada@example.com"}},
		{"a file part with content stays a 400", "multipart/form-data; boundary=XyZ", strings.Replace(emptyFile, "\r\n\r\n\r\n--XyZ--", "\r\n\r\n%PDF\r\n--XyZ--", 1), 400, "files are not accepted", nil},
		{"invalid UTF-8 in a form field names the field", form, "email=a&city=%FF", 400, "value of field city is not valid UTF-8", nil},
		{"every field data__<key> (Zapier flattened names) is a 400 naming Unflatten", form, "data__email=a&data__name=b", 400, "Payload Type json with Unflatten yes", nil},
		{"a gzip body is a 415", "application/json", `{"data":{"z":"1"}}`, 415, "send the body uncompressed", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(r.entries(t))
			req := r.post(tt.body, r.token)
			req.Headers["content-type"] = tt.contentType
			if tt.status == http.StatusUnsupportedMediaType {
				req.Headers["Content-Encoding"] = "gzip" // the one 415 of the table
			}
			resp, body := r.do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %s; want %d", resp.StatusCode, resp.Body, tt.status)
			}
			if tt.inMessage != "" && !strings.Contains(fmt.Sprint(body["message"]), tt.inMessage) {
				t.Errorf("message %q; want it to contain %q", body["message"], tt.inMessage)
			}
			after := len(r.entries(t))
			if tt.status == http.StatusCreated {
				if got, _ := body["data"].(map[string]any); after != before+1 || !reflect.DeepEqual(got, tt.wantData) {
					t.Errorf("stored %d entries, data %v; want one entry with %v", after-before, got, tt.wantData)
				}
				return
			}
			if after != before {
				t.Errorf("a %d stored %d entries; want none", resp.StatusCode, after-before)
			}
			id, _ := body["rejectedId"].(string)
			if (id != "") != (tt.status == http.StatusBadRequest) {
				t.Fatalf("rejectedId %q on a %d; want one exactly on a 400", id, tt.status)
			}
			if id != "" {
				kept, got := call(t, r.get, rejectedReq("GET", r.webhookID, id, "", nil))
				if kept.StatusCode != http.StatusOK || (got["body"] != tt.body && got["bodyBase64"] == nil) {
					t.Errorf("kept request %d %.200s; want the body as sent", kept.StatusCode, kept.Body)
				}
			}
		})
	}
}

// TestManyProblemsAnswerSmall: the 260 KB body of 116 keys, each an array of 1,000
// numbers, gets a 400 of at most 16 KiB that counts every problem, and it is kept.
func TestManyProblemsAnswerSmall(t *testing.T) {
	r := newRejected(t)
	list := "[" + strings.TrimSuffix(strings.Repeat("1,", 1000), ",") + "]"
	var b strings.Builder
	b.WriteString(`{"data":{`)
	for i := range 116 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%03d%s":%s`, i, strings.Repeat("x", 240), list)
	}
	b.WriteString(`}}`)
	start := time.Now()
	resp, body := r.do(t, r.post(b.String(), r.token))
	t.Logf("a %d-byte body: %d, an answer of %d bytes, in %v (kept included)", b.Len(), resp.StatusCode, len(resp.Body), time.Since(start).Round(time.Millisecond))
	if resp.StatusCode != http.StatusBadRequest || len(resp.Body) > wire.MaxErrorBodyBytes || body["truncated"] != true || body["problemCount"] != 116000.0 {
		t.Fatalf("answer %d of %d bytes: %.300s; want a 400 of at most %d bytes, truncated, problemCount 116000", resp.StatusCode, len(resp.Body), resp.Body, wire.MaxErrorBodyBytes)
	}
	if id, _ := body["rejectedId"].(string); id == "" {
		t.Errorf("answer %.300s; want it kept (rejectedId)", resp.Body)
	}
}
