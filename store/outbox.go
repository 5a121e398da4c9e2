package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/internal/confcheck"
)

// Outbox makes events durable before they reach NATS. An event is staged in
// Redis in the same transaction as the state change it reports (Append),
// then sent to JetStream in order (Send, Flush); what a crash or a NATS outage leaves behind is
// flushed by the sweep of any process. Each ordering stream (a job, or a
// server's state changes) keeps its events in a Redis list, so a job's events
// reach NATS in seq order.
type Outbox struct {
	rdb  redis.UniversalClient
	pub  *events.Publisher
	cfg  OutboxConfig
	pops atomic.Pointer[chan sent] // set while Run runs: sent entries are removed in batches
	// published remembers the ids of the events this process published last (published.go).
	published published
}

// sent is an entry published to NATS, to be removed from its stream's list.
type sent struct {
	stream outboxStream
	entry  string
}

// OutboxConfig configures an Outbox.
type OutboxConfig struct {
	// Logger receives sweep failures.
	Logger zerolog.Logger
	// SweepInterval is how often pending streams are flushed (default 2 s).
	SweepInterval time.Duration
	// KeyTTL is how long a stream's seq counter lives after its last event (default 7 days).
	KeyTTL time.Duration
	// Published, if set, is told the outcome of every publish (for metrics).
	Published func(err error)
}

// NewOutbox returns an Outbox that stages in rdb and publishes through pub
// (nil: it stages only, and a process with a publisher sends), or an error
// naming what cannot be used: no Redis, a negative interval.
func NewOutbox(rdb redis.UniversalClient, pub *events.Publisher, cfg OutboxConfig) (*Outbox, error) {
	v := confcheck.For("store.OutboxConfig")
	v.Present("rdb", rdb)
	confcheck.NotNegative(v, "SweepInterval", cfg.SweepInterval)
	confcheck.NotNegative(v, "KeyTTL", cfg.KeyTTL)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = 2 * time.Second
	}
	if cfg.KeyTTL == 0 {
		cfg.KeyTTL = 7 * 24 * time.Hour
	}
	cfg.Logger = cfg.Logger.With().Str("component", "outbox").Logger()
	return &Outbox{rdb: rdb, pub: pub, cfg: cfg}, nil
}

// ErrSeqConflict says the stream moved on since its caller read it: another
// writer appended an event first.
var ErrSeqConflict = errors.New("stream changed since it was read")

// ErrExists says a record that Append was to create exists already.
var ErrExists = errors.New("record exists")

// Write is a key written in the same transaction as an event: the record
// whose change the event reports.
type Write struct {
	Key   string
	Value []byte
	// TTL is the record's life after this write; 0 keeps it for good.
	TTL time.Duration
	// Create makes the append fail with ErrExists when Key exists.
	Create bool
}

// Staged is an event durably staged by Append, to be sent by Send.
type Staged struct {
	stream outboxStream
	entry  string
	depth  int64    // the stream's list length right after the append
	ahead  []string // the ids of the events ahead of it, when few
}

// staged reads appendScript's reply {depth, ids ahead}.
func staged(stream outboxStream, entry string, reply []any) Staged {
	s := Staged{stream: stream, entry: entry}
	if len(reply) == 2 {
		s.depth, _ = reply[0].(int64)
		ids, _ := reply[1].([]any)
		for _, id := range ids {
			s.ahead = append(s.ahead, fmt.Sprint(id))
		}
	}
	return s
}

