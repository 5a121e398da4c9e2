package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/bmc/bmctest"
	"github.com/tinmanhq/tinman/bmc/ipmisim"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/workers"
)

// The fault matrix: every row runs the real `tinman dev` wiring (real bmclib
// through the worker's own connector, the real dispatcher, asynq on Redis,
// NATS), points one server at a BMC that fails in one way, publishes one
// power job as any NATS client would, and checks what an operator sees: the
// exact event sequence, the error code, how many attempts were made, the
// circuit breaker, and the server's record afterwards.
//
// No fake BMC stands in anywhere: the Redfish rows talk to the simulator over
// HTTPS, the IPMI rows to a real OpenIPMI ipmi_sim through ipmitool, and the
// network rows to real sockets.

// faultCallTimeout bounds each BMC call in the matrix, so a silent BMC fails
// in seconds, not the default 30 s.
const faultCallTimeout = 2 * time.Second

// faultAttempts is the attempts a power job gets in the matrix.
const faultAttempts = 3

// faultRow is one fault and provider, and what must follow.
type faultRow struct {
	name string
	// ipmi rows need ipmi_sim and ipmitool.
	ipmi bool
	// target makes the fault and returns the server to act on; it runs
	// against a dev system whose sim-01 is a healthy Redfish BMC, power off.
	target func(t *testing.T, s *system) string
	// recover, if set, mends the BMC when the first retrying event arrives
	// (a retry waits 0.5-1 s: it starts after the BMC is mended).
	recover func(t *testing.T, s *system)
	// after, if set, checks what follows the job's end.
	after  func(t *testing.T, s *system, server string)
	action jobs.PowerAction
	// boot, if set, makes the job a boot-device job with these params
	// instead of a power job.
	boot string
	// provision, if set, makes the job a provision of this catalogue
	// image instead of a power job.
	provision string
	// tune, if set, changes the dev system's config.
	tune func(*devConfig)
	want faultOutcome
}

// faultOutcome is what an operator must see after the job.
type faultOutcome struct {
	events []events.Type
	code   jobs.Code // "" for success
	// retryCode is the error code the first retrying event carries.
	retryCode jobs.Code
	attempts  int // the attempt number on the terminal event
	// inMessage must appear in the failure's message: the real cause.
	inMessage string
	// breaker: the server ends in maintenance set by the circuit breaker.
	breaker bool
	// power is the server record's power_state afterwards ("" skips the check).
	power jobs.PowerState
}

