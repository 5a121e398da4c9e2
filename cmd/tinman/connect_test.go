package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/servicetest"
)

func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url, want, err string
	}{
		{url: "redis://127.0.0.1:6379/2", want: "127.0.0.1:6379"},
		{url: "rediss://:pw@redis-1:6380/0", want: "redis-1:6380"},
		{url: "redis+sentinel://:s3cret@s1:26379,s2:26380,s3/mymaster/3?sentinel_password=sp",
			want: "master mymaster of the Sentinels s1:26379,s2:26380,s3:26379"},
		{url: "rediss+sentinel://s1/tinman", want: "master tinman of the Sentinels s1:26379"},
		{url: "redis+sentinel://s1:26379,s2:26379", err: "no master name"},
		{url: "redis+sentinel://s1:99999/m", err: `sentinel "s1:99999" must be host[:port]`},
		{url: "redis+sentinel://,s2/m", err: `sentinel "" must be host[:port]`},
		{url: "redis+sentinel://s1/m/x", err: `database "x" must be a number`},
		{url: "redis+sentinel://s1/m?password=x", err: `unknown parameter "password"`},
		{url: "redis+sentinel://:hunter2@s1/m/x", err: `"redis+sentinel://:xxxxx@s1/m/x"`}, // the password redacted
		{url: "http://redis-1:6379", err: "invalid URL scheme"},
	} {
		target, err := parseRedisURL(c.url)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.url, err)
		case c.err == "" && target.String() != c.want:
			t.Errorf("%s: %s, want %s", c.url, target, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one with %q", c.url, err, c.err)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%s: the error shows the password: %v", c.url, err)
		}
	}
	target, _ := parseRedisURL("redis+sentinel://:pw@s1,s2/m/1?sentinel_password=sp")
	opt, ok := target.asynqOpt().(asynq.RedisFailoverClientOpt)
	if !ok || opt.MasterName != "m" || len(opt.SentinelAddrs) != 2 || opt.Password != "pw" || opt.SentinelPassword != "sp" || opt.DB != 1 {
		t.Errorf("asynq's option %#v, want the failover form", target.asynqOpt())
	}
}

// The NATS settings are refused, naming the flag, by the real command.
func TestNATSSettingsRefused(t *testing.T) {
	t.Parallel()
	creds := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(creds, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	single := servicetest.NATS(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--nats-url", "nats://127.0.0.1:1,,nats://127.0.0.1:2"}, "--nats-url"},
		{[]string{"--nats-url", "http://127.0.0.1:4222"}, "each entry must be nats://"},
		{[]string{"--nats-url", "nats://u:hunter2@127.0.0.1:1", "--nats-url", "ftp://u:hunter2@x"}, "each entry must be nats://"},
		{[]string{"--nats-creds", creds, "--nats-user", "tinman"}, "give one of --nats-creds, --nats-user or --nats-token"},
		{[]string{"--nats-user", "tinman"}, `--nats-user "tinman" needs a password`},
		{[]string{"--nats-creds", filepath.Join(t.TempDir(), "missing.creds")}, "--nats-creds"},
		{[]string{"--nats-cert", creds}, "--nats-cert and --nats-key go together"},
		{[]string{"--nats-url", single, "--stream-replicas", "3"}, "--stream-replicas 3: NATS at"},
	} {
		args := append([]string{"dispatcher", "--redis-url", "redis://127.0.0.1:1"}, c.args...)
		code, _, errOut := tinman(t, 30*time.Second, args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want 2 with %q", c.args, code, errOut, c.want)
		}
		if strings.Contains(errOut, "hunter2") {
			t.Errorf("%v: the message shows the password: %q", c.args, errOut)
		}
	}
}
