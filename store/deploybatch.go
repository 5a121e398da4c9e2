package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// StartDeployBatch records ids as the unfinished jobs of deploy id's
// running batch, replacing any batch before.
func (s *Store) StartDeployBatch(ctx context.Context, id string, ids []string) error {
	key := deployPendingKey(id)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		for i := 0; i < len(ids); i += 1000 {
			members := make([]any, 0, 1000)
			for _, c := range ids[i:min(i+1000, len(ids))] {
				members = append(members, c)
			}
			p.SAdd(ctx, key, members...)
		}
		p.PExpire(ctx, key, s.cfg.JobTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the batch of deploy %s: %w", id, err)
	}
	return nil
}

// childEndedScript removes ARGV[1] from the set KEYS[1] and returns 1 when
// it was there and was the last.
var childEndedScript = redis.NewScript(`
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 and redis.call('SCARD', KEYS[1]) == 0 then return 1 end
return 0
`)

// DeployChildEnded records that job child of deploy id ended, and reports
// whether it was the last unfinished job of the running batch.
func (s *Store) DeployChildEnded(ctx context.Context, id, child string) (bool, error) {
	n, err := childEndedScript.Run(ctx, s.rdb, []string{deployPendingKey(id)}, child).Int()
	if err != nil {
		return false, fmt.Errorf("record the end of %s in deploy %s: %w", child, id, err)
	}
	return n == 1, nil
}

// DeployBatchPending returns how many jobs of deploy id's running batch
// have not ended.
func (s *Store) DeployBatchPending(ctx context.Context, id string) (int, error) {
	n, err := s.rdb.SCard(ctx, deployPendingKey(id)).Result()
	if err != nil {
		return 0, fmt.Errorf("count the running jobs of deploy %s: %w", id, err)
	}
	return int(n), nil
}
