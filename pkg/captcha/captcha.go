// Package captcha verifies CAPTCHA widget responses with the providers' siteverify APIs
// (Cloudflare Turnstile, Google reCAPTCHA v2 and v3, hCaptcha). All three take the same
// form post (secret, response, remoteip) and answer JSON with "success" (and, for
// reCAPTCHA v3, "score").
package captcha

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// The providers' siteverify endpoints.
var siteverify = map[lead.CaptchaProvider]string{
	lead.Turnstile: "https://challenges.cloudflare.com/turnstile/v0/siteverify",
	lead.ReCAPTCHA: "https://www.google.com/recaptcha/api/siteverify",
	lead.HCaptcha:  "https://api.hcaptcha.com/siteverify",
}

// Timeout bounds one verification, inside the request's deadline (3 s).
const Timeout = 3 * time.Second

// maxAnswerBytes bounds what is read of a provider's answer.
const maxAnswerBytes = 64 << 10

// Verifier calls the providers' siteverify APIs; URL, when set, replaces every provider's
// endpoint (the local runner's and the tests' stand-in).
type Verifier struct {
	Client *http.Client
	URL    string
}

// New returns a verifier with its own HTTP client timed out at Timeout; url "" uses the
// providers' own endpoints.
func New(url string) *Verifier {
	return &Verifier{Client: &http.Client{Timeout: Timeout}, URL: url}
}

// VerifyCaptcha posts the response to the provider's siteverify API. An error means no
// usable answer (unreachable, timed out, a 5xx, an unreadable body); a refused response is
// a verdict with Success false.
func (v *Verifier) VerifyCaptcha(ctx context.Context, c *lead.Captcha, response, remoteIP string) (lead.CaptchaVerdict, error) {
	endpoint := v.URL
	if endpoint == "" {
		endpoint = siteverify[c.Provider]
	}
	if endpoint == "" {
		return lead.CaptchaVerdict{}, fmt.Errorf("verify captcha: unknown provider %q", c.Provider)
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	form := url.Values{"secret": {c.Secret}, "response": {response}}
	if remoteIP != "" {
		form.Set("remoteip", remoteIP)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return lead.CaptchaVerdict{}, fmt.Errorf("verify captcha with %s: %w", c.Provider, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := v.Client.Do(req)
	if err != nil {
		// The error may name the URL; it holds no secret (the secret is in the body).
		return lead.CaptchaVerdict{}, fmt.Errorf("verify captcha with %s: %w", c.Provider, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return lead.CaptchaVerdict{}, fmt.Errorf("verify captcha with %s: status %d", c.Provider, resp.StatusCode)
	}
	var answer struct {
		Success bool     `json:"success"`
		Score   *float64 `json:"score"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes)).Decode(&answer); err != nil {
		return lead.CaptchaVerdict{}, fmt.Errorf("verify captcha with %s: read answer: %w", c.Provider, err)
	}
	verdict := lead.CaptchaVerdict{Success: answer.Success}
	if answer.Score != nil {
		verdict.Scored, verdict.Score = true, *answer.Score
	}
	return verdict, nil
}

// TestToken is the widget response the local stand-in (StandIn) accepts, whatever the
// provider: Cloudflare's own dummy token for Turnstile's test keys.
const TestToken = "XXXX.DUMMY.TOKEN.XXXX"

// StandIn is a siteverify endpoint for the local runner and the tests: it answers success
// (score 0.9) for TestToken and failure for anything else, as the providers' test keys do.
func StandIn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("secret") == "" {
			http.Error(w, `{"success":false,"error-codes":["bad-request"]}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("response") == TestToken {
			_, _ = io.WriteString(w, `{"success":true,"score":0.9,"hostname":"localhost"}`)
			return
		}
		_, _ = io.WriteString(w, `{"success":false,"error-codes":["invalid-input-response"]}`)
	})
}
