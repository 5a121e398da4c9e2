package servicetest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
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
	cmd  *exec.Cmd
}

// RedisProcess starts a private redis-server on a free loopback port, stopped
// at cleanup. It skips (fails in CI) when redis-server is not installed.
func RedisProcess(t testing.TB) *RedisProc {
	t.Helper()
	r := &RedisProc{
		bin:  NeedTool(t, "redis-server", "apt-get install redis-server"),
		dir:  t.TempDir(),
		port: freePort(t),
	}
	r.Start(t)
	t.Cleanup(func() {
		if r.cmd != nil {
			r.Stop(t)
		}
	})
	return r
}

// URL is the server's redis:// URL.
func (r *RedisProc) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// Start starts the server (again) and waits until it answers PING.
func (r *RedisProc) Start(t testing.TB) {
	t.Helper()
	r.cmd = exec.Command(r.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no")
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
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
	t.Fatalf("redis-server on port %d did not answer within 5 s", r.port)
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
