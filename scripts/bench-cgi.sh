#!/bin/bash
# bench-cgi.sh: the CGI rows of make bench: GET /api/health and a cached GET /api/jobs as plain CGI against FastCGI (req/s, the ratio, p50), and what the PostgreSQL connection each CGI request opens costs (peer against scram-sha-256).
#
# Its own stack (the demo data is enough: the rows compare transports,
# not queries), in BENCH_CGI_VAR (VAR/bench-cgi), first MODE=fcgi then
# the same stack restarted MODE=cgi, behind WEB (lighttpd).  Environment:
# BENCH_SECONDS (10 per row), BENCH_CONNECTIONS (32), BENCH_WORKERS (4
# per endpoint), BENCH_PG_CONNECTS (300 connections timed per method),
# BENCH_KEEP=1 leaves the stack running.
set -euo pipefail
cd "$(dirname "$0")/.."
VAR=${VAR:-./var}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
NPG=${BENCH_PG_CONNECTS:-300}
export WORKERS=${BENCH_WORKERS:-4} WEB=${WEB:-lighttpd} MODE=fcgi
export VAR=${BENCH_CGI_VAR:-$VAR/bench-cgi}
# Rate limits stay on (one Redis round trip per request) but never refuse.
export APP_RL_DEFAULT_LIMIT=1000000000
export PORT=${BENCH_CGI_PORT:-$(perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die; print $s->sockport')}
cleanup() { [ "${BENCH_KEEP:-0}" = 1 ] || scripts/stack.sh stop; }
trap cleanup EXIT

echo "bench-cgi: starting a stack on port $PORT ($WEB) in $VAR" >&2
scripts/stack.sh stop >/dev/null 2>&1 || true
scripts/stack.sh start >/dev/null
TOKEN=$(scripts/stack.sh token user_demo org_demo)
URL=http://127.0.0.1:$PORT
eval "$(scripts/stack.sh env | grep -E '^(RT|XBIN)=')"

to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.2f", n }'
}

# row PATH [CONNECTIONS]: one wrk run of SECS at CONNS (or the
# connections given); prints "req/s p50 non-2xx".
row() {
	local out rps p50 bad c=${2:-$CONNS}
	out=$(wrk -t "$((c < 2 ? 1 : 2))" -c "$c" -d "${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "$URL$1")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
	bad=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
	echo "$rps $p50 ${bad:-0}"
}

JOBS='/api/jobs?skills=postgresql&limit=20'
curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL$JOBS"    # the cache filled
echo "bench-cgi: FastCGI ($WORKERS workers per endpoint)" >&2
read -r f_health f_health_p50 f_health_bad < <(row /api/health)
read -r f_jobs f_jobs_p50 f_jobs_bad < <(row "$JOBS")
echo "bench-cgi: plain CGI (MODE=cgi, one process a request)" >&2
MODE=cgi scripts/stack.sh restart >/dev/null
read -r c_health c_health_p50 c_health_bad < <(row /api/health)
read -r c_jobs c_jobs_p50 c_jobs_bad < <(row "$JOBS")
read -r c1_health c1_health_p50 c1_health_bad < <(row /api/health 1)

# A CGI request connects to PostgreSQL afresh: connect, SELECT 1, close,
# as upwork_app with the stack's db_conninfo: over the unix socket by
# peer (the stack's pg_hba.conf maps the app user and root to the role:
# no password exchange), and over TCP by scram-sha-256 (the password).
echo "bench-cgi: $NPG PostgreSQL connections per method" >&2
ci=$(sed -n 's/^db_conninfo[[:space:]]*=[[:space:]]*//p' "$RT/app.conf" | tail -n 1)
read -r _ peer_p50 peer_p99 < <("$XBIN/tools/pgconnect_bench" "$ci" "$NPG")
read -r _ scram_p50 scram_p99 < <("$XBIN/tools/pgconnect_bench" "$ci host=127.0.0.1" "$NPG")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "?" }'; }
printf '\n%-44s %10s %9s %12s %7s\n' "CGI against FastCGI, $WEB" "req/s" "p50 ms" "FastCGI/CGI" "non-2xx"
printf '%-44s %10.0f %9s %12s %7s\n' "(q) GET /api/health, FastCGI" "$f_health" "$f_health_p50" - "$f_health_bad"
printf '%-44s %10.0f %9s %12s %7s\n' "(q) GET /api/health, plain CGI" "$c_health" "$c_health_p50" "$(ratio "$f_health" "$c_health")" "$c_health_bad"
printf '%-44s %10.0f %9s %12s %7s\n' "(q) same, plain CGI, one connection (latency)" "$c1_health" "$c1_health_p50" - "$c1_health_bad"
printf '%-44s %10.0f %9s %12s %7s\n' "(q) GET /api/jobs, cached, FastCGI" "$f_jobs" "$f_jobs_p50" - "$f_jobs_bad"
printf '%-44s %10.0f %9s %12s %7s\n' "(q) GET /api/jobs, cached (L2), plain CGI" "$c_jobs" "$c_jobs_p50" "$(ratio "$f_jobs" "$c_jobs")" "$c_jobs_bad"
printf '\n%-44s %9s %9s\n' "(r) PostgreSQL connect + SELECT 1 + close" "p50 ms" "p99 ms"
printf '%-44s %9s %9s\n' "(r) unix socket, peer (what the stack uses)" "$peer_p50" "$peer_p99"
printf '%-44s %9s %9s\n' "(r) TCP 127.0.0.1, scram-sha-256" "$scram_p50" "$scram_p99"
printf '\n%s, %s cores, %s connections, %s s per row; target FastCGI >= 10x CGI\n' "$WEB" "$(nproc)" "$CONNS" "$SECS"
