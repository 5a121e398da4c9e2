package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
)

// ServerPatch is the body of PATCH /v1/servers/{id}, read as a JSON merge
// patch (RFC 7396): what is absent stays. labels merges key by key, a null
// value removing its key and "labels": null removing them all; bmc merges
// field by field; username and password replace the credentials' parts;
// "maintenance": {"reason": "..."} sets maintenance and "maintenance": null
// clears it; "boot_mac": "MAC" sets the boot MAC and null clears it.
//
// Its fields are the Go client's wire type; the rest is what check reads
// from them.
type ServerPatch struct {
	client.ServerPatch

	labels      map[string]*string
	clearLabels bool
	maintenance *jobs.Maintenance
	clearMaint  bool
	bootMAC     *string // "" clears
}

// BMCPatch changes some of a server's BMC settings: the Go client's wire
// type, with the API's checks.
type BMCPatch client.BMCPatch

// maintenanceSet is the body of a maintenance change.
type maintenanceSet struct {
	Reason string `json:"reason"`
}

var null = []byte("null")

// decode reads the patch from r's body, strictly.
func (p *ServerPatch) decode(r *http.Request) error {
	body, err := readJSON(r)
	if err != nil {
		return err
	}
	if err := decodeStrict(body, p, ""); err != nil {
		return err
	}
	return refuseNulls(body)
}

// refuseNulls refuses a null the patch cannot apply: a server keeps its
// BMC settings and credentials, so none of them can be removed, and a null
// read as "absent" would be dropped without a word.
func refuseNulls(body []byte) error {
	var top, bmc map[string]json.RawMessage
	_ = json.Unmarshal(body, &top) // decoded strictly before: an object
	_ = json.Unmarshal(top["bmc"], &bmc)
	for _, f := range []struct {
		field string
		raw   json.RawMessage
	}{
		{"bmc", top["bmc"]}, {"username", top["username"]}, {"password", top["password"]},
		{"bmc.address", bmc["address"]}, {"bmc.provider", bmc["provider"]},
		{"bmc.cipher_suite", bmc["cipher_suite"]}, {"bmc.verify_tls", bmc["verify_tls"]},
	} {
		if bytes.Equal(f.raw, null) {
			return jobs.Invalid(f.field, "cannot be null: it cannot be removed, only given a new value")
		}
	}
	return nil
}

// adminOnly reports whether the patch changes more than maintenance.
func (p *ServerPatch) adminOnly() bool {
	return p.Labels != nil || p.BMC != nil || p.credentials() || p.BootMAC != nil
}

// check validates the patch and that role may apply it.
func (p *ServerPatch) check(role Role) error {
	switch {
	case !p.adminOnly() && p.Maintenance == nil:
		return jobs.Invalid("", "the patch changes nothing: give labels, bmc, username, password, boot_mac or maintenance")
	case p.adminOnly() && role < RoleAdmin:
		return errForbidden
	}
	if err := p.checkLabels(); err != nil {
		return err
	}
	if err := p.checkMaintenance(); err != nil {
		return err
	}
	if err := p.checkBootMAC(); err != nil {
		return err
	}
	if p.BMC != nil {
		if err := (*BMCPatch)(p.BMC).check(); err != nil {
			return err
		}
	}
	return checkCredentialParts(p.Username, p.Password)
}

