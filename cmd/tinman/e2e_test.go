package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

// system is a running `tinman dev` for one test.
type system struct {
	dev *dev
	js  jetstream.JetStream
	nc  *nats.Conn
}

// startDev runs the real dev system on private ports with the test's Redis.
func startDev(t *testing.T, redisURL string, sims int) *system {
	t.Helper()
	return startDevWith(t, redisURL, sims, func(*devConfig) {})
}

// startDevWith is startDev with the config changed by tune.
func startDevWith(t *testing.T, redisURL string, sims int, tune func(*devConfig)) *system {
	t.Helper()
	cfg := newDevConfig()
	cfg.HTTPAddr, cfg.NATSPort, cfg.RedisURL, cfg.Sims = "127.0.0.1:0", -1, redisURL, sims
	cfg.Boot.Addr = "127.0.0.1:0"
	cfg.DataDir, cfg.ContextFile = t.TempDir(), filepath.Join(t.TempDir(), "dev.json")
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	cfg.Out = testWriter{t}
	tune(&cfg)
	d := newDev(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dev stopped with %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("dev did not stop within 60 s of its context ending")
		}
	})
	select {
	case <-d.Ready():
	case err := <-done:
		t.Fatalf("dev did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("dev not ready within 60 s")
	}
	nc, js := servicetest.JetStream(t, d.natsURL)
	s := &system{dev: d, js: js, nc: nc}
	s.enrolImage(t, testImages...)
	return s
}

// testImages are the catalogue images the tests provision, beside the demo
// image: copies of it under other names.
var testImages = []string{"ubuntu-24.04", "debian-13"}

// enrolImage puts copies of the demo image in the catalogue under names.
func (s *system) enrolImage(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		img := *s.dev.demo
		img.Name, img.CreatedAt = name, time.Time{}
		if _, err := s.dev.backend.store.AddImage(context.Background(), img); err != nil {
			t.Fatalf("enrol image %s: %v", name, err)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// sim returns the simulated BMC enrolled as id (sim-01 is the first).
func (s *system) sim(t *testing.T, id string) *bmcsim.BMC {
	t.Helper()
	for i, b := range s.dev.fleet.BMCs() {
		if simID(i) == id {
			return b
		}
	}
	t.Fatalf("no simulated BMC %s", id)
	return nil
}

// publish publishes a raw request as any NATS client would; msgID may be empty.
func (s *system) publish(t *testing.T, typ, msgID, body string) *jetstream.PubAck {
	t.Helper()
	msg := &nats.Msg{Subject: events.RequestSubject(typ), Data: []byte(body), Header: nats.Header{}}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		t.Fatalf("publish %s: %v", body, err)
	}
	return ack
}

// collect returns the events matching f until stop says the last one is
// enough, or fails the test after timeout.
func (s *system) collect(t *testing.T, f events.Filter, timeout time.Duration, stop func(events.Event) bool) []events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var got []events.Event
	if f.Since == 0 {
		f.Since = time.Hour
	}
	err := events.NewWatcher(s.js).Watch(ctx, f, func(d events.Delivered) error {
		got = append(got, d.Event)
		if stop(d.Event) {
			return events.ErrStopWatching
		}
		return nil
	})
	if err != nil {
		t.Fatalf("watch %+v: %v (got %s)", f, err, typesOf(got))
	}
	return got
}

// quiet returns every event matching f that arrives within d.
func (s *system) quiet(t *testing.T, f events.Filter, d time.Duration) []events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var got []events.Event
	f.Since = time.Hour
	err := events.NewWatcher(s.js).Watch(ctx, f, func(d events.Delivered) error {
		got = append(got, d.Event)
		return nil
	})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("watch: %v", err)
	}
	return got
}

func terminal(ev events.Event) bool { return ev.Type.Terminal() }

func typesOf(evs []events.Event) string {
	names := make([]string, len(evs))
	for i, ev := range evs {
		names[i] = strings.TrimPrefix(string(ev.Type), "tinman.")
	}
	return strings.Join(names, ",")
}

// checkSequence asserts the job's events are exactly want, in order, with seq 1, 2, 3...
func checkSequence(t *testing.T, evs []events.Event, want ...events.Type) {
	t.Helper()
	if len(evs) != len(want) {
		t.Fatalf("events = %s, want %d events %v", typesOf(evs), len(want), want)
	}
	for i, ev := range evs {
		d, err := ev.JobData()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != want[i] || d.Seq != int64(i+1) {
			t.Errorf("event %d = %s seq %d, want %s seq %d", i, ev.Type, d.Seq, want[i], i+1)
		}
	}
}

