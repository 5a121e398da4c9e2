package callback

import (
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

// FuzzDecode: any callback body, never a panic; an accepted one has a valid
// job id, a token and an event, a code or message only when it failed, an
// image (an image name) only when it booted.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"job_id":"prov-1","token":"t","event":"installed"}`, `{"JOB_ID":"x"}`,
		`{"job_id":"prov-1","token":"t","event":"failed","code":"checksum_mismatch","message":"m"}`,
		`{"job_id":"prov-1","token":"t","event":"booted","image":"tinman-demo"}`,
		`{"job_id":"prov-1","token":"t","event":"wiped","event":"installed"}`, `[]`, `null`, `{"token":7}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := decode(body)
		if err != nil {
			return
		}
		if !jobs.ValidJobID(rep.JobID) || rep.Token == "" || rep.Event == "" {
			t.Fatalf("accepted %q as %+v", body, rep)
		}
		if (rep.Code != "" || rep.Message != "") && rep.Event != "failed" || rep.Image != "" && (rep.Event != "booted" || !jobs.ValidImageName(rep.Image)) {
			t.Fatalf("accepted %q with a code, message or image its event does not take: %+v", body, rep)
		}
	})
}
