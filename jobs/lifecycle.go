package jobs

import (
	"encoding/json"
	"slices"
	"time"
)

// Transitional reports whether a server in state s is in the middle of a job
// and must leave the state by a deadline.
func (s ServerState) Transitional() bool {
	return s == ServerInspecting || s == ServerProvisioning || s == ServerDeprovisioning
}

// Lifecycle moves of the contract: each job type that changes a server's
// state takes it from one of From to During while it runs, then to After
// (or to ServerError when it fails).
type Lifecycle struct {
	From   []ServerState
	During ServerState
	After  ServerState
}

// LifecycleOf returns the move a job of type t makes, if any.
func LifecycleOf(t Type) (Lifecycle, bool) {
	switch t {
	case Inspect:
		return Lifecycle{From: []ServerState{ServerEnrolled, ServerAvailable, ServerError}, During: ServerInspecting, After: ServerAvailable}, true
	case Provision:
		return Lifecycle{From: []ServerState{ServerAvailable, ServerActive}, During: ServerProvisioning, After: ServerActive}, true
	case Deprovision:
		return Lifecycle{From: []ServerState{ServerEnrolled, ServerActive, ServerError, ServerAvailable}, During: ServerDeprovisioning, After: ServerAvailable}, true
	}
	return Lifecycle{}, false
}

// Fits reports whether a server in state s can take the move.
func (l Lifecycle) Fits(s ServerState) bool { return slices.Contains(l.From, s) }

// StateDeadlines bounds each transitional state: a server found in one past
// its deadline with no live job is moved to error by the watchdog.
var StateDeadlines = map[ServerState]time.Duration{
	ServerInspecting:     30 * time.Minute,
	ServerProvisioning:   3 * time.Hour,
	ServerDeprovisioning: 3 * time.Hour,
}

// AllowedInMaintenance reports whether a request may run on a server in
// maintenance: only power status and inspect do.
func AllowedInMaintenance(t Type, params json.RawMessage) bool {
	if t == Inspect {
		return true
	}
	var p PowerParams
	return t == Power && json.Unmarshal(params, &p) == nil && p.Action == PowerStatus
}
