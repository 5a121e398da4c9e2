package workers

import (
	"fmt"
	"strings"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

// SampleSize bounds the server ids a deploy's result and events name: the
// first SampleSize that succeeded, and failed. The full lists are the
// deploy's view (GET /v1/deploys/{id}).
const SampleSize = 20

// DeployPlan is a rolling deploy's state, kept in its job record's result:
// a retry or a resumed wait carries on where it was. It holds counts and
// bounded samples, whatever the fleet's size: the servers themselves, in
// batch order, are the deploy's server list in the store.
type DeployPlan struct {
	Image     string `json:"image"`
	Servers   int    `json:"servers"`
	BatchSize int    `json:"batch_size"`
	Batches   int    `json:"batches"`
	// Current is the batch running (0 is the first), or Batches when done.
	Current int `json:"current"`
	// StartedAt is when the running batch was submitted; absent between batches.
	StartedAt *time.Time `json:"started_at,omitempty"`
	Succeeded int        `json:"succeeded"`
	Failed    int        `json:"failed"`
	// SucceededSample is the first SampleSize servers that succeeded.
	SucceededSample []string `json:"succeeded_sample,omitempty"`
	// Failures is the first SampleSize servers that failed, each with its
	// job's failure code and reason (a rejection's too).
	Failures []ChildFailure `json:"failures,omitempty"`
	Halted   bool           `json:"halted,omitempty"`

	// Boot is how each provision boots its server ("": pxe).
	Boot jobs.BootMethod `json:"boot,omitempty"`
}

// ChildFailure is a server whose provision failed, and why.
type ChildFailure struct {
	Server  string     `json:"server"`
	JobID   string     `json:"job_id"`
	State   jobs.State `json:"state"`
	Code    jobs.Code  `json:"code"`
	Message string     `json:"message"`
}

// batchName is the running batch, for waiting_for.
func batchName(plan *DeployPlan) string { return fmt.Sprintf("batch %d", plan.Current+1) }

// batchStep is the event step of batch i (0 is the first).
func batchStep(i int) string { return fmt.Sprintf("batch-%d", i+1) }

// childID names the provision job a deploy runs on a server.
func childID(deployID, server string) string { return jobs.DeployChildID(deployID, server) }

// tally adds a batch's outcome to the plan, samples bounded.
func (p *DeployPlan) tally(succeeded []string, failed []ChildFailure) {
	p.Succeeded += len(succeeded)
	p.Failed += len(failed)
	p.SucceededSample = append(p.SucceededSample, succeeded[:min(len(succeeded), SampleSize-len(p.SucceededSample))]...)
	p.Failures = append(p.Failures, failed[:min(len(failed), SampleSize-len(p.Failures))]...)
}

// Plural counts n things: "1 server", "2 servers".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Names lists ids, at most max of them, and says how many more there are.
func Names(ids []string, max int) string {
	if len(ids) <= max {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:max], ", "), len(ids)-max)
}

// Reasons says why the first failures failed, at most max of them.
func Reasons(failed []ChildFailure, max int) string {
	parts := make([]string, 0, min(len(failed), max))
	for _, f := range failed[:min(len(failed), max)] {
		parts = append(parts, fmt.Sprintf("%s (%s: %s)", f.Server, f.Code, f.Message))
	}
	return strings.Join(parts, "; ")
}
