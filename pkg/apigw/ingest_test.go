package apigw

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// FakeIngester is an Ingester whose answers are given; it records the steps it was asked
// for, so tests can prove their order and that nothing was read before authentication.
type FakeIngester struct {
	AuthErr error
	Result  *lead.IngestResult
	Err     error
	Fate    lead.RejectedFate
	// OnIngest, when set, sees the context Ingest is called with.
	OnIngest func(ctx context.Context)
	// Form is the form settings of the webhook Authenticate returns.
	Form *lead.FormSettings

	Steps     []string
	Token     string
	FromQuery bool
	Input     lead.Input
	Kept      *lead.RejectedRequest
}

// Authenticate implements Ingester.
func (f *FakeIngester) Authenticate(_ context.Context, _, token string, fromQuery bool) (*lead.Webhook, error) {
	f.Steps = append(f.Steps, "authenticate")
	f.Token, f.FromQuery = token, fromQuery
	if f.AuthErr != nil {
		return nil, f.AuthErr
	}
	return &lead.Webhook{ID: "w", Form: f.Form}, nil
}

// FormSettings implements Ingester.
func (f *FakeIngester) FormSettings(context.Context, string) (*lead.FormSettings, error) {
	f.Steps = append(f.Steps, "form")
	return f.Form, f.AuthErr
}

// BodyLimits implements Ingester.
func (f *FakeIngester) BodyLimits() lead.Limits { return lead.DefaultLimits() }

// Ingest implements Ingester.
func (f *FakeIngester) Ingest(ctx context.Context, _ *lead.Webhook, in lead.Input) (*lead.IngestResult, error) {
	f.Steps = append(f.Steps, "ingest")
	if f.OnIngest != nil {
		f.OnIngest(ctx)
	}
	f.Input = in
	return f.Result, f.Err
}

// NewRejected implements Ingester.
func (f *FakeIngester) NewRejected(wh *lead.Webhook, contentType, key string, body []byte, _ error) (*lead.RejectedRequest, error) {
	return &lead.RejectedRequest{ID: "r1", WebhookID: wh.ID, ContentType: contentType, IdempotencyKey: key, Body: body}, nil
}

// Keep implements Ingester.
func (f *FakeIngester) Keep(_ context.Context, r *lead.RejectedRequest) lead.RejectedFate {
	f.Steps = append(f.Steps, "keep")
	f.Kept = r
	return f.Fate
}

func TestIngestHandlerChecksInOrder(t *testing.T) {
	token := strings.Repeat("ab", 32)
	valid := `{"data":{"email":"a@b.co"}}`
	tests := []struct {
		name      string
		headers   map[string]string
		query     map[string]string
		body      string
		base64    bool
		authErr   error
		status    int
		wantSteps string
		wantMsg   string
	}{
		{"missing token: 401 before anything", map[string]string{}, nil, valid, false, nil, 401, "", "header is missing"},
		{"token header twice", map[string]string{TokenHeader: token, "X-RocketLead-Ingress-Token": token}, nil, valid, false, nil, 401, "", "exactly once"},
		{"comma-joined token header", map[string]string{TokenHeader: token + "," + token}, nil, valid, false, nil, 401, "", "exactly once"},
		{"a repeated query token", nil, map[string]string{"token": token + "," + token}, valid, false, nil, 401, "", "exactly once"},
		{"authentication beats a huge body and a bad header", map[string]string{TokenHeader: token, "content-type": "application/xml", "idempotency-key": ""}, nil,
			strings.Repeat("x", 300<<10), false, lead.Errorf(lead.EUNAUTHORIZED, "no"), 401, "authenticate", ""},
		{"size before the media type", map[string]string{TokenHeader: token, "content-type": "application/xml"}, nil, strings.Repeat("x", 300<<10), false, nil, 413, "authenticate", ""},
		{"invalid base64 is a 400", map[string]string{TokenHeader: token}, nil, "%%%", true, nil, 400, "authenticate", "base64"},
		{"media type before the headers", map[string]string{TokenHeader: token, "content-type": "application/xml", "idempotency-key": ""}, nil, valid, false, nil, 415, "authenticate", "application/xml"},
		{"a compressed body is a 415", map[string]string{TokenHeader: token, "Content-Encoding": "gzip"}, nil, valid, false, nil, 415, "authenticate", "send the body uncompressed"},
		{"a repeated Content-Type is a 415", map[string]string{TokenHeader: token, "content-type": "application/json", "Content-Type": "application/json"}, nil, valid, false, nil, 415, "authenticate", "could not be read"},
		{"idempotency key twice", map[string]string{TokenHeader: token, "idempotency-key": "a", "Idempotency-Key": "b"}, nil, valid, false, nil, 400, "authenticate", "Idempotency-Key"},
		{"idempotency key joined by API Gateway", map[string]string{TokenHeader: token, "Idempotency-Key": "a,b"}, nil, valid, false, nil, 400, "authenticate", "Idempotency-Key"},
		{"empty idempotency key", map[string]string{TokenHeader: token, "idempotency-key": ""}, nil, valid, false, nil, 400, "authenticate", "Idempotency-Key"},
		{"idempotency key over 255 characters", map[string]string{TokenHeader: token, "idempotency-key": strings.Repeat("k", 256)}, nil, valid, false, nil, 400, "authenticate", "Idempotency-Key"},
		{"idempotency key with a control character", map[string]string{TokenHeader: token, "idempotency-key": "a\x01"}, nil, valid, false, nil, 400, "authenticate", "Idempotency-Key"},
		{"the key beats dryRun=yes", map[string]string{TokenHeader: token, "idempotency-key": ""}, map[string]string{"dryRun": "yes"}, valid, false, nil, 400, "authenticate", "Idempotency-Key"},
		{"dryRun=yes after authentication", map[string]string{TokenHeader: token}, map[string]string{"dryRun": "yes"}, valid, false, nil, 400, "authenticate", "dryRun"},
		{"a body that does not parse is kept", map[string]string{TokenHeader: token}, nil, `{"email":"a"}`, false, nil, 400, "authenticate keep", "put the lead fields inside"},
		{"a base64 body is parsed and ingested", map[string]string{TokenHeader: token}, nil, base64.StdEncoding.EncodeToString([]byte(valid)), true, nil, 201, "authenticate ingest", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &FakeIngester{AuthErr: tt.authErr, Result: &lead.IngestResult{Entry: &lead.Entry{ID: "e1"}}, Fate: lead.RejectedFate{ID: "r1", Kept: true}}
			req := Request{Headers: tt.headers, QueryStringParameters: tt.query, PathParameters: map[string]string{"id": "w"}, Body: tt.body, IsBase64Encoded: tt.base64}
			resp, out := IngestHandler(f)(context.Background(), req)
			if resp.StatusCode != tt.status || out.Status != tt.status || !strings.Contains(resp.Body, tt.wantMsg) {
				t.Errorf("status %d (outcome %d) %.200s; want %d mentioning %q", resp.StatusCode, out.Status, resp.Body, tt.status, tt.wantMsg)
			}
			if got := strings.Join(f.Steps, " "); got != tt.wantSteps {
				t.Errorf("steps %q; want %q", got, tt.wantSteps)
			}
			if !out.Ingest || (tt.status >= 400) != (out.Err != nil) {
				t.Errorf("outcome %+v; want an ingest outcome with the error of a %d", out, tt.status)
			}
		})
	}
}

