package workers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/workers"
)

// installer plays the OS installer of every server in e: whenever a server
// has a boot configuration it reports what that boot would, then wakes the
// job, until ctx ends.
func (e *env) installer(ctx context.Context, servers ...string) {
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	go func() {
		for ctx.Err() == nil {
			for _, id := range servers {
				cfg, err := e.store.BootConfig(ctx, id)
				if err != nil {
					continue
				}
				kinds := []string{store.CallbackInstalled, store.CallbackBooted}
				if cfg.Purpose == "wipe" {
					kinds = []string{store.CallbackWiped}
				}
				for _, k := range kinds {
					_ = e.store.RecordCallback(ctx, cfg.JobID, k)
				}
				_ = insp.RunTask("default", cfg.JobID)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

func steps(evs []events.JobData) []string {
	var out []string
	for _, d := range evs {
		if d.Step != "" && d.Message == "done" {
			out = append(out, d.Step)
		}
	}
	return out
}

// provisioned runs provision id of srv-1, behind bmc, with params and an
// installer that reports every boot, to its end.
func provisioned(t *testing.T, bmc *fakeBMC, id, params string) (*env, []events.JobData) {
	t.Helper()
	e := setup(t, bmc)
	e.installer(t.Context(), "srv-1")
	e.submit(t, id, jobs.Provision, params)
	return e, e.events(t, id)
}

func TestProvisionRunsEveryStepAndActivates(t *testing.T) {
	t.Parallel()
	bmc := &fakeBMC{state: jobs.PowerStateOn}
	e, evs := provisioned(t, bmc, "prov-1", `{"image":"ubuntu-24.04"}`)
	if last := evs[len(evs)-1]; last.State != jobs.StateSucceeded {
		t.Fatalf("provision ended %s %+v", last.State, last.Error)
	}
	want := []string{"power-off", "pxe-once", "power-on", "installed", "boot-disk", "power-cycle", "booted", "activate"}
	if got := steps(evs); !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	srv, _ := e.store.Server(context.Background(), "srv-1")
	if srv.State != jobs.ServerActive || srv.Job != "" {
		t.Errorf("server %s (job %q) after provision, want active", srv.State, srv.Job)
	}
	if _, err := e.store.BootConfig(context.Background(), "srv-1"); err == nil {
		t.Error("the boot configuration outlived the provision")
	}
	wantCalls := []string{"set off", "get", "get", "boot pxe persistent=false efi=false", "set on", "get", "get",
		"boot disk persistent=true efi=false", "get", "set cycle", "get", "get"}
	if got := bmc.Calls(); !slices.Equal(got, wantCalls) {
		t.Errorf("BMC calls %q, want %q", got, wantCalls)
	}
}

func TestProvisionResumesAtTheFailedStep(t *testing.T) {
	t.Parallel()
	bmc := &fakeBMC{state: jobs.PowerStateOn}
	e := setup(t, bmc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.installer(ctx, "srv-1")
	// The BMC times out once, on the power cycle after the install.
	bmc.set(func(f *fakeBMC) {
		f.setErrs = []error{nil, nil, jobs.Errorf(jobs.CodeBMCTimeout, true, "BMC did not answer")}
	})
	e.submit(t, "prov-2", jobs.Provision, `{"image":"ubuntu-24.04"}`)
	evs := e.events(t, "prov-2")
	if last := evs[len(evs)-1]; last.State != jobs.StateSucceeded || last.Attempt != 2 {
		t.Fatalf("provision ended %s at attempt %d, want succeeded at attempt 2", last.State, last.Attempt)
	}
	calls := strings.Join(bmc.Calls(), ",")
	if n := strings.Count(calls, "set off"); n != 1 {
		t.Errorf("power off sent %d times, want once: the retry must resume at the failed step (%s)", n, calls)
	}
	if n := strings.Count(calls, "boot pxe"); n != 1 {
		t.Errorf("PXE boot set %d times, want once (%s)", n, calls)
	}
	if n := strings.Count(calls, "set cycle"); n != 2 {
		t.Errorf("power cycle sent %d times, want twice: the failed try and the retry (%s)", n, calls)
	}
}

func TestProvisionInstallerTimeoutMovesServerToError(t *testing.T) {
	t.Parallel()
	e := setupWith(t, &fakeBMC{state: jobs.PowerStateOn}, func(c *workers.Config) { c.InstallerTimeout = 300 * time.Millisecond })
	e.submit(t, "prov-3", jobs.Provision, `{"image":"ubuntu-24.04"}`)
	evs := e.events(t, "prov-3")
	last := evs[len(evs)-1]
	if last.State != jobs.StateFailed || last.Error.Code != workers.CodeInstallerTimeout || last.Error.Retryable {
		t.Fatalf("provision ended %s %+v, want failed %s", last.State, last.Error, workers.CodeInstallerTimeout)
	}
	srv, _ := e.store.Server(context.Background(), "srv-1")
	if srv.State != jobs.ServerError || srv.LastError == nil || srv.LastError.JobID != "prov-3" ||
		!strings.Contains(srv.LastError.Reason, "installed") {
		t.Errorf("server %s %+v, want error naming the job and the missing callback", srv.State, srv.LastError)
	}
}

func TestProvisionWaitHoldsTheServerButNoWorker(t *testing.T) {
	t.Parallel()
	e := setupWith(t, &fakeBMC{state: jobs.PowerStateOn}, func(c *workers.Config) { c.Concurrency = 1; c.WaitPoll = 100 * time.Millisecond })
	e.submit(t, "prov-4", jobs.Provision, `{"image":"ubuntu-24.04"}`)
	e.watch(t, "prov-4", func(d events.JobData) bool { return d.Step == "wait-installed" })

	// The only worker slot is free: a job on another server would run. On
	// this server a power job must wait: the provision still holds it.
	e.submit(t, "power-meanwhile", jobs.Power, `{"action":"status"}`)
	evs := e.watch(t, "power-meanwhile", func(d events.JobData) bool { return d.Step == "waiting-for-server" || d.State.Terminal() })
	if last := evs[len(evs)-1]; last.Step != "waiting-for-server" {
		t.Fatalf("a power job on a server mid-provision got %s, want it to wait for the server", last.State)
	}
	// Parked, the workflow looks again every 100 ms without logging in.
	before := e.connects.Load()
	time.Sleep(time.Second)
	if n := e.connects.Load() - before; n > 1 {
		t.Errorf("%d BMC logins in a second of waiting for a callback, want none", n)
	}
	if _, err := e.store.CancelJob(context.Background(), "prov-4", "test"); err != nil {
		t.Fatal(err)
	}
	ended := e.events(t, "prov-4")
	if last := ended[len(ended)-1]; last.State != jobs.StateCanceled {
		t.Fatalf("canceled provision ended %s", last.State)
	}
	srv, _ := e.store.Server(context.Background(), "srv-1")
	if srv.State != jobs.ServerError || !strings.Contains(srv.LastError.Reason, "canceled after step power-on") {
		t.Errorf("server %s %+v after cancel, want error saying where it stopped", srv.State, srv.LastError)
	}
	after := e.events(t, "power-meanwhile")
	if last := after[len(after)-1]; last.State != jobs.StateSucceeded {
		t.Errorf("the waiting power job ended %s once the server was free", last.State)
	}
}

func TestWatchdogMovesStuckServersToError(t *testing.T) {
	t.Parallel()
	e := setupWith(t, &fakeBMC{}, func(c *workers.Config) {
		c.WatchdogInterval = 100 * time.Millisecond
		c.StateDeadlines = map[jobs.ServerState]time.Duration{jobs.ServerProvisioning: 200 * time.Millisecond}
	})
	ctx := context.Background()
	// A provision that crashed for good: the server is provisioning, its job gone.
	if _, err := e.store.TransitionServer(ctx, "srv-1", []jobs.ServerState{jobs.ServerAvailable}, jobs.ServerProvisioning, "ghost", "test"); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		srv, _ := e.store.Server(ctx, "srv-1")
		if srv.State == jobs.ServerError {
			if !strings.Contains(srv.LastError.Reason, "ghost") || !strings.Contains(srv.LastError.Reason, "deadline") {
				t.Errorf("reason %q, want the deadline and the job named", srv.LastError.Reason)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the watchdog left a stuck server provisioning for 5 s")
}

func TestDeployRollsInBatchesAndHalts(t *testing.T) {
	t.Parallel()
	bmcs := map[string]*fakeBMC{}
	for i := 1; i <= 5; i++ {
		bmcs[fmt.Sprintf("web-%d", i)] = &fakeBMC{state: jobs.PowerStateOn}
	}
	bmcs["web-3"].setErrs = []error{jobs.Errorf(jobs.CodeBMCAuthFailed, false, "wrong password")}
	e := setupFleet(t, bmcs, func(*workers.Config) {})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.installer(ctx, "web-1", "web-2", "web-3", "web-4", "web-5")
	e.submitRequest(t, jobs.Request{ID: "roll-1", Type: jobs.Deploy,
		Params: []byte(`{"image":"ubuntu-26.04","servers":["web-1","web-2","web-3","web-4","web-5"],"batch_size":2,"max_failures":0}`)})

	var batches, halted int
	evs := e.watchTypes(t, "roll-1", "", func(d events.JobData) bool { return d.State.Terminal() && d.JobID == "roll-1" })
	for _, d := range evs {
		if d.JobID != "roll-1" {
			continue // the state changes of the servers it rolls
		}
		if strings.HasPrefix(d.Message, "batch ") && strings.Contains(d.Message, ": web-") {
			batches++
		}
		if strings.Contains(d.Message, "passed max_failures") {
			halted++
		}
	}
	last := evs[len(evs)-1]
	if last.State != jobs.StateFailed || last.Error.Code != workers.CodeDeployHalted {
		t.Fatalf("deploy ended %s %+v, want halted", last.State, last.Error)
	}
	if batches != 2 || halted == 0 {
		t.Errorf("%d batches started and halted=%d, want 2 batches (web-3 fails in the second) and a halt", batches, halted)
	}
	for _, id := range []string{"web-5"} {
		if _, err := e.store.Job(context.Background(), "roll-1."+id); err == nil {
			t.Errorf("%s was provisioned after the rollout halted", id)
		}
	}
	for _, id := range []string{"web-1", "web-2", "web-4"} {
		if srv, _ := e.store.Server(context.Background(), id); srv.State != jobs.ServerActive {
			t.Errorf("%s is %s after its batch, want active", id, srv.State)
		}
	}
}

// flakySubmitter fails its first n submissions, as NATS might while restarting.
type flakySubmitter struct {
	mu    sync.Mutex
	fails int
	next  workers.Submitter
}

func (f *flakySubmitter) Submit(ctx context.Context, req jobs.Request) error {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		return fmt.Errorf("publish request %s: nats: timeout", req.ID)
	}
	return f.next.Submit(ctx, req)
}

func TestDeployResumesAfterATransientFailure(t *testing.T) {
	t.Parallel()
	bmcs := map[string]*fakeBMC{"web-1": {state: jobs.PowerStateOn}, "web-2": {state: jobs.PowerStateOn}}
	flaky := &flakySubmitter{fails: 1}
	e := setupFleet(t, bmcs, func(c *workers.Config) {
		flaky.next = c.Submitter
		c.Submitter = flaky
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.installer(ctx, "web-1", "web-2")
	e.submitRequest(t, jobs.Request{ID: "roll-2", Type: jobs.Deploy,
		Params: []byte(`{"image":"ubuntu-26.04","servers":["web-1","web-2"],"batch_size":1}`)})
	evs := e.watchTypes(t, "roll-2", "job", func(d events.JobData) bool { return d.State.Terminal() })
	last := evs[len(evs)-1]
	if last.State != jobs.StateSucceeded || last.Attempt != 2 {
		t.Fatalf("deploy ended %s at attempt %d (%+v), want succeeded at attempt 2", last.State, last.Attempt, last.Error)
	}
	for _, id := range []string{"web-1", "web-2"} {
		if srv, _ := e.store.Server(context.Background(), id); srv.State != jobs.ServerActive {
			t.Errorf("%s is %s, want active", id, srv.State)
		}
	}
}
