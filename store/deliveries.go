package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Webhook sources whose deliveries are remembered.
const (
	WebhookGitHub  = "github"
	WebhookGeneric = "generic"
)

// forgetTimeout bounds the DEL of ForgetDelivery, which runs even when the
// caller has gone.
const forgetTimeout = 5 * time.Second

func deliveryKey(source, delivery string) (string, error) {
	switch source {
	case WebhookGitHub:
		return githubDelivery + delivery, nil
	case WebhookGeneric:
		return genericDelivery + delivery, nil
	}
	return "", fmt.Errorf("webhook source %q: not github or generic", source)
}

// ClaimDelivery records that a webhook delivery started jobID, for ttl,
// unless it is recorded already: then it returns the job id recorded, and ""
// when the claim is new.
func (s *Store) ClaimDelivery(ctx context.Context, source, delivery, jobID string, ttl time.Duration) (string, error) {
	key, err := deliveryKey(source, delivery)
	if err != nil {
		return "", err
	}
	for range 3 { // a key deleted between SET NX and GET is claimed again
		set, err := s.rdb.SetNX(ctx, key, jobID, ttl).Result()
		if err != nil {
			return "", fmt.Errorf("claim %s delivery %s: %w", source, delivery, err)
		}
		if set {
			return "", nil
		}
		original, err := s.rdb.Get(ctx, key).Result()
		if !errors.Is(err, redis.Nil) {
			return original, wrap(err, "read %s delivery %s", source, delivery)
		}
	}
	return "", fmt.Errorf("%s delivery %s changes too fast to claim", source, delivery)
}

// DeliveryJob returns the job id recorded for a delivery, or "" when none is.
func (s *Store) DeliveryJob(ctx context.Context, source, delivery string) (string, error) {
	key, err := deliveryKey(source, delivery)
	if err != nil {
		return "", err
	}
	original, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return original, wrap(err, "read %s delivery %s", source, delivery)
}

// ForgetDelivery deletes the record of a delivery, so that a redelivery is
// new. It runs for forgetTimeout even when ctx has ended.
func (s *Store) ForgetDelivery(ctx context.Context, source, delivery string) error {
	key, err := deliveryKey(source, delivery)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), forgetTimeout)
	defer cancel()
	return wrap(s.rdb.Del(ctx, key).Err(), "forget %s delivery %s", source, delivery)
}

// wrap adds context to err, and keeps nil nil.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
