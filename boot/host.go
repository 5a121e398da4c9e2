package boot

import (
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// hostnamePattern is a DNS name or an IPv4 address: dot-separated labels
// of letters, digits and inner hyphens.
var hostnamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// baseFor is the base URL of what r is answered with: BaseURL when it is
// set; else the scheme and Host the machine used to reach the service (a
// VM under QEMU's user network says 10.0.2.2:port, a process on the host
// 127.0.0.1:port), so each machine is handed URLs it can reach; else, when
// Host is not host[:port] (a hostile one must not reach the iPXE script),
// the URL of the address the service listens on.
func (s *Service) baseFor(r *http.Request) string {
	if s.base != "" {
		return s.base
	}
	if !validHost(r.Host) {
		return s.listen
	}
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// validHost reports whether h is host[:port] and nothing else: a DNS name,
// an IPv4 address or a bracketed IPv6 address (no zone), and a port of 1
// to 65535.
func validHost(h string) bool {
	if h == "" || len(h) > 260 {
		return false
	}
	host := h
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		host = h[:i]
		if !validPort(h[i+1:]) {
			return false
		}
	}
	if inner, ok := strings.CutPrefix(host, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		return ok && strings.Contains(inner, ":") && net.ParseIP(inner) != nil
	}
	return hostnamePattern.MatchString(host)
}

// validPort reports whether p is a port number, digits only.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}
