package lambdacontract

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// logWatch collects, over a function's contract run, what its output must never hold (the
// tokens and lead values of the events, the tokens of the responses) and how many times it
// was invoked, to check the output of the bootstrap itself: what Lambda would send to
// CloudWatch Logs.
type logWatch struct {
	mu          sync.Mutex
	secrets     map[string]string // value → where it came from
	invocations int
	stream      bool
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (w *logWatch) add(v, from string) {
	// Short values, ids and numbers may appear in a line for other reasons.
	if len(v) < 6 || uuidRE.MatchString(v) || strings.Trim(v, "0123456789.-") == "" {
		return
	}
	w.secrets[v] = from
}

// leaves adds every string and number leaf of v.
func (w *logWatch) leaves(v any, from string) {
	switch v := v.(type) {
	case string:
		w.add(v, from)
	case json.Number:
		w.add(v.String(), from)
	case []any:
		for _, e := range v {
			w.leaves(e, from)
		}
	case map[string]any:
		for _, e := range v {
			w.leaves(e, from)
		}
	}
}

// step records one invocation: its event and the function's answer.
func (w *logWatch) step(event, response []byte, fx *fixture) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.secrets == nil {
		w.secrets = map[string]string{}
	}
	w.invocations++
	if fx.Token != "" {
		w.secrets[fx.Token] = "the webhook token"
	}
	var ev struct {
		Headers               map[string]string `json:"headers"`
		QueryStringParameters map[string]string `json:"queryStringParameters"`
		Body                  string            `json:"body"`
		IsBase64Encoded       bool              `json:"isBase64Encoded"`
		Records               []any             `json:"Records"`
	}
	if json.Unmarshal(event, &ev) != nil {
		return
	}
	if ev.Records != nil {
		w.stream = true
		// A stream record's new image is lead data.
		var recs struct {
			Records []struct {
				Dynamodb struct {
					NewImage map[string]any `json:"NewImage"`
				} `json:"dynamodb"`
			} `json:"Records"`
		}
		_ = json.Unmarshal(event, &recs)
		for _, r := range recs.Records {
			if d, ok := r.Dynamodb.NewImage["data"]; ok {
				w.leaves(d, "a stream record's data")
			}
		}
		return
	}
	for k, v := range ev.Headers {
		if strings.EqualFold(k, "x-rocketlead-ingress-token") {
			w.secrets[v] = "the token header"
		}
	}
	if t := ev.QueryStringParameters["token"]; t != "" {
		w.secrets[t] = "the token query parameter"
	}
	body := ev.Body
	if ev.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(body); err == nil {
			body = string(b)
		}
	}
	var parsed map[string]any
	if json.Unmarshal([]byte(body), &parsed) == nil {
		w.leaves(parsed["data"], "the request's data")
		w.leaves(parsed["customFieldData"], "the request's customFieldData")
	} else if form, err := url.ParseQuery(body); err == nil && strings.Contains(body, "=") {
		for k, vs := range form {
			if k == "tableId" || k == "organizationId" {
				continue
			}
			for _, v := range vs {
				w.add(v, "a form field")
			}
		}
	}
	// Tokens a create or rotate answers with.
	var resp struct {
		Body string `json:"body"`
	}
	if json.Unmarshal(response, &resp) == nil {
		var rb map[string]any
		if json.Unmarshal([]byte(resp.Body), &rb) == nil {
			if t, ok := rb["token"].(string); ok {
				w.secrets[t] = "a token in a response"
			}
		}
	}
}

// requestFields are the fields of every request line of an HTTP function (its log line and
// EMF document at once).
var requestFields = []string{"timestamp", "requestId", "status", "FunctionName", "Outcome", "Requests", "Duration", "_aws"}

// checkLogs checks the bootstrap's output over the whole contract run: one line per
// invocation, its log line and metric document at once, the fields of each, and no secret or
// lead value anywhere.
func checkLogs(t *testing.T, out string, w *logWatch) {
	t.Helper()
	for v, from := range w.secrets {
		if strings.Contains(out, v) {
			t.Errorf("the function's output holds %s (%.12q…)", from, v)
		}
	}
	for _, l := range jsonLines(out) {
		m := l.m
		switch kind(m) {
		case "request":
			for _, f := range requestFields {
				if _, ok := m[f]; !ok {
					t.Errorf("request line lacks %q: %s", f, l.text)
				}
			}
		case "stream batch":
			for _, f := range []string{"StreamRecords", "EventsPublished", "StreamRecordAge", "Duration", "_aws"} {
				if _, ok := m[f]; !ok {
					t.Errorf("stream batch line lacks %q: %s", f, l.text)
				}
			}
		}
	}
	if lines, docs := countLogs(out); lines != w.invocations || docs != w.invocations {
		t.Errorf("%d invocations wrote %d request or batch lines and %d metric documents; want one line, both at once, per invocation", w.invocations, lines, docs)
	}
}

type jsonLine struct {
	text string
	m    map[string]any
}

// jsonLines returns the lines of out that are JSON objects.
func jsonLines(out string) []jsonLine {
	var ls []jsonLine
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			ls = append(ls, jsonLine{l, m})
		}
	}
	return ls
}

// countLogs counts the request or batch lines and the EMF documents of out.
func countLogs(out string) (lines, docs int) {
	for _, l := range jsonLines(out) {
		if _, ok := l.m["_aws"]; ok {
			docs++
		}
		if kind(l.m) != "" {
			lines++
		}
	}
	return lines, docs
}

// kind names a function's line: "request" (an HTTP function's), "stream batch" (the
// entry-events function's) or "" (any other line).
func kind(m map[string]any) string {
	switch {
	case m["Requests"] != nil:
		return "request"
	case m["StreamRecords"] != nil:
		return "stream batch"
	}
	return ""
}
