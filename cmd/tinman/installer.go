package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/boot"
	"github.com/tinmanhq/tinman/callback"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/store"
)

// simInstaller plays, for `tinman dev`, the machine behind a simulated BMC
// when it boots, through the real boot service:
//   - from the network (PXE) or the virtual CD (whose ISO chains iPXE to
//     the boot service), it asks GET /boot/ipxe?mac= for its script; an
//     install or wipe script names the metadata URL, which it reads; the
//     installer downloads the disk image, checks its SHA-256, "writes" it
//     (keeps the metadata, as a real one leaves it on the disk) and
//     reports installed, or failed with code checksum_mismatch (the shape
//     of scripts/installer/lib.sh); the wiper erases the disk
//     and reports wiped; an exit script boots the disk;
//   - from its disk, an OS the installer wrote reports booted, once, with
//     the image it holds.
//
// Reports go through JetStream (tinman.callbacks.<server>), whose ack means
// they are stored.
type simInstaller struct {
	ctx context.Context
	// boot is the boot service's URL.
	boot  string
	js    jetstream.JetStream
	delay time.Duration
	log   zerolog.Logger
	http  *http.Client

	mu sync.Mutex
	// disks holds what the installer wrote on each server's disk.
	disks map[string]*simDisk
}

// simDisk is an installed OS: the metadata of its install, and whether it
// has reported booted.
type simDisk struct {
	meta   boot.Metadata
	booted bool
}

func newSimInstaller(ctx context.Context, bootURL string, js jetstream.JetStream, delay time.Duration, log zerolog.Logger) *simInstaller {
	return &simInstaller{ctx: ctx, boot: strings.TrimRight(bootURL, "/"), js: js, delay: delay, log: log,
		http: &http.Client{Timeout: time.Minute}, disks: map[string]*simDisk{}}
}

// bootCommands are the Redfish resets after which the host runs its boot.
var bootCommands = []string{"On", "ForceOn", "PowerCycle", "ForceRestart", "GracefulRestart"}

// hook returns the simulated BMC's OnCommand for server, whose NIC has mac.
func (in *simInstaller) hook(server, mac string) func(bmcsim.Command) {
	return func(c bmcsim.Command) {
		if c.Op != bmcsim.OpPower || !slices.Contains(bootCommands, c.Value) ||
			c.Detail == bmcsim.DetailIgnored || strings.HasPrefix(c.Detail, "no-op") {
			return
		}
		fromNetwork := c.Boot == "Pxe" || c.Boot == "Cd"
		time.AfterFunc(in.delay, func() {
			if !fromNetwork || !in.netboot(server, mac) {
				in.diskBoot(server)
			}
		})
	}
}

// reportPatience bounds how long the installer tries each step (read the
// boot service, report), as a real one would retry until its own deadline.
const reportPatience = 2 * time.Minute

// netboot runs what the boot service gives the machine; it reports whether
// the machine ran an installer (false: it was told to boot its disk).
func (in *simInstaller) netboot(server, mac string) bool {
	log := in.log.With().Str("server", server).Logger()
	metaURL, err := in.script(mac)
	if err != nil {
		log.Warn().Err(err).Msg("simulated machine could not read its boot script: it boots its disk")
		return false
	}
	if metaURL == "" {
		return false
	}
	var meta boot.Metadata
	if err := in.patiently(func(ctx context.Context) error { return in.getJSON(ctx, metaURL, &meta) }); err != nil {
		log.Warn().Err(err).Msg("simulated installer could not read its metadata")
		return true
	}
	switch meta.Purpose {
	case "install":
		in.install(meta)
	case "wipe":
		in.mu.Lock()
		delete(in.disks, meta.Server)
		in.mu.Unlock()
		in.report(meta, callback.Report{Event: store.CallbackWiped})
	}
	return true
}

// script asks the boot service for the machine's script and returns the
// metadata URL of an installer script, or "" for an exit script; a retry
// script is followed.
func (in *simInstaller) script(mac string) (string, error) {
	var metaURL string
	err := in.patiently(func(ctx context.Context) error {
		text, err := in.get(ctx, in.boot+"/boot/ipxe?mac="+url.QueryEscape(mac))
		if err != nil {
			return err
		}
		switch {
		case strings.Contains(text, "\nkernel "):
			metaURL = kernelArg(text, "tinman.meta")
			if metaURL == "" {
				return permanent{errors.New("an install script with no tinman.meta")}
			}
		case !strings.Contains(text, "\nexit"):
			return errors.New("the boot service asks to try again")
		}
		return nil
	})
	return metaURL, err
}

