// Package browser proves the public HTML form path in a real browser: Debian's
// chromium, driven over the DevTools protocol with chromedp, posts pages' forms and fetch()
// calls to the local runner, and the test checks what a person sees and what was stored.
// Without chromium the test skips, except under CI=true (make browser installs it).
package browser
