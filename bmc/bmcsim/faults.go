package bmcsim

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are the live "hardware pathology" knobs of one BMC. Every method is
// safe for concurrent use and takes effect for the next request.
type Faults struct {
	owner *BMC

	latency     atomic.Int64  // time.Duration
	errorRate   atomic.Uint64 // math.Float64bits of a probability
	authFailure atomic.Bool
	lying       atomic.Bool
	failNext    atomic.Int64 // requests left to answer 500
	maxSessions atomic.Int64 // open sessions allowed; < 0: no limit

	mu   sync.Mutex
	hang chan struct{} // non-nil while hanging; closed when the hang is lifted
	// readings are the PowerState values the next reads of the system
	// report, one each, before the truth again.
	readings []string
}

// SetLatency adds d (>= 0) before every response, including errors.
func (f *Faults) SetLatency(d time.Duration) { f.latency.Store(int64(max(d, 0))) }

// Latency returns the configured extra latency.
func (f *Faults) Latency() time.Duration { return time.Duration(f.latency.Load()) }

// SetErrorRate makes a fraction p (clamped to [0, 1]) of requests other than
// session login be answered 500 Internal Server Error.
func (f *Faults) SetErrorRate(p float64) {
	if math.IsNaN(p) {
		p = 0
	}
	f.errorRate.Store(math.Float64bits(min(max(p, 0), 1)))
}

// ErrorRate returns the configured error rate.
func (f *Faults) ErrorRate() float64 { return math.Float64frombits(f.errorRate.Load()) }

// injectError draws whether this request should fail.
func (f *Faults) injectError() bool {
	p := f.ErrorRate()
	return p > 0 && rand.Float64() < p
}

// SetFailNext makes the next n requests other than session login be
// answered 500 Internal Server Error, then the BMC answers normally again:
// a BMC whose firmware hiccups and recovers. n <= 0 clears it.
func (f *Faults) SetFailNext(n int) { f.failNext.Store(int64(max(n, 0))) }

// FailNext returns how many requests are left to fail.
func (f *Faults) FailNext() int { return int(f.failNext.Load()) }

// takeFailure reports whether this request is one of the FailNext ones.
func (f *Faults) takeFailure() bool {
	for {
		n := f.failNext.Load()
		if n <= 0 {
			return false
		}
		if f.failNext.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// SetMaxSessions caps the open Redfish sessions at n, as BMCs do (iDRAC
// allows a handful): a login past the cap is answered 503 with the Redfish
// registry's SessionLimitExceeded. n < 0 lifts the cap (the default).
func (f *Faults) SetMaxSessions(n int) { f.maxSessions.Store(int64(n)) }

// MaxSessions returns the session cap, or -1 for none.
func (f *Faults) MaxSessions() int { return int(f.maxSessions.Load()) }

// SetPowerReadings makes the next reads of the system report these power
// states, one read each, then the truth again: a BMC that answers
// "PoweringOn", then a stale "Off", while the host comes up (MAAS met it on
// real hardware, and reads the power twice since).
func (f *Faults) SetPowerReadings(states []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readings = append([]string(nil), states...)
}

// PowerReadings returns the readings still to report.
func (f *Faults) PowerReadings() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.readings...)
}

// takePowerReading returns the next scripted reading, if any.
func (f *Faults) takePowerReading() (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.readings) == 0 {
		return "", false
	}
	r := f.readings[0]
	f.readings = f.readings[1:]
	return r, true
}

// SetHang makes requests block without answering until the client gives up
// (its request context is done), the hang is lifted, or the BMC is closed.
func (f *Faults) SetHang(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case on && f.hang == nil:
		f.hang = make(chan struct{})
	case !on && f.hang != nil:
		close(f.hang)
		f.hang = nil
	}
}

// Hanging reports whether the hang fault is on.
func (f *Faults) Hanging() bool { return f.hangChan() != nil }

// hangChan returns the channel closed when the current hang is lifted, or nil.
func (f *Faults) hangChan() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hang
}

// SetAuthFailure makes every session login and every authenticated request be
// answered 401, even with the right credentials or a valid session. The
// service root stays readable, as on a real BMC.
func (f *Faults) SetAuthFailure(on bool) { f.authFailure.Store(on) }

// AuthFailure reports whether the auth-failure fault is on.
func (f *Faults) AuthFailure() bool { return f.authFailure.Load() }

// SetLying makes the BMC answer power, boot, manager-reset and virtual media
// commands with success while changing nothing. They are still logged, with
// Command.Detail set to DetailIgnored.
func (f *Faults) SetLying(on bool) { f.lying.Store(on) }

// Lying reports whether the lying fault is on.
func (f *Faults) Lying() bool { return f.lying.Load() }

// SetOffline drops the BMC off the network: the listener and every open
// connection are closed, so new connections are refused. Setting it back
// listens again on the same address (the BMC's state and sessions survive).
// If the port cannot be bound again the BMC stays offline and the error is
// logged; Offline reports the actual state. It has no effect after Close.
func (f *Faults) SetOffline(on bool) { f.owner.setOffline(on) }

// Offline reports whether the BMC is currently off the network.
func (f *Faults) Offline() bool {
	f.owner.lc.Lock()
	defer f.owner.lc.Unlock()
	return f.owner.offline
}
