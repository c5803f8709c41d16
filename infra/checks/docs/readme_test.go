package docs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport"
)

const repoRoot = "../../.."

// The documents and the most lines README.md may have: it is for the people who send leads
// and run the service; the reference for the people who change the code lives beside it.
const (
	readmeFile     = repoRoot + "/README.md"
	readmeMaxLines = 550
)

// docs are the Markdown files whose headings and links are checked.
var docs = []string{"README.md", "infra/README.md", "infra/ops/RUNBOOK.md"}

// example is one marked shell block of the README and the answer it shows.
type example struct {
	name   string
	line   int // of the marker, 1-based
	script string
	answer string // "" when the README shows none: then only the exit status counts
	shown  bool
}

var markerRE = regexp.MustCompile(`^<!-- doc-test: ([a-z0-9-]+) -->$`)

// examples reads the marked blocks of a Markdown text, in order.
func examples(md string) ([]example, error) {
	lines := strings.Split(md, "\n")
	var out []example
	seen := map[string]bool{}
	for i := 0; i < len(lines); i++ {
		m := markerRE.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			if strings.Contains(lines[i], "doc-test") && strings.HasPrefix(strings.TrimSpace(lines[i]), "<!--") {
				return nil, fmt.Errorf("line %d: malformed marker %q (want <!-- doc-test: name -->)", i+1, lines[i])
			}
			continue
		}
		ex := example{name: m[1], line: i + 1}
		if seen[ex.name] {
			return nil, fmt.Errorf("line %d: a second example named %q", i+1, ex.name)
		}
		seen[ex.name] = true
		if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "```sh" {
			return nil, fmt.Errorf("line %d: the marker of %q is not followed by a ```sh block", i+1, ex.name)
		}
		body, next, err := fenced(lines, i+2)
		if err != nil {
			return nil, fmt.Errorf("example %q: %w", ex.name, err)
		}
		ex.script = body
		i = next
		// The answer is the plain fenced block right after, if there is one.
		if i+1 < len(lines) && strings.TrimSpace(lines[i+1]) == "```" {
			ex.answer, i, err = fenced(lines, i+2)
			if err != nil {
				return nil, fmt.Errorf("example %q answer: %w", ex.name, err)
			}
			ex.shown = true
		}
		out = append(out, ex)
	}
	return out, nil
}

// fenced returns the lines from start up to the closing fence and the closing fence's index.
func fenced(lines []string, start int) (string, int, error) {
	for j := start; j < len(lines); j++ {
		if strings.HasPrefix(strings.TrimSpace(lines[j]), "```") {
			return strings.Join(lines[start:j], "\n"), j, nil
		}
	}
	return "", 0, errors.New("unclosed ``` block")
}

// TestREADMEExamplesRunAgainstAFreshRunner runs every marked example of the README in order,
// in bash, against a local runner started for this test on free loopback ports, with the
// variables the runner's banner tells the reader to export and rlctl on the PATH, and
// compares what each prints with the answer the README shows.
func TestREADMEExamplesRunAgainstAFreshRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local runner")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed to run the README's examples")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the README's examples")
	}
	md, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	exs, err := examples(string(md))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if len(exs) == 0 {
		t.Fatal("README.md has no marked examples")
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build(t, root, filepath.Join(bin, "rlctl"), "./infra/ops/rlctl")
	build(t, root, filepath.Join(bin, "local"), "./infra/local")
	exports, logs := startRunner(t, root, filepath.Join(bin, "local"))

	state := filepath.Join(t.TempDir(), "state.sh")
	for _, ex := range exs {
		start := time.Now()
		out, errOut, runErr := runExample(root, bin, exports, state, ex)
		t.Logf("example %s (README.md:%d): %v", ex.name, ex.line, time.Since(start).Round(time.Millisecond))
		if runErr != nil {
			t.Fatalf("README example %q (README.md:%d) failed: %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s\nrunner log (end):\n%s",
				ex.name, ex.line, runErr, ex.script, out, errOut, tail(logs.String(), 3000))
		}
		if !ex.shown {
			continue
		}
		diff, err := compareAnswer(ex.answer, out)
		if err != nil {
			t.Fatalf("README example %q (README.md:%d): %v", ex.name, ex.line, err)
		}
		if diff != "" {
			t.Fatalf("README example %q (README.md:%d) answered otherwise than the README shows.\n%s\nscript:\n%s\nprinted:\n%s\nstderr:\n%s",
				ex.name, ex.line, diff, ex.script, out, errOut)
		}
	}
}

