package callback

import (
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

// FuzzDecode: any callback body, never a panic; an accepted one has a valid
// job id, a token and an event, and its keys were spelt exactly.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"job_id":"prov-1","token":"t","event":"installed"}`, `{"JOB_ID":"x"}`,
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
	})
}
