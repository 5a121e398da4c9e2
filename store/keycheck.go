package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// ErrWrongKey says the secret key does not open what this Redis holds.
var ErrWrongKey = errors.New("the secret key does not open the credentials this Redis holds: it is not the key they were sealed with")

// CheckKey proves, at start, that the secret key opens what this Redis
// holds, rather than failing every job later: it opens a known value sealed
// with the key of the first process that checked (tinman:key-check); the
// first process of a deployment that has servers already checks one of
// their credentials first, then leaves the known value for the next.
func (s *Store) CheckKey(ctx context.Context) error {
	stored, err := s.rdb.Get(ctx, keyCheckKey).Result()
	switch {
	case err == nil:
		if _, err := s.sealer.open(stored, keyCheckKey); err != nil {
			return ErrWrongKey
		}
		return nil
	case !errors.Is(err, redis.Nil):
		return fmt.Errorf("read %s: %w", keyCheckKey, err)
	}
	id, err := s.rdb.SRandMember(ctx, serverIndexKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("pick a server to check the secret key on: %w", err)
	}
	if id != "" {
		if _, _, err := s.ServerWithCredentials(ctx, id); err != nil && errors.Is(err, errSealed) {
			return ErrWrongKey
		}
	}
	if err := s.rdb.SetNX(ctx, keyCheckKey, s.sealer.seal([]byte("tinman"), keyCheckKey), 0).Err(); err != nil {
		return fmt.Errorf("write %s: %w", keyCheckKey, err)
	}
	return s.CheckKey(ctx) // another process may have written it first
}
