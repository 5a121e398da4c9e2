package bmctest

import (
	"context"
	"fmt"
	"time"

	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/jobs"
)

// cases lists the suite.
func cases() []testCase {
	return []testCase{
		{name: "open-close", run: openClose},
		{name: "power-status", run: powerStatus},
		{name: "power-on", run: powerCase(jobs.PowerOn, false, jobs.PowerStateOn, onlyCommand(OpPowerOn))},
		{name: "power-off", run: powerCase(jobs.PowerOff, true, jobs.PowerStateOff, onlyCommand(OpPowerOff))},
		{name: "power-soft", run: powerCase(jobs.PowerSoft, true, jobs.PowerStateOff, onlyCommand(OpPowerOff))},
		{name: "power-cycle", run: powerCase(jobs.PowerCycle, true, jobs.PowerStateOn, wantRestartOnce)},
		{name: "power-reset", run: powerCase(jobs.PowerReset, true, jobs.PowerStateOn, wantRestartOnce)},
		{name: "boot-pxe-once", run: bootPXEOnce},
		{name: "inventory", needs: CapInventory, without: refuses(CapInventory, readInventory), run: inventory},
		{name: "bmc-reset-cold", run: bmcReset(jobs.BMCResetCold)},
		{name: "bmc-reset-warm", needs: CapWarmBMCReset, without: refuses(CapWarmBMCReset, warmReset), run: bmcReset(jobs.BMCResetWarm)},
		{name: "virtual-media", needs: CapVirtualMedia, without: refuses(CapVirtualMedia, insertMedia), run: virtualMedia},
		{name: "wrong-password", run: wrongPassword},
		{name: "dead-port", run: deadPort},
		{name: "silent-port", run: silentPort},
		{name: "bmc-goes-away", run: bmcGoesAway},
		{name: "canceled", needs: CapPromptCancel, without: canceledLate, run: canceled},
	}
}

// openClose: a session opens with the peer's credentials, through the
// provider the server names, and closes.
func openClose(e *env) {
	s, _, err := e.open("open", e.peer.Server, e.peer.Credentials)
	if err != nil {
		e.Fatalf("Open: %v", err)
	}
	want := map[jobs.Provider]string{jobs.ProviderRedfish: "gofish", jobs.ProviderIPMI: "ipmitool"}[e.peer.Server.BMC.Provider]
	if got := s.Provider(); got != want {
		e.Errorf("Provider = %q, want %q", got, want)
	}
	if _, err := e.timed("close", func() error { return s.Close(e.Context()) }); err != nil {
		e.Errorf("Close: %v", err)
	}
}

// powerStatus: the session reads the power state the truth has, both ways.
func powerStatus(e *env) {
	s := e.session()
	for _, on := range []bool{true, false, true} {
		e.peer.Truth.SetPower(e, on)
		if got, want := e.powerState(s), powerState(on); got != want {
			e.Errorf("PowerState = %s, truth %s", got, want)
		}
	}
}

// powerCase: from the power state from, action leaves the host in want, as
// both the session and the truth say, and the BMC carried out exactly the
// commands check accepts.
func powerCase(action jobs.PowerAction, from bool, want jobs.PowerState, check func([]Command) error) func(e *env) {
	return func(e *env) {
		e.peer.Truth.SetPower(e, from)
		s := e.session()
		mark := len(e.peer.Truth.Commands())
		_, err := e.timed("power "+string(action), func() error { return s.SetPower(e.Context(), action) })
		if err != nil {
			e.Fatalf("SetPower(%s): %v", action, err)
		}
		_, _ = e.timed("power "+string(action)+" until the truth settles", func() error {
			e.waitFor(fmt.Sprintf("after power %s the truth shows %s and the expected commands", action, want), func() error {
				if got := e.peer.Truth.Power(); got != want {
					return fmt.Errorf("truth power %s", got)
				}
				return check(e.commandsSince(mark))
			})
			return nil
		})
		if got := e.powerState(s); got != want {
			e.Errorf("PowerState after %s = %s, want %s", action, got, want)
		}
		if err := check(e.commandsSince(mark)); err != nil {
			e.Errorf("after the readback: %v", err)
		}
	}
}

// onlyCommand accepts exactly one command, op.
func onlyCommand(op Op) func([]Command) error {
	return func(got []Command) error { return wantCommands(got, Command{Op: op}) }
}

