package bmc

import (
	"context"
	"time"

	"github.com/bmc-toolbox/common"

	"github.com/tinmanhq/tinman/jobs"
)

// Inventory reads the server's hardware inventory.
func (s *Session) Inventory(ctx context.Context) (jobs.Inventory, error) {
	var dev *common.Device
	err := s.call(ctx, "read inventory", func(ctx context.Context) (err error) {
		dev, err = s.client.Inventory(ctx)
		return err
	})
	if err != nil {
		return jobs.Inventory{}, err
	}
	return inventoryOf(dev), nil
}

func inventoryOf(d *common.Device) jobs.Inventory {
	inv := jobs.Inventory{Vendor: d.Vendor, Model: d.Model, Serial: d.Serial, InspectedAt: time.Now().UTC()}
	if d.BIOS != nil && d.BIOS.Firmware != nil {
		inv.BIOSVersion = d.BIOS.Firmware.Installed
	}
	if d.BMC != nil && d.BMC.Firmware != nil {
		inv.BMCFirmware = d.BMC.Firmware.Installed
	}
	for _, c := range d.CPUs {
		inv.CPUs = append(inv.CPUs, jobs.CPU{Model: c.Model, Cores: c.Cores, Threads: c.Threads})
	}
	for _, m := range d.Memory {
		inv.Memory = append(inv.Memory, jobs.DIMM{Slot: m.Slot, SizeBytes: m.SizeBytes})
	}
	for _, n := range d.NICs {
		for _, p := range n.NICPorts {
			inv.NICs = append(inv.NICs, jobs.NIC{ID: p.ID, MAC: p.MacAddress})
		}
	}
	for _, dr := range d.Drives {
		inv.Drives = append(inv.Drives, jobs.Drive{Model: dr.Model, Serial: dr.Serial, CapacityBytes: dr.CapacityBytes})
	}
	return inv
}
