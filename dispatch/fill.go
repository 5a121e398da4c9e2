package dispatch

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/tinmanhq/tinman/events"
)

// fillType adds the type named by the subject to a request that has none, so
// that a plain NATS client may publish {"server": "s1", "params": {...}} on
// tinman.requests.power. Anything that is not a JSON object is left as is.
func fillType(raw []byte, subject string) []byte {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return raw
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(trimmed, &probe) != nil {
		return raw
	}
	if _, ok := probe["type"]; ok {
		return raw
	}
	typ, _ := json.Marshal(strings.TrimPrefix(subject, events.RequestPrefix))
	probe["type"] = typ
	out, err := json.Marshal(probe)
	if err != nil {
		return raw
	}
	return out
}
