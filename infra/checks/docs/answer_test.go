package docs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ellipsis stands, in a shown answer, for what differs between runs (ids, times).
const ellipsis = "…"

// itemKind is what one piece of an answer is.
type itemKind int

const (
	statusItem itemKind = iota // HTTP/1.1 201 Created
	headerItem                 // Content-Type: application/json
	jsonItem                   // a JSON value
	textItem                   // any other line
)

// item is one comparable piece of an example's output or of its shown answer.
type item struct {
	kind  itemKind
	text  string // the line as printed; for a header, "name: value"
	name  string // a header's name, lower case
	value any    // a JSON item's value (numbers as json.Number)
}

func (it item) String() string {
	if it.kind == jsonItem {
		b, _ := json.Marshal(it.value)
		return string(b)
	}
	return it.text
}

var (
	statusLineRE = regexp.MustCompile(`^HTTP/[0-9.]+ [0-9]{3}\b`)
	headerLineRE = regexp.MustCompile(`^([A-Za-z0-9-]+): ?(.*)$`)
	spacesRE     = regexp.MustCompile(`\s+`)
)

// parseItems splits text into items. In a shown answer (shown is true) a bare … in JSON is
// read as the string "…". A JSON value may be followed on its line by more output (curl -i
// prints a body without a final newline, so the next status line can follow on the same line).
func parseItems(text string, shown bool) ([]item, error) {
	text = strings.ReplaceAll(text, "\r", "")
	var items []item
	inHeaders := false
	for len(text) > 0 {
		line, rest, _ := strings.Cut(text, "\n")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			inHeaders = false
			text = rest
		case trimmed[0] == '{' || trimmed[0] == '[':
			inHeaders = false
			start := strings.Index(text, trimmed[:1])
			v, n, err := decodeJSON(text[start:], shown)
			if err != nil {
				return nil, fmt.Errorf("JSON at %q: %w", firstLine(text[start:]), err)
			}
			items = append(items, item{kind: jsonItem, value: v})
			text = text[start+n:]
		case statusLineRE.MatchString(trimmed):
			items = append(items, item{kind: statusItem, text: trimmed})
			inHeaders = true
			text = rest
		case inHeaders && headerLineRE.MatchString(trimmed):
			m := headerLineRE.FindStringSubmatch(trimmed)
			items = append(items, item{kind: headerItem, text: trimmed, name: strings.ToLower(m[1])})
			text = rest
		default:
			inHeaders = false
			items = append(items, item{kind: textItem, text: spacesRE.ReplaceAllString(trimmed, " ")})
			text = rest
		}
	}
	return items, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 120 {
		line = line[:120] + "…"
	}
	return line
}

// decodeJSON reads the one JSON value at the start of s and returns it with the number of
// bytes it took. Its end is found by matching brackets outside strings, so that a shown
// answer's bare … (not JSON) can be quoted before decoding.
func decodeJSON(s string, shown bool) (any, int, error) {
	n := jsonEnd(s)
	if n < 0 {
		return nil, 0, fmt.Errorf("unclosed %q", s[:1])
	}
	src := s[:n]
	if shown {
		src = quoteBareEllipses(src)
	}
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, 0, err
	}
	return v, n, nil
}

