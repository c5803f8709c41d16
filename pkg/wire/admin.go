package wire

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// MaxAdminBodyBytes is the largest management request body accepted.
const MaxAdminBodyBytes = 16 << 10

// ParseCreateWebhook parses the body of a create request strictly: one JSON object with the
// string fields organizationId, tableId and name, an optional boolean allowQueryToken, the
// optional native source settings (source, mapping, signingSecret), the optional form
// settings, the optional rateLimit and rateBurst, and nothing else.
func ParseCreateWebhook(raw []byte) (lead.CreateWebhookInput, error) {
	obj, err := adminObject(raw, false)
	if err != nil {
		return lead.CreateWebhookInput{}, err
	}
	var in lead.CreateWebhookInput
	fields := map[string]*string{"organizationId": &in.OrganizationID, "tableId": &in.PoolID, "name": &in.Name}
	var details []lead.Detail
	for _, k := range obj.keys {
		if d, ok := sourceField(k, obj.values[k], &in.SourceInput); ok {
			details = append(details, d...)
			continue
		}
		if d, ok := rateField(k, obj.values[k], &in.RateInput); ok {
			details = append(details, d...)
			continue
		}
		if k == "allowQueryToken" {
			b, ok := obj.values[k].(bool)
			if !ok {
				details = append(details, lead.Detail{Path: k, Problem: "must be true or false, got " + kindOf(obj.values[k])})
			}
			in.AllowQueryToken = b
			continue
		}
		if k == "form" {
			var d []lead.Detail
			in.Form, d = parseFormSettings(obj.values[k])
			details = append(details, d...)
			continue
		}
		dst, known := fields[k]
		if !known {
			details = append(details, lead.Detail{Path: lead.DetailPath("", k), Problem: "unknown field"})
			continue
		}
		s, ok := obj.values[k].(string)
		if !ok {
			details = append(details, lead.Detail{Path: lead.DetailPath("", k), Problem: "must be a string, got " + kindOf(obj.values[k])})
			continue
		}
		*dst = s
	}
	for _, k := range []string{"organizationId", "tableId", "name"} {
		if _, ok := obj.values[k]; !ok {
			details = append(details, lead.Detail{Path: k, Problem: "required"})
		}
	}
	if len(details) > 0 {
		return lead.CreateWebhookInput{}, lead.InvalidDetails(details...)
	}
	return in, nil
}

// ParseRotateWebhook parses the optional body of a rotate request: empty, or one JSON object
// with an optional integer gracePeriodSeconds (0 to 604800).
func ParseRotateWebhook(webhookID string, raw []byte) (lead.RotateWebhookInput, error) {
	in := lead.RotateWebhookInput{WebhookID: webhookID}
	obj, err := adminObject(raw, true)
	if err != nil || obj == nil {
		return in, err
	}
	var details []lead.Detail
	for _, k := range obj.keys {
		if k != "gracePeriodSeconds" {
			details = append(details, lead.Detail{Path: lead.DetailPath("", k), Problem: "unknown field"})
			continue
		}
		n, ok := obj.values[k].(json.Number)
		secs, perr := int64(0), error(nil)
		if ok {
			secs, perr = strconv.ParseInt(string(n), 10, 64)
		}
		if !ok || perr != nil || secs < 0 || secs > int64(lead.MaxGracePeriod/time.Second) {
			details = append(details, lead.Detail{Path: "gracePeriodSeconds",
				Problem: fmt.Sprintf("must be a whole number of seconds from 0 to %d", int64(lead.MaxGracePeriod/time.Second))})
			continue
		}
		in.GracePeriod = time.Duration(secs) * time.Second
	}
	if len(details) > 0 {
		return in, lead.InvalidDetails(details...)
	}
	return in, nil
}

