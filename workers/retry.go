package workers

import (
	"errors"
	"hash/fnv"
	"math"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/internal/confcheck"
	"github.com/tinmanhq/tinman/jobs"
)

// RetryPolicy decides how often and how soon a failed attempt is retried.
// Delays grow exponentially from Base, capped at Max, with jitter that is a
// pure function of the task and attempt, so the delay an event announces is
// the delay asynq applies.
type RetryPolicy struct {
	// Base is the first delay (default 1 s).
	Base time.Duration
	// Max caps every delay (default 5 min).
	Max time.Duration
	// Attempts is the number of attempts by job type (default 5; 3 for provision-style workflows).
	Attempts map[jobs.Type]int
	// Timeouts bounds one attempt by job type (default 5 min).
	Timeouts map[jobs.Type]time.Duration
}

// Validate names the fields of p that cannot be used: delays and every
// job type's attempts and timeout must be more than 0.
func (p RetryPolicy) Validate() error {
	v := confcheck.For("workers.RetryPolicy")
	confcheck.Positive(v, "Retry.Base", p.Base)
	confcheck.Positive(v, "Retry.Max", p.Max)
	for _, t := range jobs.Types() {
		confcheck.Positive(v, "Retry.Attempts["+string(t)+"]", p.Attempts[t])
		confcheck.Positive(v, "Retry.Timeouts["+string(t)+"]", p.Timeouts[t])
	}
	return v.Err()
}

// DefaultRetryPolicy returns the documented defaults.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		Base: time.Second,
		Max:  5 * time.Minute,
		Attempts: map[jobs.Type]int{
			jobs.Power: 5, jobs.BootDevice: 5, jobs.Inspect: 5, jobs.BMCReset: 3,
			jobs.Provision: 3, jobs.Deprovision: 3, jobs.Deploy: 3,
		},
		Timeouts: map[jobs.Type]time.Duration{
			jobs.Power: 5 * time.Minute, jobs.BootDevice: 2 * time.Minute, jobs.Inspect: 10 * time.Minute,
			jobs.BMCReset: 10 * time.Minute, jobs.Provision: 2 * time.Hour, jobs.Deprovision: 2 * time.Hour,
			jobs.Deploy: 24 * time.Hour,
		},
	}
}

// MaxAttempts returns the number of attempts a job of type t gets.
func (p RetryPolicy) MaxAttempts(t jobs.Type) int {
	if n, ok := p.Attempts[t]; ok && n > 0 {
		return n
	}
	return 5
}

// Timeout returns how long one attempt of type t may run.
func (p RetryPolicy) Timeout(t jobs.Type) time.Duration {
	if d, ok := p.Timeouts[t]; ok && d > 0 {
		return d
	}
	return 5 * time.Minute
}

// Delay returns the wait after failed attempt n+1 (n counts from 0).
func (p RetryPolicy) Delay(n int, t *asynq.Task) time.Duration {
	base, ceiling := p.Base, p.Max
	if base <= 0 {
		base = time.Second
	}
	if ceiling <= 0 {
		ceiling = 5 * time.Minute
	}
	d := float64(base) * math.Pow(2, float64(min(n, 30)))
	d = min(d, float64(ceiling))
	// Full jitter between d/2 and d, fixed by (task, n).
	h := fnv.New64a()
	_, _ = h.Write(t.Payload())
	_, _ = h.Write([]byte{byte(n), byte(n >> 8)})
	frac := float64(h.Sum64()%1000) / 1000
	return time.Duration(d/2 + frac*d/2)
}

// attemptError carries the number of the attempt that failed to asynq's
// retry delay function, which otherwise only knows asynq's own count.
type attemptError struct {
	err     error
	attempt int
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// retryDelay is the asynq.RetryDelayFunc of the worker: a short, spread wait
// for a job whose server was busy, the policy's backoff for a failed attempt.
func (p RetryPolicy) retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if errors.Is(err, errServerBusy) {
		return busyDelay(t)
	}
	if we := new(waitError); errors.As(err, &we) {
		return we.poll
	}
	var ae *attemptError
	if errors.As(err, &ae) {
		n = ae.attempt - 1
	}
	return p.Delay(n, t)
}
