package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/ui"
)

// Tokens of the console's tests, beside the dev system's admin token.
const (
	viewerToken   = "console-viewer-token-0123456789"
	operatorToken = "console-operator-token-0123456789"
)

// console is a tinman dev with a viewer's and an operator's token, whose
// logs a test searches, and a browser.
type console struct {
	*system
	browser *browser
	logs    *servicetest.Buffer
}

func startConsole(t *testing.T, sims int) *console {
	t.Helper()
	b := newBrowser(t)
	redisURL, _ := servicetest.Redis(t)
	logs := &servicetest.Buffer{}
	s := startDevWith(t, redisURL, sims, func(c *devConfig) {
		fastInstaller(c)
		c.Logger = zerolog.New(logs).Level(zerolog.DebugLevel)
		c.Tokens = &api.Tokens{}
		c.Tokens.AddPlain(api.RoleViewer, viewerToken)
		c.Tokens.AddPlain(api.RoleOperator, operatorToken)
	})
	return &console{system: s, browser: b, logs: logs}
}

// link is the console's sign-in link for token, opening route.
func (c *console) link(token, route string) string {
	return c.dev.apiURL + ui.Prefix + "#token=" + token + "&" + route
}

// send sends a JSON body to the API as the operator, and wants status.
func (c *console) send(t *testing.T, method, path, body string, status int) {
	t.Helper()
	req, err := http.NewRequest(method, c.dev.apiURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, status)
	}
}

// ready waits for the page's data-page section to have drawn its data.
func ready(tb *tab, page string) {
	tb.t.Helper()
	tb.wait(page+" drawn", fmt.Sprintf(`!!document.querySelector('[data-page=%s][data-state]')`, page), 30*time.Second)
}

