package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

func newSimCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run a fleet of simulated Redfish BMCs as its own process, for load tests",
		Long: "Starts --count simulated Redfish BMCs on loopback, prints each one's id and address, and\n" +
			"with --enroll registers them as servers in the Redis of --redis-url, labelled fleet=sim and rack=r1.. (40 to\n" +
			"a rack), each with its NIC's MAC as its boot MAC. With --boot-url the machine behind each BMC boots through that boot service as tinman dev's\n" +
			"do, and reports installed, booted or wiped over --nats-url after --installer-delay. The open files\n" +
			"limit is raised to its hard limit; a fleet that needs more is refused. Ctrl-C stops them.",
		Example: "  tinman sim --count 2000 --enroll --redis-url redis://127.0.0.1:6379/0\n" +
			"  tinman sim --count 10000 --enroll --boot-url http://127.0.0.1:8081 --nats-url nats://127.0.0.1:4222",
		Args: requireNoArgs,
		RunE: runSim,
	}
	f := cmd.Flags()
	f.Int("count", 100, "number of simulated BMCs (1-20000)")
	f.String("prefix", "sim-", "server id prefix: sim-0001, sim-0002, ...")
	f.Duration("power-transition", 0, "how long a power change takes to show")
	f.Bool("enroll", false, "register the BMCs as available servers in Redis")
	f.String("control-addr", "127.0.0.1:0", "address of the BMCs' fault knobs (GET /sim/bmcs, PATCH /sim/bmcs/{id}/faults)")
	f.String("redis-url", "redis://127.0.0.1:6379/0", "Redis of the servers registry, with --enroll")
	f.String("boot-url", "", "the boot service's URL: the simulated machines boot through it and report to --nats-url (default: no installer)")
	f.String("nats-url", "", "NATS of the installer's reports, with --boot-url (default: the running tinman dev, else nats://127.0.0.1:4222)")
	natsAuthFlags(cmd)
	f.Duration("installer-delay", 3*time.Second, "with --boot-url, how long the simulated installer takes to report installed, booted or wiped")
	secretFlags(cmd)
	return cmd
}

// simSettings are tinman sim's flags, checked.
type simSettings struct {
	count      int
	prefix     string
	transition time.Duration
	bootURL    string
	delay      time.Duration
}

func simSettingsOf(cmd *cobra.Command) (simSettings, error) {
	f := cmd.Flags()
	s := simSettings{prefix: mustString(cmd, "prefix"), bootURL: mustString(cmd, "boot-url")}
	s.count, _ = f.GetInt("count")
	s.transition, _ = f.GetDuration("power-transition")
	s.delay, _ = f.GetDuration("installer-delay")
	switch {
	case s.count < 1 || s.count > 20000:
		return s, usageErr("--count %d: must be between 1 and 20000", s.count)
	case !jobs.ValidServerID(simName(s.prefix, s.count, s.count)):
		return s, usageErr("--prefix %q: ids must match ^[a-z0-9][a-z0-9-]{0,62}$", s.prefix)
	case s.delay < 0:
		return s, usageErr("--installer-delay %s: must not be negative", s.delay)
	}
	if u, err := url.Parse(s.bootURL); s.bootURL != "" && (err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https")) {
		return s, usageErr("--boot-url %q: must be an http:// or https:// URL", s.bootURL)
	}
	return s, raiseFileLimit(uint64(s.count)+fdReserve, fmt.Sprintf("--count %d", s.count))
}

func runSim(cmd *cobra.Command, _ []string) error {
	s, err := simSettingsOf(cmd)
	if err != nil {
		return err
	}
	hook, closeNATS, err := simHooks(cmd, s)
	if err != nil {
		return err
	}
	defer closeNATS()
	started := time.Now()
	fleet, err := bmcsim.StartFleetFunc(s.count, func(i int) bmcsim.Config {
		cfg := bmcsim.Config{PowerTransition: s.transition, Logger: zerolog.Nop()}
		if hook != nil {
			cfg.OnCommand, cfg.Identity.MACAddress = hook(simName(s.prefix, i+1, s.count), simMAC(i)), simMAC(i)
		}
		return cfg
	})
	if err != nil {
		return fmt.Errorf("start simulated fleet: %w", err)
	}
	defer fleet.Close()
	fmt.Fprintf(cmd.ErrOrStderr(), "# started %d BMCs in %s: %d goroutines\n", s.count, time.Since(started).Round(time.Millisecond), runtime.NumGoroutine())
	if enroll, _ := cmd.Flags().GetBool("enroll"); enroll {
		if err := enrollSims(cmd, s, fleet); err != nil {
			return err
		}
	}
	return serveSims(cmd, s, fleet)
}