func faultRows() []faultRow {
	queuedStartedFailed := []events.Type{events.JobQueued, events.JobStarted, events.JobFailed}
	retriedOnce := []events.Type{events.JobQueued, events.JobStarted, events.JobRetrying, events.JobStarted, events.JobSucceeded}
	retriedTwice := []events.Type{events.JobQueued, events.JobStarted, events.JobRetrying,
		events.JobStarted, events.JobRetrying, events.JobStarted, events.JobFailed}
	return []faultRow{
		{
			name: "redfish/healthy", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string { return "sim-01" },
			want: faultOutcome{events: []events.Type{events.JobQueued, events.JobStarted, events.JobSucceeded},
				attempts: 1, power: jobs.PowerStateOn},
		},
		{
			// A wrong password is never retried: real BMCs lock an account
			// after a few failed logins.
			name: "redfish/wrong-password", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				s.sim(t, "sim-01").Faults().SetAuthFailure(true)
				return "sim-01"
			},
			want: faultOutcome{events: queuedStartedFailed, code: jobs.CodeBMCAuthFailed, attempts: 1,
				inMessage: "refused the credentials", power: jobs.PowerStateOff},
		},
		{
			name: "redfish/refused-port", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				return enrol(t, s, "refused-01", jobs.BMC{Address: bmctest.DeadAddress(t), Provider: jobs.ProviderRedfish}, "admin", "password")
			},
			want: faultOutcome{events: retriedTwice, code: jobs.CodeBMCUnreachable, attempts: faultAttempts,
				inMessage: "connection refused", breaker: true, power: jobs.PowerStateOff},
		},
		{
			name: "redfish/silent-port", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				return enrol(t, s, "silent-01", jobs.BMC{Address: bmctest.SilentAddress(t), Provider: jobs.ProviderRedfish}, "admin", "password")
			},
			want: faultOutcome{events: retriedTwice, code: jobs.CodeBMCTimeout, attempts: faultAttempts,
				inMessage: "did not answer in time", power: jobs.PowerStateOff},
		},
		{
			name: "redfish/hanging-bmc", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				s.sim(t, "sim-01").Faults().SetHang(true)
				t.Cleanup(func() { s.sim(t, "sim-01").Faults().SetHang(false) })
				return "sim-01"
			},
			want: faultOutcome{events: retriedTwice, code: jobs.CodeBMCTimeout, attempts: faultAttempts,
				inMessage: "did not answer in time", power: jobs.PowerStateOff},
		},
		{
			name: "redfish/slow-under-deadline", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				s.sim(t, "sim-01").Faults().SetLatency(faultCallTimeout / 4)
				return "sim-01"
			},
			want: faultOutcome{events: []events.Type{events.JobQueued, events.JobStarted, events.JobSucceeded},
				attempts: 1, power: jobs.PowerStateOn},
		},
		{
			// The BMC answers 200 to the power change and does nothing.
			name: "redfish/lying-power", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				s.sim(t, "sim-01").Faults().SetLying(true)
				return "sim-01"
			},
			want: faultOutcome{events: queuedStartedFailed, code: jobs.CodePowerStateUnverified, attempts: 1,
				power: jobs.PowerStateOff},
		},
		{
			// A firmware hiccup: one request answered 500, then all is well.
			name: "redfish/5xx-then-recovers", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				s.simFaults(t, "sim-01", `{"fail_next": 1}`)
				return "sim-01"
			},
			want: faultOutcome{events: retriedOnce, retryCode: jobs.CodeBMCError, attempts: 2, power: jobs.PowerStateOn},
		},
		{
			// Every session taken (iDRAC allows a handful, often held by another
			// tool): busy and retried; the job runs once one frees.
			name: "redfish/session-limit", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				s.simFaults(t, "sim-01", `{"max_sessions": 0}`)
				return "sim-01"
			},
			recover: func(t *testing.T, s *system) { s.simFaults(t, "sim-01", `{"max_sessions": -1}`) },
			want:    faultOutcome{events: retriedOnce, retryCode: jobs.CodeBMCBusy, attempts: 2, power: jobs.PowerStateOn},
		},
		{
			// The BMC drops off the network for a moment during the job: the
			// retry finds it back; one failure leaves the breaker closed.
			name: "redfish/drops-off-briefly", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				s.simFaults(t, "sim-01", `{"offline": true}`)
				return "sim-01"
			},
			recover: func(t *testing.T, s *system) { s.simFaults(t, "sim-01", `{"offline": false}`) },
			want:    faultOutcome{events: retriedOnce, retryCode: jobs.CodeBMCUnreachable, attempts: 2, power: jobs.PowerStateOn},
		},
		{
			// The BMC stays away through every attempt: the breaker opens and
			// the server goes into maintenance; when the BMC is back the probe
			// closes the breaker with no operator, and the next job runs.
			name: "redfish/drops-off-long", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				s.simFaults(t, "sim-01", `{"offline": true}`)
				return "sim-01"
			},
			after: breakerRecovers,
			want: faultOutcome{events: retriedTwice, retryCode: jobs.CodeBMCUnreachable, code: jobs.CodeBMCUnreachable,
				attempts: faultAttempts, inMessage: "connection refused", breaker: true, power: jobs.PowerStateOff},
		},
		{
			// The BMC answers PoweringOn, then a stale Off, while the host
			// comes up (MAAS met it, and reads twice since): the readback
			// goes on until two readings agree.
			name: "redfish/transitional-power", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				s.simFaults(t, "sim-01", `{"power_readings": ["PoweringOn", "Off"]}`)
				return "sim-01"
			},
			after: func(t *testing.T, s *system, server string) {
				if left := s.sim(t, server).Faults().PowerReadings(); len(left) != 0 {
					t.Errorf("readings %v never read: the readback stopped early", left)
				}
			},
			want: faultOutcome{events: []events.Type{events.JobQueued, events.JobStarted, events.JobSucceeded},
				attempts: 1, power: jobs.PowerStateOn},
		},
		{
			// A transition is not a state: PoweringOn from a BMC that changes
			// nothing never counts as on.
			name: "redfish/transitional-then-lies", action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				s.simFaults(t, "sim-01", `{"lying": true, "power_readings": ["PoweringOn", "PoweringOn", "PoweringOn"]}`)
				return "sim-01"
			},
			want: faultOutcome{events: queuedStartedFailed, code: jobs.CodePowerStateUnverified, attempts: 1,
				power: jobs.PowerStateOff},
		},
		{
			// A boot override the BMC shows back: read back over Redfish.
			name: "redfish/boot-device", boot: `{"device":"pxe"}`,
			target: func(t *testing.T, s *system) string { return "sim-01" },
			want:   faultOutcome{events: []events.Type{events.JobQueued, events.JobStarted, events.JobSucceeded}, attempts: 1},
		},
		{
			// The BMC answers 200 to the boot override and keeps another
			// (seen on BMCs whose firmware drops the PATCH): the read-back
			// tells, and the change is not sent again.
			name: "redfish/boot-override-ignored", boot: `{"device":"pxe"}`,
			target: func(t *testing.T, s *system) string {
				s.simFaults(t, "sim-01", `{"lying": true}`)
				return "sim-01"
			},
			want: faultOutcome{events: queuedStartedFailed, code: workers.CodeBootDeviceUnverified, attempts: 1,
				inMessage: "shows"},
		},
		{
			// ipmitool cannot read the override back: the change is taken on trust.
			name: "ipmi/boot-device", ipmi: true, boot: `{"device":"pxe"}`,
			target: func(t *testing.T, s *system) string {
				return enrolIPMI(t, s, "ipmi-boot", ipmisim.Password)
			},
			want: faultOutcome{events: []events.Type{events.JobQueued, events.JobStarted, events.JobSucceeded}, attempts: 1},
		},
		{
			name: "ipmi/healthy", ipmi: true, action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				return enrolIPMI(t, s, "ipmi-ok", ipmisim.Password)
			},
			want: faultOutcome{events: []events.Type{events.JobQueued, events.JobStarted, events.JobSucceeded},
				attempts: 1, power: jobs.PowerStateOn},
		},
		{
			name: "ipmi/wrong-password", ipmi: true, action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				return enrolIPMI(t, s, "ipmi-denied", ipmisim.Password+"-wrong")
			},
			want: faultOutcome{events: queuedStartedFailed, code: jobs.CodeBMCAuthFailed, attempts: 1,
				inMessage: "refused the credentials", power: jobs.PowerStateOff},
		},
		{
			// The catalogue's SHA-256 is not the disk image's: the installer
			// writes nothing and says so, and the job fails at once (not at
			// the installer timeout), the server powered off, booting its
			// disk, in error, with no boot configuration left.
			name: "installer/checksum-mismatch", provision: "corrupt-image",
			tune: func(c *devConfig) { c.InstallerDelay = 2 * time.Second }, // the workflow is waiting when the report comes
			target: func(t *testing.T, s *system) string {
				img := *s.dev.demo
				img.Name, img.SHA256, img.CreatedAt = "corrupt-image", strings.Repeat("0", 64), time.Time{}
				if _, err := s.dev.backend.store.AddImage(context.Background(), img); err != nil {
					t.Fatal(err)
				}
				return "sim-01"
			},
			after: func(t *testing.T, s *system, server string) {
				ctx := context.Background()
				if srv, _ := s.dev.backend.store.Server(ctx, server); srv.State != jobs.ServerError {
					t.Errorf("%s is %s, want error", server, srv.State)
				}
				if _, err := s.dev.backend.store.BootConfig(ctx, server); jobs.CodeOf(err) != jobs.CodeNotFound {
					t.Errorf("boot configuration left: %v", err)
				}
				if target, enabled := s.sim(t, server).BootOverride(); target != "Hdd" || enabled != "Continuous" {
					t.Errorf("boot override %s %s, want the disk, persistent", target, enabled)
				}
			},
			want: faultOutcome{events: []events.Type{events.JobQueued, events.JobStarted, events.JobProgress, events.JobProgress,
				events.JobProgress, events.JobProgress, events.JobFailed}, code: jobs.CodeChecksumMismatch, attempts: 1,
				inMessage: "the installer reported checksum_mismatch: the SHA-256 of", power: jobs.PowerStateOff},
		},
		{
			name: "ipmi/silent-port", ipmi: true, action: jobs.PowerOn,
			target: func(t *testing.T, s *system) string {
				return enrol(t, s, "ipmi-silent", jobs.BMC{Address: bmctest.SilentAddress(t), Provider: jobs.ProviderIPMI,
					CipherSuite: ipmisim.CipherSuite}, ipmisim.Username, ipmisim.Password)
			},
			want: faultOutcome{events: retriedTwice, code: jobs.CodeBMCTimeout, attempts: faultAttempts,
				inMessage: "did not answer in time", power: jobs.PowerStateOff},
		},
	}
}

