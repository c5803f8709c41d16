package lead

import (
	"context"
	"fmt"
	"time"
)

// CaptchaVerifier checks a widget response with the provider's siteverify API. An error
// means the provider could not be asked or did not answer (the request is then a 503);
// a response it refuses is a verdict, not an error.
type CaptchaVerifier interface {
	VerifyCaptcha(ctx context.Context, c *Captcha, response, remoteIP string) (CaptchaVerdict, error)
}

// CaptchaVerdict is a provider's answer: whether the response is valid and, for reCAPTCHA
// v3, its score.
type CaptchaVerdict struct {
	Success bool
	Scored  bool
	Score   float64
}

// ReasonCaptchaFailed is the short reason of the 400 for a missing or refused CAPTCHA.
const ReasonCaptchaFailed = "Captcha failed"

// formScreen is what the form settings took out of a body before it is checked: whether
// the honeypot was filled, and the CAPTCHA widget's response.
type formScreen struct {
	honeypot bool
	response string
}

// screenForm takes the honeypot field and the CAPTCHA widget field out of the body's data
// (neither is ever stored) and says what they held.
func screenForm(f *FormSettings, body *Body) formScreen {
	var sc formScreen
	if f == nil || body == nil {
		return sc
	}
	if name := f.HoneypotField; name != "" {
		if v, ok := body.Data[name]; ok {
			sc.honeypot = !emptyValue(v)
			delete(body.Data, name)
		}
	}
	if f.Captcha != nil {
		name := f.Captcha.Provider.ResponseField()
		if s, ok := body.Data[name].(string); ok {
			sc.response = s
		}
		delete(body.Data, name)
	}
	return sc
}

// emptyValue reports whether a form value is empty: nothing a bot filled in.
func emptyValue(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []string:
		for _, s := range v {
			if s != "" {
				return false
			}
		}
		return true
	}
	return false
}

// decoy is the answer to a submission that filled the honeypot: shaped exactly like a
// success (an entry with a fresh id, the pool's default lead state when it can be read),
// with nothing stored, kept or emitted.
func (s *IngestService) decoy(ctx context.Context, wh *Webhook, input Input, now time.Time) (*IngestResult, error) {
	id, err := s.NewID()
	if err != nil {
		return nil, fmt.Errorf("decoy id for webhook %s: %w", wh.ID, err)
	}
	stateID := ""
	if pool, err := s.pool(ctx, wh, nil); err == nil && pool != nil {
		stateID = pool.DefaultLeadStateID
	}
	if stateID == "" {
		if stateID, err = NewID(); err != nil {
			return nil, fmt.Errorf("decoy lead state for webhook %s: %w", wh.ID, err)
		}
	}
	e := &Entry{ID: id, PoolID: wh.PoolID, OrganizationID: wh.OrganizationID, Data: input.Body.Data,
		CustomFieldData: input.Body.CustomFieldData, LeadStateID: stateID, CreatedAt: now.UTC().Truncate(time.Second)}
	if input.DryRun {
		e.ID, e.CreatedAt = "", time.Time{}
		return &IngestResult{Entry: e, DryRun: true, Honeypot: true, NewSchemaKeys: Schema{}}, nil
	}
	return &IngestResult{Entry: e, Honeypot: true}, nil
}

// checkCaptcha verifies the widget response of a webhook that requires one: missing or
// refused (or, for reCAPTCHA v3, scored below the minimum) is a 400 Captcha failed, kept
// like any 400; a provider that cannot be reached is a 503. The replay of a kept request
// is not checked again: the operator vouches for it, and a response is good only once.
func (s *IngestService) checkCaptcha(ctx context.Context, wh *Webhook, input Input, response string) error {
	c := wh.Form.Captcha
	switch {
	case input.RejectedID != "":
		return nil
	case response == "":
		return captchaFailed("the form sent no CAPTCHA response; complete the CAPTCHA and submit again")
	case s.Captcha == nil || c.Secret == "":
		return fmt.Errorf("webhook %s requires a CAPTCHA, but no verifier or secret is configured", wh.ID)
	}
	v, err := s.Captcha.VerifyCaptcha(ctx, c, response, input.RemoteIP)
	if err != nil {
		return &Error{Code: EUNAVAILABLE, Reason: DefaultReason(EUNAVAILABLE),
			Message: "the CAPTCHA provider could not be reached; nothing was stored; retry after the time in the Retry-After header"}
	}
	if !v.Success || v.Scored && v.Score < c.MinScore {
		return captchaFailed("the CAPTCHA was not solved or has expired; complete it again and submit")
	}
	return nil
}

func captchaFailed(message string) *Error {
	return &Error{Code: EINVALID, Reason: ReasonCaptchaFailed, Message: message,
		Details: []Detail{{Path: "captcha", Problem: "missing or not verified"}}}
}

// FormSettings are the form settings of the webhook with the id, for a CORS preflight,
// which carries no token: nothing but what a browser may try is learnt from them. An
// unknown webhook is a 404.
func (s *IngestService) FormSettings(ctx context.Context, webhookID string) (*FormSettings, error) {
	wh, err := s.LookUp(ctx, webhookID)
	if err != nil {
		return nil, err
	}
	return wh.Form, nil
}
