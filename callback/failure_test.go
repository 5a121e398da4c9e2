package callback_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/store"
)

// A failure report is recorded with its message and wakes the job; a
// message goes only with a failure, and a wipe has no checksum to check.
func TestCallbackFailureReports(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       int
		kind       string // the failure recorded, "" none
	}{
		{"checksum mismatch", `{"job_id":"prov-1","token":"s3cret-token","event":"checksum_mismatch","message":"sha256 of disk.img is 00ff..., want 1234..."}`, 204, "checksum_mismatch"},
		{"failed without a message", `{"job_id":"prov-1","token":"s3cret-token","event":"failed"}`, 204, "failed"},
		{"a message on success", `{"job_id":"prov-1","token":"s3cret-token","event":"installed","message":"all good"}`, 400, ""},
		{"a message too long", `{"job_id":"prov-1","token":"s3cret-token","event":"failed","message":"` + strings.Repeat("x", 1025) + `"}`, 400, ""},
		{"a message not a string", `{"job_id":"prov-1","token":"s3cret-token","event":"failed","message":7}`, 400, ""},
		{"a forged failure", `{"job_id":"prov-1","token":"guess","event":"failed","message":"boom"}`, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			if got := e.post("srv-1", tt.body); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
			f, err := e.st.Failure(context.Background(), "prov-1")
			switch {
			case err != nil:
				t.Fatal(err)
			case tt.kind == "" && f != nil:
				t.Errorf("failure %+v recorded, want none", f)
			case tt.kind != "" && (f == nil || f.Kind != tt.kind):
				t.Errorf("failure %+v recorded, want %s", f, tt.kind)
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
		if got := e.post("srv-2", `{"job_id":"wipe-1","token":"wipe-token","event":"failed","message":"disk busy"}`); got != 204 {
			t.Errorf("status %d, want 204", got)
		}
	})
}
