package bmcsim_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
)

// collectLinks gathers every "@odata.id" in doc, without fragments.
func collectLinks(v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "@odata.id" {
				out[strings.SplitN(s, "#", 2)[0]] = true
				continue
			}
			collectLinks(val, out)
		}
	case []any:
		for _, val := range x {
			collectLinks(val, out)
		}
	}
}

// TestEveryLinkResolves crawls the tree from the service root: every
// @odata.id served must answer 200 with JSON.
func TestEveryLinkResolves(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	c := rawClient(b)
	seen := map[string]bool{"/redfish/v1/": true}
	queue := []string{"/redfish/v1/"}
	for len(queue) > 0 && len(seen) < 500 {
		p := queue[0]
		queue = queue[1:]
		links := map[string]bool{}
		collectLinks(authedGet(t, c, b, p), links)
		for l := range links {
			if !seen[l] {
				seen[l] = true
				queue = append(queue, l)
			}
		}
	}
	if len(seen) < 30 {
		t.Errorf("crawled %d resources, want at least 30", len(seen))
	}
}

func TestAuthAndValidation(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	c := rawClient(b)
	user, pass := b.Credentials()
	tests := []struct {
		name string
		req  rawRequest
		want int
	}{
		{name: "root is public", req: rawRequest{method: http.MethodGet, path: "/redfish/v1/"}, want: 200},
		{name: "root without slash", req: rawRequest{method: http.MethodGet, path: "/redfish/v1"}, want: 200},
		{name: "version document", req: rawRequest{method: http.MethodGet, path: "/redfish"}, want: 200},
		{name: "system needs auth", req: rawRequest{method: http.MethodGet, path: "/redfish/v1/Systems/1"}, want: 401},
		{name: "bad token", req: rawRequest{method: http.MethodGet, path: "/redfish/v1/Systems/1", token: "nope"}, want: 401},
		{name: "basic auth", req: rawRequest{method: http.MethodGet, path: "/redfish/v1/Systems/1", basicAuth: true}, want: 200},
		{name: "unknown resource", req: rawRequest{method: http.MethodGet, path: "/redfish/v1/Nope", basicAuth: true}, want: 404},
		{name: "method not allowed", req: rawRequest{method: http.MethodDelete, path: "/redfish/v1/Systems/1", basicAuth: true}, want: 405},
		{name: "login wrong password", req: rawRequest{method: http.MethodPost, path: "/redfish/v1/SessionService/Sessions",
			body: map[string]string{"UserName": user, "Password": pass + "x"}}, want: 401},
		{name: "login malformed", req: rawRequest{method: http.MethodPost, path: "/redfish/v1/SessionService/Sessions", body: "x"}, want: 400},
		{name: "reset type not allowed", req: rawRequest{method: http.MethodPost, path: "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
			body: map[string]string{"ResetType": "Explode"}, basicAuth: true}, want: 400},
		{name: "boot target not allowed", req: rawRequest{method: http.MethodPatch, path: "/redfish/v1/Systems/1",
			body: map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Tape"}}, basicAuth: true}, want: 400},
		{name: "manager reset type not allowed", req: rawRequest{method: http.MethodPost, path: "/redfish/v1/Managers/1/Actions/Manager.Reset",
			body: map[string]string{"ResetType": "PowerCycle"}, basicAuth: true}, want: 400},
		{name: "insert without image", req: rawRequest{method: http.MethodPost, path: "/redfish/v1/Managers/1/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia",
			body: map[string]string{}, basicAuth: true}, want: 400},
		{name: "logout unknown session", req: rawRequest{method: http.MethodDelete, path: "/redfish/v1/SessionService/Sessions/nope", basicAuth: true}, want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, _, body := do(t, c, b, tt.req)
			if status != tt.want {
				t.Fatalf("%s %s = %d, want %d: %s", tt.req.method, tt.req.path, status, tt.want, body)
			}
			if status >= 400 && !json.Valid(body) {
				t.Errorf("error body is not JSON: %s", body)
			}
		})
	}
}

// TestSessionLifecycle checks what gofish relies on: 201, X-Auth-Token and a
// Location that DELETE accepts.
func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	c := rawClient(b)
	user, pass := b.Credentials()
	status, hdr, _ := do(t, c, b, rawRequest{method: http.MethodPost, path: "/redfish/v1/SessionService/Sessions",
		body: map[string]string{"UserName": user, "Password": pass}})
	token, location := hdr.Get("X-Auth-Token"), hdr.Get("Location")
	if status != http.StatusCreated || token == "" || !strings.HasPrefix(location, "/redfish/v1/SessionService/Sessions/") {
		t.Fatalf("login = %d token=%q location=%q", status, token, location)
	}
	for _, req := range []rawRequest{
		{method: http.MethodGet, path: "/redfish/v1/Systems/1", token: token},
		{method: http.MethodGet, path: location, token: token},
		{method: http.MethodGet, path: "/redfish/v1/SessionService/Sessions", token: token},
	} {
		if status, _, body := do(t, c, b, req); status != http.StatusOK {
			t.Fatalf("GET %s with token = %d: %s", req.path, status, body)
		}
	}
	if status, _, _ := do(t, c, b, rawRequest{method: http.MethodDelete, path: location, token: token}); status != http.StatusNoContent {
		t.Fatalf("logout = %d, want 204", status)
	}
	if status, _, _ := do(t, c, b, rawRequest{method: http.MethodGet, path: "/redfish/v1/Systems/1", token: token}); status != http.StatusUnauthorized {
		t.Errorf("GET with logged-out token = %d, want 401", status)
	}
}

