package jobs_test

import (
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

func TestAdmit(t *testing.T) {
	t.Parallel()
	redfish := func(state jobs.ServerState) *jobs.Server {
		return &jobs.Server{ID: "srv-1", BMC: jobs.BMC{Provider: jobs.ProviderRedfish}, State: state, BootMAC: "52:54:00:00:00:01"}
	}
	ipmi := &jobs.Server{ID: "srv-1", BMC: jobs.BMC{Provider: jobs.ProviderIPMI}, State: jobs.ServerAvailable, BootMAC: "52:54:00:00:00:02"}
	noMAC := redfish(jobs.ServerAvailable)
	noMAC.BootMAC = ""
	held := redfish(jobs.ServerAvailable)
	held.Maintenance = &jobs.Maintenance{Reason: "fan", SetBy: "ops"}
	mine := redfish(jobs.ServerProvisioning)
	mine.Job = "prov-1"
	req := func(t jobs.Type, params string) jobs.Request {
		return jobs.Request{ID: "prov-1", Type: t, Server: "srv-1", Params: []byte(params)}
	}
	tests := []struct {
		name  string
		req   jobs.Request
		srv   *jobs.Server
		code  jobs.Code // "" admitted
		field string
	}{
		{"power on", req(jobs.Power, `{"action":"on"}`), redfish(jobs.ServerAvailable), "", ""},
		{"not enrolled", req(jobs.Power, `{"action":"on"}`), nil, jobs.CodeNotFound, "server"},
		{"maintenance refuses power on", req(jobs.Power, `{"action":"on"}`), held, jobs.CodeConflict, "server"},
		{"maintenance lets status run", req(jobs.Power, `{"action":"status"}`), held, "", ""},
		{"maintenance lets inspect run", req(jobs.Inspect, `{}`), held, "", ""},
		{"IPMI cannot inspect", req(jobs.Inspect, `{}`), ipmi, jobs.CodeUnsupportedOperation, "type"},
		{"an enrolled IPMI server joins the pool by a wipe", req(jobs.Deprovision, `{}`), &jobs.Server{ID: "srv-1",
			BMC: jobs.BMC{Provider: jobs.ProviderIPMI}, State: jobs.ServerEnrolled, BootMAC: "52:54:00:00:00:03"}, "", ""},
		{"IPMI can provision", req(jobs.Provision, `{"image":"u"}`), ipmi, "", ""},
		{"IPMI cannot boot virtual media", req(jobs.Provision, `{"image":"u","boot":"virtual-media"}`), ipmi, jobs.CodeUnsupportedOperation, "params.boot"},
		{"Redfish boots virtual media", req(jobs.Provision, `{"image":"u","boot":"virtual-media"}`), redfish(jobs.ServerAvailable), "", ""},
		{"provision needs a boot MAC", req(jobs.Provision, `{"image":"u"}`), noMAC, jobs.CodeConflict, "server"},
		{"deprovision needs a boot MAC", req(jobs.Deprovision, `{}`), noMAC, jobs.CodeConflict, "server"},
		{"power needs no boot MAC", req(jobs.Power, `{"action":"on"}`), noMAC, "", ""},
		{"provision from error", req(jobs.Provision, `{"image":"u"}`), redfish(jobs.ServerError), jobs.CodeConflict, "server"},
		{"provision of a server provisioning for it", req(jobs.Provision, `{"image":"u"}`), mine, "", ""},
		{"provision of a server provisioning for another", req(jobs.Provision, `{"image":"u"}`), func() *jobs.Server {
			s := *mine
			s.Job = "prov-2"
			return &s
		}(), jobs.CodeConflict, "server"},
		{"deploy targets no server", jobs.Request{ID: "d", Type: jobs.Deploy}, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := jobs.Admit(tt.req, tt.srv)
			switch {
			case tt.code == "" && got != nil:
				t.Errorf("Admit = %v, want admitted", got)
			case tt.code != "" && (got == nil || got.Code != tt.code || got.Field != tt.field):
				t.Errorf("Admit = %+v, want %s naming %q", got, tt.code, tt.field)
			}
		})
	}
}

func TestAdmitImage(t *testing.T) {
	t.Parallel()
	withISO := &jobs.Image{Name: "u", KernelURL: "u/k", InitrdURL: "u/i", ISOURL: "u/boot.iso", ImageURL: "u/disk.img"}
	netOnly := &jobs.Image{Name: "u", KernelURL: "u/k", InitrdURL: "u/i", ImageURL: "u/disk.img"}
	req := func(t jobs.Type, params string) jobs.Request {
		return jobs.Request{ID: "j", Type: t, Server: "srv-1", Params: []byte(params)}
	}
	tests := []struct {
		name  string
		req   jobs.Request
		img   *jobs.Image
		code  jobs.Code
		field string
	}{
		{"power names no image", req(jobs.Power, `{"action":"on"}`), nil, "", ""},
		{"known image", req(jobs.Provision, `{"image":"u"}`), netOnly, "", ""},
		{"unknown image", req(jobs.Provision, `{"image":"u"}`), nil, jobs.CodeNotFound, "params.image"},
		{"unknown image of a deploy", jobs.Request{ID: "d", Type: jobs.Deploy, Params: []byte(`{"image":"u","servers":["a"]}`)}, nil, jobs.CodeNotFound, "params.image"},
		{"virtual media with an ISO", req(jobs.Provision, `{"image":"u","boot":"virtual-media"}`), withISO, "", ""},
		{"virtual media without an ISO", req(jobs.Provision, `{"image":"u","boot":"virtual-media"}`), netOnly, jobs.CodeInvalidRequest, "params.boot"},
		{"a deploy through virtual media with an ISO", jobs.Request{ID: "d", Type: jobs.Deploy, Params: []byte(`{"image":"u","servers":["a"],"boot":"virtual-media"}`)}, withISO, "", ""},
		{"a deploy through virtual media without an ISO", jobs.Request{ID: "d", Type: jobs.Deploy, Params: []byte(`{"image":"u","servers":["a"],"boot":"virtual-media"}`)}, netOnly, jobs.CodeInvalidRequest, "params.boot"},
		{"a wipe with the default image", req(jobs.Deprovision, ``), nil, "", ""},
		{"a wipe with an unknown image", req(jobs.Deprovision, `{"image":"w"}`), nil, jobs.CodeNotFound, "params.image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := jobs.AdmitImage(tt.req, tt.img)
			switch {
			case tt.code == "" && got != nil:
				t.Errorf("AdmitImage = %v, want admitted", got)
			case tt.code != "" && (got == nil || got.Code != tt.code || got.Field != tt.field):
				t.Errorf("AdmitImage = %+v, want %s naming %q", got, tt.code, tt.field)
			}
		})
	}
}
