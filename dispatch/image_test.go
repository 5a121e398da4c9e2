package dispatch_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// The dispatcher refuses what the catalogue cannot serve, naming the
// param: a deploy or provision of an unknown image, virtual media over
// IPMI; and leaves the server's state alone.
func TestDispatchChecksTheCatalogue(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	provisionable(t, e)
	for _, c := range []struct {
		id, typ, body string
		code          jobs.Code
		field         string
	}{
		{"unknown-image", "provision", `{"id":"unknown-image","type":"provision","server":"s1","params":{"image":"windows-95"}}`, jobs.CodeNotFound, "params.image"},
		{"unknown-deploy", "deploy", `{"id":"unknown-deploy","type":"deploy","params":{"image":"windows-95","servers":["s1"]}}`, jobs.CodeNotFound, "params.image"},
		{"ipmi-media", "provision", `{"id":"ipmi-media","type":"provision","server":"s1","params":{"image":"ubuntu-24.04","boot":"virtual-media"}}`, jobs.CodeUnsupportedOperation, "params.boot"},
	} {
		e.publish(t, events.RequestSubject(c.typ), c.id, c.body)
		ev := e.next(t, events.Filter{Type: "request.rejected", Job: c.id})
		var d events.RejectedData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Error == nil || d.Error.Code != c.code || d.Error.Field != c.field {
			t.Errorf("%s rejected with %+v, want %s naming %s", c.id, d.Error, c.code, c.field)
		}
	}
	if srv, _ := e.store.Server(ctx, "s1"); srv.State != jobs.ServerAvailable {
		t.Errorf("s1 is %s after the rejections, want available", srv.State)
	}
	e.publish(t, events.RequestSubject("provision"), "known-image", `{"id":"known-image","type":"provision","server":"s1","params":{"image":"ubuntu-24.04"}}`)
	e.task(t, "known-image")
}

// A request delivered again after its job ran and ended (its ack was lost
// in a NATS failover) is a duplicate: it claims nothing and is not
// rejected, even though the server has gone back to a state the request
// could claim. (It used to claim the server again for the ended job and
// leave it provisioning for good.)
func TestDispatchRedeliveryOfAnEndedProvisionClaimsNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	provisionable(t, e)
	body := `{"id":"prov-once","type":"provision","server":"s1","params":{"image":"ubuntu-24.04"}}`
	e.publish(t, events.RequestSubject("provision"), "", body)
	e.task(t, "prov-once")
	// The job fails and leaves its server; an operator makes it available again.
	e.end(t, "prov-once", jobs.StateFailed, events.JobFailed)
	if _, err := e.store.TransitionServer(ctx, "s1", []jobs.ServerState{jobs.ServerProvisioning}, jobs.ServerAvailable, "", "test: made available"); err != nil {
		t.Fatal(err)
	}
	e.publish(t, events.RequestSubject("provision"), "", body) // no Nats-Msg-Id: JetStream keeps it, as a redelivery
	waitTerminated(t, e.js)
	if srv, err := e.store.Server(ctx, "s1"); err != nil || srv.State != jobs.ServerAvailable || srv.Job != "" {
		t.Errorf("s1 after the duplicate: %s held by %q (%v), want available and held by no job", srv.State, srv.Job, err)
	}
	if _, err := e.insp.GetTaskInfo("default", "prov-once"); err == nil {
		t.Error("the duplicate of an ended job was enqueued again")
	}
	if got, err := e.store.Job(ctx, "prov-once"); err != nil || got.State != jobs.StateFailed {
		t.Errorf("job after the duplicate: %+v (%v), want failed", got, err)
	}
}

// provisionable makes s1 available with a boot MAC and puts ubuntu-24.04
// in the catalogue.
func provisionable(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.store.UpdateServer(ctx, "s1", func(srv *jobs.Server, _ *jobs.Credentials) error {
		srv.State, srv.BootMAC = jobs.ServerAvailable, "52:54:00:00:00:51"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	img := jobs.Image{Name: "ubuntu-24.04", KernelURL: "u/vmlinuz", InitrdURL: "u/initrd.img", ISOURL: "u/installer.iso",
		ImageURL: "u/disk.img", SHA256: strings.Repeat("aa", 32)}
	if _, err := e.store.AddImage(ctx, img); err != nil {
		t.Fatal(err)
	}
}
