package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/bmc/qemu"
	"github.com/tinmanhq/tinman/callback"
	"github.com/tinmanhq/tinman/dispatch"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/natsembed"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/ui"
	"github.com/tinmanhq/tinman/webhook"
	"github.com/tinmanhq/tinman/workers"
)

func newDevCmd() *cobra.Command {
	var boot *bootSettings
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole system in one process, with a simulated fleet",
		Long: "Runs an embedded NATS server with JetStream, Redis (--redis-url, or an in-memory one that keeps\n" +
			"nothing), a simulated fleet of Redfish BMCs on loopback, the dispatcher, the workers, the API and the\n" +
			"boot service, with the demo image tinman-demo in the catalogue.",
		Args: requireNoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			cfg := newDevConfig()
			cfg.Logger, cfg.Out, cfg.ContextFile, cfg.WebhookRules = log, cmd.OutOrStdout(), devContextPath(), devWebhookRules()
			cfg.HTTPAddr, _ = f.GetString("http-addr")
			cfg.SimControlAddr, _ = f.GetString("sim-control-addr")
			cfg.NATSPort, _ = f.GetInt("nats-port")
			cfg.RedisURL, _ = f.GetString("redis-url")
			cfg.Sims, _ = f.GetInt("sims")
			cfg.DataDir, _ = f.GetString("data-dir")
			cfg.InstallerDelay, _ = f.GetDuration("installer-delay")
			cfg.VMs, _ = f.GetInt("vms")
			cfg.Boot = *boot
			if cfg.Sims < 0 || cfg.Sims > maxSims {
				return usageErr("--sims %d: must be between 0 and %d", cfg.Sims, maxSims)
			}
			if err := raiseFileLimit(uint64(cfg.Sims)+fdReserve, fmt.Sprintf("--sims %d", cfg.Sims)); err != nil {
				return err
			}
			if err := checkVMs(cfg.VMs); err != nil {
				return err
			}
			return newDev(cfg).Run(cmd.Context())
		},
	}
	boot = bootFlags(cmd, "127.0.0.1:8081")
	f := cmd.Flags()
	f.String("http-addr", "127.0.0.1:8080", "address of the HTTP API")
	f.String("sim-control-addr", "127.0.0.1:0", "address of the simulated BMCs' fault knobs (GET /sim/bmcs, PATCH /sim/bmcs/{id}/faults)")
	f.Int("nats-port", 4222, "port of the embedded NATS server (a free one when taken)")
	f.String("redis-url", "", "Redis URL (default: an in-memory Redis that keeps nothing)")
	f.Int("sims", 8, fmt.Sprintf("number of simulated BMCs, enrolled as sim-01, sim-02, ... (0-%d)", maxSims))
	f.Int("vms", 0, fmt.Sprintf("number of QEMU virtual machines behind simulated Redfish BMCs, enrolled as vm-01, ... (0-%d; needs qemu-system-x86 and ipxe-qemu)", maxVMs))
	f.String("data-dir", "", "folder for JetStream's files (default: a temporary folder, removed at exit)")
	f.Duration("installer-delay", 3*time.Second, "how long the simulated installer takes to report installed, booted or wiped")
	return cmd
}

// maxSims bounds --sims: 10,000 BMCs listen in the process, with room for
// their connections under a hard open files limit of 20,000 or more.
const maxSims = 10000

// devConfig configures a dev system.
type devConfig struct {
	HTTPAddr string
	// SimControlAddr serves the simulated BMCs' fault knobs (default: a free loopback port).
	SimControlAddr string
	NATSPort       int
	RedisURL       string
	Sims           int
	DataDir        string
	ContextFile    string
	Logger         zerolog.Logger
	Out            io.Writer
	// Worker and BMC settings (newDevConfig: their DefaultConfig).
	Worker workers.Config
	BMC    bmc.Config
	// InstallerDelay is how long the simulated installer takes to report.
	InstallerDelay time.Duration
	// SimPassword is the simulated BMCs' password (default bmcsim's).
	SimPassword string
	// WebhookRules map GitHub events to deploys (default devWebhookRules).
	WebhookRules []webhook.Rule
	// VMs is the number of QEMU virtual machines, each behind a simulated
	// Redfish BMC, enrolled as vm-01... (0 to maxVMs).
	VMs int
	// BootURL is the boot service's URL as a virtual machine reaches it
	// ("http://10.0.2.2:<port>": QEMU's user network maps 10.0.2.2 to the
	// host's loopback): the VMs' network boot chains to
	// <BootURL>/boot/chain.ipxe. Empty: derived from the boot service's
	// address.
	BootURL string
	// Boot is where the boot service listens, its URL and its files
	// folder (default: a temporary one holding the demo image).
	Boot bootSettings
	// Tokens are accepted beside the admin token (tests sign in as viewers and operators).
	Tokens *api.Tokens
}

