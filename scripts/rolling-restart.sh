#!/usr/bin/env bash
# Rolling restart of `tinman api` behind a real nginx, under load (issue 9,
# item 6). 127.0.0.1 only; everything it starts is stopped at exit.
#
#   scripts/rolling-restart.sh
#   ROUNDS=3 POST_LOOPS=2 HEALTHZ_RATE=100 SIMS=8 scripts/rolling-restart.sh
#
# It builds tinman and nats-server (the version go.mod pins), then starts each
# piece as its own process on free loopback ports:
#   nats-server -js (its store in a temporary folder; NATS_URL=... uses yours),
#   tinman sim --enroll (SIMS simulated Redfish BMCs, enrolled in Redis),
#   tinman dispatcher, tinman worker, two tinman api,
#   nginx with scripts/rolling-restart.nginx.conf written into the temporary
#   folder (its own pid, logs and temp paths: no file of the system's nginx).
# Redis is 127.0.0.1:6379 (REDIS_HOST, REDIS_PORT): one of databases 1-15,
# leased the way the tests lease theirs (a key in database 0), flushed.
#
# Load through nginx: hey reads /healthz at HEALTHZ_RATE req/s (go install
# github.com/rakyll/hey@latest when it is not on PATH; a curl loop if that
# fails), and POST_LOOPS curl loops post power-status jobs, each with its own
# id. Meanwhile each API is restarted ROUNDS times in turn: SIGTERM, wait
# for it to exit, start it again, wait until /readyz answers 200. Then the
# load stops and every job answered 202 is followed until it ends.
#
# Prints a summary; exits 0 when no request failed and every accepted job
# ended, 1 otherwise, 2 when a tool is missing, 3 when a piece did not start.
# KEEP_WORK=1 keeps the logs folder (it is kept anyway on failure).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
POST_LOOPS=${POST_LOOPS:-2}
HEALTHZ_RATE=${HEALTHZ_RATE:-100}
SIMS=${SIMS:-8}
DRAIN_DELAY=${DRAIN_DELAY:-2s}
SETTLE=${SETTLE:-2}          # seconds of load between two restarts
JOB_WAIT=${JOB_WAIT:-120}    # seconds the accepted jobs get to end
LOG_LEVEL=${LOG_LEVEL:-info}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t tinman-rolling-XXXXXX)
declare -A pid=()
ok=0
say() { printf '== %s\n' "$*"; }
die() { echo "rolling-restart: $2" >&2; exit "$1"; }

for tool in go nginx curl redis-cli; do
	command -v "$tool" >/dev/null || die 2 "$tool is not installed (apt-get install nginx curl redis-tools; Go from go.dev)"
done

# --- processes ---------------------------------------------------------------
start() { # start NAME CMD...: runs CMD in the background, output to $work/NAME.log
	local name=$1
	shift
	"$@" >"$work/$name.log" 2>&1 &
	pid[$name]=$!
}

stop() { # stop NAME [SIGNAL]: signals NAME, waits up to 60 s; returns its exit code
	local name=$1 sig=${2:-TERM} p=${pid[$1]:-} code=0
	[[ -n "$p" ]] || return 0
	kill -"$sig" "$p" 2>/dev/null || true
	for _ in $(seq 600); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$p" 2>/dev/null && { echo "rolling-restart: $name ($p) still running 60 s after SIG$sig: killed" >&2; kill -KILL "$p"; }
	wait "$p" 2>/dev/null || code=$?
	unset "pid[$name]"
	return "$code"
}

cleanup() {
	touch "$work/stop"
	for name in "${!pid[@]}"; do
		case $name in nginx) stop "$name" QUIT || true ;; hey) stop "$name" INT || true ;; *) stop "$name" || true ;; esac
	done
	release_db
	if [[ $ok == 1 && -z "${KEEP_WORK:-}" ]]; then rm -rf "$work"; else echo "logs kept in $work"; fi
}
trap cleanup EXIT

listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

used_ports=" "
free_port() { # a loopback port nothing listens on, not handed out before
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 30000))
		[[ $used_ports == *" $p "* ]] && continue
		listening 127.0.0.1 "$p" && continue
		used_ports+="$p "
		echo "$p"
		return 0
	done
	die 3 "no free loopback port found"
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }

wait_code() { # wait_code URL CODE SECONDS
	for _ in $(seq $(($3 * 10))); do
		[[ $(http_code "$1") == "$2" ]] && return 0
		sleep 0.1
	done
	return 1
}

# --- Redis: a database of our own --------------------------------------------
rcli() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"; }
owner="$$/rolling-restart.sh"
# shellcheck source=lib/testdb.sh
. "$(dirname "$0")/lib/testdb.sh"
renew_db() { rcli -n 0 EXPIRE "tinman:test:lease:$db" 900 >/dev/null; }

[[ $(rcli PING 2>/dev/null) == PONG ]] || die 3 "no Redis at $REDIS_HOST:$REDIS_PORT (redis-server --bind 127.0.0.1 --daemonize yes)"
lease_db 900 || die 3 "every Redis database 1-15 is leased (by tests running now?)"
rcli -n "$db" FLUSHDB >/dev/null
redis_url="redis://$REDIS_HOST:$REDIS_PORT/$db"

# --- build -------------------------------------------------------------------
say "building tinman and nats-server (work folder $work)"
(cd "$root" && go build -o "$work/tinman" ./cmd/tinman)
tinman="$work/tinman"

hey_bin=$(command -v hey || true)
if [[ -z "$hey_bin" && -x "$(go env GOPATH)/bin/hey" ]]; then hey_bin="$(go env GOPATH)/bin/hey"; fi
if [[ -z "$hey_bin" ]]; then
	say "hey is not on PATH: go install github.com/rakyll/hey@latest"
	if GOBIN="$work/bin" go install github.com/rakyll/hey@latest; then hey_bin="$work/bin/hey"; else echo "no hey: /healthz is read by a curl loop"; fi
fi

# --- the system --------------------------------------------------------------
if [[ -n "${NATS_URL:-}" ]]; then
	nats_url=$NATS_URL
else
	(cd "$root" && go build -o "$work/nats-server" github.com/nats-io/nats-server/v2)
	nats_port=$(free_port)
	start nats "$work/nats-server" -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats"
	nats_url="nats://127.0.0.1:$nats_port"
	for _ in $(seq 100); do listening 127.0.0.1 "$nats_port" && break; sleep 0.1; done
	listening 127.0.0.1 "$nats_port" || die 3 "nats-server did not start: $(tail -5 "$work/nats.log")"
fi
say "NATS $nats_url, Redis $redis_url"

head -c 32 /dev/urandom | base64 >"$work/secret.key"
token=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')
hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
common=(--nats-url "$nats_url" --redis-url "$redis_url" --log-format json --log-level "$LOG_LEVEL")

start sim "$tinman" sim --count "$SIMS" --enroll --redis-url "$redis_url" --secret-key-file "$work/secret.key" --control-addr 127.0.0.1:0
for _ in $(seq 300); do grep -q '^# ' "$work/sim.log" && break; sleep 0.1; done
grep -q '^# ' "$work/sim.log" || die 3 "tinman sim did not enrol its BMCs: $(tail -5 "$work/sim.log")"
mapfile -t servers < <(awk '/^sim-/ {print $1}' "$work/sim.log")

start dispatcher "$tinman" dispatcher "${common[@]}"
start worker "$tinman" worker "${common[@]}" --secret-key-file "$work/secret.key"

