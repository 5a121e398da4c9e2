#!/usr/bin/env bash
# Fleet figures at 10,000 servers on this machine (issue 12, item 4). 127.0.0.1
# only; everything it starts is stopped at exit.
#
#   scripts/scale.sh
#   SERVERS=2000 BATCH=500 INSTALLER_DELAY=5s scripts/scale.sh
#
# It builds tinman and nats-server (the version go.mod pins, 2.15), then runs
# each piece as its own process on free loopback ports:
#   nats-server -js (its store in a temporary folder),
#   tinman api with the boot service (--boot-addr) serving a stand-in image,
#   tinman sim --enroll --boot-url: SERVERS simulated Redfish BMCs, enrolled
#     (labels fleet=sim, rack=rN of 40), whose machines boot through the boot
#     service and report after INSTALLER_DELAY, as tinman dev's do,
#   tinman dispatcher, WORKERS tinman workers (each CONCURRENCY jobs,
#     BMC_CONCURRENCY calls, PACING between two calls to one BMC).
# Redis is 127.0.0.1:6379 (REDIS_HOST, REDIS_PORT): REDIS_DB, or else one of
# databases 15..1, leased the way the tests lease theirs (a key in database
# 0), flushed with FLUSHDB before and after.
#
# Then, timed: the enrolment; GET /v1/servers, all and with a selector
# (median of 5); a power status of every server (there is no fleet-wide power
# job: SERVERS requests published at once with `tinman publish --lines`),
# until the worker's metrics count them ended; a deploy of every server in
# batches of BATCH, each batch's time beside the installer's own (two reports,
# installed and booted, each INSTALLER_DELAY after its boot); peak RSS from
# /proc/<pid>/status (VmHWM); Redis memory (INFO memory) per server and per
# power status job. Prints one table. Every wait is bounded (STEP_TIMEOUT).
# Last, unless JOBLIST=0: GET /v1/jobs's store call among 1,000,000 jobs
# (BenchmarkJobListAtScale, in a Redis database it leases itself; about 30 s).
# PROFILE=SECONDS (with KEEP_WORK=1) starts the workers with --pprof and keeps
# a CPU profile of worker 1 over the first SECONDS of the power status and
# of the deploy (worker1-status.pprof, worker1-deploy.pprof in the work folder).
# Exit 0 when every step ended, 1 when one failed or timed out, 2 when a tool
# is missing, 3 when a piece did not start. KEEP_WORK=1 keeps the logs.
set -euo pipefail

SERVERS=${SERVERS:-10000}
BATCH=${BATCH:-2500}
INSTALLER_DELAY=${INSTALLER_DELAY:-15s}
WORKERS=${WORKERS:-4}
CONCURRENCY=${CONCURRENCY:-256}
BMC_CONCURRENCY=${BMC_CONCURRENCY:-256}
PACING=${PACING:-0s}
STEP_TIMEOUT=${STEP_TIMEOUT:-1800}
LOG_LEVEL=${LOG_LEVEL:-warn}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
REDIS_DB=${REDIS_DB:-}
PROFILE=${PROFILE:-0}
JOBLIST=${JOBLIST:-1}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t tinman-scale-XXXXXX)
declare -A pid=()
ok=0
say() { printf '== %s\n' "$*" >&2; }
die() { echo "scale: $2" >&2; exit "$1"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
secs() { awk -v d="$1" 'BEGIN {n = d + 0; if (d ~ /ms$/) n /= 1000; else if (d ~ /m$/) n *= 60; print n}'; }

for tool in go curl jq redis-cli awk; do
	command -v "$tool" >/dev/null || die 2 "$tool is not installed (apt-get install curl jq redis-tools gawk; Go from go.dev)"
done

# --- processes ---------------------------------------------------------------
start() { # start NAME CMD...: CMD in the background, stdout to $work/NAME.out, stderr to NAME.log
	local name=$1
	shift
	"$@" >"$work/$name.out" 2>"$work/$name.log" &
	pid[$name]=$!
}

stop() { # stop NAME: SIGTERM, up to 60 s, then SIGKILL
	local name=$1 p=${pid[$1]:-}
	[[ -n "$p" ]] || return 0
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 600); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$p" 2>/dev/null && { echo "scale: $name ($p) still running 60 s after SIGTERM: killed" >&2; kill -KILL "$p"; }
	wait "$p" 2>/dev/null || true
	unset "pid[$name]"
}

