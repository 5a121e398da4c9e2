// Package workers performs jobs: an asynq server whose mux routes each job
// type to its handler, wrapped in middleware that loads the job, adds its log
// fields, records every status change as an event, turns panics into failed
// attempts and decides between retrying and failing.
//
// Handlers reach hardware only through the ports of port.go, one per
// capability (PowerControl, BootControl, BootReader, InventoryReader,
// BMCResetter) on a Session a Connector opens, and reach Redis only through
// the store's ports, one per kind of record (JobRecords, ServerRecords,
// Leases, Breakers, Pacing, BootConfigs, Rounds).
package workers
