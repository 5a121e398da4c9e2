package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
)

// Callback kinds an installer or agent reports. CallbackChecksumMismatch
// and CallbackFailed record a failure, with a message (an installer sends
// event failed with code checksum_mismatch for the first); CallbackBooted
// may record the image the OS found on its disk.
const (
	CallbackInstalled        = "installed"
	CallbackBooted           = "booted"
	CallbackWiped            = "wiped"
	CallbackChecksumMismatch = "checksum_mismatch"
	CallbackFailed           = "failed"
)

// FailureKinds are the callback kinds that report a failure.
func FailureKinds() []string { return []string{CallbackChecksumMismatch, CallbackFailed} }

// RecordCallback notes that a job's installer reported kind.
func (s *Store) RecordCallback(ctx context.Context, jobID, kind string) error {
	return s.recordCallback(ctx, jobID, kind, time.Now().UTC().Format(time.RFC3339Nano))
}

// RecordFailure notes that a job's installer reported the failure kind
// (one of FailureKinds), with its message.
func (s *Store) RecordFailure(ctx context.Context, jobID, kind, message string) error {
	return s.RecordCallbackDetail(ctx, jobID, kind, message)
}

// RecordCallbackDetail notes that a job's installer reported kind, with
// what it said: a failure's message, the image a booted OS found on its
// disk (CallbackDetail reads it back).
func (s *Store) RecordCallbackDetail(ctx context.Context, jobID, kind, detail string) error {
	return s.recordCallback(ctx, jobID, kind, time.Now().UTC().Format(time.RFC3339Nano)+" "+detail)
}

// CallbackDetail returns what a job's installer said with kind ("" when it
// said nothing more); a kind not reported is a not_found *jobs.Error.
func (s *Store) CallbackDetail(ctx context.Context, jobID, kind string) (string, error) {
	v, err := s.rdb.HGet(ctx, callbacksKey(jobID), kind).Result()
	if errors.Is(err, redis.Nil) {
		return "", &jobs.Error{Code: jobs.CodeNotFound, Message: fmt.Sprintf("job %s has no %s callback", jobID, kind)}
	}
	if err != nil {
		return "", fmt.Errorf("read %s callback of job %s: %w", kind, jobID, err)
	}
	_, detail, _ := strings.Cut(v, " ")
	return detail, nil
}

func (s *Store) recordCallback(ctx context.Context, jobID, kind, value string) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSetNX(ctx, callbacksKey(jobID), kind, value)
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

// InstallerFailure is a failure an installer reported.
type InstallerFailure struct {
	Kind    string
	Message string
	At      time.Time
}

// Failure returns the failure a job's installer reported first, or nil
// when it reported none.
func (s *Store) Failure(ctx context.Context, jobID string) (*InstallerFailure, error) {
	kinds := FailureKinds()
	vals, err := s.rdb.HMGet(ctx, callbacksKey(jobID), kinds...).Result()
	if err != nil {
		return nil, fmt.Errorf("read the failures reported for job %s: %w", jobID, err)
	}
	var first *InstallerFailure
	for i, v := range vals {
		text, ok := v.(string)
		if !ok {
			continue
		}
		stamp, msg, _ := strings.Cut(text, " ")
		at, _ := time.Parse(time.RFC3339Nano, stamp)
		if first == nil || at.Before(first.At) {
			first = &InstallerFailure{Kind: kinds[i], Message: msg, At: at}
		}
	}
	return first, nil
}

// BootConfig is what a server that boots into an installer (or a wiper)
// is told: what to do, with which image, and the per-job token that its
// metadata and callbacks are known by. The boot service serves it to the
// machine that boots with the server's boot MAC. The image's URLs are
// copied from the catalogue when the job boots the server, as the
// catalogue has them (relative ones are resolved by the boot service).
type BootConfig struct {
	Server  string `json:"server"`
	JobID   string `json:"job_id"`
	Purpose string `json:"purpose"` // install or wipe
	// Boot is how the server boots: pxe or virtual-media.
	Boot   jobs.BootMethod `json:"boot,omitempty"`
	MAC    string          `json:"mac,omitempty"`
	Image  string          `json:"image,omitempty"`
	Kernel string          `json:"kernel_url,omitempty"`
	Initrd string          `json:"initrd_url,omitempty"`
	ISO    string          `json:"iso_url,omitempty"`
	Disk   string          `json:"image_url,omitempty"`
	SHA256 string          `json:"sha256,omitempty"`
	Token  string          `json:"token"`
	// Expires is when the configuration goes by itself, should its job
	// never remove it.
	Expires time.Time `json:"expires"`
}

// ImageOf copies img's boot and disk URLs into c.
func (c *BootConfig) ImageOf(img jobs.Image) {
	c.Image, c.Kernel, c.Initrd, c.ISO, c.Disk, c.SHA256 = img.Name, img.KernelURL, img.InitrdURL, img.ISOURL, img.ImageURL, img.SHA256
}

// tokenHash is the key a boot token is found by: its SHA-256, so that no
// token stands in a key name.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// SetBootConfig stores a server's boot configuration, and the index of its
// token, until it expires; a configuration the server had is replaced, and
// its token stops working.
func (s *Store) SetBootConfig(ctx context.Context, c BootConfig) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("marshal boot config of %s: %w", c.Server, err)
	}
	old, err := s.BootConfig(ctx, c.Server)
	if err != nil && jobs.CodeOf(err) != jobs.CodeNotFound {
		return err
	}
	ttl := time.Until(c.Expires)
	pipe := s.rdb.TxPipeline()
	if old.Token != "" && old.Token != c.Token {
		pipe.Del(ctx, bootTokenKey(tokenHash(old.Token)))
	}
	pipe.Set(ctx, bootConfigKey(c.Server), data, ttl)
	pipe.Set(ctx, bootTokenKey(tokenHash(c.Token)), c.Server, ttl)
	if _, err := pipe.Exec(ctx); err != nil {
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

// BootConfigByToken returns the boot configuration whose token is token,
// or not_found: for an unknown token, and for one whose job has ended.
func (s *Store) BootConfigByToken(ctx context.Context, token string) (BootConfig, error) {
	notFound := jobs.Errorf(jobs.CodeNotFound, false, "no boot configuration has this token")
	server, err := s.rdb.Get(ctx, bootTokenKey(tokenHash(token))).Result()
	if errors.Is(err, redis.Nil) {
		return BootConfig{}, notFound
	}
	if err != nil {
		return BootConfig{}, fmt.Errorf("look up boot token: %w", err)
	}
	c, err := s.BootConfig(ctx, server)
	if jobs.CodeOf(err) == jobs.CodeNotFound || err == nil && subtle.ConstantTimeCompare([]byte(c.Token), []byte(token)) != 1 {
		return BootConfig{}, notFound
	}
	return c, err
}

// ClearBootConfig removes a server's boot configuration, and its token's
// index, if it is job's.
func (s *Store) ClearBootConfig(ctx context.Context, server, jobID string) error {
	c, err := s.BootConfig(ctx, server)
	if err != nil || c.JobID != jobID {
		return nil //nolint:nilerr // nothing of this job's to clear
	}
	return s.rdb.Del(ctx, bootConfigKey(server), bootTokenKey(tokenHash(c.Token))).Err()
}
