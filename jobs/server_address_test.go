package jobs_test

import (
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

func TestServerBMCAddress(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"10.0.0.5", true}, {"10.0.0.5:623", true}, {"bmc-01.rack2.example.com", true}, {"bmc-01:8443", true},
		{"[fe80::1]:443", true}, {"fe80::1", true}, {"127.0.0.1:65535", true},
		{"10.0.0.5:0", false}, {"10.0.0.5:65536", false}, {"10.0.0.5:https", false}, {"bmc 01", false},
		{"http://10.0.0.5", false}, {"bmc_01;rm -rf", false}, {"10.0.0.5:", false}, {"-bmc", false},
	} {
		srv := jobs.Server{ID: "srv-1", BMC: jobs.BMC{Address: tt.addr, Provider: jobs.ProviderRedfish}}
		err := srv.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("address %q: Validate() = %v, want ok %v", tt.addr, err, tt.ok)
		}
		if err != nil && jobs.AsError(err).Field != "bmc.address" {
			t.Errorf("address %q: error names %q, want bmc.address", tt.addr, jobs.AsError(err).Field)
		}
	}
}
