package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

// chaosConfig sizes a chaos run: TINMAN_CHAOS_JOBS, TINMAN_CHAOS_SIMS and
// TINMAN_CHAOS_KILL_EVERY override the short run CI makes
// (scripts/chaos.sh makes the long one).
type chaosConfig struct {
	jobs, sims int
	killEvery  time.Duration
	errorRate  float64
}

func chaosConfigFromEnv(t *testing.T) chaosConfig {
	t.Helper()
	c := chaosConfig{jobs: 150, sims: 20, killEvery: 4 * time.Second, errorRate: 0.1}
	if v := os.Getenv("TINMAN_CHAOS_JOBS"); v != "" {
		c.jobs, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("TINMAN_CHAOS_SIMS"); v != "" {
		c.sims, _ = strconv.Atoi(v)
	}
	if v := os.Getenv("TINMAN_CHAOS_KILL_EVERY"); v != "" {
		c.killEvery, _ = time.ParseDuration(v)
	}
	if c.jobs < 1 || c.sims < 1 || c.killEvery <= 0 {
		t.Fatalf("chaos config %+v: jobs, sims and kill interval must be positive", c)
	}
	return c
}

// TestProcessChaos runs the real roles as processes (a dispatcher, two
// workers) over simulated BMCs that fail 10 % of their requests, publishes
// power, boot-device and provision jobs, and meanwhile kills a worker with
// SIGKILL every few seconds (starting it again), crashes Redis (append-only
// file on) once and restarts NATS once. At the end every request has a job
// or a rejection, every job exactly one terminal event and its events
// numbered without gap, no BMC ever served two requests at once, and no
// server is left in a transitional state.
func TestProcessChaos(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a chaos run takes minutes")
	}
	cfg := chaosConfigFromEnv(t)
	redis := servicetest.RedisProcess(t)
	c := &cluster{natsDir: t.TempDir(), redisURL: redis.URL()}
	c.restartNATS(t)
	t.Cleanup(func() { c.nats.Shutdown() })
	natsURL := c.nats.URL() // the same across restarts: the port is kept
	ids := chaosFleet(t, c, natsURL, cfg)

	c.role(t, "dispatcher")
	workerArgs := []string{"--lease-ttl", "3s", "--wait-poll", "500ms", "--installer-timeout", "2m", "--bmc-timeout", "5s"}
	workers := []*proc{c.role(t, "worker", workerArgs...), c.role(t, "worker", workerArgs...)}
	c.client(t) // the roles made the streams

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var kills int
	wg.Go(func() { // the chaos: kill and restart workers; crash Redis once; restart NATS once
		tick := time.NewTicker(cfg.killEvery)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			i := n % len(workers)
			workers[i].kill(t)
			workers[i] = c.role(t, "worker", workerArgs...)
			kills++
			switch n {
			case 3:
				redis.Stop(t)
				time.Sleep(time.Second)
				redis.Start(t)
			case 6:
				c.nats.Shutdown()
				time.Sleep(time.Second)
				c.restartNATS(t)
			}
		}
	})

	published := chaosPublish(t, natsURL, cfg, ids)
	outcome := chaosWait(t, natsURL, published, 10*time.Minute)
	close(stop)
	wg.Wait()
	chaosCheck(t, c, published, outcome, fmt.Sprintf("%d workers killed with SIGKILL, Redis crashed once, NATS restarted once", kills))
}

