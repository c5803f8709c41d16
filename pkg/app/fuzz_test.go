package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// FuzzIngestHandler sends arbitrary bodies, content types, idempotency keys and dryRun values,
// with the valid token, through the wired ingest handler against the embedded DynamoDB (one
// environment per run). It fails if the handler returns an error or any 5xx (no faults are
// injected, so not even a 503 is allowed), or if a 201 names an entry that is not stored or
// whose data does not match the pool's locked schema read after the call.
func FuzzIngestHandler(f *testing.F) {
	fx := newFixture(f)
	store := dynamo.New(fx.env.DB, fx.env.App.TableName)
	const jsonType = "application/json"
	for _, s := range []struct {
		body, contentType, key, dryRun string
		base64                         bool
	}{
		{`{"data":{"email":"ada@example.com","age":36,"vip":true,"tags":["a","b"],"note":null}}`, jsonType, "", "", false},
		{`{"data":{"age":"37","vip":"false","tags":"c"}}`, jsonType, "k1", "", false},
		{`{"data":{"email":1e0000001}}`, "application/json; charset=utf-8", "", "true", false},
		{`{"data":{"#0":"x","x.#0":"y"}}`, jsonType, "", "", false},
		{`{"data":{}}`, "", "k2", "false", false},
		{"email=bob%40example.com&age=41&tags=a&tags=b", "application/x-www-form-urlencoded", "", "", false},
		{"--XYZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\ncy@example.com\r\n--XYZ--\r\n", "multipart/form-data; boundary=XYZ", "", "", false},
		{base64.StdEncoding.EncodeToString([]byte(`{"data":{"email":"di@example.com","age":2}}`)), jsonType, "", "", true},
		{"not json", "text/plain", "", "1", false},
	} {
		f.Add([]byte(s.body), s.contentType, s.key, s.dryRun, s.base64)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType, idemKey, dryRun string, isBase64 bool) {
		req := fx.post(string(body), fx.token)
		req.IsBase64Encoded = isBase64
		if contentType == "" {
			delete(req.Headers, "content-type")
		} else {
			req.Headers["content-type"] = contentType
		}
		if idemKey != "" {
			req.Headers[apigw.IdempotencyKeyHeader] = idemKey
		}
		if dryRun != "" {
			req.QueryStringParameters = map[string]string{apigw.DryRunQueryParameter: dryRun}
		}
		resp, err := fx.handler(context.Background(), req)
		if err != nil {
			t.Fatalf("handler returned error %v; expected failures must be responses", err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d with no fault injected (body %s)", resp.StatusCode, resp.Body)
		}
		if resp.StatusCode != http.StatusCreated {
			return
		}
		var created struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &created); err != nil || created.ID == "" {
			t.Fatalf("201 body %s names no entry id (%v)", resp.Body, err)
		}
		e, err := store.Entry(context.Background(), fx.poolID, created.ID)
		if err != nil {
			t.Fatalf("read entry %s back: %v", created.ID, err)
		}
		if e == nil {
			t.Fatalf("201 for entry %s, which is not stored", created.ID)
		}
		schema := fx.schema(t)
		for k, v := range e.Data {
			if v == nil {
				continue
			}
			want, locked := schema[k]
			if !locked {
				t.Fatalf("stored key %q (value %T) is not in the locked schema", k, v)
			}
			ok := false
			switch want {
			case "string":
				_, ok = v.(string)
			case "number":
				_, ok = v.(lead.Number)
			case "boolean":
				_, ok = v.(bool)
			case "string[]":
				_, ok = v.([]string)
			}
			if !ok {
				t.Fatalf("stored key %q holds %T (%v); the schema locks it as %s", k, v, v, want)
			}
		}
	})
}
