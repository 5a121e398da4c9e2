package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
)

const serverIndexKey = "tinman:servers"

func serverKey(id string) string { return "tinman:server:" + id }

type serverRecord struct {
	jobs.Server
	Inventory *jobs.Inventory `json:"inventory,omitempty"`
	Username  string          `json:"username"`
	Password  string          `json:"password"`
}

// PutServer enrols or replaces a server and its BMC credentials.
func (s *Store) PutServer(ctx context.Context, srv jobs.Server, creds jobs.Credentials) error {
	if err := srv.Validate(); err != nil {
		return err
	}
	now := time.Now().UTC()
	if srv.CreatedAt.IsZero() {
		srv.CreatedAt = now
	}
	srv.UpdatedAt = now
	if srv.State == "" {
		srv.State = jobs.ServerEnrolled
	}
	if srv.PowerState == "" {
		srv.PowerState = jobs.PowerStateUnknown
	}
	data, err := json.Marshal(serverRecord{Server: srv, Username: creds.Username, Password: creds.Password})
	if err != nil {
		return fmt.Errorf("marshal server %s: %w", srv.ID, err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, serverKey(srv.ID), data, 0)
	pipe.SAdd(ctx, serverIndexKey, srv.ID)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("put server %s: %w", srv.ID, err)
	}
	return nil
}

func (s *Store) serverRecord(ctx context.Context, id string) (serverRecord, error) {
	var rec serverRecord
	data, err := s.rdb.Get(ctx, serverKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return rec, jobs.Errorf(jobs.CodeNotFound, false, "server %s is not enrolled", id)
	}
	if err != nil {
		return rec, fmt.Errorf("read server %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("decode server %s: %w", id, err)
	}
	return rec, nil
}

// Server returns the server with id, without credentials.
func (s *Store) Server(ctx context.Context, id string) (jobs.Server, error) {
	rec, err := s.serverRecord(ctx, id)
	return rec.Server, err
}

// ServerWithCredentials returns the server with id and its BMC credentials.
func (s *Store) ServerWithCredentials(ctx context.Context, id string) (jobs.Server, jobs.Credentials, error) {
	rec, err := s.serverRecord(ctx, id)
	return rec.Server, jobs.Credentials{Username: rec.Username, Password: rec.Password}, err
}

// SetPowerState records the power state last read from a server's BMC.
func (s *Store) SetPowerState(ctx context.Context, id string, p jobs.PowerState) error {
	return s.updateServer(ctx, id, func(rec *serverRecord) { rec.PowerState = p })
}

// SetInventory stores the hardware inventory read from a server's BMC.
func (s *Store) SetInventory(ctx context.Context, id string, inv jobs.Inventory) error {
	return s.updateServer(ctx, id, func(rec *serverRecord) { rec.Inventory = &inv })
}

// Inventory returns the server's last inventory, or a not_found error.
func (s *Store) Inventory(ctx context.Context, id string) (jobs.Inventory, error) {
	rec, err := s.serverRecord(ctx, id)
	if err != nil {
		return jobs.Inventory{}, err
	}
	if rec.Inventory == nil {
		return jobs.Inventory{}, jobs.Errorf(jobs.CodeNotFound, false, "server %s has not been inspected", id)
	}
	return *rec.Inventory, nil
}

// updateServer changes a server record in place.
func (s *Store) updateServer(ctx context.Context, id string, change func(*serverRecord)) error {
	rec, err := s.serverRecord(ctx, id)
	if err != nil {
		return err
	}
	change(&rec)
	rec.UpdatedAt = time.Now().UTC()
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("marshal server %s: %w", id, err)
	}
	if err := s.rdb.Set(ctx, serverKey(id), data, 0).Err(); err != nil {
		return fmt.Errorf("update server %s: %w", id, err)
	}
	return nil
}

// ServerIDs returns the ids of every enrolled server.
func (s *Store) ServerIDs(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, serverIndexKey).Result()
	if err != nil {
		return nil, fmt.Errorf("list servers: %w", err)
	}
	return ids, nil
}