api_port=("$(free_port)" "$(free_port)")
restarts=0
start_api() { # start_api I: starts API I and waits for its /readyz 200
	local base="http://127.0.0.1:${api_port[$1]}"
	if [[ -f "$work/api$1.log" ]]; then mv "$work/api$1.log" "$work/api$1.before-restart-$restarts.log"; fi
	start "api$1" "$tinman" api "${common[@]}" --http-addr "127.0.0.1:${api_port[$1]}" \
		--tokens "operator:sha256:$hash" --secret-key-file "$work/secret.key" \
		--drain-delay "$DRAIN_DELAY" --shutdown-timeout 15s
	wait_code "$base/readyz" 200 30 || die 3 "api $1 ($base) not ready within 30 s: $(tail -5 "$work/api$1.log")"
}
start_api 0
start_api 1

nginx_dir="$work/nginx"
mkdir -p "$nginx_dir/tmp"
lb_port=$(free_port)
sed -e "s|@DIR@|$nginx_dir|g" -e "s|@LISTEN@|127.0.0.1:$lb_port|" \
	-e "s|@API1@|127.0.0.1:${api_port[0]}|" -e "s|@API2@|127.0.0.1:${api_port[1]}|" \
	"$root/scripts/rolling-restart.nginx.conf" >"$nginx_dir/nginx.conf"
start nginx nginx -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -e "$nginx_dir/error.log" -g 'daemon off;'
lb="http://127.0.0.1:$lb_port"
wait_code "$lb/healthz" 200 10 || die 3 "nginx did not answer on $lb: $(cat "$work/nginx.log" "$nginx_dir/error.log" 2>/dev/null | tail -5)"
say "nginx $lb -> tinman api 127.0.0.1:${api_port[0]}, 127.0.0.1:${api_port[1]}"

# --- load --------------------------------------------------------------------
post_loop() { # post_loop I: posts jobs with ids roll-I-N until $work/stop exists
	local n=0 id code
	while [[ ! -e "$work/stop" ]]; do
		id="roll-$1-$(printf %06d "$n")"
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST "$lb/v1/jobs" \
			-H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
			-d "{\"id\":\"$id\",\"type\":\"power\",\"server\":\"${servers[n % ${#servers[@]}]}\",\"params\":{\"action\":\"status\"}}") || true
		echo "$id ${code:-000}" >>"$work/posts-$1.txt"
		n=$((n + 1))
		sleep 0.02
	done
}

healthz_loop() { # without hey: one curl a request, paced
	while [[ ! -e "$work/stop" ]]; do
		echo "$(http_code "$lb/healthz")" >>"$work/healthz.txt"
		sleep 0.01
	done
}

say "load: /healthz at ${HEALTHZ_RATE}/s, $POST_LOOPS loops posting jobs"
if [[ -n "$hey_bin" ]]; then
	start hey "$hey_bin" -z 10m -c 2 -q $((HEALTHZ_RATE / 2)) "$lb/healthz"
else
	start healthz healthz_loop
fi
for i in $(seq "$POST_LOOPS"); do start "post$i" post_loop "$i"; done
sleep "$SETTLE"

# --- the rolling restart -----------------------------------------------------
for round in $(seq "$ROUNDS"); do
	for i in 0 1; do
		renew_db
		code=0
		stop "api$i" || code=$?
		[[ $code == 0 ]] || die 1 "api $i exited $code on SIGTERM, want 0: $(tail -5 "$work/api$i.log")"
		restarts=$((restarts + 1))
		start_api "$i"
		say "round $round: api $i (127.0.0.1:${api_port[$i]}) restarted, ready"
		sleep "$SETTLE"
	done
done

say "stopping the load"
touch "$work/stop"
for i in $(seq "$POST_LOOPS"); do wait "${pid[post$i]}" || true; unset "pid[post$i]"; done
if [[ -n "$hey_bin" ]]; then
	stop hey INT || true
	cp "$work/hey.log" "$work/healthz-report.txt"
else
	wait "${pid[healthz]}" || true
	unset "pid[healthz]"
fi

