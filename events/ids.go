package events

import "strconv"

// Event ids are stable, so that publishing an event again is deduplicated by
// JetStream (the id is the Nats-Msg-Id). Each kind of event has a namespace
// of its own: "<kind>.<key>.<number>", where kind is a fixed word and number
// is digits only. Two ids of different kinds differ in their first word; two
// of one kind differ in their key or their number, because the number is
// what follows the last dot. So no job id (which may hold dots) can ever
// produce a server's or a rejection's event id.
const (
	jobIDKind      = "job"
	serverIDKind   = "server"
	rejectedIDKind = "rejected"
)

// JobEventID is the id of job jobID's event number seq.
func JobEventID(jobID string, seq int64) string { return eventID(jobIDKind, jobID, seq) }

// ServerEventID is the id of server's state change number seq.
func ServerEventID(server string, seq int64) string { return eventID(serverIDKind, server, seq) }

// RejectionEventID is the id of the rejection of message seq of stream.
func RejectionEventID(stream string, seq uint64) string {
	return rejectedIDKind + "." + stream + "." + strconv.FormatUint(seq, 10)
}

func eventID(kind, key string, seq int64) string {
	return kind + "." + key + "." + strconv.FormatInt(seq, 10)
}
