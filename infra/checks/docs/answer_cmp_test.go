package docs

import (
	"strings"
	"testing"
)

// curlOutput is what curl -si prints for two answers: CRLF headers, bodies without a final
// newline.
const curlOutput = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nDate: Thu, 03 Dec 2026 08:13:37 GMT\r\n\r\n" +
	`{"id":"01a23af7-5530-7aa8-8a45-c7ba41fcdef0","data":{"age":36,"email":"ada@example.com"},"createdAt":"2026-12-03T08:13:37Z"}` +
	"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n" +
	`{"error":"Validation failed","message":"type mismatch — budget expected string, got number","typeErrors":{"budget":{"expected":"string","got":"number"}},"requestId":"8e616dae"}` + "\n" +
	"KEY         TYPE\nbudget      number\n"

func TestCompareAnswer(t *testing.T) {
	tests := []struct {
		name      string
		shown     string
		wantMatch bool
		wantIn    string // a part of the account of the difference
	}{
		{"the same answers with … for ids and times", `HTTP/1.1 201 Created
{"id":"…","data":{"age":36,"email":"ada@example.com"},"createdAt":"…"}
HTTP/1.1 400 Bad Request
{"error":"Validation failed","message":"type mismatch — …","typeErrors":{"budget":{"expected":"string","got":"number"}},"requestId":"…"}
KEY TYPE
budget number`, true, ""},
		{"pretty JSON, bare … and a shown header", `HTTP/1.1 201 Created
Content-Type: application/json

{
  "id": …,
  "data": {"age": 36, "email": "ada@example.com"},
  "createdAt": …
}
HTTP/1.1 400 Bad Request
Content-Type: application/json
{"error":"Validation failed","…":…}
KEY TYPE
budget number`, true, ""},
		{"another status", `HTTP/1.1 200 OK
{"id":"…","data":{"age":36,"email":"ada@example.com"},"createdAt":"…"}`, false, "want HTTP/1.1 200 OK"},
		{"another value", `HTTP/1.1 201 Created
{"id":"…","data":{"age":"36","email":"ada@example.com"},"createdAt":"…"}`, false, `data.age: want "36", got 36`},
		{"a field the README does not show", `HTTP/1.1 201 Created
{"id":"…","data":{"email":"ada@example.com"},"createdAt":"…"}`, false, "data.age: not shown in the README"},
		{"a field the README shows but the answer lacks", `HTTP/1.1 201 Created
{"id":"…","data":{"age":36,"email":"ada@example.com"},"createdAt":"…","leadStateId":"…"}`, false, "leadStateId: missing"},
		{"a header with another value", `HTTP/1.1 201 Created
Content-Type: text/html
{"id":"…","data":{"age":36,"email":"ada@example.com"},"createdAt":"…"}`, false, "want Content-Type: text/html"},
		{"a line of a table", `HTTP/1.1 201 Created
{"id":"…","data":{"age":36,"email":"ada@example.com"},"createdAt":"…"}
HTTP/1.1 400 Bad Request
{"error":"Validation failed","…":…}
KEY TYPE
budget string`, false, "want budget string"},
		{"less output than shown", curlOutputShownPlus("\nmore"), false, "printed nothing more"},
		{"more output than shown", `HTTP/1.1 201 Created
{"id":"…","data":{"age":36,"email":"ada@example.com"},"createdAt":"…"}`, false, "the README shows nothing more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diff, err := compareAnswer(tt.shown, curlOutput)
			if err != nil {
				t.Fatalf("compareAnswer: %v", err)
			}
			if (diff == "") != tt.wantMatch {
				t.Fatalf("compareAnswer(%q) = %q; want match %v", tt.shown, diff, tt.wantMatch)
			}
			if !strings.Contains(diff, tt.wantIn) {
				t.Errorf("compareAnswer(%q) = %q; want it to contain %q", tt.shown, diff, tt.wantIn)
			}
		})
	}
}

func curlOutputShownPlus(extra string) string {
	return `HTTP/1.1 201 Created
{"id":"…","data":{"age":36,"email":"ada@example.com"},"createdAt":"…"}
HTTP/1.1 400 Bad Request
{"error":"Validation failed","…":…}
KEY TYPE
budget number` + extra
}

func TestExamplesReadsMarkedBlocksAndTheirAnswers(t *testing.T) {
	md := "text\n<!-- doc-test: first -->\n```sh\ncurl \"$URL\"\n```\n```\nHTTP/1.1 201 Created\n```\n\n<!-- doc-test: second -->\n```sh\nX=1\n```\nnot an answer\n"
	exs, err := examples(md)
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 2 || exs[0].name != "first" || exs[0].script != `curl "$URL"` || !exs[0].shown ||
		exs[0].answer != "HTTP/1.1 201 Created" || exs[1].name != "second" || exs[1].shown {
		t.Errorf("examples = %+v", exs)
	}
	for _, bad := range []string{
		"<!-- doc-test: x -->\ntext\n",
		"<!-- doc-test: x -->\n```sh\nunclosed\n",
		"<!-- doc-test: x -->\n```sh\na\n```\n<!-- doc-test: x -->\n```sh\nb\n```\n",
		"<!-- doc-test x -->\n```sh\na\n```\n",
	} {
		if _, err := examples(bad); err == nil {
			t.Errorf("examples(%q) = nil error; want one", bad)
		}
	}
}

func TestSlugIsGitHubsAnchor(t *testing.T) {
	for in, want := range map[string]string{
		"Quick start":                       "quick-start",
		"The pool's schema":                 "the-pools-schema",
		"An HTML form, or a form vendor":    "an-html-form-or-a-form-vendor",
		"Load with faults: `make loadtest`": "load-with-faults-make-loadtest",
		"Deploy with `sam deploy`":          "deploy-with-sam-deploy",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q; want %q", in, got, want)
		}
	}
}
