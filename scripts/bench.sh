#!/bin/bash
# bench.sh: make bench: wrk against a private stack with 100,000 jobs (listed, cached, ranked by match), and the broadcaster under 10,000 subscribers; prints one table from one run.
#
# Environment: BENCH_VAR (VAR/bench: kept between runs, so the jobs are
# generated once), BENCH_SECONDS (10 per scenario), BENCH_CONNECTIONS
# (32), BENCH_WORKERS (4 per endpoint), BENCH_JOBS (100000),
# BENCH_PUSH_CONNECTIONS (10000), BENCH_PUSH_PROXIED (1000),
# BENCH_PUSH_EVENTS (20), BENCH_PUSH_POLLING (1000 long-polling
# sessions), BENCH_SSE_RUNS (30 streams timed per web server),
# BENCH_KEEP=1 leaves the stack running, BENCH_SEED=0 skips the seed
# peer (scripts/bench-seed.sh; BENCH_SEED_WORKERS, BENCH_SEED_SQL),
# BENCH_FAULTS=0 skips the faults under load (scripts/bench-faults.sh).
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
# Rate limits stay on (one Redis round trip per request) but never refuse.
export APP_RL_DEFAULT_LIMIT=1000000000
# The AI rows (scripts/bench-ai.sh) need the fake LLM server, and more
# generations a minute than the ai rate limit allows one user.
export FAKE_LLM=1 APP_RL_AI_LIMIT=1000000 APP_LLM_BUILTIN_PACE_MS=0
TENANT=org_bench
PUSH_N=${BENCH_PUSH_CONNECTIONS:-10000}
PUSH_PROXIED=${BENCH_PUSH_PROXIED:-1000}
PUSH_EVENTS=${BENCH_PUSH_EVENTS:-20}
# One descriptor per subscriber, in the load tool and in the broadcaster
# (the machine caps a process at its hard limit, 20,000 here).
ulimit -n "$(ulimit -Hn)"
export APP_PUSH_MAX_CLIENTS=$((PUSH_N + PUSH_PROXIED + 100))

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
# The bench user's profile, for GET /api/jobs?sort=match: a backend
# freelancer whose skills overlap two of the generator's twelve topics.
curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$PORT/api/me" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"name": "Bea Bench", "title": "Backend and DevOps engineer",
    "skills": ["postgresql", "node.js", "typescript", "api development", "docker", "aws", "linux", "terraform"],
    "hourlyRateMin": 55, "hourlyRateTarget": 80, "matchThreshold": 70, "tone": "professional",
    "portfolio": [{"title": "Multi-tenant API", "skills": ["postgresql", "node.js"]}]}'

RT_DIR=$(scripts/stack.sh env | sed -n 's/^RT=//p')
BUILD_DIR=$(scripts/stack.sh env | sed -n 's/^BIN=//p')
URL=http://127.0.0.1:$PORT

# Latency in wrk's units to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.2f", n }'
}

# run NAME CONNS PATH... : one wrk run; appends a row to ROWS.  HDR, when
# set, is one more request header.
ROWS=()
HDR=
run() {
	local name=$1 conns=$2 out rps p50 p99 non2xx
	shift 2
	# A latency run must not start behind the requests a busier run left
	# queued in the workers (they finish after wrk stops): let them drain.
	[ "$conns" != 1 ] || sleep 2
	out=$(wrk -t "$((conns < 2 ? 1 : 2))" -c "$conns" -d "${SECS}s" --latency -H "Authorization: Bearer $TOKEN" \
	    ${HDR:+-H "$HDR"} -s scripts/bench/paths.lua "$URL" -- "$@")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
	p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
	non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
	ROWS+=("$name|$conns|$rps|$p50|$p99|${non2xx:-0}")
}

SKILLS=(postgresql react python aws figma shopify "node.js" docker)
JOB_PATHS=()
for s in "${SKILLS[@]}"; do JOB_PATHS+=("/api/jobs?skills=$s&limit=20"); done

# Restart the workers with other APP_* settings (the environment wins).
workers_with() {
	env "$@" scripts/stack.sh restart-workers >/dev/null
	SECS=1 run warmup 8 "${JOB_PATHS[@]}"
	unset 'ROWS[${#ROWS[@]}-1]'
}

