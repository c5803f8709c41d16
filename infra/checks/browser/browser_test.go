package browser

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rocketlead/ingress-webhooks/pkg/captcha"

	"github.com/rocketlead/ingress-webhooks/infra/testsupport"
)

const repoRoot = "../../.."

// stepTimeout bounds one step of the browser (a submit and the page it lands on).
const stepTimeout = 30 * time.Second

// chromiumPath is the browser, or "" when it is not installed.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// runner is the local runner on free ports, with its seeded webhook and its events file.
type runner struct {
	base, webhookID, token, orgID, eventsFile string
}

func startRunner(t *testing.T) *runner {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "local")
	build := exec.Command("go", "build", "-o", bin, "./infra/local")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./infra/local: %v\n%s", err, out)
	}
	dir := t.TempDir()
	seed, events := filepath.Join(dir, "seed.json"), filepath.Join(dir, "events.jsonl")
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-aws-addr", "127.0.0.1:0", "-template", filepath.Join(repoRoot, "template.yaml"),
		"-seed-file", seed, "-events-file", events)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testsupport.StopAtCleanup(t, cmd)
	var s struct {
		OrganizationID string `json:"organizationId"`
		WebhookID      string `json:"webhookId"`
		Token          string `json:"token"`
		URL            string `json:"url"`
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(seed); err == nil && json.Unmarshal(b, &s) == nil && s.URL != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the runner wrote no seed file within 60 s")
		}
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &runner{base: u.Scheme + "://" + u.Host, webhookID: s.WebhookID, token: s.Token, orgID: s.OrganizationID, eventsFile: events}
}

// setForm sets the webhook's settings through the runner's admin route.
func (r *runner) setForm(t *testing.T, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, r.base+"/admin/ingress_webhooks/"+r.webhookID, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH form settings = %d %s", resp.StatusCode, b)
	}
}

