package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/dispatch"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/schemas"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/submit"
	"github.com/tinmanhq/tinman/workers"
)

// Where the Tinman of this test binary listens, as `tinman dev` prints it
// for a user: the Example reads these, and so do the tests.
var (
	apiURL  string
	natsURL string
	// token is the API's admin token.
	token string
)

// simServers are the simulated Redfish BMCs enrolled as available: the
// Example drives sim-01, tests take the others.
var simServers = []string{"sim-01", "sim-02", "sim-03"}

// TestMain runs the whole of Tinman in this process for the Example, which
// cannot take a *testing.T, and for the tests.
func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	svc, err := servicetest.Start("client")
	if err != nil {
		fmt.Fprintln(os.Stderr, "client tests: start NATS and Redis:", err)
		return 1
	}
	defer svc.Close()
	stop, err := startTinman(svc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client tests: start Tinman:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// tinman is Tinman as `tinman dev` runs it: the dispatcher, a worker that
// drives simulated Redfish BMCs through bmclib, the outbox and the API on a
// loopback port, on the services of servicetest.
type tinman struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	rdb     *redis.Client
	store   *store.Store
	outbox  *store.Outbox
	fleet   *bmcsim.Fleet
	log     zerolog.Logger
	closers []func()
}

// startTinman starts Tinman and returns what stops it.
func startTinman(svc *servicetest.Services) (stop func(), err error) {
	t := &tinman{log: zerolog.New(os.Stderr).Level(zerolog.ErrorLevel)}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := t.connect(ctx, svc); err != nil {
		return nil, err
	}
	if err := t.enrolFleet(ctx); err != nil {
		return nil, err
	}
	roles, err := t.roles()
	if err != nil {
		return nil, err
	}
	return t.run(roles), nil
}

// connect opens NATS (with the streams) and Redis, and the store on them.
func (t *tinman) connect(ctx context.Context, svc *servicetest.Services) error {
	nc, err := nats.Connect(svc.NATSURL)
	if err != nil {
		return err
	}
	t.closers = append(t.closers, nc.Close)
	t.nc, natsURL = nc, svc.NATSURL
	if t.js, err = jetstream.New(nc); err != nil {
		return err
	}
	sc := events.DefaultStreamConfig()
	sc.Storage = jetstream.MemoryStorage
	if err := events.EnsureStreams(ctx, t.js, sc); err != nil {
		return err
	}
	opt, err := redis.ParseURL(svc.RedisURL)
	if err != nil {
		return err
	}
	t.rdb = redis.NewClient(opt)
	t.closers = append(t.closers, func() { _ = t.rdb.Close() })
	if t.outbox, err = store.NewOutbox(t.rdb, events.NewPublisher(t.js), store.OutboxConfig{Logger: t.log}); err != nil {
		return err
	}
	t.store, err = store.New(t.rdb, t.outbox, store.Config{Source: "/tinman/dev/client-test", Logger: t.log, SecretKey: store.NewKey()})
	return err
}

// enrolFleet starts a simulated BMC for each of simServers and enrols it available.
func (t *tinman) enrolFleet(ctx context.Context) error {
	fleet, err := bmcsim.StartFleet(len(simServers), bmcsim.Config{Logger: t.log})
	if err != nil {
		return err
	}
	t.closers = append(t.closers, func() { _ = fleet.Close() })
	for i, b := range fleet.BMCs() {
		user, pass := b.Credentials()
		srv := jobs.Server{ID: simServers[i], BMC: jobs.BMC{Address: b.Addr(), Provider: jobs.ProviderRedfish},
			State: jobs.ServerAvailable, PowerState: jobs.PowerStateOff}
		if err := t.store.PutServer(ctx, srv, jobs.Credentials{Username: user, Password: pass}); err != nil {
			return fmt.Errorf("enrol %s: %w", srv.ID, err)
		}
	}
	t.fleet = fleet
	return nil
}

// roles builds the outbox's sweep, the dispatcher, the worker and the API.
func (t *tinman) roles() ([]func(context.Context) error, error) {
	v, err := schemas.New()
	if err != nil {
		return nil, err
	}
	q := asynq.NewClientFromRedisClient(t.rdb)
	t.closers = append(t.closers, func() { _ = q.Close() })
	dcfg := dispatch.DefaultConfig()
	dcfg.Logger = t.log
	disp, err := dispatch.New(t.js, t.store, q, v, dcfg)
	if err != nil {
		return nil, err
	}
	bcfg := bmc.DefaultConfig()
	bcfg.Logger = t.log
	dialer, err := bmc.NewDialer(bcfg)
	if err != nil {
		return nil, err
	}
	connect := func(ctx context.Context, srv jobs.Server, creds jobs.Credentials) (workers.Session, error) {
		s, err := dialer.Open(ctx, srv, creds)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	wcfg := workers.DefaultConfig()
	wcfg.Logger = t.log
	w, err := workers.New(t.rdb, t.store, connect, wcfg)
	if err != nil {
		return nil, err
	}
	sub, err := submit.New(t.js, submit.Config{Recorder: t.store, Logger: t.log})
	if err != nil {
		return nil, err
	}
	token = "client-test-admin-token"
	tokens := &api.Tokens{}
	tokens.AddPlain(api.RoleAdmin, token)
	a, err := api.New(api.Config{Logger: t.log, Store: t.store, Submitter: sub, Watcher: events.NewWatcher(t.js),
		Validator: v, Tokens: tokens})
	if err != nil {
		return nil, err
	}
	t.closers = append(t.closers, func() { _ = a.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	apiURL = "http://" + ln.Addr().String()
	serve := func(ctx context.Context) error { return a.Serve(ctx, ln) }
	return []func(context.Context) error{t.outbox.Run, disp.Run, w.Run, serve}, nil
}

// run runs the roles until the returned stop, which then closes the rest.
func (t *tinman) run(roles []func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, role := range roles {
		wg.Go(func() {
			if err := role(ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.log.Error().Err(err).Msg("a role of the test's Tinman stopped")
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
		t.close()
	}
}

// close closes what connect and the rest opened, the last first.
func (t *tinman) close() {
	for i := len(t.closers) - 1; i >= 0; i-- {
		t.closers[i]()
	}
}
