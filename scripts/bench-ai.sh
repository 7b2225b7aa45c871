#!/bin/bash
# bench-ai.sh: the AI rows of make bench: builtin generation, time to the first SSE event through lighttpd and Apache, client research cached.
#
# Sourced by scripts/bench.sh once its stack runs (with FAKE_LLM=1 and the
# ai rate limit lifted); uses its run(), ROWS, URL, TOKEN and TENANT.
# BENCH_SSE_RUNS (30) streams are timed per web server, one at a time.

ai_setup() {
	# The freelancer, a tenant on the fake provider, and no drafts from earlier runs.
	scripts/stack.sh psql -d upwork -q <<SQL >/dev/null
DELETE FROM proposals WHERE tenant_id IN ('$TENANT', '${TENANT}_ai');
DELETE FROM ai_usage WHERE tenant_id IN ('$TENANT', '${TENANT}_ai');
INSERT INTO users (tenant_id, id, name, title, skills, hourly_rate, bio)
VALUES ('$TENANT', 'user_bench', 'Bea Bench', 'Full-stack developer',
        '{postgresql,react,python,node.js,aws,docker}', 75, 'I ship web products end to end.')
ON CONFLICT (tenant_id, id) DO NOTHING;
INSERT INTO tenants (id, kind, ai_provider) VALUES ('${TENANT}_ai', 'org', 'openai')
ON CONFLICT (id) DO UPDATE SET ai_provider = 'openai';
INSERT INTO jobs (tenant_id, upwork_id, title, description, skills, budget_type, budget_min, budget_max, posted_at)
VALUES ('${TENANT}_ai', 'sse-1', 'Build a REST API', 'Node.js and PostgreSQL.', '{node.js,postgresql}',
        'hourly', 40, 80, now())
ON CONFLICT (tenant_id, upwork_id) DO NOTHING;
SQL
	AI_JOBS=()
	local id
	for id in $(scripts/stack.sh psql -d upwork -tA -c \
	    "SELECT id FROM jobs WHERE tenant_id = '$TENANT' AND client_id IS NOT NULL ORDER BY posted_at DESC LIMIT 8"); do
		AI_JOBS+=("{\"jobId\":\"$id\",\"maxWords\":250,\"alternatives\":2}")
	done
	SSE_JOB=$(scripts/stack.sh psql -d upwork -tA -c "SELECT id FROM jobs WHERE tenant_id = '${TENANT}_ai'")
	SSE_TOKEN=$(scripts/stack.sh token user_bench "${TENANT}_ai")
	CLIENT=$(scripts/stack.sh psql -d upwork -tA -c "SELECT id FROM clients WHERE tenant_id = '$TENANT' LIMIT 1")
}

# run_post NAME CONNS PATH BODY...: like run(), POSTing the bodies in turn.
run_post() {
	local name=$1 conns=$2 path=$3 out rps p50 p99 non2xx
	shift 3
	out=$(wrk -t "$((conns < 2 ? 1 : 2))" -c "$conns" -d "${SECS}s" --latency -H "Authorization: Bearer $TOKEN" \
	    -s scripts/bench/post.lua "$URL$path" -- "$@")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
	p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
	non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
	ROWS+=("$name|$conns|$rps|$p50|$p99|${non2xx:-0}")
}

# sse_ttfb NAME: BENCH_SSE_RUNS streams one after another; the row's
# p50/p99 are the times to the first byte of the body (the first event),
# its req/s the streams completed per second.
sse_ttfb() {
	local name=$1 runs=${BENCH_SSE_RUNS:-30} i t0 t1 out bad=0 times=()
	t0=$(date +%s.%N)
	for i in $(seq 1 "$runs"); do
		out=$(curl -s -o /dev/null -w '%{http_code} %{time_starttransfer}' -N -X POST \
		    -H "Authorization: Bearer $SSE_TOKEN" -H 'Content-Type: application/json' \
		    -d "{\"jobId\":\"$SSE_JOB\",\"alternatives\":0}" "$URL/api/ai/proposals/stream")
		[ "${out%% *}" = 200 ] || bad=$((bad + 1))
		times+=("${out#* }")
	done
	t1=$(date +%s.%N)
	ROWS+=("$(printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" -v n="$runs" -v bad="$bad" \
	    -v secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" '
		{ t[NR] = $1 * 1000 }
		END { printf "%s|1|%.1f|%.2f|%.2f|%d", name, n / secs, t[int((NR + 1) / 2)], t[NR - int(NR / 100)], bad }')")
}

ai_setup
run_post "(k) POST generate, builtin, 2 alternatives" "$CONNS" /api/ai/proposals/generate "${AI_JOBS[@]}"
sse_ttfb "(l) stream: first event (p50/p99), $WEB"
other=$([ "$WEB" = lighttpd ] && echo apache || echo lighttpd)
WEB=$other scripts/stack.sh start >/dev/null 2>&1
sse_ttfb "(l) stream: first event (p50/p99), $other"
scripts/stack.sh start >/dev/null 2>&1		# back to $WEB
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/api/clients/$CLIENT/research"
run "(m) GET client research, cache hit" "$CONNS" "/api/clients/$CLIENT/research"
