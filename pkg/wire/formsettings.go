package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// parseFormSettings reads the form object of a create or update body: successUrl,
// errorUrl and honeypotField strings, allowedOrigins a list of strings, captcha an object
// {provider, secret[, minScore]}; anything else is named in the details. null is nil.
func parseFormSettings(v any) (*lead.FormInput, []lead.Detail) {
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(*object)
	if !ok {
		return nil, []lead.Detail{{Path: "form", Problem: "must be an object or null, got " + kindOf(v)}}
	}
	in := &lead.FormInput{}
	strs := map[string]*string{"successUrl": &in.SuccessURL, "errorUrl": &in.ErrorURL, "honeypotField": &in.HoneypotField}
	var details []lead.Detail
	for _, k := range obj.keys {
		path := lead.DetailPath("form", k)
		switch val := obj.values[k]; {
		case strs[k] != nil:
			s, ok := val.(string)
			if !ok {
				details = append(details, lead.Detail{Path: path, Problem: "must be a string, got " + kindOf(val)})
			}
			*strs[k] = s
		case k == "allowedOrigins":
			list, ok := val.([]any)
			if !ok {
				details = append(details, lead.Detail{Path: path, Problem: "must be a list of origins, got " + kindOf(val)})
			}
			for i, e := range list {
				s, ok := e.(string)
				if !ok {
					details = append(details, lead.Detail{Path: fmt.Sprintf("%s[%d]", path, i), Problem: "must be a string"})
				}
				in.AllowedOrigins = append(in.AllowedOrigins, s)
			}
		case k == "captcha":
			c, d := parseCaptchaSettings(val)
			in.Captcha, details = c, append(details, d...)
		default:
			details = append(details, lead.Detail{Path: path, Problem: "unknown field"})
		}
	}
	return in, details
}

// parseCaptchaSettings reads form.captcha: {provider, secret[, minScore]}; null is none.
func parseCaptchaSettings(v any) (*lead.CaptchaInput, []lead.Detail) {
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(*object)
	if !ok {
		return nil, []lead.Detail{{Path: "form.captcha", Problem: "must be an object {provider, secret[, minScore]}, got " + kindOf(v)}}
	}
	c := &lead.CaptchaInput{}
	var details []lead.Detail
	for _, k := range obj.keys {
		path := lead.DetailPath("form.captcha", k)
		val := obj.values[k]
		switch k {
		case "provider", "secret":
			s, ok := val.(string)
			if !ok {
				details = append(details, lead.Detail{Path: path, Problem: "must be a string, got " + kindOf(val)})
			}
			if k == "provider" {
				c.Provider = s
			} else {
				c.Secret = s
			}
		case "minScore":
			n, ok := val.(json.Number)
			f, err := strconv.ParseFloat(string(n), 64)
			if !ok || err != nil {
				details = append(details, lead.Detail{Path: path, Problem: "must be a number from 0.0 to 1.0"})
				continue
			}
			c.MinScore = &f
		default:
			details = append(details, lead.Detail{Path: path, Problem: "unknown field"})
		}
	}
	return c, details
}

// ParseFormSettings parses form settings given on their own, as the operator CLI takes
// them: the API's form object, or null (nil) to remove them.
func ParseFormSettings(raw []byte) (*lead.FormInput, error) {
	if strings.TrimSpace(string(raw)) == "null" {
		return nil, nil
	}
	obj, err := adminObject(raw, false)
	if err != nil {
		return nil, err
	}
	in, details := parseFormSettings(obj)
	if len(details) > 0 {
		return nil, lead.InvalidDetails(details...)
	}
	return in, nil
}
