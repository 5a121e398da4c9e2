package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// redisTarget is a parsed --redis-url: one server, or a master found
// through Sentinels.
type redisTarget struct {
	single   *redis.Options
	failover *redis.FailoverOptions
}

// sentinelSchemes are the URL schemes of a Redis behind Sentinels
// (rediss+sentinel: TLS to the Sentinels and the master).
var sentinelSchemes = map[string]bool{"redis+sentinel": true, "rediss+sentinel": true}

// parseRedisURL reads --redis-url: redis://[user:password@]host:port[/db]
// and rediss:// (TLS), as go-redis reads them, or
// redis+sentinel://[user:password@]host1:26379,host2:26379/<master>[/db]
// (rediss+sentinel:// for TLS), the password being the master's; a
// Sentinel's own, if any, as ?sentinel_password= (and ?sentinel_username=).
func parseRedisURL(raw string) (redisTarget, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || !sentinelSchemes[scheme] {
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return redisTarget{}, usageErr("--redis-url %q: %v", redactURL(raw), err)
		}
		return redisTarget{single: opt}, nil
	}
	bad := func(format string, args ...any) error {
		return usageErr("--redis-url %q: %s (the form: %s://[:password@]host1:26379,host2:26379/<master>[/db])",
			redactURL(raw), fmt.Sprintf(format, args...), scheme)
	}
	rest, query, _ := strings.Cut(rest, "?")
	o := &redis.FailoverOptions{}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, pass, _ := strings.Cut(rest[:at], ":")
		var err error
		if o.Username, err = url.PathUnescape(user); err != nil {
			return redisTarget{}, bad("user name: %v", err)
		}
		if o.Password, err = url.PathUnescape(pass); err != nil {
			return redisTarget{}, bad("password: %v", err)
		}
		rest = rest[at+1:]
	}
	hosts, path, _ := strings.Cut(rest, "/")
	for h := range strings.SplitSeq(hosts, ",") {
		host, port, ok := strings.Cut(strings.TrimSpace(h), ":")
		if !ok {
			port = "26379"
		}
		if n, err := strconv.Atoi(port); host == "" || err != nil || n < 1 || n > 65535 {
			return redisTarget{}, bad("sentinel %q must be host[:port]", h)
		}
		o.SentinelAddrs = append(o.SentinelAddrs, host+":"+port)
	}
	master, db, _ := strings.Cut(path, "/")
	if master == "" {
		return redisTarget{}, bad("no master name")
	}
	o.MasterName = master
	if db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return redisTarget{}, bad("database %q must be a number", db)
		}
		o.DB = n
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return redisTarget{}, bad("query: %v", err)
	}
	for k := range q {
		switch k {
		case "sentinel_password":
			o.SentinelPassword = q.Get(k)
		case "sentinel_username":
			o.SentinelUsername = q.Get(k)
		default:
			return redisTarget{}, bad("unknown parameter %q (sentinel_password, sentinel_username)", k)
		}
	}
	if scheme == "rediss+sentinel" {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return redisTarget{failover: o}, nil
}

// client opens the go-redis client of the target: a failover client follows
// the master the Sentinels name, through every failover.
func (t redisTarget) client() *redis.Client {
	if t.failover != nil {
		return redis.NewFailoverClient(t.failover)
	}
	return redis.NewClient(t.single)
}

// asynqOpt is the same target for what asynq opens itself (the queue
// monitor): asynq.RedisFailoverClientOpt for Sentinels.
func (t redisTarget) asynqOpt() asynq.RedisConnOpt {
	if o := t.failover; o != nil {
		return asynq.RedisFailoverClientOpt{MasterName: o.MasterName, SentinelAddrs: o.SentinelAddrs,
			SentinelPassword: o.SentinelPassword, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig}
	}
	o := t.single
	return asynq.RedisClientOpt{Network: o.Network, Addr: o.Addr, Username: o.Username,
		Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig}
}

// String names the target without credentials.
func (t redisTarget) String() string {
	if t.failover != nil {
		return fmt.Sprintf("master %s of the Sentinels %s", t.failover.MasterName, strings.Join(t.failover.SentinelAddrs, ","))
	}
	return t.single.Addr
}

// openRedis connects to the Redis of url and checks it answers.
func openRedis(ctx context.Context, url string) (*redis.Client, redisTarget, error) {
	t, err := parseRedisURL(url)
	if err != nil {
		return nil, t, err
	}
	rdb := t.client()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, t, unreachable(fmt.Errorf("connect to Redis (%s): %w", t, err))
	}
	return rdb, t, nil
}
