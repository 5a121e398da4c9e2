package bmcsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// gate tracks in-flight requests so Close can wait for them, and refuses new
// ones once closed (so no WaitGroup.Add races with Wait).
type gate struct {
	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

// enter registers a request; it returns false once the gate is closed.
func (g *gate) enter() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *gate) leave() { g.wg.Done() }

// close refuses new requests and waits for in-flight ones.
func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}

// statusRecorder remembers the response status for request logging.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status written.
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and forwards p.
func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	if err != nil {
		return n, fmt.Errorf("write response: %w", err)
	}
	return n, nil
}

// ServeHTTP serves the Redfish API: faults first, then authentication, then
// the resource or action. BMC implements http.Handler so it can also be
// mounted in an httptest server.
func (b *BMC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !b.gate.enter() {
		writeError(w, http.StatusServiceUnavailable, "ServiceShuttingDown", "BMC is shutting down")
		return
	}
	defer b.gate.leave()
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for m := b.maxInFlight.Load(); n > m && !b.maxInFlight.CompareAndSwap(m, n); m = b.maxInFlight.Load() {
	}
	if b.initErr != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", b.initErr.Error())
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	b.serve(rec, r)
	b.log.Debug().Str("bmc", b.Addr()).Str("method", r.Method).Str("path", r.URL.Path).
		Int("status", rec.status).Dur("took_ms", time.Since(start)).Msg("request")
}

func (b *BMC) serve(w http.ResponseWriter, r *http.Request) {
	p := canonical(r.URL.Path)
	if r.Method == http.MethodDelete && strings.HasPrefix(p, sessionsPath+"/") {
		b.logoutTries.Add(1) // asked, whatever the faults then answer
	}
	if !b.applyFaults(w, r, p) {
		return
	}
	if !isPublic(r, p) && !b.authorized(r) {
		writeUnauthorized(w)
		return
	}
	b.route(w, r, p)
}

// applyFaults plays hang, latency and error-rate faults. It returns false when
// the request has been answered (or abandoned) by a fault.
func (b *BMC) applyFaults(w http.ResponseWriter, r *http.Request, p string) bool {
	if hang := b.faults.hangChan(); hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return false // the client gave up; nobody reads an answer
		case <-b.done:
			writeError(w, http.StatusServiceUnavailable, "ServiceShuttingDown", "BMC is shutting down")
			return false
		}
	}
	if !b.sleep(r, b.faults.Latency()) {
		return false
	}
	if !isLogin(r, p) && (b.faults.takeFailure() || b.faults.injectError()) {
		writeError(w, http.StatusInternalServerError, "InternalError", "injected fault")
		return false
	}
	return true
}

// sleep waits d unless the request or the BMC ends first.
func (b *BMC) sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-b.done:
		return false
	}
}

// route dispatches an authorised request.
func (b *BMC) route(w http.ResponseWriter, r *http.Request, p string) {
	switch {
	case r.Method == http.MethodPost && p == sessionsPath:
		b.handleLogin(w, r)
	case r.Method == http.MethodDelete && strings.HasPrefix(p, sessionsPath+"/"):
		b.handleLogout(w, strings.TrimPrefix(p, sessionsPath+"/"))
	case r.Method == http.MethodPost && p == systemResetPath:
		b.handleSystemReset(w, r)
	case r.Method == http.MethodPatch && p == systemPath:
		b.handleBootPatch(w, r)
	case r.Method == http.MethodPost && p == managerResetPath:
		b.handleManagerReset(w, r)
	case r.Method == http.MethodPost && (p == cdInsertPath || p == cdEjectPath):
		b.handleVirtualMedia(w, r, p == cdInsertPath)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		b.handleGet(w, p)
	default:
		b.handleUnsupported(w, r, p)
	}
}

func (b *BMC) handleGet(w http.ResponseWriter, p string) {
	doc := b.document(p)
	if doc == nil {
		writeError(w, http.StatusNotFound, "ResourceMissingAtURI", "no resource at "+p)
		return
	}
	writeDoc(w, http.StatusOK, doc)
}

