package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// followLookback is how far back the follower of rejections starts, so
// that an API process that restarts catches the rejections it missed.
const followLookback = 10 * time.Minute

// Run follows tinman.request.rejected until ctx ends and marks the
// submitted record of each rejected request "rejected", with the reason,
// so that GET /v1/jobs/{id} tells it. When the watch fails (NATS down) it
// starts again after the last event it saw.
func (a *API) Run(ctx context.Context) error {
	f := events.Filter{Type: string(events.RequestRejected), Since: followLookback}
	for ctx.Err() == nil {
		err := a.cfg.Watcher.Watch(ctx, f, func(d events.Delivered) error {
			f.AfterSeq = d.StreamSeq
			a.markRejected(ctx, d.Event)
			return nil
		})
		if ctx.Err() != nil {
			break
		}
		a.log.Warn().Err(err).Msg("following rejections: will retry")
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// markRejected records one rejection on its submitted record, if any.
func (a *API) markRejected(ctx context.Context, ev events.Event) {
	var d events.RejectedData
	if err := json.Unmarshal(ev.Data, &d); err != nil || d.JobID == "" || !jobs.ValidJobID(d.JobID) {
		return
	}
	cause := d.Error
	if cause == nil {
		cause = jobs.Invalid("", d.Reason)
	}
	if err := a.submitted.reject(ctx, d.JobID, cause); err != nil {
		a.log.Warn().Err(err).Str("job_id", d.JobID).Msg("mark a rejected job")
	}
}
