package bmcsim_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
)

// The control API sets and shows the knobs, refuses what it does not know,
// and a knob it sets is what the BMC does: offline refuses connections.
func TestControl(t *testing.T) {
	t.Parallel()
	fleet, err := bmcsim.StartFleet(2, bmcsim.Config{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fleet.Close() })
	control, err := bmcsim.NewControl(fleet, []string{"b1", "b2"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(control)
	t.Cleanup(srv.Close)
	do := func(method, path, body string) (int, bmcsim.BMCState) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st bmcsim.BMCState
		_ = json.NewDecoder(resp.Body).Decode(&st)
		return resp.StatusCode, st
	}
	b1 := fleet.BMCs()[0]
	code, st := do(http.MethodPatch, "/sim/bmcs/b1/faults", `{"offline": true, "latency": "250ms", "fail_next": 2, "max_sessions": 1}`)
	if code != http.StatusOK || !*st.Faults.Offline || time.Duration(*st.Faults.Latency) != 250*time.Millisecond ||
		*st.Faults.FailNext != 2 || *st.Faults.MaxSessions != 1 {
		t.Fatalf("PATCH = %d %+v", code, st)
	}
	if c, err := net.DialTimeout("tcp", b1.Addr(), time.Second); err == nil {
		_ = c.Close()
		t.Error("an offline BMC accepted a connection")
	}
	if code, st = do(http.MethodPatch, "/sim/bmcs/b1/faults", `{"offline": false}`); code != http.StatusOK || *st.Faults.Offline {
		t.Fatalf("PATCH offline false = %d %+v", code, st)
	}
	c, err := net.DialTimeout("tcp", b1.Addr(), time.Second)
	if err != nil {
		t.Fatalf("the BMC back online refuses connections: %v", err)
	}
	_ = c.Close()
	for _, bad := range []string{`{"error_rate": 2}`, `{"fail_next": -1}`, `{"max_sessions": -2}`, `{"latency": "soon"}`, `{"colour": "red"}`, `[1]`} {
		if code, _ := do(http.MethodPatch, "/sim/bmcs/b1/faults", bad); code != http.StatusBadRequest {
			t.Errorf("PATCH %s = %d, want 400", bad, code)
		}
	}
	if code, _ := do(http.MethodPatch, "/sim/bmcs/nope/faults", `{}`); code != http.StatusNotFound {
		t.Errorf("PATCH of an unknown BMC = %d, want 404", code)
	}
	if code, st := do(http.MethodGet, "/sim/bmcs/b2", ""); code != http.StatusOK || st.Address != fleet.BMCs()[1].Addr() {
		t.Errorf("GET b2 = %d %+v", code, st)
	}
}
