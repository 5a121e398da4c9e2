package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

var demoSHA = strings.Repeat("9c", 32)

const imageBody = `{"name":"ubuntu-24.04","kernel_url":"ubuntu/vmlinuz","initrd_url":"https://images.example.com/ubuntu/initrd.img",
	"iso_url":"ubuntu/installer.iso","image_url":"https://images.example.com/ubuntu/disk.img","sha256":"` + "9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c" + `"}`

// The catalogue over HTTP: an admin adds and removes, a viewer reads; a
// name twice is 409 naming name; an unknown name 404.
func TestImageCatalogueRoutes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if p := e.do(t, RoleOperator, "POST", "/v1/images", imageBody).problem(t); p.Status != http.StatusForbidden {
		t.Errorf("an operator adding an image: %+v", p)
	}
	a := e.do(t, RoleAdmin, "POST", "/v1/images", imageBody)
	want(t, a, http.StatusCreated)
	var img jobs.Image
	a.decode(t, &img)
	if loc := a.header.Get("Location"); loc != "/v1/images/ubuntu-24.04" || img.SHA256 != demoSHA || img.CreatedAt.IsZero() {
		t.Errorf("added %+v at %q", img, loc)
	}
	if p := e.do(t, RoleAdmin, "POST", "/v1/images", imageBody).problem(t); p.Status != http.StatusConflict || p.Field != "name" {
		t.Errorf("the same name again: %+v", p)
	}
	a = e.do(t, RoleViewer, "GET", "/v1/images", "")
	want(t, a, http.StatusOK)
	var list ImageList
	a.decode(t, &list)
	if len(list.Images) != 1 || list.Images[0].Name != "ubuntu-24.04" {
		t.Errorf("GET /v1/images: %+v", list)
	}
	want(t, e.do(t, RoleViewer, "GET", "/v1/images/ubuntu-24.04", ""), http.StatusOK)
	for _, path := range []string{"/v1/images/debian-13", "/v1/images/no%20such"} {
		if p := e.do(t, RoleViewer, "GET", path, "").problem(t); p.Status != http.StatusNotFound {
			t.Errorf("GET %s: %+v", path, p)
		}
	}
	if p := e.do(t, RoleOperator, "DELETE", "/v1/images/ubuntu-24.04", "").problem(t); p.Status != http.StatusForbidden {
		t.Errorf("an operator removing an image: %+v", p)
	}
	want(t, e.do(t, RoleAdmin, "DELETE", "/v1/images/ubuntu-24.04", ""), http.StatusNoContent)
	if p := e.do(t, RoleAdmin, "DELETE", "/v1/images/ubuntu-24.04", "").problem(t); p.Status != http.StatusNotFound {
		t.Errorf("remove twice: %+v", p)
	}
}

func TestAddImageRefuses(t *testing.T) {
	t.Parallel()
	e := setup(t)
	with := func(old, new string) string { return strings.Replace(imageBody, old, new, 1) }
	for name, c := range map[string]struct{ body, field string }{
		"no checksum":         {with(`"sha256":"`+demoSHA+`"`, `"sha256":""`), "sha256"},
		"short checksum":      {with(demoSHA, "9c9c"), "sha256"},
		"ftp kernel":          {with(`"ubuntu/vmlinuz"`, `"ftp://example.com/vmlinuz"`), "kernel_url"},
		"a path that goes up": {with(`"ubuntu/installer.iso"`, `"../../etc/shadow"`), "iso_url"},
		"credentials":         {with(`https://images.example.com/ubuntu/disk.img`, `https://u:p@images.example.com/disk.img`), "image_url"},
		"a bad name":          {with(`"ubuntu-24.04"`, `"os/ubuntu"`), "name"},
		"no initrd":           {with(`"initrd_url":"https://images.example.com/ubuntu/initrd.img",`, ``), "initrd_url"},
		"an unknown field":    {with(`"name"`, `"colour":"red","name"`), "colour"},
		"created_at given":    {with(`"name"`, `"created_at":"2026-01-01T00:00:00Z","name"`), "created_at"},
	} {
		t.Run(name, func(t *testing.T) {
			a := e.do(t, RoleAdmin, "POST", "/v1/images", c.body)
			if p := a.problem(t); p.Status != http.StatusBadRequest || p.Field != c.field {
				t.Errorf("%d %+v, want 400 naming %s", a.status, p, c.field)
			}
		})
	}
}

