package store

import (
	"context"
	"fmt"

	"github.com/tinmanhq/tinman/jobs"
)

// ServersByID returns the servers of ids that are enrolled, in the order of
// ids, without credentials or inventory, in one round trip: a page of a
// fleet of any size (an id removed meanwhile is left out).
func (s *Store) ServersByID(ctx context.Context, ids []string) ([]jobs.Server, error) {
	if len(ids) == 0 {
		return []jobs.Server{}, nil
	}
	vals, err := s.rdb.MGet(ctx, serverKeys(ids)...).Result()
	if err != nil {
		return nil, fmt.Errorf("list servers: %w", err)
	}
	return s.serversFrom(ids, vals)
}

// serversFrom hands out the servers of ids whose records MGET read as vals
// (those enrolled), decoded through the listing cache, which keeps them.
func (s *Store) serversFrom(ids []string, vals []any) ([]jobs.Server, error) {
	found, read, err := s.decodeServers(ids, vals, nil, false)
	if err != nil {
		return nil, err
	}
	s.listed.keep(read, false)
	return handOut(found), nil
}
