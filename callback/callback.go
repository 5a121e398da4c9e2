// Package callback receives what installers and agents report about the
// servers they run on (installed, booted with the image the OS found on its
// disk, wiped, or failed with a code: checksum_mismatch, download_failed,
// ...), over NATS (tinman.callbacks.<server>) or HTTP
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
	"regexp"
	"slices"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/internal/wake"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// ErrUnauthorized says a report's token does not match its job's.
var ErrUnauthorized = errors.New("callback not authorized")

// Report is what an installer sends (scripts/installer/lib.sh report()).
// Code and Message say what failed, with event failed only; Image is the
// image the OS found on its own disk, with event booted only.
type Report struct {
	JobID   string `json:"job_id"`
	Token   string `json:"token"`
	Event   string `json:"event"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Image   string `json:"image,omitempty"`
}

// maxMessage bounds a failure report's message, in characters.
const maxMessage = 1024

// codePattern is what a failure's code looks like (checksum_mismatch,
// download_failed, no_disk...).
var codePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Store is what the receiver needs of the records.
type Store interface {
	Job(ctx context.Context, id string) (jobs.Job, error)
	BootConfig(ctx context.Context, server string) (store.BootConfig, error)
	RecordCallback(ctx context.Context, jobID, kind string) error
	RecordCallbackDetail(ctx context.Context, jobID, kind, detail string) error
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
	"install": {store.CallbackInstalled, store.CallbackBooted, store.CallbackFailed},
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
	r.log.Info().Str("server", server).Str("job_id", rep.JobID).Str("event", rep.Event).Str("code", rep.Code).
		Str("image", rep.Image).Msg("callback received")
	r.wakeJob(ctx, rep.JobID)
	return nil
}

// record stores an accepted report: a failure as the store's kind of it
// (checksum_mismatch, which fails the job with that code, or failed) with
// its message, the code first when it is not the kind; booted with the
// image the OS reported.
func (r *Receiver) record(ctx context.Context, rep Report) error {
	switch {
	case rep.Event == store.CallbackFailed && rep.Code == store.CallbackChecksumMismatch:
		return r.store.RecordCallbackDetail(ctx, rep.JobID, store.CallbackChecksumMismatch, rep.Message)
	case rep.Event == store.CallbackFailed && rep.Code != "":
		return r.store.RecordCallbackDetail(ctx, rep.JobID, store.CallbackFailed, rep.Code+": "+rep.Message)
	case rep.Event == store.CallbackFailed:
		return r.store.RecordCallbackDetail(ctx, rep.JobID, store.CallbackFailed, rep.Message)
	case rep.Image != "":
		return r.store.RecordCallbackDetail(ctx, rep.JobID, rep.Event, rep.Image)
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
	fields := map[string]*string{"job_id": &rep.JobID, "token": &rep.Token, "event": &rep.Event,
		"code": &rep.Code, "message": &rep.Message, "image": &rep.Image}
	for key, raw := range obj { // keys spelt exactly: encoding/json would fold case
		dst, known := fields[key]
		if !known {
			return rep, jobs.Invalid(key, "is not allowed: a callback has job_id, token, event and, for failed, code and message, for booted, image")
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return rep, jobs.Invalid(key, "must be a string")
		}
	}
	return rep, rep.check()
}

// check names the first field of rep that is missing, malformed, or does
// not go with its event.
func (rep Report) check() error {
	failed := rep.Event == store.CallbackFailed
	switch {
	case rep.JobID == "" || !jobs.ValidJobID(rep.JobID):
		return jobs.Invalid("job_id", "is required: the job the installer runs for")
	case rep.Token == "":
		return jobs.Invalid("token", "is required")
	case rep.Event == "":
		return jobs.Invalid("event", "is required: installed, booted, wiped or failed")
	case rep.Code != "" && !failed:
		return jobs.Invalid("code", "goes only with event failed")
	case rep.Code != "" && !codePattern.MatchString(rep.Code):
		return jobs.Invalid("code", "must match "+codePattern.String())
	case rep.Message != "" && !failed:
		return jobs.Invalid("message", "goes only with event failed")
	case utf8.RuneCountInString(rep.Message) > maxMessage:
		return jobs.Invalid("message", fmt.Sprintf("must be at most %d characters", maxMessage))
	case rep.Image != "" && rep.Event != store.CallbackBooted:
		return jobs.Invalid("image", "goes only with event booted")
	case rep.Image != "" && !jobs.ValidImageName(rep.Image):
		return jobs.Invalid("image", "must be an image name (letters, digits and ._:+-, at most 128)")
	}
	return nil
}

// wakeJob moves the job's parked task to the front; a task that is queued
// needs nothing, and one still running (about to park: the callback came
// while it looked) is tried again for up to 2 s (wake.Task), so that the
// callback is not left to the next poll.
func (r *Receiver) wakeJob(ctx context.Context, id string) {
	if r.wake == nil {
		return
	}
	job, err := r.store.Job(ctx, id)
	if err != nil {
		return
	}
	if err := wake.Task(ctx, r.wake, job.Queue(), id); err != nil {
		r.log.Debug().Err(err).Str("job_id", id).Msg("wake job (it looks again at its next poll)")
	}
}
