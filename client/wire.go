package client

import (
	"encoding/json"

	"github.com/tinmanhq/tinman/jobs"
)

// The wire types: the bodies the HTTP API reads and answers that are not
// domain types of package jobs. Package api answers with these same types,
// so the two ends read one definition.

// ProblemContentType is the media type of every error answer (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem detail, the body of every error answer.
// Code is the stable machine-readable code (a jobs.Code, or an HTTP-only
// one such as "unauthorized"); Field names the request field at fault.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	Code     string `json:"code"`
	Field    string `json:"field,omitempty"`
}

// Submitted is the answer to POST /v1/jobs: the job's id and its state,
// jobs.StateSubmitted for a new request, the job's own state for a repeat.
type Submitted struct {
	JobID string     `json:"job_id"`
	State jobs.State `json:"state"`
}

// JobList is the answer to GET /v1/jobs, newest first.
type JobList struct {
	Jobs []jobs.Job `json:"jobs"`
	// Next is the cursor of the next page (JobQuery.After): the last job's
	// id when the page is full, "" when it is the last.
	Next string `json:"next,omitempty"`
}

// ServerList is the answer to GET /v1/servers.
type ServerList struct {
	Servers []jobs.Server `json:"servers"`
}

// Server is a server as the API shows it: its record, never its
// credentials. Inventory and InventorySummary are read when the API gives
// them; it does not yet (see the contract's known gaps).
type Server struct {
	jobs.Server
	Inventory        *jobs.Inventory        `json:"inventory,omitempty"`
	InventorySummary *jobs.InventorySummary `json:"inventory_summary,omitempty"`
}

// Enrolment is the body of POST /v1/servers. The credentials go in and
// never come out: no answer of the API carries them.
type Enrolment struct {
	ID       string            `json:"id"`
	BMC      jobs.BMC          `json:"bmc"`
	Username string            `json:"username"`
	Password string            `json:"password"`
	Labels   map[string]string `json:"labels,omitempty"`
	// Site groups the server with the workers that reach its BMC (default
	// "default"); its jobs wait for a worker of that site.
	Site string `json:"site,omitempty"`
	// BootMAC is the MAC the server boots from the network with (any case,
	// ":" or "-"); the API keeps it lower case with ":".
	BootMAC string `json:"boot_mac,omitempty"`
}

// ServerPatch is the body of PATCH /v1/servers/{id}, a JSON merge patch
// (RFC 7396): what is absent stays. Labels merges key by key, a null value
// removing its key and a null Labels removing them all; BMC merges field by
// field; Username and Password replace the credentials' parts; Maintenance
// {"reason": "..."} sets maintenance and null clears it; BootMAC "MAC"
// sets the boot MAC and null clears it. Changing only Maintenance needs the
// operator role, anything else admin.
type ServerPatch struct {
	Labels      json.RawMessage `json:"labels,omitempty"`
	BMC         *BMCPatch       `json:"bmc,omitempty"`
	Username    *string         `json:"username,omitempty"`
	Password    *string         `json:"password,omitempty"`
	Maintenance json.RawMessage `json:"maintenance,omitempty"`
	BootMAC     json.RawMessage `json:"boot_mac,omitempty"`
}

// BMCPatch changes some of a server's BMC settings: the fields given.
type BMCPatch struct {
	Address     *string        `json:"address,omitempty"`
	Provider    *jobs.Provider `json:"provider,omitempty"`
	CipherSuite *int           `json:"cipher_suite,omitempty"`
	VerifyTLS   *bool          `json:"verify_tls,omitempty"`
}

// ImageList is the answer to GET /v1/images, by name.
type ImageList struct {
	Images []jobs.Image `json:"images"`
}

// NewImage is the body of POST /v1/images: a catalogue entry. Each URL is
// http:// or https://, or a path under the boot service's files
// (--images-dir), served as <boot-url>/boot/files/<path>.
type NewImage struct {
	Name      string `json:"name"`
	KernelURL string `json:"kernel_url"`
	InitrdURL string `json:"initrd_url"`
	ISOURL    string `json:"iso_url,omitempty"`
	ImageURL  string `json:"image_url"`
	SHA256    string `json:"sha256"`
}

// Image is the catalogue entry n describes.
func (n NewImage) Image() jobs.Image {
	return jobs.Image{Name: n.Name, KernelURL: n.KernelURL, InitrdURL: n.InitrdURL, ISOURL: n.ISOURL, ImageURL: n.ImageURL, SHA256: n.SHA256}
}

// JobQuery filters GET /v1/jobs; the zero JobQuery lists the newest jobs.
type JobQuery struct {
	// Server lists one server's jobs.
	Server string
	// State lists the jobs in one state.
	State jobs.State
	// Type lists the jobs of one type.
	Type jobs.Type
	// Limit is the most jobs answered, 1 to 1000; 0 leaves it to the API (100).
	Limit int
	// After is a cursor, the Next of the previous page: the page starts
	// with the job listed after it. Each page costs the same, however deep.
	After string
}
