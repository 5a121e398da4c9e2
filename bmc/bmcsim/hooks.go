package bmcsim

import (
	"sync"

	"github.com/rs/zerolog"
)

// hookQueue delivers commands to Config.OnCommand one at a time, in log order,
// from a goroutine that exists only while commands are pending. It never calls
// the hook under a BMC lock.
type hookQueue struct {
	fn  func(Command)
	log zerolog.Logger

	mu      sync.Mutex
	pending []Command
	running bool
	wg      sync.WaitGroup
}

// push queues cmd; it never blocks on the hook.
func (q *hookQueue) push(cmd Command) {
	if q.fn == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(q.pending, cmd)
	if !q.running {
		q.running = true
		q.wg.Add(1)
		go q.drain()
	}
}

// drain calls the hook for each pending command until the queue is empty.
func (q *hookQueue) drain() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		cmd := q.pending[0]
		q.pending = q.pending[1:]
		q.mu.Unlock()
		q.call(cmd)
	}
}

// call runs the hook, turning a panic into an error log.
func (q *hookQueue) call(cmd Command) {
	defer func() {
		if r := recover(); r != nil {
			q.log.Error().Interface("panic", r).Str("op", cmd.Op).Str("value", cmd.Value).Msg("OnCommand panicked")
		}
	}()
	q.fn(cmd)
}

// wait blocks until every queued command has been delivered.
func (q *hookQueue) wait() { q.wg.Wait() }
