// Package workers performs jobs: an asynq server whose mux routes each job
// type to its handler, wrapped in middleware that loads the job, adds its log
// fields, records every status change as an event, turns panics into failed
// attempts and decides between retrying and failing.
//
// Handlers reach hardware only through the small BMC interface defined here.
package workers
