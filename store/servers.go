package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// serverRecord is a server as stored: its credentials sealed, its events numbered.
type serverRecord struct {
	jobs.Server
	Inventory *jobs.Inventory `json:"inventory,omitempty"`
	Sealed    string          `json:"credentials"`
	Seq       int64           `json:"seq"`
	// Before is the state the server left for its current transitional
	// one: a job canceled before it ran gives the server back to it.
	Before jobs.ServerState `json:"before,omitempty"`
}

type sealedCredentials struct {
	Username string `json:"u"`
	Password string `json:"p"`
}

func (s *Store) seal(id string, c jobs.Credentials) (string, error) {
	plain, err := json.Marshal(sealedCredentials{c.Username, c.Password})
	if err != nil {
		return "", fmt.Errorf("seal credentials of %s: %w", id, err)
	}
	return s.sealer.seal(plain, id), nil
}

func (s *Store) unseal(id, sealed string) (jobs.Credentials, error) {
	plain, err := s.sealer.open(sealed, id)
	if err != nil {
		return jobs.Credentials{}, fmt.Errorf("credentials of %s: %w", id, err)
	}
	var c sealedCredentials
	if err := json.Unmarshal(plain, &c); err != nil {
		return jobs.Credentials{}, fmt.Errorf("credentials of %s: %w", id, err)
	}
	return jobs.Credentials{Username: c.Username, Password: c.Password}, nil
}

// PutServer enrols or replaces a server and its BMC credentials. A boot
// MAC another server has is a conflict naming boot_mac.
func (s *Store) PutServer(ctx context.Context, srv jobs.Server, creds jobs.Credentials) error {
	return s.PutServers(ctx, []Enrolment{{Server: srv, Credentials: creds}})
}

// newServerRecord fills what an enrolment leaves out (times, state, power
// state) and seals the credentials.
func (s *Store) newServerRecord(e Enrolment) (serverRecord, error) {
	srv := e.Server
	if err := srv.Validate(); err != nil {
		return serverRecord{}, err
	}
	now := time.Now().UTC()
	if srv.CreatedAt.IsZero() {
		srv.CreatedAt = now
	}
	srv.UpdatedAt = now
	if srv.State == "" {
		srv.State = jobs.ServerEnrolled
	}
	if srv.StateSince.IsZero() {
		srv.StateSince = now
	}
	if srv.PowerState == "" {
		srv.PowerState = jobs.PowerStateUnknown
	}
	sealed, err := s.seal(srv.ID, e.Credentials)
	return serverRecord{Server: srv, Sealed: sealed}, err
}

// writeServer queues on pipe the writes that replace old with rec: the
// record, the index, the label sets and the MAC index. old's event
// numbering goes on.
func writeServer(ctx context.Context, pipe redis.Pipeliner, rec, old serverRecord) error {
	rec.Seq = old.Seq
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("marshal server %s: %w", rec.ID, err)
	}
	pipe.Set(ctx, serverKey(rec.ID), data, 0)
	pipe.SAdd(ctx, serverIndexKey, rec.ID)
	indexLabels(ctx, pipe, rec.ID, old.Labels, rec.Labels)
	indexMAC(ctx, pipe, rec.ID, old.BootMAC, rec.BootMAC)
	return nil
}

// indexLabels moves server id from the label sets of before to those of after.
func indexLabels(ctx context.Context, pipe redis.Pipeliner, id string, before, after map[string]string) {
	for k, v := range before {
		if after[k] != v {
			pipe.SRem(ctx, labelKey(k, v), id)
		}
	}
	for k, v := range after {
		pipe.SAdd(ctx, labelKey(k, v), id)
	}
}

// EnrollServer enrols a new server; an id in use is a conflict.
func (s *Store) EnrollServer(ctx context.Context, srv jobs.Server, creds jobs.Credentials) error {
	ok, err := s.rdb.SetNX(ctx, serverKey(srv.ID), "{}", time.Minute).Result()
	if err != nil {
		return fmt.Errorf("enrol server %s: %w", srv.ID, err)
	}
	if !ok {
		return &jobs.Error{Code: jobs.CodeConflict, Field: "id", Message: fmt.Sprintf("server %s is already enrolled", srv.ID)}
	}
	if err := s.PutServer(ctx, srv, creds); err != nil {
		s.rdb.Del(context.WithoutCancel(ctx), serverKey(srv.ID))
		return err
	}
	return nil
}

