package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/boot"
	"github.com/tinmanhq/tinman/callback"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// startTestBoot serves the boot service on st for a test whose roles run
// as processes (no tinman dev), with the demo image's stand-in files, and
// enrols that image under each of names; it returns the service's URL.
func startTestBoot(t *testing.T, st *store.Store, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := writeDemoFiles(filepath.Join(dir, demoImage)); err != nil {
		t.Fatal(err)
	}
	sum, err := fileSHA256(filepath.Join(dir, demoImage, "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		img := jobs.Image{Name: name, KernelURL: demoImage + "/vmlinuz", InitrdURL: demoImage + "/initrd.img",
			ISOURL: demoImage + "/installer.iso", ImageURL: demoImage + "/disk.img", SHA256: sum}
		if _, err := st.AddImage(t.Context(), img); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	recv := callback.NewReceiver(st, nil, zerolog.Nop())
	svc, err := boot.New(boot.Config{BaseURL: url, FilesDir: dir, Store: st, Callbacks: http.HandlerFunc(recv.ServeCallback)})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = svc.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = svc.Close() })
	return url
}
