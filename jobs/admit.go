package jobs

import (
	"fmt"
	"slices"
)

// Admit decides whether server srv can take request req, by the rules every
// edge applies (the API before it publishes, the dispatcher before it
// queues): the server is enrolled (srv is nil when it is not), it is not in
// maintenance (power status and inspect still run), its provider can do the
// job, and a job that moves the server through its lifecycle finds it in a
// state it may start from (or already its own, when a request comes again).
// It returns nil, or a coded Error naming the field at fault. Claiming the
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
	if lc, ok := LifecycleOf(req.Type); ok && !slices.Contains(lc.From, srv.State) && (srv.State != lc.During || srv.Job != req.ID) {
		return &Error{Code: CodeConflict, Field: "server",
			Message: fmt.Sprintf("server %s is %s: %s needs it %s", srv.ID, srv.State, req.Type, JoinStates(lc.From))}
	}
	return nil
}

// Supports reports whether servers reached over p can run jobs of type t.
// bmclib's ipmitool provider reads no inventory, so IPMI servers cannot be
// inspected.
func (p Provider) Supports(t Type) bool {
	return !(p == ProviderIPMI && t == Inspect)
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