func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	for _, row := range faultRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			if row.ipmi {
				ipmisim.RequireTools(t)
			}
			redisURL, _ := servicetest.Redis(t)
			logs := &servicetest.Buffer{}
			s := startDevWith(t, redisURL, 1, func(c *devConfig) {
				faultConfig(c, logs)
				if row.tune != nil {
					row.tune(c)
				}
			})
			s.sim(t, "sim-01").SetPowerState("Off")
			if err := s.dev.backend.store.SetPowerState(context.Background(), "sim-01", jobs.PowerStateOff); err != nil {
				t.Fatal(err)
			}
			server := row.target(t, s)

			id := "fault-" + strings.ReplaceAll(row.name, "/", "-")
			switch {
			case row.provision != "":
				s.publish(t, "provision", id, fmt.Sprintf(`{"id":%q,"type":"provision","server":%q,"params":{"image":%q}}`, id, server, row.provision))
			case row.boot != "":
				s.publish(t, "boot-device", id, fmt.Sprintf(`{"id":%q,"type":"boot-device","server":%q,"params":%s}`, id, server, row.boot))
			default:
				s.publish(t, "power", id, fmt.Sprintf(`{"id":%q,"type":"power","server":%q,"params":{"action":%q}}`, id, server, row.action))
			}
			var mended bool
			f := events.Filter{Job: id}
			if row.provision != "" {
				f.Type = "job" // a provision's server changes state too: its events are checked in after
			}
			evs := s.collect(t, f, 2*time.Minute, func(ev events.Event) bool {
				if ev.Type == events.JobRetrying && row.recover != nil && !mended {
					mended = true
					row.recover(t, s)
				}
				return terminal(ev)
			})
			checkFaultOutcome(t, s, server, evs, row.want)
			if server == "sim-01" {
				checkNoSessionLeft(t, s.sim(t, "sim-01"))
			}
			if row.after != nil {
				row.after(t, s, server)
			}
			if strings.Contains(logs.String(), `"panic"`) || strings.Contains(logs.String(), "nil pointer") {
				t.Errorf("a log line reports a panic:\n%s", logs.String())
			}
		})
	}
}

