package workers

import (
	"context"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// The BMC ports, one per capability, bmclib's style: a session offers what
// its provider can do, and each handler asks only for what it uses. A call
// to a capability the session lacks fails with unsupported_operation; the
// admission (jobs.Provider.Supports) refuses such jobs before they queue.

// Session is an open connection to a server's BMC.
type Session interface {
	// Provider names the driver that answered, for events.
	Provider() string
	Close(ctx context.Context) error
}

// PowerControl reads and sets the host's power.
type PowerControl interface {
	PowerState(ctx context.Context) (jobs.PowerState, error)
	SetPower(ctx context.Context, action jobs.PowerAction) error
}

// BootControl sets the boot override.
type BootControl interface {
	SetBootDevice(ctx context.Context, p jobs.BootDeviceParams) error
}

// BootReader reads the boot override back (bmclib can over Redfish, not
// over IPMI).
type BootReader interface {
	BootOverride(ctx context.Context) (jobs.BootDeviceParams, error)
}

// InventoryReader reads the hardware inventory.
type InventoryReader interface {
	Inventory(ctx context.Context) (jobs.Inventory, error)
}

// BMCResetter resets the BMC itself.
type BMCResetter interface {
	ResetBMC(ctx context.Context, kind jobs.BMCResetKind) error
}

// MediaControl inserts and ejects an ISO in the BMC's virtual CD and reads
// the drive back (Redfish; IPMI has none).
type MediaControl interface {
	InsertMedia(ctx context.Context, url string) error
	EjectMedia(ctx context.Context) error
	VirtualMedia(ctx context.Context) (jobs.VirtualMedia, error)
}

// Connector opens a BMC session for a server.
type Connector func(ctx context.Context, srv jobs.Server, creds jobs.Credentials) (Session, error)

// The store ports, one per kind of record the workers keep; the Worker holds
// each separately, and each part of it uses only the ones it needs.

// JobRecords is the job records, their events (through the outbox) and
// their cancel flags.
type JobRecords interface {
	Job(ctx context.Context, id string) (jobs.Job, error)
	Record(ctx context.Context, job *jobs.Job, t events.Type, d events.Detail) (events.Event, error)
	RecordAndRelease(ctx context.Context, job *jobs.Job, t events.Type, d events.Detail, lease store.Lease) (events.Event, error)
	Flush(ctx context.Context, jobID string) error
	MarkWaiting(ctx context.Context, jobID string) (bool, error)
	CancelRequested(ctx context.Context, id string) (bool, error)
	CancelJob(ctx context.Context, id, by string) (jobs.Job, error)
	SubmittedJob(ctx context.Context, id string) (store.Submitted, error)
}

// ServerRecords is the server registry: records, credentials, what jobs
// learn of a server, and lifecycle transitions.
type ServerRecords interface {
	Server(ctx context.Context, id string) (jobs.Server, error)
	ServerWithCredentials(ctx context.Context, id string) (jobs.Server, jobs.Credentials, error)
	ListServers(ctx context.Context, selector map[string]string) ([]jobs.Server, error)
	SetPowerState(ctx context.Context, id string, p jobs.PowerState) error
	SetInventory(ctx context.Context, id string, inv jobs.Inventory) error
	SetProvisionedImage(ctx context.Context, id, image string) error
	TransitionServer(ctx context.Context, id string, from []jobs.ServerState, to jobs.ServerState, jobID, reason string) (jobs.Server, error)
}

// Leases is the server leases: one job's hardware operations on a server at
// a time. StartJob reads a job and takes its server's lease at once.
type Leases interface {
	StartJob(ctx context.Context, id, server string, ttl time.Duration) (store.JobStart, error)
	AcquireLease(ctx context.Context, server, owner string, ttl time.Duration) (store.Lease, error)
	RenewLease(ctx context.Context, l store.Lease) error
	ReleaseLease(ctx context.Context, l store.Lease) error
	LeaseHolder(ctx context.Context, server string) (string, error)
}

// Breakers is the circuit breakers of BMCs that stopped answering, and the
// claim of each probe.
type Breakers interface {
	BMCFailed(ctx context.Context, server, reason string, threshold int, window time.Duration) (bool, error)
	BMCAnswered(ctx context.Context, server string) (bool, error)
	OpenBreakers(ctx context.Context) ([]string, error)
	ClaimProbe(ctx context.Context, server string, interval time.Duration) (bool, error)
}

// Pacing is the time of each BMC's last command, shared by every worker.
type Pacing interface {
	LastCall(ctx context.Context, server string) (time.Time, error)
	SetLastCall(ctx context.Context, server string, at time.Time, interval time.Duration) error
}

// BootConfigs is the boot configurations of servers being installed and
// the installer callbacks received.
type BootConfigs interface {
	SetBootConfig(ctx context.Context, c store.BootConfig) error
	BootConfig(ctx context.Context, server string) (store.BootConfig, error)
	ClearBootConfig(ctx context.Context, server, jobID string) error
	CallbackReceived(ctx context.Context, jobID, kind string) (bool, error)
	CallbackDetail(ctx context.Context, jobID, kind string) (string, error)
	Failure(ctx context.Context, jobID string) (*store.InstallerFailure, error)
}

// Images is the image catalogue a workflow boots from.
type Images interface {
	Image(ctx context.Context, name string) (jobs.Image, error)
}

// Rounds elects, per round, the one worker that runs a periodic duty
// (watchdog, rescue).
type Rounds interface {
	ClaimRound(ctx context.Context, name string, interval time.Duration) (bool, error)
}

// Deploys is what deploys keep: the servers each holds, in batch order,
// and the running batch's unfinished jobs.
type Deploys interface {
	HoldServers(ctx context.Context, id string, servers []string) error
	ReleaseServers(ctx context.Context, id string) error
	DeployServers(ctx context.Context, id string, start, stop int64) ([]string, error)
	DeployServerCount(ctx context.Context, id string) (int, error)
	StartDeployBatch(ctx context.Context, id string, ids []string) error
	DeployChildEnded(ctx context.Context, id, child string) (bool, error)
	DeployBatchPending(ctx context.Context, id string) (int, error)
}

// Store is every port at once, as *store.Store provides them.
type Store interface {
	JobRecords
	ServerRecords
	Leases
	Breakers
	Pacing
	BootConfigs
	Images
	Rounds
	Deploys
}