func decodeServer(id string, data []byte) (serverRecord, error) {
	var rec serverRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("decode server %s: %w", id, err)
	}
	return rec, nil
}

func (s *Store) serverRecord(ctx context.Context, id string) (serverRecord, error) {
	var rec serverRecord
	err := s.readJSON(ctx, serverKey(id), &rec, "server %s is not enrolled", id)
	return rec, err
}

// Server returns the server with id, without credentials.
func (s *Store) Server(ctx context.Context, id string) (jobs.Server, error) {
	rec, err := s.serverRecord(ctx, id)
	return rec.Server, err
}

// ServerWithCredentials returns the server with id and its BMC credentials.
func (s *Store) ServerWithCredentials(ctx context.Context, id string) (jobs.Server, jobs.Credentials, error) {
	rec, err := s.serverRecord(ctx, id)
	if err != nil {
		return rec.Server, jobs.Credentials{}, err
	}
	creds, err := s.unseal(id, rec.Sealed)
	return rec.Server, creds, err
}

// SetPowerState records the power state last read from a server's BMC.
func (s *Store) SetPowerState(ctx context.Context, id string, p jobs.PowerState) error {
	return s.updateServer(ctx, id, func(rec *serverRecord) error { rec.PowerState = p; return nil })
}

// SetProvisionedImage records the catalogue image a server was provisioned with.
func (s *Store) SetProvisionedImage(ctx context.Context, id, image string) error {
	return s.updateServer(ctx, id, func(rec *serverRecord) error { rec.Image = image; return nil })
}

