package main

import (
	"context"
	"fmt"
	"net"
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
			"with --enroll registers them as servers in the Redis of --redis-url, each with its NIC's MAC as its\n" +
			"boot MAC. Ctrl-C stops them.",
		Example: "  tinman sim --count 2000 --enroll --redis-url redis://127.0.0.1:6379/0",
		Args:    requireNoArgs,
		RunE:    runSim,
	}
	f := cmd.Flags()
	f.Int("count", 100, "number of simulated BMCs")
	f.String("prefix", "sim-", "server id prefix: sim-0001, sim-0002, ...")
	f.Duration("power-transition", 0, "how long a power change takes to show")
	f.Bool("enroll", false, "register the BMCs as available servers in Redis")
	f.String("control-addr", "127.0.0.1:0", "address of the BMCs' fault knobs (GET /sim/bmcs, PATCH /sim/bmcs/{id}/faults)")
	f.String("redis-url", "redis://127.0.0.1:6379/0", "Redis of the servers registry, with --enroll")
	secretFlags(cmd)
	return cmd
}

func runSim(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	count, _ := f.GetInt("count")
	prefix := mustString(cmd, "prefix")
	transition, _ := f.GetDuration("power-transition")
	if count < 1 || count > 20000 {
		return usageErr("--count %d: must be between 1 and 20000", count)
	}
	if !jobs.ValidServerID(simName(prefix, count, count)) {
		return usageErr("--prefix %q: ids must match ^[a-z0-9][a-z0-9-]{0,62}$", prefix)
	}
	fleet, err := bmcsim.StartFleet(count, bmcsim.Config{PowerTransition: transition, Logger: zerolog.Nop()})
	if err != nil {
		return fmt.Errorf("start simulated fleet: %w", err)
	}
	defer fleet.Close()
	if enroll, _ := f.GetBool("enroll"); enroll {
		key, err := secretKey(cmd)
		if err != nil {
			return err
		}
		if key == nil {
			return usageErr("--enroll seals the BMC credentials: give the secret key the workers use (TINMAN_SECRET_KEY or --secret-key-file)")
		}
		if err := enrollFleet(cmd.Context(), mustString(cmd, "redis-url"), key, prefix, fleet); err != nil {
			return err
		}
	}
	names := make([]string, count)
	for i := range names {
		names[i] = simName(prefix, i+1, count)
	}
	control, err := bmcsim.NewControl(fleet, names)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", mustString(cmd, "control-addr"))
	if err != nil {
		return usageErr("--control-addr: %v", err)
	}
	out := cmd.OutOrStdout()
	user, pass := fleet.BMCs()[0].Credentials()
	fmt.Fprintf(out, "# %d Redfish BMCs, user %s, password %s; fault knobs at http://%s/sim/bmcs; Ctrl-C stops them\n",
		count, user, pass, ln.Addr())
	for i, b := range fleet.BMCs() {
		fmt.Fprintf(out, "%s %s\n", names[i], b.Addr())
	}
	return serveListener(cmd.Context(), ln, control, api.NewHealth(time.Second))
}

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
	for i, b := range bmcs {
		user, pass := b.Credentials()
		mac, _ := jobs.ParseMAC("", b.Identity().MACAddress)
		srv := jobs.Server{
			ID:     simName(prefix, i+1, len(bmcs)),
			BMC:    jobs.BMC{Address: b.Addr(), Provider: jobs.ProviderRedfish},
			Labels: map[string]string{"fleet": "sim"},
			State:  jobs.ServerAvailable, PowerState: jobs.PowerStateOn,
			BootMAC: mac,
		}
		if err := st.PutServer(ctx, srv, jobs.Credentials{Username: user, Password: pass}); err != nil {
			return fmt.Errorf("enroll %s: %w", srv.ID, err)
		}
	}
	return nil
}
