package bmcsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// FaultSettings are a BMC's fault knobs as JSON, for the control API. In a
// PATCH every field is optional: an absent one keeps its value.
type FaultSettings struct {
	Latency     *Duration `json:"latency,omitempty"`      // extra delay before every answer, "250ms"
	ErrorRate   *float64  `json:"error_rate,omitempty"`   // 0..1: fraction of requests answered 500
	FailNext    *int      `json:"fail_next,omitempty"`    // the next n requests answer 500
	Hang        *bool     `json:"hang,omitempty"`         // accept and never answer
	AuthFailure *bool     `json:"auth_failure,omitempty"` // refuse every login (401)
	Lying       *bool     `json:"lying,omitempty"`        // accept commands, change nothing
	Offline     *bool     `json:"offline,omitempty"`      // off the network: connections refused
	MaxSessions *int      `json:"max_sessions,omitempty"` // session cap; -1: none
	// PowerReadings are the power states the next reads report, then the truth.
	PowerReadings []string `json:"power_readings,omitempty"`
}

// Duration is a time.Duration written as Go writes it ("1.5s").
type Duration time.Duration

// MarshalJSON writes "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1.5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration such as \"250ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("a duration of 0 or more such as \"250ms\", not %q", s)
	}
	*d = Duration(v)
	return nil
}

// Settings returns the knobs as they are.
func (f *Faults) Settings() FaultSettings {
	lat, rate, next := Duration(f.Latency()), f.ErrorRate(), f.FailNext()
	hang, auth, lying, off, maxSess := f.Hanging(), f.AuthFailure(), f.Lying(), f.Offline(), f.MaxSessions()
	return FaultSettings{Latency: &lat, ErrorRate: &rate, FailNext: &next, Hang: &hang, AuthFailure: &auth,
		Lying: &lying, Offline: &off, MaxSessions: &maxSess, PowerReadings: f.PowerReadings()}
}

// Apply sets every knob s names, after checking them all.
func (f *Faults) Apply(s FaultSettings) error {
	switch {
	case s.ErrorRate != nil && (*s.ErrorRate < 0 || *s.ErrorRate > 1):
		return fmt.Errorf("error_rate %v: must be between 0 and 1", *s.ErrorRate)
	case s.FailNext != nil && *s.FailNext < 0:
		return fmt.Errorf("fail_next %d: must be 0 or more", *s.FailNext)
	case s.MaxSessions != nil && *s.MaxSessions < -1:
		return fmt.Errorf("max_sessions %d: must be -1 (no cap) or more", *s.MaxSessions)
	}
	if s.Latency != nil {
		f.SetLatency(time.Duration(*s.Latency))
	}
	if s.ErrorRate != nil {
		f.SetErrorRate(*s.ErrorRate)
	}
	if s.FailNext != nil {
		f.SetFailNext(*s.FailNext)
	}
	if s.Hang != nil {
		f.SetHang(*s.Hang)
	}
	if s.AuthFailure != nil {
		f.SetAuthFailure(*s.AuthFailure)
	}
	if s.Lying != nil {
		f.SetLying(*s.Lying)
	}
	if s.MaxSessions != nil {
		f.SetMaxSessions(*s.MaxSessions)
	}
	if s.PowerReadings != nil {
		f.SetPowerReadings(s.PowerReadings)
	}
	if s.Offline != nil {
		f.SetOffline(*s.Offline)
	}
	return nil
}

// Control serves a fleet's fault knobs over HTTP, so a person can make any
// BMC fail by hand while Tinman runs (tinman dev, tinman sim):
//
//	GET   /sim/bmcs                  every BMC: name, address, power, sessions, faults
//	GET   /sim/bmcs/{name}           one BMC
//	PATCH /sim/bmcs/{name}/faults    change knobs: {"offline": true}, {"latency": "3s"}, ...
//
// It listens on loopback beside the BMCs and needs no credentials: it is a
// test device, like the simulators themselves.
type Control struct {
	names []string
	bmcs  map[string]*BMC
	mux   *http.ServeMux
}

// NewControl serves the BMCs of fleet under names (names[i] is BMCs()[i]).
func NewControl(fleet *Fleet, names []string) (*Control, error) {
	bmcs := fleet.BMCs()
	if len(names) != len(bmcs) {
		return nil, fmt.Errorf("%d names for %d BMCs", len(names), len(bmcs))
	}
	c := &Control{names: slices.Clone(names), bmcs: map[string]*BMC{}, mux: http.NewServeMux()}
	for i, b := range bmcs {
		c.bmcs[names[i]] = b
	}
	c.mux.HandleFunc("GET /sim/bmcs", c.list)
	c.mux.HandleFunc("GET /sim/bmcs/{name}", c.show)
	c.mux.HandleFunc("PATCH /sim/bmcs/{name}/faults", c.patch)
	return c, nil
}

// ServeHTTP implements http.Handler.
func (c *Control) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// BMCState is what the control API says of one BMC.
type BMCState struct {
	Name     string        `json:"name"`
	Address  string        `json:"address"`
	Power    string        `json:"power"`
	Sessions int           `json:"sessions"`
	Faults   FaultSettings `json:"faults"`
}

func (c *Control) state(name string) BMCState {
	b := c.bmcs[name]
	return BMCState{Name: name, Address: b.Addr(), Power: b.PowerState(), Sessions: b.SessionCount(), Faults: b.Faults().Settings()}
}

func (c *Control) list(w http.ResponseWriter, _ *http.Request) {
	out := make([]BMCState, 0, len(c.names))
	for _, n := range c.names {
		out = append(out, c.state(n))
	}
	controlJSON(w, http.StatusOK, out)
}

func (c *Control) show(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, ok := c.bmcs[name]; !ok {
		controlJSON(w, http.StatusNotFound, map[string]string{"error": "no simulated BMC " + name})
		return
	}
	controlJSON(w, http.StatusOK, c.state(name))
}

func (c *Control) patch(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, ok := c.bmcs[name]
	if !ok {
		controlJSON(w, http.StatusNotFound, map[string]string{"error": "no simulated BMC " + name})
		return
	}
	var s FaultSettings
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, 64<<10)); err != nil {
		controlJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		controlJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be a JSON object of fault knobs: " + err.Error()})
		return
	}
	if err := b.Faults().Apply(s); err != nil {
		controlJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	controlJSON(w, http.StatusOK, c.state(name))
}

func controlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
