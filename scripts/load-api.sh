#!/usr/bin/env bash
# Load test of `tinman api` against a local `tinman dev` (127.0.0.1 only).
#
#   scripts/load-api.sh            # defaults below
#   DURATION=10s HEALTHZ_RATE=2000 POST_CONCURRENCY=16 scripts/load-api.sh
#   REDIS_URL=redis://127.0.0.1:6379/14 scripts/load-api.sh   # a real Redis instead of dev's in-memory one
#
# It builds the binary, starts `tinman dev` (embedded NATS, Redis, dispatcher,
# workers, simulated BMCs) and a separate `tinman api` process on that NATS and
# Redis, then drives the API with hey:
#   1. GET /healthz at HEALTHZ_RATE requests/s for DURATION: p99 and errors;
#   2. the same again while POST /v1/jobs runs at BACKGROUND_POST_RATE/s, so
#      that the dispatcher and workers are busy with jobs meanwhile;
#   3. POST /v1/jobs (power status on sim-01, a new job each time) with
#      POST_CONCURRENCY workers and no rate cap for DURATION: sustained rate
#      and p99, while the pipeline runs the jobs.
# Everything it starts is stopped at exit. Needs hey (apt-get install hey).
set -euo pipefail

DURATION=${DURATION:-10s}
HEALTHZ_RATE=${HEALTHZ_RATE:-2000}
HEALTHZ_CONCURRENCY=${HEALTHZ_CONCURRENCY:-8}
POST_CONCURRENCY=${POST_CONCURRENCY:-16}
BACKGROUND_POST_RATE=${BACKGROUND_POST_RATE:-50}
API_PORT=${API_PORT:-18080}
DEV_PORT=${DEV_PORT:-18081}
LOG_LEVEL=${LOG_LEVEL:-warn}

command -v hey >/dev/null || { echo "load-api: hey is not installed (apt-get install hey)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t tinman-load-XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

echo "== building tinman"
(cd "$root" && go build -o "$work/tinman" ./cmd/tinman)

echo "== starting tinman dev (127.0.0.1:$DEV_PORT)"
export TINMAN_CONTEXT="$work/dev.json"
dev_args=(dev --http-addr "127.0.0.1:$DEV_PORT" --nats-port -1 --sims 8 --data-dir "$work/data" --log-level "$LOG_LEVEL" --log-format json)
[[ -n "${REDIS_URL:-}" ]] && dev_args+=(--redis-url "$REDIS_URL")
"$work/tinman" "${dev_args[@]}" >"$work/dev.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s "$TINMAN_CONTEXT" ]] && break; sleep 0.2; done
[[ -s "$TINMAN_CONTEXT" ]] || { echo "load-api: tinman dev did not start:" >&2; cat "$work/dev.log" >&2; exit 3; }
field() { sed -n "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p" "$TINMAN_CONTEXT"; }
nats_url=$(field nats_url)
redis_url=$(field redis_url)

echo "== starting tinman api (127.0.0.1:$API_PORT) on $nats_url and $redis_url"
token=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')
hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
# With a real Redis, dev keeps its secret key beside the context file; the
# in-memory one keeps nothing, so any key does for the routes measured here.
if [[ -s "$work/dev-secret.key" ]]; then
	key_file="$work/dev-secret.key"
else
	key_file="$work/api.key"
	head -c 32 /dev/urandom | base64 >"$key_file"
fi
"$work/tinman" api --http-addr "127.0.0.1:$API_PORT" --nats-url "$nats_url" --redis-url "$redis_url" \
	--tokens "operator:sha256:$hash" --secret-key-file "$key_file" --drain-delay 0s \
	--log-level "$LOG_LEVEL" --log-format json >"$work/api.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$API_PORT"
for _ in $(seq 100); do
	[[ $(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true) == 200 ]] && break
	sleep 0.2
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$base/readyz") == 200 ]] || { echo "load-api: tinman api not ready:" >&2; cat "$work/api.log" >&2; exit 3; }

# summary FILE LABEL: the figures of a hey report.
summary() {
	local rps p50 p99 codes errors
	rps=$(awk '/Requests\/sec:/ {printf "%.0f", $2}' "$1")
	p50=$(awk '/ 50% in / {printf "%.2f", $3*1000}' "$1")
	p99=$(awk '/ 99% in / {printf "%.2f", $3*1000}' "$1")
	codes=$(awk '/^Status code distribution:/ {s=1; next} s && /\[/ {printf "%s%s x%s", sep, $1, $2; sep=", "} s && !/\[/ {s=0}' "$1")
	errors=$(awk '/^Error distribution:/ {s=1; next} s && NF {n+=$1} END {print n+0}' "$1")
	printf '%-34s %8s req/s   p50 %7s ms   p99 %7s ms   %s   errors %s\n' "$2" "$rps" "$p50" "$p99" "$codes" "$errors"
}

echo "== GET /healthz at $HEALTHZ_RATE req/s for $DURATION"
per_worker=$((HEALTHZ_RATE / HEALTHZ_CONCURRENCY))
timeout 120 hey -z "$DURATION" -c "$HEALTHZ_CONCURRENCY" -q "$per_worker" "$base/healthz" >"$work/healthz.txt"

post_job=(-m POST -T application/json -H "Authorization: Bearer $token"
	-d '{"type":"power","server":"sim-01","params":{"action":"status"}}' "$base/v1/jobs")

echo "== GET /healthz at $HEALTHZ_RATE req/s for $DURATION, while POST /v1/jobs runs at $BACKGROUND_POST_RATE req/s"
timeout 120 hey -z "$DURATION" -c 4 -q $((BACKGROUND_POST_RATE / 4)) "${post_job[@]}" >"$work/post-bg.txt" &
bg=$!
timeout 120 hey -z "$DURATION" -c "$HEALTHZ_CONCURRENCY" -q "$per_worker" "$base/healthz" >"$work/healthz-busy.txt"
wait "$bg"

echo "== POST /v1/jobs, $POST_CONCURRENCY workers, no rate cap, for $DURATION"
timeout 120 hey -z "$DURATION" -c "$POST_CONCURRENCY" "${post_job[@]}" >"$work/post.txt"

echo
echo "Results (tinman api on 127.0.0.1, $(nproc) cores, log level $LOG_LEVEL):"
summary "$work/healthz.txt" "GET /healthz @ ${HEALTHZ_RATE}/s, idle"
summary "$work/healthz-busy.txt" "GET /healthz @ ${HEALTHZ_RATE}/s, jobs flowing"
summary "$work/post-bg.txt" "  (POST /v1/jobs @ ${BACKGROUND_POST_RATE}/s meanwhile)"
summary "$work/post.txt" "POST /v1/jobs, c=$POST_CONCURRENCY, uncapped"
if [[ -n "${KEEP_REPORTS:-}" ]]; then cp "$work"/*.txt "$KEEP_REPORTS"/; fi
