package jobs

import (
	"fmt"
	"slices"
	"strings"
)

// PowerAction is what a power job does.
type PowerAction string

// The power actions of the contract.
const (
	PowerOn     PowerAction = "on"
	PowerOff    PowerAction = "off"
	PowerSoft   PowerAction = "soft"
	PowerCycle  PowerAction = "cycle"
	PowerReset  PowerAction = "reset"
	PowerStatus PowerAction = "status"
)

// PowerActions lists every power action.
func PowerActions() []PowerAction {
	return []PowerAction{PowerOn, PowerOff, PowerSoft, PowerCycle, PowerReset, PowerStatus}
}

// PowerParams are the params of a power job.
type PowerParams struct {
	Action PowerAction `json:"action"`
}

// Validate implements Params.
func (p *PowerParams) Validate() error {
	return oneOf("params.action", p.Action, PowerActions())
}

// BootDevice names a boot device.
type BootDeviceName string

// The boot devices of the contract.
const (
	BootPXE   BootDeviceName = "pxe"
	BootDisk  BootDeviceName = "disk"
	BootCDROM BootDeviceName = "cdrom"
	BootBIOS  BootDeviceName = "bios"
)

// BootDevices lists every boot device.
func BootDevices() []BootDeviceName {
	return []BootDeviceName{BootPXE, BootDisk, BootCDROM, BootBIOS}
}

// BootDeviceParams are the params of a boot-device job.
type BootDeviceParams struct {
	Device     BootDeviceName `json:"device"`
	Persistent bool           `json:"persistent,omitempty"`
	EFI        bool           `json:"efi,omitempty"`
}

// Validate implements Params.
func (p *BootDeviceParams) Validate() error {
	return oneOf("params.device", p.Device, BootDevices())
}

// NoParams are the params of a job that takes none.
type NoParams struct{}

// Validate implements Params.
func (*NoParams) Validate() error { return nil }

// ProvisionParams are the params of a provision job.
type ProvisionParams struct {
	Image string `json:"image"`
}

// Validate implements Params.
func (p *ProvisionParams) Validate() error {
	return validImage("params.image", p.Image)
}

// BMCResetKind is a kind of BMC reset.
type BMCResetKind string

// The BMC reset kinds.
const (
	BMCResetWarm BMCResetKind = "warm"
	BMCResetCold BMCResetKind = "cold"
)

// BMCResetParams are the params of a bmc-reset job.
type BMCResetParams struct {
	Kind BMCResetKind `json:"kind"`
}

// Validate implements Params.
func (p *BMCResetParams) Validate() error {
	return oneOf("params.kind", p.Kind, []BMCResetKind{BMCResetWarm, BMCResetCold})
}

// DeployParams are the params of a rolling deploy.
type DeployParams struct {
	Image       string            `json:"image"`
	Selector    map[string]string `json:"selector,omitempty"`
	Servers     []string          `json:"servers,omitempty"`
	BatchSize   int               `json:"batch_size,omitempty"`
	MaxFailures int               `json:"max_failures,omitempty"`
}

// Validate implements Params.
func (p *DeployParams) Validate() error {
	if err := validImage("params.image", p.Image); err != nil {
		return err
	}
	if (len(p.Selector) == 0) == (len(p.Servers) == 0) {
		return Invalid("params.selector", "exactly one of selector and servers is required")
	}
	for i, s := range p.Servers {
		if !ValidServerID(s) {
			return Invalid(fmt.Sprintf("params.servers[%d]", i), "must match ^[a-z0-9][a-z0-9-]{0,62}$")
		}
	}
	if p.BatchSize < 0 || p.BatchSize > 1000 {
		return Invalid("params.batch_size", "must be between 1 and 1000")
	}
	if p.MaxFailures < 0 {
		return Invalid("params.max_failures", "must be at least 0")
	}
	return nil
}

func validImage(field, image string) error {
	if strings.TrimSpace(image) == "" {
		return Invalid(field, "is required")
	}
	if len(image) > 256 {
		return Invalid(field, "must be at most 256 characters")
	}
	return nil
}

func oneOf[T ~string](field string, v T, allowed []T) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	if v == "" {
		return Invalid(field, "is required: one of "+strings.Join(names, ", "))
	}
	return Invalid(field, "must be one of "+strings.Join(names, ", "))
}
