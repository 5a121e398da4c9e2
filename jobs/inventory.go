package jobs

import "time"

// Inventory is a server's hardware as its BMC reports it.
type Inventory struct {
	Vendor      string    `json:"vendor,omitempty"`
	Model       string    `json:"model,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	BIOSVersion string    `json:"bios_version,omitempty"`
	BMCFirmware string    `json:"bmc_firmware,omitempty"`
	CPUs        []CPU     `json:"cpus,omitempty"`
	Memory      []DIMM    `json:"memory,omitempty"`
	NICs        []NIC     `json:"nics,omitempty"`
	Drives      []Drive   `json:"drives,omitempty"`
	InspectedAt time.Time `json:"inspected_at"`
}

// CPU is one processor.
type CPU struct {
	Model   string `json:"model,omitempty"`
	Cores   int    `json:"cores,omitempty"`
	Threads int    `json:"threads,omitempty"`
}

// DIMM is one memory module.
type DIMM struct {
	Slot      string `json:"slot,omitempty"`
	SizeBytes int64  `json:"size_bytes,omitempty"`
}

// NIC is one network port.
type NIC struct {
	ID  string `json:"id,omitempty"`
	MAC string `json:"mac,omitempty"`
}

// Drive is one disk.
type Drive struct {
	Model         string `json:"model,omitempty"`
	Serial        string `json:"serial,omitempty"`
	CapacityBytes int64  `json:"capacity_bytes,omitempty"`
}

// FirstMAC returns the MAC of the first NIC that reports one, in
// ParseMAC's form; "" when none does.
func (inv Inventory) FirstMAC() string {
	for _, n := range inv.NICs {
		if mac, err := ParseMAC("", n.MAC); err == nil {
			return mac
		}
	}
	return ""
}

// VirtualMedia is a BMC's virtual CD as it reads back.
type VirtualMedia struct {
	Image    string `json:"image,omitempty"`
	Inserted bool   `json:"inserted"`
}

// InventorySummary is what an inspect job's event says of the inventory.
type InventorySummary struct {
	Vendor      string `json:"vendor,omitempty"`
	Model       string `json:"model,omitempty"`
	Serial      string `json:"serial,omitempty"`
	CPUs        int    `json:"cpus"`
	Cores       int    `json:"cores"`
	MemoryBytes int64  `json:"memory_bytes"`
	NICs        int    `json:"nics"`
	Drives      int    `json:"drives"`
}

// Summary counts the inventory's parts.
func (inv Inventory) Summary() InventorySummary {
	s := InventorySummary{Vendor: inv.Vendor, Model: inv.Model, Serial: inv.Serial,
		CPUs: len(inv.CPUs), NICs: len(inv.NICs), Drives: len(inv.Drives)}
	for _, c := range inv.CPUs {
		s.Cores += c.Cores
	}
	for _, m := range inv.Memory {
		s.MemoryBytes += m.SizeBytes
	}
	return s
}
