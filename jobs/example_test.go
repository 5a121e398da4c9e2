package jobs_test

import (
	"fmt"

	"github.com/tinmanhq/tinman/jobs"
)

func ExampleDecodeRequest() {
	r, err := jobs.DecodeRequest([]byte(`{"type": "power", "server": "srv-042", "params": {"action": "cycle"}}`))
	if err != nil {
		panic(err)
	}
	p, err := r.DecodeParams()
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Type, r.Server, r.Priority.Queue(), p.(*jobs.PowerParams).Action)

	_, err = jobs.DecodeRequest([]byte(`{"type": "power", "server": "srv-042", "params": {"action": "bounce"}}`))
	fmt.Println(err)
	fmt.Println(jobs.AsError(err).Field)
	// Output:
	// power srv-042 default cycle
	// params.action: must be one of on, off, soft, cycle, reset, status
	// params.action
}
