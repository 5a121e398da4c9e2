package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/natsembed"
	"github.com/tinmanhq/tinman/servicetest"
)

// natsCluster is three embedded NATS servers with JetStream, routed into
// one cluster on loopback; a node stopped starts again on its ports and
// folder.
type natsCluster struct {
	nodes []*natsembed.Server
	cfgs  []natsembed.Config
}

func startNATSCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	var err error
	for range 3 { // a port found free may be taken by another test before a node listens on it
		var c *natsCluster
		if c, err = tryNATSCluster(t, n); err == nil {
			return c
		}
		t.Logf("NATS cluster did not start, trying other ports: %v", err)
	}
	t.Fatal(err)
	return nil
}

// tryNATSCluster starts n nodes on ports found free; when one does not
// start, it stops the others and says why.
func tryNATSCluster(t *testing.T, n int) (*natsCluster, error) {
	t.Helper()
	c := &natsCluster{nodes: make([]*natsembed.Server, n), cfgs: make([]natsembed.Config, n)}
	routePorts := make([]int, n)
	for i := range n {
		routePorts[i] = freeLoopbackPort(t)
	}
	for i := range n {
		var routes []string
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
			}
		}
		c.cfgs[i] = natsembed.Config{Port: freeLoopbackPort(t), StoreDir: t.TempDir(), Name: fmt.Sprintf("node-%d", i+1),
			Cluster: &natsembed.Cluster{Name: "tinman-test", Port: routePorts[i], Routes: routes}}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { c.nodes[i], errs[i] = natsembed.Start(c.cfgs[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, s := range c.nodes {
			if s != nil {
				s.Shutdown()
			}
		}
		return nil, err
	}
	t.Cleanup(func() {
		for _, s := range c.nodes {
			if s != nil {
				s.Shutdown()
			}
		}
	})
	return c, nil
}

// URLs is the client URL list of every node, as --nats-url takes it.
func (c *natsCluster) URLs() string {
	urls := make([]string, len(c.cfgs))
	for i, cfg := range c.cfgs {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", cfg.Port)
	}
	return strings.Join(urls, ",")
}

// stop shuts the node named name down and returns its index.
func (c *natsCluster) stop(t *testing.T, name string) int {
	t.Helper()
	for i, s := range c.nodes {
		if s != nil && s.Name() == name {
			s.Shutdown()
			c.nodes[i] = nil
			return i
		}
	}
	t.Fatalf("no running node named %q", name)
	return -1
}

// restart starts node i again on its ports and folder.
func (c *natsCluster) restart(t *testing.T, i int) {
	t.Helper()
	var err error
	for range 50 { // the old listeners may take a moment to go
		if c.nodes[i], err = natsembed.Start(c.cfgs[i]); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restart %s: %v", c.cfgs[i].Name, err)
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// streamLeader waits for stream to have a leader for which ok holds, and
// names it.
func streamLeader(t *testing.T, js jetstream.JetStream, stream string, ok func(*jetstream.ClusterInfo) bool) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := js.Stream(ctx, stream)
		var info *jetstream.StreamInfo
		if err == nil {
			info, err = s.Info(ctx)
		}
		cancel()
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" && ok(info.Cluster) {
			return info.Cluster.Leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s: no leader as wanted after a minute: %v", stream, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// allCurrent: the leader has every other replica current.
func allCurrent(replicas int) func(*jetstream.ClusterInfo) bool {
	return func(ci *jetstream.ClusterInfo) bool {
		if len(ci.Replicas) != replicas-1 {
			return false
		}
		for _, r := range ci.Replicas {
			if !r.Current {
				return false
			}
		}
		return true
	}
}

// notLed: another node than old leads.
func notLed(old string) func(*jetstream.ClusterInfo) bool {
	return func(ci *jetstream.ClusterInfo) bool { return ci.Leader != old }
}

// TestProcessNATSClusterFailover runs the real roles (a dispatcher and two
// workers, as processes) against a 3-node NATS cluster with R3 streams,
// given as a list of URLs, and publishes 500 requests while the leader of
// the requests stream and then the leader of the events stream are killed
// and, seconds later, started again. Every acked request runs exactly once
// and every job's events are complete and numbered without gap.
func TestProcessNATSClusterFailover(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a failover run takes minutes")
	}
	nc := startNATSCluster(t, 3)
	redisURL, _ := servicetest.Redis(t)
	c := &cluster{redisURL: redisURL, natsURLs: nc.URLs()}
	cfg := chaosConfig{jobs: 500, sims: 20, killEvery: 2 * time.Second}
	ids := chaosFleet(t, c, nc.URLs(), cfg)
	roleArgs := []string{"--stream-replicas", "3"}
	workerArgs := append([]string{"--wait-poll", "500ms", "--installer-timeout", "2m", "--bmc-timeout", "5s"}, roleArgs...)
	c.role(t, "dispatcher", roleArgs...)
	c.role(t, "worker", workerArgs...)
	c.role(t, "worker", workerArgs...)
	_, js := reconnecting(t, nc.URLs())
	streamLeader(t, js, events.RequestsStream, allCurrent(3))
	streamLeader(t, js, events.EventsStream, allCurrent(3))

	var wg sync.WaitGroup
	var killed []string
	wg.Go(func() { // while the requests arrive: kill each stream's leader, start it again
		for _, stream := range []string{events.RequestsStream, events.EventsStream} {
			time.Sleep(3 * time.Second)
			leader := streamLeader(t, js, stream, allCurrent(3))
			began := time.Now()
			i := nc.stop(t, leader)
			newLeader := streamLeader(t, js, stream, notLed(leader))
			t.Logf("%s: leader %s killed; %s leads after %s", stream, leader, newLeader, time.Since(began).Round(10*time.Millisecond))
			killed = append(killed, stream+" leader "+leader)
			time.Sleep(3 * time.Second)
			nc.restart(t, i)
		}
	})
	published := chaosPublish(t, nc.URLs(), cfg, ids)
	wg.Wait()
	outcome := chaosWait(t, nc.URLs(), published, 5*time.Minute)
	chaosCheck(t, c, published, outcome, "a 3-node NATS cluster, R3 streams, killed and restarted: "+strings.Join(killed, ", "))
}

// TestProcessRedisSentinelFailover runs the real roles against Redis behind
// three Sentinels (--redis-url redis+sentinel://...), publishes requests and
// kills the master with SIGKILL mid-run: the Sentinels promote the replica
// and the roles follow it. Replication is asynchronous, so a write the
// master acked and had not yet sent on can be lost; the test reports how
// many acked requests never ended (the README's failover figure) and holds
// the rest of the invariants: nothing run twice, no seq gap, no overlap.
func TestProcessRedisSentinelFailover(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a failover run takes minutes")
	}
	master := servicetest.RedisProcess(t)
	servicetest.RedisProcess(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port()))
	sentinels := servicetest.Sentinels(t, "tinman", master.Port(), 3)
	addrs := make([]string, len(sentinels))
	for i, p := range sentinels {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	redisURL := "redis+sentinel://" + strings.Join(addrs, ",") + "/tinman"
	nats := servicetest.NATS(t)
	c := &cluster{redisURL: redisURL, natsURLs: nats}
	cfg := chaosConfig{jobs: 300, sims: 20, killEvery: 2 * time.Second}
	ids := chaosFleet(t, c, nats, cfg)
	workerArgs := []string{"--wait-poll", "500ms", "--installer-timeout", "2m", "--bmc-timeout", "5s"}
	c.role(t, "dispatcher")
	c.role(t, "worker", workerArgs...)
	c.role(t, "worker", workerArgs...)
	c.client(t)

	done := make(chan time.Duration, 1)
	go func() {
		time.Sleep(5 * time.Second)
		began := time.Now()
		master.Stop(t)
		done <- time.Since(began)
	}()
	published := chaosPublish(t, nats, cfg, ids)
	<-done
	outcome := chaosWait(t, nats, published, 5*time.Minute)
	chaosCheck(t, c, published, outcome, "Redis master killed mid-run, its replica promoted by 3 Sentinels")
}
