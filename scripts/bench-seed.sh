#!/bin/bash
# bench-seed.sh: the peer rows of make bench: the seed design's own stack on Node (scripts/bench/seed) measured beside ours in the same run, with the same wrk settings, and the ratios.
#
# Sourced by scripts/bench.sh once its broadcaster rows are measured;
# uses its run(), free_port(), ROWS, HDR, URL, TOKEN, TENANT, JOB_PATHS,
# CONNS, SECS, PUSH_N, PUSH_EVENTS, RT_DIR and PUSH_OUT (push_bench's
# output for our broadcaster at PUSH_N subscribers).  Defines
# seed_print, which bench.sh calls after its own table.
#
# The peer reads the bench stack's PostgreSQL as upwork_app (the same
# tables, row-level security included), its Redis, and its JWT key; it
# listens on a free port of its own and is stopped when this block ends,
# or by the EXIT trap if the bench dies first.  Its log:
# $RT_DIR/log/seed.log.  BENCH_SEED=0 skips it; BENCH_SEED_WORKERS sets
# its cluster size (default: one per core, as the design runs);
# BENCH_SEED_SQL=plain has it send the SQL one would write from the
# design (skills && $1, a plain count) instead of our statements.

SEED_DIR=$ROOT/scripts/bench/seed
SEED_LOG=$RT_DIR/log/seed.log
SEED_PID=
SEED_PORT=
SEED_SKIP=
SEED_LOAD=
# Our row (i) direct, kept now: the long-polling rows run push() again before seed_print.
OURS_PUSH_OUT=${PUSH_OUT:-}

