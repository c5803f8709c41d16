package wire

import (
	"fmt"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// MaxSchemaPatchBytes is the largest schema change accepted: room for a whole schema of
// 1,000 keys of up to 256 bytes, which a management body's usual limit would not hold.
const MaxSchemaPatchBytes = 384 << 10

// ParseSchemaPatch parses the body of a schema change strictly: one JSON object with an
// optional "set" object of key → type string and an optional "unlock" array of key
// strings, and nothing else. The keys and types themselves are checked by the service.
func ParseSchemaPatch(poolID string, raw []byte) (lead.SchemaPatch, error) {
	in := lead.SchemaPatch{PoolID: poolID}
	obj, err := adminObjectWithin(raw, false, MaxSchemaPatchBytes)
	if err != nil {
		return in, err
	}
	var details []lead.Detail
	for _, k := range obj.keys {
		switch v := obj.values[k]; k {
		case "set":
			set, ok := v.(*object)
			if !ok {
				details = append(details, lead.Detail{Path: "set", Problem: "must be an object of key to type, got " + kindOf(v)})
				continue
			}
			in.Set = lead.Schema{}
			for _, key := range set.keys {
				t, ok := set.values[key].(string)
				if !ok {
					details = append(details, lead.Detail{Path: lead.DetailPath("set", key), Problem: "must be a type name (string, number, boolean or string[]), got " + kindOf(set.values[key])})
					continue
				}
				in.Set[key] = lead.FieldType(t)
			}
		case "unlock":
			list, ok := v.([]any)
			if !ok {
				details = append(details, lead.Detail{Path: "unlock", Problem: "must be an array of keys, got " + kindOf(v)})
				continue
			}
			for i, x := range list {
				key, ok := x.(string)
				if !ok {
					details = append(details, lead.Detail{Path: fmt.Sprintf("unlock[%d]", i), Problem: "must be a string, got " + kindOf(x)})
					continue
				}
				in.Unlock = append(in.Unlock, key)
			}
		default:
			details = append(details, lead.Detail{Path: lead.DetailPath("", k), Problem: `unknown field; use "set" and "unlock"`})
		}
	}
	if len(obj.keys) == 0 {
		details = append(details, lead.Detail{Path: "$", Problem: `name keys to "set" or "unlock"`})
	}
	if len(details) > 0 {
		return in, lead.InvalidDetails(details...)
	}
	return in, nil
}