// kernelArg returns the value of key=value on the kernel line of script.
func kernelArg(script, key string) string {
	sc := bufio.NewScanner(strings.NewReader(script))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "kernel" {
			continue
		}
		for _, f := range fields[1:] {
			if v, ok := strings.CutPrefix(f, key+"="); ok {
				return v
			}
		}
	}
	return ""
}

// install downloads the disk image and checks it against its SHA-256
// before it "writes" it: a mismatch writes nothing and is reported.
func (in *simInstaller) install(meta boot.Metadata) {
	var sum string
	err := in.patiently(func(ctx context.Context) (err error) {
		sum, err = in.sha256(ctx, meta.ImageURL)
		return err
	})
	switch {
	case err != nil:
		in.report(meta, callback.Report{Event: store.CallbackFailed, Code: "download_failed", Message: "download " + meta.ImageURL + ": " + err.Error()})
	case sum != meta.SHA256:
		in.report(meta, callback.Report{Event: store.CallbackFailed, Code: store.CallbackChecksumMismatch,
			Message: fmt.Sprintf("the SHA-256 of %s is %s, the catalogue's %s: nothing written", meta.ImageURL, sum, meta.SHA256)})
	default:
		in.mu.Lock()
		in.disks[meta.Server] = &simDisk{meta: meta}
		in.mu.Unlock()
		in.report(meta, callback.Report{Event: store.CallbackInstalled})
	}
}

// diskBoot boots the OS on the server's disk, which reports booted the
// first time it runs.
func (in *simInstaller) diskBoot(server string) {
	in.mu.Lock()
	d := in.disks[server]
	first := d != nil && !d.booted
	if first {
		d.booted = true
	}
	in.mu.Unlock()
	if first {
		in.report(d.meta, callback.Report{Event: store.CallbackBooted, Image: d.meta.Image})
	}
}

// patiently runs try, 1 s apart, until it succeeds, fails for good, or
// reportPatience has passed.
func (in *simInstaller) patiently(try func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(in.ctx, reportPatience)
	defer cancel()
	for {
		err := try(ctx)
		if err == nil || errors.As(err, new(permanent)) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

// permanent marks an error that trying again cannot mend.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// get reads a URL's body as text; an answer other than 200 is an error.
func (in *simInstaller) get(ctx context.Context, u string) (string, error) {
	var b strings.Builder
	err := in.fetch(ctx, u, func(r io.Reader) error { _, err := io.Copy(&b, io.LimitReader(r, 1<<20)); return err })
	return b.String(), err
}

func (in *simInstaller) getJSON(ctx context.Context, u string, v any) error {
	return in.fetch(ctx, u, func(r io.Reader) error { return json.NewDecoder(r).Decode(v) })
}

// sha256 downloads u and returns its SHA-256.
func (in *simInstaller) sha256(ctx context.Context, u string) (string, error) {
	h := sha256.New()
	if err := in.fetch(ctx, u, func(r io.Reader) error { _, err := io.Copy(h, r); return err }); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fetch GETs u and hands a 200 answer's body to read.
func (in *simInstaller) fetch(ctx context.Context, u string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return permanent{err}
	}
	resp, err := in.http.Do(req)
	if err != nil {
		if ue := new(url.Error); errors.As(err, &ue) {
			ue.URL = redactToken(ue.URL) // the error is logged: no token in it
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", redactToken(u), resp.Status)
	}
	return read(resp.Body)
}

// redactToken hides the token of a metadata URL, for logs.
func redactToken(u string) string {
	if i := strings.Index(u, "/boot/meta/"); i >= 0 {
		return u[:i] + "/boot/meta/<token>"
	}
	return u
}

// report sends the callback through JetStream, whose ack means it is
// stored: a NATS restart between the report and its receipt loses nothing.
func (in *simInstaller) report(meta boot.Metadata, rep callback.Report) {
	rep.JobID, rep.Token = meta.JobID, meta.Token
	body, _ := json.Marshal(rep)
	log := in.log.With().Str("server", meta.Server).Str("job_id", meta.JobID).Str("event", rep.Event).Logger()
	err := in.patiently(func(ctx context.Context) error {
		try, stop := context.WithTimeout(ctx, 5*time.Second)
		defer stop()
		_, err := in.js.Publish(try, events.CallbackPrefix+meta.Server, body)
		return err
	})
	if err != nil {
		log.Warn().Err(err).Msg("simulated installer could not report")
		return
	}
	log.Info().Msg("simulated installer reported")
}
