package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// Defaults of Config.
const (
	DefaultDedupeTTL = 72 * time.Hour // GitHub lets a delivery be redelivered for 3 days
	DefaultMaxBody   = 1 << 20        // 1 MiB
)

// ErrInvalidConfig is wrapped by every error of New about its Config.
var ErrInvalidConfig = errors.New("invalid webhook config")

// Submitter publishes a job request and returns once it is durably accepted
// (the API's publisher: NATS acked). The same request ID twice is one job.
type Submitter interface {
	Submit(ctx context.Context, req jobs.Request) error
}

// Deliveries remembers which delivery started which job, under each of the
// delivery's names (implemented by *store.Store). ClaimDelivery returns the
// job id recorded before under any of them, or "" when the claim is new.
type Deliveries interface {
	ClaimDelivery(ctx context.Context, d store.Delivery, jobID string, ttl time.Duration) (string, error)
	DeliveryJob(ctx context.Context, d store.Delivery) (string, error)
	ForgetDelivery(ctx context.Context, d store.Delivery) error
}

// Config configures a Handler.
type Config struct {
	// GitHubSecret is the HMAC key of X-Hub-Signature-256. Empty disables
	// the GitHub route: it answers 404.
	GitHubSecret []byte
	// GenericSecret is the HMAC key of X-Tinman-Signature. Empty disables
	// the generic route: it answers 404.
	GenericSecret []byte
	// Rules map GitHub events to deploys; the first that matches wins.
	Rules []Rule
	// Deliveries remembers delivery ids (required: a *store.Store).
	Deliveries Deliveries
	// DedupeTTL is how long a delivery id is remembered (default 72 h).
	DedupeTTL time.Duration
	// Logger receives one line per delivery.
	Logger zerolog.Logger
	// MaxBody is the largest body read, in bytes (default 1 MiB); more is 413.
	MaxBody int64
}

// Handler serves the webhook routes. It is safe for concurrent use.
type Handler struct {
	githubSecret  []byte
	genericSecret []byte
	rules         []rule
	deliveries    Deliveries
	dedupeTTL     time.Duration
	submit        Submitter
	log           zerolog.Logger
	maxBody       int64
}

// New checks cfg, compiles its rules and returns a Handler that submits
// through submit.
func New(cfg Config, submit Submitter) (*Handler, error) {
	if err := cfg.check(submit); err != nil {
		return nil, err
	}
	rules, err := compileRules(cfg.Rules)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	cfg.defaults()
	return &Handler{
		githubSecret:  cfg.GitHubSecret,
		genericSecret: cfg.GenericSecret,
		rules:         rules,
		deliveries:    cfg.Deliveries,
		dedupeTTL:     cfg.DedupeTTL,
		submit:        submit,
		log:           cfg.Logger,
		maxBody:       cfg.MaxBody,
	}, nil
}

func (c Config) check(submit Submitter) error {
	switch {
	case c.Deliveries == nil:
		return fmt.Errorf("%w: Deliveries is required (delivery dedupe)", ErrInvalidConfig)
	case submit == nil:
		return fmt.Errorf("%w: a Submitter is required", ErrInvalidConfig)
	case c.DedupeTTL < 0:
		return fmt.Errorf("%w: DedupeTTL %s is negative", ErrInvalidConfig, c.DedupeTTL)
	case c.MaxBody < 0:
		return fmt.Errorf("%w: MaxBody %d is negative", ErrInvalidConfig, c.MaxBody)
	}
	return nil
}

func (c *Config) defaults() {
	if c.DedupeTTL == 0 {
		c.DedupeTTL = DefaultDedupeTTL
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
}

// start submits req for a verified delivery d, once: a delivery already
// recorded under any of its names answers duplicate; a failed Submit
// forgets the delivery so that a redelivery may try again.
func (h *Handler) start(ctx context.Context, d store.Delivery, req jobs.Request, ok answer) (answer, error) {
	original, err := h.deliveries.ClaimDelivery(ctx, d, req.ID, h.dedupeTTL)
	if err != nil {
		return answer{}, unavailable("record the delivery: %v", err)
	}
	if original != "" {
		return duplicate(original), nil
	}
	if err := h.submit.Submit(ctx, req); err != nil {
		if ferr := h.deliveries.ForgetDelivery(ctx, d); ferr != nil {
			err = errors.Join(err, fmt.Errorf("forget delivery: %w", ferr))
		}
		return answer{}, unavailable("submit job %s: %v", req.ID, err)
	}
	ok.Status, ok.JobID, ok.code = "accepted", req.ID, http.StatusAccepted
	return ok, nil
}

// seen answers duplicate when the delivery is already recorded under its
// id or its body, so that a replay is one even if the rules have changed
// since the first delivery.
func (h *Handler) seen(ctx context.Context, d store.Delivery) (answer, error) {
	original, err := h.deliveries.DeliveryJob(ctx, d)
	switch {
	case err != nil:
		return answer{}, unavailable("look up the delivery: %v", err)
	case original != "":
		return duplicate(original), nil
	}
	return answer{}, nil
}

// jobID derives the job id of a delivery from what identifies it (the
// event's identity, or the delivery id the generic body signs): the same
// delivery is always the same job, which the request stream then keeps from
// running twice even if Redis forgot it.
func jobID(source, identity string) string {
	sum := sha256.Sum256([]byte(source + "\x00" + identity))
	return "wh-" + source + "-" + hex.EncodeToString(sum[:16])
}

// bodyHash is the hex SHA-256 of a signed body: what the signature covers.
func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