func (b *BMC) handleUnsupported(w http.ResponseWriter, r *http.Request, p string) {
	if b.document(p) == nil {
		writeError(w, http.StatusNotFound, "ResourceMissingAtURI", "no resource at "+p)
		return
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, http.StatusMethodNotAllowed, "OperationNotAllowed", r.Method+" not allowed on "+p)
}

// resetRequest is the body of the Reset actions.
type resetRequest struct{ ResetType string }

// decodeReset reads a Reset action's ResetType, answering the request
// itself when the body is bad or the type is not one of allowed.
func decodeReset(w http.ResponseWriter, r *http.Request, allowed []string) (string, bool) {
	var body resetRequest
	if !decodeOrReject(w, r, &body) {
		return "", false
	}
	if !slices.Contains(allowed, body.ResetType) {
		writeError(w, http.StatusBadRequest, "ActionParameterNotSupported",
			fmt.Sprintf("ResetType %q not supported", body.ResetType))
		return "", false
	}
	return body.ResetType, true
}

// handleSystemReset serves POST ComputerSystem.Reset.
func (b *BMC) handleSystemReset(w http.ResponseWriter, r *http.Request) {
	resetType, ok := decodeReset(w, r, systemResetTypes())
	if !ok {
		return
	}
	if b.host != nil {
		b.resetHost(w, r, resetType)
		return
	}
	b.mu.Lock()
	cmd := b.resetModel(resetType)
	b.record(cmd)
	b.mu.Unlock()
	b.logCommand(cmd)
	w.WriteHeader(http.StatusNoContent)
}

// resetModel applies a reset to the model, or only logs it when lying.
// Caller holds b.mu.
func (b *BMC) resetModel(resetType string) Command {
	if b.faults.Lying() {
		return Command{Time: time.Now(), Op: OpPower, Value: resetType, Detail: DetailIgnored}
	}
	return b.machine.reset(resetType, time.Now(), b.transition)
}

// resetHost applies a reset to the model, then carries it out on the Host:
// answered, and logged, once the Host has done it.
func (b *BMC) resetHost(w http.ResponseWriter, r *http.Request, resetType string) {
	b.hostMu.Lock()
	defer b.hostMu.Unlock()
	b.mu.Lock()
	b.settle(time.Now())
	before := b.machine.power
	cmd := b.resetModel(resetType)
	after := b.machine.target()
	b.mu.Unlock()
	if err := b.driveHost(r.Context(), cmd, before, after); err != nil {
		b.refuseOnHost(w, err)
		return
	}
	b.accept(w, cmd)
}

// accept logs a command the Host carried out and answers 204.
func (b *BMC) accept(w http.ResponseWriter, cmd Command) {
	b.mu.Lock()
	b.record(cmd)
	b.mu.Unlock()
	b.logCommand(cmd)
	w.WriteHeader(http.StatusNoContent)
}

// refuseOnHost answers a command the Host failed to carry out with a 500,
// logged nowhere but the BMC's logger; the model takes the Host's power
// state again.
func (b *BMC) refuseOnHost(w http.ResponseWriter, err error) {
	b.mu.Lock()
	b.settle(time.Now())
	b.mu.Unlock()
	b.log.Warn().Err(err).Str("bmc", b.Addr()).Msg("host refused a command")
	writeError(w, http.StatusInternalServerError, "InternalError", "host: "+err.Error())
}

// handleManagerReset serves POST Manager.Reset. The simulated BMC restarts
// instantly: sessions and state survive.
func (b *BMC) handleManagerReset(w http.ResponseWriter, r *http.Request) {
	resetType, ok := decodeReset(w, r, managerResetTypes())
	if !ok {
		return
	}
	cmd := Command{Time: time.Now(), Op: OpManagerReset, Value: resetType}
	if b.faults.Lying() {
		cmd.Detail = DetailIgnored
	}
	b.mu.Lock()
	b.record(cmd)
	b.mu.Unlock()
	b.logCommand(cmd)
	w.WriteHeader(http.StatusNoContent)
}

