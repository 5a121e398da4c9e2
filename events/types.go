package events

import "strings"

// Type is a CloudEvents type. The strings are part of the public contract.
type Type string

// The event types of the contract.
const (
	JobQueued          Type = "tinman.job.queued"
	JobStarted         Type = "tinman.job.started"
	JobProgress        Type = "tinman.job.progress"
	JobRetrying        Type = "tinman.job.retrying"
	JobSucceeded       Type = "tinman.job.succeeded"
	JobFailed          Type = "tinman.job.failed"
	JobCanceled        Type = "tinman.job.canceled"
	RequestRejected    Type = "tinman.request.rejected"
	ServerStateChanged Type = "tinman.server.state_changed"
	DeployBatchStarted Type = "tinman.deploy.batch_started"
	DeployHalted       Type = "tinman.deploy.halted"
)

// Types lists every event type.
func Types() []Type {
	return []Type{JobQueued, JobStarted, JobProgress, JobRetrying, JobSucceeded, JobFailed,
		JobCanceled, RequestRejected, ServerStateChanged, DeployBatchStarted, DeployHalted}
}

// Valid reports whether t is one of Types.
func (t Type) Valid() bool {
	for _, v := range Types() {
		if v == t {
			return true
		}
	}
	return false
}

// Terminal reports whether t ends a job.
func (t Type) Terminal() bool {
	return t == JobSucceeded || t == JobFailed || t == JobCanceled
}

// Subjects.
const (
	// SubjectPrefix starts every event subject.
	SubjectPrefix = "tinman.events."
	// RequestPrefix starts every request subject: tinman.requests.<type>.
	RequestPrefix = "tinman.requests."
	// CallbackPrefix starts every callback subject: tinman.callbacks.<server>.
	CallbackPrefix = "tinman.callbacks."
	// NoServer stands for the server in subjects of events about no single server.
	NoServer = "_"
)

// ServerToken is the <server> of the subjects of events about server: the
// server, or NoServer when there is none (a deploy's).
func ServerToken(server string) string {
	if server == "" {
		return NoServer
	}
	return server
}

// RequestSubject is the subject requests of type t are published on.
func RequestSubject(jobType string) string { return RequestPrefix + jobType }

// FilterSubject is the event subject filter for a server id (empty: any) and a
// type pattern such as "job.*", "tinman.job.failed" or "" (any).
func FilterSubject(server, typePattern string) string {
	if server == "" {
		server = "*"
	}
	kind := strings.TrimPrefix(typePattern, "tinman.")
	switch {
	case kind == "" || kind == "*" || kind == ">":
		return SubjectPrefix + server + ".>"
	case !strings.Contains(kind, "."):
		return SubjectPrefix + server + "." + kind + ".*"
	}
	return SubjectPrefix + server + "." + kind
}

// ValidTypePattern reports whether p is a type pattern FilterSubject takes
// and that matches at least one event type: "job", "job.failed",
// "tinman.job.*", "*.failed", ">". A pattern is one or two words of
// lower-case letters and "_" (after an optional "tinman."), each word
// possibly "*", the last possibly ">". Anything else would make a consumer
// NATS refuses, or one that never delivers.
func ValidTypePattern(p string) bool {
	words := strings.Split(strings.TrimPrefix(p, "tinman."), ".")
	if len(words) > 2 {
		return false
	}
	for i, w := range words {
		if w == "" || w == ">" && i < len(words)-1 || w != "*" && w != ">" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyz_") != "" {
			return false
		}
	}
	for _, t := range Types() {
		kind, what, _ := strings.Cut(strings.TrimPrefix(string(t), "tinman."), ".")
		if wordMatches(words[0], kind) && (len(words) == 1 || wordMatches(words[1], what)) {
			return true
		}
	}
	return false
}

func wordMatches(pattern, word string) bool {
	return pattern == "*" || pattern == ">" || pattern == word
}
