package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

// AddImage puts img in the catalogue; a name in use is a conflict naming
// "name". A catalogue entry is not changed in place: remove it and add it
// again, so a provision never boots one image's kernel with another's disk.
func (s *Store) AddImage(ctx context.Context, img jobs.Image) (jobs.Image, error) {
	if err := img.Validate(); err != nil {
		return img, err
	}
	if img.CreatedAt.IsZero() {
		img.CreatedAt = time.Now().UTC()
	}
	data, err := json.Marshal(img)
	if err != nil {
		return img, fmt.Errorf("marshal image %s: %w", img.Name, err)
	}
	ok, err := s.rdb.SetNX(ctx, imageKey(img.Name), data, 0).Result()
	if err != nil {
		return img, fmt.Errorf("add image %s: %w", img.Name, err)
	}
	if !ok {
		return img, &jobs.Error{Code: jobs.CodeConflict, Field: "name", Message: fmt.Sprintf("image %s is in the catalogue already: remove it first", img.Name)}
	}
	if err := s.rdb.SAdd(ctx, imageIndexKey, img.Name).Err(); err != nil {
		return img, fmt.Errorf("index image %s: %w", img.Name, err)
	}
	return img, nil
}

// Image returns the catalogue image name, or not_found.
func (s *Store) Image(ctx context.Context, name string) (jobs.Image, error) {
	var img jobs.Image
	err := s.readJSON(ctx, imageKey(name), &img, "image %s is not in the catalogue", name)
	return img, err
}

// Images returns the catalogue, sorted by name.
func (s *Store) Images(ctx context.Context) ([]jobs.Image, error) {
	names, err := s.rdb.SMembers(ctx, imageIndexKey).Result()
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	slices.Sort(names)
	out := make([]jobs.Image, 0, len(names))
	for _, name := range names {
		img, err := s.Image(ctx, name)
		if jobs.CodeOf(err) == jobs.CodeNotFound {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// RemoveImage takes an image out of the catalogue; not_found when it is
// not there. Jobs that booted with it keep what their boot configuration
// copied of it.
func (s *Store) RemoveImage(ctx context.Context, name string) error {
	pipe := s.rdb.TxPipeline()
	del := pipe.Del(ctx, imageKey(name))
	pipe.SRem(ctx, imageIndexKey, name)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("remove image %s: %w", name, err)
	}
	if del.Val() == 0 {
		return jobs.Errorf(jobs.CodeNotFound, false, "image %s is not in the catalogue", name)
	}
	return nil
}
