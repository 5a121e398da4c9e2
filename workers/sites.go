package workers

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/jobs"
)

// SiteQueues is, per site, the jobs that wait in its queues (pending,
// scheduled or retrying) and the live worker processes that serve them.
type SiteQueues map[string]SiteLoad

// SiteLoad is one site's waiting jobs and live workers.
type SiteLoad struct {
	Waiting int
	Workers int
}

// Sites reads, from asynq, every site's queues and the worker processes
// serving them now. A job for a site no worker serves waits there: it does
// not fail.
func Sites(insp *asynq.Inspector) (SiteQueues, error) {
	queues, err := queueInfos(insp)
	if err != nil {
		return nil, err
	}
	return sitesOf(insp, queues)
}

// queueInfos reads every asynq queue's sizes, one round of reads a queue.
func queueInfos(insp *asynq.Inspector) ([]*asynq.QueueInfo, error) {
	names, err := insp.Queues()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	infos := make([]*asynq.QueueInfo, 0, len(names))
	for _, q := range names {
		info, err := insp.GetQueueInfo(q)
		switch {
		case errors.Is(err, asynq.ErrQueueNotFound):
			continue // removed since it was listed
		case err != nil:
			return nil, fmt.Errorf("read queue %s: %w", q, err)
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// sitesOf counts, from queues already read, each site's waiting jobs, and
// reads the live worker processes that serve each site.
func sitesOf(insp *asynq.Inspector, queues []*asynq.QueueInfo) (SiteQueues, error) {
	servers, err := insp.Servers()
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	out := SiteQueues{}
	for _, srv := range servers {
		served := map[string]bool{}
		for q := range srv.Queues {
			if site, ok := jobs.SiteOfQueue(q); ok {
				served[site] = true
			}
		}
		for site := range served {
			l := out[site]
			l.Workers++
			out[site] = l
		}
	}
	for _, info := range queues {
		site, ok := jobs.SiteOfQueue(info.Queue)
		if !ok {
			continue
		}
		l := out[site]
		l.Waiting += info.Pending + info.Scheduled + info.Retry
		out[site] = l
	}
	return out, nil
}

// Unserved names the sites with jobs waiting and no live worker, or "".
func (s SiteQueues) Unserved() string {
	var words []string
	for _, site := range slices.Sorted(maps.Keys(s)) {
		if l := s[site]; l.Workers == 0 && l.Waiting > 0 {
			words = append(words, fmt.Sprintf("site %s: %d jobs wait and no worker serves it (tinman worker --sites %s)", site, l.Waiting, site))
		}
	}
	return strings.Join(words, "; ")
}