echo "bench: warming up" >&2
SECS=2 run warmup 8 "${JOB_PATHS[@]}"
ROWS=()
run "(a) trivial FastCGI responder" "$CONNS" /bench/trivial
run "(b) GET /api/health" "$CONNS" /api/health
HDR="Cache-Control: no-cache"
run "(c) GET /api/jobs?skills=<one of 8>, uncached" "$CONNS" "${JOB_PATHS[@]}"
run "(c) same, one connection (latency)" 1 "${JOB_PATHS[@]}"
HDR=
run "(d) same, cache HIT-L1, rate limit on" "$CONNS" "${JOB_PATHS[@]}"
workers_with APP_CACHE_L1_TTL_MS=0
run "(e) same, cache HIT-L2, rate limit on" "$CONNS" "${JOB_PATHS[@]}"
workers_with APP_CACHE_L1_TTL_MS=0 APP_RL_ENABLED=0
run "(f) same, cache HIT-L2, rate limit off" "$CONNS" "${JOB_PATHS[@]}"
workers_with APP_RL_ENABLED=0
run "(g) same, cache HIT-L1, rate limit off" "$CONNS" "${JOB_PATHS[@]}"
# Without Redis (docs/no-redis.md): the same L1 hits, the rate limit
# decided in PostgreSQL instead (rl_hit(), one statement a request, the
# one bench user's row locked by each: the worst case, every request on
# one row).
workers_with APP_REDIS_HOST= APP_REDIS_SOCKET=
run "(o) same, HIT-L1, no Redis: rate limit in PG" "$CONNS" "${JOB_PATHS[@]}"
workers_with APP_REDIS_HOST= APP_REDIS_SOCKET= APP_RL_ENABLED=0
run "(o) same, HIT-L1, no Redis, rate limit off" "$CONNS" "${JOB_PATHS[@]}"
# The alternative to leasing: one EVALSHA per request (rl_lease_max 1).
workers_with APP_RL_LEASE_MAX=1
run "(g1) same, HIT-L1, rate limit on, no leases" "$CONNS" "${JOB_PATHS[@]}"
workers_with

# GET /api/jobs?sort=match: the 30-day window (about 6,000 of the 100,000
# jobs) ranked for the bench user, uncached; pages 1-4.  Measured here,
# before the broadcaster's 10,000 connections come and go; listed last.
MATCH_PATHS=()
for p in 1 2 3 4; do MATCH_PATHS+=("/api/jobs?sort=match&limit=20&page=$p"); done
HDR="Cache-Control: no-cache"
run "(n) GET /api/jobs?sort=match, uncached" "$CONNS" "${MATCH_PATHS[@]}"
run "(n) same, one connection (latency)" 1 "${MATCH_PATHS[@]}"
HDR=
MATCH_ROWS=("${ROWS[@]: -2}")
unset 'ROWS[${#ROWS[@]}-1]'
unset 'ROWS[${#ROWS[@]}-1]'

# The rate-limit script alone, at the same concurrency, from redis-benchmark.
REDIS_SOCK=$RT_DIR/run/redis/redis.sock
export REDISCLI_AUTH
REDISCLI_AUTH=$(cat "$RT_DIR/secrets/redis.password")
sha=$(redis-cli -s "$REDIS_SOCK" SCRIPT LOAD "$("$BUILD_DIR"/tools/ratelimit --script)")
rb=$(redis-benchmark -s "$REDIS_SOCK" -a "$REDISCLI_AUTH" -c "$CONNS" -n $((SECS * 40000)) -q \
    EVALSHA "$sha" 1 "rl:{bench:x}" 1000000000 60000 2>/dev/null | tr '\r' '\n' | grep -a 'requests per second' | tail -n 1)
rb_rps=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/ && $(i+1) == "requests") print $i }' <<<"$rb")
rb_p50=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "p50=") print $(i+1) }' <<<"$rb" | tr -d 'msec')
ROWS+=("(h) EVALSHA of the rate-limit script, redis-benchmark|$CONNS|${rb_rps:-0}|${rb_p50:-?}|?|0")