// entries are the data of the entries whose events the runner published, by entry id.
func (r *runner) entries(t *testing.T) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	b, _ := os.ReadFile(r.eventsFile)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var ev struct{ Detail json.RawMessage }
		var d struct {
			Entry struct {
				ID   string         `json:"id"`
				Data map[string]any `json:"data"`
			} `json:"entry"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && json.Unmarshal(ev.Detail, &d) == nil {
			out[d.Entry.ID] = d.Entry.Data
		}
	}
	return out
}

// settledEntries waits for the stream relay: the entries once their count held still for
// a second (or reached want).
func (r *runner) settledEntries(t *testing.T, want int) map[string]map[string]any {
	t.Helper()
	last, since := -1, time.Now()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		es := r.entries(t)
		if len(es) == want && time.Since(since) > 300*time.Millisecond || len(es) == last && time.Since(since) > time.Second {
			return es
		}
		if len(es) != last {
			last, since = len(es), time.Now()
		}
	}
	return r.entries(t)
}

// pages serves the test's web pages on 127.0.0.1:0: the forms posting to the runner, the
// success and error pages, and a page that calls fetch().
type pages struct {
	origin string
}

func servePages(t *testing.T, r *runner) *pages {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pages{origin: "http://" + ln.Addr().String()}
	action := html.EscapeString(r.base + "/public/ingress_webhooks/" + r.webhookID + "?token=" + r.token)
	endpoint := r.base + "/public/ingress_webhooks/" + r.webhookID
	mux := http.NewServeMux()
	form := func(enctype string) string {
		return `<!doctype html><meta charset="utf-8"><title>Contact</title>
<form id="f" method="post" enctype="` + enctype + `" action="` + action + `">
<input name="name" id="name"><input name="email" id="email">
<input type="text" name="_gotcha" id="gotcha" style="display:none" tabindex="-1" autocomplete="off">
<input type="hidden" name="cf-turnstile-response" id="captcha" value="` + captcha.TestToken + `">
<button id="send">Send</button></form>`
	}
	mux.HandleFunc("/urlencoded", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, form("application/x-www-form-urlencoded"))
	})
	mux.HandleFunc("/multipart", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, form("multipart/form-data")) })
	mux.HandleFunc("/thanks", func(w http.ResponseWriter, req *http.Request) {
		fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>Thanks</title><p id="id">%s</p>`, html.EscapeString(req.URL.Query().Get("entryId")))
	})
	mux.HandleFunc("/oops", func(w http.ResponseWriter, req *http.Request) {
		fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>Oops</title><p id="error">%s</p><p id="rejected">%s</p>`,
			html.EscapeString(req.URL.Query().Get("error")), html.EscapeString(req.URL.Query().Get("rejectedId")))
	})
	mux.HandleFunc("/fetch", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>Fetch</title><script>
window.post = () => fetch(%q, {method: "POST", headers: {"Content-Type": "application/json", "x-rocketlead-ingress-token": %q},
  body: JSON.stringify({data: {email: "fetch@example.com", "cf-turnstile-response": %q}})})
  .then(r => r.status).catch(e => "blocked: " + e.name);
</script>`, endpoint, r.token, captcha.TestToken)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

// browser starts headless chromium with a fresh profile and the flags the closed network
// needs.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true), chromedp.WindowSize(390, 844))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser, on a context without a timeout (a timeout there
	// would stop the browser); every later step is bounded by stepTimeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// submit fills the form of page, runs script (may be ""), clicks Send and waits for the
// page it lands on; it returns that page's URL.
func submit(t *testing.T, ctx context.Context, page, name, script string) *url.URL {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("send")),
		chromedp.SendKeys(chromedp.ID("name"), name), chromedp.SendKeys(chromedp.ID("email"), "zoe@example.com"),
	}
	if script != "" {
		steps = append(steps, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](script)(ctx, tg)
			return err
		}))
	}
	// The click starts a navigation: wait until the page that answers the post is there.
	steps = append(steps, chromedp.Click(chromedp.ID("send")), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			loc, err := chromedp.Location()(ctx, tg)
			if err == nil && !strings.HasPrefix(loc, page) {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}), chromedp.WaitReady(chromedp.CSS("body")))
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("submit %s: %v", page, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestFormsInARealBrowser(t *testing.T) {
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed: CI requires it (make browser installs it: apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed: the real-browser test is skipped (make browser installs it; CI fails without it)")
	}
	r := startRunner(t)
	p := servePages(t, r)
	other := servePages(t, r) // another origin, never listed
	r.setForm(t, `{"allowQueryToken":true,"form":{"successUrl":"`+p.origin+`/thanks","errorUrl":"`+p.origin+`/oops",
		"honeypotField":"_gotcha","allowedOrigins":["`+p.origin+`"],"captcha":{"provider":"turnstile","secret":"local-secret"}}}`)
	ctx := browser(t, path)
	const zoe = "Zoë — 東京"

	seen := map[string]bool{}
	for _, enc := range []string{"urlencoded", "multipart"} {
		u := submit(t, ctx, p.origin+"/"+enc, zoe, "")
		id := u.Query().Get("entryId")
		if u.Path != "/thanks" || id == "" {
			t.Fatalf("%s submit landed on %s; want the success page with entryId", enc, u)
		}
		es := r.settledEntries(t, len(seen)+1)
		if got := es[id]["name"]; got != zoe {
			t.Errorf("%s entry %s name = %q (entries %v); want %q", enc, id, got, es, zoe)
		}
		seen[id] = true
	}
	// A reload of the success page after the 303 posts nothing again.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.settledEntries(t, len(seen))); n != len(seen) {
		t.Errorf("%d entries after a reload; want %d", n, len(seen))
	}
	// A bot fills the honeypot: the same success page, nothing stored.
	u := submit(t, ctx, p.origin+"/urlencoded", "Bot", `document.getElementById("gotcha").value = "http://spam.example"`)
	if u.Path != "/thanks" || u.Query().Get("entryId") == "" {
		t.Errorf("honeypot submit landed on %s; want the success page", u)
	}
	// No CAPTCHA response: the error page, with the reason and the kept request's id.
	u = submit(t, ctx, p.origin+"/urlencoded", "Ada", `document.getElementById("captcha").remove()`)
	if u.Path != "/oops" || u.Query().Get("error") != "captcha_failed" || u.Query().Get("rejectedId") == "" {
		t.Errorf("submit without a CAPTCHA landed on %s; want the error page with captcha_failed and rejectedId", u)
	}
	if n := len(r.settledEntries(t, len(seen))); n != len(seen) {
		t.Errorf("%d entries after the honeypot and the failed CAPTCHA; want %d", n, len(seen))
	}

	// fetch() with the token header: allowed from the listed origin, blocked from another.
	for _, tc := range []struct {
		origin string
		want   string
	}{{p.origin, "201"}, {other.origin, "blocked: TypeError"}} {
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		err := chromedp.Do(sctx, chromedp.Navigate(tc.origin+"/fetch"))
		var got any
		if err == nil {
			got, err = chromedp.Run(sctx, chromedp.Evaluate[any](`window.post()`, chromedp.EvalAwaitPromise))
		}
		cancel()
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("fetch() from %s = %v, %v; want %s", tc.origin, got, err, tc.want)
		}
	}
	if n := len(r.settledEntries(t, len(seen)+1)); n != len(seen)+1 {
		t.Errorf("%d entries after the two fetch() calls; want %d (the allowed one only)", n, len(seen)+1)
	}

	// Without a success URL, the browser gets the built-in page.
	r.setForm(t, `{"form":{"honeypotField":"_gotcha","allowedOrigins":["`+p.origin+`"],"captcha":{"provider":"turnstile","secret":"local-secret"}}}`)
	for _, tc := range []struct {
		script, title string
	}{{"", "Thank you — received"}, {`document.getElementById("captcha").remove()`, "Please complete the CAPTCHA"}} {
		submit(t, ctx, p.origin+"/urlencoded", zoe, tc.script)
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			t.Fatal(err)
		}
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, tc.title) || strings.Contains(text, r.orgID) || strings.Contains(text, r.webhookID) {
			t.Errorf("built-in page text %q; want %q and no ids", text, tc.title)
		}
		if len(shot) == 0 {
			t.Errorf("no screenshot of the built-in page")
		} else if img, err := png.Decode(bytes.NewReader(shot)); err != nil || img.Bounds().Dx() < 300 {
			t.Errorf("screenshot is not a phone-wide PNG: %v", err)
		}
		if dir := os.Getenv("BROWSER_SHOTS"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, strings.Fields(tc.title)[0]+".png"), shot, 0o644)
		}
	}
}
