package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/boot"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/workers"
)

// bootGet reads a URL of the running boot service: status and body.
func bootGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// bootGetAs reads a URL of the running boot service with another Host.
func bootGetAs(t *testing.T, url, host string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// bootPost posts a report to a callback URL the boot service handed out.
func bootPost(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestEndToEndBootService plays a real machine against the real wiring:
// the machine asks the boot service by MAC, reads its metadata, downloads
// its disk image from the boot service's files and checks it, and reports
// through the boot listener alone. Before the provision and after it (the
// server active) the script exits to the disk, as for an unknown MAC; the
// metadata of the ended job is 404.
func TestEndToEndBootService(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	logs := &servicetest.Buffer{}
	s := startDevWith(t, redisURL, 1, func(c *devConfig) {
		c.InstallerDelay = time.Hour // this test is the installer
		c.Worker.WaitPoll = 200 * time.Millisecond
		c.Logger = zerolog.New(logs).Level(zerolog.DebugLevel)
	})
	base, mac := s.dev.bootURL, strings.ToUpper(strings.ReplaceAll(simMAC(0), ":", "-"))
	exit := "#!ipxe\nexit\n"
	if code, body := bootGet(t, base+"/boot/chain.ipxe"); code != 200 || body != "#!ipxe\nchain "+base+"/boot/ipxe?mac=${net0/mac}\n" {
		t.Errorf("chain.ipxe = %d %q", code, body)
	}
	vmBase := vmBootURL(base) // with no --boot-url, a VM that asks as 10.0.2.2 is answered on 10.0.2.2
	if body := bootGetAs(t, base+"/boot/chain.ipxe", strings.TrimPrefix(vmBase, "http://")); body != "#!ipxe\nchain "+vmBase+"/boot/ipxe?mac=${net0/mac}\n" {
		t.Errorf("chain.ipxe asked as %s = %q", vmBase, body)
	}
	for _, m := range []string{mac, "52:54:00:99:99:99"} {
		if _, body := bootGet(t, base+"/boot/ipxe?mac="+m); body != exit {
			t.Errorf("script of %s with no provision = %q, want exit", m, body)
		}
	}

	s.publish(t, "provision", "boot-prov", `{"id":"boot-prov","type":"provision","server":"sim-01","params":{"image":"tinman-demo"}}`)
	s.collect(t, events.Filter{Job: "boot-prov", Type: "job.progress"}, time.Minute, func(ev events.Event) bool {
		d, _ := ev.JobData()
		return d.Step == "wait-installed"
	})
	_, script := bootGet(t, base+"/boot/ipxe?mac="+mac)
	metaURL := kernelArg(script, "tinman.meta")
	if !strings.HasPrefix(script, "#!ipxe\nkernel "+base+"/boot/files/tinman-demo/vmlinuz tinman.meta="+base+"/boot/meta/") ||
		!strings.Contains(script, "\ninitrd "+base+"/boot/files/tinman-demo/initrd.img\nboot\n") || metaURL == "" {
		t.Fatalf("install script %q", script)
	}
	code, body := bootGet(t, metaURL)
	var meta boot.Metadata
	if err := json.Unmarshal([]byte(body), &meta); code != 200 || err != nil {
		t.Fatalf("metadata %d %q (%v)", code, body, err)
	}
	if meta.JobID != "boot-prov" || meta.Server != "sim-01" || meta.Purpose != "install" || meta.Image != "tinman-demo" ||
		meta.CallbackURL != base+"/boot/callbacks/sim-01" || meta.ImageURL != base+"/boot/files/tinman-demo/disk.img" {
		t.Errorf("metadata %+v", meta)
	}
	if _, sh := bootGet(t, metaURL+"?format=sh"); !strings.Contains(sh, "JOB_ID='boot-prov'\n") || !strings.Contains(sh, "TOKEN='"+meta.Token+"'\n") {
		t.Errorf("metadata as shell %q", sh)
	}
	_, disk := bootGet(t, meta.ImageURL)
	if sum := sha256.Sum256([]byte(disk)); hex.EncodeToString(sum[:]) != meta.SHA256 {
		t.Errorf("the disk image served does not have the metadata's SHA-256")
	}
	report := func(event string) string {
		return fmt.Sprintf(`{"job_id":%q,"token":%q,"event":%q}`, meta.JobID, meta.Token, event)
	}
	if code := bootPost(t, meta.CallbackURL, report("installed")); code != http.StatusNoContent {
		t.Fatalf("installed through the boot listener: %d", code)
	}
	if _, body := bootGet(t, base+"/boot/ipxe?mac="+mac); body != exit {
		t.Errorf("script once installed = %q, want exit: the machine boots its new disk", body)
	}
	s.collect(t, events.Filter{Job: "boot-prov", Type: "job.progress"}, time.Minute, func(ev events.Event) bool {
		d, _ := ev.JobData()
		return d.Step == "wait-booted"
	})
	booted := strings.TrimSuffix(report("booted"), "}") + `,"image":"tinman-demo"}`
	if code := bootPost(t, meta.CallbackURL, booted); code != http.StatusNoContent {
		t.Fatalf("booted through the boot listener: %d", code)
	}
	evs := s.collect(t, events.Filter{Job: "boot-prov", Type: "job"}, time.Minute, terminal)
	if last := evs[len(evs)-1]; last.Type != events.JobSucceeded {
		t.Fatalf("provision ended %s", last.Type)
	}
	if job, _ := s.dev.backend.store.Job(context.Background(), "boot-prov"); !strings.Contains(string(job.Result), `"booted_image":"tinman-demo"`) {
		t.Errorf("provision result %s, want the image the OS reported", job.Result)
	}
	if srv, _ := s.dev.backend.store.Server(context.Background(), "sim-01"); srv.State != jobs.ServerActive || srv.Image != "tinman-demo" {
		t.Errorf("sim-01 %s with image %q, want active with tinman-demo", srv.State, srv.Image)
	}
	if _, body := bootGet(t, base+"/boot/ipxe?mac="+mac); body != exit {
		t.Errorf("script of the active server = %q, want exit", body)
	}
	if code, _ := bootGet(t, metaURL); code != http.StatusNotFound {
		t.Errorf("metadata of the ended job = %d, want 404", code)
	}
	if code := bootPost(t, meta.CallbackURL, report("booted")); code != http.StatusUnauthorized {
		t.Errorf("a report with the ended job's token = %d, want 401", code)
	}
	if !strings.Contains(logs.String(), "boot metadata served") {
		t.Fatal("the boot service's logs were not captured: the next check proves nothing")
	}
	if strings.Contains(logs.String(), meta.Token) {
		t.Error("a log line carries the job's boot token")
	}
}

// TestEndToEndProvisionThroughVirtualMedia: real bmclib against the Redfish
// simulator inserts the image's ISO (a URL of the boot service), reads it
// back, boots once from the CD (where the simulated machine's ISO chains to
// the boot service), and ejects it at the end.
func TestEndToEndProvisionThroughVirtualMedia(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, 1, fastInstaller)
	s.sim(t, "sim-01").SetPowerState("On")
	s.publish(t, "provision", "vm-prov", `{"id":"vm-prov","type":"provision","server":"sim-01","params":{"image":"tinman-demo","boot":"virtual-media"}}`)
	evs := s.collect(t, events.Filter{Job: "vm-prov", Type: "job"}, 2*time.Minute, terminal)
	if last := evs[len(evs)-1]; last.Type != events.JobSucceeded {
		t.Fatalf("provision ended %s: %s", last.Type, typesOf(evs))
	}
	iso := s.dev.bootURL + "/boot/files/tinman-demo/installer.iso"
	var got []string
	for _, c := range s.sim(t, "sim-01").Commands() {
		switch c.Op {
		case bmcsim.OpVirtualMedia:
			got = append(got, c.Value+" "+c.Detail)
		case bmcsim.OpPower:
			got = append(got, c.Value+"@"+c.Boot)
		}
	}
	want := []string{"ForceOff@", "InsertMedia " + iso, "On@Cd", "ForceRestart@Hdd", "EjectMedia "}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("BMC commands %q, want %q", got, want)
	}
	if image, inserted := s.sim(t, "sim-01").VirtualMedia(); inserted || image != "" {
		t.Errorf("virtual CD %q inserted=%v after the provision, want empty", image, inserted)
	}
	checkNoSessionLeft(t, s.sim(t, "sim-01"))
}

