package bmcsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
)

// portRangeFile holds the kernel's ephemeral port range ("32768\t60999").
const portRangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// ports hands out loopback ports of the ephemeral range in turn, from a
// random start. Binding "127.0.0.1:0" makes the kernel search the range for
// a free port, which grows with every port bound (starting 10,000 BMCs that
// way took over a minute); binding a named port costs the same whatever is
// bound, and a port in use is skipped.
type ports struct {
	lo, hi, next int
}

func newPorts() *ports {
	lo, hi := 32768, 60999
	if data, err := os.ReadFile(portRangeFile); err == nil {
		var l, h int
		if n, _ := fmt.Sscan(string(data), &l, &h); n == 2 && 0 < l && l < h && h < 65536 {
			lo, hi = l, h
		}
	}
	return &ports{lo: lo, hi: hi, next: lo + rand.IntN(hi-lo+1)}
}

// start starts b on the next free port of the range.
func (p *ports) start(b *BMC) error {
	for range p.hi - p.lo + 1 {
		port := p.next
		p.next++
		if p.next > p.hi {
			p.next = p.lo
		}
		err := b.Start(fmt.Sprintf("127.0.0.1:%d", port))
		if !errors.Is(err, syscall.EADDRINUSE) {
			return err
		}
	}
	return fmt.Errorf("bmcsim: no free port in %d-%d", p.lo, p.hi)
}
