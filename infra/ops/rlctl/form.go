package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
	"github.com/rocketlead/ingress-webhooks/pkg/wire"
)

// formFlagSet holds the form settings flags of webhook create and set.
type formFlagSet struct {
	form, secretEnv *string
}

// formFlags declares --form (the API's form object as JSON, or null to remove it) and
// --captcha-secret-env (the environment variable holding the CAPTCHA secret, so that the
// secret is never on a command line).
func formFlags(fs *flag.FlagSet) formFlagSet {
	return formFlagSet{
		form:      fs.String("form", "", `form settings as JSON, e.g. '{"successUrl":"https://…","honeypotField":"_gotcha","allowedOrigins":["https://…"],"captcha":{"provider":"turnstile"}}'; null removes them`),
		secretEnv: fs.String("captcha-secret-env", "", "name of the environment variable holding the CAPTCHA secret key (form.captcha.secret)"),
	}
}

// input returns the form settings given (nil and set for null) and whether any were.
func (f formFlagSet) input(cmd string, getenv func(string) string) (*lead.FormInput, bool, error) {
	if *f.form == "" {
		if *f.secretEnv != "" {
			return nil, false, usageError{fmt.Sprintf("%s: --captcha-secret-env needs --form with a captcha", cmd)}
		}
		return nil, false, nil
	}
	in, err := wire.ParseFormSettings([]byte(*f.form))
	if err != nil {
		return nil, false, err
	}
	if *f.secretEnv != "" {
		if in == nil || in.Captcha == nil {
			return nil, false, usageError{fmt.Sprintf("%s: --captcha-secret-env needs a captcha in --form", cmd)}
		}
		in.Captcha.Secret = getenv(*f.secretEnv)
		if in.Captcha.Secret == "" {
			return nil, false, usageError{fmt.Sprintf("%s: the environment variable %s is empty", cmd, *f.secretEnv)}
		}
	}
	return in, true, nil
}

// formCell sums up form settings in a table cell.
func formCell(f *lead.FormSummary) string {
	if f == nil {
		return "-"
	}
	var parts []string
	if f.SuccessURL != "" {
		parts = append(parts, "redirects")
	}
	if f.HoneypotField != "" {
		parts = append(parts, "honeypot "+f.HoneypotField)
	}
	if len(f.AllowedOrigins) > 0 {
		parts = append(parts, "origins "+strings.Join(f.AllowedOrigins, " "))
	}
	if f.Captcha != nil {
		parts = append(parts, "captcha "+string(f.Captcha.Provider))
	}
	if len(parts) == 0 {
		return "on"
	}
	return strings.Join(parts, "; ")
}