// SetInventory stores the hardware inventory read from a server's BMC. A
// server with no boot MAC takes the first MAC of its NICs, unless another
// server has it.
func (s *Store) SetInventory(ctx context.Context, id string, inv jobs.Inventory) error {
	store := func(adopt bool) error {
		return s.updateServer(ctx, id, func(rec *serverRecord) error {
			rec.Inventory = &inv
			if adopt && rec.BootMAC == "" {
				rec.BootMAC = inv.FirstMAC()
			}
			return nil
		})
	}
	err := store(true)
	if e := jobs.AsError(err); e != nil && e.Field == "boot_mac" {
		s.cfg.Logger.Warn().Str("server", id).Msg("the inspected NIC's MAC is another server's boot MAC: boot_mac left unset")
		return store(false)
	}
	return err
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

// ServerChange changes a server's settings and its credentials.
type ServerChange func(srv *jobs.Server, creds *jobs.Credentials) error

// UpdateServer applies change to a server, its credentials included, and
// checks the result. The credentials are unsealed for the change and sealed
// again: the store's secret key must open them.
func (s *Store) UpdateServer(ctx context.Context, id string, change ServerChange) (jobs.Server, error) {
	return s.changeServer(ctx, id, func(rec *serverRecord) error {
		creds, err := s.unseal(id, rec.Sealed)
		if err != nil {
			return err
		}
		if err := change(&rec.Server, &creds); err != nil {
			return err
		}
		rec.Sealed, err = s.seal(id, creds)
		return err
	})
}

// UpdateServerSettings applies change to a server's settings (labels, BMC,
// maintenance) and checks the result. Its credentials stay sealed as they
// are: they are not opened, so no key is needed for them.
func (s *Store) UpdateServerSettings(ctx context.Context, id string, change func(srv *jobs.Server) error) (jobs.Server, error) {
	return s.changeServer(ctx, id, func(rec *serverRecord) error { return change(&rec.Server) })
}

// changeServer applies change to a server record, checks the server and
// indexes its labels again.
func (s *Store) changeServer(ctx context.Context, id string, change func(*serverRecord) error) (jobs.Server, error) {
	var out jobs.Server
	var before map[string]string
	err := s.updateServer(ctx, id, func(rec *serverRecord) error {
		before = maps.Clone(rec.Labels)
		if err := change(rec); err != nil {
			return err
		}
		if rec.ID != id {
			return jobs.Invalid("id", "cannot change")
		}
		if err := rec.Validate(); err != nil {
			return err
		}
		out = rec.Server
		return nil
	})
	if err != nil {
		return out, err
	}
	pipe := s.rdb.TxPipeline()
	indexLabels(ctx, pipe, id, before, out.Labels)
	if _, err := pipe.Exec(ctx); err != nil {
		return out, fmt.Errorf("index labels of %s: %w", id, err)
	}
	return out, nil
}

// updateServer changes a server record with optimistic locking: a
// concurrent change makes it read and apply change again.
func (s *Store) updateServer(ctx context.Context, id string, change func(*serverRecord) error) error {
	_, err := s.updateServerTx(ctx, id, func(rec *serverRecord, _ redis.Pipeliner) error { return change(rec) })
	return err
}

// updateServerTx is updateServer whose change may queue more commands in
// the transaction that writes the record.
func (s *Store) updateServerTx(ctx context.Context, id string, change func(*serverRecord, redis.Pipeliner) error) (serverRecord, error) {
	key := serverKey(id)
	var rec serverRecord
	for range 20 {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			data, err := tx.Get(ctx, key).Bytes()
			if errors.Is(err, redis.Nil) {
				return jobs.Errorf(jobs.CodeNotFound, false, "server %s is not enrolled", id)
			}
			if err != nil {
				return err
			}
			if rec, err = decodeServer(id, data); err != nil {
				return err
			}
			prevMAC := rec.BootMAC
			_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				if err := change(&rec, pipe); err != nil {
					return err
				}
				if rec.BootMAC != prevMAC {
					// Read and watched on tx now, before the queued commands are sent.
					if err := claimMAC(ctx, tx, id, rec.BootMAC); err != nil {
						return err
					}
					indexMAC(ctx, pipe, id, prevMAC, rec.BootMAC)
				}
				rec.UpdatedAt = time.Now().UTC()
				out, err := json.Marshal(rec)
				if err != nil {
					return err
				}
				pipe.Set(ctx, key, out, 0)
				return nil
			})
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			if err != nil && !errors.As(err, new(*jobs.Error)) {
				err = fmt.Errorf("update server %s: %w", id, err)
			}
			return rec, err
		}
	}
	return rec, fmt.Errorf("update server %s: too many concurrent changes", id)
}

// RemoveServer forgets a server. It refuses while a job holds the server or
// the server is in a transitional state.
func (s *Store) RemoveServer(ctx context.Context, id string) error {
	srv, err := s.Server(ctx, id)
	if err != nil {
		return err
	}
	if srv.State.Transitional() {
		return jobs.Errorf(jobs.CodeConflict, false, "server %s is %s: wait for its job to end, or cancel it", id, srv.State)
	}
	held, err := s.rdb.Exists(ctx, leaseKey(id)).Result()
	if err != nil {
		return fmt.Errorf("remove server %s: %w", id, err)
	}
	if held > 0 {
		return jobs.Errorf(jobs.CodeConflict, false, "server %s has a job running: wait for it to end, or cancel it", id)
	}
	pipe := s.rdb.TxPipeline()
	pipe.Del(ctx, serverKey(id), breakerKey(id), paceKey(id))
	indexMAC(ctx, pipe, id, srv.BootMAC, "")
	pipe.SRem(ctx, serverIndexKey, id)
	indexLabels(ctx, pipe, id, srv.Labels, nil)
	pipe.SRem(ctx, breakersOpen, id)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("remove server %s: %w", id, err)
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

// ListServers returns the servers whose labels include every pair of
// selector (all servers for an empty one), sorted by id in natural order
// (jobs.CompareIDs: sim-2 before sim-10). Records are read in chunks and
// decoded on every core, each only when it changed since this Store last
// listed it (listCache): decoding is most of the cost.
func (s *Store) ListServers(ctx context.Context, selector map[string]string) ([]jobs.Server, error) {
	listed, err := s.listServers(ctx, selector, false)
	if err != nil {
		return nil, err
	}
	return handOut(listed), nil
}

// ListServersJSON is ListServers with each server as the JSON the API
// answers (json.Marshal of the server), encoded only when its record
// changed since this Store last encoded it. The slices are shared: read
// them only.
func (s *Store) ListServersJSON(ctx context.Context, selector map[string]string) ([]json.RawMessage, error) {
	listed, err := s.listServers(ctx, selector, true)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(listed))
	for i, l := range listed {
		out[i] = l.json
	}
	return out, nil
}