cleanup() {
	for name in "${!pid[@]}"; do [[ $name == worker* ]] && stop "$name"; done
	for name in dispatcher api sim nats; do stop "$name"; done
	release_db
	if [[ $ok == 1 && -z "${KEEP_WORK:-}" ]]; then rm -rf "$work"; else echo "logs kept in $work" >&2; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
used_ports=" "
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 10000)) # below the ephemeral range, which the BMCs' listeners take
		[[ $used_ports == *" $p "* ]] && continue
		listening 127.0.0.1 "$p" && continue
		used_ports+="$p "
		echo "$p"
		return 0
	done
	die 3 "no free loopback port found"
}

ready() { # ready NAME URL: waits up to 60 s for URL to answer 200
	for _ in $(seq 600); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$2" || true) == 200 ]] && return 0
		kill -0 "${pid[$1]}" 2>/dev/null || die 3 "$1 exited: $(tail -5 "$work/$1.log")"
		sleep 0.1
	done
	die 3 "$1 not ready at $2 within 60 s: $(tail -5 "$work/$1.log")"
}

# mark_cpu notes the CPU the workers and the dispatcher, and the simulator,
# have used; tinman_ms_each N, sim_ms_each N: their CPU milliseconds since, per unit of N
mark_cpu() { cpu_tinman0=$(cpu_s "${workers[@]}" "${pid[dispatcher]}") cpu_sim0=$(cpu_s "${pid[sim]}"); }
ms_each() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.1f", 1000 * (a - b) / n}'; }
tinman_ms_each() { ms_each "$(cpu_s "${workers[@]}" "${pid[dispatcher]}")" "$cpu_tinman0" "$1"; }
sim_ms_each() { ms_each "$(cpu_s "${pid[sim]}")" "$cpu_sim0" "$1"; }
cpu_s() { # cpu_s PID...: the CPU seconds (user and system) the processes have used
	local p
	for p in "$@"; do cat "/proc/$p/stat"; done | awk -v hz="$(getconf CLK_TCK)" '{s += $14 + $15} END {printf "%.2f", s / hz}'
}
hwm_mb() { awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# --- Redis: a database of our own --------------------------------------------
rcli() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"; }
owner="$$/scale.sh"
# shellcheck source=lib/testdb.sh
. "$(dirname "$0")/lib/testdb.sh"
used_memory() { rcli -n "$db" INFO memory | awk -F: '/^used_memory:/ {print $2 + 0}'; }

[[ $(rcli PING 2>/dev/null) == PONG ]] || die 3 "no Redis at $REDIS_HOST:$REDIS_PORT"
lease_db 7200 "${REDIS_DB:-}" || die 3 "Redis database ${REDIS_DB:-1-15} is leased by someone else (tests running now?)"
rcli -n "$db" FLUSHDB >/dev/null
redis_url="redis://$REDIS_HOST:$REDIS_PORT/$db"

# --- build and start ---------------------------------------------------------
say "building tinman and nats-server (work folder $work)"
(cd "$root" && go build -o "$work/tinman" ./cmd/tinman && go build -o "$work/nats-server" github.com/nats-io/nats-server/v2)
tinman="$work/tinman"

nats_port=$(free_port)
start nats "$work/nats-server" -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats"
nats_url="nats://127.0.0.1:$nats_port"
for _ in $(seq 100); do listening 127.0.0.1 "$nats_port" && break; sleep 0.1; done
listening 127.0.0.1 "$nats_port" || die 3 "nats-server did not start: $(tail -5 "$work/nats.log")"

head -c 32 /dev/urandom | base64 >"$work/secret.key"
token=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')
hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
common=(--nats-url "$nats_url" --redis-url "$redis_url" --log-format json --log-level "$LOG_LEVEL")
mkdir -p "$work/images/scale"
for f in vmlinuz initrd.img disk.img; do echo "scale $f: a stand-in" >"$work/images/scale/$f"; done

api_port=$(free_port) boot_port=$(free_port) disp_port=$(free_port)
worker_ports=()
for i in $(seq "$WORKERS"); do worker_ports+=("$(free_port)"); done
api="http://127.0.0.1:$api_port" boot="http://127.0.0.1:$boot_port"
start api "$tinman" api "${common[@]}" --http-addr "127.0.0.1:$api_port" --tokens "admin:sha256:$hash" \
	--secret-key-file "$work/secret.key" --boot-addr "127.0.0.1:$boot_port" --images-dir "$work/images"
ready api "$api/readyz"
mem_empty=$(used_memory)

say "tinman sim: $SERVERS BMCs, enrolled"
t0=$(now)
start sim "$tinman" sim --log-level "$LOG_LEVEL" --log-format json --count "$SERVERS" --enroll --redis-url "$redis_url" --secret-key-file "$work/secret.key" \
	--boot-url "$boot" --nats-url "$nats_url" --installer-delay "$INSTALLER_DELAY"
for _ in $(seq 3000); do grep -q '^# [0-9]* Redfish BMCs' "$work/sim.out" && break; kill -0 "${pid[sim]}" 2>/dev/null || break; sleep 0.1; done
grep -q '^# [0-9]* Redfish BMCs' "$work/sim.out" || die 3 "tinman sim did not enrol its BMCs: $(tail -5 "$work/sim.log")"
sim_total=$(since "$t0")
mem_servers=$(used_memory)
awk '/^sim-/ {print $1}' "$work/sim.out" >"$work/servers.txt"
[[ $(wc -l <"$work/servers.txt") == "$SERVERS" ]] || die 3 "tinman sim printed $(wc -l <"$work/servers.txt") servers, want $SERVERS"

start dispatcher "$tinman" dispatcher "${common[@]}" --health-addr "127.0.0.1:$disp_port" --max-batch-size "$(( BATCH > 1000 ? BATCH : 1000 ))"
for i in $(seq "$WORKERS"); do
	start "worker$i" "$tinman" worker "${common[@]}" --health-addr "127.0.0.1:${worker_ports[i - 1]}" --secret-key-file "$work/secret.key" \
		--concurrency "$CONCURRENCY" --bmc-concurrency "$BMC_CONCURRENCY" --redfish-min-interval "$PACING" $( ((PROFILE > 0)) && echo --pprof)
done
ready dispatcher "http://127.0.0.1:$disp_port/readyz"
for i in $(seq "$WORKERS"); do ready "worker$i" "http://127.0.0.1:${worker_ports[i - 1]}/readyz"; done
"$tinman" images add scale --kernel-url scale/vmlinuz --initrd-url scale/initrd.img --image-url scale/disk.img \
	--sha256-of "$work/images/scale/disk.img" --api-url "$api" --token "$token" >/dev/null

# --- the table, a row as each figure is measured --------------------------------
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; }
echo "Fleet of $SERVERS on $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), load $(cut -d' ' -f1-3 /proc/loadavg) at the start;"
echo "$WORKERS workers, each --concurrency $CONCURRENCY --bmc-concurrency $BMC_CONCURRENCY --redfish-min-interval $PACING; Redis DB $db; $("$work/nats-server" --version)"
echo
row "figure" "value" "what bounds it"
row "---" "---" "---"
row "simulated BMCs started (tinman sim)" "$(awk '/^# started/ {print $(NF-2)}' "$work/sim.log" | tr -d ':')" \
	"one TLS listener each; $(awk '/^# started/ {print $(NF-1)}' "$work/sim.log") goroutines, RSS $(hwm_mb "${pid[sim]}") MB, $(ls "/proc/${pid[sim]}/fd" | wc -l) open files"
