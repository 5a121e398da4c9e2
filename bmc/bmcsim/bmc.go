package bmcsim

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Default credentials used when Config leaves them empty.
const (
	DefaultUsername = "admin"
	DefaultPassword = "password"
)

// Power states as reported in ComputerSystem.PowerState.
const (
	PowerOn  = "On"
	PowerOff = "Off"
)

// Command operations recorded in the command log.
const (
	OpPower        = "power"
	OpBoot         = "boot"
	OpManagerReset = "manager-reset"
	OpVirtualMedia = "virtual-media"
)

// DetailIgnored is the Command.Detail of a command accepted while the BMC is
// lying (see Faults.SetLying): answered with success, state left unchanged.
const DetailIgnored = "ignored"

// ErrClosed is returned by Start once Close has been called.
var ErrClosed = errors.New("bmcsim: BMC closed")

// Config holds one simulated BMC's behaviour. Zero values mean: user "admin",
// password "password", instant power transitions, host initially powered On.
type Config struct {
	// Username and Password are the only accepted credentials (session login
	// and HTTP Basic auth).
	Username, Password string
	// PowerTransition is the delay between accepting a power change and
	// PowerState showing it. Real Redfish BMCs can take 30 s to show Off.
	PowerTransition time.Duration
	// InitialPowerState is the host power state at New: "On" (default when
	// empty, like the DMTF mockup) or "Off".
	InitialPowerState string
	// Identity overrides the host identity; empty fields are drawn at random
	// per BMC (so fleet members differ).
	Identity Identity
	// Logger receives request logs (debug) and command logs (info). The zero
	// value discards everything.
	Logger zerolog.Logger
	// Host, if set, is the machine the BMC powers and boots for real (see
	// Host): power and virtual media commands are carried out on it before
	// they are answered, the power state is read from it, and
	// PowerTransition, InitialPowerState and SetPowerState do not apply.
	Host Host
	// OnCommand, if set, is called after each accepted command, outside any
	// lock, from a per-BMC goroutine that delivers commands one at a time in
	// log order. Close waits for queued calls to return, so OnCommand must not
	// call Close on the same BMC.
	OnCommand func(Command)
}

// Command is one accepted state-changing request, as recorded in the log.
type Command struct {
	// Time is when the BMC accepted the command.
	Time time.Time
	// Op is one of OpPower, OpBoot, OpManagerReset, OpVirtualMedia.
	Op string
	// Value is the Redfish ResetType ("ForceOff", "PowerCycle", ...), the
	// BootSourceOverrideTarget ("Pxe") or the virtual media action
	// ("InsertMedia", "EjectMedia").
	Value string
	// Detail is free-form context: DetailIgnored when lying, "no-op: already
	// On" for a power command that changed nothing, "enabled=Once mode=UEFI"
	// for a boot override, the image URL for virtual media.
	Detail string
	// Boot is, for a power command that (re)boots the host, the boot override
	// target the host boots from ("Pxe"), or "" when no override is active.
	Boot string
}

// Identity is what a BMC reports about its host: the SerialNumber of
// Systems/1 and Chassis/1, the UUID of Systems/1 and the MAC address of the
// host's only NIC (EthernetInterfaces/NIC.Slot.1-1-1 and its NetworkPort).
type Identity struct {
	SerialNumber string // e.g. "SIM3FA29C0B7D"
	UUID         string // e.g. "4a3c...-..."
	MACAddress   string // e.g. "02:5E:11:A0:33:C4" (locally administered)
}

// BMC is one simulated Redfish BMC. It is safe for concurrent use.
type BMC struct {
	user, pass string
	id         Identity
	transition time.Duration
	log        zerolog.Logger
	faults     *Faults
	shared     *shared
	initErr    error
	hooks      hookQueue
	gate       gate
	done       chan struct{} // closed by Close: releases hung and sleeping requests
	// host is Config.Host; hostMu makes the power and media commands to it
	// one at a time, each whole: the model's change, the Host's, the log's.
	host   Host
	hostMu sync.Mutex
	// inFlight and maxInFlight count the requests being served at once:
	// one client at a time (Tinman's lease) never makes it more than 1.
	inFlight, maxInFlight atomic.Int64
	// logins and logoutTries count the sessions created and the logouts
	// asked for (answered or not): a client that closes what it opens asks
	// for as many logouts as it got sessions.
	logins, logoutTries atomic.Int64
	// fullTLS and resumedTLS count the TLS handshakes done in full and by
	// resuming an earlier session.
	fullTLS, resumedTLS atomic.Int64

	mu       sync.Mutex // guards everything below, up to lc
	machine  machine
	sessions sessionStore
	commands []Command

	addrV atomic.Pointer[string] // published copy of addr for lock-free Addr

	lc      sync.Mutex // guards the listener lifecycle below
	srv     *http.Server
	addr    string
	offline bool
	closed  bool
	serving sync.WaitGroup
}

// New returns a stopped BMC configured by cfg; call Start to serve it.
func New(cfg Config) *BMC {
	sh, err := newShared()
	b := newBMC(cfg, sh)
	if err != nil {
		b.initErr = err
	}
	return b
}

