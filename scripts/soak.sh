#!/bin/bash
# soak.sh: make soak: SOAK_SECONDS (600) of mixed traffic against a stack of its own (lists cached and not, writes, saved searches, proposals, event streams and Socket.IO clients, published events), then the RSS of every worker and of the broadcaster at the start and the end; growth past SOAK_GROWTH_KB fails.
#
# Environment: SOAK_SECONDS (600), SOAK_CONNECTIONS (4: wrk's),
# SOAK_PUSH_CLIENTS (200), SOAK_GROWTH_KB (2048: the RSS growth allowed
# per process once warm), VAR (./var; the stack lives in VAR/soak), WEB.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SOAK_SECONDS:-600}
CONNS=${SOAK_CONNECTIONS:-4}
NPUSH=${SOAK_PUSH_CLIENTS:-200}
GROWTH_KB=${SOAK_GROWTH_KB:-2048}
TENANT=org_soak
free_port() {
	perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0) or die; print $s->sockport'
}
export VAR=${SOAK_VAR:-${VAR:-./var}/soak} PORT=${SOAK_PORT:-$(free_port)}
export WORKERS=${SOAK_WORKERS:-2} AI_WORKERS=2 APP_RL_DEFAULT_LIMIT=1000000000 APP_RL_AI_LIMIT=1000000000 APP_LLM_BUILTIN_PACE_MS=0
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"; scripts/stack.sh stop >/dev/null 2>&1 || true' EXIT
echo "soak: starting a stack on port $PORT in $VAR" >&2
scripts/stack.sh start >/dev/null
ulimit -n "$(ulimit -Hn)"
eval "$(scripts/stack.sh env | grep -E '^(RT|PUSH_PORT)=')"
URL=http://127.0.0.1:$PORT
have=$(scripts/stack.sh psql -d upwork -tA -c "SELECT count(*) FROM jobs WHERE tenant_id = '$TENANT'")
[ "$have" -ge 2000 ] || scripts/gen-jobs.sh "$TENANT" $((2000 - have)) "$have" >/dev/null
TOKEN=$(scripts/stack.sh token user_soak "$TENANT")

# Every worker (the children of each program's supervisor) and the
# broadcaster: "name pid rss_kb" lines.
rss() {
	local f sup name pid
	for f in "$RT"/run/fcgi-*.pid; do
		name=${f##*/fcgi-}; name=${name%.pid}
		sup=$(cat "$f")
		for pid in $(pgrep -P "$sup"); do
			echo "$name $pid $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)"
		done
	done
	pid=$(cat "$RT/run/push/push.pid")
	echo "broadcaster $pid $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")"
}

# The mixed traffic: wrk on a rotation of read routes (cached, uncached,
# ranked), a writer (saved searches, created and deleted), proposals,
# subscribers on both transports and a publisher.
cat >"$TMP/mix.lua" <<'LUA'
local paths = { "/api/jobs?limit=20", "/api/jobs?sort=match&limit=10", "/api/jobs?skills=c,postgresql&minBudget=30",
  "/api/jobs?q=api&page=2", "/api/job-searches", "/api/me", "/api/health", "/api/proposals?limit=5" }