// ParseUpdateWebhook parses the body of an update request strictly: one JSON object with
// the boolean allowQueryToken, the native source settings (source, mapping, signingSecret),
// the form settings (an object, or null to remove them) and rateLimit and rateBurst (whole
// numbers, null for the default), any of them, and nothing else.
func ParseUpdateWebhook(webhookID string, raw []byte) (lead.UpdateWebhookInput, error) {
	in := lead.UpdateWebhookInput{WebhookID: webhookID}
	obj, err := adminObject(raw, false)
	if err != nil {
		return in, err
	}
	var details []lead.Detail
	for _, k := range obj.keys {
		if d, ok := sourceField(k, obj.values[k], &in.SourceInput); ok {
			details = append(details, d...)
			continue
		}
		if k == "form" {
			var d []lead.Detail
			in.Form, d = parseFormSettings(obj.values[k])
			in.SetForm, details = true, append(details, d...)
			continue
		}
		if d, ok := rateField(k, obj.values[k], &in.RateInput); ok {
			details = append(details, d...)
			continue
		}
		if k != "allowQueryToken" {
			details = append(details, lead.Detail{Path: lead.DetailPath("", k), Problem: "unknown field"})
			continue
		}
		b, ok := obj.values[k].(bool)
		if !ok {
			details = append(details, lead.Detail{Path: k, Problem: "must be true or false, got " + kindOf(obj.values[k])})
			continue
		}
		in.AllowQueryToken = &b
	}
	if len(details) > 0 {
		return in, lead.InvalidDetails(details...)
	}
	return in, nil
}

// rateField reads rateLimit or rateBurst (ok false for any other key): a whole number,
// or null for the default (stored as 0); the service judges the range.
func rateField(k string, v any, in *lead.RateInput) (details []lead.Detail, ok bool) {
	var dst **int
	switch k {
	case "rateLimit":
		dst = &in.RateLimit
	case "rateBurst":
		dst = &in.RateBurst
	default:
		return nil, false
	}
	if v == nil {
		zero := 0
		*dst = &zero
		return nil, true
	}
	num, isNum := v.(json.Number)
	n, err := strconv.ParseInt(string(num), 10, 32)
	if !isNum || err != nil || n < 1 {
		got := kindOf(v)
		if isNum {
			got = string(num)
		}
		return []lead.Detail{{Path: k, Problem: "must be a whole number, at least 1 (null: the default), got " + got}}, true
	}
	i := int(n)
	*dst = &i
	return nil, true
}

// ParseListWebhooks reads the query of a list request: organizationId (required), limit and
// cursor; any other parameter is a 400.
func ParseListWebhooks(query map[string]string) (lead.ListWebhooksInput, error) {
	var in lead.ListWebhooksInput
	var details []lead.Detail
	for _, k := range slices.Sorted(maps.Keys(query)) {
		v := query[k]
		switch k {
		case "organizationId":
			in.OrganizationID = v
		case "cursor":
			in.Cursor = v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > lead.MaxListLimit {
				details = append(details, lead.Detail{Path: "limit", Problem: fmt.Sprintf("must be a whole number from 1 to %d", lead.MaxListLimit)})
				continue
			}
			in.Limit = n
		default:
			details = append(details, lead.Detail{Path: lead.DetailPath("", k), Problem: "unknown query parameter"})
		}
	}
	if _, ok := query["organizationId"]; !ok {
		details = append(details, lead.Detail{Path: "organizationId", Problem: "required query parameter"})
	}
	if len(details) > 0 {
		return in, lead.InvalidDetails(details...)
	}
	return in, nil
}

// adminObject decodes a management body strictly into one JSON object. An empty body is
// nil when optional is true.
func adminObject(raw []byte, optional bool) (*object, error) {
	return adminObjectWithin(raw, optional, MaxAdminBodyBytes)
}

// adminObjectWithin is adminObject for a body of at most max bytes.
func adminObjectWithin(raw []byte, optional bool, max int) (*object, error) {
	if len(raw) > max {
		return nil, lead.Errorf(lead.ETOOLARGE, "the body is larger than %d KiB", max>>10)
	}
	if !utf8.Valid(raw) {
		return nil, lead.Invalid("the body is not valid UTF-8", lead.Detail{Path: "$", Problem: "invalid UTF-8"})
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		if optional {
			return nil, nil
		}
		return nil, lead.Invalid("the body is empty; send a JSON object", lead.Detail{Path: "$", Problem: "empty body"})
	}
	v, err := decodeStrict(raw)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(*object)
	if !ok {
		return nil, lead.Invalid("the body must be a JSON object", lead.Detail{Path: "$", Problem: "must be an object, got " + kindOf(v)})
	}
	return obj, nil
}
