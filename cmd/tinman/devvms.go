package main

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/bmc/qemu"
	"github.com/tinmanhq/tinman/jobs"
)

// maxVMs caps --vms: each virtual machine is a QEMU process that emulates
// its CPU (TCG), about a core while it boots.
const maxVMs = 4

// vmID names dev's virtual machine i (vm-01 is the first).
func vmID(i int) string { return fmt.Sprintf("vm-%02d", i+1) }

// checkVMs refuses a --vms this machine cannot run, before anything starts.
func checkVMs(n int) error {
	if n < 0 || n > maxVMs {
		return usageErr("--vms %d: must be between 0 and %d", n, maxVMs)
	}
	if n == 0 {
		return nil
	}
	if _, err := exec.LookPath(qemu.Binary); err != nil {
		return usageErr("--vms %d: %v", n, qemu.ErrNoQEMU)
	}
	return nil
}

// vmBootFile is the DHCP boot file of dev's virtual machines: the boot
// service's chain script under its public URL as a virtual machine reaches
// the host ("http://10.0.2.2:<port>"). Without a boot service it is empty,
// and a network boot finds nothing to boot.
func vmBootFile(bootURL string) string {
	if bootURL == "" {
		return ""
	}
	return strings.TrimSuffix(bootURL, "/") + "/boot/chain.ipxe"
}

// makeVMs makes dev's virtual machines, powered off, each in
// <data dir>/vms/<id> (kept with --data-dir: disk, MAC, console).
func (d *dev) makeVMs(dataDir string) error {
	for i := range d.cfg.VMs {
		m, err := qemu.New(qemu.Config{Name: vmID(i), Dir: filepath.Join(dataDir, "vms", vmID(i)),
			BootFile: vmBootFile(d.cfg.BootURL), Logger: d.cfg.Logger})
		if err != nil {
			return errors.Join(fmt.Errorf("make %s: %w", vmID(i), err), d.closeVMs())
		}
		d.vms = append(d.vms, m)
	}
	return nil
}

// closeVMs powers dev's virtual machines off.
func (d *dev) closeVMs() error {
	var errs []error
	for _, m := range d.vms {
		errs = append(errs, m.Close())
	}
	return errors.Join(errs...)
}

// memberConfig is the BMC of fleet member i: a simulated BMC whose host the
// simulated installer plays, then one per virtual machine.
func (d *dev) memberConfig(i int, installer *simInstaller) bmcsim.Config {
	cfg := bmcsim.Config{Logger: d.cfg.Logger, Password: d.cfg.SimPassword}
	if i < d.cfg.Sims {
		cfg.OnCommand = installer.hook(simID(i), simMAC(i))
		cfg.Identity.MACAddress = simMAC(i)
		return cfg
	}
	m := d.vms[i-d.cfg.Sims]
	cfg.Host, cfg.Identity.MACAddress = m, strings.ToUpper(m.MAC())
	return cfg
}

// memberID is the server id of fleet member i.
func (d *dev) memberID(i int) string {
	if i < d.cfg.Sims {
		return simID(i)
	}
	return vmID(i - d.cfg.Sims)
}

// member is the server record fleet member i is enrolled with.
func (d *dev) member(i int, b *bmcsim.BMC) jobs.Server {
	srv := jobs.Server{
		ID:         d.memberID(i),
		BMC:        jobs.BMC{Address: b.Addr(), Provider: jobs.ProviderRedfish},
		Labels:     map[string]string{"fleet": "sim", "rack": fmt.Sprintf("r%d", i/4+1)},
		State:      jobs.ServerAvailable,
		PowerState: jobs.PowerStateOff,
	}
	if i < d.cfg.Sims {
		srv.BootMAC = simMAC(i)
	} else {
		// The boot service knows a machine by its NIC's MAC.
		srv.Labels = map[string]string{"fleet": "vm"}
		srv.BootMAC = strings.ToLower(d.vms[i-d.cfg.Sims].MAC())
	}
	if b.PowerState() == bmcsim.PowerOn {
		srv.PowerState = jobs.PowerStateOn
	}
	return srv
}