// appendScript appends the event ARGV[2] as the stream's next, if the stream's
// seq is still ARGV[1], and writes the records of KEYS[4..] with it; given a
// lease after the records, it frees the lease too, if it still holds the
// value given. Every check comes before the first write, so a refusal
// writes nothing (Redis does not roll back a script that fails half way).
// KEYS: seq, list, pending, records..., [lease]; ARGV: prev seq, entry,
// stream, seq ttl (s), then value, ttl (s), create (0|1) per record, then
// [the lease's "owner token"]. Returns the list length and, when up to 8
// events are ahead of this one in the list, their ids.
var appendScript = redis.NewScript(`
local function kind(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. t) end
end
local last = 3 + math.floor((#ARGV - 4) / 3)
local bad = kind(KEYS[1], 'string') or kind(KEYS[2], 'list') or kind(KEYS[3], 'set')
if bad then return bad end
for i = 4, last do
  bad = kind(KEYS[i], 'string')
  if bad then return bad end
end
for i = 4, last do
  if ARGV[4 + (i-4)*3 + 3] == '1' and redis.call('EXISTS', KEYS[i]) == 1 then
    return redis.error_reply('EXISTS')
  end
end
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if last == 4 and ARGV[7] == '1' then cur = tonumber(ARGV[1])
elseif cur ~= tonumber(ARGV[1]) then return redis.error_reply('SEQ ' .. cur) end
local function set(key, value, ttl)
  if ttl == '0' then redis.call('SET', key, value) else redis.call('SET', key, value, 'EX', ttl) end
end
set(KEYS[1], cur + 1, ARGV[4])
for i = 4, last do
  local j = 4 + (i-4)*3
  set(KEYS[i], ARGV[j+1], ARGV[j+2])
end
local n = redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
if #KEYS > last and redis.call('GET', KEYS[#KEYS]) == ARGV[#ARGV] then redis.call('DEL', KEYS[#KEYS]) end
local ahead = {}
if n > 1 and n <= 9 then
  for i, e in ipairs(redis.call('LRANGE', KEYS[2], 0, n - 2)) do ahead[i] = string.match(e, '^[^ ]* ([^\n]*)') or '' end
end
return {n, ahead}`)

// appendJob stages ev as job jobID's event number prev+1, in one Redis
// transaction with writes, provided the job's last event is still number
// prev. ev must carry seq prev+1. It fails with ErrSeqConflict when another
// event came first, and with ErrExists when a Create write's key exists. A
// single Create write starts the numbering anew: its record is new.
func (o *Outbox) appendJob(ctx context.Context, jobID string, prev int64, ev events.Event, writes ...Write) (Staged, error) {
	return o.appendOne(ctx, appendOp{jobID: jobID, prev: prev, ev: ev, writes: writes})
}

// appendReleasing is appendJob that, given a lease, frees it in the same
// transaction if it is still held as given (a lease lost meanwhile is left
// to its new holder).
func (o *Outbox) appendReleasing(ctx context.Context, jobID string, prev int64, ev events.Event, lease *Lease, writes ...Write) (Staged, error) {
	return o.appendOne(ctx, appendOp{jobID: jobID, prev: prev, ev: ev, lease: lease, writes: writes})
}

// appendOp is one append of appendAll: appendReleasing's arguments, and
// also, commands sent in the same round trip after the append, that must
// be harmless whatever became of it (they run even when it is refused, and
// again when the script had to be loaded).
type appendOp struct {
	jobID  string
	prev   int64
	ev     events.Event
	lease  *Lease
	also   func(redis.Pipeliner)
	writes []Write
}

func (o *Outbox) appendOne(ctx context.Context, op appendOp) (Staged, error) {
	staged, errs := o.appendAll(ctx, []appendOp{op})
	return staged[0], errs[0]
}

