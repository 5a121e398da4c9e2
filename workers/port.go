package workers

import (
	"context"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// BMC is what handlers need of a server's management controller.
type BMC interface {
	PowerState(ctx context.Context) (jobs.PowerState, error)
	SetPower(ctx context.Context, action jobs.PowerAction) error
	SetBootDevice(ctx context.Context, p jobs.BootDeviceParams) error
	Inventory(ctx context.Context) (jobs.Inventory, error)
	ResetBMC(ctx context.Context, kind jobs.BMCResetKind) error
	// Provider names the driver that answered, for events.
	Provider() string
	Close(ctx context.Context) error
}

// BootReader is a BMC that can read its boot override back (bmclib can over
// Redfish, not over IPMI).
type BootReader interface {
	BootOverride(ctx context.Context) (jobs.BootDeviceParams, error)
}

// Connector opens a BMC session for a server.
type Connector func(ctx context.Context, srv jobs.Server, creds jobs.Credentials) (BMC, error)

// Store is what workers need of the records.
type Store interface {
	Job(ctx context.Context, id string) (jobs.Job, error)
	Record(ctx context.Context, job *jobs.Job, t events.Type, d events.Detail) (events.Event, error)
	Flush(ctx context.Context, jobID string) error
	ServerWithCredentials(ctx context.Context, id string) (jobs.Server, jobs.Credentials, error)
	SetPowerState(ctx context.Context, id string, p jobs.PowerState) error
	SetInventory(ctx context.Context, id string, inv jobs.Inventory) error
	AcquireLease(ctx context.Context, server, owner string, ttl time.Duration) (store.Lease, error)
	RenewLease(ctx context.Context, l store.Lease) error
	ReleaseLease(ctx context.Context, l store.Lease) error
	MarkWaiting(ctx context.Context, jobID string) (bool, error)
	BMCFailed(ctx context.Context, server, reason string, threshold int, window time.Duration) (bool, error)
	BMCAnswered(ctx context.Context, server string) (bool, error)
	OpenBreakers(ctx context.Context) ([]string, error)
	ClaimProbe(ctx context.Context, server string, interval time.Duration) (bool, error)
	ClaimRound(ctx context.Context, name string, interval time.Duration) (bool, error)
	LastCall(ctx context.Context, server string) (time.Time, error)
	Server(ctx context.Context, id string) (jobs.Server, error)
	TransitionServer(ctx context.Context, id string, from []jobs.ServerState, to jobs.ServerState, jobID, reason string) (jobs.Server, error)
	CancelRequested(ctx context.Context, id string) (bool, error)
	CancelJob(ctx context.Context, id, by string) (jobs.Job, error)
	ListServers(ctx context.Context, selector map[string]string) ([]jobs.Server, error)
	CallbackReceived(ctx context.Context, jobID, kind string) (bool, error)
	SetBootConfig(ctx context.Context, c store.BootConfig) error
	BootConfig(ctx context.Context, server string) (store.BootConfig, error)
	ClearBootConfig(ctx context.Context, server, jobID string) error
	SetLastCall(ctx context.Context, server string, at time.Time, interval time.Duration) error
	SubmittedJob(ctx context.Context, id string) (store.Submitted, error)
	LeaseHolder(ctx context.Context, server string) (string, error)
}