func powerCommands(b *bmcsim.BMC) []bmcsim.Command {
	var out []bmcsim.Command
	for _, c := range b.Commands() {
		if c.Op == bmcsim.OpPower {
			out = append(out, c)
		}
	}
	return out
}

func TestEndToEndPowerCycle(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDev(t, redisURL, 4)
	sim := s.sim(t, "sim-03")
	sim.SetPowerState("On")

	s.publish(t, "power", "e2e-cycle", `{"id":"e2e-cycle","type":"power","server":"sim-03","params":{"action":"cycle"}}`)
	evs := s.collect(t, events.Filter{Job: "e2e-cycle"}, 60*time.Second, terminal)

	checkSequence(t, evs, events.JobQueued, events.JobStarted, events.JobSucceeded)
	d, _ := evs[2].JobData()
	if d.Provider != "gofish" || !strings.Contains(string(d.Result), `"power_state":"on"`) {
		t.Errorf("succeeded data = %s, want provider gofish and power_state on", evs[2].Data)
	}
	cmds := powerCommands(sim)
	if len(cmds) != 1 {
		t.Fatalf("sim-03 power commands = %+v, want exactly one cycle", cmds)
	}
	if v := cmds[0].Value; v != "PowerCycle" && v != "ForceRestart" {
		t.Errorf("sim-03 got %q, want a power cycle (PowerCycle or ForceRestart)", v)
	}
	for _, other := range []string{"sim-01", "sim-02", "sim-04"} {
		if n := len(s.sim(t, other).Commands()); n != 0 {
			t.Errorf("%s received %d commands, want none", other, n)
		}
	}
}

func TestEndToEndSameIDIsOneJob(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDev(t, redisURL, 2)
	s.sim(t, "sim-02").SetPowerState("Off")
	body := `{"id":"e2e-dup","type":"power","server":"sim-02","params":{"action":"on"}}`

	// Twice with the id as Nats-Msg-Id: JetStream stores it once.
	s.publish(t, "power", "e2e-dup", body)
	if ack := s.publish(t, "power", "e2e-dup", body); !ack.Duplicate {
		t.Error("second publish with the same Nats-Msg-Id was not flagged duplicate")
	}
	// Twice more without the header, as a bare NATS client might: the
	// stream stores both, and the dispatcher must still make one job.
	s.publish(t, "power", "", body)
	s.publish(t, "power", "", body)

	evs := s.collect(t, events.Filter{Job: "e2e-dup"}, 60*time.Second, terminal)
	checkSequence(t, evs, events.JobQueued, events.JobStarted, events.JobSucceeded)
	if extra := s.quiet(t, events.Filter{Job: "e2e-dup"}, 3*time.Second); len(extra) != 3 {
		t.Errorf("job e2e-dup has events %s, want exactly queued,started,succeeded", typesOf(extra))
	}
	if cmds := powerCommands(s.sim(t, "sim-02")); len(cmds) != 1 {
		t.Errorf("sim-02 power commands = %+v, want exactly one", cmds)
	}
}