// TestResetSemantics covers every accepted ResetType from both states.
func TestResetSemantics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		initial, resetType, want, boot string
	}{
		{"Off", "On", "On", "Pxe"},
		{"Off", "ForceOn", "On", "Pxe"},
		{"On", "On", "On", ""},
		{"On", "ForceOff", "Off", ""},
		{"On", "GracefulShutdown", "Off", ""},
		{"On", "PushPowerButton", "Off", ""},
		{"Off", "PushPowerButton", "On", "Pxe"},
		{"On", "PowerCycle", "On", "Pxe"},
		{"Off", "PowerCycle", "On", "Pxe"},
		{"On", "ForceRestart", "On", "Pxe"},
		{"Off", "GracefulRestart", "On", "Pxe"},
		{"On", "Nmi", "On", ""},
	}
	for _, tt := range tests {
		t.Run(tt.initial+"/"+tt.resetType, func(t *testing.T) {
			t.Parallel()
			b := startBMC(t, bmcsim.Config{InitialPowerState: tt.initial})
			c := rawClient(b)
			patch := rawRequest{method: http.MethodPatch, path: "/redfish/v1/Systems/1", basicAuth: true,
				body: map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}}}
			if status, _, body := do(t, c, b, patch); status != http.StatusNoContent {
				t.Fatalf("PATCH boot = %d: %s", status, body)
			}
			reset := rawRequest{method: http.MethodPost, path: "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", basicAuth: true,
				body: map[string]string{"ResetType": tt.resetType}}
			if status, _, body := do(t, c, b, reset); status != http.StatusNoContent {
				t.Fatalf("POST reset = %d: %s", status, body)
			}
			if got := authedGet(t, c, b, "/redfish/v1/Systems/1")["PowerState"]; got != tt.want {
				t.Errorf("PowerState = %v, want %s", got, tt.want)
			}
			cmds := wantCommands(t, b, "boot:Pxe", "power:"+tt.resetType)
			if cmds[1].Boot != tt.boot {
				t.Errorf("boot source = %q, want %q", cmds[1].Boot, tt.boot)
			}
			wantEnabled := "Once"
			if tt.boot != "" {
				wantEnabled = "Disabled"
			}
			if _, enabled := b.BootOverride(); enabled != wantEnabled {
				t.Errorf("override enabled = %q, want %q", enabled, wantEnabled)
			}
		})
	}
}

func TestSetPowerStateDirect(t *testing.T) {
	t.Parallel()
	b := bmcsim.New(bmcsim.Config{})
	for _, tt := range []struct{ in, want string }{{"off", "Off"}, {"ON", "On"}, {"bogus", "On"}} {
		b.SetPowerState(tt.in)
		if got := b.PowerState(); got != tt.want {
			t.Errorf("SetPowerState(%q) -> %q, want %q", tt.in, got, tt.want)
		}
	}
	if n := len(b.Commands()); n != 0 {
		t.Errorf("SetPowerState logged %d commands, want 0", n)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	b := bmcsim.New(bmcsim.Config{})
	if b.Addr() != "" {
		t.Errorf("Addr before Start = %q", b.Addr())
	}
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := b.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	for i := range 2 {
		if err := b.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if err := b.Start("127.0.0.1:0"); !errors.Is(err, bmcsim.ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
	b.Faults().SetOffline(true) // no effect after Close, must not panic
	if b.Faults().Offline() {
		t.Error("Offline after Close = true")
	}
}
