package callback_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// The installer's reports, as scripts/installer/lib.sh report() sends
// them: failed with a code and a message is recorded as the failure of
// that code (checksum_mismatch) or as failed with the code in its message;
// a code, a message or an image goes only with its event.
func TestCallbackFailureReports(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       int
		kind, msg  string // the failure recorded, "" none
		field      string // the field a 400 names
	}{
		{"checksum mismatch", `{"job_id":"prov-1","token":"s3cret-token","event":"failed","code":"checksum_mismatch","message":"sha256 of disk.img is 00ff..., want 1234..."}`,
			204, "checksum_mismatch", "sha256 of disk.img is 00ff..., want 1234...", ""},
		{"failed with another code", `{"job_id":"prov-1","token":"s3cret-token","event":"failed","code":"download_failed","message":"cannot download"}`,
			204, "failed", "download_failed: cannot download", ""},
		{"failed without a code", `{"job_id":"prov-1","token":"s3cret-token","event":"failed","message":"boom"}`, 204, "failed", "boom", ""},
		{"failed bare", `{"job_id":"prov-1","token":"s3cret-token","event":"failed"}`, 204, "failed", "", ""},
		{"the old checksum_mismatch event", `{"job_id":"prov-1","token":"s3cret-token","event":"checksum_mismatch"}`, 400, "", "", "event"},
		{"a code on success", `{"job_id":"prov-1","token":"s3cret-token","event":"installed","code":"checksum_mismatch"}`, 400, "", "", "code"},
		{"a code not a code", `{"job_id":"prov-1","token":"s3cret-token","event":"failed","code":"Checksum Mismatch"}`, 400, "", "", "code"},
		{"a message on success", `{"job_id":"prov-1","token":"s3cret-token","event":"installed","message":"all good"}`, 400, "", "", "message"},
		{"a message too long", `{"job_id":"prov-1","token":"s3cret-token","event":"failed","message":"` + strings.Repeat("x", 1025) + `"}`, 400, "", "", "message"},
		{"a message not a string", `{"job_id":"prov-1","token":"s3cret-token","event":"failed","message":7}`, 400, "", "", "message"},
		{"an image on a failure", `{"job_id":"prov-1","token":"s3cret-token","event":"failed","image":"tinman-demo"}`, 400, "", "", "image"},
		{"a forged failure", `{"job_id":"prov-1","token":"guess","event":"failed","code":"checksum_mismatch","message":"boom"}`, 401, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			if got, field := e.postField("srv-1", tt.body); got != tt.want || field != tt.field {
				t.Errorf("status %d naming %q, want %d naming %q", got, field, tt.want, tt.field)
			}
			f, err := e.st.Failure(context.Background(), "prov-1")
			switch {
			case err != nil:
				t.Fatal(err)
			case tt.kind == "" && f != nil:
				t.Errorf("failure %+v recorded, want none", f)
			case tt.kind != "" && (f == nil || f.Kind != tt.kind || f.Message != tt.msg):
				t.Errorf("failure %+v recorded, want %s %q", f, tt.kind, tt.msg)
			}
		})
	}
	t.Run("a wipe reports no checksum", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		if err := e.st.SetBootConfig(context.Background(), store.BootConfig{Server: "srv-2", JobID: "wipe-1", Purpose: "wipe",
			Token: "wipe-token", Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if got := e.post("srv-2", `{"job_id":"wipe-1","token":"wipe-token","event":"checksum_mismatch"}`); got != 400 {
			t.Errorf("status %d, want 400", got)
		}
		if got := e.post("srv-2", `{"job_id":"wipe-1","token":"wipe-token","event":"failed","code":"write_failed","message":"disk busy"}`); got != 204 {
			t.Errorf("status %d, want 204", got)
		}
	})
}

// booted carries the image the OS found on its own disk: it is recorded
// with the report; a name that is not an image name, or an image on
// another event, is refused naming image.
func TestCallbackBootedImage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, image string
		want        int
	}{
		{"an image name", `"tinman-demo"`, 204},
		{"not an image name", `"tinman demo; rm -rf /"`, 400},
		{"too long", `"` + strings.Repeat("a", 129) + `"`, 400},
		{"not a string", `7`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			if got := e.post("srv-1", `{"job_id":"prov-1","token":"s3cret-token","event":"installed","image":"tinman-demo"}`); got != 400 {
				t.Fatalf("installed with an image: %d, want 400", got)
			}
			if got := e.post("srv-1", `{"job_id":"prov-1","token":"s3cret-token","event":"installed"}`); got != 204 {
				t.Fatalf("installed: %d", got)
			}
			got, field := e.postField("srv-1", `{"job_id":"prov-1","token":"s3cret-token","event":"booted","image":`+tt.image+`}`)
			if got != tt.want || (got == 400) != (field == "image") {
				t.Fatalf("booted with image %s: %d naming %q, want %d", tt.image, got, field, tt.want)
			}
			detail, err := e.st.CallbackDetail(context.Background(), "prov-1", store.CallbackBooted)
			switch {
			case tt.want == 204 && (err != nil || detail != "tinman-demo"):
				t.Errorf("booted recorded with %q (%v), want tinman-demo", detail, err)
			case tt.want != 204 && jobs.CodeOf(err) != jobs.CodeNotFound:
				t.Errorf("a refused booted was recorded: %q, %v", detail, err)
			}
		})
	}
}