func TestIngestHandlerReadsTheTokenAndTheQuery(t *testing.T) {
	token, other := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	tests := []struct {
		name          string
		headers       map[string]string
		query         map[string]string
		wantToken     string
		wantFromQuery bool
		wantDryRun    bool
	}{
		{"token from the query when there is no header", nil, map[string]string{"token": token}, token, true, false},
		{"the header wins over the query", map[string]string{TokenHeader: other}, map[string]string{"token": token}, other, false, false},
		{"dryRun=true", map[string]string{TokenHeader: token}, map[string]string{"dryRun": "true"}, token, false, true},
		{"dryRun=TRUE", map[string]string{TokenHeader: token}, map[string]string{"dryRun": "TRUE"}, token, false, true},
		{"dryRun=1", map[string]string{TokenHeader: token}, map[string]string{"dryRun": "1"}, token, false, true},
		{"dryRun=false", map[string]string{TokenHeader: token}, map[string]string{"dryRun": "false"}, token, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &FakeIngester{Result: &lead.IngestResult{Entry: &lead.Entry{ID: "e1"}, DryRun: tt.wantDryRun}}
			h := map[string]string{"Idempotency-Key": "order-1"}
			for k, v := range tt.headers {
				h[k] = v
			}
			resp, out := IngestHandler(f)(context.Background(), Request{Headers: h, QueryStringParameters: tt.query,
				PathParameters: map[string]string{"id": "w"}, Body: `{"data":{}}`})
			if resp.StatusCode >= 400 || f.Token != tt.wantToken || f.FromQuery != tt.wantFromQuery || f.Input.DryRun != tt.wantDryRun || out.DryRun != tt.wantDryRun || f.Input.IdempotencyKey != "order-1" {
				t.Errorf("%d: token %.8s… fromQuery %v input %+v; want %.8s… %v dryRun %v key order-1", resp.StatusCode, f.Token, f.FromQuery, f.Input, tt.wantToken, tt.wantFromQuery, tt.wantDryRun)
			}
		})
	}
}

// TestIngestHandlerKeepsARefusalWithItsRenderedAnswer: the kept request holds the body as
// received, its content type and key, and the very error body the caller got.
func TestIngestHandlerKeepsARefusalWithItsRenderedAnswer(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		f := &FakeIngester{Err: lead.Invalid("type mismatch"), Fate: lead.RejectedFate{ID: "r1", Kept: true}}
		req := Request{Headers: map[string]string{TokenHeader: strings.Repeat("ab", 32), "content-type": "text/plain", "idempotency-key": "k1"},
			PathParameters: map[string]string{"id": "w"}, Body: `{"data":{"n":1}}`}
		req.RequestContext.RequestID = "req-1"
		if dryRun {
			req.QueryStringParameters = map[string]string{"dryRun": "true"}
		}
		resp, _ := IngestHandler(f)(context.Background(), req)
		var body map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || resp.StatusCode != 400 {
			t.Fatalf("answer %d %s", resp.StatusCode, resp.Body)
		}
		if dryRun {
			if f.Kept != nil || body["rejectedId"] != nil {
				t.Errorf("a dry run kept %+v, answered %s; want nothing kept", f.Kept, resp.Body)
			}
			continue
		}
		if f.Kept == nil || string(f.Kept.ErrorBody) != resp.Body || body["rejectedId"] != "r1" || string(f.Kept.Body) != req.Body ||
			f.Kept.ContentType != "text/plain" || f.Kept.IdempotencyKey != "k1" {
			t.Errorf("kept %+v; answered %s; want the body, its type and key, and the answer naming r1", f.Kept, resp.Body)
		}
	}
}