func TestEndToEndInvalidRequestIsRejected(t *testing.T) {
	t.Parallel()
	redisURL, rdb := servicetest.Redis(t)
	s := startDev(t, redisURL, 1)

	s.publish(t, "power", "e2e-bad", `{"id":"e2e-bad","type":"power","server":"sim-01","params":{"action":"explode"}}`)
	evs := s.collect(t, events.Filter{Type: "request.rejected"}, 30*time.Second, func(events.Event) bool { return true })

	var d events.RejectedData
	if err := json.Unmarshal(evs[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.JobID != "e2e-bad" || d.Error == nil || d.Error.Field != "params.action" ||
		!strings.Contains(d.Reason, "must be one of on, off, soft, cycle, reset, status") {
		t.Errorf("rejection = %s, want job e2e-bad, field params.action and the allowed values", evs[0].Data)
	}
	if !strings.Contains(string(d.Request), `"explode"`) {
		t.Errorf("rejection carries request %s, want the original", d.Request)
	}
	if all := s.quiet(t, events.Filter{}, 2*time.Second); len(all) != 1 {
		t.Errorf("events = %s, want only the one rejection", typesOf(all))
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	if _, err := insp.GetTaskInfo("default", "e2e-bad"); !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Errorf("task for a rejected request: %v, want none", err)
	}
	if n := len(s.sim(t, "sim-01").Commands()); n != 0 {
		t.Errorf("sim-01 received %d commands for a rejected request", n)
	}
}

func TestEndToEndRequestWaitsOutRedisOutage(t *testing.T) {
	t.Parallel()
	r := servicetest.RedisProcess(t)
	s := startDev(t, r.URL(), 1)
	s.sim(t, "sim-01").SetPowerState("Off")

	r.Stop(t)
	s.publish(t, "power", "e2e-outage", `{"id":"e2e-outage","type":"power","server":"sim-01","params":{"action":"on"}}`)
	waitRedelivered(t, s.js)
	if evs := s.quiet(t, events.Filter{Job: "e2e-outage"}, time.Second); len(evs) != 0 {
		t.Fatalf("events while Redis is down: %s, want none", typesOf(evs))
	}
	r.Start(t)

	evs := s.collect(t, events.Filter{Job: "e2e-outage"}, 90*time.Second, terminal)
	checkSequence(t, evs, events.JobQueued, events.JobStarted, events.JobSucceeded)
	if got := s.sim(t, "sim-01").PowerState(); got != "On" {
		t.Errorf("sim-01 power = %s after the job, want On", got)
	}
}

// waitRedelivered waits until the dispatcher has tried a request, given it
// back with a nak, and had it redelivered: the request is kept, not lost.
func waitRedelivered(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	for range 300 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := js.Consumer(ctx, events.RequestsStream, "tinman-dispatcher")
		if err == nil {
			info, err := c.Info(ctx)
			if err == nil && info.NumRedelivered > 0 {
				cancel()
				return
			}
		}
		cancel()
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the request was not redelivered within 30 s")
}

func TestEndToEndInspectAndBMCReset(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDev(t, redisURL, 1)

	s.publish(t, "inspect", "e2e-inspect", `{"id":"e2e-inspect","type":"inspect","server":"sim-01"}`)
	evs := s.collect(t, events.Filter{Job: "e2e-inspect", Type: "job"}, 60*time.Second, terminal)
	checkSequence(t, evs, events.JobQueued, events.JobStarted, events.JobSucceeded)
	var sum jobs.InventorySummary
	d, _ := evs[2].JobData()
	if err := json.Unmarshal(d.Result, &sum); err != nil || sum.CPUs == 0 || sum.NICs == 0 || sum.MemoryBytes == 0 || sum.Serial == "" {
		t.Errorf("inspect result %s (%v): want CPUs, NICs, memory and a serial from the simulator", d.Result, err)
	}
	inv, err := s.dev.backend.store.Inventory(context.Background(), "sim-01")
	if err != nil || inv.Serial != sum.Serial {
		t.Errorf("stored inventory %+v (%v), want the one reported", inv, err)
	}

	s.publish(t, "bmc-reset", "e2e-reset", `{"id":"e2e-reset","type":"bmc-reset","server":"sim-01","params":{"kind":"warm"}}`)
	evs = s.collect(t, events.Filter{Job: "e2e-reset"}, 60*time.Second, terminal)
	checkSequence(t, evs, events.JobQueued, events.JobStarted, events.JobSucceeded)
	var resets []bmcsim.Command
	for _, c := range s.sim(t, "sim-01").Commands() {
		if c.Op == bmcsim.OpManagerReset {
			resets = append(resets, c)
		}
	}
	if len(resets) != 1 || resets[0].Value != "GracefulRestart" {
		t.Errorf("manager resets %+v, want one GracefulRestart", resets)
	}
}

func TestEndToEndLyingBMCIsUnverified(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, 1, func(c *devConfig) { c.Worker.PowerVerifyTimeout = 2 * time.Second })
	sim := s.sim(t, "sim-01")
	sim.SetPowerState("On")
	sim.Faults().SetLying(true)

	s.publish(t, "power", "e2e-lie", `{"id":"e2e-lie","type":"power","server":"sim-01","params":{"action":"off"}}`)
	evs := s.collect(t, events.Filter{Job: "e2e-lie"}, time.Minute, terminal)
	d, _ := evs[len(evs)-1].JobData()
	if evs[len(evs)-1].Type != events.JobFailed || d.Error == nil || d.Error.Code != jobs.CodePowerStateUnverified {
		t.Fatalf("a BMC that accepts and does nothing gave %s %+v, want failed power_state_unverified", evs[len(evs)-1].Type, d.Error)
	}
	if cmds := powerCommands(sim); len(cmds) != 1 || cmds[0].Detail != bmcsim.DetailIgnored {
		t.Errorf("BMC commands %+v, want one ignored ForceOff: an unverified power change is not sent again", cmds)
	}
}

func TestEndToEndTwoJobsOnOneServerNeverOverlap(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDev(t, redisURL, 1)
	sim := s.sim(t, "sim-01")
	sim.SetPowerState("On")
	sim.Faults().SetLatency(150 * time.Millisecond) // each BMC answer takes a while

	// A reset of a server that is on always reaches the BMC as one command.
	ids := []string{"overlap-a", "overlap-b", "overlap-c"}
	for _, id := range ids {
		s.publish(t, "power", id, fmt.Sprintf(`{"id":%q,"type":"power","server":"sim-01","params":{"action":"reset"}}`, id))
	}
	type window struct{ from, to time.Time }
	var windows []window
	for _, id := range ids {
		evs := s.collect(t, events.Filter{Job: id}, time.Minute, terminal)
		var w window
		for _, ev := range evs {
			switch ev.Type {
			case events.JobStarted:
				w.from = ev.Time
			case events.JobSucceeded:
				w.to = ev.Time
			}
		}
		if w.from.IsZero() || w.to.IsZero() {
			t.Fatalf("job %s: %s, want started and succeeded", id, typesOf(evs))
		}
		windows = append(windows, w)
	}
	// Every BMC command falls inside one job's window, and windows are disjoint.
	cmds := powerCommands(sim)
	if len(cmds) != 3 {
		t.Fatalf("BMC commands %+v, want 3", cmds)
	}
	for _, c := range cmds {
		var in int
		for _, w := range windows {
			if !c.Time.Before(w.from) && !c.Time.After(w.to) {
				in++
			}
		}
		if in != 1 {
			t.Errorf("command %s at %s lies in %d job windows, want exactly 1", c.Value, c.Time.Format(time.StampMicro), in)
		}
	}
	for i := range windows {
		for j := i + 1; j < len(windows); j++ {
			a, b := windows[i], windows[j]
			if a.from.Before(b.to) && b.from.Before(a.to) {
				t.Errorf("jobs %s and %s ran at the same time: %v and %v", ids[i], ids[j], a, b)
			}
		}
	}
}

func TestEndToEndCredentialsNeverLeak(t *testing.T) {
	t.Parallel()
	const secret = "Zq-7f3!leak-canary-91"
	redisURL, rdb := servicetest.Redis(t)
	logs := &servicetest.Buffer{}
	s := startDevWith(t, redisURL, 2, func(c *devConfig) {
		fastInstaller(c)
		c.SimPassword = secret
		c.Logger = zerolog.New(logs).Level(zerolog.DebugLevel)
	})
	s.sim(t, "sim-02").Faults().SetAuthFailure(true) // a refused login must not echo it either
	requests := map[string]string{
		"leak-power":   `{"id":"leak-power","type":"power","server":"sim-01","params":{"action":"on"}}`,
		"leak-inspect": `{"id":"leak-inspect","type":"inspect","server":"sim-01"}`,
		"leak-denied":  `{"id":"leak-denied","type":"power","server":"sim-02","params":{"action":"status"}}`,
	}
	for id, body := range requests {
		var typ struct{ Type string }
		_ = json.Unmarshal([]byte(body), &typ)
		s.publish(t, typ.Type, id, body)
		s.collect(t, events.Filter{Job: id}, time.Minute, terminal)
	}
	s.publish(t, "provision", "leak-prov", `{"id":"leak-prov","type":"provision","server":"sim-01","params":{"image":"ubuntu-24.04"}}`)
	s.collect(t, events.Filter{Job: "leak-prov"}, 2*time.Minute, terminal)

	all := s.quiet(t, events.Filter{}, 2*time.Second)
	if len(all) < 10 {
		t.Fatalf("only %d events: the jobs did not run", len(all))
	}
	for _, ev := range all {
		if data, _ := json.Marshal(ev); strings.Contains(string(data), secret) {
			t.Errorf("event %s carries the BMC password", ev.ID)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Error("a log line carries the BMC password")
	}
	if !strings.Contains(logs.String(), "leak-denied") {
		t.Error("the logs were not captured: the test proves nothing")
	}
	ctx := context.Background()
	keys, _ := rdb.Keys(ctx, "*").Result()
	for _, k := range keys {
		if v, err := rdb.Get(ctx, k).Result(); err == nil && strings.Contains(v, secret) {
			t.Errorf("Redis key %s holds the password in clear", k)
		}
	}
}
