// Package bmc speaks to BMCs through bmclib: one client per operation, the
// registry narrowed to the server's provider, a deadline on every call, and
// every failure translated to a coded jobs.Error.
package bmc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"time"

	bmclib "github.com/bmc-toolbox/bmclib/v2"
	"github.com/go-logr/logr"
	"github.com/go-logr/zerologr"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/internal/confcheck"
	"github.com/tinmanhq/tinman/jobs"
)

// Config configures a Dialer.
type Config struct {
	// CallTimeout bounds each BMC call, Open included (default 30 s; more than 0).
	CallTimeout time.Duration
	// Logger receives bmclib's own logs at debug level.
	Logger zerolog.Logger
	// IpmitoolPath is the ipmitool binary (default: found on PATH).
	IpmitoolPath string
}

// Dialer opens sessions to BMCs.
type Dialer struct {
	cfg Config
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{CallTimeout: 30 * time.Second, Logger: zerolog.Nop()}
}

// NewDialer returns a Dialer, or an error naming the setting of cfg that
// cannot be used (start from DefaultConfig).
func NewDialer(cfg Config) (*Dialer, error) {
	v := confcheck.For("bmc.Config")
	confcheck.Positive(v, "CallTimeout", cfg.CallTimeout)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("BMC dialer: %w", err)
	}
	return &Dialer{cfg: cfg}, nil
}

// Session is an open connection to one BMC. Close it.
type Session struct {
	client   *bmclib.Client
	provider string
	timeout  time.Duration
	// redfish reads what bmclib cannot (the virtual media's state); nil
	// over IPMI.
	redfish *redfishReader
}

// driverName is bmclib's registry name for each provider.
func driverName(p jobs.Provider) (string, error) {
	switch p {
	case jobs.ProviderRedfish:
		return "gofish", nil
	case jobs.ProviderIPMI:
		return "ipmitool", nil
	}
	return "", jobs.Errorf(jobs.CodeUnsupportedOperation, false, "unknown BMC provider %q", p)
}

// Open logs in to srv's BMC with creds.
func (d *Dialer) Open(ctx context.Context, srv jobs.Server, creds jobs.Credentials) (*Session, error) {
	driver, err := driverName(srv.BMC.Provider)
	if err != nil {
		return nil, err
	}
	host, port := splitAddress(srv.BMC.Address)
	opts := []bmclib.Option{bmclib.WithLogger(d.logr())}
	var reader *redfishReader
	switch srv.BMC.Provider {
	case jobs.ProviderRedfish:
		opts = append(opts, bmclib.WithRedfishPort(port), bmclib.WithHTTPClient(sessionHTTPClient(d.cfg.CallTimeout)))
		var roots *x509.CertPool
		if srv.BMC.VerifyTLS {
			var err error
			if roots, err = x509.SystemCertPool(); err != nil {
				return nil, fmt.Errorf("load system roots: %w", err)
			}
			opts = append(opts, bmclib.WithSecureTLS(roots))
		}
		reader = newRedfishReader(host, port, creds, roots)
	case jobs.ProviderIPMI:
		opts = append(opts, bmclib.WithIpmitoolPort(port))
		if srv.BMC.CipherSuite > 0 {
			opts = append(opts, bmclib.WithIpmitoolCipherSuite(strconv.Itoa(srv.BMC.CipherSuite)))
		}
		if d.cfg.IpmitoolPath != "" {
			opts = append(opts, bmclib.WithIpmitoolPath(d.cfg.IpmitoolPath))
		}
	}
	client := bmclib.NewClient(host, creds.Username, creds.Password, opts...)
	client.Registry.Drivers = client.Registry.For(driver)
	s := &Session{client: client, provider: driver, timeout: d.cfg.CallTimeout, redfish: reader}
	err = s.call(ctx, "open", func(ctx context.Context) error { return client.Open(ctx) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

// sessionHTTPClient is the HTTP client of one Redfish session: bmclib's,
// with TLS session resumption. gofish asks for a new connection for every
// request of a client it did not build (Connection: close), and bmclib
// cannot build it otherwise, so each request of a session (log in, the
// calls, log out: five for a power status) pays a TCP connection and a TLS
// handshake, most of a short job's CPU on both sides. Resuming the first
// handshake's session spares the others the certificate, its signature and
// its verification. The cache is the session's own: nothing of one BMC's
// TLS is offered to another. Every wait is bounded by timeout, as each
// call is.
func sessionHTTPClient(timeout time.Duration) *http.Client {
	jar, _ := cookiejar.New(nil) // never fails; cookies kept as bmclib's client keeps them
	return &http.Client{
		Timeout: timeout,
		Jar:     jar,
		Transport: &http.Transport{
			// As bmclib's: BMCs are mostly self-signed; bmclib.WithSecureTLS
			// turns verification on for a server that asks for it.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, //nolint:gosec // see above
				ClientSessionCache: tls.NewLRUClientSessionCache(4)},
			DisableKeepAlives:     true, // gofish closes each connection anyway
			DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
		},
	}
}

func (d *Dialer) logr() logr.Logger {
	l := d.cfg.Logger.With().Str("component", "bmclib").Logger().Level(zerolog.WarnLevel)
	return zerologr.New(&l)
}

func splitAddress(addr string) (host, port string) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, ""
	}
	return h, p
}

