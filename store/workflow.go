package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Callback kinds an installer or agent reports.
const (
	CallbackInstalled = "installed"
	CallbackBooted    = "booted"
	CallbackWiped     = "wiped"
)

// RecordCallback notes that a job's installer reported kind.
func (s *Store) RecordCallback(ctx context.Context, jobID, kind string) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSetNX(ctx, callbacksKey(jobID), kind, time.Now().UTC().Format(time.RFC3339Nano))
	pipe.Expire(ctx, callbacksKey(jobID), s.cfg.JobTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("record %s callback of job %s: %w", kind, jobID, err)
	}
	return nil
}

// CallbackReceived reports whether a job's installer reported kind.
func (s *Store) CallbackReceived(ctx context.Context, jobID, kind string) (bool, error) {
	ok, err := s.rdb.HExists(ctx, callbacksKey(jobID), kind).Result()
	if err != nil {
		return false, fmt.Errorf("read %s callback of job %s: %w", kind, jobID, err)
	}
	return ok, nil
}

// BootConfig is what a server that boots over the network is told: the
// image to install or wipe with, and how to report back. A PXE/iPXE service
// serves it to the booting machine; the token authenticates its callbacks.
type BootConfig struct {
	Server  string    `json:"server"`
	JobID   string    `json:"job_id"`
	Purpose string    `json:"purpose"` // install or wipe
	Image   string    `json:"image,omitempty"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// SetBootConfig stores a server's boot configuration until it expires.
func (s *Store) SetBootConfig(ctx context.Context, c BootConfig) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("marshal boot config of %s: %w", c.Server, err)
	}
	if err := s.rdb.Set(ctx, bootConfigKey(c.Server), data, time.Until(c.Expires)).Err(); err != nil {
		return fmt.Errorf("store boot config of %s: %w", c.Server, err)
	}
	return nil
}

// BootConfig returns a server's current boot configuration, or not_found.
func (s *Store) BootConfig(ctx context.Context, server string) (BootConfig, error) {
	var c BootConfig
	err := s.readJSON(ctx, bootConfigKey(server), &c, "server %s has no boot configuration", server)
	return c, err
}

// ClearBootConfig removes a server's boot configuration if it is job's.
func (s *Store) ClearBootConfig(ctx context.Context, server, jobID string) error {
	c, err := s.BootConfig(ctx, server)
	if err != nil || c.JobID != jobID {
		return nil //nolint:nilerr // nothing of this job's to clear
	}
	return s.rdb.Del(ctx, bootConfigKey(server)).Err()
}