// TestConsole drives the web console in Debian's Chromium against a whole
// tinman dev: sign in with the printed link, the 8 servers, a power job
// started from a server's page as an operator with its events arriving
// live, an inspect filling in the inventory, a deploy's batches
// progressing and one halting, and a viewer who
// sees no button that would fail. With TINMAN_SCREENSHOTS=DIR it writes a
// screenshot of each page there (task screenshots). Not parallel: its
// pages are timed by what they show, on a machine of 2 cores.
func TestConsole(t *testing.T) {
	c := startConsole(t, 8)
	var powerJob string

	t.Run("the link signs in and shows the fleet", func(t *testing.T) {
		tb := c.browser.open(t, c.dev.consoleLink())
		tb.wait("8 servers", `document.querySelectorAll('[data-page=fleet] tr[data-server]').length === 8`, 30*time.Second)
		ids := eval[string](tb, `[...document.querySelectorAll('tr[data-server]')].map(r => r.dataset.server).join(',')`)
		if ids != "sim-01,sim-02,sim-03,sim-04,sim-05,sim-06,sim-07,sim-08" {
			t.Errorf("servers %s", ids)
		}
		if loc := eval[string](tb, `location.href`); strings.Contains(loc, "token") {
			t.Errorf("the token stayed in the address: %s", loc)
		}
		if kept := eval[string](tb, `sessionStorage.getItem('tinman.token')`); kept != c.dev.token {
			t.Errorf("session storage keeps %q, want the link's token", kept)
		}
		if role := eval[string](tb, `document.querySelector('.role').textContent`); role != "admin" {
			t.Errorf("role %q, want admin", role)
		}
		tb.wait("the counts by state", `!!document.querySelector('.chips.states .state-available')`, 10*time.Second)
		tb.wait("the health strip", `!!document.querySelector('[data-vital=outbox]')`, 10*time.Second)
		tb.wait("the event stream", `!!document.querySelector('.live.live')`, 10*time.Second)
		tb.shot("fleet")
	})

	t.Run("an operator powers a server on and sees its events live", func(t *testing.T) {
		tb := c.browser.open(t, c.link(operatorToken, "/servers/sim-03"))
		ready(tb, "server")
		tb.wait("the event stream", `!!document.querySelector('.live.live')`, 10*time.Second)
		eval[bool](tb, `window.sameDocument = true`) // a reload would lose it: the events must arrive by themselves
		tb.click(`[data-action=power-on]`)
		tb.wait("the job submitted", `!!document.querySelector('[data-page=server] .notice a')`, 10*time.Second)
		powerJob = eval[string](tb, `document.querySelector('[data-page=server] .notice a').textContent`)
		for _, typ := range []string{"job.queued", "job.started", "job.succeeded"} {
			tb.wait(typ, fmt.Sprintf(`!!document.querySelector('tr.event[data-type=%q][data-job=%s]')`, typ, jsString(powerJob)), 30*time.Second)
		}
		if !eval[bool](tb, `window.sameDocument === true`) {
			t.Error("the page was reloaded: the events did not arrive live")
		}
		tb.wait("the job in the server's jobs", fmt.Sprintf(`document.querySelector('[data-page=server] tr:not(.event)[data-job=%s]')?.textContent.includes('succeeded')`, jsString(powerJob)), 10*time.Second)
		tb.click(`[data-action=inspect]`)
		tb.wait("the inventory", `document.querySelector('[data-page=server] .inventory')?.textContent.includes('Vendor')`, 30*time.Second)
		tb.shot("server")
		tb.route("/jobs/" + powerJob)
		ready(tb, "job")
		tb.wait("the job's events in order", `[...document.querySelectorAll('tr.event')].map(r => r.dataset.type).join(' ') === 'job.queued job.started job.succeeded'`, 10*time.Second)
		tb.shot("job")
	})

	t.Run("a deploy's batches progress, and one halts with its reason", func(t *testing.T) {
		tb := c.browser.open(t, c.link(operatorToken, "/deploys/console-roll"))
		c.send(t, http.MethodPost, "/v1/jobs", `{"id":"console-roll","type":"deploy","params":{"image":"ubuntu-24.04","selector":{"fleet":"sim"},"batch_size":2}}`, http.StatusAccepted)
		tb.wait("batch 1 done while batch 4 waits",
			`document.querySelector('[data-batch="1"]')?.dataset.state === 'done' && document.querySelector('[data-batch="4"]')?.dataset.state === 'waiting'`, 60*time.Second)
		tb.wait("a later batch running, or the end", `!!document.querySelector('[data-batch][data-state=running]') || `+
			`document.querySelector('[data-page=deploy]').dataset.state === 'succeeded'`, 60*time.Second)
		tb.shot("deploy")
		tb.wait("every batch done", `document.querySelector('[data-page=deploy]').dataset.state === 'succeeded' && `+
			`[...document.querySelectorAll('[data-batch]')].every(b => b.dataset.state === 'done' && b.dataset.done === '2')`, 90*time.Second)

		// sim-08 in maintenance: its provision is refused, which halts the next deploy.
		c.send(t, http.MethodPatch, "/v1/servers/sim-08", `{"maintenance":{"reason":"disk swap"}}`, http.StatusOK)
		c.send(t, http.MethodPost, "/v1/jobs", `{"id":"console-halt","type":"deploy","params":{"image":"debian-13","servers":["sim-08","sim-07"],"batch_size":1}}`, http.StatusAccepted)
		tb.route("/deploys/console-halt")
		tb.wait("the halt", `!!document.querySelector('[data-halt]') && document.querySelector('[data-batch="2"]')?.dataset.state === 'skipped'`, 60*time.Second)
		halt := eval[string](tb, `document.querySelector('[data-halt]').textContent`)
		reason := eval[string](tb, `document.querySelector('[data-batch="1"] tr[data-server=sim-08] .detail').textContent`)
		if !strings.Contains(halt, "1 failure passed max_failures 0: sim-08 (") || !strings.Contains(reason, "maintenance") {
			t.Errorf("halt %q, sim-08's failure %q: want the halt and the refusal for maintenance", halt, reason)
		}
		tb.shot("deploy-halted")
		tb.route("/deploys")
		ready(tb, "deploys")
		tb.wait("both deploys listed", `document.querySelectorAll('[data-page=deploys] tr[data-job]').length === 2`, 10*time.Second)
		tb.shot("deploys")
	})

	t.Run("a viewer sees no button that would fail", func(t *testing.T) {
		tb := c.browser.open(t, c.link(viewerToken, "/servers/sim-03"))
		for _, p := range []struct{ route, page string }{
			{"/servers/sim-03", "server"}, {"/servers", "fleet"}, {"/jobs", "jobs"}, {"/jobs/" + powerJob, "job"},
			{"/deploys", "deploys"}, {"/deploys/console-roll", "deploy"},
		} {
			tb.route(p.route)
			ready(tb, p.page)
			if n := eval[int](tb, `document.querySelectorAll('[data-action]').length`); n != 0 {
				t.Errorf("%s shows a viewer %d action buttons", p.route, n)
			}
		}
		if role := eval[string](tb, `document.querySelector('.role').textContent`); role != "viewer" {
			t.Errorf("role %q, want viewer", role)
		}
		tb.route("/jobs")
		ready(tb, "jobs")
		tb.shot("jobs")

		// Another link in the same tab signs in anew, with that token's role.
		eval[chromedp.Void](tb, fmt.Sprintf("location.hash = %q", "#token="+operatorToken+"&/servers/sim-05"))
		tb.wait("the operator's buttons", `document.querySelector('.role')?.textContent === 'operator' && `+
			`document.querySelectorAll('[data-page=server] [data-action]').length > 0`, 10*time.Second)
	})

	t.Run("a refused token asks to sign in", func(t *testing.T) {
		tb := c.browser.open(t, c.link("no-such-token-0123456789", "/servers"))
		tb.wait("the sign-in form", `!!document.querySelector('form.signin') && document.querySelector('.notice.bad')?.textContent.includes('refused')`, 10*time.Second)
		if kept := eval[bool](tb, `sessionStorage.getItem('tinman.token') === null && !location.href.includes('token')`); !kept {
			t.Error("a refused token was kept")
		}
	})

	logs := c.logs.String()
	if !strings.Contains(logs, `"path":"/ui/"`) {
		t.Error("the API logged no request for /ui/: the check below would prove nothing")
	}
	for _, token := range []string{c.dev.token, operatorToken, viewerToken} {
		if strings.Contains(logs, token) {
			t.Errorf("a token reached the log")
		}
	}
}

