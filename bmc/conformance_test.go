package bmc_test

import (
	"testing"

	"github.com/tinmanhq/tinman/bmc/bmctest"
	"github.com/tinmanhq/tinman/bmc/ipmisim"
)

// TestConformanceRedfish runs the BMC conformance suite against the
// in-process Redfish simulator through bmclib's redfish provider.
func TestConformanceRedfish(t *testing.T) {
	t.Parallel()
	bmctest.Run(t, bmctest.Redfish())
}

// TestConformanceIPMI runs the BMC conformance suite against OpenIPMI's
// ipmi_sim through bmclib's ipmitool provider. Without ipmi_sim and ipmitool
// it skips (fails under CI=true).
func TestConformanceIPMI(t *testing.T) {
	t.Parallel()
	ipmisim.RequireTools(t)
	bmctest.Run(t, bmctest.IPMI())
}
