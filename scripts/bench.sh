#!/bin/bash
# bench.sh: make bench: wrk against a private stack with 100,000 jobs; prints req/s, p50, p99 and ratios from one run.
#
# Environment: BENCH_VAR (VAR/bench: kept between runs, so the jobs are
# generated once), BENCH_SECONDS (10 per scenario), BENCH_CONNECTIONS
# (32), BENCH_WORKERS (4 per endpoint), BENCH_JOBS (100000),
# BENCH_KEEP=1 leaves the stack running, BENCH_SSE_RUNS (30) streams
# timed per web server.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VAR=${VAR:-./var}
BVAR=${BENCH_VAR:-$VAR/bench}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
NJOBS=${BENCH_JOBS:-100000}
export WORKERS=${BENCH_WORKERS:-4}
export BENCH=1 WEB=${WEB:-lighttpd}
# The AI rows (scripts/bench-ai.sh) need the fake LLM server, and more
# generations a minute than the ai rate limit allows one user.
export FAKE_LLM=1 APP_RL_AI_LIMIT=1000000
TENANT=org_bench

free_port() {
	perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die; print $s->sockport'
}
export VAR=$BVAR PORT=${BENCH_PORT:-$(free_port)}
cleanup() { [ "${BENCH_KEEP:-0}" = 1 ] || scripts/stack.sh stop; }
trap cleanup EXIT

echo "bench: starting a stack on port $PORT ($WEB, $WORKERS workers per endpoint) in $BVAR" >&2
scripts/stack.sh stop >/dev/null 2>&1 || true
scripts/stack.sh start >/dev/null
have=$(scripts/stack.sh psql -d upwork -tA -c "SELECT count(*) FROM jobs WHERE tenant_id = '$TENANT'")
if [ "$have" -lt "$NJOBS" ]; then
	echo "bench: generating $((NJOBS - have)) jobs for $TENANT (once; about 45 s per 100,000)" >&2
	scripts/gen-jobs.sh "$TENANT" "$((NJOBS - have))" "$have"
fi
TOKEN=$(scripts/stack.sh token user_bench "$TENANT")
URL=http://127.0.0.1:$PORT

# Latency in wrk's units to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.2f", n }'
}

# run NAME CONNS PATH... : one wrk run; appends a row to ROWS.
ROWS=()
run() {
	local name=$1 conns=$2 out rps p50 p99 non2xx
	shift 2
	out=$(wrk -t "$((conns < 2 ? 1 : 2))" -c "$conns" -d "${SECS}s" --latency -H "Authorization: Bearer $TOKEN" \
	    -s scripts/bench/paths.lua "$URL" -- "$@")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
	p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
	non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
	ROWS+=("$name|$conns|$rps|$p50|$p99|${non2xx:-0}")
}

SKILLS=(postgresql react python aws figma shopify "node.js" docker)
JOB_PATHS=()
for s in "${SKILLS[@]}"; do JOB_PATHS+=("/api/jobs?skills=$s&limit=20"); done

echo "bench: warming up" >&2
SECS=2 run warmup 8 "${JOB_PATHS[@]}"
ROWS=()
run "(a) trivial FastCGI responder" "$CONNS" /bench/trivial
run "(b) GET /api/health" "$CONNS" /api/health
run "(c) GET /api/jobs?skills=<one of 8>, 100k jobs" "$CONNS" "${JOB_PATHS[@]}"
run "(c) same, one connection (latency)" 1 "${JOB_PATHS[@]}"
. scripts/bench-ai.sh

base=$(cut -d'|' -f3 <<<"${ROWS[0]}")
printf '\n%-46s %6s %10s %9s %9s %8s %7s\n' scenario conns "req/s" "p50 ms" "p99 ms" "vs (a)" "non-2xx"
for row in "${ROWS[@]}"; do
	IFS='|' read -r name conns rps p50 p99 bad <<<"$row"
	printf '%-46s %6s %10.0f %9s %9s %8.3f %7s\n' "$name" "$conns" "$rps" "$p50" "$p99" \
	    "$(awk -v a="$rps" -v b="$base" 'BEGIN { print a / b }')" "$bad"
done
printf '\n%s, %s cores, %s workers per endpoint, %s s per scenario, %s jobs in %s\n' \
    "$WEB" "$(nproc)" "$WORKERS" "$SECS" "$(scripts/stack.sh psql -d upwork -tA -c "SELECT count(*) FROM jobs WHERE tenant_id = '$TENANT'")" "$TENANT"
