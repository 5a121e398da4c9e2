package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
	"github.com/tinmanhq/tinman/workers"
)

// TestProcessSites: a job for a server of site b waits, no attempt spent,
// while only a worker of the default site runs (which serves its own
// site's job meanwhile), shows as waiting for a worker of b, and runs once
// a worker of site b starts.
func TestProcessSites(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	simB := bmcsim.New(bmcsim.Config{InitialPowerState: "Off"})
	if err := simB.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = simB.Close() })
	rdb, _, err := openRedis(context.Background(), c.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	key, _ := store.ParseKey(testKeyText)
	st := storetest.Store(t, rdb, nil, store.Config{SecretKey: key})
	user, pass := simB.Credentials()
	srvB := jobs.Server{ID: "srv-b", Site: "b", BMC: jobs.BMC{Address: simB.Addr(), Provider: jobs.ProviderRedfish}, State: jobs.ServerAvailable}
	if err := st.PutServer(context.Background(), srvB, jobs.Credentials{Username: user, Password: pass}); err != nil {
		t.Fatal(err)
	}
	c.role(t, "dispatcher")
	c.role(t, "worker") // the default site only
	s := c.client(t)

	s.publish(t, "power", "site-b-on", `{"id":"site-b-on","type":"power","server":"srv-b","params":{"action":"on"}}`)
	s.publish(t, "power", "site-default-on", `{"id":"site-default-on","type":"power","server":"srv-1","params":{"action":"on"}}`)
	if evs := s.collect(t, events.Filter{Job: "site-default-on"}, time.Minute, terminal); evs[len(evs)-1].Type != events.JobSucceeded {
		t.Fatalf("the default site's job: %s", typesOf(evs))
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	var sites workers.SiteQueues
	for range 50 {
		if sites, err = workers.Sites(insp); err == nil && sites["b"].Waiting == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if l := sites["b"]; l.Waiting != 1 || l.Workers != 0 || !strings.Contains(sites.Unserved(), "site b: 1 jobs wait") {
		t.Errorf("site b %+v (%q), want 1 job waiting and no worker", l, sites.Unserved())
	}
	if evs := s.quiet(t, events.Filter{Job: "site-b-on"}, 2*time.Second); typesOf(evs) != "job.queued" {
		t.Errorf("site b's job with no worker of b: %s, want only queued", typesOf(evs))
	}
	if n := len(simB.Commands()); n != 0 {
		t.Errorf("site b's BMC got %d commands from a worker of another site", n)
	}

	c.role(t, "worker", "--sites", "b")
	evs := s.collect(t, events.Filter{Job: "site-b-on"}, time.Minute, terminal)
	if last := evs[len(evs)-1]; last.Type != events.JobSucceeded {
		t.Fatalf("site b's job once a worker of b runs: %s", typesOf(evs))
	}
	for _, ev := range evs {
		if d, _ := ev.JobData(); ev.Type == events.JobStarted && d.Attempt != 1 {
			t.Errorf("started at attempt %d: the wait spent attempts", d.Attempt)
		}
	}
	if simB.PowerState() != "On" {
		t.Errorf("site b's BMC is %s, want On", simB.PowerState())
	}
}
