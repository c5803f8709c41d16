package localaws

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
)

// empties carries empty lists and maps through minidyn v0.8.2, which loses them: its
// transaction snapshot (core.deepCopyTypesItem) copies an empty L or M as a value of no
// type, so a TransactWriteItems cancelled by any failed condition restores every item of
// the table that held one ({"data":{"tags":[]}}) as a value the engine can no longer read
// or encode: GetItem, Query and Scan of the table fail from then on. (It also answers an
// empty map it never snapshotted as a stray value.)
//
// On the way in, every empty list becomes a one-element list of a marker string and every
// empty map a one-entry map under a marker name; on the way out, the markers become empty
// values again. The marker holds a random nonce of this Server, so no client value can be
// taken for it. What minidyn evaluates sees the marker: a condition on an empty value's
// size() counts it (this project compares no list's or map's size with 0). DynamoDB Local
// and DynamoDB keep empty values themselves: an external engine gets requests unchanged.
type empties struct {
	marker string
}

func newEmpties() empties {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return empties{marker: "\x00localaws-empty-" + hex.EncodeToString(b)}
}

// request returns body with its empty lists and maps marked (body itself when it has none).
func (e empties) request(body []byte) []byte {
	if !bytes.Contains(body, []byte("[]")) && !bytes.Contains(body, []byte("{}")) {
		return body
	}
	return e.rewrite(body, e.mark)
}

// response returns body with the marked values empty again, and whether it had any.
func (e empties) response(body []byte) ([]byte, bool) {
	m, _ := json.Marshal(e.marker)
	if !bytes.Contains(body, m[1:len(m)-1]) {
		return body, false
	}
	return e.rewrite(body, e.unmark), true
}

func (e empties) rewrite(body []byte, fn func(any) any) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return body // not JSON: minidyn answers it as it would
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fn(v)); err != nil {
		return body
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n"))
}

// mark walks a decoded request and marks every attribute value {"L":[]} or {"M":{}}: an
// object whose only member is L or M (no other JSON object of the protocol has that shape,
// and an item never holds an empty object or an array as an attribute).
func (e empties) mark(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if l, ok := x["L"].([]any); ok && len(l) == 0 {
				return map[string]any{"L": []any{map[string]any{"S": e.marker}}}
			}
			if m, ok := x["M"].(map[string]any); ok && len(m) == 0 {
				return map[string]any{"M": map[string]any{e.marker: map[string]any{"NULL": true}}}
			}
		}
		for k, c := range x {
			x[k] = e.mark(c)
		}
	case []any:
		for i, c := range x {
			x[i] = e.mark(c)
		}
	}
	return v
}

// unmark walks a decoded response and turns the marked values empty again.
func (e empties) unmark(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if l, ok := x["L"].([]any); ok && len(l) == 1 {
				if s, ok := l[0].(map[string]any); ok && len(s) == 1 && s["S"] == e.marker {
					return map[string]any{"L": []any{}}
				}
			}
			if m, ok := x["M"].(map[string]any); ok && len(m) == 1 {
				if _, ok := m[e.marker]; ok {
					return map[string]any{"M": map[string]any{}}
				}
			}
		}
		for k, c := range x {
			x[k] = e.unmark(c)
		}
	case []any:
		for i, c := range x {
			x[i] = e.unmark(c)
		}
	}
	return v
}
