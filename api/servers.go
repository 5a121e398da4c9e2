package api

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
)

// ServerList is the answer to GET /v1/servers (the Go client's wire type).
type ServerList = client.ServerList

// Enrolment is the body of POST /v1/servers (the Go client's wire type).
// The credentials go in and never come out: no answer of the API carries
// them.
type Enrolment = client.Enrolment

// enrolled returns the enrolment's server record and credentials, checked.
func enrolled(e Enrolment) (jobs.Server, jobs.Credentials, error) {
	srv := jobs.Server{ID: e.ID, BMC: e.BMC, Labels: e.Labels, Site: e.Site}
	creds := jobs.Credentials{Username: e.Username, Password: e.Password}
	if e.BootMAC != "" {
		mac, err := jobs.ParseMAC("boot_mac", e.BootMAC)
		if err != nil {
			return srv, creds, err
		}
		srv.BootMAC = mac
	}
	if err := srv.Validate(); err != nil {
		return srv, creds, err
	}
	if err := checkBMC(e.BMC); err != nil {
		return srv, creds, err
	}
	if err := checkCredentials(creds); err != nil {
		return srv, creds, err
	}
	return srv, creds, checkLabels(e.Labels)
}

// enrolServer answers POST /v1/servers: 201 with the server.
func (a *API) enrolServer(w http.ResponseWriter, r *http.Request) {
	var e Enrolment
	if err := decodeJSON(r, &e); err != nil {
		fail(w, r, err)
		return
	}
	srv, creds, err := enrolled(e)
	if err != nil {
		fail(w, r, err)
		return
	}
	if err := a.cfg.Store.EnrollServer(r.Context(), srv, creds); err != nil {
		fail(w, r, err)
		return
	}
	a.answerServer(w, r, http.StatusCreated, srv.ID)
}

// answerServer answers with the stored server id.
func (a *API) answerServer(w http.ResponseWriter, r *http.Request, status int, id string) {
	srv, err := a.cfg.Store.Server(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/v1/servers/"+url.PathEscape(id))
	}
	writeJSON(w, status, srv)
}

// listServers answers GET /v1/servers?selector=k=v,k2=v2.
func (a *API) listServers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := onlyParams(q, "selector"); err != nil {
		fail(w, r, err)
		return
	}
	sel, err := ParseSelector(q.Get("selector"))
	if err != nil {
		fail(w, r, err)
		return
	}
	// Each server comes encoded, as writeJSON would encode it in a
	// ServerList, and encoded again only when its record changed: at
	// 10,000 servers the encoding was most of the answer's time.
	list, err := a.cfg.Store.ListServersJSON(r.Context(), sel)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	_, _ = bw.WriteString(`{"servers":[`)
	for i, raw := range list {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		_, _ = bw.Write(raw)
	}
	_, _ = bw.WriteString("]}\n")
	_ = bw.Flush()
}

// ParseSelector parses a label selector "k=v,k2=v2" (empty: every server).
func ParseSelector(s string) (map[string]string, error) {
	sel := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return sel, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		k, v, ok := strings.Cut(item, "=")
		if item == "" || !ok || !labelKeyPattern.MatchString(k) || !labelValuePattern.MatchString(v) {
			return nil, jobs.Invalid("selector", "must be KEY=VALUE pairs separated by commas, as labels are written, with no empty term")
		}
		if prev, dup := sel[k]; dup {
			return nil, jobs.Invalid("selector", fmt.Sprintf("gives %s twice (%s and %s): a server has one value per label", k, prev, v))
		}
		sel[k] = v
	}
	return sel, nil
}

// getServer answers GET /v1/servers/{id}.
func (a *API) getServer(w http.ResponseWriter, r *http.Request) {
	id, ok := serverID(w, r)
	if !ok {
		return
	}
	a.answerServer(w, r, http.StatusOK, id)
}

// removeServer answers DELETE /v1/servers/{id}: 204, or 409 while a job
// holds the server or it is in a transitional state.
func (a *API) removeServer(w http.ResponseWriter, r *http.Request) {
	id, ok := serverID(w, r)
	if !ok {
		return
	}
	if err := a.cfg.Store.RemoveServer(r.Context(), id); err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serverID returns the route's server id; an id that cannot exist is 404.
func serverID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !jobs.ValidServerID(id) {
		problem(w, r, http.StatusNotFound, string(jobs.CodeNotFound), "server "+id+" is not enrolled", "")
		return "", false
	}
	return id, true
}

// patchServer answers PATCH /v1/servers/{id}. Setting or clearing
// maintenance needs the operator role; any other change needs admin.
func (a *API) patchServer(w http.ResponseWriter, r *http.Request) {
	id, ok := serverID(w, r)
	if !ok {
		return
	}
	var p ServerPatch
	if err := p.decode(r); err != nil {
		fail(w, r, err)
		return
	}
	caller := identityOf(r.Context())
	if err := p.check(caller.Role); err != nil {
		fail(w, r, err)
		return
	}
	if err := p.update(r.Context(), a.cfg.Store, id, caller.Name); err != nil {
		fail(w, r, err)
		return
	}
	a.answerServer(w, r, http.StatusOK, id)
}