// listServers lists the servers that match selector, in natural id order,
// each with its JSON when encoded is set, and keeps them in the cache.
func (s *Store) listServers(ctx context.Context, selector map[string]string, encoded bool) ([]listedServer, error) {
	ids, err := s.selectIDs(ctx, selector)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ids, jobs.CompareIDs)
	chunks := slices.Collect(slices.Chunk(ids, 500))
	found := make([][]listedServer, len(chunks))
	read := make([]map[string]listedServer, len(chunks))
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, chunk := range chunks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			found[i], read[i], errs[i] = s.serversIn(ctx, chunk, selector, encoded)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	fresh := make(map[string]listedServer, len(ids))
	for _, r := range read {
		maps.Copy(fresh, r)
	}
	s.listed.keep(fresh, len(selector) == 0)
	return slices.Concat(found...), nil
}

// selectIDs returns the ids of the servers that carry every label of
// selector, from the label sets; every id for an empty selector.
func (s *Store) selectIDs(ctx context.Context, selector map[string]string) ([]string, error) {
	if len(selector) == 0 {
		return s.ServerIDs(ctx)
	}
	keys := make([]string, 0, len(selector))
	for k, v := range selector {
		keys = append(keys, labelKey(k, v))
	}
	ids, err := s.rdb.SInter(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("select servers: %w", err)
	}
	return ids, nil
}

// serversIn reads the records of ids and returns those that match
// selector, the cache's own (copy their servers to hand them out), each
// with its JSON when encoded is set; it also returns, for the cache, every
// server it read: those it decoded, and those the cache knew unchanged.
func (s *Store) serversIn(ctx context.Context, ids []string, selector map[string]string, encoded bool) ([]listedServer, map[string]listedServer, error) {
	vals, err := s.rdb.MGet(ctx, serverKeys(ids)...).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("list servers: %w", err)
	}
	return s.decodeServers(ids, vals, selector, encoded)
}

func serverKeys(ids []string) []string {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = serverKey(id)
	}
	return keys
}

// decodeServers reads the records vals of the servers ids (MGET's answer),
// through the listing cache.
func (s *Store) decodeServers(ids []string, vals []any, selector map[string]string, encoded bool) ([]listedServer, map[string]listedServer, error) {
	var err error
	out := make([]listedServer, 0, len(vals))
	read := make(map[string]listedServer, len(vals))
	for i, v := range vals {
		data, ok := v.(string)
		if !ok {
			continue // removed meanwhile
		}
		sum := s.listed.sum(data)
		l, known := s.listed.lookup(ids[i], sum)
		if !known {
			// The listing needs neither inventory nor credentials.
			var srv jobs.Server
			if err := json.Unmarshal([]byte(data), &srv); err != nil {
				return nil, nil, fmt.Errorf("decode server %s: %w", ids[i], err)
			}
			l = listedServer{sum: sum, srv: srv}
		}
		if encoded && l.json == nil {
			if l.json, err = json.Marshal(l.srv); err != nil {
				return nil, nil, fmt.Errorf("encode server %s: %w", ids[i], err)
			}
		}
		read[ids[i]] = l
		if matches(l.srv.Labels, selector) {
			out = append(out, l)
		}
	}
	return out, read, nil
}

