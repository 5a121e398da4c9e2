package bmcsim_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	bmclib "github.com/bmc-toolbox/bmclib/v2"
	"github.com/bmc-toolbox/bmclib/v2/providers/redfish"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
)

const (
	// openTimeout bounds Open. bmclib's redfish provider also turns it into the
	// HTTP client timeout of every later request of that client.
	openTimeout = 30 * time.Second
	// callTimeout bounds one bmclib call in tests; generous for loaded CI.
	callTimeout = 60 * time.Second
	// pollLimit bounds polling loops.
	pollLimit = 240
	pollPause = 250 * time.Millisecond
)

// startBMC starts a BMC on 127.0.0.1 and closes it when the test ends.
func startBMC(t *testing.T, cfg bmcsim.Config) *bmcsim.BMC {
	t.Helper()
	b := bmcsim.New(cfg)
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// newClient builds a bmclib client narrowed to the redfish (gofish) provider.
// bmclib's default HTTP transport skips certificate verification, so the
// simulator's self-signed certificate is accepted; pass
// bmclib.WithSecureTLS(b.RootCAs()) to verify it instead.
func newClient(t *testing.T, b *bmcsim.BMC, user, pass string, opts ...bmclib.Option) *bmclib.Client {
	t.Helper()
	cl, err := buildClient(b, user, pass, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// buildClient is newClient for use outside the test goroutine.
func buildClient(b *bmcsim.BMC, user, pass string, opts ...bmclib.Option) (*bmclib.Client, error) {
	host, port, err := net.SplitHostPort(b.Addr())
	if err != nil {
		return nil, fmt.Errorf("split %q: %w", b.Addr(), err)
	}
	opts = append([]bmclib.Option{bmclib.WithRedfishPort(port)}, opts...)
	cl := bmclib.NewClient(host, user, pass, opts...)
	cl.Registry.Drivers = cl.Registry.For(redfish.ProviderName)
	if len(cl.Registry.Drivers) != 1 {
		return nil, fmt.Errorf("registry narrowed to %d drivers, want 1 (gofish)", len(cl.Registry.Drivers))
	}
	return cl, nil
}

// openClient opens a bmclib client with the BMC's credentials and closes it
// when the test ends (before the BMC closes).
func openClient(t *testing.T, b *bmcsim.BMC, opts ...bmclib.Option) *bmclib.Client {
	t.Helper()
	return openClientTimeout(t, b, openTimeout, opts...)
}

// openClientTimeout is openClient with an explicit Open timeout, which
// bmclib's redfish provider also uses as HTTP timeout for every later call.
func openClientTimeout(t *testing.T, b *bmcsim.BMC, timeout time.Duration, opts ...bmclib.Option) *bmclib.Client {
	t.Helper()
	user, pass := b.Credentials()
	cl := newClient(t, b, user, pass, opts...)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if err := cl.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close(context.Background()) })
	return cl
}

// callCtx returns a context bounding one bmclib call.
func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// mustPowerState returns bmclib's view of the power state.
func mustPowerState(t *testing.T, cl *bmclib.Client) string {
	t.Helper()
	state, err := cl.GetPowerState(callCtx(t))
	if err != nil {
		t.Fatalf("GetPowerState: %v", err)
	}
	return state
}

// commandValues lists "op:value" for every logged command.
func commandValues(cmds []bmcsim.Command) []string {
	out := make([]string, 0, len(cmds))
	for _, c := range cmds {
		out = append(out, c.Op+":"+c.Value)
	}
	return out
}

// wantCommands fails unless the BMC logged exactly want ("op:value").
func wantCommands(t *testing.T, b *bmcsim.BMC, want ...string) []bmcsim.Command {
	t.Helper()
	cmds := b.Commands()
	if got := commandValues(cmds); !slices.Equal(got, want) {
		t.Fatalf("commands = %q, want %q", got, want)
	}
	return cmds
}

// waitFor polls cond until it holds, failing after pollLimit attempts.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range pollLimit {
		if cond() {
			return
		}
		time.Sleep(pollPause)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// rawClient is a plain HTTPS client trusting the BMC's certificate.
func rawClient(b *bmcsim.BMC) *http.Client {
	return &http.Client{
		Timeout: callTimeout,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: b.RootCAs(), MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		},
	}
}

// rawRequest describes one hand-made Redfish request.
type rawRequest struct {
	method, path string
	body         any
	basicAuth    bool
	token        string
}

// do performs req and returns the status, headers and body.
func do(t *testing.T, c *http.Client, b *bmcsim.BMC, req rawRequest) (int, http.Header, []byte) {
	t.Helper()
	resp, err := send(t.Context(), c, b, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.method, req.path, err)
	}
	return resp.StatusCode, resp.Header, data
}

// send performs req with ctx; the caller closes the body.
func send(ctx context.Context, c *http.Client, b *bmcsim.BMC, req rawRequest) (*http.Response, error) {
	var body io.Reader
	if req.body != nil {
		data, err := json.Marshal(req.body)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	}
	r, err := http.NewRequestWithContext(ctx, req.method, "https://"+b.Addr()+req.path, body)
	if err != nil {
		return nil, err
	}
	if req.basicAuth {
		r.SetBasicAuth(b.Credentials())
	}
	if req.token != "" {
		r.Header.Set("X-Auth-Token", req.token)
	}
	r.Header.Set("Content-Type", "application/json")
	return c.Do(r)
}

// authedGet is a GET with Basic credentials that must answer 200.
func authedGet(t *testing.T, c *http.Client, b *bmcsim.BMC, path string) map[string]any {
	t.Helper()
	status, _, data := do(t, c, b, rawRequest{method: http.MethodGet, path: path, basicAuth: true})
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", path, status, data)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("GET %s: invalid JSON: %v", path, err)
	}
	return doc
}
