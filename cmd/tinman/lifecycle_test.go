package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/webhook"
)

func fastInstaller(c *devConfig) {
	c.InstallerDelay = 100 * time.Millisecond
	c.Worker.WaitPoll = 200 * time.Millisecond
}

func TestEndToEndProvisionToActive(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, 2, fastInstaller)
	sim := s.sim(t, "sim-02")
	sim.SetPowerState("On")

	s.publish(t, "provision", "e2e-prov", `{"id":"e2e-prov","type":"provision","server":"sim-02","params":{"image":"ubuntu-24.04"}}`)
	evs := s.collect(t, events.Filter{Job: "e2e-prov"}, 2*time.Minute, terminal)
	last := evs[len(evs)-1]
	if last.Type != events.JobSucceeded {
		t.Fatalf("provision ended %s: %s", last.Type, typesOf(evs))
	}
	var states []string
	for _, ev := range evs {
		if ev.Type == events.ServerStateChanged {
			var d events.StateChangedData
			_ = json.Unmarshal(ev.Data, &d)
			states = append(states, string(d.Previous)+">"+string(d.State))
		}
	}
	if want := []string{"available>provisioning", "provisioning>active"}; !slices.Equal(states, want) {
		t.Errorf("state changes %v, want %v", states, want)
	}
	srv, err := s.dev.backend.store.Server(context.Background(), "sim-02")
	if err != nil || srv.State != jobs.ServerActive {
		t.Errorf("sim-02 is %s (%v), want active", srv.State, err)
	}
	var boots []string
	for _, c := range sim.Commands() {
		if c.Op == bmcsim.OpPower {
			boots = append(boots, c.Value+"@"+c.Boot)
		}
	}
	if want := []string{"ForceOff@", "On@Pxe", "ForceRestart@Hdd"}; !slices.Equal(boots, want) {
		t.Errorf("power commands %v, want %v: off, PXE boot into the installer, then a boot from disk", boots, want)
	}
}

func TestEndToEndRacingProvisionsGiveOneJobAndOneRejection(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, 1, func(c *devConfig) { c.InstallerDelay = time.Hour })
	s.publish(t, "provision", "race-a", `{"id":"race-a","type":"provision","server":"sim-01","params":{"image":"ubuntu-24.04"}}`)
	s.publish(t, "provision", "race-b", `{"id":"race-b","type":"provision","server":"sim-01","params":{"image":"debian-13"}}`)

	rejected := s.collect(t, events.Filter{Type: "request.rejected"}, time.Minute, func(events.Event) bool { return true })
	var d events.RejectedData
	_ = json.Unmarshal(rejected[0].Data, &d)
	if d.Error == nil || d.Error.Field != "server" || !strings.Contains(d.Reason, "is provisioning") {
		t.Errorf("rejection %s, want one naming the server's state", rejected[0].Data)
	}
	winner := map[string]string{"race-a": "race-b", "race-b": "race-a"}[d.JobID]
	queued := s.collect(t, events.Filter{Job: winner, Type: "job.queued"}, time.Minute, func(events.Event) bool { return true })
	if len(queued) != 1 {
		t.Errorf("the winner %s was not queued", winner)
	}
}

func TestEndToEndSignedReleaseWebhookRollsTheFleet(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, 4, func(c *devConfig) {
		fastInstaller(c)
		c.WebhookRules = []webhook.Rule{{Name: "images", Repository: "tinmanhq/os-images", Events: []string{"release"},
			Image: "ubuntu-{{.Tag}}", Selector: map[string]string{"fleet": "sim"}, BatchSize: 2}}
	})
	s.enrolImage(t, "ubuntu-v24.04.3")
	payload, err := os.ReadFile("../../webhook/testdata/release-published.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(secret, delivery string) (int, map[string]any) {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(payload)
		req, _ := http.NewRequest(http.MethodPost, s.dev.apiURL+"/v1/webhooks/github", bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "release")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}

	if code, _ := post("forged-secret", "delivery-forged"); code != http.StatusUnauthorized {
		t.Errorf("forged delivery answered %d, want 401", code)
	}
	code, body := post(s.dev.webhookSecret, "delivery-1")
	if code != http.StatusAccepted || body["image"] != "ubuntu-v24.04.3" {
		t.Fatalf("signed release answered %d %v", code, body)
	}
	deployID, _ := body["job_id"].(string)
	// GitHub's own redelivery, and an attacker's replay of the captured
	// body under fresh delivery ids (the header is not signed).
	for _, id := range []string{"delivery-1", "replay-1", "replay-2"} {
		if code, again := post(s.dev.webhookSecret, id); code != http.StatusOK || again["job_id"] != deployID {
			t.Errorf("replayed delivery as %s answered %d %v, want the original job and nothing started", id, code, again)
		}
	}
	// The webhook's deploy is readable at once: it was submitted with a record.
	if job, err := s.dev.backend.store.SubmittedJob(context.Background(), deployID); err != nil || job.Request.ID != deployID {
		t.Errorf("the webhook's deploy has no submitted record: %+v, %v", job, err)
	}
	evs := s.collect(t, events.Filter{Job: deployID}, 3*time.Minute, func(ev events.Event) bool {
		d, _ := ev.JobData()
		return ev.Type.Terminal() && d.JobID == deployID
	})
	if last := evs[len(evs)-1]; last.Type != events.JobSucceeded {
		t.Fatalf("the webhook's deploy ended %s: %s", last.Type, typesOf(evs))
	}
	var batches int
	for _, ev := range evs {
		if ev.Type == events.DeployBatchStarted {
			batches++
		}
	}
	if batches != 2 {
		t.Errorf("%d batches, want 2 (4 servers, 2 at a time)", batches)
	}
	servers, _ := s.dev.backend.store.ListServers(context.Background(), map[string]string{"fleet": "sim"})
	for _, srv := range servers {
		if srv.State != jobs.ServerActive {
			t.Errorf("%s is %s after the rollout, want active", srv.ID, srv.State)
		}
	}
	// Only the signed delivery started anything: one deploy, four provisions.
	all := s.quiet(t, events.Filter{Type: "job.queued"}, time.Second)
	if len(all) != 5 {
		t.Errorf("%d jobs queued, want 5: the forged and the replayed deliveries start nothing", len(all))
	}
}

