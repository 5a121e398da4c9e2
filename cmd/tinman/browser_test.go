package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tinmanhq/tinman/servicetest"
)

// browser is a headless Chromium (Debian's package) for one test, driven
// over the DevTools protocol. A test without Chromium skips locally and
// fails in CI, which installs it.
type browser struct {
	ctx context.Context
	// shots is where screenshots go (TINMAN_SCREENSHOTS), empty for none.
	shots string
}

// Screen size of every tab: what the README's screenshots show.
const screenWidth, screenHeight = 1400, 900

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := servicetest.NeedTool(t, "chromium", "apt-get install chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox cannot start
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(screenWidth, screenHeight))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser: no timeout on this first call
		t.Fatalf("start %s: %v", path, err)
	}
	b := &browser{ctx: ctx, shots: os.Getenv("TINMAN_SCREENSHOTS")}
	if b.shots != "" {
		if err := os.MkdirAll(b.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// tab is one browser tab, with the faults its pages reported: uncaught
// exceptions, errors of the console API and refusals of the
// Content-Security-Policy. Failed requests (a 404 the page expects) are not
// faults.
type tab struct {
	t      *testing.T
	b      *browser
	ctx    context.Context
	mu     sync.Mutex
	faults []string
}

// open opens a tab on url; when the test ends, any fault the tab saw fails it.
func (b *browser) open(t *testing.T, url string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	tb := &tab{t: t, b: b, ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError && m.Source != "network" || m.Source == "security" {
				tb.mu.Lock()
				tb.faults = append(tb.faults, m.String())
				tb.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, f := range tb.faults {
			t.Errorf("the page reported %s", f)
		}
	})
	tb.do(chromedp.EmulateViewport(screenWidth, screenHeight), chromedp.Navigate(url))
	return tb
}

// do runs steps within a minute, failing the test on an error.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// wait waits until a JavaScript expression is true in the page, failing the
// test after timeout with what says shows.
func (tb *tab) wait(what, expr string, timeout time.Duration) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout+10*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		tb.t.Fatalf("waiting %s until %s: %v; the page shows:\n%s", timeout, what, err, tb.text())
	}
}

// text is what the page's main part shows, for failure messages.
func (tb *tab) text() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return err.Error()
	}
	return s
}

// click clicks the element of a CSS selector.
func (tb *tab) click(selector string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(selector)))
}

// route navigates within the console to route (#/...) without reloading.
func (tb *tab) route(route string) {
	tb.t.Helper()
	eval[chromedp.Void](tb, fmt.Sprintf("location.hash = %q", "#"+route))
}

// screenshots are the names of the screenshots the browser tests write;
// the README shows each (TestREADMEShowsTheScreenshots).
var screenshots = []string{"fleet", "server", "job", "deploy", "deploy-halted", "deploys", "jobs", "fleet-10000"}

// shot writes a screenshot of the tab as name.png when screenshots are asked for.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	if !slices.Contains(screenshots, name) {
		tb.t.Fatalf("screenshot %s is not in the list the README is checked against", name)
	}
	if tb.b.shots == "" {
		return
	}
	tb.wait("the health strip", `!!document.querySelector('[data-vital]')`, 10*time.Second)
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	time.Sleep(300 * time.Millisecond) // let the last reload draw
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(tb.b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", path)
}

// jsString quotes s for JavaScript.
func jsString(s string) string { return fmt.Sprintf("%q", strings.ToValidUTF8(s, "")) }