row "servers enrolled ($SERVERS)" "$(awk '/^# enrolled/ {print $NF}' "$work/sim.log")" "PutServers, 500 a transaction; sim start to printed fleet ${sim_total} s"
row "Redis memory per server" "$(((mem_servers - mem_empty) / SERVERS)) B" "INFO used_memory delta over the enrolment / $SERVERS"

# --- listing -----------------------------------------------------------------
list_ms() { # list_ms QUERY WANT: median of 5 GET /v1/servers?QUERY, in ms; checks the count
	local i n
	n=$(curl -sS --max-time 30 -H "Authorization: Bearer $token" "$api/v1/servers?$1" | jq '.servers | length')
	[[ $n == "$2" ]] || die 1 "GET /v1/servers?$1 listed $n servers, want $2"
	for i in 1 2 3 4 5; do
		curl -sS -o /dev/null --max-time 30 -w '%{time_total}\n' -H "Authorization: Bearer $token" "$api/v1/servers?$1"
	done | sort -n | awk 'NR == 3 {printf "%.0f", $1 * 1000}'
}
rack_size=$((SERVERS < 40 ? SERVERS : 40))
row "GET /v1/servers, all $SERVERS" "$(list_ms "" "$SERVERS") ms" "median of 5; every record read, decoded and encoded only when it changed"
row "GET /v1/servers?selector=fleet=sim ($SERVERS)" "$(list_ms "selector=fleet=sim" "$SERVERS") ms" "median of 5"
row "GET /v1/servers?selector=rack=r1 ($rack_size)" "$(list_ms "selector=rack=r1" "$rack_size") ms" "median of 5; one label set"