// Provider names the bmclib provider that answers for this session.
func (s *Session) Provider() string { return s.provider }

// Close logs out. It runs even when ctx is done.
func (s *Session) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	if err := s.client.Close(ctx); err != nil {
		return fmt.Errorf("close BMC session: %w", err)
	}
	return nil
}

// PowerState reads the server's power state.
func (s *Session) PowerState(ctx context.Context) (jobs.PowerState, error) {
	var raw string
	err := s.call(ctx, "get power state", func(ctx context.Context) (err error) {
		raw, err = s.client.GetPowerState(ctx)
		return err
	})
	if err != nil {
		return jobs.PowerStateUnknown, err
	}
	return parsePowerState(raw), nil
}

// parsePowerState reads bmclib's power state. A transition (Redfish's
// PoweringOn, PoweringOff) is no state yet: it is unknown, and a readback
// goes on reading until the power settles.
func parsePowerState(raw string) jobs.PowerState {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "on", "chassis power is on":
		return jobs.PowerStateOn
	case "off", "chassis power is off":
		return jobs.PowerStateOff
	}
	return jobs.PowerStateUnknown
}

// SetPower sends a power action (on, off, soft, cycle, reset). Callers
// verify the outcome by reading the power state back: bmclib's redfish
// provider reports a soft off that the BMC accepted as failed, so for soft a
// refusal that is not about reaching or logging in to the BMC is left to the
// readback to judge.
func (s *Session) SetPower(ctx context.Context, action jobs.PowerAction) error {
	err := s.call(ctx, "set power "+string(action), func(ctx context.Context) error {
		ok, err := s.client.SetPowerState(ctx, string(action))
		if err == nil && !ok {
			return errors.New("BMC did not confirm the power change")
		}
		return err
	})
	if action == jobs.PowerSoft && jobs.CodeOf(err) == jobs.CodeBMCError {
		return nil // the request reached the BMC; only the readback can tell
	}
	return err
}

// SetBootDevice sets the next boot device.
func (s *Session) SetBootDevice(ctx context.Context, p jobs.BootDeviceParams) error {
	return s.call(ctx, "set boot device "+string(p.Device), func(ctx context.Context) error {
		ok, err := s.client.SetBootDevice(ctx, string(p.Device), p.Persistent, p.EFI)
		if err == nil && !ok {
			return errors.New("BMC did not confirm the boot device")
		}
		return err
	})
}

// BootOverride reads the boot override the BMC holds now: device,
// persistence and EFI, as a boot-device job sets them. bmclib reads it over
// Redfish only; over IPMI it is an unsupported_operation.
func (s *Session) BootOverride(ctx context.Context) (jobs.BootDeviceParams, error) {
	var o jobs.BootDeviceParams
	err := s.call(ctx, "read boot override", func(ctx context.Context) error {
		got, err := s.client.GetBootDeviceOverride(ctx)
		o = jobs.BootDeviceParams{Device: jobs.BootDeviceName(got.Device), Persistent: got.IsPersistent, EFI: got.IsEFIBoot}
		return err
	})
	return o, err
}

// ResetBMC resets the BMC itself: warm is a graceful restart of its
// firmware, cold a forced one. IPMI names them warm and cold, Redfish
// GracefulRestart and ForceRestart.
func (s *Session) ResetBMC(ctx context.Context, kind jobs.BMCResetKind) error {
	resetType := string(kind)
	if s.provider == "gofish" {
		resetType = map[jobs.BMCResetKind]string{jobs.BMCResetWarm: "GracefulRestart", jobs.BMCResetCold: "ForceRestart"}[kind]
	}
	return s.call(ctx, "reset BMC "+string(kind), func(ctx context.Context) error {
		ok, err := s.client.ResetBMC(ctx, resetType)
		if err == nil && !ok {
			return errors.New("BMC did not confirm the reset")
		}
		return err
	})
}

// call runs fn under the call timeout and translates its failure.
func (s *Session) call(ctx context.Context, op string, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := fn(ctx)
	if err == nil {
		return nil
	}
	return classify(ctx, op, err)
}
