package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Outbox makes events durable before they reach NATS. An event is staged in
// Redis in the same transaction as the state change it reports, then flushed
// to JetStream in order; what a crash or a NATS outage leaves behind is
// flushed by the sweep of any process. Each ordering stream (a job id) keeps
// its events in a Redis list, so a job's events reach NATS in seq order.
type Outbox struct {
	rdb redis.UniversalClient
	pub *Publisher
	cfg OutboxConfig
}

// OutboxConfig configures an Outbox.
type OutboxConfig struct {
	// Logger receives sweep failures.
	Logger zerolog.Logger
	// SweepInterval is how often pending streams are flushed (default 2 s).
	SweepInterval time.Duration
	// KeyTTL is how long a stream's seq counter lives after its last event (default 7 days).
	KeyTTL time.Duration
}

const (
	outboxPendingKey = "tinman:outbox:pending"
	outboxListPrefix = "tinman:outbox:"
	seqPrefix        = "tinman:seq:"
)

// NewOutbox returns an Outbox that stages in rdb and publishes through pub.
func NewOutbox(rdb redis.UniversalClient, pub *Publisher, cfg OutboxConfig) *Outbox {
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 2 * time.Second
	}
	if cfg.KeyTTL <= 0 {
		cfg.KeyTTL = 7 * 24 * time.Hour
	}
	return &Outbox{rdb: rdb, pub: pub, cfg: cfg}
}

// NextSeq returns the next sequence number of stream, starting at 1.
func (o *Outbox) NextSeq(ctx context.Context, stream string) (int64, error) {
	pipe := o.rdb.TxPipeline()
	n := pipe.Incr(ctx, seqPrefix+stream)
	pipe.Expire(ctx, seqPrefix+stream, o.cfg.KeyTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("next seq of %s: %w", stream, err)
	}
	return n.Val(), nil
}

// Seq returns the last sequence number given out on stream (0: none yet).
func (o *Outbox) Seq(ctx context.Context, stream string) (int64, error) {
	n, err := o.rdb.Get(ctx, seqPrefix+stream).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read seq of %s: %w", stream, err)
	}
	return n, nil
}

// StageFirst queues ev, the stream's first event (seq 1), inside pipe.
func (o *Outbox) StageFirst(ctx context.Context, pipe redis.Pipeliner, stream string, ev Event) error {
	pipe.SetArgs(ctx, seqPrefix+stream, 1, redis.SetArgs{Mode: "NX", TTL: o.cfg.KeyTTL})
	return o.Stage(ctx, pipe, stream, ev)
}

// Stage queues ev on stream inside pipe; it is durable once pipe executes.
func (o *Outbox) Stage(ctx context.Context, pipe redis.Pipeliner, stream string, ev Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("marshal event %s: %w", ev.ID, err)
	}
	entry := ev.NATSSubject() + " " + ev.ID + "\n" + string(data)
	pipe.RPush(ctx, outboxListPrefix+stream, entry)
	pipe.SAdd(ctx, outboxPendingKey, stream)
	return nil
}

// Emit stages ev on stream and flushes the stream.
func (o *Outbox) Emit(ctx context.Context, stream string, ev Event) error {
	pipe := o.rdb.TxPipeline()
	if err := o.Stage(ctx, pipe, stream, ev); err != nil {
		return err
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("stage event %s: %w", ev.ID, err)
	}
	return o.Flush(ctx, stream)
}

// popHead removes the list's head if it is still ARGV[1], and forgets the
// stream when its list is empty. Atomic, so concurrent flushers never drop an
// event they did not publish.
var popHead = redis.NewScript(`
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then redis.call('LPOP', KEYS[1]) end
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return 1`)

// Flush publishes stream's staged events in order, removing each once
// JetStream has acked it. It stops at the first failure; the rest stays staged.
func (o *Outbox) Flush(ctx context.Context, stream string) error {
	key := outboxListPrefix + stream
	for {
		entries, err := o.rdb.LRange(ctx, key, 0, 63).Result()
		if err != nil {
			return fmt.Errorf("read outbox %s: %w", stream, err)
		}
		if len(entries) == 0 {
			return o.rdb.SRem(ctx, outboxPendingKey, stream).Err()
		}
		for _, entry := range entries {
			if err := o.publishEntry(ctx, entry); err != nil {
				return err
			}
			if err := popHead.Run(ctx, o.rdb, []string{key, outboxPendingKey}, entry, stream).Err(); err != nil {
				return fmt.Errorf("pop outbox %s: %w", stream, err)
			}
		}
		if len(entries) < 64 {
			return nil
		}
	}
}

func (o *Outbox) publishEntry(ctx context.Context, entry string) error {
	head, data, ok := strings.Cut(entry, "\n")
	subject, id, ok2 := strings.Cut(head, " ")
	if !ok || !ok2 {
		return fmt.Errorf("outbox entry %.40q: %w", entry, errors.New("malformed"))
	}
	return o.pub.PublishRaw(ctx, subject, id, []byte(data))
}

// Run sweeps the pending streams every SweepInterval until ctx ends.
func (o *Outbox) Run(ctx context.Context) error {
	t := time.NewTicker(o.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := o.Sweep(ctx); err != nil && ctx.Err() == nil {
				o.cfg.Logger.Warn().Err(err).Msg("outbox sweep")
			}
		}
	}
}

// Sweep flushes every pending stream once.
func (o *Outbox) Sweep(ctx context.Context) error {
	iter := o.rdb.SScan(ctx, outboxPendingKey, 0, "", 256).Iterator()
	var errs []error
	for iter.Next(ctx) {
		if err := o.Flush(ctx, iter.Val()); err != nil {
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
	return o.rdb.SCard(ctx, outboxPendingKey).Result()
}
