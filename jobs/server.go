package jobs

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ServerState is where a server is in its lifecycle.
type ServerState string

// The server lifecycle of the contract.
const (
	ServerEnrolled       ServerState = "enrolled"
	ServerInspecting     ServerState = "inspecting"
	ServerAvailable      ServerState = "available"
	ServerProvisioning   ServerState = "provisioning"
	ServerActive         ServerState = "active"
	ServerDeprovisioning ServerState = "deprovisioning"
	ServerError          ServerState = "error"
)

// ServerStates returns every state of the lifecycle, in its order.
func ServerStates() []ServerState {
	return []ServerState{ServerEnrolled, ServerInspecting, ServerAvailable, ServerProvisioning, ServerActive, ServerDeprovisioning, ServerError}
}

// PowerState is a server's power as last read from its BMC. Unknown is
// never taken for off.
type PowerState string

// The power states.
const (
	PowerStateOn      PowerState = "on"
	PowerStateOff     PowerState = "off"
	PowerStateUnknown PowerState = "unknown"
)

// Provider names the protocol used to reach a BMC.
type Provider string

// The BMC providers.
const (
	ProviderRedfish Provider = "redfish"
	ProviderIPMI    Provider = "ipmi"
)

// Server is a bare-metal machine as Tinman knows it. It holds no secret:
// credentials travel apart, as Credentials.
type Server struct {
	ID     string            `json:"id"`
	BMC    BMC               `json:"bmc"`
	Labels map[string]string `json:"labels,omitempty"`
	// Site is where the server is, as the workers that may reach its BMC
	// are grouped (DefaultSite when empty): its jobs go to that site's
	// queues.
	Site  string      `json:"site,omitempty"`
	State ServerState `json:"state"`
	// StateSince is when the server entered State.
	StateSince time.Time `json:"state_since"`
	// Job is the job that drives a transitional state.
	Job         string       `json:"job,omitempty"`
	PowerState  PowerState   `json:"power_state"`
	Maintenance *Maintenance `json:"maintenance,omitempty"`
	// LastError says why the server is in state error, and which job failed.
	LastError *ServerFailure `json:"last_error,omitempty"`
	// BootMAC is the MAC address the server boots from the network with:
	// the boot service knows a machine by it. Unique across the fleet.
	BootMAC string `json:"boot_mac,omitempty"`
	// Image is the catalogue image the server was last provisioned with.
	Image     string    `json:"image,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// BMC says where and how a server's BMC is reached.
type BMC struct {
	// Address is HOST or HOST:PORT.
	Address  string   `json:"address"`
	Provider Provider `json:"provider"`
	// CipherSuite is the IPMI cipher suite (0: the provider's default).
	CipherSuite int `json:"cipher_suite,omitempty"`
	// VerifyTLS checks the Redfish certificate against the system roots.
	// Off by default: most BMCs present a self-signed certificate.
	VerifyTLS bool `json:"verify_tls,omitempty"`
}

// ServerFailure is why a server went to state error.
type ServerFailure struct {
	Reason string    `json:"reason"`
	JobID  string    `json:"job_id,omitempty"`
	At     time.Time `json:"at"`
}

// Maintenance says why jobs are held off a server.
type Maintenance struct {
	Reason string    `json:"reason"`
	SetBy  string    `json:"set_by"`
	Since  time.Time `json:"since"`
}

// Credentials log in to a BMC. Their String and JSON forms never show the password.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"-"`
}

// String implements fmt.Stringer without the password.
func (c Credentials) String() string { return c.Username + ":<redacted>" }

// Validate checks a server's identity and BMC settings.
func (s Server) Validate() error {
	switch {
	case !ValidServerID(s.ID):
		return Invalid("id", "must match ^[a-z0-9][a-z0-9-]{0,62}$")
	case s.BMC.Address == "":
		return Invalid("bmc.address", "is required")
	case s.BMC.Provider != ProviderRedfish && s.BMC.Provider != ProviderIPMI:
		return Invalid("bmc.provider", "must be one of redfish, ipmi")
	case s.Site != "" && !ValidSite(s.Site):
		return Invalid("site", "must match "+sitePattern.String())
	}
	if err := validBootMAC(s.BootMAC); err != nil {
		return err
	}
	return validAddress(s.BMC.Address)
}

// validAddress checks a BMC address: a host name or IP address, with an
// optional port 1-65535 (an IPv6 address with a port in brackets).
func validAddress(addr string) error {
	host, port := addr, ""
	if h, p, err := net.SplitHostPort(addr); err == nil {
		host, port = h, p
		if port == "" {
			return Invalid("bmc.address", "must be HOST or HOST:PORT, not "+strconv.Quote(addr))
		}
	} else if strings.Count(addr, ":") == 1 { // host: with a port that did not parse
		return Invalid("bmc.address", "must be HOST or HOST:PORT, not "+strconv.Quote(addr))
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return Invalid("bmc.address", "port "+strconv.Quote(port)+" must be 1-65535")
		}
	}
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return nil
	}
	if !hostName.MatchString(host) {
		return Invalid("bmc.address", "host "+strconv.Quote(host)+" is not a host name or IP address")
	}
	return nil
}

// hostName is a DNS name: labels of letters, digits and hyphens, dots between.
var hostName = regexp.MustCompile(`^(?i:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.(?i:[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?))*\.?$`)
