package bmcsim

import (
	"net"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// A port in use is skipped; a range with no free port is an error that
// names it.
func TestPortsSkipPortsInUse(t *testing.T) {
	t.Parallel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	port := held.Addr().(*net.TCPAddr).Port
	sh, err := newShared()
	if err != nil {
		t.Fatal(err)
	}
	b := newBMC(Config{Logger: zerolog.Nop()}, sh)
	defer b.Close()
	p := &ports{lo: port, hi: port, next: port}
	if err := p.start(b); err == nil || !strings.Contains(err.Error(), "no free port") {
		t.Fatalf("start on a range whose one port is in use = %v, want no free port", err)
	}
	if b.Addr() != "" {
		t.Errorf("the BMC listens on %s after the refusal", b.Addr())
	}
	p = newPorts()
	if err := p.start(b); err != nil || b.Addr() == "" || p.lo > p.hi {
		t.Fatalf("start in the ephemeral range %d-%d = %v (addr %q)", p.lo, p.hi, err, b.Addr())
	}
}