// simHooks returns, with --boot-url, what makes each BMC's machine boot
// through the boot service, and what closes its NATS connection.
func simHooks(cmd *cobra.Command, s simSettings) (func(server, mac string) func(bmcsim.Command), func(), error) {
	if s.bootURL == "" {
		return nil, func() {}, nil
	}
	log, err := newLogger(cmd)
	if err != nil {
		return nil, nil, err
	}
	nc, js, err := connectJetStream(cmd)
	if err != nil {
		return nil, nil, err
	}
	in := newSimInstaller(cmd.Context(), s.bootURL, js, s.delay, log.With().Str("component", "sim-installer").Logger())
	return in.hook, nc.Close, nil
}

func enrollSims(cmd *cobra.Command, s simSettings, fleet *bmcsim.Fleet) error {
	key, err := secretKey(cmd)
	if err != nil {
		return err
	}
	if key == nil {
		return usageErr("--enroll seals the BMC credentials: give the secret key the workers use (TINMAN_SECRET_KEY or --secret-key-file)")
	}
	started := time.Now()
	if err := enrollFleet(cmd.Context(), mustString(cmd, "redis-url"), key, s.prefix, fleet); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "# enrolled %d servers in %s\n", s.count, time.Since(started).Round(time.Millisecond))
	return nil
}

// serveSims prints the fleet and serves its fault knobs until Ctrl-C.
func serveSims(cmd *cobra.Command, s simSettings, fleet *bmcsim.Fleet) error {
	names := make([]string, s.count)
	for i := range names {
		names[i] = simName(s.prefix, i+1, s.count)
	}
	control, err := bmcsim.NewControl(fleet, names)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", mustString(cmd, "control-addr"))
	if err != nil {
		return usageErr("--control-addr: %v", err)
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	user, pass := fleet.BMCs()[0].Credentials()
	fmt.Fprintf(out, "# %d Redfish BMCs, user %s, password %s; fault knobs at http://%s/sim/bmcs; Ctrl-C stops them\n",
		s.count, user, pass, ln.Addr())
	for i, b := range fleet.BMCs() {
		fmt.Fprintf(out, "%s %s\n", names[i], b.Addr())
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("print the fleet: %w", err)
	}
	return serveListener(cmd.Context(), ln, control, api.NewHealth(time.Second))
}

// simsPerRack is how many simulated servers share a rack label.
const simsPerRack = 40

// simName numbers ids with as many digits as the fleet needs (at least 4).
func simName(prefix string, i, count int) string {
	width := max(len(fmt.Sprint(count)), 4)
	return fmt.Sprintf("%s%0*d", prefix, width, i)
}

func enrollFleet(ctx context.Context, redisURL string, key []byte, prefix string, fleet *bmcsim.Fleet) error {
	rdb, _, err := openRedis(ctx, redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	outbox, err := store.NewOutbox(rdb, nil, store.OutboxConfig{})
	if err != nil {
		return err
	}
	st, err := store.New(rdb, outbox, store.Config{SecretKey: key})
	if err != nil {
		return err
	}
	bmcs := fleet.BMCs()
	list := make([]store.Enrolment, len(bmcs))
	for i, b := range bmcs {
		user, pass := b.Credentials()
		mac, _ := jobs.ParseMAC("", b.Identity().MACAddress)
		list[i] = store.Enrolment{Server: jobs.Server{
			ID:     simName(prefix, i+1, len(bmcs)),
			BMC:    jobs.BMC{Address: b.Addr(), Provider: jobs.ProviderRedfish},
			Labels: map[string]string{"fleet": "sim", "rack": fmt.Sprintf("r%d", i/simsPerRack+1)},
			State:  jobs.ServerAvailable, PowerState: jobs.PowerStateOn,
			BootMAC: mac,
		}, Credentials: jobs.Credentials{Username: user, Password: pass}}
	}
	if err := st.PutServers(ctx, list); err != nil {
		return fmt.Errorf("enroll the fleet: %w", err)
	}
	return nil
}