// bootPXEOnce: a one-time PXE boot override is set, once.
func bootPXEOnce(e *env) {
	s := e.session()
	mark := len(e.peer.Truth.Commands())
	_, err := e.timed("boot device pxe", func() error {
		return s.SetBootDevice(e.Context(), jobs.BootDeviceParams{Device: jobs.BootPXE})
	})
	if err != nil {
		e.Fatalf("SetBootDevice(pxe): %v", err)
	}
	if got := e.peer.Truth.BootDevice(); got != jobs.BootPXE {
		e.Errorf("truth boot device = %q, want pxe", got)
	}
	if err := wantCommands(e.commandsSince(mark), Command{Op: OpBoot, Value: string(jobs.BootPXE)}); err != nil {
		e.Error(err)
	}
}

func readInventory(e *env, s *bmc.Session) error {
	_, err := s.Inventory(e.Context())
	return err
}

// inventory: the inventory has CPUs and NICs with MAC addresses.
func inventory(e *env) {
	s := e.session()
	var inv jobs.Inventory
	_, err := e.timed("inventory", func() (err error) {
		inv, err = s.Inventory(e.Context())
		return err
	})
	if err != nil {
		e.Fatalf("Inventory: %v", err)
	}
	sum := inv.Summary()
	e.Logf("inventory: %+v", sum)
	if sum.CPUs == 0 || sum.NICs == 0 {
		e.Errorf("inventory has %d CPUs and %d NICs, want some of each", sum.CPUs, sum.NICs)
	}
	for _, n := range inv.NICs {
		if n.MAC == "" {
			e.Errorf("NIC %q has no MAC address", n.ID)
		}
	}
}

// isoURL is the image the virtual media case inserts.
const isoURL = "http://10.0.2.2:8081/boot/files/tinman-demo/installer.iso"

func insertMedia(e *env, s *bmc.Session) error { return s.InsertMedia(e.Context(), isoURL) }

// virtualMedia: an ISO inserted reads back inserted, with its URL; ejected,
// it reads back empty; ejecting the empty drive again is no error.
func virtualMedia(e *env) {
	s := e.session()
	readBack := func(want jobs.VirtualMedia) {
		e.Helper()
		var got jobs.VirtualMedia
		_, err := e.timed("read virtual media", func() (err error) {
			got, err = s.VirtualMedia(e.Context())
			return err
		})
		if err != nil || got != want {
			e.Errorf("virtual media reads %+v (%v), want %+v", got, err, want)
		}
	}
	if _, err := e.timed("insert virtual media", func() error { return insertMedia(e, s) }); err != nil {
		e.Fatalf("InsertMedia: %v", err)
	}
	readBack(jobs.VirtualMedia{Image: isoURL, Inserted: true})
	for i := range 2 {
		if _, err := e.timed("eject virtual media", func() error { return s.EjectMedia(e.Context()) }); err != nil {
			e.Errorf("EjectMedia #%d: %v", i+1, err)
		}
		readBack(jobs.VirtualMedia{})
	}
}

func warmReset(e *env, s *bmc.Session) error { return s.ResetBMC(e.Context(), jobs.BMCResetWarm) }

// bmcReset: the BMC takes a reset of kind, carries it out once (where the
// truth can tell), and answers a new session afterwards.
func bmcReset(kind jobs.BMCResetKind) func(e *env) {
	return func(e *env) {
		s := e.session()
		mark := len(e.peer.Truth.Commands())
		_, err := e.timed("BMC reset "+string(kind), func() error { return s.ResetBMC(e.Context(), kind) })
		if err != nil {
			e.Fatalf("ResetBMC(%s): %v", kind, err)
		}
		if reason, lacks := e.target.Lacks[CapBMCResetTruth]; lacks {
			e.Logf("the reset was sent; the truth cannot show it: %s", reason)
		} else if err := wantCommands(e.commandsSince(mark), Command{Op: OpBMCReset, Value: string(kind)}); err != nil {
			e.Error(err)
		}
		e.waitFor("the BMC answers after its reset", func() error {
			s, _, err := e.open("open after BMC reset", e.peer.Server, e.peer.Credentials)
			if err != nil {
				return err
			}
			_, err = s.PowerState(e.Context())
			return err
		})
	}
}