// dev is the whole system in one process. Run it; Ready closes once it serves.
type dev struct {
	cfg       devConfig
	callbacks *callback.Receiver
	ready     chan struct{}
	natsURL   string
	apiURL    string
	fleet     *bmcsim.Fleet
	// vms are the virtual machines behind the fleet's last cfg.VMs BMCs.
	vms []*qemu.Machine
	// simControlURL is where the fleet's fault knobs are served.
	simControlURL string
	backend       *backend
	// token is the admin bearer token of the dev API, left in the context file.
	token string
	// webhookSecret signs webhook deliveries (both routes), left in the context file.
	webhookSecret string
	// bootURL is where machines reach the boot service; demo is the demo
	// image, when there is one.
	bootURL string
	demo    *jobs.Image
}

// newDevConfig is a devConfig with the workers' and BMC dialer's defaults.
func newDevConfig() devConfig {
	return devConfig{Worker: workers.DefaultConfig(), BMC: bmc.DefaultConfig(), Boot: bootSettings{Addr: "127.0.0.1:8081"}}
}

func newDev(cfg devConfig) *dev { return &dev{cfg: cfg, ready: make(chan struct{})} }

// Ready is closed when every part is up.
func (d *dev) Ready() <-chan struct{} { return d.ready }

// Run starts every part, serves until ctx ends, then stops them in order.
func (d *dev) Run(ctx context.Context) error {
	if c, running := readDevContext(d.cfg.ContextFile); running && c.PID != os.Getpid() {
		return usageErr("another tinman dev (pid %d, API %s) runs with the context file %s: stop it, or give this one its own file (TINMAN_CONTEXT=/tmp/tinman-dev-2.json)",
			c.PID, c.APIURL, d.cfg.ContextFile)
	}
	log := d.cfg.Logger
	dataDir, cleanup, err := d.dataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ns, err := d.startNATS(dataDir)
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	redisURL, stopRedis, err := d.startRedis()
	if err != nil {
		return err
	}
	defer stopRedis()
	key, err := d.secretKey()
	if err != nil {
		return err
	}
	b, err := openBackend(ctx, backendConfig{NATS: natsTarget{URLs: d.natsURL}, RedisURL: redisURL,
		Streams: events.DefaultStreamConfig(), Name: "dev", Logger: log, SecretKey: key})
	if err != nil {
		return err
	}
	defer b.Close()
	d.backend = b
	serveBoot, stopBoot, err := d.startBoot(ctx)
	if err != nil {
		return err
	}
	defer stopBoot()
	if d.cfg.BootURL == "" {
		d.cfg.BootURL = vmBootURL(d.bootURL)
	}
	if err := d.startFleet(ctx, dataDir); err != nil {
		return err
	}
	defer d.stopFleet()
	dcfg := dispatch.DefaultConfig()
	dcfg.Retry = d.cfg.Worker.Retry // one retry policy: the attempts a job is given are the ones the workers allow
	disp, q, err := b.dispatcher(dcfg)
	if err != nil {
		return err
	}
	defer q.Close()
	wcfg := d.cfg.Worker
	wcfg.BootURL = d.bootURL
	if wcfg.InstallerImage == "" && d.demo != nil {
		wcfg.InstallerImage = d.demo.Name
	}
	w, err := b.worker(wcfg, d.cfg.BMC, nil)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", d.cfg.HTTPAddr)
	if err != nil {
		return usageErr("--http-addr %s: %v", d.cfg.HTTPAddr, err)
	}
	d.apiURL, d.token, d.webhookSecret = "http://"+ln.Addr().String(), newToken(), newToken()
	if err := writeDevContext(d.cfg.ContextFile, devContext{NATSURL: d.natsURL, APIURL: d.apiURL, RedisURL: redisURL, Token: d.token, WebhookSecret: d.webhookSecret, PID: os.Getpid()}); err != nil {
		log.Warn().Err(err).Msg("clients will need --nats-url")
	}
	defer removeDevContext(d.cfg.ContextFile)
	control, err := d.simControl()
	if err != nil {
		return err
	}
	d.banner(redisURL)
	close(d.ready)
	return runAll(ctx, b.outbox.Run, disp.Run, w.Run, d.receiveCallbacks, d.serveAPI(ln), control, serveBoot)
}