func (p *ServerPatch) checkLabels() error {
	switch {
	case p.Labels == nil:
		return nil
	case bytes.Equal(p.Labels, null):
		p.clearLabels = true
		return nil
	}
	if err := json.Unmarshal(p.Labels, &p.labels); err != nil {
		return jobs.Invalid("labels", "must be an object of strings (null removes a label)")
	}
	for k, v := range p.labels {
		if err := checkLabel(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *ServerPatch) checkMaintenance() error {
	switch {
	case p.Maintenance == nil:
		return nil
	case bytes.Equal(p.Maintenance, null):
		p.clearMaint = true
		return nil
	}
	var m maintenanceSet
	if err := decodeStrict(p.Maintenance, &m, "maintenance"); err != nil {
		return err
	}
	if m.Reason == "" || utf8.RuneCountInString(m.Reason) > 256 {
		return jobs.Invalid("maintenance.reason", "is required, at most 256 characters")
	}
	p.maintenance = &jobs.Maintenance{Reason: m.Reason, Since: time.Now().UTC()}
	return nil
}

func (p *ServerPatch) checkBootMAC() error {
	switch {
	case p.BootMAC == nil:
		return nil
	case bytes.Equal(p.BootMAC, null):
		p.bootMAC = new(string)
		return nil
	}
	var raw string
	if err := json.Unmarshal(p.BootMAC, &raw); err != nil {
		return jobs.Invalid("boot_mac", "must be a MAC address as a string (null clears it)")
	}
	mac, err := jobs.ParseMAC("boot_mac", raw)
	if err != nil {
		return err
	}
	p.bootMAC = &mac
	return nil
}

func (b *BMCPatch) check() error {
	switch {
	case b.Address != nil && *b.Address == "":
		return jobs.Invalid("bmc.address", "must not be empty")
	case b.Provider != nil && *b.Provider != jobs.ProviderRedfish && *b.Provider != jobs.ProviderIPMI:
		return jobs.Invalid("bmc.provider", "must be one of redfish, ipmi")
	case b.CipherSuite != nil && (*b.CipherSuite < 0 || *b.CipherSuite > 17):
		return jobs.Invalid("bmc.cipher_suite", "must be from 0 (the default) to 17")
	}
	return nil
}

// credentials reports whether the patch changes the credentials, which
// must then be unsealed; any other change leaves them sealed.
func (p *ServerPatch) credentials() bool { return p.Username != nil || p.Password != nil }

// apply applies the checked patch to srv and creds (nil: the patch changes
// no credentials); by names who set maintenance.
func (p *ServerPatch) apply(srv *jobs.Server, creds *jobs.Credentials, by string) {
	p.applyLabels(srv)
	if p.BMC != nil {
		(*BMCPatch)(p.BMC).apply(&srv.BMC)
	}
	if p.Username != nil {
		creds.Username = *p.Username
	}
	if p.Password != nil {
		creds.Password = *p.Password
	}
	if p.bootMAC != nil {
		srv.BootMAC = *p.bootMAC
	}
	switch {
	case p.clearMaint:
		srv.Maintenance = nil
	case p.maintenance != nil:
		m := *p.maintenance
		m.SetBy = by
		srv.Maintenance = &m
	}
}

// update applies the checked patch in st: credentials are unsealed only
// when the patch changes them.
func (p *ServerPatch) update(ctx context.Context, st Store, id, by string) error {
	if p.credentials() {
		_, err := st.UpdateServer(ctx, id, func(srv *jobs.Server, creds *jobs.Credentials) error {
			p.apply(srv, creds, by)
			return nil
		})
		return err
	}
	_, err := st.UpdateServerSettings(ctx, id, func(srv *jobs.Server) error {
		p.apply(srv, nil, by)
		return nil
	})
	return err
}

func (p *ServerPatch) applyLabels(srv *jobs.Server) {
	if p.clearLabels {
		srv.Labels = nil
	}
	for k, v := range p.labels {
		if v == nil {
			delete(srv.Labels, k)
			continue
		}
		if srv.Labels == nil {
			srv.Labels = map[string]string{}
		}
		srv.Labels[k] = *v
	}
}

func (b *BMCPatch) apply(dst *jobs.BMC) {
	if b.Address != nil {
		dst.Address = *b.Address
	}
	if b.Provider != nil {
		dst.Provider = *b.Provider
	}
	if b.CipherSuite != nil {
		dst.CipherSuite = *b.CipherSuite
	}
	if b.VerifyTLS != nil {
		dst.VerifyTLS = *b.VerifyTLS
	}
}