// bootPatch is the part of a Systems/1 PATCH body the simulator honours;
// other properties are accepted and ignored.
type bootPatch struct {
	Boot *struct {
		BootSourceOverrideTarget  *string
		BootSourceOverrideEnabled *string
		BootSourceOverrideMode    *string
	}
}

// handleBootPatch serves PATCH Systems/1 (boot override).
func (b *BMC) handleBootPatch(w http.ResponseWriter, r *http.Request) {
	var body bootPatch
	if !decodeOrReject(w, r, &body) {
		return
	}
	if body.Boot == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	b.mu.Lock()
	b.settle(time.Now())
	next, err := mergeBoot(b.machine.boot, body)
	if err != nil {
		b.mu.Unlock()
		writeError(w, http.StatusBadRequest, "PropertyValueNotInList", err.Error())
		return
	}
	cmd := Command{Time: time.Now(), Op: OpBoot, Value: next.Target,
		Detail: fmt.Sprintf("enabled=%s mode=%s", next.Enabled, next.Mode)}
	if b.faults.Lying() {
		cmd.Detail = DetailIgnored
	} else {
		b.machine.boot = next
	}
	b.record(cmd)
	b.mu.Unlock()
	b.logCommand(cmd)
	w.WriteHeader(http.StatusNoContent)
}

// mergeBoot applies the fields present in p to cur, validating each.
func mergeBoot(cur bootOverride, p bootPatch) (bootOverride, error) {
	fields := []struct {
		name    string
		value   *string
		allowed []string
		dst     *string
	}{
		{"BootSourceOverrideTarget", p.Boot.BootSourceOverrideTarget, bootTargets(), &cur.Target},
		{"BootSourceOverrideEnabled", p.Boot.BootSourceOverrideEnabled, bootEnabledValues(), &cur.Enabled},
		{"BootSourceOverrideMode", p.Boot.BootSourceOverrideMode, bootModes(), &cur.Mode},
	}
	for _, f := range fields {
		if f.value == nil {
			continue
		}
		if !slices.Contains(f.allowed, *f.value) {
			return cur, fmt.Errorf("%s %q not in %v", f.name, *f.value, f.allowed)
		}
		*f.dst = *f.value
	}
	return cur, nil
}

// mediaRequest is the body of VirtualMedia.InsertMedia.
type mediaRequest struct {
	Image          string
	Inserted       *bool
	WriteProtected *bool
}

// handleVirtualMedia serves the virtual CD's InsertMedia and EjectMedia actions.
func (b *BMC) handleVirtualMedia(w http.ResponseWriter, r *http.Request, insert bool) {
	next := virtualMedia{}
	cmd := Command{Time: time.Now(), Op: OpVirtualMedia, Value: "EjectMedia"}
	if insert {
		var body mediaRequest
		if !decodeOrReject(w, r, &body) {
			return
		}
		if body.Image == "" {
			writeError(w, http.StatusBadRequest, "PropertyMissing", "Image is required")
			return
		}
		next = virtualMedia{Image: body.Image, Inserted: derefOr(body.Inserted, true),
			WriteProtected: derefOr(body.WriteProtected, true)}
		cmd.Value, cmd.Detail = "InsertMedia", body.Image
	}
	lying := b.faults.Lying()
	if b.host != nil && !lying {
		b.hostMu.Lock()
		defer b.hostMu.Unlock()
		if err := b.driveMedia(r.Context(), next); err != nil {
			b.refuseOnHost(w, err)
			return
		}
	}
	b.mu.Lock()
	if lying {
		cmd.Detail = DetailIgnored
	} else {
		b.machine.media = next
	}
	b.record(cmd)
	b.mu.Unlock()
	b.logCommand(cmd)
	w.WriteHeader(http.StatusNoContent)
}

func derefOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// decodeOrReject decodes the body into v or answers 400 and returns false.
func decodeOrReject(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeBody(r, v); err != nil {
		writeError(w, http.StatusBadRequest, "MalformedJSON", err.Error())
		return false
	}
	return true
}
