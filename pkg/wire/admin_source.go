package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// sourceField reads a native source field of a create or update body (source, mapping,
// signingSecret) into in; ok is false for any other field.
func sourceField(k string, v any, in *lead.SourceInput) (details []lead.Detail, ok bool) {
	switch k {
	case "source":
		s, isString := v.(string)
		if !isString {
			return []lead.Detail{{Path: k, Problem: "must be a string, got " + kindOf(v)}}, true
		}
		in.Source = &s
	case "mapping":
		m := map[string]string{}
		switch x := v.(type) {
		case nil:
		case *object:
			for _, mk := range x.keys {
				p, isString := x.values[mk].(string)
				if !isString {
					details = append(details, lead.Detail{Path: lead.DetailPath("mapping", mk), Problem: "must be a JSON Pointer string, got " + kindOf(x.values[mk])})
					continue
				}
				m[mk] = p
			}
		default:
			return []lead.Detail{{Path: k, Problem: "must be an object of JSON Pointers or null, got " + kindOf(v)}}, true
		}
		in.Mapping = &m
	case "signingSecret":
		s, isString := v.(string)
		if !isString {
			return []lead.Detail{{Path: k, Problem: "must be a string, got " + kindOf(v)}}, true
		}
		in.SigningSecret = &s
	default:
		return nil, false
	}
	return details, true
}

// ParseSigningSecret parses the optional body of PUT /admin/ingress_webhooks/{id}/signing-secret:
// empty (a secret is generated), or one JSON object with an optional signingSecret (the
// vendor's) and an optional gracePeriodSeconds (0 to 604800) for the replaced one.
func ParseSigningSecret(webhookID string, raw []byte) (lead.SecretRotation, error) {
	in := lead.SecretRotation{WebhookID: webhookID}
	obj, err := adminObject(raw, true)
	if err != nil || obj == nil {
		return in, err
	}
	var details []lead.Detail
	maxGrace := int64(lead.MaxGracePeriod / time.Second)
	for _, k := range obj.keys {
		v := obj.values[k]
		switch k {
		case "signingSecret":
			s, ok := v.(string)
			if !ok || s == "" {
				details = append(details, lead.Detail{Path: k, Problem: "must be a non-empty string (leave it out to have one generated)"})
				continue
			}
			in.Secret = s
		case "gracePeriodSeconds":
			n, ok := v.(json.Number)
			secs, perr := int64(0), error(nil)
			if ok {
				secs, perr = strconv.ParseInt(string(n), 10, 64)
			}
			if !ok || perr != nil || secs < 0 || secs > maxGrace {
				details = append(details, lead.Detail{Path: k, Problem: fmt.Sprintf("must be a whole number of seconds from 0 to %d", maxGrace)})
				continue
			}
			in.GracePeriod = time.Duration(secs) * time.Second
		default:
			details = append(details, lead.Detail{Path: lead.DetailPath("", k), Problem: "unknown field"})
		}
	}
	if len(details) > 0 {
		return in, lead.InvalidDetails(details...)
	}
	return in, nil
}
