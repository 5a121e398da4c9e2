package jobs

import (
	"fmt"
	"regexp"
	"strings"
)

// Type is a job type. The strings are part of the public contract (NATS
// subjects, asynq task types, events) and never change with Go names.
type Type string

// The job types of the contract.
const (
	Power       Type = "power"
	BootDevice  Type = "boot-device"
	Inspect     Type = "inspect"
	Provision   Type = "provision"
	Deprovision Type = "deprovision"
	BMCReset    Type = "bmc-reset"
	Deploy      Type = "deploy"
)

// Types lists every job type, in the contract's order.
func Types() []Type {
	return []Type{Power, BootDevice, Inspect, Provision, Deprovision, BMCReset, Deploy}
}

// ParseType returns the Type named s, or an invalid_request error.
func ParseType(s string) (Type, error) {
	for _, t := range Types() {
		if string(t) == s {
			return t, nil
		}
	}
	return "", Invalid("type", fmt.Sprintf("must be one of %s", joinTypes()))
}

func joinTypes() string {
	names := make([]string, 0, len(Types()))
	for _, t := range Types() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

// TargetsServer reports whether a job of this type acts on exactly one server.
func (t Type) TargetsServer() bool { return t != Deploy }

// Priority selects the queue a job waits in.
type Priority string

// The priorities, highest first. The empty priority means PriorityDefault.
const (
	PriorityCritical Priority = "critical"
	PriorityDefault  Priority = "default"
	PriorityLow      Priority = "low"
)

// Queue returns the priority's queue name, PriorityDefault for the empty one.
func (p Priority) Queue() string {
	if p == "" {
		return string(PriorityDefault)
	}
	return string(p)
}

func (p Priority) valid() bool {
	switch p {
	case "", PriorityCritical, PriorityDefault, PriorityLow:
		return true
	}
	return false
}

var (
	serverIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	jobIDPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
)

// ValidServerID reports whether id is a well-formed server id.
func ValidServerID(id string) bool { return serverIDPattern.MatchString(id) }

// ValidJobID reports whether id is a well-formed job id.
func ValidJobID(id string) bool { return jobIDPattern.MatchString(id) }