// appendAll makes every append of ops in one pipelined round trip; each
// succeeds or fails on its own, as appendJob says.
func (o *Outbox) appendAll(ctx context.Context, ops []appendOp) ([]Staged, []error) {
	type call struct { // what ops[i] sends
		stream outboxStream
		entry  string
		keys   []string
		args   []any
		cmd    *redis.Cmd
	}
	calls := make([]call, len(ops))
	out, errs := make([]Staged, len(ops)), make([]error, len(ops))
	for i, op := range ops {
		entry, err := outboxEntry(op.ev)
		if err != nil {
			errs[i] = err
			continue
		}
		stream := jobStream(op.jobID)
		keys := []string{seqKey(op.jobID), stream.listKey(), outboxPending}
		args := []any{op.prev, entry, string(stream), ttlSeconds(seqTTL(o.cfg.KeyTTL, op.writes))}
		for _, w := range op.writes {
			create := 0
			if w.Create {
				create = 1
			}
			keys = append(keys, w.Key)
			args = append(args, w.Value, ttlSeconds(w.TTL), create)
		}
		if op.lease != nil {
			keys, args = append(keys, leaseKey(op.lease.Server)), append(args, op.lease.value())
		}
		calls[i] = call{stream: stream, entry: entry, keys: keys, args: args}
	}
	_ = evalAll(ctx, o.rdb, appendScript, func(pipe redis.Pipeliner) { // each append's error is its own
		for i := range calls {
			c := &calls[i]
			if c.keys == nil {
				continue
			}
			c.cmd = appendScript.EvalSha(ctx, pipe, c.keys, c.args...)
			if also := ops[i].also; also != nil {
				also(pipe)
			}
		}
	})
	for i, c := range calls {
		if c.cmd == nil {
			continue
		}
		reply, err := c.cmd.Slice()
		if err == nil {
			out[i] = staged(c.stream, c.entry, reply)
			continue
		}
		// Redis puts "ERR " before an error reply that has no code of its own.
		refusal := strings.TrimPrefix(err.Error(), "ERR ")
		switch {
		case refusal == "EXISTS":
			errs[i] = fmt.Errorf("stage %s: %w", ops[i].ev.ID, ErrExists)
		case strings.HasPrefix(refusal, "SEQ "):
			errs[i] = fmt.Errorf("stage %s after seq %d: %w (now %s)", ops[i].ev.ID, ops[i].prev, ErrSeqConflict, strings.TrimPrefix(refusal, "SEQ "))
		default:
			errs[i] = fmt.Errorf("stage %s: %w", ops[i].ev.ID, err)
		}
	}
	return out, errs
}

// evalAll sends the commands queue puts in a pipeline, among them EvalSha
// calls of script, in one round trip; each command's error is its own, and
// evalAll returns the first (redis.Nil aside). When Redis does not know the
// script (it restarted, or its scripts were flushed), it loads it and sends
// them all again: the commands must be harmless when repeated, as a script
// refused with NOSCRIPT never ran.
func evalAll(ctx context.Context, rdb redis.UniversalClient, script *redis.Script, queue func(redis.Pipeliner)) error {
	send := func() ([]redis.Cmder, error) {
		pipe := rdb.Pipeline()
		queue(pipe)
		cmds, err := pipe.Exec(ctx)
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		return cmds, err
	}
	cmds, err := send()
	if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return redis.HasErrorPrefix(c.Err(), "NOSCRIPT") }) {
		return err
	}
	if err := script.Load(ctx, rdb).Err(); err != nil {
		err = fmt.Errorf("load script %s: %w", script.Hash(), err)
		for _, c := range cmds {
			if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
				c.SetErr(err)
			}
		}
		return err
	}
	_, err = send()
	return err
}

// ttlSeconds is d in whole seconds, at least 1; 0 (no expiry) stays 0.
func ttlSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(int64(d/time.Second), 1)
}

// seqTTL keeps a stream's seq counter at least as long as the records
// written with it: a record that outlived its counter could never change again.
func seqTTL(keyTTL time.Duration, writes []Write) time.Duration {
	ttl := keyTTL
	for _, w := range writes {
		if w.TTL <= 0 {
			return 0
		}
		ttl = max(ttl, w.TTL)
	}
	return ttl
}

// stage queues ev on stream inside pipe, a transaction of the caller's: the
// event is durable once pipe executes. Send the result after that.
func (o *Outbox) stage(ctx context.Context, pipe redis.Pipeliner, stream outboxStream, ev events.Event) (Staged, error) {
	entry, err := outboxEntry(ev)
	if err != nil {
		return Staged{}, err
	}
	pipe.RPush(ctx, stream.listKey(), entry)
	pipe.SAdd(ctx, outboxPending, string(stream))
	return Staged{stream: stream, entry: entry}, nil
}

// send publishes a staged event: at once when it is alone in its stream's
// list, or behind only events this process published already (not removed
// yet: the common case, as removals are batched); else by flushing the list
// in order.
func (o *Outbox) send(ctx context.Context, s Staged) error {
	return o.sendAll(ctx, []Staged{s})[0]
}