// A provision names a catalogue image (400 naming params.image otherwise,
// before anything is published); virtual media needs Redfish (422 naming
// params.boot) and an image with an ISO (400 naming params.boot).
func TestSubmitChecksTheImageAndTheBoot(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	for id, p := range map[string]jobs.Provider{"rf-1": jobs.ProviderRedfish, "ipmi-1": jobs.ProviderIPMI} {
		srv := jobs.Server{ID: id, BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: p}, State: jobs.ServerAvailable, BootMAC: map[string]string{
			"rf-1": "52:54:00:00:01:01", "ipmi-1": "52:54:00:00:01:02"}[id]}
		if err := e.store.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
			t.Fatal(err)
		}
	}
	want(t, e.do(t, RoleAdmin, "POST", "/v1/images", imageBody), http.StatusCreated)
	noISO := strings.Replace(strings.Replace(imageBody, `"iso_url":"ubuntu/installer.iso",`, "", 1), "ubuntu-24.04", "net-only", 1)
	want(t, e.do(t, RoleAdmin, "POST", "/v1/images", noISO), http.StatusCreated)
	for name, c := range map[string]struct {
		body   string
		status int
		field  string
	}{
		"unknown image":             {`{"type":"provision","server":"rf-1","params":{"image":"windows-95"}}`, 400, "params.image"},
		"unknown image of a deploy": {`{"type":"deploy","params":{"image":"windows-95","servers":["rf-1"]}}`, 400, "params.image"},
		"unknown wipe image":        {`{"type":"deprovision","server":"rf-1","params":{"image":"windows-95"}}`, 400, "params.image"},
		"virtual media over IPMI":   {`{"type":"provision","server":"ipmi-1","params":{"image":"ubuntu-24.04","boot":"virtual-media"}}`, 422, "params.boot"},
		"virtual media, no ISO":     {`{"type":"provision","server":"rf-1","params":{"image":"net-only","boot":"virtual-media"}}`, 400, "params.boot"},
		"a bad boot":                {`{"type":"provision","server":"rf-1","params":{"image":"ubuntu-24.04","boot":"usb"}}`, 400, "params.boot"},
	} {
		t.Run(name, func(t *testing.T) {
			a := e.do(t, RoleOperator, "POST", "/v1/jobs", c.body)
			if p := a.problem(t); p.Status != c.status || p.Field != c.field {
				t.Errorf("%d %+v, want %d naming %s", a.status, p, c.status, c.field)
			}
		})
	}
	want(t, e.do(t, RoleOperator, "POST", "/v1/jobs", `{"type":"provision","server":"rf-1","params":{"image":"ubuntu-24.04","boot":"virtual-media"}}`), http.StatusAccepted)
}

// A server's boot MAC: given at enrolment in any case and with ':' or '-',
// kept lower case with ':', changed and cleared by PATCH (admin), unique
// across the fleet (409 naming boot_mac).
func TestBootMAC(t *testing.T) {
	t.Parallel()
	e := setup(t)
	enrol := func(id, mac string) answer {
		return e.do(t, RoleAdmin, "POST", "/v1/servers", `{"id":"`+id+`","bmc":{"address":"10.0.0.9","provider":"redfish"},
			"username":"u","password":"p","boot_mac":"`+mac+`"}`)
	}
	a := enrol("mac-1", "52-54-00-AB-CD-01")
	want(t, a, http.StatusCreated)
	var srv jobs.Server
	a.decode(t, &srv)
	if srv.BootMAC != "52:54:00:ab:cd:01" {
		t.Errorf("boot_mac %q, want it lower case with ':'", srv.BootMAC)
	}
	if p := enrol("mac-2", "52:54:00:ab:cd:01").problem(t); p.Status != http.StatusConflict || p.Field != "boot_mac" {
		t.Errorf("a MAC in use: %+v", p)
	}
	if p := enrol("mac-2", "52:54:00:ab:cd").problem(t); p.Status != http.StatusBadRequest || p.Field != "boot_mac" {
		t.Errorf("five bytes: %+v", p)
	}
	want(t, enrol("mac-2", "52:54:00:ab:cd:02"), http.StatusCreated)
	patch := func(role Role, id, body string) answer { return e.do(t, role, "PATCH", "/v1/servers/"+id, body) }
	if p := patch(RoleAdmin, "mac-2", `{"boot_mac":"52:54:00:AB:CD:01"}`).problem(t); p.Status != http.StatusConflict || p.Field != "boot_mac" {
		t.Errorf("PATCH to a MAC in use: %+v", p)
	}
	if p := patch(RoleOperator, "mac-2", `{"boot_mac":"52:54:00:ab:cd:03"}`).problem(t); p.Status != http.StatusForbidden {
		t.Errorf("an operator changing the MAC: %+v", p)
	}
	for body, field := range map[string]string{`{"boot_mac":7}`: "boot_mac", `{"boot_mac":"nope"}`: "boot_mac"} {
		if p := patch(RoleAdmin, "mac-2", body).problem(t); p.Status != http.StatusBadRequest || p.Field != field {
			t.Errorf("PATCH %s: %+v", body, p)
		}
	}
	a = patch(RoleAdmin, "mac-1", `{"boot_mac":null}`)
	want(t, a, http.StatusOK)
	srv = jobs.Server{}
	a.decode(t, &srv)
	if srv.BootMAC != "" {
		t.Errorf("boot_mac after null: %q", srv.BootMAC)
	}
	a = patch(RoleAdmin, "mac-2", `{"boot_mac":"52:54:00:ab:cd:01"}`) // freed by mac-1
	want(t, a, http.StatusOK)
	a.decode(t, &srv)
	if srv.BootMAC != "52:54:00:ab:cd:01" {
		t.Errorf("boot_mac after the change: %q", srv.BootMAC)
	}
}