// faultConfig makes retries and call deadlines short, so each row ends in
// seconds, and keeps the logs for the panic check.
func faultConfig(c *devConfig, logs *servicetest.Buffer) {
	c.Logger = c.Logger.Output(logs)
	c.BMC.CallTimeout = faultCallTimeout
	retry := workers.DefaultRetryPolicy()
	retry.Base, retry.Max = time.Second, time.Second // 0.5-1 s between attempts
	retry.Attempts[jobs.Power] = faultAttempts
	c.Worker.Retry = retry
	c.Worker.BreakerThreshold = faultAttempts
	c.Worker.PowerVerifyTimeout = 2 * time.Second
	c.Worker.ProbeInterval = 500 * time.Millisecond
	c.Worker.MinCommandInterval = map[jobs.Provider]time.Duration{jobs.ProviderIPMI: 100 * time.Millisecond}
}

// checkFaultOutcome asserts the events of one job and the server afterwards.
func checkFaultOutcome(t *testing.T, s *system, server string, evs []events.Event, want faultOutcome) {
	t.Helper()
	checkSequence(t, evs, want.events...)
	last, err := evs[len(evs)-1].JobData()
	if err != nil {
		t.Fatal(err)
	}
	if want.retryCode != "" {
		i := slices.IndexFunc(evs, func(ev events.Event) bool { return ev.Type == events.JobRetrying })
		if d, _ := evs[max(i, 0)].JobData(); i < 0 || d.Error == nil || d.Error.Code != want.retryCode {
			t.Errorf("first retrying event %+v, want code %s", d.Error, want.retryCode)
		}
	}
	if last.Attempt != want.attempts {
		t.Errorf("terminal event at attempt %d, want %d", last.Attempt, want.attempts)
	}
	switch {
	case want.code == "" && last.Error != nil:
		t.Errorf("job failed %+v, want success", last.Error)
	case want.code != "" && (last.Error == nil || last.Error.Code != want.code):
		t.Errorf("job error %+v, want code %s", last.Error, want.code)
	case want.code != "" && !strings.Contains(last.Error.Message, want.inMessage):
		t.Errorf("job error message %q, want it to say %q", last.Error.Message, want.inMessage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := s.dev.backend.store.Server(ctx, server)
	if err != nil {
		t.Fatalf("read server %s: %v", server, err)
	}
	opened := srv.Maintenance != nil && srv.Maintenance.SetBy == store.BreakerSetter
	if opened != want.breaker {
		t.Errorf("server maintenance %+v, want breaker open %v", srv.Maintenance, want.breaker)
	}
	if want.power != "" && srv.PowerState != want.power {
		t.Errorf("server power_state %s, want %s", srv.PowerState, want.power)
	}
}

// simFaults sets knobs of a simulated BMC through the control API of the
// running tinman dev, as a person would with curl.
func (s *system) simFaults(t *testing.T, name, knobs string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, s.dev.simControlURL+"/sim/bmcs/"+name+"/faults", strings.NewReader(knobs))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("PATCH %s faults %s: %v", name, knobs, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Errorf("PATCH %s faults %s: %d %s", name, knobs, resp.StatusCode, body)
	}
}

// checkNoSessionLeft asserts every session a job opened was closed: the
// BMC's session count returns to 0.
func checkNoSessionLeft(t *testing.T, b *bmcsim.BMC) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.SessionCount() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := b.SessionCount(); n > 0 {
		t.Errorf("%d BMC sessions left open after the job", n)
	}
}

