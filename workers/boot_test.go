package workers_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/workers"
)

// failingInstaller reports, for every boot configuration of servers, the
// failure kind with message, then wakes the job.
func (e *env) failingInstaller(ctx context.Context, kind, message string, servers ...string) {
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	go func() {
		for ctx.Err() == nil {
			for _, id := range servers {
				if cfg, err := e.store.BootConfig(ctx, id); err == nil {
					_ = e.store.RecordFailure(ctx, cfg.JobID, kind, message)
					_ = insp.RunTask("default", cfg.JobID)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

// A provision through virtual media inserts the image's ISO (its relative
// URL made one of the boot service's), reads it back, boots once from the
// CD, and ejects it before the server is active.
func TestProvisionThroughVirtualMedia(t *testing.T) {
	t.Parallel()
	bmc := &fakeBMC{state: jobs.PowerStateOn}
	e, evs := provisioned(t, bmc, "prov-vm", `{"image":"ubuntu-24.04","boot":"virtual-media"}`)
	if last := evs[len(evs)-1]; last.State != jobs.StateSucceeded {
		t.Fatalf("provision ended %s %+v", last.State, last.Error)
	}
	want := []string{"power-off", "media-once", "power-on", "installed", "boot-disk", "power-cycle", "booted", "eject-media", "activate"}
	if got := steps(evs); !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	iso := "http://10.0.2.2:8081/boot/files/ubuntu-24.04/installer.iso"
	calls := strings.Join(bmc.Calls(), ",")
	if !strings.Contains(calls, "insert "+iso+",read media,boot cdrom persistent=false") || strings.Count(calls, "eject") != 1 {
		t.Errorf("BMC calls %s, want the ISO inserted, read back, a CD boot once, and one eject", calls)
	}
	if bmc.media.Inserted {
		t.Error("the virtual CD is still inserted after the provision")
	}
	if srv, _ := e.store.Server(context.Background(), "srv-1"); srv.State != jobs.ServerActive || srv.Image != "ubuntu-24.04" {
		t.Errorf("server %s with image %q, want active with ubuntu-24.04", srv.State, srv.Image)
	}
}

// A failure the installer reports fails the job at once with its code, not
// retried and not waiting for the timeout: the server ends in error,
// powered off, booting from its disk, with no boot configuration, and the
// virtual CD ejected.
func TestInstallerFailureFailsTheJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind string
		code jobs.Code
		boot string
	}{
		{store.CallbackChecksumMismatch, jobs.CodeChecksumMismatch, "pxe"},
		{store.CallbackChecksumMismatch, jobs.CodeChecksumMismatch, "virtual-media"},
		{store.CallbackFailed, jobs.CodeInstallerFailed, "pxe"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.boot, func(t *testing.T) {
			t.Parallel()
			bmc := &fakeBMC{state: jobs.PowerStateOn}
			e := setupWith(t, bmc, func(c *workers.Config) { c.InstallerTimeout = time.Hour })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e.failingInstaller(ctx, tt.kind, "sha256 of disk.img is 00ff, want 5e5e", "srv-1")
			e.submit(t, "prov-bad", jobs.Provision, `{"image":"ubuntu-24.04","boot":"`+tt.boot+`"}`)
			evs := e.events(t, "prov-bad")
			last := evs[len(evs)-1]
			if last.State != jobs.StateFailed || last.Error.Code != tt.code || last.Error.Retryable || last.Attempt != 1 {
				t.Fatalf("provision ended %s at attempt %d %+v, want failed %s at once", last.State, last.Attempt, last.Error, tt.code)
			}
			if !strings.Contains(last.Error.Message, "00ff") || !strings.Contains(last.Error.Message, "now off") {
				t.Errorf("message %q, want the installer's words and the power left off", last.Error.Message)
			}
			srv, _ := e.store.Server(context.Background(), "srv-1")
			if srv.State != jobs.ServerError || srv.PowerState != jobs.PowerStateOff {
				t.Errorf("server %s, power %s; want error, off", srv.State, srv.PowerState)
			}
			if _, err := e.store.BootConfig(context.Background(), "srv-1"); jobs.CodeOf(err) != jobs.CodeNotFound {
				t.Errorf("boot configuration after the failure: %v, want none", err)
			}
			calls := bmc.Calls()
			if !slices.Contains(calls, "boot disk persistent=true efi=false") {
				t.Errorf("BMC calls %q: the disk was not set to boot", calls)
			}
			if ejects := slices.Index(calls, "eject") >= 0; ejects != (tt.boot == "virtual-media") {
				t.Errorf("BMC calls %q: an eject is wanted exactly when the CD was used", calls)
			}
		})
	}
}

// A BMC that accepts the virtual media and does not read it back inserted
// fails the job, not retried; the CD is ejected at the end all the same.
func TestVirtualMediaUnverified(t *testing.T) {
	t.Parallel()
	bmc := &fakeBMC{state: jobs.PowerStateOn, mediaLies: true}
	e := setup(t, bmc)
	e.submit(t, "prov-lie", jobs.Provision, `{"image":"ubuntu-24.04","boot":"virtual-media"}`)
	evs := e.events(t, "prov-lie")
	last := evs[len(evs)-1]
	if last.State != jobs.StateFailed || last.Error.Code != workers.CodeMediaUnverified || last.Attempt != 1 {
		t.Fatalf("provision ended %s at attempt %d %+v, want failed %s at once", last.State, last.Attempt, last.Error, workers.CodeMediaUnverified)
	}
	calls := bmc.Calls()
	if calls[len(calls)-1] != "eject" || slices.Contains(calls, "set on") {
		t.Errorf("BMC calls %q, want no power on and an eject last", calls)
	}
}

// An image that left the catalogue fails the provision naming params.image.
func TestProvisionOfAnImageNotInTheCatalogue(t *testing.T) {
	t.Parallel()
	e := setup(t, &fakeBMC{state: jobs.PowerStateOn})
	e.submit(t, "prov-gone", jobs.Provision, `{"image":"windows-95"}`)
	evs := e.events(t, "prov-gone")
	last := evs[len(evs)-1]
	if last.State != jobs.StateFailed || last.Error.Code != jobs.CodeNotFound || last.Error.Field != "params.image" || last.Attempt != 1 {
		t.Fatalf("provision ended %s %+v, want failed not_found naming params.image", last.State, last.Error)
	}
}

// A wipe boots the image it names, else the workers' installer image,
// else the image the server was provisioned with; with none it fails
// naming params.image.
func TestDeprovisionWipeImage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, params, installer, provisioned, want string
	}{
		{"named", `{"image":"ubuntu-26.04"}`, "ubuntu-24.04", "ubuntu-24.04", "ubuntu-26.04"},
		{"the installer image", `{}`, "ubuntu-26.04", "ubuntu-24.04", "ubuntu-26.04"},
		{"the provisioned image", `{}`, "", "ubuntu-24.04", "ubuntu-24.04"},
		{"none", `{}`, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setupWith(t, &fakeBMC{state: jobs.PowerStateOn}, func(c *workers.Config) { c.InstallerImage = tt.installer })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := e.store.SetProvisionedImage(ctx, "srv-1", tt.provisioned); err != nil {
				t.Fatal(err)
			}
			seen := make(chan string, 1)
			go func() {
				for ctx.Err() == nil {
					if cfg, err := e.store.BootConfig(ctx, "srv-1"); err == nil {
						seen <- cfg.Image
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}()
			e.installer(ctx, "srv-1")
			e.submit(t, "wipe-1", jobs.Deprovision, tt.params)
			evs := e.events(t, "wipe-1")
			last := evs[len(evs)-1]
			if tt.want == "" {
				if last.State != jobs.StateFailed || last.Error.Field != "params.image" {
					t.Fatalf("wipe with no image ended %s %+v, want failed naming params.image", last.State, last.Error)
				}
				return
			}
			if last.State != jobs.StateSucceeded {
				t.Fatalf("wipe ended %s %+v", last.State, last.Error)
			}
			if got := <-seen; got != tt.want {
				t.Errorf("the wiper booted image %q, want %q", got, tt.want)
			}
		})
	}
}