# npm ci when node_modules is missing or was installed from another lockfile.
seed_install() {
	cmp -s "$SEED_DIR/package-lock.json" "$SEED_DIR/node_modules/.upw-lockfile" && return 0
	command -v npm >/dev/null || { SEED_SKIP="npm is not installed"; return 1; }
	echo "bench: npm ci in scripts/bench/seed (the seed peer's packages)" >&2
	if ! (cd "$SEED_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2); then
		SEED_SKIP="npm ci in scripts/bench/seed failed"
		return 1
	fi
	cp "$SEED_DIR/package-lock.json" "$SEED_DIR/node_modules/.upw-lockfile"
}

seed_conf() {
	sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" "$RT_DIR/app.conf" | tail -n 1
}

# seed_start CACHE [SQL]: the peer on a free port, getJobs cached (1) or
# not (0), sending SQL's statements (default BENCH_SEED_SQL, else ours);
# returns once it answers GET /api/jobs with 200.
seed_start() {
	local cache=$1 sql=${2:-${BENCH_SEED_SQL:-ours}} conninfo alg keyfile i
	conninfo=$(seed_conf db_conninfo)
	seed_conninfo() { tr ' ' '\n' <<<"$conninfo" | sed -n "s/^$1=//p"; }
	alg=$(seed_conf jwt_alg)
	if [ "$alg" = RS256 ]; then
		keyfile=$(seed_conf jwt_jwks_file)
		[ -n "$keyfile" ] || keyfile=$(seed_conf jwt_public_key_file)
	else
		keyfile=$(seed_conf jwt_secret_file)
	fi
	SEED_PORT=$(free_port)
	env PGHOST="$(seed_conninfo host)" PGPORT="$(seed_conninfo port)" PGDATABASE="$(seed_conninfo dbname)" \
	    PGUSER="$(seed_conninfo user)" PGPASSWORD="$(seed_conninfo password)" REDIS_URL="$(seed_conf redis_socket)" \
	    REDIS_PASSWORD="$(cat "$(seed_conf redis_password_file)" 2>/dev/null || true)" \
	    SEED_JWT_ALG="$alg" SEED_JWT_KEY_FILE="$keyfile" SEED_JWT_ISSUER="$(seed_conf jwt_issuer)" \
	    SEED_JWT_AUDIENCE="$(seed_conf jwt_audience)" SEED_PORT="$SEED_PORT" SEED_CACHE="$cache" \
	    SEED_RL_DEFAULT_LIMIT="$APP_RL_DEFAULT_LIMIT" SEED_WORKERS="${BENCH_SEED_WORKERS:-}" \
	    SEED_SQL="$sql" \
	    node "$SEED_DIR/src/server.js" </dev/null >>"$SEED_LOG" 2>&1 &
	SEED_PID=$!
	for i in $(seq 1 150); do
		curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" \
		    "http://127.0.0.1:$SEED_PORT/api/jobs?limit=1" 2>/dev/null && return 0
		kill -0 "$SEED_PID" 2>/dev/null || break
		sleep 0.2
	done
	SEED_SKIP="the seed peer did not come up (see $SEED_LOG)"
	return 1
}

# The peer must answer what ours answers: the same page of jobs, field
# for field (ours adds each job's match score), and the same pagination.
seed_same_answer() {
	local path="/api/jobs?skills=react,docker&minBudget=500&limit=20&page=3"
	curl -fsS -o "$RT_DIR/seed-ours.json" -H "Authorization: Bearer $TOKEN" -H "Cache-Control: no-cache" "$URL$path" &&
	    curl -fsS -o "$RT_DIR/seed-peer.json" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$SEED_PORT$path" &&
	    node -e '
		const fs = require("fs");
		const [ours, seed] = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
		for (const j of ours.data) delete j.match;
		const a = JSON.stringify(ours), b = JSON.stringify(seed);
		if (a !== b || ours.data.length === 0) {
			console.error("bench: the peer answers otherwise:\nours: " + a.slice(0, 300) + "\nseed: " + b.slice(0, 300));
			process.exit(1);
		}' "$RT_DIR/seed-ours.json" "$RT_DIR/seed-peer.json"
	local rc=$?
	rm -f "$RT_DIR/seed-ours.json" "$RT_DIR/seed-peer.json"
	[ $rc = 0 ] || SEED_SKIP="the seed peer's answer differs from ours (GET $path)"
	return $rc
}

# The primary stops its workers on SIGTERM; a worker whose primary is gone exits too.
seed_stop() {
	local i
	[ -n "$SEED_PID" ] || return 0
	kill -TERM "$SEED_PID" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$SEED_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$SEED_PID" 2>/dev/null || true
	wait "$SEED_PID" 2>/dev/null || true
	SEED_PID=
}

# seed_run NAME CONNS PATH...: run() against the peer; prints the row.
seed_run() {
	local url=$URL
	URL=http://127.0.0.1:$SEED_PORT
	run "$@"
	URL=$url
	printf '%s\n' "${ROWS[${#ROWS[@]}-1]}"
	unset 'ROWS[${#ROWS[@]}-1]'
}

# The four stages, each in a freshly started peer, as bench.sh measures
# ours: uncached at CONNS and at one connection, cached, then the fan-out.
# seed_uncached SQL VAR VAR1: a peer sending SQL's statements, uncached,
# checked to answer as ours does; its rows at CONNS and at one
# connection into VAR and VAR1.
seed_uncached() {
	local hdr=$HDR row row1
	seed_start 0 "$1" || return 1
	seed_same_answer || return 1
	SECS=2 seed_run warmup 8 "${JOB_PATHS[@]}" >/dev/null
	# The header changes nothing for the peer (the design has no bypass), kept for identical requests.
	HDR="Cache-Control: no-cache"
	row=$(seed_run uncached "$CONNS" "${JOB_PATHS[@]}")
	row1=$(seed_run uncached1 1 "${JOB_PATHS[@]}")
	HDR=$hdr
	seed_stop
	printf -v "$2" '%s' "$row"
	printf -v "$3" '%s' "$row1"
}

seed_measure() {
	local out
	seed_install || return 1
	: >"$SEED_LOG"
	echo "bench: the seed peer: uncached, then cached, then $PUSH_N Socket.IO subscribers" >&2
	seed_uncached "${BENCH_SEED_SQL:-ours}" SEED_UNCACHED SEED_UNCACHED1 || return 1
	# The design's own SQL (skills && the array, a count over the
	# tenant), unless that was the run above: what a user of the seed runs.
	if [ "${BENCH_SEED_SQL:-ours}" != plain ]; then
		seed_uncached plain SEED_PLAIN SEED_PLAIN1 || return 1
	fi
	seed_start 1 || return 1
	SECS=2 seed_run warmup 8 "${JOB_PATHS[@]}" >/dev/null
	SEED_CACHED=$(seed_run cached "$CONNS" "${JOB_PATHS[@]}")
	# The RSS is the primary's and its workers' together.
	out=$(PUSH_BENCH_TOKEN=$TOKEN APP_CONFIG=$RT_DIR/app.conf build/release/tools/push_bench \
	    --port "$SEED_PORT" --connections "$PUSH_N" --events "$PUSH_EVENTS" --tenant "$TENANT" \
	    --pid "$SEED_PID,$(pgrep -d, -P "$SEED_PID")")
	echo "$out" | sed 's/^/bench: seed push: /' >&2
	SEED_PUSH_OUT=$out
	seed_stop
}

if [ "${BENCH_SEED:-1}" = 0 ]; then
	SEED_SKIP="BENCH_SEED=0"
else
	eval "set -- $(trap -p EXIT)"
	seed_trap=${3:-}
	trap "seed_stop; $seed_trap" EXIT
	SEED_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
	seed_measure || { seed_stop; echo "bench: $SEED_SKIP" >&2; }
	SEED_LOAD="$SEED_LOAD -> $(cut -d' ' -f1-3 /proc/loadavg)"
	trap -- "$seed_trap" EXIT
fi

# seed_field ROW N: field N of a ROWS-style row (3 req/s, 4 p50, 5 p99).
seed_field() { cut -d'|' -f"$2" <<<"$1"; }
# seed_ours PREFIX: our row whose name starts with PREFIX.
seed_ours() {
	local row
	for row in "${ROWS[@]}"; do
		[[ $row == "$1"* ]] && { printf '%s\n' "$row"; return 0; }
	done
}
# seed_kv OUTPUT KEY: a key=value of push_bench's output.
seed_kv() { sed -n "s/.*\\b$2=\\([0-9.]*\\).*/\\1/p" <<<"$1" | head -n 1; }

seed_print() {
	local a c c1 d x label ours seed better n
	printf '\nthe seed peer (scripts/bench/seed: Express, jsonwebtoken, ioredis, pg, socket.io; cluster of %s; %s SQL)\n' \
	    "${BENCH_SEED_WORKERS:-$(nproc)}" "${BENCH_SEED_SQL:-ours}"
	if [ -n "$SEED_SKIP" ]; then
		printf 'not measured: %s\n' "$SEED_SKIP"
		return 0
	fi
	a=$(seed_ours "(a)")
	c=$(seed_ours "(c) GET")
	c1=$(seed_ours "(c) same")
	d=$(seed_ours "(d)")
	printf '%-52s %6s %10s %10s %8s\n' scenario conns ours seed "ours x"
	# seed_row LABEL CONNS OURS SEED HIGHER: HIGHER 1 when more is better (req/s), 0 for times.
	seed_row() {
		better=$(awk -v o="$3" -v s="$4" -v h="$5" 'BEGIN {
			if (o !~ /^[0-9.]+$/ || s !~ /^[0-9.]+$/ || o == 0 || s == 0) print "?";
			else printf "%.2f", (h ? o / s : s / o) }')
		if [ "$5" = 1 ]; then
			printf '%-52s %6s %10.0f %10.0f %8s\n' "$1" "$2" "${3:-0}" "${4:-0}" "$better"
		else
			printf '%-52s %6s %10s %10s %8s\n' "$1" "$2" "$3" "$4" "$better"
		fi
	}
	seed_row "(1) GET /api/jobs cached, JWT + rate limit, req/s" "$CONNS" \
	    "$(seed_field "$d" 3)" "$(seed_field "$SEED_CACHED" 3)" 1
	seed_row "(2) GET /api/jobs?skills= uncached, req/s" "$CONNS" \
	    "$(seed_field "$c" 3)" "$(seed_field "$SEED_UNCACHED" 3)" 1
	seed_row "(2) same, one connection, p50 ms" 1 "$(seed_field "$c1" 4)" "$(seed_field "$SEED_UNCACHED1" 4)" 0
	seed_row "(2) same, one connection, p99 ms" 1 "$(seed_field "$c1" 5)" "$(seed_field "$SEED_UNCACHED1" 5)" 0
	if [ -n "${SEED_PLAIN:-}" ]; then
		seed_row "(2p) same, seed with the design's SQL, req/s" "$CONNS" \
		    "$(seed_field "$c" 3)" "$(seed_field "$SEED_PLAIN" 3)" 1
		seed_row "(2p) same, one connection, p50 ms" 1 "$(seed_field "$c1" 4)" "$(seed_field "$SEED_PLAIN1" 4)" 0
		seed_row "(2p) same, one connection, p99 ms" 1 "$(seed_field "$c1" 5)" "$(seed_field "$SEED_PLAIN1" 5)" 0
	fi
	n=$PUSH_N
	for x in p50_ms:"publish to delivery, p50 ms" p99_ms:"publish to delivery, p99 ms" \
	    spread_p50_ms:"first-to-last spread, p50 ms" spread_max_ms:"first-to-last spread, max ms"; do
		label=${x#*:}
		ours=$(seed_kv "$OURS_PUSH_OUT" "${x%%:*}")
		seed=$(seed_kv "${SEED_PUSH_OUT:-}" "${x%%:*}")
		seed_row "(3) fan-out of 1 event, $label" "$n" "${ours:--}" "${seed:--}" 0
	done
	printf '%-52s %6s %10s %10s\n' "(3) deliveries received / expected" "$n" \
	    "$(seed_kv "$OURS_PUSH_OUT" deliveries)/$(seed_kv "$OURS_PUSH_OUT" expected)" \
	    "$(seed_kv "${SEED_PUSH_OUT:-}" deliveries)/$(seed_kv "${SEED_PUSH_OUT:-}" expected)"
	seed_row "(3) RSS growth per idle subscribed connection, B" "$n" \
	    "$(seed_kv "$OURS_PUSH_OUT" per_conn_bytes)" "$(seed_kv "${SEED_PUSH_OUT:-}" per_conn_bytes)" 0
	printf '%-52s %6s %10s\n' "ours: (d) cached / (a) trivial responder" "$CONNS" \
	    "$(awk -v x="$(seed_field "$d" 3)" -v y="$(seed_field "$a" 3)" 'BEGIN { if (y > 0) printf "%.3f", x / y; else print "?" }')"
	printf '%-52s %6s %10s\n' "ceiling: (a) trivial responder / seed cached" "$CONNS" \
	    "$(awk -v x="$(seed_field "$a" 3)" -v y="$(seed_field "$SEED_CACHED" 3)" 'BEGIN { if (y > 0) printf "%.2f", x / y; else print "?" }')"
	printf '"ours x": how many times ours is better (req/s: ours/seed; times: seed/ours).  Issue 16 targets:\n'
	printf '(1) >= 5 and ours/(a) >= 0.8; (2) >= 10, ours p50 <= 5 ms, p99 <= 20 ms; (3) >= 2 on p99 and spread,\n'
	printf 'ours p99 <= 50 ms, spread <= 40 ms.  (2) the peer sends our statements, (2p) the design'"'"'s (the\n'
	printf 'skills array'"'"'s && and a count over the tenant).  The ceiling is what any FastCGI answer\n'
	printf 'behind lighttpd reaches against the seed'"'"'s cached row.  Ours are rows (d), (c) and (i)\n'
	printf 'direct of the table above; the peer ran after row (j), with our stack idle.  Load average\n'
	printf '(1/5/15 min) before and after the peer: %s;\n' "$SEED_LOAD"
	printf 'the cores are shared, so every figure is noisy.\n'
}
