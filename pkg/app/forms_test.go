package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport/awstest"
	"github.com/rocketlead/ingress-webhooks/pkg/apigw"
	"github.com/rocketlead/ingress-webhooks/pkg/app"
	"github.com/rocketlead/ingress-webhooks/pkg/captcha"
	"github.com/rocketlead/ingress-webhooks/pkg/dynamo"
	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

const formSecret = "0x4AAAAAAAformsecret"

// formFixture is the ingest fixture whose webhook takes ?token= and has every form setting
// on (set through the update route), its ingest function verifying CAPTCHAs at verifyURL.
func formFixture(t *testing.T, verifyURL string) *fixture {
	t.Helper()
	f := newFixture(t)
	update := awstest.Build(t, app.UpdateWebhook, f.env.Config, f.env.App)
	body := `{"allowQueryToken":true,"form":{"successUrl":"https://shop.example/thanks","errorUrl":"https://shop.example/oops",
		"honeypotField":"_gotcha","allowedOrigins":["https://shop.example"],"captcha":{"provider":"turnstile","secret":"` + formSecret + `"}}}`
	if resp, _ := call(t, update, adminRequest("PATCH", "PATCH /admin/ingress_webhooks/{id}", f.webhookID, body, nil)); resp.StatusCode != http.StatusOK {
		t.Fatalf("set form settings = %d %s; want 200", resp.StatusCode, resp.Body)
	}
	env := f.env.App
	env.CaptchaVerifyURL = verifyURL
	f.handler = awstest.Build(t, app.Ingest, f.env.Config, env)
	return f
}

// formPost is a browser's urlencoded post from the shop's page.
func (f *fixture) formPost(fields url.Values) apigw.Request {
	req := f.post(fields.Encode(), "")
	req.Headers = map[string]string{"content-type": "application/x-www-form-urlencoded", "origin": "https://shop.example",
		"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
	req.QueryStringParameters = map[string]string{apigw.TokenQueryParameter: f.token}
	req.RequestContext.HTTP.Method = http.MethodPost
	req.RequestContext.HTTP.SourceIP = "203.0.113.7"
	return req
}

func (f *fixture) send(t *testing.T, req apigw.Request) apigw.Response {
	t.Helper()
	resp, err := f.handler(context.Background(), req)
	awstest.Must(t, err)
	return resp
}

func TestFormSettingsAreValidatedAndTheSecretNeverShown(t *testing.T) {
	a := newAdmin(t)
	for _, bad := range []string{
		`{"successUrl":"http://shop.example/t"}`, `{"successUrl":"/thanks"}`, `{"errorUrl":"https://a.example/e"}`,
		`{"allowedOrigins":["https://shop.example/path"]}`, `{"allowedOrigins":["*"]}`, `{"honeypotField":"a b"}`,
		`{"captcha":{"provider":"friendlycaptcha","secret":"s"}}`, `{"captcha":{"provider":"turnstile"}}`,
		`{"captcha":{"provider":"turnstile","secret":"s","minScore":0.5}}`, `{"captcha":{"provider":"recaptcha","secret":"s","minScore":2}}`,
		`{"redirect":"https://a.example"}`,
	} {
		req := createReq(fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":"F","form":%s}`, a.orgID, a.poolID, bad))
		if resp, _ := call(t, a.create, req); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("create with form %s = %d %s; want 400", bad, resp.StatusCode, resp.Body)
		}
	}
	good := `{"successUrl":"https://shop.example/thanks","allowedOrigins":["https://Shop.example","http://localhost:8080"],
		"captcha":{"provider":"recaptcha","secret":"` + formSecret + `","minScore":0.5}}`
	resp, body := call(t, a.create, createReq(fmt.Sprintf(`{"organizationId":%q,"tableId":%q,"name":"F","form":%s}`, a.orgID, a.poolID, good)))
	if resp.StatusCode != http.StatusCreated || strings.Contains(resp.Body, formSecret) {
		t.Fatalf("create = %d %s; want 201 without the secret", resp.StatusCode, resp.Body)
	}
	id := body["id"].(string)
	resp, _ = call(t, a.list, listReq(map[string]string{"organizationId": a.orgID}))
	if strings.Contains(resp.Body, formSecret) || !strings.Contains(resp.Body, `"captcha":{"provider":"recaptcha","configured":true,"minScore":0.5}`) ||
		!strings.Contains(resp.Body, `"allowedOrigins":["https://shop.example","http://localhost:8080"]`) {
		t.Errorf("listing %s; want the captcha as configured, no secret, origins normalised", resp.Body)
	}
	out, err := a.env.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(a.env.App.TableName),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "WEBHOOK#" + id}, "sk": &types.AttributeValueMemberS{Value: "WEBHOOK"}}})
	awstest.Must(t, err)
	form, _ := out.Item["form"].(*types.AttributeValueMemberM)
	var sealed []byte
	if form != nil {
		if c, ok := form.Value["captcha"].(*types.AttributeValueMemberM); ok {
			b, _ := c.Value["secret"].(*types.AttributeValueMemberB)
			if b != nil {
				sealed = b.Value
			}
		}
	}
	raw, err := json.Marshal(out.Item)
	awstest.Must(t, err)
	if len(sealed) < len(formSecret)+28 || strings.Contains(string(sealed), formSecret) || strings.Contains(string(raw), formSecret) {
		t.Errorf("stored CAPTCHA secret %q; want it sealed (nonce, ciphertext, tag)", sealed)
	}
}

