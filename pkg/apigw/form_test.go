package apigw

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// formRequest is a browser's form post with the token in the URL.
func formRequest(headers map[string]string, body string) Request {
	h := map[string]string{"content-type": "application/x-www-form-urlencoded", "accept": browserAccept}
	for k, v := range headers {
		h[k] = v
	}
	req := Request{Headers: h, QueryStringParameters: map[string]string{"token": strings.Repeat("ab", 32)},
		PathParameters: map[string]string{"id": "w"}, Body: body}
	req.RequestContext.HTTP.Method = http.MethodPost
	return req
}

func TestFormPostsAreAnsweredForAPerson(t *testing.T) {
	redirects := &lead.FormSettings{SuccessURL: "https://example.com/thanks?lang=en", ErrorURL: "https://example.com/oops"}
	entry := &lead.IngestResult{Entry: &lead.Entry{ID: "0190a000-0000-7000-8000-000000000001", OrganizationID: "org-secret-id"}}
	refused := lead.Invalid("type mismatch", lead.Detail{Path: "data.email", Problem: "must be a string"})
	tests := []struct {
		name      string
		form      *lead.FormSettings
		headers   map[string]string
		query     map[string]string
		result    *lead.IngestResult
		err       error
		status    int
		location  string // the 303's Location, or a text the page or body must hold
		notInBody string
	}{
		{"201 becomes 303 to the success URL with entryId", redirects, nil, nil, entry, nil, 303,
			"https://example.com/thanks?entryId=0190a000-0000-7000-8000-000000000001&lang=en", ""},
		{"400 becomes 303 to the error URL with error and rejectedId", redirects, nil, nil, nil, refused, 303,
			"https://example.com/oops?error=validation_failed&rejectedId=r1", ""},
		{"400 without an error URL goes to the success URL", &lead.FormSettings{SuccessURL: "https://example.com/t"}, nil, nil, nil,
			&lead.Error{Code: lead.EINVALID, Reason: lead.ReasonCaptchaFailed}, 303, "https://example.com/t?error=captcha_failed&rejectedId=r1", ""},
		{"a JSON body is never redirected", redirects, map[string]string{"content-type": "application/json"}, nil, entry, nil, 201, `"id":"0190a000`, ""},
		{"a dry run is never redirected", redirects, nil, map[string]string{"dryRun": "true"}, &lead.IngestResult{Entry: entry.Entry, DryRun: true}, nil, 200, `"dryRun":true`, ""},
		{"a 401 is not redirected", redirects, map[string]string{"accept": "application/json"}, nil, nil, nil, 401, "Invalid webhook token", ""},
		{"without a success URL a browser gets the thank-you page", nil, nil, nil, entry, nil, 201, "Thank you — received", "org-secret-id"},
		{"the 400 page names the field at fault, no ids", nil, nil, nil, nil, refused, 400, "<strong>email</strong>", "r1"},
		{"curl's Accept */* gets JSON", nil, map[string]string{"accept": "*/*"}, nil, entry, nil, 201, `"organizationId":"org-secret-id"`, ""},
		{"Zapier without Accept gets JSON", nil, map[string]string{"accept": ""}, nil, nil, refused, 400, `"rejectedId":"r1"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &FakeIngester{Form: tt.form, Result: tt.result, Err: tt.err, Fate: lead.RejectedFate{ID: "r1", Kept: true}}
			if tt.status == 401 {
				f.AuthErr = lead.Errorf(lead.EUNAUTHORIZED, "no")
			}
			body := "email=a%40b.co"
			if tt.headers["content-type"] == "application/json" {
				body = `{"data":{"email":"a@b.co"}}`
			}
			req := formRequest(tt.headers, body)
			for k, v := range tt.query {
				req.QueryStringParameters[k] = v
			}
			resp, _ := IngestHandler(f)(context.Background(), req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %s %v; want %d", resp.StatusCode, resp.Body, resp.Headers, tt.status)
			}
			if tt.status == 303 {
				if got := resp.Headers["Location"]; got != tt.location {
					t.Errorf("Location = %q; want %q", got, tt.location)
				}
				return
			}
			if !strings.Contains(resp.Body, tt.location) || tt.notInBody != "" && strings.Contains(resp.Body, tt.notInBody) {
				t.Errorf("body %s; want %q in it and not %q", resp.Body, tt.location, tt.notInBody)
			}
			if strings.HasPrefix(resp.Headers["Content-Type"], "text/html") && resp.Headers["Content-Security-Policy"] != "default-src 'none'" {
				t.Errorf("HTML page headers %v; want CSP default-src 'none'", resp.Headers)
			}
		})
	}
}

func TestFormPageEscapesFieldNames(t *testing.T) {
	f := &FakeIngester{Err: lead.Invalid("bad", lead.Detail{Path: `data["<script>alert(1)</script>"]`, Problem: "x"})}
	resp, _ := IngestHandler(f)(context.Background(), formRequest(nil, "a=b"))
	if strings.Contains(resp.Body, "<script>") || !strings.Contains(resp.Body, "&lt;script&gt;") {
		t.Errorf("page %s; want the field name escaped", resp.Body)
	}
}

func TestOriginsAreCheckedAfterAuthenticationAndAnsweredWithCORS(t *testing.T) {
	form := &lead.FormSettings{AllowedOrigins: []string{"https://shop.example"}}
	tests := []struct {
		name, origin, referer string
		status                int
		steps                 string
		acao                  string
	}{
		{"a listed origin posts and is told so", "https://shop.example", "", 201, "authenticate ingest", "https://shop.example"},
		{"another origin is a 403, nothing read or kept", "https://evil.example", "", 403, "authenticate", ""},
		{"without Origin, the Referer's origin counts", "", "https://evil.example/page?x=1", 403, "authenticate", ""},
		{"a listed Referer passes", "", "https://shop.example/contact", 201, "authenticate ingest", "https://shop.example"},
		{"a server without either passes", "", "", 201, "authenticate ingest", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &FakeIngester{Form: form, Result: &lead.IngestResult{Entry: &lead.Entry{ID: "e1"}}}
			h := map[string]string{"accept": "application/json"}
			if tt.origin != "" {
				h["Origin"] = tt.origin
			}
			if tt.referer != "" {
				h["Referer"] = tt.referer
			}
			resp, _ := IngestHandler(f)(context.Background(), formRequest(h, `{"data":{"a":"b"}}`))
			if resp.StatusCode != tt.status || strings.Join(f.Steps, " ") != tt.steps || resp.Headers["Access-Control-Allow-Origin"] != tt.acao {
				t.Errorf("%d %s steps %q ACAO %q; want %d steps %q ACAO %q", resp.StatusCode, resp.Body, f.Steps, resp.Headers["Access-Control-Allow-Origin"], tt.status, tt.steps, tt.acao)
			}
			if tt.status == 403 && !strings.Contains(resp.Body, "Origin not allowed") {
				t.Errorf("403 body %s; want Origin not allowed", resp.Body)
			}
		})
	}
	// An unauthenticated request never learns about origins: 401 first.
	f := &FakeIngester{Form: form, AuthErr: lead.Errorf(lead.EUNAUTHORIZED, "no")}
	if resp, _ := IngestHandler(f)(context.Background(), formRequest(map[string]string{"Origin": "https://evil.example"}, "a=b")); resp.StatusCode != 401 {
		t.Errorf("bad token from another origin = %d; want 401", resp.StatusCode)
	}
}

func TestPreflightAnswersListedOriginsOnly(t *testing.T) {
	form := &lead.FormSettings{AllowedOrigins: []string{"https://shop.example"}}
	for _, tt := range []struct {
		origin string
		listed bool
	}{{"https://shop.example", true}, {"https://evil.example", false}} {
		f := &FakeIngester{Form: form}
		req := Request{Headers: map[string]string{"Origin": tt.origin, "Access-Control-Request-Method": "POST"}, PathParameters: map[string]string{"id": "w"}}
		req.RequestContext.HTTP.Method = http.MethodOptions
		resp, out := IngestHandler(f)(context.Background(), req)
		got := resp.Headers["Access-Control-Allow-Origin"]
		if resp.StatusCode != 204 || (got == tt.origin) != tt.listed || out.Ingest {
			t.Errorf("preflight from %s = %d ACAO %q (ingest %v); want 204, listed %v", tt.origin, resp.StatusCode, got, out.Ingest, tt.listed)
		}
		if tt.listed && !strings.Contains(resp.Headers["Access-Control-Allow-Headers"], "x-rocketlead-ingress-token") {
			t.Errorf("preflight allows headers %q; want the token header", resp.Headers["Access-Control-Allow-Headers"])
		}
	}
}

func TestAKeptFormRequestLosesTheWidgetAndHoneypotFields(t *testing.T) {
	form := &lead.FormSettings{HoneypotField: "_gotcha", Captcha: &lead.Captcha{Provider: lead.Turnstile}}
	f := &FakeIngester{Form: form, Err: &lead.Error{Code: lead.EINVALID, Reason: lead.ReasonCaptchaFailed}, Fate: lead.RejectedFate{ID: "r1", Kept: true}}
	body := "name=Zo%C3%AB&cf-turnstile-response=XXXX&_gotcha=&email=a%40b.co"
	IngestHandler(f)(context.Background(), formRequest(map[string]string{"accept": "application/json"}, body))
	if f.Kept == nil {
		t.Fatal("nothing kept")
	}
	if got, _ := url.ParseQuery(string(f.Kept.Body)); got.Has("cf-turnstile-response") || got.Has("_gotcha") || got.Get("name") != "Zoë" {
		t.Errorf("kept body %q; want it without the widget and honeypot fields", f.Kept.Body)
	}
}
