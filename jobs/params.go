package jobs

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
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
	// HardFallback, with action soft, forces the power off when the graceful
	// shutdown has not taken the server off by the power verify deadline.
	HardFallback bool `json:"hard_fallback,omitempty"`
}

// Validate implements Params.
func (p *PowerParams) Validate() error {
	if err := oneOf("params.action", p.Action, PowerActions()); err != nil {
		return err
	}
	if p.HardFallback && p.Action != PowerSoft {
		return Invalid("params.action", "must be soft") // hard_fallback is only for a soft off
	}
	return nil
}

// UnmarshalJSON decodes p as Request.DecodeParams does.
func (p *PowerParams) UnmarshalJSON(data []byte) error { return decodeParams(data, p) }

func (p *PowerParams) members() []member {
	return []member{{"action", text(&p.Action)}, {"hard_fallback", boolean(&p.HardFallback)}}
}

// BootDeviceName names a boot device.
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

// UnmarshalJSON decodes p as Request.DecodeParams does.
func (p *BootDeviceParams) UnmarshalJSON(data []byte) error { return decodeParams(data, p) }

func (p *BootDeviceParams) members() []member {
	return []member{{"device", text(&p.Device)}, {"persistent", boolean(&p.Persistent)}, {"efi", boolean(&p.EFI)}}
}

// NoParams are the params of a job that takes none.
type NoParams struct{}

// Validate implements Params.
func (*NoParams) Validate() error { return nil }

// UnmarshalJSON decodes p as Request.DecodeParams does: only {} is allowed.
func (p *NoParams) UnmarshalJSON(data []byte) error { return decodeParams(data, p) }

func (*NoParams) members() []member { return nil }

func (*NoParams) optional() {}

// ProvisionParams are the params of a provision job.
type ProvisionParams struct {
	// Image names a catalogue image.
	Image string `json:"image"`
	// Boot is how the server boots into the installer (default pxe).
	Boot BootMethod `json:"boot,omitempty"`
}

// Validate implements Params.
func (p *ProvisionParams) Validate() error {
	if err := validImage("params.image", p.Image); err != nil {
		return err
	}
	if p.Boot != "" {
		return oneOf("params.boot", p.Boot, BootMethods())
	}
	return nil
}

// UnmarshalJSON decodes p as Request.DecodeParams does.
func (p *ProvisionParams) UnmarshalJSON(data []byte) error { return decodeParams(data, p) }

func (p *ProvisionParams) members() []member {
	return []member{{"image", text(&p.Image)}, {"boot", text(&p.Boot)}}
}

// DeprovisionParams are the params of a deprovision job, all optional.
type DeprovisionParams struct {
	// Image names the catalogue image whose kernel and initrd boot the
	// wiper; by default the worker's installer image, else the image the
	// server was last provisioned with.
	Image string `json:"image,omitempty"`
}

// Validate implements Params.
func (p *DeprovisionParams) Validate() error {
	if p.Image == "" {
		return nil
	}
	return validImage("params.image", p.Image)
}

// UnmarshalJSON decodes p as Request.DecodeParams does.
func (p *DeprovisionParams) UnmarshalJSON(data []byte) error { return decodeParams(data, p) }

func (p *DeprovisionParams) members() []member {
	return []member{{"image", text(&p.Image)}}
}

func (*DeprovisionParams) optional() {}

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

// UnmarshalJSON decodes p as Request.DecodeParams does.
func (p *BMCResetParams) UnmarshalJSON(data []byte) error { return decodeParams(data, p) }

func (p *BMCResetParams) members() []member {
	return []member{{"kind", text(&p.Kind)}}
}

// DeployParams are the params of a rolling deploy. Exactly one of Selector
// and Servers is given (not nil), and it is not empty.
type DeployParams struct {
	Image    string            `json:"image"`
	Selector map[string]string `json:"selector,omitempty"`
	Servers  []string          `json:"servers,omitempty"`
	// BatchSize is the number of servers per batch, 1 or more; nil when not
	// given, to leave it to the deploy. Its upper bound is the deployment's
	// (the dispatcher's MaxBatchSize), checked at admission.
	BatchSize *int `json:"batch_size,omitempty"`
	// MaxFailures is the number of failed servers tolerated before the
	// deploy halts, 0 or more.
	MaxFailures int `json:"max_failures,omitempty"`
	// Boot is how each server boots into the installer (default pxe),
	// passed to each provision.
	Boot BootMethod `json:"boot,omitempty"`
}

// Validate implements Params.
func (p *DeployParams) Validate() error {
	if err := validImage("params.image", p.Image); err != nil {
		return err
	}
	if err := p.validateTargets(); err != nil {
		return err
	}
	switch {
	case p.BatchSize != nil && *p.BatchSize < 1:
		return Invalid("params.batch_size", "must be at least 1")
	case p.MaxFailures < 0:
		return Invalid("params.max_failures", "must be at least 0")
	case p.Boot != "":
		return oneOf("params.boot", p.Boot, BootMethods())
	}
	return nil
}

func (p *DeployParams) validateTargets() error {
	switch {
	case p.Selector != nil && p.Servers != nil:
		return Invalid("params.selector", "only one of selector and servers may be given")
	case p.Selector == nil && p.Servers == nil:
		return Invalid("params.selector", "exactly one of selector and servers is required")
	case p.Selector != nil && len(p.Selector) == 0:
		return Invalid("params.selector", "must not be empty")
	case p.Servers != nil && len(p.Servers) == 0:
		return Invalid("params.servers", "must not be empty")
	}
	seen := make(map[string]int, len(p.Servers))
	for i, s := range p.Servers {
		if !ValidServerID(s) {
			return Invalid(fmt.Sprintf("params.servers[%d]", i), "must match "+serverIDPattern.String())
		}
		if j, dup := seen[s]; dup {
			return Invalid(fmt.Sprintf("params.servers[%d]", i), fmt.Sprintf("%s is params.servers[%d] already: each server once", s, j))
		}
		seen[s] = i
	}
	return nil
}

// UnmarshalJSON decodes p as Request.DecodeParams does. Like the schema, it
// takes an integer however it is spelt (2, 2.0, 0.2e1), which encoding/json
// would refuse for an int.
func (p *DeployParams) UnmarshalJSON(data []byte) error { return decodeParams(data, p) }

func (p *DeployParams) members() []member {
	return []member{
		{"image", text(&p.Image)},
		{"selector", stringMap(&p.Selector)},
		{"servers", stringList(&p.Servers)},
		{"batch_size", optionalInteger(&p.BatchSize)},
		{"max_failures", integer(&p.MaxFailures)},
		{"boot", text(&p.Boot)},
	}
}

// validImage checks an image name: given, not blank, at most 256 characters.
func validImage(field, image string) error {
	switch {
	case image == "":
		return Invalid(field, "is required")
	case strings.TrimSpace(image) == "":
		return Invalid(field, "must not be blank")
	case utf8.RuneCountInString(image) > 256:
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
