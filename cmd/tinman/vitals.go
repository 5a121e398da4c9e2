package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/store"
)

// vitals reads the figures of the console's health strip (api.Vitals): the
// asynq queues, the open breakers and the outbox backlog.
type vitals struct {
	queues *asynq.Inspector
	store  *store.Store
	outbox *store.Outbox
}

// vitals returns the health strip's source on this backend.
func (b *backend) vitals() vitals {
	return vitals{queues: asynq.NewInspectorFromRedisClient(b.rdb), store: b.store, outbox: b.outbox}
}

// Vitals reads every figure. asynq's inspector takes no context: its calls
// are single Redis commands, bounded by the client's timeouts.
func (v vitals) Vitals(ctx context.Context) (client.Vitals, error) {
	var out client.Vitals
	names, err := v.queues.Queues()
	if err != nil {
		return out, fmt.Errorf("list queues: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		info, err := v.queues.GetQueueInfo(name)
		if err != nil {
			return out, fmt.Errorf("read queue %s: %w", name, err)
		}
		out.Queues = append(out.Queues, client.QueueSize{Name: name, Pending: info.Pending, Active: info.Active,
			Scheduled: info.Scheduled, Retry: info.Retry, Archived: info.Archived})
	}
	if out.BreakersOpen, err = v.store.OpenBreakers(ctx); err != nil {
		return out, err
	}
	slices.Sort(out.BreakersOpen)
	if out.OutboxBacklog, err = v.outbox.Pending(ctx); err != nil {
		return out, fmt.Errorf("read the outbox backlog: %w", err)
	}
	return out, nil
}
