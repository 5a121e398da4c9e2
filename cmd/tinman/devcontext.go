package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// devContext is what `tinman dev` leaves on disk so that clients on the same
// machine find it without flags, as the nats CLI's contexts do.
type devContext struct {
	NATSURL  string `json:"nats_url"`
	APIURL   string `json:"api_url"`
	RedisURL string `json:"redis_url,omitempty"`
	// Token is the dev API's admin bearer token.
	Token string `json:"token,omitempty"`
	// WebhookSecret signs the dev API's webhook deliveries.
	WebhookSecret string `json:"webhook_secret,omitempty"`
	PID           int    `json:"pid"`
}

// devContextPath is TINMAN_CONTEXT, else tinman/dev.json in the user's config folder.
func devContextPath() string {
	if p := os.Getenv("TINMAN_CONTEXT"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "tinman", "dev.json")
}

func writeDevContext(path string, c devContext) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write dev context: %w", err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("write dev context: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write dev context: %w", err)
	}
	return os.Rename(tmp, path)
}

// readDevContext returns the context of a `tinman dev` that is still running.
func readDevContext(path string) (devContext, bool) {
	var c devContext
	data, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &c) != nil {
		return c, false
	}
	if c.PID != os.Getpid() && !processAlive(c.PID) {
		return c, false
	}
	return c, true
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// removeDevContext removes the file if it is still ours.
func removeDevContext(path string) {
	if c, ok := readDevContext(path); ok && c.PID == os.Getpid() {
		_ = os.Remove(path)
	}
}