func matches(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TransitionServer moves a server from one of from to state to, for job,
// and records tinman.server.state_changed in the same transaction. A server
// in another state is a conflict that names it.
func (s *Store) TransitionServer(ctx context.Context, id string, from []jobs.ServerState, to jobs.ServerState, jobID, reason string) (jobs.Server, error) {
	var staged Staged
	rec, err := s.updateServerTx(ctx, id, func(rec *serverRecord, pipe redis.Pipeliner) error {
		if rec.State == to && rec.Job == jobID && jobID != "" {
			return errNoChange // the same job asked again: done already
		}
		if !slices.Contains(from, rec.State) {
			return jobs.Errorf(jobs.CodeConflict, false, "server %s is %s: going %s needs it %s", id, rec.State, to, jobs.JoinStates(from))
		}
		prev := rec.State
		rec.State, rec.Seq, rec.StateSince = to, rec.Seq+1, time.Now().UTC()
		rec.Job, rec.Before = "", ""
		if to.Transitional() {
			rec.Job, rec.Before = jobID, prev
		}
		if to == jobs.ServerError {
			rec.LastError = &jobs.ServerFailure{Reason: reason, JobID: jobID, At: time.Now().UTC()}
		} else {
			rec.LastError = nil
		}
		ev, err := events.New(s.cfg.Source, events.ServerStateChanged, id, events.StateChangedData{
			Server: id, Previous: prev, State: to, JobID: jobID, Reason: reason,
		})
		if err != nil {
			return err
		}
		ev.ID = events.ServerEventID(id, rec.Seq)
		staged, err = s.outbox.stage(ctx, pipe, serverStream(id), ev)
		return err
	})
	if errors.Is(err, errNoChange) {
		return rec.Server, nil
	}
	if err != nil {
		return rec.Server, err
	}
	s.send(ctx, staged)
	return rec.Server, nil
}

// errNoChange ends an update that has nothing to write.
var errNoChange = errors.New("no change")

// ReleaseUnstarted gives a server back to the state it was in before job
// claimed it, when job is canceled before it ran; it does nothing when the
// server is not job's.
func (s *Store) ReleaseUnstarted(ctx context.Context, id, jobID string) error {
	srv, err := s.serverRecord(ctx, id)
	if err != nil || srv.Job != jobID || srv.Before == "" {
		return err
	}
	_, err = s.TransitionServer(ctx, id, []jobs.ServerState{srv.State}, srv.Before, jobID, "job "+jobID+" canceled before it ran")
	return err
}

// claimMAC watches the key of boot MAC mac on tx and refuses it, as a
// conflict naming boot_mac, when another server has it. The MAC index is
// written in the transaction that writes the server record, so it always
// names the server whose record holds the MAC.
func claimMAC(ctx context.Context, tx *redis.Tx, id, mac string) error {
	if mac == "" {
		return nil
	}
	if err := tx.Watch(ctx, macKey(mac)).Err(); err != nil {
		return err
	}
	holder, err := tx.Get(ctx, macKey(mac)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if holder != "" && holder != id {
		return &jobs.Error{Code: jobs.CodeConflict, Field: "boot_mac", Message: fmt.Sprintf("boot MAC %s is server %s's: MACs are unique across the fleet", mac, holder)}
	}
	return nil
}

// indexMAC moves server id's entry in the MAC index from before to after.
func indexMAC(ctx context.Context, pipe redis.Pipeliner, id, before, after string) {
	if before == after {
		return
	}
	if before != "" {
		pipe.Del(ctx, macKey(before))
	}
	if after != "" {
		pipe.Set(ctx, macKey(after), id, 0)
	}
}

// ServerByMAC returns the server whose boot MAC is mac (in ParseMAC's
// form), or not_found.
func (s *Store) ServerByMAC(ctx context.Context, mac string) (jobs.Server, error) {
	id, err := s.rdb.Get(ctx, macKey(mac)).Result()
	if errors.Is(err, redis.Nil) {
		return jobs.Server{}, jobs.Errorf(jobs.CodeNotFound, false, "no server boots with MAC %s", mac)
	}
	if err != nil {
		return jobs.Server{}, fmt.Errorf("look up MAC %s: %w", mac, err)
	}
	srv, err := s.Server(ctx, id)
	if err == nil && srv.BootMAC != mac {
		return jobs.Server{}, jobs.Errorf(jobs.CodeNotFound, false, "no server boots with MAC %s", mac)
	}
	return srv, err
}
