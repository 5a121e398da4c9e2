package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

// TestPatchLeavesCredentialsSealed: a PATCH that changes no credential
// does not open them: it succeeds with a secret key that cannot open them,
// and leaves them sealed byte for byte; a PATCH of a credential needs them.
func TestPatchLeavesCredentialsSealed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	want(t, e.do(t, RoleAdmin, "POST", "/v1/servers", enrolBody), http.StatusCreated)
	sealed := func() string {
		t.Helper()
		data, err := e.rdb.Get(context.Background(), "tinman:server:srv-9").Bytes()
		if err != nil {
			t.Fatal(err)
		}
		rec, err := jsonField(data, "credentials")
		if err != nil || rec == "" {
			t.Fatalf("sealed credentials in %s: %v", data, err)
		}
		return rec
	}
	before := sealed()
	// The same Redis, behind an API whose store has another key.
	wrong := storetest.Store(t, e.rdb, nil, store.Config{Logger: zerolog.Nop(), SecretKey: store.NewKey()})
	e.api = mustNew(t, e.config(t, func(c *Config) { c.Store = wrong }))
	t.Cleanup(func() { _ = e.api.Close() })
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	if _, _, err := wrong.ServerWithCredentials(context.Background(), "srv-9"); err == nil {
		t.Fatal("the other key opens the credentials: the test proves nothing")
	}
	for _, c := range []struct {
		role Role
		body string
	}{
		{RoleOperator, `{"maintenance":{"reason":"fan swap"}}`},
		{RoleOperator, `{"maintenance":null}`},
		{RoleAdmin, `{"labels":{"rack":"r7"},"bmc":{"address":"10.0.0.99:623","verify_tls":true}}`},
	} {
		want(t, e.do(t, c.role, "PATCH", "/v1/servers/srv-9", c.body), http.StatusOK)
		if got := sealed(); got != before {
			t.Errorf("PATCH %s sealed the credentials again", c.body)
		}
	}
	for _, body := range []string{`{"password":"n3w-SECRET-pw"}`, `{"username":"n3w-user","maintenance":null}`} {
		if p := e.do(t, RoleAdmin, "PATCH", "/v1/servers/srv-9", body).problem(t); p.Status != http.StatusInternalServerError {
			t.Errorf("PATCH %s with a key that cannot open the credentials: %+v, want 500", body, p)
		}
	}
	_, creds, err := e.store.ServerWithCredentials(context.Background(), "srv-9")
	if err != nil || creds.Username != "root-user-x9" || creds.Password != "hunter2-SECRET-pw" {
		t.Errorf("credentials after the patches: %v, %v", creds, err)
	}
	srv, err := e.store.Server(context.Background(), "srv-9")
	if err != nil || srv.Labels["rack"] != "r7" || srv.BMC.Address != "10.0.0.99:623" || srv.Maintenance != nil {
		t.Errorf("server after the patches: %+v, %v", srv, err)
	}
}

// jsonField returns the string member key of a JSON object.
func jsonField(data []byte, key string) (string, error) {
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		return "", err
	}
	s, _ := obj[key].(string)
	return s, nil
}