// wrongPassword: a wrong password is bmc_auth_failed, not retryable, and the
// BMC carries out nothing.
func wrongPassword(e *env) {
	creds := e.peer.Credentials
	creds.Password += "-wrong"
	mark := len(e.peer.Truth.Commands())
	_, _, err := e.open("open with wrong password", e.peer.Server, creds)
	if err == nil {
		e.Fatal("Open with a wrong password succeeded")
	}
	e.Logf("wrong password: %v", err)
	wantCode(e, err, false, jobs.CodeBMCAuthFailed)
	if got := e.commandsSince(mark); len(got) != 0 {
		e.Errorf("the BMC carried out %v", got)
	}
}

// deadPort: nothing listens at the address: unreachable or timed out,
// retryable, within CallTimeout and a margin.
func deadPort(e *env) {
	srv := e.peer.Server
	srv.BMC.Address = DeadAddress(e)
	unanswered(e, "open dead port", func() error {
		_, _, err := e.open("open dead port", srv, e.peer.Credentials)
		return err
	}, jobs.CodeBMCUnreachable, jobs.CodeBMCTimeout)
}

// silentPort: something takes the packets and never answers: timed out,
// retryable, within CallTimeout and a margin.
func silentPort(e *env) {
	srv := e.peer.Server
	srv.BMC.Address = SilentAddress(e)
	unanswered(e, "open silent port", func() error {
		_, _, err := e.open("open silent port", srv, e.peer.Credentials)
		return err
	}, jobs.CodeBMCTimeout)
}

// bmcGoesAway: the BMC drops off the network under an open session: the next
// call fails unreachable or timed out, retryable, within CallTimeout and a
// margin.
func bmcGoesAway(e *env) {
	s := e.session()
	e.peer.Truth.Disconnect(e)
	unanswered(e, "power status, BMC gone", func() error {
		_, err := e.timed("power status, BMC gone", func() error {
			_, err := s.PowerState(e.Context())
			return err
		})
		return err
	}, jobs.CodeBMCUnreachable, jobs.CodeBMCTimeout)
}

// canceled: a call the caller cancels returns promptly as canceled, long
// before CallTimeout.
func canceled(e *env) {
	took, err := openCanceled(e)
	wantCode(e, err, true, jobs.CodeCanceled)
	if limit := cancelAfter + e.target.CallTimeout/2; took >= limit {
		e.Errorf("canceled Open took %s, want under %s", took, limit)
	}
}

// canceledLate is the check for a peer without prompt cancellation: the
// canceled call still ends within CallTimeout and a margin, as canceled.
func canceledLate(e *env) {
	took, err := openCanceled(e)
	wantCode(e, err, true, jobs.CodeCanceled)
	if limit := e.target.CallTimeout + deadlineMargin; took >= limit {
		e.Errorf("canceled Open took %s, want under %s", took, limit)
	}
}

// openCanceled opens a session to a silent port and cancels the call after
// cancelAfter.
func openCanceled(e *env) (time.Duration, error) {
	srv := e.peer.Server
	srv.BMC.Address = SilentAddress(e)
	ctx, cancel := context.WithCancel(e.Context())
	defer cancel()
	stop := time.AfterFunc(cancelAfter, cancel)
	defer stop.Stop()
	took, err := e.timed("open canceled after "+cancelAfter.String(), func() error {
		s, err := e.dialer.Open(ctx, srv, e.peer.Credentials)
		if err == nil {
			_ = s.Close(e.Context())
		}
		return err
	})
	if err == nil {
		e.Fatal("Open of a silent port succeeded")
	}
	e.Logf("canceled open after %s: %v", took.Round(time.Millisecond), err)
	return took, err
}

// unanswered runs call, which must fail with one of codes, retryable, and
// return before CallTimeout plus deadlineMargin.
func unanswered(e *env, what string, call func() error, codes ...jobs.Code) {
	e.Helper()
	start := time.Now()
	err := call()
	took := time.Since(start)
	if err == nil {
		e.Fatalf("%s succeeded", what)
	}
	e.Logf("%s after %s: %v", what, took.Round(time.Millisecond), err)
	wantCode(e, err, true, codes...)
	if limit := e.target.CallTimeout + deadlineMargin; took >= limit {
		e.Errorf("%s took %s, want under %s (CallTimeout %s + %s)", what, took, limit, e.target.CallTimeout, deadlineMargin)
	}
}