// sendAll is send for many staged events at once: those that may go at
// once are published together, their acks awaited together (one round trip
// to NATS for all), the others' streams flushed. It returns one error per
// event.
func (o *Outbox) sendAll(ctx context.Context, all []Staged) []error {
	errs := make([]error, len(all))
	if o.pub == nil {
		return errs // staged only: the sweep of a process with a publisher sends them
	}
	var (
		direct []int
		raws   []events.Raw
	)
	for i, s := range all {
		if s.depth != 1 && (int64(len(s.ahead)) != s.depth-1 || !o.published.all(s.ahead)) {
			errs[i] = o.flush(ctx, s.stream)
			continue
		}
		raw, err := parseEntry(s.entry)
		if err != nil {
			errs[i] = err
			continue
		}
		direct, raws = append(direct, i), append(raws, raw)
	}
	if len(raws) == 1 { // alone: a plain publish costs less than an async one
		errs[direct[0]] = o.publishRaw(ctx, raws[0])
	} else if len(raws) > 1 {
		for j, err := range o.pub.PublishAll(ctx, raws) {
			o.outcome(raws[j].ID, err)
			errs[direct[j]] = err
		}
	}
	for _, i := range direct {
		if errs[i] == nil {
			errs[i] = o.remove(ctx, all[i])
		}
	}
	return errs
}

// remove takes a published event out of its stream's list: in the next
// batch while Run runs, at once otherwise.
func (o *Outbox) remove(ctx context.Context, s Staged) error {
	if pops := o.pops.Load(); pops != nil {
		select {
		case *pops <- sent{s.stream, s.entry}:
			return nil
		default: // the batcher is behind: remove it here
		}
	}
	return o.pop(ctx, s.stream, s.entry)
}

// popHead removes the list's head if it is still ARGV[1], and forgets the
// stream when its list is empty. Atomic, so concurrent flushers never drop an
// event they did not publish.
var popHead = redis.NewScript(`
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then redis.call('LPOP', KEYS[1]) end
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return 1`)

// Flush publishes job jobID's staged events in order; see flush.
func (o *Outbox) Flush(ctx context.Context, jobID string) error {
	return o.flush(ctx, jobStream(jobID))
}

// flush publishes stream's staged events in order, removing each once
// JetStream has acked it. It stops at the first failure; the rest stays staged.
func (o *Outbox) flush(ctx context.Context, stream outboxStream) error {
	if o.pub == nil {
		return nil // staged only: the sweep of a process with a publisher sends it
	}
	key := stream.listKey()
	for {
		entries, err := o.rdb.LRange(ctx, key, 0, 63).Result()
		if err != nil {
			return fmt.Errorf("read outbox %s: %w", stream, err)
		}
		if len(entries) == 0 {
			return o.forget(ctx, stream)
		}
		for _, entry := range entries {
			if err := o.publishEntry(ctx, entry); err != nil {
				return err
			}
			if err := o.pop(ctx, stream, entry); err != nil {
				return err
			}
		}
		if len(entries) < 64 {
			return nil
		}
	}
}

func (o *Outbox) pop(ctx context.Context, stream outboxStream, entry string) error {
	keys := []string{stream.listKey(), outboxPending}
	if err := popHead.Run(ctx, o.rdb, keys, entry, string(stream)).Err(); err != nil {
		return fmt.Errorf("pop outbox %s: %w", stream, err)
	}
	return nil
}

// forgetEmpty drops a stream from the pending set only if its list is still
// empty: an event staged meanwhile keeps it pending.
var forgetEmpty = redis.NewScript(`
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return 1`)

func (o *Outbox) forget(ctx context.Context, stream outboxStream) error {
	keys := []string{stream.listKey(), outboxPending}
	if err := forgetEmpty.Run(ctx, o.rdb, keys, string(stream)).Err(); err != nil {
		return fmt.Errorf("forget outbox %s: %w", stream, err)
	}
	return nil
}

