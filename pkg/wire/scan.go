package wire

import (
	"encoding/json"
	"fmt"

	"github.com/rocketlead/ingress-webhooks/pkg/lead"
)

// scanner reads one JSON value from bytes encoding/json has already found valid
// (json.Valid): it only has to split them, keep key order and refuse what valid JSON may
// still hold and the service does not take (a duplicate key, nesting deeper than maxDepth).
// It allocates per value, where the token decoder allocates per token several times over:
// a 256 KiB body of a hundred thousand values is read in a few milliseconds.
type scanner struct {
	raw []byte
	i   int
}

// scanPath is where a value sits, built into its text only for an error.
type scanPath struct {
	parent *scanPath
	key    string
	index  int // -1 for an object member
}

func (p *scanPath) String() string {
	if p == nil {
		return ""
	}
	if p.index >= 0 {
		return fmt.Sprintf("%s[%d]", p.parent, p.index)
	}
	return lead.DetailPath(p.parent.String(), p.key)
}

func (s *scanner) skipSpace() {
	for s.i < len(s.raw) {
		switch s.raw[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value reads the value at s.i, as decodeValue would decode it.
func (s *scanner) value(path *scanPath, depth int) (any, error) {
	if depth > maxDepth {
		return nil, lead.Invalid("the body is nested too deeply", lead.Detail{Path: "$", Problem: "nested too deeply"})
	}
	s.skipSpace()
	switch s.raw[s.i] {
	case '{':
		return s.object(path, depth)
	case '[':
		return s.array(path, depth)
	case '"':
		return s.str()
	case 't':
		s.i += len("true")
		return true, nil
	case 'f':
		s.i += len("false")
		return false, nil
	case 'n':
		s.i += len("null")
		return nil, nil
	}
	start := s.i
	for s.i < len(s.raw) && isNumberByte(s.raw[s.i]) {
		s.i++
	}
	return json.Number(s.raw[start:s.i]), nil
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func (s *scanner) object(path *scanPath, depth int) (any, error) {
	s.i++ // {
	obj := &object{values: map[string]any{}}
	for {
		s.skipSpace()
		switch s.raw[s.i] {
		case '}':
			s.i++
			return obj, nil
		case ',':
			s.i++
			s.skipSpace()
		}
		k, err := s.str()
		if err != nil {
			return nil, err
		}
		member := &scanPath{parent: path, key: k, index: -1}
		if _, dup := obj.values[k]; dup {
			return nil, lead.Invalid(fmt.Sprintf("duplicate key %q in the body", k), lead.Detail{Path: member.String(), Problem: "duplicate key"})
		}
		s.skipSpace()
		s.i++ // :
		v, err := s.value(member, depth+1)
		if err != nil {
			return nil, err
		}
		obj.keys = append(obj.keys, k)
		obj.values[k] = v
	}
}

func (s *scanner) array(path *scanPath, depth int) (any, error) {
	s.i++ // [
	arr := []any{}
	for {
		s.skipSpace()
		switch s.raw[s.i] {
		case ']':
			s.i++
			return arr, nil
		case ',':
			s.i++
		}
		v, err := s.value(&scanPath{parent: path, index: len(arr)}, depth+1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
}

// str reads the string at s.i: its bytes as they are when it holds no escape, else decoded
// by encoding/json, exactly as the token decoder decodes it.
func (s *scanner) str() (string, error) {
	start, escaped := s.i, false
	s.i++ // "
	for s.raw[s.i] != '"' {
		if s.raw[s.i] == '\\' {
			escaped = true
			s.i++
		}
		s.i++
	}
	s.i++ // "
	if !escaped {
		return string(s.raw[start+1 : s.i-1]), nil
	}
	var v string
	if err := json.Unmarshal(s.raw[start:s.i], &v); err != nil {
		return "", syntaxError(err)
	}
	return v, nil
}
