// Package callback receives what installers and agents report about the
// servers they run on (installed, booted, wiped, or a failure:
// checksum_mismatch, failed), over NATS (tinman.callbacks.<server>) or HTTP
// (POST /v1/servers/{id}/callbacks, and the boot service's POST
// /boot/callbacks/{id}).
// Each report carries the job's token, which Tinman handed to the machine in
// its boot configuration; a report without the right token changes nothing.
// An accepted report wakes the waiting workflow at once.
package callback

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// ErrUnauthorized says a report's token does not match its job's.
var ErrUnauthorized = errors.New("callback not authorized")

// Report is what an installer sends. Message says what failed, with a
// failure event only.
type Report struct {
	JobID   string `json:"job_id"`
	Token   string `json:"token"`
	Event   string `json:"event"`
	Message string `json:"message,omitempty"`
}

// maxMessage bounds a failure report's message, in characters.
const maxMessage = 1024

// Store is what the receiver needs of the records.
type Store interface {
	Job(ctx context.Context, id string) (jobs.Job, error)
	BootConfig(ctx context.Context, server string) (store.BootConfig, error)
	RecordCallback(ctx context.Context, jobID, kind string) error
	RecordFailure(ctx context.Context, jobID, kind, message string) error
	CallbackReceived(ctx context.Context, jobID, kind string) (bool, error)
}

// Waker runs a parked task now.
type Waker interface {
	RunTask(queue, id string) error
}

// Receiver checks and records reports.
type Receiver struct {
	store Store
	wake  Waker
	log   zerolog.Logger
}

// NewReceiver returns a Receiver; wake may be nil (the workflow then notices
// at its next poll).
func NewReceiver(st Store, wake Waker, log zerolog.Logger) *Receiver {
	return &Receiver{store: st, wake: wake, log: log.With().Str("component", "callbacks").Logger()}
}

// events each boot purpose may report.
var allowed = map[string][]string{
	"install": {store.CallbackInstalled, store.CallbackBooted, store.CallbackChecksumMismatch, store.CallbackFailed},
	"wipe":    {store.CallbackWiped, store.CallbackFailed},
}

// Receive checks a report about server and records it. Bad input is a
// *jobs.Error naming the field; a wrong token or job is ErrUnauthorized.
func (r *Receiver) Receive(ctx context.Context, server string, body []byte) error {
	rep, err := decode(body)
	if err != nil {
		return err
	}
	cfg, err := r.store.BootConfig(ctx, server)
	if jobs.CodeOf(err) == jobs.CodeNotFound {
		return fmt.Errorf("%w: server %s expects no callback", ErrUnauthorized, server)
	}
	if err != nil {
		return err
	}
	if cfg.JobID != rep.JobID || subtle.ConstantTimeCompare([]byte(cfg.Token), []byte(rep.Token)) != 1 {
		return fmt.Errorf("%w: wrong job or token for server %s", ErrUnauthorized, server)
	}
	if !slices.Contains(allowed[cfg.Purpose], rep.Event) {
		return jobs.Invalid("event", fmt.Sprintf("a %s boot reports one of %v", cfg.Purpose, allowed[cfg.Purpose]))
	}
	if rep.Event == store.CallbackBooted { // in order: a token holder cannot skip the install
		installed, err := r.store.CallbackReceived(ctx, rep.JobID, store.CallbackInstalled)
		if err != nil {
			return err
		}
		if !installed {
			return &jobs.Error{Code: jobs.CodeConflict, Field: "event",
				Message: "booted before installed: the installer reports installed first"}
		}
	}
	if err := r.record(ctx, rep); err != nil {
		return err
	}
	r.log.Info().Str("server", server).Str("job_id", rep.JobID).Str("event", rep.Event).Msg("callback received")
	r.wakeJob(ctx, rep.JobID)
	return nil
}

// record stores an accepted report: a failure with its message.
func (r *Receiver) record(ctx context.Context, rep Report) error {
	if slices.Contains(store.FailureKinds(), rep.Event) {
		return r.store.RecordFailure(ctx, rep.JobID, rep.Event, rep.Message)
	}
	return r.store.RecordCallback(ctx, rep.JobID, rep.Event)
}

func decode(body []byte) (Report, error) {
	var rep Report
	if len(body) > 64<<10 {
		return rep, jobs.Invalid("", "callback larger than 64 KiB")
	}
	if err := jobs.CheckJSON(body); err != nil {
		return rep, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return rep, jobs.Invalid("", "not a JSON callback object")
	}
	fields := map[string]*string{"job_id": &rep.JobID, "token": &rep.Token, "event": &rep.Event, "message": &rep.Message}
	for key, raw := range obj { // keys spelt exactly: encoding/json would fold case
		dst, known := fields[key]
		if !known {
			return rep, jobs.Invalid(key, "is not allowed: a callback has job_id, token, event and, for a failure, message")
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return rep, jobs.Invalid(key, "must be a string")
		}
	}
	switch {
	case rep.JobID == "" || !jobs.ValidJobID(rep.JobID):
		return rep, jobs.Invalid("job_id", "is required: the job the installer runs for")
	case rep.Token == "":
		return rep, jobs.Invalid("token", "is required")
	case rep.Event == "":
		return rep, jobs.Invalid("event", "is required: installed, booted, wiped, checksum_mismatch or failed")
	case rep.Message != "" && !slices.Contains(store.FailureKinds(), rep.Event):
		return rep, jobs.Invalid("message", "goes only with a failure: checksum_mismatch or failed")
	case utf8.RuneCountInString(rep.Message) > maxMessage:
		return rep, jobs.Invalid("message", fmt.Sprintf("must be at most %d characters", maxMessage))
	}
	return rep, nil
}

// wakeJob moves the job's parked task to the front; a task that is not
// parked (running, or already queued) needs nothing.
func (r *Receiver) wakeJob(ctx context.Context, id string) {
	if r.wake == nil {
		return
	}
	job, err := r.store.Job(ctx, id)
	if err != nil {
		return
	}
	if err := r.wake.RunTask(job.Queue(), id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		r.log.Debug().Err(err).Str("job_id", id).Msg("wake job (it looks again at its next poll)")
	}
}
