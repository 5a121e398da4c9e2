package boot

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// purposeStates is the server state a boot of each purpose belongs to:
// a boot configuration is served only while its job holds the server there.
var purposeStates = map[string]jobs.ServerState{"install": jobs.ServerProvisioning, "wipe": jobs.ServerDeprovisioning}

// doneKinds are the reports after which a boot is over: the machine boots
// its disk from then on, whatever its firmware tries first.
var doneKinds = map[string]string{"install": store.CallbackInstalled, "wipe": store.CallbackWiped}

// retryDelay is how long iPXE waits before it asks again when the boot
// service could not read its records.
const retryDelay = "5"

// serveScript answers GET /boot/ipxe?mac=MAC: the script that boots the
// installer of the server with that boot MAC, when that server has a boot
// pending; else exit, so the machine boots its disk. When the records
// cannot be read, a script that asks again in a few seconds: a machine
// mid-install must not boot its disk for a Redis hiccup.
func (s *Service) serveScript(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("mac")
	mac, err := jobs.ParseMAC("mac", raw)
	if err != nil {
		s.cfg.Logger.Info().Str("mac", url.QueryEscape(raw)).Msg("boot script: not a MAC: exit")
		writeScript(w, exitScript)
		return
	}
	base := s.baseFor(r)
	cfg, why, err := s.pending(r.Context(), mac)
	log := s.cfg.Logger.Info().Str("mac", mac).Str("server", cfg.Server).Str("job_id", cfg.JobID)
	switch {
	case err != nil:
		s.cfg.Logger.Warn().Err(err).Str("mac", mac).Msg("boot script: records unavailable: iPXE asks again")
		writeScript(w, fmt.Sprintf("#!ipxe\necho tinman: the boot service cannot read its records; trying again\nsleep %s\nchain %s/boot/ipxe?mac=%s\n",
			retryDelay, base, url.QueryEscape(mac)))
	case why != "":
		log.Str("reason", why).Msg("boot script: exit to the local disk")
		writeScript(w, exitScript)
	default:
		log.Str("purpose", cfg.Purpose).Str("image", cfg.Image).Msg("boot script: installer")
		writeScript(w, installScript(base, cfg))
	}
}

// installScript boots cfg's kernel and initrd, telling the kernel where
// the metadata is; every URL on base.
func installScript(base string, cfg store.BootConfig) string {
	return fmt.Sprintf("#!ipxe\nkernel %s tinman.meta=%s/boot/meta/%s console=ttyS0\ninitrd %s\nboot\n",
		jobs.ResolveURL(base, cfg.Kernel), base, cfg.Token, jobs.ResolveURL(base, cfg.Initrd))
}

// pending returns the boot configuration the machine with boot MAC mac is
// to boot, or why it has none: no server has the MAC, its server has no
// boot configuration, the server is not in the state of that boot for its
// job (an active server never boots an installer again), the boot has no
// kernel, or the installer has reported it done or failed.
func (s *Service) pending(ctx context.Context, mac string) (store.BootConfig, string, error) {
	srv, err := s.cfg.Store.ServerByMAC(ctx, mac)
	if jobs.CodeOf(err) == jobs.CodeNotFound {
		return store.BootConfig{}, "no server boots with this MAC", nil
	}
	if err != nil {
		return store.BootConfig{}, "", err
	}
	cfg, err := s.cfg.Store.BootConfig(ctx, srv.ID)
	if jobs.CodeOf(err) == jobs.CodeNotFound {
		return store.BootConfig{Server: srv.ID}, fmt.Sprintf("server is %s with no boot pending", srv.State), nil
	}
	if err != nil {
		return cfg, "", err
	}
	if want := purposeStates[cfg.Purpose]; srv.State != want || srv.Job != cfg.JobID {
		return cfg, fmt.Sprintf("server is %s for job %q: the %s boot is not its", srv.State, srv.Job, cfg.Purpose), nil
	}
	if cfg.Kernel == "" || cfg.Initrd == "" {
		return cfg, "the boot configuration has no kernel and initrd", nil
	}
	return s.unfinished(ctx, cfg)
}

// unfinished returns cfg, or why its boot is over: the installer reported
// it done (installed, wiped) or failed.
func (s *Service) unfinished(ctx context.Context, cfg store.BootConfig) (store.BootConfig, string, error) {
	done, err := s.cfg.Store.CallbackReceived(ctx, cfg.JobID, doneKinds[cfg.Purpose])
	if err != nil {
		return cfg, "", err
	}
	if done {
		return cfg, "the installer reported " + doneKinds[cfg.Purpose], nil
	}
	failure, err := s.cfg.Store.Failure(ctx, cfg.JobID)
	if err != nil {
		return cfg, "", err
	}
	if failure != nil {
		return cfg, "the installer reported " + failure.Kind, nil
	}
	return cfg, "", nil
}