// build compiles a main package of the module into out.
func build(t *testing.T, root, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// startRunner starts the runner on free ports until the test ends and returns the export
// line of its banner (the one the README tells the reader to paste) and its log.
func startRunner(t *testing.T, root, bin string) (string, *testsupport.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-aws-addr", "127.0.0.1:0", "-template", filepath.Join(root, "template.yaml"))
	cmd.Dir = root
	logs := &testsupport.SyncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testsupport.StopAtCleanup(t, cmd)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			if line := sc.Text(); !sent && strings.HasPrefix(line, "export URL=") {
				found <- line
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		if !sent {
			close(found)
		}
	}()
	select {
	case line, ok := <-found:
		if !ok {
			t.Fatalf("the runner stopped before printing its export line; its log:\n%s", tail(logs.String(), 3000))
		}
		return line, logs
	case <-time.After(60 * time.Second):
		t.Fatalf("the runner printed no export line within 60 s; its log:\n%s", tail(logs.String(), 3000))
	}
	return "", nil
}

var assignRE = regexp.MustCompile(`(?m)^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=`)

// runExample runs one example in a fresh bash with the runner's variables, the variables
// earlier examples set, and rlctl on the PATH; the variables it sets are kept for the next.
func runExample(root, bin, exports, state string, ex example) (string, string, error) {
	var names []string
	for _, m := range assignRE.FindAllStringSubmatch(ex.script, -1) {
		names = append(names, m[1])
	}
	script := "set -eo pipefail\n" + exports + "\n" +
		fmt.Sprintf("if [ -f %q ]; then . %q; fi\n", state, state) +
		ex.script + "\n"
	if len(names) > 0 {
		script += fmt.Sprintf("for v in %s; do printf '%%s=%%q\\n' \"$v\" \"${!v}\"; done >> %q\n", strings.Join(names, " "), state)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// TestREADMEIsShortAndItsContentsReachEverySection keeps the README within its length and
// its contents list complete: every heading below the contents is linked from the list, and
// every link of the list names a heading.
func TestREADMEIsShortAndItsContentsReachEverySection(t *testing.T) {
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	if n := strings.Count(md, "\n"); n > readmeMaxLines {
		t.Errorf("README.md has %d lines; at most %d (move reference for the people who change the code to infra/README.md)", n, readmeMaxLines)
	}
	heads := headings(md)
	contents := sectionText(md, "Contents")
	if contents == "" {
		t.Fatal("README.md has no ## Contents section")
	}
	linked := map[string]bool{}
	for _, m := range anchorLinkRE.FindAllStringSubmatch(contents, -1) {
		linked[m[1]] = true
		if !slices.Contains(heads, m[1]) {
			t.Errorf("the contents link to #%s, which is no heading of README.md", m[1])
		}
	}
	for _, h := range heads {
		if h == "contents" {
			continue
		}
		if !linked[h] {
			t.Errorf("README.md heading #%s is not reachable from the contents", h)
		}
	}
}

// TestDocsLinksResolve checks every link of the documents to a heading (#anchor) or to a
// file of the repository (with an optional #anchor in a Markdown file).
func TestDocsLinksResolve(t *testing.T) {
	linkRE := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, doc := range docs {
		b, err := os.ReadFile(filepath.Join(repoRoot, doc))
		if err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		md := stripCode(string(b))
		for _, m := range linkRE.FindAllStringSubmatch(md, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := doc
			if file != "" {
				path = filepath.ToSlash(filepath.Join(filepath.Dir(doc), file))
			}
			full := filepath.Join(repoRoot, path)
			if _, err := os.Stat(full); err != nil {
				t.Errorf("%s links to %s, which does not exist", doc, target)
				continue
			}
			if anchor == "" {
				continue
			}
			tb, err := os.ReadFile(full)
			if err != nil {
				t.Errorf("%s links to %s: %v", doc, target, err)
				continue
			}
			if !slices.Contains(headings(string(tb)), anchor) {
				t.Errorf("%s links to %s, but %s has no heading #%s", doc, target, path, anchor)
			}
		}
	}
}

var (
	headingRE    = regexp.MustCompile(`(?m)^(#{2,6}) (.+)$`)
	anchorLinkRE = regexp.MustCompile(`\]\(#([^)]+)\)`)
	slugDropRE   = regexp.MustCompile(`[^\p{L}\p{N}\- _]`)
)

// headings returns the GitHub anchors of the ## to ###### headings outside code blocks.
func headings(md string) []string {
	var out []string
	count := map[string]int{}
	for _, m := range headingRE.FindAllStringSubmatch(stripCode(md), -1) {
		s := slug(m[2])
		if n := count[s]; n > 0 {
			count[s]++
			s = fmt.Sprintf("%s-%d", s, n)
		} else {
			count[s] = 1
		}
		out = append(out, s)
	}
	return out
}

// slug is GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
func slug(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = slugDropRE.ReplaceAllString(h, "")
	return strings.ReplaceAll(h, " ", "-")
}

// stripCode blanks fenced code blocks, whose lines are neither headings nor links.
func stripCode(md string) string {
	lines := strings.Split(md, "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			lines[i] = ""
			continue
		}
		if in {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// sectionText returns the text under the ## heading named title, up to the next ## heading.
func sectionText(md, title string) string {
	_, after, ok := strings.Cut(md, "\n## "+title+"\n")
	if !ok {
		return ""
	}
	if i := strings.Index(after, "\n## "); i >= 0 {
		return after[:i]
	}
	return after
}
