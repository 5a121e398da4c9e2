package servicetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisProc is a redis-server process of the test's own, for tests whose
// claim is about Redis going away and coming back. It keeps its data in an
// append-only file, so a restart finds what was written before the stop.
type RedisProc struct {
	bin  string
	dir  string
	port int
	args []string // more arguments: --replicaof for a replica
	cmd  *exec.Cmd
}

// RedisProcess starts a private redis-server on a free loopback port, stopped
// at cleanup, with more arguments if given (--replicaof 127.0.0.1 PORT). It
// skips (fails in CI) when redis-server is not installed.
func RedisProcess(t testing.TB, args ...string) *RedisProc {
	t.Helper()
	r := &RedisProc{
		bin:  NeedTool(t, "redis-server", "apt-get install redis-server"),
		dir:  t.TempDir(),
		port: freePort(t),
		args: args,
	}
	r.Start(t)
	t.Cleanup(func() {
		if r.cmd != nil {
			r.Stop(t)
		}
	})
	return r
}

// Port is the server's port on 127.0.0.1.
func (r *RedisProc) Port() int { return r.port }

// URL is the server's redis:// URL.
func (r *RedisProc) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// Start starts the server (again) and waits until it answers PING.
func (r *RedisProc) Start(t testing.TB) {
	t.Helper()
	args := append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"}, r.args...)
	r.cmd = exec.Command(r.bin, args...)
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	waitPing(t, r.port)
}

// Stop kills the server with SIGKILL, as a crash would, and waits for it.
func (r *RedisProc) Stop(t testing.TB) {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	_ = r.cmd.Wait()
	r.cmd = nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Sentinels starts n Redis Sentinels (redis-server --sentinel) on free
// loopback ports, watching the master on masterPort under name, with a
// quorum of a majority, a master seen down after 1 s and a failover timeout
// of 10 s; stopped at cleanup. It returns their ports.
func Sentinels(t testing.TB, name string, masterPort, n int) []int {
	t.Helper()
	bin := NeedTool(t, "redis-server", "apt-get install redis-server")
	ports := make([]int, n)
	for i := range n {
		ports[i] = freePort(t)
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d %d\n"+
			"sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n",
			ports[i], dir, name, masterPort, n/2+1, name, name, name)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, conf, "--sentinel")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start sentinel: %v", err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		})
		waitPing(t, ports[i])
	}
	return ports
}

// waitPing waits until the server on port answers PING.
func waitPing(t testing.TB, port int) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	for range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis on port %d did not answer within 5 s", port)
}