# --- a power status of every server ------------------------------------------
profiling=
profile() { # profile NAME: with PROFILE, a CPU profile of worker 1 for PROFILE seconds, in the background
	((PROFILE > 0)) || return 0
	[[ -z "$profiling" ]] || wait "$profiling" || true # one profile at a time: Go refuses a second
	curl -s --max-time "$((PROFILE + 30))" -o "$work/worker1-$1.pprof" \
		"http://127.0.0.1:${worker_ports[0]}/debug/pprof/profile?seconds=$PROFILE" &
	profiling=$!
}
metric() { # metric NAME FILTER: the sum over the workers of the series NAME whose labels match FILTER
	for p in "${worker_ports[@]}"; do curl -s --max-time 10 "http://127.0.0.1:$p/metrics"; done |
		awk -v n="$1" -v f="$2" '(index($1, n "{") == 1 || $1 == n) && $1 ~ f {s += $2} END {printf "%.6f", s}'
}
ended() { awk -v a="$(metric tinman_jobs_total 'outcome="(succeeded|failed)",type="power"')" 'BEGIN {printf "%d", a}'; }

say "power status of $SERVERS servers"
awk '{printf "{\"id\":\"status-%s\",\"type\":\"power\",\"server\":\"%s\",\"params\":{\"action\":\"status\"}}\n", $1, $1}' \
	"$work/servers.txt" >"$work/status.jsonl"
calls0=$(metric tinman_bmc_call_seconds_count "") bmc0=$(metric tinman_bmc_call_seconds_sum "") ended0=$(ended)
mem_before=$(used_memory)
workers=()
for i in $(seq "$WORKERS"); do workers+=("${pid[worker$i]}"); done
mark_cpu
t0=$(now)
profile status
"$tinman" publish --nats-url "$nats_url" --lines "$work/status.jsonl" >/dev/null
published_in=$(since "$t0")
deadline=$((SECONDS + STEP_TIMEOUT))
while (($(ended) - ended0 < SERVERS)); do
	((SECONDS < deadline)) || die 1 "power status: $(($(ended) - ended0)) of $SERVERS ended after ${STEP_TIMEOUT}s"
	sleep 0.5
done
status_s=$(since "$t0")
status_ok=$(awk -v a="$(metric tinman_jobs_total 'outcome="succeeded",type="power"')" 'BEGIN {printf "%d", a}')
calls=$(awk -v a="$(metric tinman_bmc_call_seconds_count "")" -v b="$calls0" 'BEGIN {print a - b}')
bmc_s=$(awk -v a="$(metric tinman_bmc_call_seconds_sum "")" -v b="$bmc0" 'BEGIN {print a - b}')
slots=$((WORKERS * (CONCURRENCY < BMC_CONCURRENCY ? CONCURRENCY : BMC_CONCURRENCY)))
row "power status of $SERVERS (published in ${published_in} s)" "${status_s} s, ${status_ok} succeeded" \
	"$calls BMC calls, $(awk -v s="$bmc_s" -v n="$calls" 'BEGIN {printf "%.0f", 1000 * s / n}') ms each: BMC time / $slots slots = $(awk -v s="$bmc_s" -v c="$slots" 'BEGIN {printf "%.1f", s / c}') s; pacing floor $(awk -v n="$SERVERS" -v c="$((WORKERS * CONCURRENCY))" -v k="$calls" -v p="$(secs "$PACING")" 'BEGIN {printf "%.1f", int((n + c - 1) / c) * (k / n - 1) * p}') s"
row "CPU per power status job" "Tinman $(tinman_ms_each "$SERVERS") ms" \
	"workers and dispatcher; the simulated BMCs $(sim_ms_each "$SERVERS") ms (TLS and Redfish, on the same $(nproc) cores)"
row "Redis memory per power status job" "$((($(used_memory) - mem_before) / SERVERS)) B" "job record, index entries, asynq task kept 2 h"

# --- a deploy, in batches ------------------------------------------------------
DEPLOY_SERVERS=${DEPLOY_SERVERS:-$SERVERS}
target=(--selector fleet=sim)
if ((DEPLOY_SERVERS < SERVERS)); then target=(--servers "$(head -n "$DEPLOY_SERVERS" "$work/servers.txt" | paste -sd,)"); fi
installer_s=$(awk -v d="$(secs "$INSTALLER_DELAY")" 'BEGIN {print 2 * d}')
say "deploy of $DEPLOY_SERVERS servers in batches of $BATCH (installer $INSTALLER_DELAY per report)"
mark_cpu
t0=$(now)
profile deploy
deployed=0
"$tinman" deploy --image scale "${target[@]}" --batch-size "$BATCH" --max-failures "$DEPLOY_SERVERS" --id scale-deploy \
	--api-url "$api" --token "$token" --nats-url "$nats_url" --wait --wait-timeout "${STEP_TIMEOUT}s" >"$work/deploy.out" 2>&1 && deployed=1
