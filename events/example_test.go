package events_test

import (
	"fmt"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

func ExampleFilterSubject() {
	fmt.Println(events.FilterSubject("srv-042", ""))
	fmt.Println(events.FilterSubject("", "job"))
	fmt.Println(events.FilterSubject("srv-042", "tinman.job.failed"))
	// Output:
	// tinman.events.srv-042.>
	// tinman.events.*.job.*
	// tinman.events.srv-042.job.failed
}

func ExampleNewJobEvent() {
	job := jobs.Job{ID: "job-1", Type: jobs.Power, Server: "srv-042", State: jobs.StateRunning, Attempt: 1, MaxAttempts: 8}
	ev, err := events.NewJobEvent("/tinman/worker/host-a", events.JobStarted, job, 2, events.Detail{Provider: "redfish"})
	if err != nil {
		panic(err)
	}
	fmt.Println(ev.ID)
	fmt.Println(ev.NATSSubject())
	fmt.Println(string(ev.Data))
	// Output:
	// job.job-1.2
	// tinman.events.srv-042.job.started
	// {"job_id":"job-1","job_type":"power","server":"srv-042","state":"running","seq":2,"attempt":1,"max_attempts":8,"provider":"redfish"}
}
