package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

// SpecVersion is the CloudEvents version of every event.
const SpecVersion = "1.0"

// ContentType is the data content type of every event.
const ContentType = "application/json"

// MaxEventSize bounds a decoded event, in bytes.
const MaxEventSize = 1 << 20

// ErrInvalidEvent is wrapped by every envelope validation error.
var ErrInvalidEvent = errors.New("invalid event")

// Event is a CloudEvents 1.0 event in structured JSON mode.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            Type            `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// New returns an event of type t about server (empty when none), with data
// marshalled to JSON, a fresh id and the current time.
func New(source string, t Type, server string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("marshal %s data: %w", t, err)
	}
	now := time.Now().UTC()
	return Event{
		SpecVersion: SpecVersion, ID: jobs.NewID(now), Source: source, Type: t,
		Subject: server, Time: now, DataContentType: ContentType, Data: raw,
	}, nil
}

// Validate checks the envelope's required attributes.
func (e Event) Validate() error {
	switch {
	case e.SpecVersion != SpecVersion:
		return fmt.Errorf("%w: specversion: must be %q", ErrInvalidEvent, SpecVersion)
	case e.ID == "":
		return fmt.Errorf("%w: id: is required", ErrInvalidEvent)
	case e.Source == "":
		return fmt.Errorf("%w: source: is required", ErrInvalidEvent)
	case !e.Type.Valid():
		return fmt.Errorf("%w: type: unknown type %q", ErrInvalidEvent, e.Type)
	case e.Time.IsZero():
		return fmt.Errorf("%w: time: is required", ErrInvalidEvent)
	case e.DataContentType != ContentType:
		return fmt.Errorf("%w: datacontenttype: must be %q", ErrInvalidEvent, ContentType)
	case len(e.Data) == 0 || e.Data[0] != '{':
		return fmt.Errorf("%w: data: must be a JSON object", ErrInvalidEvent)
	}
	if e.Subject != "" && e.Subject != NoServer && !jobs.ValidServerID(e.Subject) {
		return fmt.Errorf("%w: subject: must be a server id", ErrInvalidEvent)
	}
	return nil
}

// Decode parses and validates one event.
func Decode(data []byte) (Event, error) {
	var e Event
	if len(data) > MaxEventSize {
		return e, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidEvent, len(data), MaxEventSize)
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	e.Data = bytes.TrimSpace(e.Data)
	return e, e.Validate()
}

// NATSSubject is the subject the event is published on:
// tinman.events.<server>.<kind>.<what>.
func (e Event) NATSSubject() string {
	server := e.Subject
	if server == "" {
		server = NoServer
	}
	return SubjectPrefix + server + "." + strings.TrimPrefix(string(e.Type), "tinman.")
}

// JobData decodes the data of a job event.
func (e Event) JobData() (JobData, error) {
	var d JobData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return d, fmt.Errorf("decode %s data: %w", e.Type, err)
	}
	return d, nil
}
