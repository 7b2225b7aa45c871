#!/bin/bash
# bench-faults.sh: faults under load: wrk reading /api/jobs and a writer saving searches while (a) a worker is killed -9, (b) PostgreSQL restarts, (c) Redis restarts, (d) the broadcaster restarts under 1,000 Socket.IO clients; prints failed requests, for how long, and whether every 2xx write is in the database.
#
# Standalone (make bench-faults) it starts a stack of its own in
# VAR/faults on a free port and stops it after; scripts/bench.sh calls
# it with its own stack up (FAULTS_STACK_UP=1).  Environment:
# FAULTS_SECONDS (15 per fault; the fault comes after a third of it),
# FAULTS_CONNECTIONS (4: wrk's connections, a moderate closed-loop
# load), FAULTS_PUSH_CLIENTS (1000), FAULTS_DOWN_SECONDS (2: how long
# PostgreSQL and Redis stay down).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FAULTS_SECONDS:-15}
CONNS=${FAULTS_CONNECTIONS:-4}
NPUSH=${FAULTS_PUSH_CLIENTS:-1000}
DOWN=${FAULTS_DOWN_SECONDS:-2}
TENANT=org_faults

free_port() {
	perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die; print $s->sockport'
}
if [ "${FAULTS_STACK_UP:-0}" != 1 ]; then
	export VAR=${FAULTS_VAR:-${VAR:-./var}/faults} PORT=${FAULTS_PORT:-$(free_port)}
	export WORKERS=${FAULTS_WORKERS:-2} APP_RL_DEFAULT_LIMIT=1000000000
	trap 'scripts/stack.sh stop >/dev/null 2>&1 || true' EXIT
	echo "faults: starting a stack on port $PORT in $VAR" >&2
	scripts/stack.sh start >/dev/null
fi
ulimit -n "$(ulimit -Hn)"
eval "$(scripts/stack.sh env | grep -E '^(RT|PUSH_PORT)=')"
URL=http://127.0.0.1:$PORT
have=$(scripts/stack.sh psql -d upwork -tA -c "SELECT count(*) FROM jobs WHERE tenant_id = '$TENANT'")
[ "$have" -ge 1000 ] || scripts/gen-jobs.sh "$TENANT" $((1000 - have)) "$have" >/dev/null
TOKEN=$(scripts/stack.sh token user_faults "$TENANT")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; [ "${FAULTS_STACK_UP:-0}" = 1 ] || scripts/stack.sh stop >/dev/null 2>&1 || true' EXIT

# One value of a "KEY a=1 b=2" line.
field() { sed -n "s/.*[[:space:]]$2=\([-0-9]*\).*/\1/p" <<<"$1" | grep . || echo 0; }

# Every program answers again: as many requests as workers, each 200.
all_back() {
	local i
	for i in $(seq 1 $((${WORKERS:-2} * 3))); do
		curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/api/jobs?limit=1" || return 1
		curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/api/job-searches" || return 1
	done
}