// TestREADMEShowsTheScreenshots: every screenshot the browser tests write
// is committed under docs/screenshots and shown in the README, which shows
// no other.
func TestREADMEShowsTheScreenshots(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	for _, m := range regexp.MustCompile(`!\[[^\]]*\]\(docs/screenshots/([^)]+)\.png\)`).FindAllStringSubmatch(string(data), -1) {
		shown = append(shown, m[1])
	}
	if !slices.Equal(shown, screenshots) {
		t.Errorf("the README shows %v, want %v in that order", shown, screenshots)
	}
	for _, name := range screenshots {
		if _, err := os.Stat(filepath.Join("../../docs/screenshots", name+".png")); err != nil {
			t.Errorf("screenshot %s: %v (task screenshots writes it)", name, err)
		}
	}
}

// TestConsoleFleetAtScale loads the fleet page of a fleet of 10,000 servers
// (8 simulated, the rest enrolled straight into the store: they need not
// answer) and times it in the page, from navigation to the first page of
// servers drawn: under 2 s, the median of three loads.
func TestConsoleFleetAtScale(t *testing.T) {
	c := startConsole(t, 8)
	enrolFleet(t, c.system, 10000-8)
	tb := c.browser.open(t, c.link(c.dev.token, "/servers"))
	var took []float64
	for i := range 3 {
		if i > 0 {
			tb.do(chromedp.Reload())
		}
		tb.wait("the fleet drawn", `performance.getEntriesByName('fleet-drawn').length > 0`, 30*time.Second)
		took = append(took, eval[float64](tb, `performance.getEntriesByName('fleet-drawn')[0].startTime`))
		t.Logf("load %d: %s", i+1, eval[string](tb, loadTimes))
	}
	if n := eval[string](tb, `document.querySelector('[data-count]').dataset.count`); n != "10000" {
		t.Errorf("the page counts %s servers, want 10000", n)
	}
	median := slices.Sorted(slices.Values(took))[len(took)/2]
	t.Logf("fleet page at 10,000 servers drawn after %.0f, %.0f and %.0f ms (median %.0f ms)", took[0], took[1], took[2], median)
	if median >= 2000 {
		t.Errorf("the fleet page took %.0f ms (median of %v) at 10,000 servers, want under 2000", median, took)
	}
	tb.wait("the counts by state", `!!document.querySelector('.chips.states .state-active')`, 30*time.Second)
	tb.wait("the health strip", `!!document.querySelector('[data-vital=outbox]')`, 10*time.Second)
	tb.shot("fleet-10000")

	// A filter at scale: the API reads every record, the page draws one page.
	want := 0
	for i := range 10000 - 8 {
		if srv := fleetServer(i, fleetSites[i%len(fleetSites)], fleetStates[i%len(fleetStates)]); srv.Site == "fra" &&
			srv.State == jobs.ServerActive && srv.Labels["rack"] == "r07" {
			want++
		}
	}
	started := time.Now()
	tb.route("/servers?site=fra&state=active&q=rack%3Dr07")
	tb.wait("the filtered fleet", fmt.Sprintf(`document.querySelector('[data-count]')?.dataset.count === '%d' && `, want)+
		`[...document.querySelectorAll('tr[data-server]')].every(r => r.textContent.includes('fra') && r.textContent.includes('rack=r07'))`, 30*time.Second)
	t.Logf("filtered to %d of 10,000 servers in %s (every record read)", want, time.Since(started).Round(time.Millisecond))
}

