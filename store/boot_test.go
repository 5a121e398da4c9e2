package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

func testImage(name string) jobs.Image {
	return jobs.Image{Name: name, KernelURL: name + "/vmlinuz", InitrdURL: name + "/initrd.img",
		ImageURL: "https://images.example.com/" + name + ".img", SHA256: strings.Repeat("0f", 32)}
}

// The catalogue: an image is added once (a second add of the name is a
// conflict naming it), listed by name, read, and removed once.
func TestImageCatalogue(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		for _, name := range []string{"ubuntu-24.04", "debian-13"} {
			if _, err := st.AddImage(ctx, testImage(name)); err != nil {
				t.Fatal(err)
			}
		}
		_, err := st.AddImage(ctx, testImage("debian-13"))
		if e := jobs.AsError(err); e == nil || e.Code != jobs.CodeConflict || e.Field != "name" {
			t.Errorf("second add = %v, want a conflict naming name", err)
		}
		bad := testImage("bad")
		bad.SHA256 = "nope"
		if _, err := st.AddImage(ctx, bad); jobs.AsError(err).Field != "sha256" {
			t.Errorf("add of a bad checksum = %v, want it refused naming sha256", err)
		}
		list, err := st.Images(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "debian-13" || list[1].Name != "ubuntu-24.04" || list[0].CreatedAt.IsZero() {
			t.Fatalf("Images = %+v, %v; want debian-13 then ubuntu-24.04", list, err)
		}
		if img, err := st.Image(ctx, "ubuntu-24.04"); err != nil || img.KernelURL != "ubuntu-24.04/vmlinuz" {
			t.Errorf("Image = %+v, %v", img, err)
		}
		if err := st.RemoveImage(ctx, "ubuntu-24.04"); err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{st.RemoveImage(ctx, "ubuntu-24.04"), func() error { _, err := st.Image(ctx, "ubuntu-24.04"); return err }()} {
			if jobs.CodeOf(err) != jobs.CodeNotFound {
				t.Errorf("after removal: %v, want not_found", err)
			}
		}
	})
}

// Boot MACs are unique across the fleet, however a server gets one:
// enrolled, replaced, changed, or taken from its inspected NICs; a removed
// server frees its MAC, and a changed one its old MAC.
func TestBootMACsAreUnique(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		const a, b = "52:54:00:00:00:0a", "52:54:00:00:00:0b"
		creds := jobs.Credentials{Username: "u", Password: "p"}
		enrol := func(id, mac string) error {
			return st.EnrollServer(ctx, jobs.Server{ID: id, BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish}, BootMAC: mac}, creds)
		}
		conflict := func(what string, err error) {
			t.Helper()
			if e := jobs.AsError(err); e == nil || e.Code != jobs.CodeConflict || e.Field != "boot_mac" {
				t.Errorf("%s: %v, want a conflict naming boot_mac", what, err)
			}
		}
		setMAC := func(id, mac string) error {
			_, err := st.UpdateServer(ctx, id, func(srv *jobs.Server, _ *jobs.Credentials) error { srv.BootMAC = mac; return nil })
			return err
		}
		if err := enrol("mac-1", a); err != nil {
			t.Fatal(err)
		}
		conflict("enrol with a MAC in use", enrol("mac-2", a))
		if _, err := st.Server(ctx, "mac-2"); jobs.CodeOf(err) != jobs.CodeNotFound {
			t.Errorf("the refused enrolment left server mac-2: %v", err)
		}
		if err := enrol("mac-2", ""); err != nil {
			t.Fatal(err)
		}
		conflict("change to a MAC in use", setMAC("mac-2", a))
		conflict("put with a MAC in use", st.PutServer(ctx, jobs.Server{ID: "mac-2", BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish}, BootMAC: a}, creds))
		inv := jobs.Inventory{NICs: []jobs.NIC{{ID: "nic0"}, {ID: "nic1", MAC: "52-54-00-00-00-0A"}}}
		if err := st.SetInventory(ctx, "mac-2", inv); err != nil {
			t.Fatalf("an inventory whose MAC is taken: %v, want it stored without the MAC", err)
		}
		if srv, _ := st.Server(ctx, "mac-2"); srv.BootMAC != "" {
			t.Errorf("mac-2 took boot MAC %s, which is mac-1's", srv.BootMAC)
		}
		if err := setMAC("mac-1", b); err != nil { // a moves to b: a is free
			t.Fatal(err)
		}
		if err := st.SetInventory(ctx, "mac-2", inv); err != nil {
			t.Fatal(err)
		}
		for mac, want := range map[string]string{a: "mac-2", b: "mac-1"} {
			if srv, err := st.ServerByMAC(ctx, mac); err != nil || srv.ID != want {
				t.Errorf("ServerByMAC(%s) = %s, %v; want %s", mac, srv.ID, err, want)
			}
		}
		if err := st.RemoveServer(ctx, "mac-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ServerByMAC(ctx, b); jobs.CodeOf(err) != jobs.CodeNotFound {
			t.Errorf("the removed server's MAC: %v, want not_found", err)
		}
		if err := enrol("mac-3", b); err != nil {
			t.Errorf("enrol with a removed server's MAC: %v", err)
		}
	})
}

