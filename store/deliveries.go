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

// Delivery names one webhook delivery in every way it is recognised: a
// replay of it matches any one of them. The delivery id is a header the
// signature does not cover, so a captured delivery replayed under a new id
// is caught by the hash of its signed body, and the same event sent again
// in another body by the event's own identity.
type Delivery struct {
	Source string // WebhookGitHub or WebhookGeneric
	ID     string // the delivery id (X-GitHub-Delivery, or the generic body's delivery_id)
	// BodySHA256 is the hex SHA-256 of the signed body.
	BodySHA256 string
	// Event identifies what the delivery reports, where its kind has an
	// identity (a push's repository, ref and after; a release's repository
	// and tag; a workflow run's id); "" when it has none.
	Event string
}

// keys are the Redis keys of d's names, the empty ones left out.
func (d Delivery) keys() ([]string, error) {
	var p deliveryPrefixes
	switch d.Source {
	case WebhookGitHub:
		p = deliveryPrefixes{githubDelivery, githubBody, githubEvent}
	case WebhookGeneric: // its delivery id is in the signed body: no other identity
		if d.Event != "" {
			return nil, fmt.Errorf("generic delivery %s: an event identity is for GitHub deliveries", d.ID)
		}
		p = deliveryPrefixes{genericDelivery, genericBody, ""}
	default:
		return nil, fmt.Errorf("webhook source %q: not github or generic", d.Source)
	}
	var keys []string
	for _, k := range [][2]string{{p.id, d.ID}, {p.body, d.BodySHA256}, {p.event, d.Event}} {
		if k[1] != "" {
			keys = append(keys, k[0]+k[1])
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s delivery: no id, body hash or event to know it by", d.Source)
	}
	return keys, nil
}

type deliveryPrefixes struct{ id, body, event string }

// claimDeliveryScript returns the job recorded under any of KEYS, or else
// records ARGV[1] under all of them for ARGV[2] ms and returns "".
var claimDeliveryScript = redis.NewScript(`
for i = 1, #KEYS do
  local job = redis.call('GET', KEYS[i])
  if job then return job end
end
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2]) end
return ''`)

// ClaimDelivery records that delivery d started jobID, under each of its
// names, for ttl, unless any of them is recorded already: then it returns
// the job id recorded, and "" when the claim is new.
func (s *Store) ClaimDelivery(ctx context.Context, d Delivery, jobID string, ttl time.Duration) (string, error) {
	keys, err := d.keys()
	if err != nil {
		return "", err
	}
	original, err := claimDeliveryScript.Run(ctx, s.rdb, keys, jobID, ttl.Milliseconds()).Text()
	if err != nil {
		return "", fmt.Errorf("claim %s delivery %s: %w", d.Source, d.ID, err)
	}
	return original, nil
}

// DeliveryJob returns the job recorded under any of d's names, or "" when
// none is.
func (s *Store) DeliveryJob(ctx context.Context, d Delivery) (string, error) {
	keys, err := d.keys()
	if err != nil {
		return "", err
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("read %s delivery %s: %w", d.Source, d.ID, err)
	}
	for _, v := range vals {
		if job, ok := v.(string); ok {
			return job, nil
		}
	}
	return "", nil
}

// ForgetDelivery deletes every name of delivery d, so that a redelivery is
// new. It runs for forgetTimeout even when ctx has ended.
func (s *Store) ForgetDelivery(ctx context.Context, d Delivery) error {
	keys, err := d.keys()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), forgetTimeout)
	defer cancel()
	return wrap(s.rdb.Del(ctx, keys...).Err(), "forget %s delivery %s", d.Source, d.ID)
}

// wrap adds context to err, and keeps nil nil.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
