package store

import "sync"

// publishedMemory is how many of the last event ids published an Outbox
// remembers: far more than the events staged but not yet removed at once.
const publishedMemory = 4096

// published remembers the ids of the events an Outbox published last. An
// event staged behind only such events may be published at once: all
// before it in its stream reached NATS already, so the stream's order holds
// without reading the list back (a flush). Forgetting an id only costs that
// flush.
type published struct {
	mu   sync.Mutex
	ring [publishedMemory]string
	next int
	ids  map[string]int
}

func (p *published) add(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ids == nil {
		p.ids = make(map[string]int, publishedMemory)
	}
	if old := p.ring[p.next]; old != "" {
		if p.ids[old]--; p.ids[old] <= 0 {
			delete(p.ids, old)
		}
	}
	p.ring[p.next] = id
	p.ids[id]++
	p.next = (p.next + 1) % publishedMemory
}

// all reports whether every one of ids was published by this Outbox.
func (p *published) all(ids []string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if p.ids[id] == 0 {
			return false
		}
	}
	return true
}