# --- did every accepted job end? ---------------------------------------------
cat "$work"/posts-*.txt >"$work/posts.txt"
awk '$2 == 202 {print $1}' "$work/posts.txt" >"$work/accepted.txt"
cp "$work/accepted.txt" "$work/pending.txt"
: >"$work/ended.txt"
say "following $(wc -l <"$work/accepted.txt") accepted jobs until they end (at most ${JOB_WAIT}s)"
deadline=$((SECONDS + JOB_WAIT))
while [[ -s "$work/pending.txt" && $SECONDS -lt $deadline ]]; do
	: >"$work/still.txt"
	while read -r id; do
		state=$(curl -s --max-time 5 -H "Authorization: Bearer $token" "$lb/v1/jobs/$id" |
			grep -o '"state":"[a-z_]*"' | head -1 | cut -d'"' -f4) || true
		case $state in
		succeeded | failed | canceled) echo "$id $state" >>"$work/ended.txt" ;;
		*) echo "$id" >>"$work/still.txt" ;;
		esac
	done <"$work/pending.txt"
	mv "$work/still.txt" "$work/pending.txt"
	[[ -s "$work/pending.txt" ]] && sleep 1
done

# --- summary -----------------------------------------------------------------
post_sent=$(wc -l <"$work/posts.txt")
post_202=$(wc -l <"$work/accepted.txt")
post_failed=$((post_sent - post_202))
ended=$(wc -l <"$work/ended.txt")
succeeded=$(awk '$2 == "succeeded"' "$work/ended.txt" | wc -l)
not_ended=$(wc -l <"$work/pending.txt")
if [[ -n "$hey_bin" ]]; then
	hz_ok=$(awk '/\[200\]/ {print $2}' "$work/healthz-report.txt")
	hz_other=$(awk '/^Status code distribution:/ {s=1; next} s && /\[/ && !/\[200\]/ {n+=$2} s && !/\[/ {s=0} END {print n+0}' "$work/healthz-report.txt")
	hz_errors=$(awk '/^Error distribution:/ {s=1; next} s && NF {n+=$1} END {print n+0}' "$work/healthz-report.txt")
	hz_ok=${hz_ok:-0}
	hz_failed=$((hz_other + hz_errors))
else
	hz_ok=$(grep -c '^200$' "$work/healthz.txt" || true)
	hz_failed=$(grep -vc '^200$' "$work/healthz.txt" || true)
fi
hz_sent=$((hz_ok + hz_failed))
resets=$(grep -c 'reset by peer' "$nginx_dir/error.log" || true)
unanswered=$(grep -c 'prematurely closed' "$nginx_dir/error.log" || true)

echo
echo "Rolling restart behind nginx: $ROUNDS rounds, $restarts API restarts (SIGTERM, exit 0, /readyz 200), drain delay $DRAIN_DELAY"
printf '%-22s %10s %8s %8s %12s %11s\n' "" requests failed 202s "jobs ended" succeeded
printf '%-22s %10s %8s %8s %12s %11s\n' "POST /v1/jobs" "$post_sent" "$post_failed" "$post_202" "$ended" "$succeeded"
printf '%-22s %10s %8s %8s %12s %11s\n' "GET /healthz" "$hz_sent" "$hz_failed" - - -
printf '%-22s %10s %8s %8s %12s %11s\n' "total" "$((post_sent + hz_sent))" "$((post_failed + hz_failed))" "$post_202" "$ended" "$succeeded"
echo "nginx: $resets upstream connections reset and sent again, $unanswered closed by an API without an answer"
if ((post_failed > 0)); then
	echo "failed POSTs (id status):"
	awk '$2 != 202' "$work/posts.txt" | head -20
fi
if ((not_ended > 0)); then
	echo "accepted jobs that did not end within ${JOB_WAIT}s:"
	head -20 "$work/pending.txt"
fi
if ((post_failed + hz_failed + not_ended > 0 || post_202 == 0)); then
	echo "FAIL"
	exit 1
fi
ok=1
echo "OK: 0 failed requests, every accepted job ended"
