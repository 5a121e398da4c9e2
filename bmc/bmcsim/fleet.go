package bmcsim

import (
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
)

// Fleet is a set of simulated BMCs, each on its own 127.0.0.1 port. All share
// one self-signed certificate and the same Config.
type Fleet struct {
	bmcs   []*BMC
	shared *shared
}

// StartFleet starts n BMCs configured by cfg on 127.0.0.1 ports of the
// ephemeral range, taken in turn (see ports). On error every BMC already
// started is closed.
func StartFleet(n int, cfg Config) (*Fleet, error) {
	return StartFleetFunc(n, func(int) Config { return cfg })
}

// StartFleetFunc is StartFleet with the config of member i from cfg(i): for
// a hook that must know which BMC it serves.
func StartFleetFunc(n int, cfg func(i int) Config) (*Fleet, error) {
	if n < 0 {
		return nil, fmt.Errorf("bmcsim: fleet size %d < 0", n)
	}
	sh, err := newShared()
	if err != nil {
		return nil, err
	}
	f := &Fleet{bmcs: make([]*BMC, 0, n), shared: sh}
	free := newPorts()
	for i := range n {
		b := newBMC(cfg(i), sh)
		if err := free.start(b); err != nil {
			closeErr := f.Close()
			return nil, errors.Join(fmt.Errorf("bmcsim: start fleet member %d of %d: %w", i, n, err), closeErr)
		}
		f.bmcs = append(f.bmcs, b)
	}
	return f, nil
}

// BMCs returns the fleet's BMCs in start order (a copy of the slice).
func (f *Fleet) BMCs() []*BMC { return append([]*BMC(nil), f.bmcs...) }

// RootCAs returns a pool holding the certificate every fleet member serves.
func (f *Fleet) RootCAs() *x509.CertPool { return f.shared.cert.pool }

// Close closes every BMC concurrently and joins their errors. It is
// idempotent.
func (f *Fleet) Close() error {
	errs := make([]error, len(f.bmcs))
	var wg sync.WaitGroup
	for i, b := range f.bmcs {
		wg.Go(func() { errs[i] = b.Close() })
	}
	wg.Wait()
	return errors.Join(errs...)
}
