package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// parseJSON parses raw, a leading UTF-8 BOM skipped, as an ingest body; declared is the
// media type sent ("" for JSON), named in the message of a body that is not valid JSON.
func parseJSON(raw []byte, declared string, lim lead.Limits) (*lead.Body, error) {
	b, err := ParseBody(withoutBOM(raw), lim)
	var e *lead.Error
	switch {
	case !errors.As(err, &e) || len(e.Details) != 1 || e.Details[0].Path != "$":
	case e.Details[0].Problem == "invalid JSON":
		e.Message = notJSON(raw, declared, e.Message)
	case declared == MediaURLEncoded:
		// A JSON array or an object with something after it, under curl -d's form header.
		e.Message = "the body was read as JSON (it starts with { or [ under Content-Type " + MediaURLEncoded + "): " + e.Message
	case e.Details[0].Problem == "invalid UTF-8":
		e.Message = "the body was read as JSON (" + readAs(declared) + ") and is not valid UTF-8; send it as UTF-8"
	}
	return b, err
}

// readAs says how a body read as JSON was declared, for messages.
func readAs(declared string) string {
	switch declared {
	case "":
		return "Content-Type " + MediaJSON
	case MediaText:
		return "Content-Type " + MediaText + ", which is read as JSON"
	case MediaURLEncoded:
		return "it starts with { or [ under Content-Type " + MediaURLEncoded
	}
	return "Content-Type " + declared
}

// notJSON rewrites the message of a body that does not parse as JSON so that it names the
// type the body was read as and the fix.
func notJSON(raw []byte, declaredType, msg string) string {
	msg = strings.Replace(msg, "the body is not valid JSON", "the body was read as JSON ("+readAs(declaredType)+") and is not valid JSON", 1)
	switch {
	case looksMultipart(raw):
		return msg + "; it is a multipart form: set Content-Type to " + MediaMultipart + " with its boundary, or send JSON"
	case looksURLEncoded(raw):
		return msg + "; it looks like a form: set Content-Type to " + MediaURLEncoded + ", or send JSON"
	}
	return msg + `; send a JSON object like {"data": {"email": "ada@example.com"}}`
}

// looksURLEncoded reports whether raw reads like name=value pairs rather than JSON.
func looksURLEncoded(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || strings.ContainsRune(`{["`, rune(t[0])) {
		return false
	}
	name, _, ok := bytes.Cut(t, []byte("="))
	return ok && len(name) > 0 && !bytes.ContainsAny(name, " \t\r\n{}\"")
}

// DecodeBody returns the bytes of a body, decoding strict standard base64 when isBase64 is
// set. A body of more than max bytes after decoding is an ETOOLARGE *lead.Error, checked
// before decoding where the encoded length already says so; invalid base64 is EINVALID.
func DecodeBody(body string, isBase64 bool, max int) ([]byte, error) {
	if !isBase64 {
		if len(body) > max {
			return nil, tooLarge(max)
		}
		return []byte(body), nil
	}
	if base64.StdEncoding.DecodedLen(len(body)) > max+2 {
		return nil, tooLarge(max)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(body)
	if err != nil {
		return nil, lead.Invalid("the body is not valid base64", lead.Detail{Path: "$", Problem: "invalid base64"})
	}
	if len(raw) > max {
		return nil, tooLarge(max)
	}
	return raw, nil
}

func tooLarge(max int) *lead.Error {
	return lead.Errorf(lead.ETOOLARGE, "the body is larger than %d KiB", max>>10)
}

// dryRunBody is the answer to a dry run: the entry as it would be stored, without the id and
// time it would get, and the schema keys it would lock.
type dryRunBody struct {
	DryRun        bool           `json:"dryRun"`
	Entry         dryRunEntry    `json:"entry"`
	NewSchemaKeys map[string]any `json:"newSchemaKeys"`
}

type dryRunEntry struct {
	PoolID          string         `json:"tableId"`
	OrganizationID  string         `json:"organizationId"`
	Data            map[string]any `json:"data"`
	CustomFieldData map[string]any `json:"customFieldData,omitempty"`
	LeadStateID     string         `json:"leadStateId"`
}

// DryRunJSON renders the 200 body of a dry run:
// {"dryRun": true, "entry": <entry without id and createdAt>, "newSchemaKeys": {key: type}}.
func DryRunJSON(e *lead.Entry, newKeys lead.Schema) ([]byte, error) {
	keys := make(map[string]any, len(newKeys))
	for k, t := range newKeys {
		keys[k] = string(t)
	}
	b, err := json.Marshal(dryRunBody{
		DryRun:        true,
		Entry:         dryRunEntry{PoolID: e.PoolID, OrganizationID: e.OrganizationID, Data: e.Data, CustomFieldData: e.CustomFieldData, LeadStateID: e.LeadStateID},
		NewSchemaKeys: keys,
	})
	if err != nil {
		return nil, fmt.Errorf("render dry run for pool %s: %w", e.PoolID, err)
	}
	return b, nil
}

// EntryJSON renders an entry as the API returns it: the 201 body of an ingest and the
// entry of an event.
func EntryJSON(e *lead.Entry) ([]byte, error) {
	b, err := json.Marshal(ViewEntry(e))
	if err != nil {
		return nil, fmt.Errorf("render entry %s: %w", e.ID, err)
	}
	return b, nil
}