// Two servers racing for one MAC: exactly one gets it.
func TestBootMACRace(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		const mac = "52:54:00:00:00:99"
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				srv := jobs.Server{ID: "race-" + string(rune('a'+i)), BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish}, BootMAC: mac}
				errs[i] = st.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch e := jobs.AsError(err); {
			case err == nil:
				won++
			case e.Field != "boot_mac":
				t.Errorf("a racer failed with %v", err)
			}
		}
		if won != 1 {
			t.Errorf("%d servers got MAC %s, want exactly one", won, mac)
		}
	})
}

// A boot configuration is found by its server and by its token until its
// job clears it; a new one for the server ends the old token.
func TestBootConfigByToken(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		cfg := store.BootConfig{Server: "srv-1", JobID: "prov-1", Purpose: "install", Token: "tok-1", Expires: time.Now().Add(time.Hour)}
		cfg.ImageOf(testImage("ubuntu-24.04"))
		if err := st.SetBootConfig(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		if got, err := st.BootConfigByToken(ctx, "tok-1"); err != nil || got.JobID != "prov-1" || got.Kernel != "ubuntu-24.04/vmlinuz" {
			t.Fatalf("BootConfigByToken = %+v, %v", got, err)
		}
		for _, tok := range []string{"tok-2", "", "tok-"} {
			if _, err := st.BootConfigByToken(ctx, tok); jobs.CodeOf(err) != jobs.CodeNotFound {
				t.Errorf("token %q: %v, want not_found", tok, err)
			}
		}
		next := cfg
		next.JobID, next.Token = "prov-2", "tok-2"
		if err := st.SetBootConfig(ctx, next); err != nil {
			t.Fatal(err)
		}
		if _, err := st.BootConfigByToken(ctx, "tok-1"); jobs.CodeOf(err) != jobs.CodeNotFound {
			t.Errorf("the replaced configuration's token: %v, want not_found", err)
		}
		if err := st.ClearBootConfig(ctx, "srv-1", "prov-1"); err != nil { // not its job's: kept
			t.Fatal(err)
		}
		if _, err := st.BootConfigByToken(ctx, "tok-2"); err != nil {
			t.Errorf("another job's clear removed the configuration: %v", err)
		}
		if err := st.ClearBootConfig(ctx, "srv-1", "prov-2"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.BootConfigByToken(ctx, "tok-2"); jobs.CodeOf(err) != jobs.CodeNotFound {
			t.Errorf("the ended job's token: %v, want not_found", err)
		}
	})
}

// A failure report is read back with its kind and message; the first one
// counts.
func TestInstallerFailure(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		if f, err := st.Failure(ctx, "prov-1"); f != nil || err != nil {
			t.Fatalf("Failure of a job with no report = %+v, %v", f, err)
		}
		if err := st.RecordCallback(ctx, "prov-1", store.CallbackInstalled); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordFailure(ctx, "prov-1", store.CallbackChecksumMismatch, "sha256 0f0f... is not 1234..."); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		if err := st.RecordFailure(ctx, "prov-1", store.CallbackFailed, "later"); err != nil {
			t.Fatal(err)
		}
		f, err := st.Failure(ctx, "prov-1")
		if err != nil || f == nil || f.Kind != store.CallbackChecksumMismatch || f.Message != "sha256 0f0f... is not 1234..." {
			t.Errorf("Failure = %+v, %v; want the checksum mismatch with its message", f, err)
		}
	})
}

// What a report said with its kind (the image a booted OS found) is read
// back; a kind not reported is not_found, one reported bare is "".
func TestCallbackDetail(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		if _, err := st.CallbackDetail(ctx, "prov-1", store.CallbackBooted); jobs.CodeOf(err) != jobs.CodeNotFound {
			t.Fatalf("detail of a report not made: %v, want not_found", err)
		}
		if err := st.RecordCallback(ctx, "prov-1", store.CallbackInstalled); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordCallbackDetail(ctx, "prov-1", store.CallbackBooted, "tinman-demo"); err != nil {
			t.Fatal(err)
		}
		if got, err := st.CallbackDetail(ctx, "prov-1", store.CallbackInstalled); got != "" || err != nil {
			t.Errorf("detail of installed = %q, %v; want empty", got, err)
		}
		if got, err := st.CallbackDetail(ctx, "prov-1", store.CallbackBooted); got != "tinman-demo" || err != nil {
			t.Errorf("detail of booted = %q, %v; want tinman-demo", got, err)
		}
		if ok, err := st.CallbackReceived(ctx, "prov-1", store.CallbackBooted); !ok || err != nil {
			t.Errorf("booted with a detail not received: %v, %v", ok, err)
		}
	})
}
