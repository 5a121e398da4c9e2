package store

import (
	"hash/maphash"
	"maps"
	"sync"

	"github.com/tinmanhq/tinman/jobs"
)

// listCache keeps, by server id, the server a listing decoded and a hash
// of the record it was decoded from. Decoding is most of a listing's cost
// (10,000 records: ~55 ms of CPU); a record that has not changed since the
// last listing, byte for byte, is not decoded again. The records are still
// read every time, so a listing is exactly as fresh as without the cache.
// A listing of every server replaces the cache, which so holds at most the
// fleet, and not the servers removed since.
type listCache struct {
	seed maphash.Seed
	mu   sync.Mutex
	m    map[string]listedServer
}

type listedServer struct {
	sum uint64 // maphash of the record
	srv jobs.Server
	// json is srv as the API answers it (json.Marshal), made by the first
	// ListServersJSON that needs it; shared, never changed.
	json []byte
}

func newListCache() *listCache {
	return &listCache{seed: maphash.MakeSeed(), m: map[string]listedServer{}}
}

// sum is the hash a record is known by.
func (c *listCache) sum(record string) uint64 { return maphash.String(c.seed, record) }

// lookup returns what the cache holds of server id, if it was decoded from
// a record whose hash is sum. Its server is the cache's: copy it to hand it out.
func (c *listCache) lookup(id string, sum uint64) (listedServer, bool) {
	c.mu.Lock()
	l, ok := c.m[id]
	c.mu.Unlock()
	return l, ok && l.sum == sum
}

// keep remembers servers decoded now; with every set, they replace
// everything the cache held.
func (c *listCache) keep(decoded map[string]listedServer, every bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if every {
		c.m = decoded
		return
	}
	maps.Copy(c.m, decoded)
}

// handOut copies the cache's servers of listed, for a caller to keep.
func handOut(listed []listedServer) []jobs.Server {
	out := make([]jobs.Server, len(listed))
	for i, l := range listed {
		out[i] = copyServer(l.srv)
	}
	return out
}

// copyServer is srv with nothing shared: a caller may change what it gets.
func copyServer(srv jobs.Server) jobs.Server {
	srv.Labels = maps.Clone(srv.Labels)
	if m := srv.Maintenance; m != nil {
		c := *m
		srv.Maintenance = &c
	}
	if f := srv.LastError; f != nil {
		c := *f
		srv.LastError = &c
	}
	return srv
}
