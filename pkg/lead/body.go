package lead

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits bound what one request may carry; the defaults are those the API documents.
type Limits struct {
	MaxBodyBytes      int // after base64 decoding
	MaxKeysPerRequest int // data keys plus customFieldData keys
	MaxKeyBytes       int
	MaxSchemaKeys     int
	MaxListElements   int
	MaxItemBytes      int // DynamoDB's item size limit
}

// DefaultLimits returns the documented limits: a 256 KiB body, 500 keys per request, keys of
// 1 to 256 bytes, 1,000 keys per pool schema, 1,000 elements per string list and DynamoDB's
// 400 KB item.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:      256 << 10,
		MaxKeysPerRequest: 500,
		MaxKeyBytes:       256,
		MaxSchemaKeys:     1000,
		MaxListElements:   1000,
		MaxItemBytes:      400 * 1024,
	}
}

// Body is a parsed ingest request body. Data values are string, Number (canonical),
// bool, []string or nil; CustomFieldData values are string, Number, bool, []string or nil.
type Body struct {
	Data            map[string]any
	CustomFieldData map[string]any
}

// DetailPath returns the path of key inside parent as details name it: parent.key for a
// plain key, parent["key"] (JSON-quoted) otherwise; parent "" is the body itself.
func DetailPath(parent, key string) string {
	simple := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			simple = false
			break
		}
	}
	var seg string
	if simple {
		seg = key
		if parent != "" {
			seg = "." + key
		}
	} else {
		seg = "[" + quoteJSON(key) + "]"
	}
	return parent + seg
}

// KindOf names the JSON kind of a decoded value (string, number, boolean, null, array…) for
// error details.
func KindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case Number:
		return "number"
	case []any:
		return "array"
	case []string:
		return "array of strings"
	}
	return fmt.Sprintf("%T", v)
}

// namedInMessage is how many problems a message names.
const namedInMessage = 3

// validationMessage is the message of a validation error: its only problem, or how many
// there are (count) and the first few of those listed.
func validationMessage(listed []Detail, count int) string {
	if count == 1 && len(listed) == 1 {
		return fmt.Sprintf("%s %s", listed[0].Path, listed[0].Problem)
	}
	named := make([]string, 0, namedInMessage)
	for _, d := range listed[:min(len(listed), namedInMessage)] {
		named = append(named, d.Path+" "+d.Problem)
	}
	msg := fmt.Sprintf("%d problems in the body, first: %s", count, strings.Join(named, "; "))
	if count > len(named) {
		msg += "; …"
	}
	return msg
}

// quoteJSON returns s as a JSON string literal, escaped exactly as encoding/json escapes it
// (HTML-safe, invalid UTF-8 as U+FFFD), so paths read the same wherever they are built.
func quoteJSON(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\b':
				b.WriteString(`\b`)
			case c == '\f':
				b.WriteString(`\f`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			b.WriteString(`\u202`)
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}