// A provision canceled while it waits for its installer takes its secrets
// with it: the boot configuration (image, per-job token) is removed when the
// job ends, and a callback with the old token is refused (401), over HTTP as
// an installer would send it.
func TestEndToEndCanceledProvisionEndsItsToken(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, 1, func(c *devConfig) {
		c.InstallerDelay = time.Hour // the installer never reports
		c.Worker.WaitPoll = 200 * time.Millisecond
	})
	ctx := context.Background()
	st := s.dev.backend.store
	s.publish(t, "provision", "cancel-prov", `{"id":"cancel-prov","type":"provision","server":"sim-01","params":{"image":"ubuntu-24.04"}}`)
	s.collect(t, events.Filter{Job: "cancel-prov", Type: "job.progress"}, time.Minute, func(ev events.Event) bool {
		cfg, err := st.BootConfig(ctx, "sim-01")
		return err == nil && cfg.JobID == "cancel-prov"
	})
	cfg, err := st.BootConfig(ctx, "sim-01")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CancelJob(ctx, "cancel-prov", "test"); err != nil {
		t.Fatal(err)
	}
	evs := s.collect(t, events.Filter{Job: "cancel-prov", Type: "job"}, time.Minute, terminal)
	if last := evs[len(evs)-1]; last.Type != events.JobCanceled {
		t.Fatalf("provision ended %s, want canceled", last.Type)
	}
	if _, err := st.BootConfig(ctx, "sim-01"); jobs.CodeOf(err) != jobs.CodeNotFound {
		t.Errorf("boot configuration after the cancel: %v, want none", err)
	}
	body := `{"job_id":"cancel-prov","token":"` + cfg.Token + `","event":"installed"}`
	resp, err := http.Post(s.dev.apiURL+"/v1/servers/sim-01/callbacks", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("callback with the ended job's token: %d, want 401", resp.StatusCode)
	}
}

// An installer that never calls back: the wait ends at its deadline, the
// server is powered off and moved to error with the reason, its boot
// configuration is gone, and the failure says what Tinman knew (last step,
// power before and after, the boot configuration, never its token).
func TestEndToEndInstallerNeverCallsBack(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, 1, func(c *devConfig) {
		c.InstallerDelay = time.Hour // the installer never reports
		c.Worker.WaitPoll = 200 * time.Millisecond
		c.Worker.InstallerTimeout = 2 * time.Second
	})
	ctx := context.Background()
	s.publish(t, "provision", "silent-inst", `{"id":"silent-inst","type":"provision","server":"sim-01","params":{"image":"ubuntu-24.04"}}`)
	evs := s.collect(t, events.Filter{Job: "silent-inst", Type: "job"}, 2*time.Minute, terminal)
	last := evs[len(evs)-1]
	d, _ := last.JobData()
	if last.Type != events.JobFailed || d.Error == nil || d.Error.Code != "installer_timeout" {
		t.Fatalf("provision ended %s %+v, want failed installer_timeout", last.Type, d.Error)
	}
	for _, want := range []string{"last step power-on", "power on, now off", `install of image "ubuntu-24.04"`} {
		if !strings.Contains(d.Error.Message, want) {
			t.Errorf("failure %q does not say %q", d.Error.Message, want)
		}
	}
	st := s.dev.backend.store
	srv, err := st.Server(ctx, "sim-01")
	if err != nil || srv.State != jobs.ServerError || srv.LastError == nil || !strings.Contains(srv.LastError.Reason, "installer_timeout") && !strings.Contains(srv.LastError.Reason, "no installed callback") {
		t.Errorf("server after the timeout: %+v (%v), want error with the reason", srv.LastError, err)
	}
	if got := s.sim(t, "sim-01").PowerState(); got != "Off" {
		t.Errorf("BMC power %s after the timeout, want Off", got)
	}
	if _, err := st.BootConfig(ctx, "sim-01"); jobs.CodeOf(err) != jobs.CodeNotFound {
		t.Errorf("boot configuration after the timeout: %v, want none", err)
	}
	if target, enabled := s.sim(t, "sim-01").BootOverride(); target != "Hdd" || enabled != "Continuous" {
		t.Errorf("boot override %s/%s after the timeout, want the disk, persistent (Hdd/Continuous)", target, enabled)
	}
}