local i, auth = 0, nil
function init(args) auth = "Bearer " .. args[1] end
function request()
  i = i + 1
  local h = { ["Authorization"] = auth }
  if i % 3 == 0 then h["Cache-Control"] = "no-cache" end
  return wrk.format("GET", paths[(i % #paths) + 1], h)
end
LUA
warm() {
	# A pass of everything, so that the start figures are warm (L1
	# filled, statements prepared, libraries loaded, each worker of the
	# AI programs having served).
	wrk -t 1 -c "$CONNS" -d 10s -s "$TMP/mix.lua" "$URL" -- "$TOKEN" >/dev/null 2>&1
	writer 20
}
writer() {
	local end=$((SECONDS + $1)) n=0 id job
	job=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$URL/api/jobs?limit=1" | sed -E 's/^.*"data":\[\{"id":"([^"]+)".*$/\1/')
	while [ $SECONDS -lt $end ]; do
		n=$((n + 1))
		id=$(curl -sS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		    -d "{\"name\":\"soak $n\",\"skills\":[\"c\"],\"notify\":false}" "$URL/api/jobs" |
		    sed -nE 's/^.*"data":\{"id":"([^"]+)".*$/\1/p')
		[ -z "$id" ] || curl -sS -o /dev/null -X DELETE -H "Authorization: Bearer $TOKEN" "$URL/api/job-searches/$id"
		if [ $((n % 10)) = 1 ]; then
			curl -sS -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
			    -d "{\"jobId\":\"$job\",\"maxWords\":80,\"alternatives\":0}" "$URL/api/ai/proposals/generate"
			curl -s -o /dev/null -N --max-time 5 -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
			    -d "{\"jobId\":\"$job\",\"maxWords\":60,\"alternatives\":0}" "$URL/api/ai/proposals/stream"
			scripts/stack.sh publish "$TENANT" "" job:new "{\"soak\":$n}" >/dev/null 2>&1 || true
		fi
	done
	echo "$n" >"$TMP/writes"
}
streams() {
	# Event streams that come and go: each held 5 s.
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do
		curl -s -N -o /dev/null --max-time 5 -H "Authorization: Bearer $TOKEN" "$URL/api/events" || true
	done
}

# The subscribers first: the start figure includes them.
coproc PUSHC { node scripts/bench/faults-push.js "http://127.0.0.1:$PUSH_PORT" "$TOKEN" "$NPUSH" 2>&1; }
echo 'ready?' >&"${PUSHC[1]}"
read -r -t 90 line <&"${PUSHC[0]}" || line='READY connected=0'
echo "soak: $line" >&2
warm
rss >"$TMP/start"
echo "soak: $SECS s of mixed traffic ($CONNS wrk connections, $NPUSH Socket.IO clients)" >&2
wrk -t 2 -c "$CONNS" -d "${SECS}s" -s "$TMP/mix.lua" "$URL" -- "$TOKEN" >"$TMP/wrk" 2>&1 &
writer "$SECS" &
streams "$SECS" &
wait $(jobs -p | grep -v "^${PUSHC_PID:-x}$") 2>/dev/null || true
echo quit >&"${PUSHC[1]}" 2>/dev/null || true
sleep 2
rss >"$TMP/end"

status=0
printf '\n%-24s %8s %12s %12s %10s\n' process pid "start KiB" "end KiB" "growth"
while read -r name pid start; do
	end=$(awk -v p="$pid" '$2 == p { print $3 }' "$TMP/end")
	if [ -z "$end" ]; then
		printf '%-24s %8s %12s %12s %10s\n' "$name" "$pid" "$start" "(gone)" "-"
		continue
	fi
	grow=$((end - start))
	flag=
	if [ "$grow" -gt "$GROWTH_KB" ]; then flag=" LEAK?"; status=1; fi
	printf '%-24s %8s %12s %12s %10s%s\n' "$name" "$pid" "$start" "$end" "$grow" "$flag"
done <"$TMP/start"
req=$(awk '/requests in/ { print $1 }' "$TMP/wrk")
printf '\n%s s: %s reads (wrk, %s connections; non-2xx: %s), %s write rounds, %s Socket.IO clients, event streams opened every 5 s\n' \
    "$SECS" "${req:-?}" "$CONNS" "$(awk '/Non-2xx/ { print $NF }' "$TMP/wrk" | grep . || echo 0)" "$(cat "$TMP/writes" 2>/dev/null || echo ?)" "$NPUSH"
[ $status = 0 ] || echo "soak: RSS grew past $GROWTH_KB KiB in a process (above): a leak to find" >&2
exit $status