// breakerRecovers brings the BMC back and checks that the probe closes the
// breaker (maintenance cleared, no operator) and that a new job then runs.
func breakerRecovers(t *testing.T, s *system, server string) {
	t.Helper()
	s.simFaults(t, server, `{"offline": false}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		srv, err := s.dev.backend.store.Server(ctx, server)
		if err == nil && srv.Maintenance == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s still in maintenance %+v (%v) 30 s after its BMC came back", server, srv.Maintenance, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.publish(t, "power", "after-breaker", fmt.Sprintf(`{"id":"after-breaker","type":"power","server":%q,"params":{"action":"on"}}`, server))
	evs := s.collect(t, events.Filter{Job: "after-breaker"}, time.Minute, terminal)
	checkSequence(t, evs, events.JobQueued, events.JobStarted, events.JobSucceeded)
}

// enrol puts a server at bmc into the running system's registry, available
// and powered off.
func enrol(t *testing.T, s *system, id string, b jobs.BMC, user, pass string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv := jobs.Server{ID: id, BMC: b, State: jobs.ServerAvailable, PowerState: jobs.PowerStateOff}
	if err := s.dev.backend.store.PutServer(ctx, srv, jobs.Credentials{Username: user, Password: pass}); err != nil {
		t.Fatalf("enrol %s: %v", id, err)
	}
	return id
}

// enrolIPMI starts a real ipmi_sim and enrols it as id with password.
func enrolIPMI(t *testing.T, s *system, id, password string) string {
	t.Helper()
	sim := ipmisim.Start(t, 1)[0]
	return enrol(t, s, id, jobs.BMC{Address: sim.Addr(), Provider: jobs.ProviderIPMI, CipherSuite: ipmisim.CipherSuite},
		ipmisim.Username, password)
}

// TestConnectorFailsWithNilInterface: the worker's own connector, through
// real bmclib, returns a nil workers.Session when the login fails, for every
// provider; a nil *bmc.Session inside the interface panicked at Close.
func TestConnectorFailsWithNilInterface(t *testing.T) {
	t.Parallel()
	dialer, err := bmc.NewDialer(bmc.Config{CallTimeout: faultCallTimeout})
	if err != nil {
		t.Fatal(err)
	}
	connect := bmclibConnector(dialer)
	for _, p := range []jobs.Provider{jobs.ProviderRedfish, jobs.ProviderIPMI} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			if p == jobs.ProviderIPMI {
				ipmisim.RequireTools(t)
			}
			srv := jobs.Server{ID: "nil-check", BMC: jobs.BMC{Address: bmctest.DeadAddress(t), Provider: p, CipherSuite: ipmisim.CipherSuite}}
			ctx, cancel := context.WithTimeout(context.Background(), 2*faultCallTimeout)
			defer cancel()
			b, err := connect(ctx, srv, jobs.Credentials{Username: "admin", Password: "password"})
			if err == nil {
				t.Fatal("opening a dead BMC succeeded")
			}
			if b != nil {
				t.Errorf("a failed open returned a non-nil %T beside %v", b, err)
			}
		})
	}
}

// TestREADMEListsTheFaultMatrix: the README's "What happens when things
// fail" table has a row for every row of the matrix, and no other.
func TestREADMEListsTheFaultMatrix(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "## What happens when things fail")
	if !ok {
		t.Fatal(`README has no "What happens when things fail" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z]+/[a-z0-9-]+)` \\|").FindAllStringSubmatch(section, -1) {
		listed[m[1]] = true
	}
	for _, row := range faultRows() {
		if !listed[row.name] {
			t.Errorf("README's failure table lacks %s", row.name)
		}
		delete(listed, row.name)
	}
	for name := range listed {
		t.Errorf("README's failure table lists %s, which the matrix does not run", name)
	}
}

// TestEndToEndEveryLoginHasItsLogout runs a few hundred jobs through the
// real wiring against BMCs that fail 10 % of their requests: every session a
// job opened is closed again (the BMC is asked for as many logouts as it
// gave sessions), and no BMC ever served two requests at once. A logout the
// BMC itself fails leaves its session until the BMC expires it: bmclib
// ignores Logout's error, so Tinman cannot ask again (README, known limits).
func TestEndToEndEveryLoginHasItsLogout(t *testing.T) {
	t.Parallel()
	const sims, jobsPerSim = 4, 60
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, sims, func(c *devConfig) {
		faultConfig(c, &servicetest.Buffer{})
		c.Worker.Retry.Base, c.Worker.Retry.Max = 50*time.Millisecond, 200*time.Millisecond
	})
	var ids []string
	for i := range sims {
		s.sim(t, simID(i)).Faults().SetErrorRate(0.1)
	}
	for n := range jobsPerSim * sims {
		id := fmt.Sprintf("leak-%03d", n)
		action := []string{"on", "off", "status"}[n%3]
		s.publish(t, "power", id, fmt.Sprintf(`{"id":%q,"type":"power","server":%q,"params":{"action":%q}}`, id, simID(n%sims), action))
		ids = append(ids, id)
	}
	ended := map[string]bool{}
	s.collect(t, events.Filter{Type: "job"}, 5*time.Minute, func(ev events.Event) bool {
		if d, err := ev.JobData(); err == nil && ev.Type.Terminal() {
			ended[d.JobID] = true
		}
		return len(ended) == len(ids)
	})
	var logins, stranded int
	for i := range sims {
		b := s.sim(t, simID(i))
		deadline := time.Now().Add(10 * time.Second)
		for b.LogoutTries() < b.Logins() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if b.LogoutTries() != b.Logins() {
			t.Errorf("%s gave %d sessions and was asked %d logouts: a session was never closed", simID(i), b.Logins(), b.LogoutTries())
		}
		if n := b.MaxConcurrentRequests(); n > 1 {
			t.Errorf("%s served %d requests at once", simID(i), n)
		}
		logins += b.Logins()
		stranded += b.SessionCount()
	}
	t.Logf("%d jobs, %d sessions opened and as many logouts asked; %d sessions left by logouts the BMCs failed", len(ids), logins, stranded)
}
