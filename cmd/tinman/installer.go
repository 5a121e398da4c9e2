package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/callback"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/store"
)

// simInstaller plays, for `tinman dev`, the OS installer and the wiper that a
// real network boot would start: when a simulated server boots from PXE it
// reads the boot configuration Tinman left for it and, after a delay,
// reports "installed" or "wiped" on tinman.callbacks.<server> with the job's
// token; when it then boots from disk after an install, it reports "booted".
type simInstaller struct {
	ctx   context.Context
	store *store.Store
	js    jetstream.JetStream
	delay time.Duration
	log   zerolog.Logger
}

// bootCommands are the Redfish resets after which the host runs its boot.
var bootCommands = []string{"On", "ForceOn", "PowerCycle", "ForceRestart", "GracefulRestart"}

// hook returns the simulated BMC's OnCommand for server.
func (in *simInstaller) hook(server string) func(bmcsim.Command) {
	return func(c bmcsim.Command) {
		if c.Op != bmcsim.OpPower || !slices.Contains(bootCommands, c.Value) ||
			c.Detail == bmcsim.DetailIgnored || strings.HasPrefix(c.Detail, "no-op") {
			return
		}
		cfg, err := in.store.BootConfig(in.ctx, server)
		if err != nil {
			return // nothing was asked of this boot
		}
		event := in.outcome(cfg, c.Boot == "Pxe")
		if event == "" {
			return
		}
		time.AfterFunc(in.delay, func() { in.report(server, cfg, event) })
	}
}

// outcome is what the boot of a machine with cfg reports, if anything.
func (in *simInstaller) outcome(cfg store.BootConfig, pxe bool) string {
	switch {
	case pxe && cfg.Purpose == "install":
		return store.CallbackInstalled
	case pxe && cfg.Purpose == "wipe":
		return store.CallbackWiped
	case !pxe && cfg.Purpose == "install":
		if done, _ := in.store.CallbackReceived(in.ctx, cfg.JobID, store.CallbackInstalled); done {
			return store.CallbackBooted
		}
	}
	return ""
}

// reportPatience bounds how long the installer tries to report, as a real
// one would retry until its own deadline.
const reportPatience = 2 * time.Minute

// report sends the callback through JetStream, whose ack means it is
// stored: a NATS restart between the report and its receipt loses nothing.
// A failed try is retried, 1 s apart, for reportPatience.
func (in *simInstaller) report(server string, cfg store.BootConfig, event string) {
	body, _ := json.Marshal(callback.Report{JobID: cfg.JobID, Token: cfg.Token, Event: event})
	log := in.log.With().Str("server", server).Str("job_id", cfg.JobID).Str("event", event).Logger()
	ctx, cancel := context.WithTimeout(in.ctx, reportPatience)
	defer cancel()
	for {
		try, stop := context.WithTimeout(ctx, 5*time.Second)
		_, err := in.js.Publish(try, events.CallbackPrefix+server, body)
		stop()
		if err == nil {
			log.Info().Msg("simulated installer reported")
			return
		}
		select {
		case <-ctx.Done():
			log.Warn().Err(err).Msg("simulated installer could not report")
			return
		case <-time.After(time.Second):
		}
	}
}