// secretKey is the key that seals credentials in dev: with the in-memory
// Redis a fresh one; with --redis-url the one kept beside the context file,
// made on first use, so that a restarted dev reads what it wrote.
func (d *dev) secretKey() ([]byte, error) {
	if d.cfg.RedisURL == "" {
		return store.NewKey(), nil
	}
	path := filepath.Join(filepath.Dir(d.cfg.ContextFile), "dev-secret.key")
	if data, err := os.ReadFile(path); err == nil {
		return store.ParseKey(string(data))
	}
	key := store.NewKey()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keep dev secret key: %w", err)
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("keep dev secret key: %w", err)
	}
	return key, nil
}

func (d *dev) dataDir() (string, func(), error) {
	if d.cfg.DataDir != "" {
		return d.cfg.DataDir, func() {}, os.MkdirAll(d.cfg.DataDir, 0o700)
	}
	dir, err := os.MkdirTemp("", "tinman-dev-")
	if err != nil {
		return "", nil, fmt.Errorf("make data dir: %w", err)
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

func (d *dev) startNATS(dataDir string) (*natsembed.Server, error) {
	port := d.cfg.NATSPort
	if port > 0 && !natsembed.PortFree("127.0.0.1", port) {
		d.cfg.Logger.Warn().Int("port", port).Msg("NATS port is taken: using a free one")
		port = -1
	}
	ns, err := natsembed.Start(natsembed.Config{Port: port, StoreDir: filepath.Join(dataDir, "jetstream"), Logger: &d.cfg.Logger})
	if err != nil {
		return nil, err
	}
	d.natsURL = ns.URL()
	return ns, nil
}

func (d *dev) startRedis() (string, func(), error) {
	if d.cfg.RedisURL != "" {
		return d.cfg.RedisURL, func() {}, nil
	}
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return "", nil, fmt.Errorf("start in-memory Redis: %w", err)
	}
	d.cfg.Logger.Warn().Str("addr", m.Addr()).
		Msg("IN-MEMORY REDIS: jobs, queues and the server registry are lost when tinman dev stops; pass --redis-url to keep them")
	return "redis://" + m.Addr(), m.Close, nil
}

// startFleet starts the simulated BMCs and enrols them as sim-01..., then
// the virtual machines' BMCs, enrolled as vm-01...
func (d *dev) startFleet(ctx context.Context, dataDir string) error {
	installer := newSimInstaller(ctx, d.bootURL, d.backend.js, d.cfg.InstallerDelay, d.cfg.Logger.With().Str("component", "sim-installer").Logger())
	if err := d.makeVMs(dataDir); err != nil {
		return err
	}
	fleet, err := bmcsim.StartFleetFunc(d.cfg.Sims+d.cfg.VMs, func(i int) bmcsim.Config {
		return d.memberConfig(i, installer)
	})
	if err != nil {
		return errors.Join(fmt.Errorf("start simulated fleet: %w", err), d.closeVMs())
	}
	d.fleet = fleet
	list := make([]store.Enrolment, 0, len(fleet.BMCs()))
	for i, b := range fleet.BMCs() {
		user, pass := b.Credentials()
		list = append(list, store.Enrolment{Server: d.member(i, b), Credentials: jobs.Credentials{Username: user, Password: pass}})
	}
	if err := d.backend.store.PutServers(ctx, list); err != nil {
		d.stopFleet()
		return fmt.Errorf("enrol the simulated fleet: %w", err)
	}
	return nil
}

// stopFleet closes the BMCs, then powers the virtual machines off.
func (d *dev) stopFleet() {
	if err := errors.Join(d.fleet.Close(), d.closeVMs()); err != nil {
		d.cfg.Logger.Warn().Err(err).Msg("stopping the fleet")
	}
}

func (d *dev) receiveCallbacks(ctx context.Context) error {
	return d.callbacks.Run(ctx, d.backend.js)
}

// simControl listens for the fleet's fault knobs and returns what serves them.
func (d *dev) simControl() (func(context.Context) error, error) {
	names := make([]string, len(d.fleet.BMCs()))
	for i := range names {
		names[i] = d.memberID(i)
	}
	control, err := bmcsim.NewControl(d.fleet, names)
	if err != nil {
		return nil, err
	}
	addr := d.cfg.SimControlAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageErr("--sim-control-addr %s: %v", addr, err)
	}
	d.simControlURL = "http://" + ln.Addr().String()
	return func(ctx context.Context) error { return serveListener(ctx, ln, control, api.NewHealth(time.Second)) }, nil
}

