#!/usr/bin/env bash
# A chaos run at scale: 1,000 jobs (power, boot-device, provision) over 100
# simulated BMCs that fail 10 % of their requests, while a worker is killed
# with SIGKILL every 10 s (and started again), Redis (append-only file on)
# crashes once and NATS restarts once. It runs TestProcessChaos with those
# sizes and prints its summary table; it exits non-zero on any lost request,
# job without exactly one terminal event, gap in a job's events, two requests
# served at once by one BMC, or server left transitional.
#
# Needs Go and redis-server; the roles are the real binary, built by the test.
# JOBS, SIMS and KILL_EVERY change the sizes: JOBS=200 SIMS=20 scripts/chaos.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export TINMAN_CHAOS_JOBS=${JOBS:-1000} TINMAN_CHAOS_SIMS=${SIMS:-100} TINMAN_CHAOS_KILL_EVERY=${KILL_EVERY:-10s}
echo "chaos: ${TINMAN_CHAOS_JOBS} jobs, ${TINMAN_CHAOS_SIMS} BMCs, a worker killed every ${TINMAN_CHAOS_KILL_EVERY}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
go test -race -count=1 -timeout 60m -run '^TestProcessChaos$' -v ./cmd/tinman/ >"$log" 2>&1 || status=$?
grep -E '^\s+(chaos run|\||failures by code)' "$log" | sed 's/^\s*//' || true
grep -E '^\s+chaos_test.go:[0-9]+: (job|BMC|server|[0-9]+ of)' "$log" | head -50 || true
if [ "$status" -ne 0 ]; then
  echo "chaos: FAILED (full log: keep it with KEEP_LOG=1)"; [ "${KEEP_LOG:-}" = 1 ] && cp "$log" chaos.log
  exit 1
fi
echo "chaos: every invariant held"