func TestFormPostsWithEverySettingOn(t *testing.T) {
	stand := httptest.NewServer(captcha.StandIn())
	defer stand.Close()
	f := formFixture(t, stand.URL)
	store := dynamo.New(f.env.DB, f.env.App.TableName)

	// A person: the CAPTCHA solved, the honeypot empty, non-ASCII text.
	resp := f.send(t, f.formPost(url.Values{"name": {"Zoë — 東京"}, "_gotcha": {""}, "cf-turnstile-response": {captcha.TestToken}}))
	loc, _ := url.Parse(resp.Headers["Location"])
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Host != "shop.example" || loc.Path != "/thanks" || !lead.IsUUID(loc.Query().Get("entryId")) {
		t.Fatalf("a person's post = %d Location %q; want 303 to the success page with entryId", resp.StatusCode, resp.Headers["Location"])
	}
	if resp.Headers["Access-Control-Allow-Origin"] != "https://shop.example" {
		t.Errorf("answer to a listed origin has ACAO %q", resp.Headers["Access-Control-Allow-Origin"])
	}
	es := f.entries(t)
	if len(es) != 1 || es[0].ID != loc.Query().Get("entryId") || es[0].Data["name"] != "Zoë — 東京" || len(es[0].Data) != 1 {
		t.Fatalf("entries %+v; want one, named by entryId, holding only the name", es)
	}

	// A bot: the honeypot filled. Answered as a success, nothing stored or kept.
	resp = f.send(t, f.formPost(url.Values{"name": {"spam"}, "_gotcha": {"http://spam.example"}}))
	loc, _ = url.Parse(resp.Headers["Location"])
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/thanks" || !lead.IsUUID(loc.Query().Get("entryId")) {
		t.Errorf("the honeypot's answer = %d %q; want the success redirect", resp.StatusCode, resp.Headers["Location"])
	}
	if n := len(f.entries(t)); n != 1 {
		t.Errorf("%d entries after the honeypot; want still 1", n)
	}

	// No CAPTCHA: 303 to the error page, kept without the widget or honeypot field.
	resp = f.send(t, f.formPost(url.Values{"name": {"Ada"}, "_gotcha": {""}, "cf-turnstile-response": {"forged"}}))
	loc, _ = url.Parse(resp.Headers["Location"])
	rid := loc.Query().Get("rejectedId")
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/oops" || loc.Query().Get("error") != "captcha_failed" || rid == "" {
		t.Fatalf("a failed CAPTCHA = %d %q; want 303 to the error page with captcha_failed and rejectedId", resp.StatusCode, resp.Headers["Location"])
	}
	kept, err := store.Rejected(context.Background(), f.webhookID, rid, time.Now())
	awstest.Must(t, err)
	if kept == nil || strings.Contains(string(kept.Body), "turnstile") || strings.Contains(string(kept.Body), "gotcha") || !strings.Contains(string(kept.Body), "name=Ada") {
		t.Errorf("kept request %+v; want the body without the widget and honeypot fields", kept)
	}

	// Another site's page: 403, nothing kept.
	other := f.formPost(url.Values{"name": {"x"}, "cf-turnstile-response": {captcha.TestToken}})
	other.Headers["origin"], other.Headers["accept"] = "https://evil.example", "application/json"
	if resp := f.send(t, other); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Body, "Origin not allowed") {
		t.Errorf("another origin = %d %s; want 403 Origin not allowed", resp.StatusCode, resp.Body)
	}

	// fetch() from the shop: JSON with the header, CORS preflight first.
	pre := apigw.Request{Headers: map[string]string{"origin": "https://shop.example", "access-control-request-method": "POST",
		"access-control-request-headers": "content-type,x-rocketlead-ingress-token"}, PathParameters: map[string]string{"id": f.webhookID}}
	pre.RequestContext.HTTP.Method = http.MethodOptions
	if resp := f.send(t, pre); resp.StatusCode != http.StatusNoContent || resp.Headers["Access-Control-Allow-Origin"] != "https://shop.example" {
		t.Errorf("preflight = %d %v; want 204 allowing the shop", resp.StatusCode, resp.Headers)
	}
	js := f.post(`{"data":{"email":"ada@example.com","cf-turnstile-response":"`+captcha.TestToken+`"}}`, f.token)
	js.Headers["origin"], js.Headers["idempotency-key"] = "https://shop.example", "order-1"
	first := f.send(t, js)
	again := f.send(t, js)
	if first.StatusCode != http.StatusCreated || again.StatusCode != http.StatusCreated || again.Headers["Idempotent-Replayed"] != "true" ||
		first.Headers["Access-Control-Allow-Origin"] != "https://shop.example" {
		t.Errorf("fetch() = %d %v, repeat %d %v; want 201 with ACAO, then the replay", first.StatusCode, first.Headers, again.StatusCode, again.Headers)
	}

	// A dry run with every setting on answers JSON and stores nothing.
	dry := f.formPost(url.Values{"name": {"Dry"}, "cf-turnstile-response": {captcha.TestToken}})
	dry.QueryStringParameters[apigw.DryRunQueryParameter] = "true"
	if resp := f.send(t, dry); resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"dryRun":true`) {
		t.Errorf("dry run = %d %s; want 200 JSON", resp.StatusCode, resp.Body)
	}
	if n := len(f.entries(t)); n != 2 {
		t.Errorf("%d entries; want 2 (the person's and the fetch's)", n)
	}
}

func TestFormCaptchaProviderUnreachableIs503(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	f := formFixture(t, down.URL)
	resp := f.send(t, f.formPost(url.Values{"name": {"Ada"}, "cf-turnstile-response": {captcha.TestToken}}))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Headers["Retry-After"] == "" {
		t.Errorf("unreachable provider = %d %v; want 503 with Retry-After", resp.StatusCode, resp.Headers)
	}
	if n := len(f.entries(t)); n != 0 {
		t.Errorf("%d entries; want none", n)
	}
}