func simID(i int) string { return fmt.Sprintf("sim-%02d", i+1) }

// simMAC is the NIC MAC of sim i: locally administered, 02:00:5e:de:<i>.
func simMAC(i int) string { return fmt.Sprintf("02:00:5e:de:%02x:%02x", (i+1)>>8&0xff, (i+1)&0xff) }

// serveAPI serves the whole API on ln (loopback by default), with one
// admin token that clients find in the context file.
func (d *dev) serveAPI(ln net.Listener) func(context.Context) error {
	return func(ctx context.Context) error {
		tokens := &api.Tokens{}
		tokens.AddPlain(api.RoleAdmin, d.token)
		console, err := ui.New()
		if err != nil {
			return err
		}
		cfg := api.Config{Tokens: tokens.Merge(d.cfg.Tokens), Callbacks: d.callbacks, Console: console}
		wh, err := d.backend.webhooks(&webhook.Config{GitHubSecret: []byte(d.webhookSecret),
			GenericSecret: []byte(d.webhookSecret), Rules: d.cfg.WebhookRules})
		if err != nil {
			return err
		}
		cfg.Webhooks = wh
		a, err := d.backend.api(cfg, 0, true)
		if err != nil {
			return err
		}
		defer a.Close()
		return a.Serve(ctx, ln)
	}
}

// consoleLink opens the web console signed in as admin. The token rides in
// the fragment, which a browser never sends: it reaches no request line and
// no log, and the page takes it off the address at once.
func (d *dev) consoleLink() string { return d.apiURL + ui.Prefix + "#token=" + d.token }

func (d *dev) banner(redisURL string) {
	out := d.cfg.Out
	fmt.Fprintf(out, "\nTinman dev is running.\n")
	fmt.Fprintf(out, "  NATS (JetStream)  %s\n", d.natsURL)
	fmt.Fprintf(out, "  Redis             %s\n", redisURL)
	fmt.Fprintf(out, "  HTTP API          %s  (/v1/..., /openapi.json, /metrics, /monitor/)\n", d.apiURL)
	fmt.Fprintf(out, "  API token (admin) in %s (\"token\"; the webhook secret is \"webhook_secret\")\n", d.cfg.ContextFile)
	fmt.Fprintf(out, "  Console           %s\n", d.consoleLink())
	fmt.Fprintf(out, "  Webhooks          %s/v1/webhooks/github: %s\n", d.apiURL, describeRules(d.cfg.WebhookRules))
	fmt.Fprintf(out, "  Boot service      %s  (iPXE: chain %s/boot/chain.ipxe; files of %s under /boot/files/)\n", d.bootURL, d.bootURL, d.cfg.Boot.ImagesDir)
	if d.demo != nil {
		fmt.Fprintf(out, "  Images            %s (tinman images list)\n", d.demo.Name)
	}
	if n := d.cfg.Sims; n > 0 {
		fmt.Fprintf(out, "  Simulated BMCs    %d Redfish BMCs, enrolled as %s..%s\n", n, simID(0), simID(n-1))
	}
	if n := d.cfg.VMs; n > 0 {
		fmt.Fprintf(out, "  Virtual machines  %d QEMU machines behind Redfish BMCs, enrolled as %s..%s; consoles in %s\n",
			n, vmID(0), vmID(n-1), filepath.Join(filepath.Dir(d.vms[0].Dir()), "<id>", "console.log"))
		if boot := vmBootFile(d.cfg.BootURL); boot != "" {
			fmt.Fprintf(out, "                    network boot: %s\n", boot)
		} else {
			fmt.Fprintf(out, "                    no boot service: a network boot finds nothing to boot\n")
		}
	}
	if n := len(d.fleet.BMCs()); n > 0 {
		fmt.Fprintf(out, "  BMC fault knobs   %s/sim/bmcs  (curl -X PATCH %s/sim/bmcs/%s/faults -d '{\"offline\":true}')\n",
			d.simControlURL, d.simControlURL, d.memberID(0))
	}
	fmt.Fprintf(out, "\nTry, in another terminal:\n")
	fmt.Fprintf(out, "  go run ./cmd/tinman publish power --server %s --action cycle --wait\n", d.memberID(min(2, max(d.cfg.Sims-1, 0))))
	if d.demo != nil && d.cfg.Sims+d.cfg.VMs > 0 {
		target := d.memberID(0)
		if d.cfg.VMs > 0 {
			target = vmID(0) // a real network install: about a minute
		}
		fmt.Fprintf(out, "  go run ./cmd/tinman publish provision --server %s --image %s --wait\n", target, d.demo.Name)
	}
	fmt.Fprintf(out, "  go run ./cmd/tinman watch --since 10m\n\nCtrl-C stops everything.\n\n")
}

