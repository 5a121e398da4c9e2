package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tinmanhq/tinman/events"
)

const (
	colorReset  = "\x1b[0m"
	colorDim    = "\x1b[2m"
	colorRed    = "\x1b[31m"
	colorGreen  = "\x1b[32m"
	colorYellow = "\x1b[33m"
	colorCyan   = "\x1b[36m"
)

// formatEvent renders an event as one human-readable line.
func formatEvent(ev events.Event, color bool) string {
	paint := func(c, s string) string {
		if !color {
			return s
		}
		return c + s + colorReset
	}
	kind := strings.TrimPrefix(string(ev.Type), "tinman.")
	server := ev.Subject
	if server == "" {
		server = "-"
	}
	line := fmt.Sprintf("%s  %-8s  %s", paint(colorDim, ev.Time.Local().Format("15:04:05.000")), server,
		paint(eventColor(ev.Type), fmt.Sprintf("%-20s", kind)))
	return printable(line + "  " + describe(ev))
}

func eventColor(t events.Type) string {
	switch t {
	case events.JobSucceeded:
		return colorGreen
	case events.JobFailed, events.RequestRejected, events.DeployHalted:
		return colorRed
	case events.JobRetrying, events.JobCanceled:
		return colorYellow
	}
	return colorCyan
}

// describe says what the event's data holds that a person wants to read.
func describe(ev events.Event) string {
	var d map[string]any
	if json.Unmarshal(ev.Data, &d) != nil {
		return string(ev.Data)
	}
	var parts []string
	add := func(format string, keys ...string) {
		vals := make([]any, 0, len(keys))
		for _, k := range keys {
			v, ok := d[k]
			if !ok || v == nil || v == "" {
				return
			}
			vals = append(vals, v)
		}
		parts = append(parts, fmt.Sprintf(format, vals...))
	}
	add("job %v", "job_id")
	add("%v", "job_type")
	add("#%v", "seq")
	add("attempt %v/%v", "attempt", "max_attempts")
	add("step %v", "step")
	add("%v -> %v", "previous", "state")
	add("via %v", "provider")
	add("next at %v", "next_attempt_at")
	add("%v", "message")
	if e, ok := d["error"].(map[string]any); ok {
		parts = append(parts, fmt.Sprintf("error %v: %v", e["code"], e["message"]))
	}
	if r, ok := d["result"]; ok {
		b, _ := json.Marshal(r)
		parts = append(parts, "result "+string(b))
	}
	return strings.Join(parts, "  ")
}