deploy_s=$(since "$t0")
timeout 20 "$tinman" watch --nats-url "$nats_url" --server _ --job scale-deploy --since 3h --json >"$work/deploy-events.jsonl" 2>/dev/null || true
jq -r 'select(.data.job_id == "scale-deploy") | [.type, .time, (.data.message // "")] | @tsv' "$work/deploy-events.jsonl" |
	while IFS=$'\t' read -r type time msg; do printf '%s\t%s\t%s\n' "$type" "$(date -d "$time" +%s.%N)" "$msg"; done >"$work/deploy-times.tsv"
# batch N runs from the end of batch N-1 (batch 1: the plan) to its "batch N done" event: its
# submission (one request a server), its provisions and the deploy noticing they ended
awk -F'\t' -v own="$installer_s" '
	$1 == "tinman.job.progress" && $3 ~ / servers in [0-9]+ batches/ {done[0] = $2}
	$1 == "tinman.deploy.batch_started" {split($3, w, " "); start[w[2] + 0] = $2}
	$1 == "tinman.job.progress" && $3 ~ /^batch [0-9]+ of [0-9]+ done/ {split($3, w, " "); done[w[2] + 0] = $2}
	END {for (b = 1; (b in done) && ((b - 1) in done); b++) printf "%d %.1f %.1f %.1f\n", b, done[b] - done[b - 1], start[b] - done[b - 1], done[b] - done[b - 1] - own}
' "$work/deploy-times.tsv" >"$work/batches.txt"
provisioned=$(awk -F'\t' '$3 ~ /^batch [0-9]+ of [0-9]+ done: [0-9]+ succeeded/ {split($3, w, " "); s += w[6]} END {print s + 0}' "$work/deploy-times.tsv")
row "deploy of $DEPLOY_SERVERS in batches of $BATCH" "${deploy_s} s, $provisioned provisioned$( ((deployed)) || echo ", NOT ENDED: $(tail -1 "$work/deploy.out")")" "installer's own time ${installer_s} s a batch (installed and booted, $INSTALLER_DELAY each)"
while read -r b took submit over; do
	row "  batch $b" "${took} s" "overhead ${over} s, $(awk -v o="$over" -v t="$installer_s" 'BEGIN {printf "%.0f", 100 * o / t}') % of the installer's time; ${submit} s of it submitting the batch"
done <"$work/batches.txt"
row "CPU per provision" "Tinman $(tinman_ms_each "$DEPLOY_SERVERS") ms" \
	"workers and dispatcher, over the deploy; the simulated BMCs and installers $(sim_ms_each "$DEPLOY_SERVERS") ms"
peak=0
for i in $(seq "$WORKERS"); do m=$(hwm_mb "${pid[worker$i]}"); ((m > peak)) && peak=$m; done
row "peak RSS (VmHWM)" "worker $peak MB (the largest of $WORKERS)" "dispatcher $(hwm_mb "${pid[dispatcher]}") MB, api $(hwm_mb "${pid[api]}") MB, sim $(hwm_mb "${pid[sim]}") MB, nats $(hwm_mb "${pid[nats]}") MB"

# --- jobs at scale -------------------------------------------------------------
if ((JOBLIST)); then
	say "job listing among 1,000,000 jobs (BenchmarkJobListAtScale)"
	(cd "$root" && TINMAN_TEST_REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT" go test -run '^$' -bench JobListAtScale -benchtime 1x ./store/) \
		>"$work/joblist.out" 2>&1 || true
	bench() { # bench SUB UNIT: the figure of unit UNIT that sub-benchmark SUB reported
		awk -v b="/$1-" -v u="$2" 'index($1, b) {for (i = 3; i <= NF; i++) if ($i == u) print $(i - 1)}' "$work/joblist.out" | head -1
	}
	row "GET /v1/jobs among 1,000,000 jobs, first page (100)" "$(bench first-page ms/page) ms" \
		"the store's call (BenchmarkJobListAtScale); $(bench first-page redis-bytes/job) Redis bytes a job"
	row "  every page by cursor (?after=)" "$(bench cursor-all ms/page) ms a page of 1,000" "$(bench cursor-all s/all) s for all 1,000,000"
fi
((deployed)) || exit 1
ok=1