// demoImage is the image `tinman dev` puts in its catalogue, from the files
// <images-dir>/tinman-demo/: vmlinuz, initrd.img, disk.img and, when there,
// installer.iso. Without --images-dir, with --vms, it is the real one that
// scripts/build-installer.sh builds (buildDemo, kept in the user's cache);
// with neither, small stand-ins in a temporary folder (the simulated
// installer checks only the disk image's SHA-256).
const demoImage = "tinman-demo"

// startBoot listens for the boot service, enrols the demo image and
// returns what serves the boot service, and what removes its temporary
// files folder.
func (d *dev) startBoot(ctx context.Context) (func(context.Context) error, func(), error) {
	bs := d.cfg.Boot
	stop := func() {}
	if bs.ImagesDir == "" && d.cfg.VMs > 0 {
		dir, err := demoImagesDir()
		if err == nil {
			err = buildDemo(ctx, dir, d.cfg.Out)
		}
		if err != nil {
			return nil, nil, err
		}
		bs.ImagesDir, d.cfg.Boot.ImagesDir = dir, dir
	}
	if bs.ImagesDir == "" {
		dir, err := os.MkdirTemp("", "tinman-dev-images-")
		if err != nil {
			return nil, nil, fmt.Errorf("make the images folder: %w", err)
		}
		stop = func() { _ = os.RemoveAll(dir) }
		if err := writeDemoFiles(filepath.Join(dir, demoImage)); err != nil {
			stop()
			return nil, nil, err
		}
		bs.ImagesDir, d.cfg.Boot.ImagesDir = dir, dir
	}
	if bs.settings == nil {
		bs.settings = newSettings(pflag.NewFlagSet("dev", pflag.ContinueOnError))
	}
	ln, url, err := bs.listenIfOn()
	if err == nil && ln == nil {
		err = usageErr("--boot-addr: tinman dev serves the boot service: give it an address")
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	d.bootURL, d.callbacks = url, d.backend.callbacks()
	serve, err := bs.service(d.backend, ln, http.HandlerFunc(d.callbacks.ServeCallback))
	if err == nil {
		err = d.enrolDemo(ctx, bs.ImagesDir)
	}
	if err != nil {
		_ = ln.Close()
		stop()
		return nil, nil, err
	}
	return serve, stop, nil
}

// writeDemoFiles writes the demo image's stand-in files in dir.
func writeDemoFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write the demo image: %w", err)
	}
	for name, text := range map[string]string{"vmlinuz": "kernel", "initrd.img": "initrd", "installer.iso": "ISO", "disk.img": "disk image"} {
		body := fmt.Sprintf("tinman-demo %s: a stand-in for the simulated fleet\n", text)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("write the demo image: %w", err)
		}
	}
	return nil
}

// enrolDemo puts the demo image of dir in the catalogue, replacing what a
// previous run left there (its disk image may have been built again); a
// folder with no tinman-demo/disk.img has no demo image.
func (d *dev) enrolDemo(ctx context.Context, dir string) error {
	sum, err := fileSHA256(filepath.Join(dir, demoImage, "disk.img"))
	if errors.Is(err, fs.ErrNotExist) {
		d.cfg.Logger.Warn().Str("images_dir", dir).Msg("no tinman-demo/disk.img in the images folder: no demo image")
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the demo image: %w", err)
	}
	img := jobs.Image{Name: demoImage, KernelURL: demoImage + "/vmlinuz", InitrdURL: demoImage + "/initrd.img",
		ImageURL: demoImage + "/disk.img", SHA256: sum}
	if _, err := os.Stat(filepath.Join(dir, demoImage, "installer.iso")); err == nil {
		img.ISOURL = demoImage + "/installer.iso"
	}
	st := d.backend.store
	if err := st.RemoveImage(ctx, demoImage); err != nil && jobs.CodeOf(err) != jobs.CodeNotFound {
		return err
	}
	if img, err = st.AddImage(ctx, img); err != nil {
		return fmt.Errorf("enrol the demo image: %w", err)
	}
	d.demo = &img
	return nil
}

// vmBootURL is the boot service's URL as a virtual machine under QEMU's
// user network reaches it: the host's loopback is 10.0.2.2 there.
func vmBootURL(bootURL string) string {
	u, err := url.Parse(bootURL)
	if err != nil || u.Port() == "" {
		return ""
	}
	u.Host = "10.0.2.2:" + u.Port()
	return u.String()
}
