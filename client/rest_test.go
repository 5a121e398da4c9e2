package client_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
)

// powerRequest is a power request of id ("": none) for server.
func powerRequest(id, server, action string) jobs.Request {
	return jobs.Request{ID: id, Type: jobs.Power, Server: server, Params: json.RawMessage(`{"action":"` + action + `"}`)}
}

// The server calls, against the real API: enrol, list, show, patch, remove.
func TestServerCalls(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newClient(t, apiURL, 10*time.Second)
	e := client.Enrolment{ID: "rest-01", BMC: jobs.BMC{Address: "10.0.0.1", Provider: jobs.ProviderIPMI},
		Username: "u", Password: "p", Labels: map[string]string{"rack": "r9"}}
	srv, resp, err := c.EnrolServer(ctx, e)
	if err != nil || srv.ID != "rest-01" || srv.State != jobs.ServerEnrolled || resp.Status != http.StatusCreated {
		t.Fatalf("EnrolServer = %+v, %+v, %v", srv, resp, err)
	}
	list, _, err := c.Servers(ctx, "rack=r9")
	if err != nil || len(list.Servers) != 1 || list.Servers[0].ID != "rest-01" {
		t.Fatalf("Servers(rack=r9) = %+v, %v", list, err)
	}
	reason, _ := json.Marshal(map[string]string{"reason": "disk swap"})
	addr := "10.0.0.2"
	srv, _, err = c.PatchServer(ctx, "rest-01", client.ServerPatch{Maintenance: reason, BMC: &client.BMCPatch{Address: &addr}})
	if err != nil || srv.Maintenance == nil || srv.Maintenance.Reason != "disk swap" || srv.BMC.Address != addr {
		t.Fatalf("PatchServer = %+v, %v", srv, err)
	}
	if srv, _, err = c.Server(ctx, "rest-01"); err != nil || srv.Maintenance == nil || srv.BMC.Address != addr {
		t.Fatalf("Server = %+v, %v", srv, err)
	}
	if resp, err := c.RemoveServer(ctx, "rest-01"); err != nil || resp.Status != http.StatusNoContent {
		t.Fatalf("RemoveServer = %+v, %v", resp, err)
	}
	var e404 *client.Error
	if _, _, err := c.Server(ctx, "rest-01"); !errors.As(err, &e404) || e404.Status != http.StatusNotFound {
		t.Errorf("Server after RemoveServer = %v, want 404", err)
	}
}

// The job calls, against the real API: submit (twice: one job), read,
// list, and a cancel the API refuses because the job ended.
func TestJobCalls(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newClient(t, apiURL, 10*time.Second)
	req := powerRequest("rest-status-02", "sim-02", "status")
	for _, want := range []jobs.State{jobs.StateSubmitted, ""} {
		sub, resp, err := c.SubmitJob(ctx, req)
		if err != nil || sub.JobID != req.ID || resp.Status != http.StatusAccepted || want != "" && sub.State != want {
			t.Fatalf("SubmitJob = %+v, %+v, %v", sub, resp, err)
		}
	}
	end, err := followed(t, req.ID, req.Server)
	if err != nil || end != jobs.StateSucceeded {
		t.Fatalf("the job ended %q, %v", end, err)
	}
	job, resp, err := c.Job(ctx, req.ID)
	if err != nil || job.State != jobs.StateSucceeded || job.Server != "sim-02" || !json.Valid(resp.Body) {
		t.Fatalf("Job = %+v, %v", job, err)
	}
	list, _, err := c.Jobs(ctx, client.JobQuery{Server: "sim-02", State: jobs.StateSucceeded, Type: jobs.Power, Limit: 5})
	if err != nil || len(list.Jobs) != 1 || list.Jobs[0].ID != req.ID {
		t.Fatalf("Jobs = %+v, %v", list, err)
	}
	var e *client.Error
	if _, _, err := c.CancelJob(ctx, req.ID); !errors.As(err, &e) || e.Status != http.StatusConflict || e.Code != "conflict" {
		t.Errorf("CancelJob of an ended job = %v, want 409 conflict", err)
	}
}