// enrolFleet enrols n servers srv-00001... straight into the store, as
// another tinman would have: three sites, 50 racks, most active, some in
// error or maintenance. Their BMC address is a closed loopback port: no
// test sends them a job.
// loadTimes says when, in ms from navigation, the page's modules were in
// and each API call was made and answered.
const loadTimes = `['modules in at ' + Math.round(performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd),
	...performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/'))
		.map(e => new URL(e.name).pathname + ' ' + Math.round(e.startTime) + '-' + Math.round(e.responseEnd))].join(', ')`

func enrolFleet(t *testing.T, s *system, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const workers = 8
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += workers {
				errs[w] = s.dev.backend.store.PutServer(ctx, fleetServer(i, fleetSites[i%len(fleetSites)], fleetStates[i%len(fleetStates)]),
					jobs.Credentials{Username: "admin", Password: "unused"})
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The sites and states of the fleet at scale, in turn.
var (
	fleetSites  = []string{"ams", "fra", "sjc"}
	fleetStates = []jobs.ServerState{jobs.ServerAvailable, jobs.ServerActive, jobs.ServerActive, jobs.ServerActive, jobs.ServerEnrolled, jobs.ServerError}
)

func fleetServer(i int, site string, state jobs.ServerState) jobs.Server {
	srv := jobs.Server{ID: fmt.Sprintf("srv-%05d", i+1), BMC: jobs.BMC{Address: "127.0.0.1:9", Provider: jobs.ProviderRedfish},
		Site: site, Labels: map[string]string{"rack": fmt.Sprintf("r%02d", i%50), "fleet": "prod"},
		State: state, PowerState: jobs.PowerStateOff}
	switch {
	case state == jobs.ServerActive:
		srv.PowerState = jobs.PowerStateOn
	case state == jobs.ServerError:
		srv.LastError = &jobs.ServerFailure{Reason: "boot_timeout: no booted callback", JobID: "deploy-7." + srv.ID, At: time.Now().UTC()}
	}
	if i%97 == 0 {
		srv.Maintenance = &jobs.Maintenance{Reason: "RMA: failed DIMM", SetBy: "ops@example.com", Since: time.Now().UTC()}
	}
	return srv
}