// jsonEnd returns the length of the bracketed value at the start of s, or -1.
func jsonEnd(s string) int {
	depth := 0
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// quoteBareEllipses turns each … outside a JSON string into "…".
func quoteBareEllipses(s string) string {
	var b strings.Builder
	inString, escaped := false, false
	for _, r := range s {
		switch {
		case inString && escaped:
			escaped = false
		case inString && r == '\\':
			escaped = true
		case r == '"':
			inString = !inString
		case !inString && string(r) == ellipsis:
			b.WriteString(`"` + ellipsis + `"`)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// wildcardMatch reports whether got matches want, in which each … stands for any text.
func wildcardMatch(want, got string) bool {
	if !strings.Contains(want, ellipsis) {
		return want == got
	}
	parts := strings.Split(want, ellipsis)
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile(`^(?s)` + strings.Join(parts, ".*") + `$`).MatchString(got)
}

// matchJSON compares a shown JSON value with a real one and returns where they first differ
// ("" when they match).
func matchJSON(want, got any, path string) string {
	if s, ok := want.(string); ok && s == ellipsis {
		return ""
	}
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		if !ok || !wildcardMatch(w, g) {
			return fmt.Sprintf("%s: want %s, got %s", orRoot(path), compact(want), compact(got))
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %s", orRoot(path), compact(got))
		}
		_, open := w[ellipsis]
		for _, k := range sortedKeys(w) {
			if k == ellipsis {
				continue
			}
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s: missing", path+"."+k)
			}
			if d := matchJSON(w[k], gv, path+"."+k); d != "" {
				return d
			}
		}
		if !open {
			for _, k := range sortedKeys(g) {
				if _, ok := w[k]; !ok {
					return fmt.Sprintf("%s: not shown in the README, but answered: %s", path+"."+k, compact(g[k]))
				}
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: want a list, got %s", orRoot(path), compact(got))
		}
		if len(w) == 1 && w[0] == ellipsis {
			return ""
		}
		if len(w) != len(g) {
			return fmt.Sprintf("%s: want %d elements, got %d: %s", orRoot(path), len(w), len(g), compact(got))
		}
		for i := range w {
			if d := matchJSON(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
	default:
		if compact(want) != compact(got) {
			return fmt.Sprintf("%s: want %s, got %s", orRoot(path), compact(want), compact(got))
		}
	}
	return ""
}

func orRoot(path string) string {
	if path == "" {
		return "(the whole value)"
	}
	return strings.TrimPrefix(path, ".")
}

func compact(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// compareAnswer compares what an example printed with the answer the README shows and
// returns a readable account of the first difference ("" when they agree). Headers the
// shown answer does not name are left out of the comparison.
func compareAnswer(shown, output string) (string, error) {
	want, err := parseItems(shown, true)
	if err != nil {
		return "", fmt.Errorf("the README's answer: %w", err)
	}
	all, err := parseItems(output, false)
	if err != nil {
		return fmt.Sprintf("the output is not what the README shows: %v", err), nil
	}
	named := map[string]bool{}
	for _, it := range want {
		if it.kind == headerItem {
			named[it.name] = true
		}
	}
	var got []item
	for _, it := range all {
		if it.kind != headerItem || named[it.name] {
			got = append(got, it)
		}
	}
	for i := 0; i < max(len(want), len(got)); i++ {
		switch {
		case i >= len(want):
			return describe(i, want, got, "the README shows nothing more, but the example printed: "+got[i].String()), nil
		case i >= len(got):
			return describe(i, want, got, "the README shows "+want[i].String()+", but the example printed nothing more"), nil
		}
		if d := matchItem(want[i], got[i]); d != "" {
			return describe(i, want, got, d), nil
		}
	}
	return "", nil
}

func matchItem(want, got item) string {
	if want.kind != got.kind {
		return fmt.Sprintf("want %s\n       got  %s", want, got)
	}
	switch want.kind {
	case jsonItem:
		return matchJSON(want.value, got.value, "")
	case headerItem:
		w := strings.SplitN(want.text, ":", 2)
		g := strings.SplitN(got.text, ":", 2)
		if want.name != got.name || !wildcardMatch(strings.TrimSpace(w[1]), strings.TrimSpace(g[1])) {
			return fmt.Sprintf("want %s\n       got  %s", want, got)
		}
	default:
		if !wildcardMatch(want.text, got.text) {
			return fmt.Sprintf("want %s\n       got  %s", want, got)
		}
	}
	return ""
}

// describe lays the two answers side by side up to the first difference.
func describe(at int, want, got []item, diff string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "answer item %d differs: %s\n", at+1, diff)
	b.WriteString("shown in the README (- where it differs) and printed (+):\n")
	for i := 0; i <= at; i++ {
		mark := " "
		if i == at {
			mark = "-"
		}
		if i < len(want) {
			fmt.Fprintf(&b, "  %s %s\n", mark, want[i])
		}
		if i == at && i < len(got) {
			fmt.Fprintf(&b, "  + %s\n", got[i])
		}
	}
	return b.String()
}