func newBMC(cfg Config, sh *shared) *BMC {
	b := &BMC{
		user:       withDefault(cfg.Username, DefaultUsername),
		pass:       withDefault(cfg.Password, DefaultPassword),
		id:         fillIdentity(cfg.Identity),
		transition: max(cfg.PowerTransition, 0),
		host:       cfg.Host,
		log:        cfg.Logger.With().Str("component", "bmcsim").Logger(),
		shared:     sh,
		done:       make(chan struct{}),
		hooks:      hookQueue{fn: cfg.OnCommand},
		machine:    newMachine(cfg.InitialPowerState),
		sessions:   newSessionStore(),
	}
	if b.host != nil {
		b.transition = 0 // the Host's power is the truth, at once
	}
	b.hooks.log = b.log
	b.faults = &Faults{owner: b}
	b.faults.maxSessions.Store(-1)
	return b
}

func withDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// fillIdentity completes id with random values.
func fillIdentity(id Identity) Identity {
	var r [16]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand)
	if id.SerialNumber == "" {
		id.SerialNumber = "SIM" + strings.ToUpper(hex.EncodeToString(r[:5]))
	}
	if id.UUID == "" {
		u := r
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
		h := hex.EncodeToString(u[:])
		id.UUID = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	if id.MACAddress == "" {
		mac := net.HardwareAddr{0x02, r[10], r[11], r[12], r[13], r[14]}
		id.MACAddress = strings.ToUpper(mac.String())
	}
	return id
}

// Identity returns the host identity this BMC reports.
func (b *BMC) Identity() Identity { return b.id }

// Faults returns the live fault knobs of this BMC.
func (b *BMC) Faults() *Faults { return b.faults }

// Credentials returns the username and password this BMC accepts.
func (b *BMC) Credentials() (user, pass string) { return b.user, b.pass }

// RootCAs returns a pool holding the BMC's self-signed certificate (valid for
// 127.0.0.1, ::1 and localhost), for clients that want verified TLS, e.g.
// bmclib.WithSecureTLS(b.RootCAs()). It returns nil if New failed to create
// the certificate (Start then reports why).
func (b *BMC) RootCAs() *x509.CertPool {
	if b.shared == nil {
		return nil
	}
	return b.shared.cert.pool
}

// PowerState returns "On" or "Off" as the BMC currently reports it (after any
// PowerTransition delay has elapsed).
func (b *BMC) PowerState() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.settle(time.Now())
	return b.machine.power
}

// SetPowerState forces the reported power state, cancelling any pending
// transition. It is meant for test setup and is not logged as a command.
// s must be "On" or "Off" (case-insensitive); other values are ignored.
func (b *BMC) SetPowerState(s string) {
	state, ok := parsePowerState(s)
	if !ok {
		b.log.Warn().Str("state", s).Msg("SetPowerState: ignoring unknown power state")
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.machine.force(state)
}

func parsePowerState(s string) (string, bool) {
	switch {
	case strings.EqualFold(s, PowerOn):
		return PowerOn, true
	case strings.EqualFold(s, PowerOff):
		return PowerOff, true
	}
	return "", false
}

// BootOverride returns the current BootSourceOverrideTarget and
// BootSourceOverrideEnabled, e.g. ("Pxe", "Once"). A "Once" override reads
// "Disabled" after the host has booted through it.
func (b *BMC) BootOverride() (target, enabled string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.settle(time.Now())
	return b.machine.boot.Target, b.machine.boot.Enabled
}

// VirtualMedia returns the image URL in the virtual CD and whether it is
// inserted.
func (b *BMC) VirtualMedia() (image string, inserted bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.machine.media.Image, b.machine.media.Inserted
}

// Commands returns a copy of the command log, oldest first.
func (b *BMC) Commands() []Command {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Command(nil), b.commands...)
}

// MaxConcurrentRequests returns the most requests this BMC ever served at
// once. A BMC worked by one job at a time, whose calls follow each other,
// serves one at a time: 2 or more means two clients overlapped.
func (b *BMC) MaxConcurrentRequests() int { return int(b.maxInFlight.Load()) }

// Logins returns how many sessions were created; LogoutTries how many
// logouts were asked for, including those a fault answered with an error.
func (b *BMC) Logins() int { return int(b.logins.Load()) }

// TLSHandshakes returns how many TLS handshakes the BMC did in full and how
// many by resuming a session it had given the client before.
func (b *BMC) TLSHandshakes() (full, resumed int) {
	return int(b.fullTLS.Load()), int(b.resumedTLS.Load())
}

// LogoutTries returns how many session logouts were asked for.
func (b *BMC) LogoutTries() int { return int(b.logoutTries.Load()) }

// SessionCount returns the number of open Redfish sessions.
func (b *BMC) SessionCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions.len()
}

// record appends cmd to the log and queues it for OnCommand. Caller holds b.mu
// so that the hook sees commands in log order.
func (b *BMC) record(cmd Command) {
	b.commands = append(b.commands, cmd)
	b.hooks.push(cmd)
}

// logCommand writes an accepted command to the logger (outside b.mu).
func (b *BMC) logCommand(cmd Command) {
	b.log.Info().Str("bmc", b.Addr()).Str("op", cmd.Op).Str("value", cmd.Value).
		Str("detail", cmd.Detail).Str("boot", cmd.Boot).Msg("command accepted")
}

// credentialsOK reports whether user/pass match, in constant time.
func (b *BMC) credentialsOK(user, pass string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(b.user))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(b.pass))
	return u&p == 1
}

// String identifies the BMC in logs and test failures.
func (b *BMC) String() string { return fmt.Sprintf("bmcsim(%s)", b.Addr()) }