# push NAME PORT N [push_bench options]: push_bench against a freshly
# started broadcaster; appends the fan-out row (deliveries/s over the
# slowest event, p50 and p99 from publish to delivery, deliveries lost)
# and sets RSS_ROW (the RSS growth per idle client, all in, and from half
# to all clients: the cost of one more, without what the process pays
# once).  Past ~9,000 connections the load goes straight to the
# broadcaster's port: a proxy holds two descriptors per WebSocket.
push() {
	local name=$1 port=$2 n=$3 out rt pid p50 p99 max lost rate
	shift 3
	scripts/stack.sh push-stop
	scripts/stack.sh push-start
	rt=$(scripts/stack.sh env | sed -n 's/^RT=//p')
	pid=$(cat "$rt/run/push/push.pid")
	out=$(PUSH_BENCH_TOKEN=$TOKEN APP_CONFIG=$rt/app.conf build/release/tools/push_bench \
	    --port "$port" --connections "$n" --events "$PUSH_EVENTS" --tenant "$TENANT" --pid "$pid" "$@")
	PUSH_OUT=$out
	echo "$out" | sed 's/^/bench: push: /' >&2
	p50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$out")
	p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$out")
	max=$(sed -n 's/.*max_ms=\([0-9.]*\).*/\1/p' <<<"$out")
	lost=$(awk '/deliveries=/ { split($2, d, "="); split($3, e, "="); print e[2] - d[2] }' <<<"$out")
	rate=$(awk -v n="$n" -v m="${max:-0}" 'BEGIN { printf "%.0f", (m > 0 ? n / m * 1000 : 0) }')
	ROWS+=("$name|$n|$rate|${p50:--}|${p99:--}|${lost:--}")
	RSS_ROW=$(awk '/per_conn_bytes=/ { split($3, b, "="); split($4, m, "="); printf "%s B (%s)|", b[2], m[2] }' <<<"$out")
}
PUSH_PORT=$(scripts/stack.sh env | sed -n 's/^PUSH_PORT=//p')
echo "bench: broadcaster: $PUSH_PROXIED subscribers through $WEB, then $PUSH_N on its own port" >&2
push "(i) fan-out, 1 event to all, through $WEB" "$PORT" "$PUSH_PROXIED"
WS_PROXIED_RSS=$RSS_ROW
push "(i) fan-out, 1 event to all, direct" "$PUSH_PORT" "$PUSH_N"
ROWS+=("(j) broadcaster RSS per idle connection|$PUSH_N|${RSS_ROW%|}|-|-|-")
# The alternative to the send threads: the loop's thread writes alone.
direct_out=$PUSH_OUT
APP_PUSH_SEND_THREADS=1 push "(i) same, direct, one send thread" "$PUSH_PORT" "$PUSH_N"
PUSH_OUT=$direct_out

# The seed design's own stack on Node, measured now with the same
# settings; its table (ours, the seed's, the ratio) follows ours.
. scripts/bench-seed.sh

# Long-polling (Engine.IO's polling transport, push/poll.c): the same
# fan-out to BENCH_PUSH_POLLING (1,000) polling sessions, each holding a
# GET, and their idle memory beside the WebSockets' at the same count.
# Through lighttpd; Apache ties a worker thread to each waiting GET (256
# here), so with WEB=apache the sessions go to the broadcaster's port.
PUSH_POLL_N=${BENCH_PUSH_POLLING:-1000}
if [ "$WEB" = lighttpd ]; then poll_port=$PORT poll_via=$WEB; else poll_port=$PUSH_PORT poll_via=direct; fi
echo "bench: broadcaster: $PUSH_POLL_N long-polling sessions, $poll_via" >&2
push "(i) fan-out over long-polling, $poll_via" "$poll_port" "$PUSH_POLL_N" --polling
ROWS+=("(j) RSS per idle polling session|$PUSH_POLL_N|${RSS_ROW%|}|-|-|-")
if [ "$PUSH_POLL_N" = "$PUSH_PROXIED" ] && [ "$poll_via" = "$WEB" ]; then
	ROWS+=("(j) RSS per idle WebSocket, same count|$PUSH_PROXIED|${WS_PROXIED_RSS%|}|-|-|-")
fi

. scripts/bench-ai.sh
ROWS+=("${MATCH_ROWS[@]}")

