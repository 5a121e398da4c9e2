package workers_test

import (
	"fmt"
	"testing"

	"github.com/tinmanhq/tinman/workers"
)

func TestDeployWording(t *testing.T) {
	t.Parallel()
	var many []string
	for i := 1; i <= 2500; i++ {
		many = append(many, fmt.Sprintf("s%d", i))
	}
	for _, tt := range []struct{ got, want string }{
		{workers.Plural(0, "server", "servers"), "0 servers"},
		{workers.Plural(1, "server", "servers"), "1 server"},
		{workers.Plural(2, "batch", "batches"), "2 batches"},
		{workers.Names(many[:2], workers.SampleSize), "s1, s2"},
		{workers.Names(many[:3], 2), "s1, s2 and 1 more"},
		{workers.Reasons([]workers.ChildFailure{{Server: "s1", Code: "bmc_auth_failed", Message: "refused"}}, 3), "s1 (bmc_auth_failed: refused)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if got := workers.Names(many, workers.SampleSize); len(got) > 200 {
		t.Errorf("2,500 names take %d characters: %q", len(got), got)
	}
}