// The dispatcher refuses, naming the param, what the catalogue or the BMC
// cannot do: an unknown image, virtual media over IPMI; and a provision of
// a server with no boot MAC.
func TestEndToEndBootAdmission(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDev(t, redisURL, 1)
	enrol(t, s, "ipmi-01", jobs.BMC{Address: "127.0.0.1:623", Provider: jobs.ProviderIPMI}, "admin", "password")
	for _, c := range []struct{ id, body, code, field string }{
		{"adm-image", `{"id":"adm-image","type":"provision","server":"sim-01","params":{"image":"windows-95"}}`, "not_found", "params.image"},
		{"adm-ipmi", `{"id":"adm-ipmi","type":"provision","server":"ipmi-01","params":{"image":"tinman-demo","boot":"virtual-media"}}`, "unsupported_operation", "params.boot"},
		{"adm-mac", `{"id":"adm-mac","type":"provision","server":"ipmi-01","params":{"image":"tinman-demo"}}`, "conflict", "server"},
	} {
		s.publish(t, "provision", c.id, c.body)
		evs := s.collect(t, events.Filter{Type: "request.rejected", Job: c.id}, 30*time.Second, func(events.Event) bool { return true })
		var d events.RejectedData
		if err := json.Unmarshal(evs[0].Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Error == nil || string(d.Error.Code) != c.code || d.Error.Field != c.field {
			t.Errorf("%s rejected with %+v, want %s naming %s", c.id, d.Error, c.code, c.field)
		}
	}
	if srv, _ := s.dev.backend.store.Server(context.Background(), "sim-01"); srv.State != jobs.ServerAvailable {
		t.Errorf("sim-01 %s after the rejections, want available", srv.State)
	}
}

// An inspect gives a server with no boot MAC the MAC of the first NIC its
// BMC reports, through real bmclib, unless another server has it.
func TestEndToEndInspectFindsTheBootMAC(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDev(t, redisURL, 1)
	ctx := context.Background()
	st := s.dev.backend.store
	sim := s.sim(t, "sim-01")
	user, pass := sim.Credentials()
	enrol(t, s, "twin", jobs.BMC{Address: sim.Addr(), Provider: jobs.ProviderRedfish}, user, pass)
	s.publish(t, "inspect", "twin-inspect", `{"id":"twin-inspect","type":"inspect","server":"twin"}`)
	s.collect(t, events.Filter{Job: "twin-inspect", Type: "job"}, time.Minute, terminal)
	if srv, _ := st.Server(ctx, "twin"); srv.BootMAC != "" {
		t.Errorf("twin took boot MAC %s, which is sim-01's", srv.BootMAC)
	}
	if _, err := st.UpdateServer(ctx, "sim-01", func(srv *jobs.Server, _ *jobs.Credentials) error { srv.BootMAC = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	s.publish(t, "inspect", "sim-inspect", `{"id":"sim-inspect","type":"inspect","server":"sim-01"}`)
	evs := s.collect(t, events.Filter{Job: "sim-inspect", Type: "job"}, time.Minute, terminal)
	if last := evs[len(evs)-1]; last.Type != events.JobSucceeded {
		t.Fatalf("inspect ended %s", last.Type)
	}
	if srv, _ := st.Server(ctx, "sim-01"); srv.BootMAC != simMAC(0) {
		t.Errorf("sim-01's boot MAC after the inspect %q, want its NIC's %s", srv.BootMAC, simMAC(0))
	}
}

// TestEndToEndDeployThroughVirtualMedia: a deploy's boot reaches each of
// its provisions: the Redfish server boots the image's ISO through virtual
// media (real bmclib, the simulator's CD), and the IPMI server's provision
// is refused naming params.boot, as a provision of its own would be, and
// counts as the deploy's failure.
func TestEndToEndDeployThroughVirtualMedia(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, 1, fastInstaller)
	ctx := context.Background()
	ipmi := jobs.Server{ID: "ipmi-01", BMC: jobs.BMC{Address: "127.0.0.1:623", Provider: jobs.ProviderIPMI}, BootMAC: "02:00:5e:de:99:01",
		State: jobs.ServerAvailable, PowerState: jobs.PowerStateOff}
	if err := s.dev.backend.store.PutServer(ctx, ipmi, jobs.Credentials{Username: "admin", Password: "password"}); err != nil {
		t.Fatal(err)
	}
	s.publish(t, "deploy", "vm-roll", `{"id":"vm-roll","type":"deploy","params":{"image":"tinman-demo","servers":["sim-01","ipmi-01"],"batch_size":2,"max_failures":1,"boot":"virtual-media"}}`)
	rejected := s.collect(t, events.Filter{Type: "request.rejected", Job: "vm-roll.ipmi-01"}, time.Minute, func(events.Event) bool { return true })
	var d events.RejectedData
	if err := json.Unmarshal(rejected[0].Data, &d); err != nil || d.Error == nil ||
		d.Error.Code != jobs.CodeUnsupportedOperation || d.Error.Field != "params.boot" {
		t.Errorf("ipmi-01's provision rejected with %+v (%v), want unsupported_operation naming params.boot", d.Error, err)
	}
	s.collect(t, events.Filter{Job: "vm-roll", Type: "job"}, 2*time.Minute, terminal)
	job, err := s.dev.backend.store.Job(ctx, "vm-roll")
	if err != nil {
		t.Fatal(err)
	}
	var plan workers.DeployPlan
	if err := json.Unmarshal(job.Result, &plan); err != nil || plan.Boot != jobs.BootVirtualMedia ||
		strings.Join(plan.SucceededSample, ",") != "sim-01" || len(plan.Failures) != 1 || plan.Failures[0].Server != "ipmi-01" ||
		plan.Failures[0].Code != jobs.CodeUnsupportedOperation {
		t.Errorf("deploy plan %s (%v), want boot virtual-media, sim-01 succeeded, ipmi-01 failed unsupported_operation", job.Result, err)
	}
	var media []string
	for _, c := range s.sim(t, "sim-01").Commands() {
		if c.Op == bmcsim.OpVirtualMedia {
			media = append(media, c.Value)
		}
	}
	if strings.Join(media, ",") != "InsertMedia,EjectMedia" {
		t.Errorf("sim-01's virtual media commands %q, want the ISO inserted then ejected", media)
	}
}
