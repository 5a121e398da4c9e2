package schemas_test

import (
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

// knownDisagreements lists the golden requests on which jobs.DecodeRequest
// and the schema do not (yet) agree, and why. Each is a bug in jobs (see the
// report that came with this test). The test fails when one of them starts to
// agree, so that the entry is removed with the fix.
func knownDisagreements() map[string]string {
	return map[string]string{}
}

func TestRequestGoldenAgreesWithJobs(t *testing.T) {
	t.Parallel()
	v := setup(t)
	known := knownDisagreements()
	for _, g := range goldens(t, "requests") {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			schemaErr := v.Request(g.data)
			_, jobsErr := jobs.DecodeRequest(g.data)
			problem := disagreement(schemaErr, jobsErr)
			reason, isKnown := known[g.name]
			switch {
			case isKnown && problem == "":
				t.Errorf("now agrees with jobs (%s): remove it from knownDisagreements", reason)
			case !isKnown && problem != "":
				t.Errorf("%s\nschema: %v\njobs:   %v", problem, schemaErr, jobsErr)
			}
		})
	}
}

// disagreement says how the schema's and jobs' verdicts on one input differ,
// or "" when they agree: both accept, or both reject on the same field.
func disagreement(schemaErr, jobsErr error) string {
	switch {
	case (schemaErr == nil) != (jobsErr == nil):
		return "one accepts, the other rejects"
	case schemaErr != nil && field(schemaErr) != field(jobsErr):
		return "they reject on different fields"
	}
	return ""
}
