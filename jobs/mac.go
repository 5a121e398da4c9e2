package jobs

import (
	"net"
	"strings"
)

// ParseMAC reads an Ethernet MAC address written in any case with ":" or
// "-" between its six bytes (as iPXE, Redfish and DHCP servers write them)
// and returns it in the one form Tinman keeps: lower case, ":" separated.
// Anything else is an invalid_request naming field.
func ParseMAC(field, s string) (string, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil || len(hw) != 6 || strings.Contains(s, ".") {
		return "", Invalid(field, "must be a MAC address of six bytes, such as 52:54:00:12:34:56")
	}
	return hw.String(), nil
}

// validBootMAC checks a stored boot MAC: empty (none) or in ParseMAC's form.
func validBootMAC(mac string) error {
	if mac == "" {
		return nil
	}
	if canon, err := ParseMAC("boot_mac", mac); err != nil || canon != mac {
		return Invalid("boot_mac", "must be a MAC address in lower case with ':', such as 52:54:00:12:34:56")
	}
	return nil
}
