package store

import (
	"context"

	"github.com/tinmanhq/tinman/jobs"
)

// ServersByID returns the servers of ids that are enrolled, in the order of
// ids, without credentials or inventory, in one round trip: a page of a
// fleet of any size (an id removed meanwhile is left out).
func (s *Store) ServersByID(ctx context.Context, ids []string) ([]jobs.Server, error) {
	if len(ids) == 0 {
		return []jobs.Server{}, nil
	}
	found, read, err := s.serversIn(ctx, ids, nil, false)
	if err != nil {
		return nil, err
	}
	s.listed.keep(read, false)
	return handOut(found), nil
}
