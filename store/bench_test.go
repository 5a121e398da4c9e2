package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

// BenchmarkListServers lists and selects among 10,000 enrolled servers, the
// registry size the lifecycle issue names (goal: well under 50 ms), and
// reports the Redis memory per server with a real Redis:
//
//	TINMAN_TEST_REDIS_URL=redis://127.0.0.1:6379 go test -run '^$' -bench ListServers ./store/
func BenchmarkListServers(b *testing.B) {
	_, rdb := servicetest.Redis(b)
	st := storetest.Store(b, rdb, storetest.Outbox(b, rdb, nil, store.OutboxConfig{}), store.Config{})
	ctx := context.Background()
	before := store.UsedMemory(b, rdb)
	for i := range 10000 {
		srv := jobs.Server{ID: fmt.Sprintf("srv-%05d", i), BMC: jobs.BMC{Address: "10.0.0.1", Provider: jobs.ProviderRedfish},
			Labels: map[string]string{"rack": fmt.Sprintf("r%02d", i%50), "role": []string{"web", "db"}[i%2]}}
		if err := st.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
			b.Fatal(err)
		}
	}
	perServer := float64(store.UsedMemory(b, rdb)-before) / 10000
	for _, bc := range []struct {
		name     string
		selector map[string]string
		want     int
		json     bool // ListServersJSON, as GET /v1/servers lists
	}{
		{"all", nil, 10000, false},
		{"all-json", nil, 10000, true},
		{"selector", map[string]string{"rack": "r07", "role": "db"}, 0, false},
		{"half", map[string]string{"role": "web"}, 5000, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				n, err := 0, error(nil)
				if bc.json {
					var got []json.RawMessage
					got, err = st.ListServersJSON(ctx, bc.selector)
					n = len(got)
				} else {
					var got []jobs.Server
					got, err = st.ListServers(ctx, bc.selector)
					n = len(got)
				}
				if err != nil {
					b.Fatal(err)
				}
				if bc.selector == nil && n != bc.want {
					b.Fatalf("%d servers, want %d", n, bc.want)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/list")
			if os.Getenv("TINMAN_TEST_REDIS_URL") != "" {
				b.ReportMetric(perServer, "redis-bytes/server")
			}
		})
	}
}
