package store

import "strings"

// Every Redis key Tinman writes is built here, and nowhere else.
//
// A key is either a fixed name (a singleton: an index, a set of pending
// streams) or a kind's prefix followed by an id. No id can reach another
// record, whatever characters ids may hold, because
//   - the prefixes are prefix-free: none starts with another, so prefix+id
//     of one kind never equals prefix+id of another, and
//   - no fixed name starts with any prefix, so no id turns a record's key
//     into an internal set or list (a job named "pending", a server named
//     "open").
//
// keyLayout lists both; TestKeyLayoutIsPrefixFree checks the two rules, and
// TestIDsCannotCollide drives jobs and servers named after every word here
// through a running system.

// Fixed names.
const (
	jobIndexKey    = "tinman:jobs"           // sorted set: every job id, by creation
	serverIndexKey = "tinman:servers"        // set: every enrolled server id
	outboxPending  = "tinman:outbox-pending" // set: the outbox streams with staged events
	breakersOpen   = "tinman:breakers-open"  // set: the servers whose circuit breaker is open
	layoutKey      = "tinman:layout"         // the key layout's version (migrate.go)
	keyCheckKey    = "tinman:key-check"      // a value sealed with the deployment's secret key (keycheck.go)
	imageIndexKey  = "tinman:images"         // set: every catalogue image name
	deployHoldsKey = "tinman:deploy-holds"   // hash: server id -> "<deploy id> <unix ms>", the deploy that holds it
	leaseWaiters   = "tinman:lease-waiters"  // sorted set: job id -> unix ms it last found its server's lease held
)

// Prefixes, each followed by one id.
const (
	jobPrefix           = "tinman:job:"                      // job id: the job record
	seqPrefix           = "tinman:seq:"                      // job id: the job's event counter
	submittedPrefix     = "tinman:submitted:"                // job id: the API's submitted record
	cancelPrefix        = "tinman:cancel:"                   // job id: cancel asked
	waitingPrefix       = "tinman:waiting:"                  // job id: "waiting for the server" announced
	callbacksPrefix     = "tinman:callbacks:"                // job id: installer callbacks received
	outboxJobPrefix     = "tinman:outbox:job:"               // job id: the job's staged events
	outboxServerPrefix  = "tinman:outbox:server:"            // server id: the server's staged events
	serverJobsPrefix    = "tinman:jobs:server:"              // server id: the server's jobs
	serverPrefix        = "tinman:server:"                   // server id: the server record
	leasePrefix         = "tinman:lease:"                    // server id: who holds the server
	fencePrefix         = "tinman:fence:"                    // server id: the lease's fencing counter
	pacePrefix          = "tinman:pace:"                     // server id: the last BMC command
	breakerPrefix       = "tinman:breaker:"                  // server id: consecutive unreachable answers
	probePrefix         = "tinman:probe:"                    // server id: the breaker probe's claim
	bootConfigPrefix    = "tinman:bootcfg:"                  // server id: the boot configuration
	bootTokenPrefix     = "tinman:boot-token:"               // SHA-256 of a boot token: the server it boots
	macPrefix           = "tinman:mac:"                      // boot MAC: the server that boots with it
	imagePrefix         = "tinman:image:"                    // image name: the catalogue entry
	labelPrefix         = "tinman:label:"                    // "key=value": the servers with that label
	roundPrefix         = "tinman:round:"                    // round name: one periodic task's claim
	githubDelivery      = "tinman:webhook:delivery:github:"  // GitHub delivery id: its job
	genericDelivery     = "tinman:webhook:delivery:generic:" // generic delivery id: its job
	githubBody          = "tinman:webhook:body:github:"      // SHA-256 of a signed GitHub body: its job
	genericBody         = "tinman:webhook:body:generic:"     // SHA-256 of a signed generic body: its job
	githubEvent         = "tinman:webhook:event:github:"     // a GitHub event's identity: its job
	deployServersPrefix = "tinman:deploy-servers:"           // deploy job id: its servers, in batch order (list)
	deployPendingPrefix = "tinman:deploy-pending:"           // deploy job id: the running batch's unfinished jobs (set)
)

// keyLayout is every fixed name and prefix, for the layout tests.
var keyLayout = struct{ fixed, prefixes []string }{
	fixed: []string{jobIndexKey, serverIndexKey, outboxPending, breakersOpen, layoutKey, migrateLock, keyCheckKey, imageIndexKey, deployHoldsKey, leaseWaiters},
	prefixes: []string{jobPrefix, seqPrefix, submittedPrefix, cancelPrefix, waitingPrefix, callbacksPrefix,
		outboxJobPrefix, outboxServerPrefix, serverJobsPrefix, serverPrefix, leasePrefix, fencePrefix,
		pacePrefix, breakerPrefix, probePrefix, bootConfigPrefix, bootTokenPrefix, macPrefix, imagePrefix, labelPrefix, roundPrefix,
		githubDelivery, genericDelivery, githubBody, genericBody, githubEvent, deployServersPrefix, deployPendingPrefix},
}

// KeyNames returns the layout's fixed names and prefixes, for tools and
// tests that audit what Tinman keeps in Redis.
func KeyNames() (fixed, prefixes []string) {
	return append([]string(nil), keyLayout.fixed...), append([]string(nil), keyLayout.prefixes...)
}

func jobKey(id string) string              { return jobPrefix + id }
func seqKey(jobID string) string           { return seqPrefix + jobID }
func submittedKey(jobID string) string     { return submittedPrefix + jobID }
func cancelKey(jobID string) string        { return cancelPrefix + jobID }
func waitingKey(jobID string) string       { return waitingPrefix + jobID }
func callbacksKey(jobID string) string     { return callbacksPrefix + jobID }
func serverJobsKey(server string) string   { return serverJobsPrefix + server }
func serverKey(id string) string           { return serverPrefix + id }
func leaseKey(server string) string        { return leasePrefix + server }
func fenceKey(server string) string        { return fencePrefix + server }
func paceKey(server string) string         { return pacePrefix + server }
func breakerKey(server string) string      { return breakerPrefix + server }
func probeKey(server string) string        { return probePrefix + server }
func bootConfigKey(server string) string   { return bootConfigPrefix + server }
func bootTokenKey(tokenHash string) string { return bootTokenPrefix + tokenHash }
func macKey(mac string) string             { return macPrefix + mac }
func imageKey(name string) string          { return imagePrefix + name }
func roundKey(name string) string          { return roundPrefix + name }
func deployServersKey(id string) string    { return deployServersPrefix + id }
func deployPendingKey(id string) string    { return deployPendingPrefix + id }

// labelKey is the set of servers labelled k=v. Label keys hold no "=", so
// the first "=" ends the key.
func labelKey(k, v string) string { return labelPrefix + k + "=" + v }

// An outbox stream is the ordering unit of staged events: one job's, or one
// server's. Its name carries its kind, so a job id can never name a
// server's stream, and its list key is the kind's prefix and the id.
type outboxStream string

func jobStream(id string) outboxStream    { return outboxStream("job:" + id) }
func serverStream(id string) outboxStream { return outboxStream("server:" + id) }
func (s outboxStream) String() string     { return string(s) }

// listKey is the Redis list that holds the stream's staged events.
func (s outboxStream) listKey() string {
	if id, ok := strings.CutPrefix(string(s), "server:"); ok {
		return outboxServerPrefix + id
	}
	return outboxJobPrefix + strings.TrimPrefix(string(s), "job:")
}
