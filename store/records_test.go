package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

// eachStore runs fn on a Store over the in-process Redis and over a
// database of the real one (servicetest.EachRedis), each with servers srv-1
// and srv-2 and an outbox that stages events (no NATS).
func eachStore(t *testing.T, fn func(t *testing.T, st *store.Store, ctx context.Context)) {
	t.Helper()
	servicetest.EachRedis(t, func(t *testing.T, _ string, rdb *redis.Client) {
		st := storetest.Store(t, rdb, storetest.Outbox(t, rdb, nil, store.OutboxConfig{}), store.Config{})
		ctx := testContext(t)
		for _, id := range []string{"srv-1", "srv-2"} {
			srv := jobs.Server{ID: id, BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish}, State: jobs.ServerAvailable}
			if err := st.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
				t.Fatal(err)
			}
		}
		fn(t, st, ctx)
	})
}

// The breaker opens at the threshold, once; an answer closes it and clears
// its maintenance, never an operator's; each server counts for itself.
func TestBreaker(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		for i, want := range []bool{false, false, true, false} {
			opened, err := st.BMCFailed(ctx, "srv-1", "BMC unreachable", 3, time.Minute)
			if err != nil || opened != want {
				t.Fatalf("failure %d: opened %v, %v; want %v", i+1, opened, err, want)
			}
		}
		if open, _ := st.OpenBreakers(ctx); !slices.Equal(open, []string{"srv-1"}) {
			t.Errorf("open breakers %v, want srv-1", open)
		}
		if srv, _ := st.Server(ctx, "srv-1"); srv.Maintenance == nil || srv.Maintenance.SetBy != store.BreakerSetter {
			t.Errorf("srv-1 maintenance %+v, want the breaker's", srv.Maintenance)
		}
		if srv, _ := st.Server(ctx, "srv-2"); srv.Maintenance != nil {
			t.Errorf("srv-2 maintenance %+v: another server's failures counted", srv.Maintenance)
		}
		if closed, err := st.BMCAnswered(ctx, "srv-1"); err != nil || !closed {
			t.Fatalf("BMCAnswered = %v, %v; want the breaker closed", closed, err)
		}
		if srv, _ := st.Server(ctx, "srv-1"); srv.Maintenance != nil {
			t.Errorf("srv-1 maintenance %+v after the answer, want none", srv.Maintenance)
		}
		// An operator's maintenance stays through an answer.
		if _, err := st.UpdateServer(ctx, "srv-2", func(srv *jobs.Server, _ *jobs.Credentials) error {
			srv.Maintenance = &jobs.Maintenance{Reason: "fan", SetBy: "ops", Since: time.Now()}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if closed, err := st.BMCAnswered(ctx, "srv-2"); err != nil || closed {
			t.Errorf("BMCAnswered on an operator's maintenance = %v, %v; want nothing closed", closed, err)
		}
		if srv, _ := st.Server(ctx, "srv-2"); srv.Maintenance == nil || srv.Maintenance.SetBy != "ops" {
			t.Errorf("srv-2 maintenance %+v, want the operator's kept", srv.Maintenance)
		}
	})
}

// One caller per interval wins a probe or a round claim; the claims of
// different servers and rounds are apart.
func TestClaims(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		for _, claim := range []func() (bool, error){
			func() (bool, error) { return st.ClaimProbe(ctx, "srv-1", time.Minute) },
			func() (bool, error) { return st.ClaimRound(ctx, "watchdog", time.Minute) },
		} {
			if won, err := claim(); err != nil || !won {
				t.Fatalf("first claim = %v, %v", won, err)
			}
			if won, err := claim(); err != nil || won {
				t.Errorf("second claim within the interval = %v, %v; want lost", won, err)
			}
		}
		if won, _ := st.ClaimProbe(ctx, "srv-2", time.Minute); !won {
			t.Error("srv-2's probe lost to srv-1's")
		}
		if won, _ := st.ClaimRound(ctx, "rescue", time.Minute); !won {
			t.Error("the rescue round lost to the watchdog's")
		}
	})
}

// The last BMC call is remembered for its interval, then forgotten.
func TestPacing(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		if at, err := st.LastCall(ctx, "srv-1"); err != nil || !at.IsZero() {
			t.Fatalf("LastCall before any = %v, %v; want zero", at, err)
		}
		now := time.Now()
		if err := st.SetLastCall(ctx, "srv-1", now, time.Minute); err != nil {
			t.Fatal(err)
		}
		if at, err := st.LastCall(ctx, "srv-1"); err != nil || !at.Equal(time.Unix(0, now.UnixNano())) {
			t.Errorf("LastCall = %v, %v; want %v", at, err, now)
		}
		if at, _ := st.LastCall(ctx, "srv-2"); !at.IsZero() {
			t.Errorf("srv-2's last call %v: another server's call", at)
		}
	})
}

// Callbacks are recorded per job and kind; a boot configuration is the
// server's until its job clears it, and another job cannot clear it.
func TestCallbacksAndBootConfig(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		if err := st.RecordCallback(ctx, "prov-1", store.CallbackInstalled); err != nil {
			t.Fatal(err)
		}
		for job, kind := range map[string]string{"prov-1": store.CallbackBooted, "prov-2": store.CallbackInstalled} {
			if got, err := st.CallbackReceived(ctx, job, kind); err != nil || got {
				t.Errorf("CallbackReceived(%s, %s) = %v, %v; want false", job, kind, got, err)
			}
		}
		if got, _ := st.CallbackReceived(ctx, "prov-1", store.CallbackInstalled); !got {
			t.Error("the recorded callback is not found")
		}
		cfg := store.BootConfig{Server: "srv-1", JobID: "prov-1", Purpose: "install", Image: "img", Token: "t0k", Expires: time.Now().Add(time.Hour)}
		if err := st.SetBootConfig(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if got, err := st.BootConfig(ctx, "srv-1"); err != nil || got.Token != "t0k" || got.JobID != "prov-1" {
			t.Fatalf("BootConfig = %+v, %v", got, err)
		}
		if err := st.ClearBootConfig(ctx, "srv-1", "prov-9"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.BootConfig(ctx, "srv-1"); err != nil {
			t.Errorf("another job cleared srv-1's boot configuration: %v", err)
		}
		if err := st.ClearBootConfig(ctx, "srv-1", "prov-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.BootConfig(ctx, "srv-1"); jobs.CodeOf(err) != jobs.CodeNotFound {
			t.Errorf("BootConfig after its job cleared it: %v, want not_found", err)
		}
	})
}