// outboxEntry is how an event waits in the outbox: "subject id" on the
// first line, the event's JSON after it (read back by publishEntry).
func outboxEntry(ev events.Event) (string, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return "", fmt.Errorf("marshal event %s: %w", ev.ID, err)
	}
	return ev.NATSSubject() + " " + ev.ID + "\n" + string(data), nil
}

// parseEntry reads an outbox entry back (outboxEntry).
func parseEntry(entry string) (events.Raw, error) {
	head, data, ok := strings.Cut(entry, "\n")
	subject, id, ok2 := strings.Cut(head, " ")
	if !ok || !ok2 {
		return events.Raw{}, fmt.Errorf("outbox entry %.40q: %w", entry, errors.New("malformed"))
	}
	return events.Raw{Subject: subject, ID: id, Data: []byte(data)}, nil
}

func (o *Outbox) publishEntry(ctx context.Context, entry string) error {
	raw, err := parseEntry(entry)
	if err != nil {
		return err
	}
	return o.publishRaw(ctx, raw)
}

func (o *Outbox) publishRaw(ctx context.Context, raw events.Raw) error {
	err := o.pub.PublishRaw(ctx, raw.Subject, raw.ID, raw.Data)
	o.outcome(raw.ID, err)
	return err
}

// outcome records how event id's publish went: Published is told, and an
// event that went is remembered.
func (o *Outbox) outcome(id string, err error) {
	if o.cfg.Published != nil {
		o.cfg.Published(err)
	}
	if err == nil {
		o.published.add(id)
	}
}

// Run sweeps the pending streams every SweepInterval, and removes sent
// entries in batches, until ctx ends. An entry left behind by a stop is sent
// again by a later sweep, and JetStream drops the duplicate by its id.
func (o *Outbox) Run(ctx context.Context) error {
	pops := make(chan sent, 1024)
	o.pops.Store(&pops)
	defer o.pops.Store(nil)
	t := time.NewTicker(o.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			o.popBatch(context.WithoutCancel(ctx), nil, pops)
			return nil
		case first := <-pops:
			o.popBatch(ctx, &first, pops)
		case <-t.C:
			if err := o.Sweep(ctx); err != nil && ctx.Err() == nil {
				o.cfg.Logger.Warn().Err(err).Msg("outbox sweep")
			}
		}
	}
}

// popBatch removes first and up to 255 more sent entries in one pipelined
// round trip.
func (o *Outbox) popBatch(ctx context.Context, first *sent, pops chan sent) {
	batch := make([]sent, 0, 256)
	if first != nil {
		batch = append(batch, *first)
	}
	for len(batch) < 256 {
		select {
		case p := <-pops:
			batch = append(batch, p)
			continue
		default:
		}
		break
	}
	if len(batch) == 0 {
		return
	}
	err := evalAll(ctx, o.rdb, popHead, func(pipe redis.Pipeliner) {
		for _, p := range batch {
			popHead.EvalSha(ctx, pipe, []string{p.stream.listKey(), outboxPending}, p.entry, string(p.stream))
		}
	})
	if err != nil {
		o.cfg.Logger.Warn().Err(err).Int("events", len(batch)).Msg("remove sent events from the outbox (a sweep sends them again, deduplicated)")
	}
}

// Sweep flushes every pending stream once.
func (o *Outbox) Sweep(ctx context.Context) error {
	iter := o.rdb.SScan(ctx, outboxPending, 0, "", 256).Iterator()
	var errs []error
	for iter.Next(ctx) {
		if err := o.flush(ctx, outboxStream(iter.Val())); err != nil {
			errs = append(errs, err)
			if len(errs) > 8 {
				break // NATS is likely down: try again next sweep
			}
		}
	}
	if err := iter.Err(); err != nil {
		errs = append(errs, fmt.Errorf("scan outbox: %w", err))
	}
	return errors.Join(errs...)
}

// Pending returns how many streams have staged events.
func (o *Outbox) Pending(ctx context.Context) (int64, error) {
	return o.rdb.SCard(ctx, outboxPending).Result()
}