// chaosFleet starts cfg.sims simulated BMCs, failing cfg.errorRate of their
// requests, with the simulated installer, and enrols them available.
func chaosFleet(t *testing.T, c *cluster, natsURL string, cfg chaosConfig) []string {
	t.Helper()
	ctx := context.Background()
	rdb, _, err := openRedis(ctx, c.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	key, _ := store.ParseKey(testKeyText)
	st := storetest.Store(t, rdb, storetest.Outbox(t, rdb, nil, store.OutboxConfig{}), store.Config{Logger: zerolog.Nop(), SecretKey: key})
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	installer := newSimInstaller(ctx, startTestBoot(t, st, "chaos-os"), js, 200*time.Millisecond, zerolog.Nop())
	ids := make([]string, cfg.sims)
	for i := range ids {
		ids[i] = fmt.Sprintf("chaos-%03d", i+1)
	}
	fleet, err := bmcsim.StartFleetFunc(cfg.sims, func(i int) bmcsim.Config {
		return bmcsim.Config{InitialPowerState: bmcsim.PowerOff, OnCommand: installer.hook(ids[i], simMAC(i)), Logger: zerolog.Nop(),
			Identity: bmcsim.Identity{MACAddress: simMAC(i)}}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fleet.Close() })
	c.fleet = map[string]*bmcsim.BMC{}
	for i, b := range fleet.BMCs() {
		b.Faults().SetErrorRate(cfg.errorRate)
		user, pass := b.Credentials()
		srv := jobs.Server{ID: ids[i], BMC: jobs.BMC{Address: b.Addr(), Provider: jobs.ProviderRedfish},
			State: jobs.ServerAvailable, PowerState: jobs.PowerStateOff, BootMAC: simMAC(i)}
		if err := st.PutServer(ctx, srv, jobs.Credentials{Username: user, Password: pass}); err != nil {
			t.Fatal(err)
		}
		c.fleet[ids[i]] = b
	}
	c.store = st
	return ids
}

// chaosPublish publishes cfg.jobs requests spread over the servers and over
// time (most of the chaos happens while they arrive), retrying each publish
// until JetStream acks it: a request a client saw acked must not be lost.
func chaosPublish(t *testing.T, natsURL string, cfg chaosConfig, servers []string) map[string]string {
	t.Helper()
	nc, js := reconnecting(t, natsURL)
	pub := &system{nc: nc, js: js}
	published := map[string]string{} // id -> type
	rng := rand.New(rand.NewPCG(1, 2))
	pace := max(cfg.killEvery*8/time.Duration(cfg.jobs), time.Millisecond)
	for i := range cfg.jobs {
		id := fmt.Sprintf("chaos-job-%04d", i+1)
		server := servers[rng.IntN(len(servers))]
		var typ, params string
		switch r := rng.IntN(100); {
		case r < 60:
			typ, params = "power", fmt.Sprintf(`{"action":%q}`, []string{"on", "off", "cycle"}[rng.IntN(3)])
		case r < 85:
			typ, params = "boot-device", `{"device":"pxe"}`
		default:
			typ, params = "provision", `{"image":"chaos-os"}`
		}
		body := fmt.Sprintf(`{"id":%q,"type":%q,"server":%q,"params":%s}`, id, typ, server, params)
		publishAcked(t, pub, typ, id, body)
		published[id] = typ
		time.Sleep(pace)
	}
	return published
}

// reconnecting connects to NATS for the whole run, across its restarts; the
// connection closes when the test ends.
func reconnecting(t *testing.T, natsURL string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// publishAckedTimeout bounds the retries of one publish across an outage.
const publishAckedTimeout = 2 * time.Minute

// publishAcked publishes until JetStream acks, across NATS restarts.
func publishAcked(t *testing.T, s *system, typ, id, body string) {
	t.Helper()
	deadline := time.Now().Add(publishAckedTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: events.RequestSubject(typ), Data: []byte(body)}, jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish %s: no ack for %s: %v", id, publishAckedTimeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// chaosOutcome is what the event stream says of each job.
type chaosOutcome struct {
	events   map[string][]events.Event // job id -> its events, in stream order
	rejected map[string]bool
}

// chaosWait reads the event stream until every published job has ended or
// was rejected, or within passes.
func chaosWait(t *testing.T, natsURL string, published map[string]string, within time.Duration) chaosOutcome {
	t.Helper()
	_, js := reconnecting(t, natsURL)
	out := chaosOutcome{events: map[string][]events.Event{}, rejected: map[string]bool{}}
	deadline := time.Now().Add(within)
	for {
		out = chaosOutcome{events: map[string][]events.Event{}, rejected: map[string]bool{}}
		all, err := storedEvents(js)
		if err != nil { // NATS restarting: look again
			t.Logf("read the events: %v", err)
			time.Sleep(time.Second)
			continue
		}
		for _, d := range all {
			switch d.Event.Type {
			case events.RequestRejected:
				var r events.RejectedData
				if err := json.Unmarshal(d.Event.Data, &r); err == nil {
					out.rejected[r.JobID] = true
				}
			default:
				if jd, err := d.Event.JobData(); err == nil && strings.HasPrefix(string(d.Event.Type), "tinman.job.") {
					out.events[jd.JobID] = append(out.events[jd.JobID], d.Event)
				}
			}
		}
		pending := 0
		for id := range published {
			if !out.rejected[id] && !slices.ContainsFunc(out.events[id], func(ev events.Event) bool { return ev.Type.Terminal() }) {
				pending++
			}
		}
		if pending == 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Errorf("%d of %d jobs have not ended %s after the last request", pending, len(published), within)
			return out
		}
		time.Sleep(2 * time.Second)
	}
}

// chaosCheck asserts the invariants and prints the summary table.
func chaosCheck(t *testing.T, c *cluster, published map[string]string, out chaosOutcome, what string) {
	t.Helper()
	var lost, noTerminal, manyTerminal, gaps, succeeded, failed, rejected int
	codes := map[string]int{} // why jobs failed: the faults' doing, not losses
	for id := range published {
		evs := out.events[id]
		if out.rejected[id] {
			rejected++
			continue
		}
		if len(evs) == 0 {
			lost++
			t.Errorf("job %s: no event at all: the request was lost", id)
			continue
		}
		var terminals int
		for i, ev := range evs {
			d, _ := ev.JobData()
			if d.Seq != int64(i+1) {
				gaps++
				t.Errorf("job %s: event %d (%s) has seq %d: a gap or a repeat (%s)", id, i, ev.Type, d.Seq, typesOf(evs))
				break
			}
			if ev.Type.Terminal() {
				terminals++
			}
		}
		switch {
		case terminals == 0:
			noTerminal++
			t.Errorf("job %s never ended: %s", id, typesOf(evs))
		case terminals > 1:
			manyTerminal++
			t.Errorf("job %s ended %d times: %s", id, terminals, typesOf(evs))
		case evs[len(evs)-1].Type == events.JobSucceeded:
			succeeded++
		default:
			failed++
			if d, _ := evs[len(evs)-1].JobData(); d.Error != nil {
				codes[string(d.Error.Code)]++
			}
		}
	}
	var overlaps int
	for id, b := range c.fleet {
		if n := b.MaxConcurrentRequests(); n > 1 {
			overlaps++
			t.Errorf("BMC of %s served %d requests at once: two jobs overlapped on one server", id, n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var transitional int
	servers, err := c.store.ListServers(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, srv := range servers {
		if srv.State.Transitional() {
			transitional++
			t.Errorf("server %s left %s (job %s) with every job ended", srv.ID, srv.State, srv.Job)
		}
	}
	t.Logf("\nchaos run: %d BMCs, %s\n"+
		"| requests | succeeded | failed | rejected | lost | never ended | ended twice | seq gaps | BMC overlaps | servers stuck |\n"+
		"| %d | %d | %d | %d | %d | %d | %d | %d | %d | %d |\nfailures by code: %v",
		len(c.fleet), what, len(published), succeeded, failed, rejected, lost, noTerminal, manyTerminal, gaps, overlaps, transitional, codes)
}

// storedEvents reads every message of TINMAN_EVENTS, decoded, in order.
func storedEvents(js jetstream.JetStream) ([]events.Delivered, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.EventsStream)
	if err != nil {
		return nil, err
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{InactiveThreshold: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []events.Delivered
	for uint64(len(out)) < info.State.Msgs {
		batch, err := c.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			ev, err := events.Decode(msg.Data())
			if err != nil {
				return nil, fmt.Errorf("decode an event: %w", err)
			}
			meta, _ := msg.Metadata()
			out = append(out, events.Delivered{Event: ev, StreamSeq: meta.Sequence.Stream})
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
	}
	return out, nil
}