# load NAME FAULT-COMMAND: wrk and the writer for SECS, the fault after
# SECS/3; appends a row.
ROWS=()
load() {
	local name=$1 fault=$2 w out wr t0 total bad errs s503 ra first last wfirst wlast ok sent wbad indb window back
	wrk -t 2 -c "$CONNS" -d "${SECS}s" -s scripts/bench/faults.lua "$URL/api/jobs?limit=5" -- "$TOKEN" \
	    >"$TMP/wrk" 2>&1 &
	w=$!
	perl scripts/bench/faults-writer.pl "$URL" "$TOKEN" "$SECS" "$TMP/ids" "f$RANDOM" >"$TMP/writer" 2>&1 &
	wr=$!
	sleep $((SECS / 3))
	eval "$fault"
	wait $w $wr || true
	out=$(grep '^FAULTS' "$TMP/wrk")
	total=$(field "$out" total) bad=$(field "$out" bad) errs=$(field "$out" errors)
	s503=$(field "$out" s503) ra=$(field "$out" retry_after)
	first=$(field "$out" first_bad) last=$(field "$out" last_bad)
	out=$(grep '^WRITES' "$TMP/writer")
	sent=$(field "$out" sent) ok=$(field "$out" ok) wbad=$(field "$out" bad)
	s503=$((s503 + $(field "$out" s503))) ra=$((ra + $(field "$out" retry_after)))
	wfirst=$(field "$out" first_bad) wlast=$(field "$out" last_bad)
	indb=0
	if [ -s "$TMP/ids" ]; then
		indb=$( { printf "SELECT count(*) FROM job_searches WHERE id IN ("; sed "s/.*/'&'/" "$TMP/ids" | paste -sd, -; printf ");\n"; } |
		    scripts/stack.sh psql -d upwork -tA)
	fi
	window=$(awk -v a="$first" -v b="$last" -v c="$wfirst" -v d="$wlast" 'BEGIN {
		lo = 0; hi = 0
		if (a > 0) { lo = a; hi = b }
		if (c > 0 && (lo == 0 || c < lo)) lo = c
		if (d > hi) hi = d
		printf "%.1f", (lo > 0 ? (hi - lo) / 1000 : 0) }')
	back=no
	for t0 in $(seq 1 50); do all_back && { back=yes; break; }; sleep 0.2; done
	ROWS+=("$name|$((bad + errs))/$total|$(awk -v a=$((bad + errs)) -v b="$total" 'BEGIN { printf "%.3f", b ? 100 * a / b : 0 }')|$s503/$ra|$window|$wbad/$sent|$indb/$ok|$back")
	echo "faults: $name: reads $((bad + errs)) failed of $total ($errs connection errors); writes $wbad failed of $sent; $s503 503s in all, $ra with Retry-After; $indb of $ok 2xx in the database; failures over $window s; all programs answer again: $back" >&2
}

kill_worker() {
	local sup child
	sup=$(cat "$RT/run/fcgi-jobs.pid")
	child=$(pgrep -P "$sup" | head -n 1)
	kill -9 "$child"
}

load "(a) kill -9 a jobs worker" kill_worker
load "(b) restart PostgreSQL (${DOWN} s down)" "scripts/stack.sh pg-stop >/dev/null; sleep $DOWN; scripts/stack.sh pg-start >/dev/null"
load "(c) restart Redis (${DOWN} s down)" "scripts/stack.sh redis-stop >/dev/null; sleep $DOWN; scripts/stack.sh redis-start >/dev/null"

# (d) The broadcaster restarted under NPUSH Socket.IO clients (on its own
# port: the web server is not what is measured), with the read load on.
coproc PUSHC { node scripts/bench/faults-push.js "http://127.0.0.1:$PUSH_PORT" "$TOKEN" "$NPUSH" 2>&1; }
echo 'ready?' >&"${PUSHC[1]}"
read -r -t 90 line <&"${PUSHC[0]}" || line='READY connected=0 ms=-1'
echo "faults: push: $line" >&2
ready=$(field "$line" connected)
restart_push() {
	scripts/stack.sh push-stop >/dev/null
	scripts/stack.sh push-start >/dev/null
	echo restarted >&"${PUSHC[1]}"
}
load "(d) restart the broadcaster, $NPUSH clients" restart_push
read -r -t 90 line <&"${PUSHC[0]}" || line='BACK connected=0 reconnects=0 ms=-1'
echo "faults: push: $line" >&2
scripts/stack.sh publish "$TENANT" "" job:new '{"fault":"d"}' >/dev/null
echo 'received?' >&"${PUSHC[1]}"
read -r -t 30 recv <&"${PUSHC[0]}" || recv='RECEIVED 0'
echo quit >&"${PUSHC[1]}" || true
PUSH_ROW="(d) clients: $ready connected before; $(field "$line" connected) back ($(field "$line" reconnects) reconnects) $(awk -v m="$(field "$line" ms)" 'BEGIN { printf "%.1f", m / 1000 }') s after the restart; an event after it reached ${recv#RECEIVED }"

printf '\n%-42s %14s %8s %12s %9s %10s %12s %6s\n' fault "reads failed" "%" "503/R-After" "window s" "writes bad" "2xx in DB" "back"
for row in "${ROWS[@]}"; do
	IFS='|' read -r name f pct r window wb db back <<<"$row"
	printf '%-42s %14s %8s %12s %9s %10s %12s %6s\n' "$name" "$f" "$pct" "$r" "$window" "$wb" "$db" "$back"
done
printf '%s\n' "$PUSH_ROW"
printf '(reads: wrk, %s connections, GET /api/jobs; writes: POST /api/jobs back to back on one connection; %s s per fault)\n' "$CONNS" "$SECS"
