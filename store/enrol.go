package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
)

// Enrolment is a server to enrol with its BMC credentials.
type Enrolment struct {
	Server      jobs.Server
	Credentials jobs.Credentials
}

// enrolChunk is how many servers PutServers writes in one transaction.
const enrolChunk = 500

// PutServers enrols or replaces servers and their BMC credentials as
// PutServer does each, enrolChunk servers to a transaction of three round
// trips (WATCH; read the records and the MACs' holders; MULTI/EXEC): 10,000
// servers take 60 round trips, not 30,000. A boot MAC another server has,
// or that two of list share, and an id given twice are conflicts naming the
// field; the chunks before a refused one stay written.
func (s *Store) PutServers(ctx context.Context, list []Enrolment) error {
	recs := make([]serverRecord, len(list))
	for i, e := range list {
		rec, err := s.newServerRecord(e)
		if err != nil {
			return err
		}
		recs[i] = rec
	}
	if err := uniqueEnrolments(recs); err != nil {
		return err
	}
	for chunk := range slices.Chunk(recs, enrolChunk) {
		if err := s.putChunk(ctx, chunk); err != nil {
			return err
		}
	}
	return nil
}

// uniqueEnrolments refuses an id or a boot MAC that two records share.
func uniqueEnrolments(recs []serverRecord) error {
	ids := make(map[string]bool, len(recs))
	macs := make(map[string]string, len(recs))
	for _, rec := range recs {
		if ids[rec.ID] {
			return &jobs.Error{Code: jobs.CodeConflict, Field: "id", Message: fmt.Sprintf("server %s is given twice", rec.ID)}
		}
		ids[rec.ID] = true
		if other, ok := macs[rec.BootMAC]; ok && rec.BootMAC != "" {
			return &jobs.Error{Code: jobs.CodeConflict, Field: "boot_mac", Message: fmt.Sprintf("boot MAC %s is given to both %s and %s: MACs are unique across the fleet", rec.BootMAC, other, rec.ID)}
		}
		macs[rec.BootMAC] = rec.ID
	}
	return nil
}

// putChunk writes recs in one transaction, retried while another client
// changes one of their records or MACs meanwhile.
func (s *Store) putChunk(ctx context.Context, recs []serverRecord) error {
	keys := make([]string, 0, 2*len(recs))
	for _, rec := range recs {
		keys = append(keys, serverKey(rec.ID))
		if rec.BootMAC != "" {
			keys = append(keys, macKey(rec.BootMAC))
		}
	}
	for range 20 {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			olds, err := readForPut(ctx, tx, recs)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				for i, rec := range recs {
					if err := writeServer(ctx, pipe, rec, olds[i]); err != nil {
						return err
					}
				}
				return nil
			})
			return err
		}, keys...)
		if !errors.Is(err, redis.TxFailedErr) {
			if err != nil && !errors.As(err, new(*jobs.Error)) {
				err = fmt.Errorf("put server %s: %w", chunkName(recs), err)
			}
			return err
		}
	}
	return fmt.Errorf("put server %s: too many concurrent changes", chunkName(recs))
}

// readForPut reads, in one round trip on tx, the records recs replace and
// the holders of their boot MACs, and refuses a MAC another server holds.
func readForPut(ctx context.Context, tx *redis.Tx, recs []serverRecord) ([]serverRecord, error) {
	keys, macs := make([]string, len(recs)), make([]string, len(recs))
	for i, rec := range recs {
		keys[i], macs[i] = serverKey(rec.ID), macKey(rec.BootMAC)
	}
	var records, holders *redis.SliceCmd
	_, err := tx.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		records, holders = pipe.MGet(ctx, keys...), pipe.MGet(ctx, macs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	olds := make([]serverRecord, len(recs))
	for i, rec := range recs {
		if data, ok := records.Val()[i].(string); ok {
			olds[i], _ = decodeServer(rec.ID, []byte(data)) // its labels and boot MAC go, its numbering goes on
		}
		holder, _ := holders.Val()[i].(string)
		if rec.BootMAC != "" && holder != "" && holder != rec.ID {
			return nil, &jobs.Error{Code: jobs.CodeConflict, Field: "boot_mac", Message: fmt.Sprintf("boot MAC %s is server %s's: MACs are unique across the fleet", rec.BootMAC, holder)}
		}
	}
	return olds, nil
}

// chunkName names the servers of recs in an error: the one, or the first
// and last.
func chunkName(recs []serverRecord) string {
	if len(recs) == 1 {
		return recs[0].ID
	}
	return fmt.Sprintf("%s..%s (%d servers)", recs[0].ID, recs[len(recs)-1].ID, len(recs))
}
