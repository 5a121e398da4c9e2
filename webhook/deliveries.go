package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// deliveries remembers delivery ids in Redis, each with the job id it
// started, for ttl: tinman:webhook:delivery:<source>:<delivery>.
type deliveries struct {
	rdb redis.UniversalClient
	ttl time.Duration
}

// forgetTimeout bounds the DEL after a failed Submit, which runs even when
// the caller has gone.
const forgetTimeout = 5 * time.Second

func deliveryKey(source, delivery string) string {
	return "tinman:webhook:delivery:" + source + ":" + delivery
}

// claim records delivery as having started jobID, unless it is recorded
// already: then it returns the job id recorded, and "" when the claim is new.
func (d deliveries) claim(ctx context.Context, source, delivery, jobID string) (string, error) {
	key := deliveryKey(source, delivery)
	for range 3 { // a key deleted between SET NX and GET is claimed again
		set, err := d.rdb.SetNX(ctx, key, jobID, d.ttl).Result()
		if err != nil || set {
			return "", err
		}
		original, err := d.rdb.Get(ctx, key).Result()
		if !errors.Is(err, redis.Nil) {
			return original, err
		}
	}
	return "", fmt.Errorf("delivery %s changes too fast to claim", delivery)
}

// lookup returns the job id recorded for delivery, or "" when none is.
func (d deliveries) lookup(ctx context.Context, source, delivery string) (string, error) {
	original, err := d.rdb.Get(ctx, deliveryKey(source, delivery)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return original, err
}

// forget deletes the record of delivery, so that a redelivery is new.
func (d deliveries) forget(ctx context.Context, source, delivery string) error {
	ctx, cancel := context.WithTimeout(ctx, forgetTimeout)
	defer cancel()
	return d.rdb.Del(ctx, deliveryKey(source, delivery)).Err()
}

// jobID derives the job id of a delivery: the same delivery is always the
// same job, which the request stream then keeps from running twice.
func jobID(source, delivery string) string {
	sum := sha256.Sum256([]byte(source + "\x00" + delivery))
	return "wh-" + source + "-" + hex.EncodeToString(sum[:16])
}
