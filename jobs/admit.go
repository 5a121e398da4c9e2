package jobs

import (
	"context"
	"fmt"
	"slices"
)

// Admit decides whether server srv can take request req, by the rules every
// edge applies (the API before it publishes, the dispatcher before it
// queues): the server is enrolled (srv is nil when it is not), it is not in
// maintenance (power status and inspect still run), its provider can do the
// job, and a job that moves the server through its lifecycle finds it in a
// state it may start from (or already its own, when a request comes again).
// A job that boots the server into an installer needs its boot MAC. It
// returns nil, or a coded Error naming the field at fault. Claiming the
// lifecycle state is the dispatcher's, with a compare-and-set: Admit only
// reads.
func Admit(req Request, srv *Server) *Error {
	if !req.Type.TargetsServer() {
		return nil
	}
	if srv == nil {
		return &Error{Code: CodeNotFound, Field: "server", Message: fmt.Sprintf("server %s is not enrolled", req.Server)}
	}
	if srv.Maintenance != nil && !AllowedInMaintenance(req.Type, req.Params) {
		return &Error{Code: CodeConflict, Field: "server",
			Message: fmt.Sprintf("server %s is in maintenance (%s): only power status and inspect jobs run", srv.ID, srv.Maintenance.Reason)}
	}
	if !srv.BMC.Provider.Supports(req.Type) {
		return &Error{Code: CodeUnsupportedOperation, Field: "type",
			Message: fmt.Sprintf("server %s is reached over %s, which cannot run %s jobs", srv.ID, srv.BMC.Provider, req.Type)}
	}
	if boot := bootMethodOf(req); !srv.BMC.Provider.CanBoot(boot) {
		return &Error{Code: CodeUnsupportedOperation, Field: "params.boot",
			Message: fmt.Sprintf("server %s is reached over %s, which has no virtual media: use --boot pxe", srv.ID, srv.BMC.Provider)}
	}
	if lc, ok := LifecycleOf(req.Type); ok && !slices.Contains(lc.From, srv.State) && (srv.State != lc.During || srv.Job != req.ID) {
		return &Error{Code: CodeConflict, Field: "server",
			Message: fmt.Sprintf("server %s is %s: %s needs it %s", srv.ID, srv.State, req.Type, JoinStates(lc.From))}
	}
	if BootsInstaller(req.Type) && srv.BootMAC == "" {
		return &Error{Code: CodeConflict, Field: "server",
			Message: fmt.Sprintf("server %s has no boot_mac, which the boot service knows it by: set it (servers update --boot-mac) or inspect it", srv.ID)}
	}
	return nil
}

// AdmitImage decides whether the catalogue image a request names can serve
// it: img is the catalogue's entry for req.ImageName(), nil when there is
// none. A request that names no image is admitted.
func AdmitImage(req Request, img *Image) *Error {
	name := req.ImageName()
	switch {
	case name == "":
		return nil
	case img == nil:
		return &Error{Code: CodeNotFound, Field: "params.image",
			Message: fmt.Sprintf("image %s is not in the catalogue (tinman images list)", name)}
	case bootMethodOf(req) == BootVirtualMedia && img.ISOURL == "":
		return &Error{Code: CodeInvalidRequest, Field: "params.boot",
			Message: fmt.Sprintf("image %s has no iso_url: it cannot boot from virtual media", name)}
	}
	return nil
}

// AdmitImageFrom is AdmitImage with the image found by find (which
// answers a not_found Error for a name the catalogue lacks). A refusal is
// an *Error; any other error is find's, and says nothing of the request.
func AdmitImageFrom(ctx context.Context, req Request, find func(context.Context, string) (Image, error)) error {
	name := req.ImageName()
	if name == "" {
		return nil
	}
	var found *Image
	img, err := find(ctx, name)
	switch {
	case err == nil:
		found = &img
	case CodeOf(err) != CodeNotFound:
		return fmt.Errorf("read image %s: %w", name, err)
	}
	if refused := AdmitImage(req, found); refused != nil {
		return refused
	}
	return nil
}

// ImageName returns the catalogue image a request names: a provision's or a
// deploy's image, a deprovision's when it gives one; "" for none (or for
// params that do not decode: Validate says why).
func (r Request) ImageName() string {
	p, err := r.DecodeParams()
	if err != nil {
		return ""
	}
	switch p := p.(type) {
	case *ProvisionParams:
		return p.Image
	case *DeployParams:
		return p.Image
	case *DeprovisionParams:
		return p.Image
	}
	return ""
}

// bootMethodOf is how a request boots its servers: a provision's or a
// deploy's boot (its provisions'), pxe for every other job that boots an
// installer, "" for the rest.
func bootMethodOf(r Request) BootMethod {
	if !BootsInstaller(r.Type) && r.Type != Deploy {
		return ""
	}
	p, err := r.DecodeParams()
	if err != nil {
		return BootNetwork
	}
	switch p := p.(type) {
	case *ProvisionParams:
		return p.Boot.OrDefault()
	case *DeployParams:
		return p.Boot.OrDefault()
	}
	return BootNetwork
}

// BootsInstaller reports whether a job of type t boots its server into an
// installer (or wiper) through the boot service.
func BootsInstaller(t Type) bool { return t == Provision || t == Deprovision }

// Supports reports whether servers reached over p can run jobs of type t.
// bmclib's ipmitool provider reads no inventory, so IPMI servers cannot be
// inspected.
func (p Provider) Supports(t Type) bool {
	return !(p == ProviderIPMI && t == Inspect)
}

// CanBoot reports whether servers reached over p can boot by method m ("":
// no boot asked). Virtual media is Redfish's: IPMI has none bmclib drives.
func (p Provider) CanBoot(m BootMethod) bool {
	return !(p == ProviderIPMI && m == BootVirtualMedia)
}

// JoinStates words a list of states: "available or active".
func JoinStates(states []ServerState) string {
	out := ""
	for i, st := range states {
		if i > 0 {
			out += " or "
		}
		out += string(st)
	}
	return out
}
