package bmctest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/jobs"
)

// Bounds of the suite's waits.
const (
	// settleTimeout bounds waiting for the truth to show an effect (an IPMI
	// power cycle powers on again about a second after it is acknowledged).
	settleTimeout = 15 * time.Second
	// deadlineMargin is how long past CallTimeout a call to a dead or silent
	// BMC may take to return.
	deadlineMargin = 5 * time.Second
	pollPause      = 50 * time.Millisecond
	// cancelAfter is when the canceled case cancels its call.
	cancelAfter = 300 * time.Millisecond
)

// Run runs every case of the suite against target, each as a parallel
// subtest on a fresh peer. Every case logs the latency of the operations it
// times as "latency <target> <operation>: <duration>". A case that needs a
// capability the target lacks runs its weaker check instead (a lacking
// operation must be refused as unsupported_operation, not retryable) and
// then skips with the reason.
func Run(t *testing.T, target Target) {
	if target.CallTimeout <= 0 {
		target.CallTimeout = DefaultCallTimeout
	}
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, target)
			if reason, lacks := target.Lacks[c.needs]; c.needs != "" && lacks {
				c.without(e)
				t.Skipf("%s lacks %s: %s", target.Name, c.needs, reason)
			}
			c.run(e)
		})
	}
}

// testCase is one case of the suite.
type testCase struct {
	name string
	// needs is the capability the case needs, if any; on a peer that lacks
	// it, without runs instead of run.
	needs   Capability
	without func(e *env)
	run     func(e *env)
}

// env is what a case works with: its peer and a Dialer.
type env struct {
	*testing.T
	target Target
	peer   Peer
	dialer *bmc.Dialer
}

func setup(t *testing.T, target Target) *env {
	t.Helper()
	dialer, err := bmc.NewDialer(bmc.Config{CallTimeout: target.CallTimeout, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return &env{T: t, target: target, peer: target.Start(t), dialer: dialer}
}

// timed runs fn, logs its latency under op and returns its error.
func (e *env) timed(op string, fn func() error) (time.Duration, error) {
	e.Helper()
	start := time.Now()
	err := fn()
	d := time.Since(start)
	e.Logf("latency %s %s: %s", e.target.Name, op, d.Round(100*time.Microsecond))
	return d, err
}

// open opens a session with creds to srv, timed as op.
func (e *env) open(op string, srv jobs.Server, creds jobs.Credentials) (*bmc.Session, time.Duration, error) {
	e.Helper()
	var s *bmc.Session
	d, err := e.timed(op, func() (err error) {
		s, err = e.dialer.Open(e.Context(), srv, creds)
		return err
	})
	if err == nil {
		e.Cleanup(func() { _ = s.Close(context.Background()) })
	}
	return s, d, err
}

// session opens a session to the peer or fails the case.
func (e *env) session() *bmc.Session {
	e.Helper()
	s, _, err := e.open("open", e.peer.Server, e.peer.Credentials)
	if err != nil {
		e.Fatalf("open %s BMC at %s: %v", e.target.Name, e.peer.Server.BMC.Address, err)
	}
	return s
}

// powerState reads the power state through the session, timed.
func (e *env) powerState(s *bmc.Session) jobs.PowerState {
	e.Helper()
	var got jobs.PowerState
	_, err := e.timed("power status", func() (err error) {
		got, err = s.PowerState(e.Context())
		return err
	})
	if err != nil {
		e.Fatalf("PowerState: %v", err)
	}
	return got
}

// commandsSince returns the commands the peer carried out after the first n.
func (e *env) commandsSince(n int) []Command {
	all := e.peer.Truth.Commands()
	if n > len(all) {
		return nil
	}
	return all[n:]
}

// waitFor polls cond until it holds or settleTimeout passes, then fails the
// case saying what did not happen.
func (e *env) waitFor(what string, cond func() error) {
	e.Helper()
	deadline := time.Now().Add(settleTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.Fatalf("%s: not within %s: %v", what, settleTimeout, err)
		}
		time.Sleep(pollPause)
	}
}

// refuses is the check for a peer that lacks capability: call is refused as
// unsupported_operation, not retryable.
func refuses(capability Capability, call func(e *env, s *bmc.Session) error) func(e *env) {
	return func(e *env) {
		e.Helper()
		s := e.session()
		_, err := e.timed("refused "+string(capability), func() error { return call(e, s) })
		if err == nil {
			e.Fatalf("%s: succeeded on a peer said to lack it (%q)", capability, e.target.Lacks[capability])
		}
		e.Logf("%s refused: %v", capability, err)
		wantCode(e, err, false, jobs.CodeUnsupportedOperation)
	}
}

// wantCode checks that err is a *jobs.Error with one of codes and the given
// retryability.
func wantCode(t testing.TB, err error, retryable bool, codes ...jobs.Code) {
	t.Helper()
	var je *jobs.Error
	if !errors.As(err, &je) {
		t.Fatalf("error %v (%T) is not a *jobs.Error", err, err)
	}
	if !slices.Contains(codes, je.Code) {
		t.Errorf("code = %s, want one of %v; error: %v", je.Code, codes, err)
	}
	if je.Retryable != retryable {
		t.Errorf("retryable = %v, want %v; error: %v", je.Retryable, retryable, err)
	}
}

// wantCommands checks the commands carried out against want, in order.
func wantCommands(got []Command, want ...Command) error {
	if len(got) != len(want) {
		return fmt.Errorf("commands %v, want %d: %v", got, len(want), want)
	}
	for i := range want {
		if got[i].Op != want[i].Op || got[i].Value != want[i].Value {
			return fmt.Errorf("commands %v, want %v", got, want)
		}
	}
	return nil
}

// wantRestartOnce checks that the commands restart the host exactly once:
// one cycle, one reset, or a power off followed by a power on.
func wantRestartOnce(got []Command) error {
	ops := make([]Op, len(got))
	for i, c := range got {
		ops[i] = c.Op
	}
	for _, want := range [][]Op{{OpPowerCycle}, {OpPowerReset}, {OpPowerOff, OpPowerOn}} {
		if slices.Equal(ops, want) {
			return nil
		}
	}
	return fmt.Errorf("commands %v are not one restart (one cycle, one reset, or off then on)", got)
}

// DeadAddress returns a 127.0.0.1 port where nothing listens, on TCP or UDP.
func DeadAddress(t testing.TB) string {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		addr := ln.Addr().String()
		pc, udpErr := net.ListenPacket("udp4", addr)
		_ = ln.Close()
		if udpErr == nil {
			_ = pc.Close()
			return addr
		}
	}
	t.Fatal("no port free on both TCP and UDP in 20 tries")
	return ""
}

// SilentAddress returns a 127.0.0.1 port that takes TCP connections and UDP
// datagrams and never answers either, until the test ends.
func SilentAddress(t testing.TB) string {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		pc, err := net.ListenPacket("udp4", ln.Addr().String())
		if err != nil {
			_ = ln.Close()
			continue
		}
		go swallowUDP(pc)
		go holdTCP(ln)
		t.Cleanup(func() { _ = ln.Close(); _ = pc.Close() })
		return ln.Addr().String()
	}
	t.Fatal("no port free on both TCP and UDP in 20 tries")
	return ""
}

// swallowUDP reads and drops datagrams until pc is closed.
func swallowUDP(pc net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		if _, _, err := pc.ReadFrom(buf); err != nil {
			return
		}
	}
}

// holdTCP accepts connections and never answers; it closes them when ln is
// closed, and returns then.
func holdTCP(ln net.Listener) {
	var held []net.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		held = append(held, c)
	}
}