# Rows (a)-(g), (k), (m), (n): wrk, req/s and non-2xx; (h):
# redis-benchmark; (i): deliveries/s and lost deliveries, p50/p99 from
# publish to delivery; (j): bytes per connection; (l): streams/s,
# p50/p99 to the first event.
base=$(cut -d'|' -f3 <<<"${ROWS[0]}")
printf '\n%-46s %6s %10s %9s %9s %8s %7s\n' scenario conns "req/s" "p50 ms" "p99 ms" "vs (a)" "non-2xx"
for row in "${ROWS[@]}"; do
	IFS='|' read -r name conns rps p50 p99 bad <<<"$row"
	if [[ $rps =~ ^[0-9.]+$ ]] && [[ $name != "("[hijl]")"* ]]; then
		printf '%-46s %6s %10.0f %9s %9s %8.3f %7s\n' "$name" "$conns" "$rps" "$p50" "$p99" \
		    "$(awk -v a="$rps" -v b="$base" 'BEGIN { print a / b }')" "$bad"
	else
		printf '%-46s %6s %10s %9s %9s %8s %7s\n' "$name" "$conns" "$rps" "$p50" "$p99" - "$bad"
	fi
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "?" }'; }
col() { cut -d'|' -f3 <<<"${ROWS[$1]}"; }
printf '\ncache HIT-L1 / trivial: %s (target >= 0.8)    cache HIT-L2 / trivial: %s\n' \
    "$(ratio "$(col 4)" "$(col 0)")" "$(ratio "$(col 5)" "$(col 0)")"
printf 'rate limit cost on L1 hits: %s of req/s; on L2 hits: %s (target <= 0.15); one EVALSHA per lease (rl_lease_max);\n' \
    "$(awk -v on="$(col 4)" -v off="$(col 7)" 'BEGIN { printf "%.3f", 1 - on / off }')" \
    "$(awk -v on="$(col 5)" -v off="$(col 6)" 'BEGIN { printf "%.3f", 1 - on / off }')"
printf '    without leases (g1), one EVALSHA per request: %s on L1 hits\n' \
    "$(awk -v on="$(col 10)" -v off="$(col 7)" 'BEGIN { printf "%.3f", 1 - on / off }')"
printf 'rate limit in PostgreSQL (no Redis) on L1 hits: %s req/s against %s in Redis; its cost: %s of req/s (Redis: %s)\n' \
    "$(col 8 | cut -d. -f1)" "$(col 4 | cut -d. -f1)" \
    "$(awk -v on="$(col 8)" -v off="$(col 9)" 'BEGIN { printf "%.3f", 1 - on / off }')" \
    "$(awk -v on="$(col 4)" -v off="$(col 7)" 'BEGIN { printf "%.3f", 1 - on / off }')"
printf '(i) req/s: deliveries per second over the slowest event, non-2xx: deliveries lost;\n'
printf '(j) req/s: the broadcaster'"'"'s RSS growth per idle subscribed client, all in (and from half to all:\n'
printf '    one more client'"'"'s cost); target 4 KiB; a polling session should cost what a WebSocket does\n'
printf '(n) target: p99 <= 25 ms at one connection (the window ranked and paged in two round trips)\n'
printf '\n%s, %s cores, %s workers per endpoint, %s s per scenario, %s jobs in %s\n' \
    "$WEB" "$(nproc)" "$WORKERS" "$SECS" "$(scripts/stack.sh psql -d upwork -tA -c "SELECT count(*) FROM jobs WHERE tenant_id = '$TENANT'")" "$TENANT"
seed_print

# Faults under load (scripts/bench-faults.sh) on this stack: a worker
# killed, PostgreSQL, Redis and the broadcaster restarted; BENCH_FAULTS=0
# skips them.
if [ "${BENCH_FAULTS:-1}" != 0 ]; then
	echo "bench: faults under load" >&2
	FAULTS_STACK_UP=1 scripts/bench-faults.sh
fi

# Plain CGI against FastCGI and the PostgreSQL connection each CGI
# request opens (rows (q) and (r)), on a stack of its own; BENCH_CGI=0
# skips them.
[ "${BENCH_CGI:-1}" = 0 ] || scripts/bench-cgi.sh
