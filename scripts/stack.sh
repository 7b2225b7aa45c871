#!/bin/bash
# stack.sh: start, stop and inspect one private stack (PostgreSQL, Redis, FastCGI workers, lighttpd or Apache) under VAR.
#
# Usage: scripts/stack.sh start|stop|restart|run|status|check-config
#                         |token SUB [ORG]|psql [args]
#                         |publish TENANT SUB EVENT DATA
#                         |pg-stop|pg-start|redis-stop|redis-start
#                         |push-stop|push-start|restart-workers
#                         |fake-llm-start|fake-llm-stop|env
# Environment: PORT (8080), VAR (./var), WEB (lighttpd|apache),
# MODE (fcgi: spawn-fcgi's workers behind the web server; cgi: plain CGI,
# lighttpd's mod_cgi or Apache's mod_cgid with an .htaccess; fcgid:
# Apache's mod_fcgid with an .htaccess; bin-path: lighttpd spawns the
# FastCGI workers itself; see docs/shared-hosting.md),
# BUILD (build/release), WORKERS (2), AI_WORKERS (8: the AI endpoints,
# busy for a whole generation), WORKERS_<program> (one program's count),
# BENCH (1 adds the benchmark-only routes), FAKE_LLM (1 starts the fake
# OpenAI server of tests/ and points the stack at it), FAKE_JWKS (1
# starts the fake JWKS issuer of tests/ over HTTPS, with a CA generated
# for it, and has RS256 tokens checked against its URL); JWT_ALG
# (HS256|RS256), JWT_ISSUER, JWT_AUDIENCE, TRUSTED_PROXIES, UPWORK_CLIENT_ID
# and UPWORK_URL (another Upwork, such as the tests' fake) are written
# into VAR's app.conf, and UPWORK_CLIENT_SECRET into VAR/secrets, on the
# first start only.  POLL_INTERVAL: seconds between poll-jobs runs under
# `run` (120).  The shared-hosting profile, first start only too:
# REDIS=0 runs no Redis and no broadcaster (app.conf names no Redis:
# PostgreSQL holds rate limits and events, docs/no-redis.md);
# DB_ROLES=single has one database role own everything and the programs
# log in as it, as a hosting panel gives (no upwork_owner, no
# upwork_scheduler; migrate.sh --single-role).
#
# Everything lives under VAR: several stacks with different PORT and VAR
# run side by side.  As root, PostgreSQL runs as the postgres user and
# Redis, the workers and the web server's children as www-data.  When
# those users cannot reach VAR (a checkout under /root, say) or its
# socket paths would be too long, the runtime files live in
# /tmp/upw-<hash of VAR> and VAR/rt points there.
set -euo pipefail

# The settings only a VAR's first start writes (app_conf()): which of
# them the caller gave, to say so when they are ignored.
FIRST_START_VARS="JWT_ALG JWT_ISSUER JWT_AUDIENCE TRUSTED_PROXIES UPWORK_CLIENT_ID UPWORK_CLIENT_SECRET UPWORK_URL"
GIVEN=
for v in $FIRST_START_VARS; do
	[ -z "${!v+set}" ] || GIVEN="$GIVEN $v"
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
VAR=${VAR:-./var}
WEB_GIVEN=${WEB:+1}
WEB=${WEB:-lighttpd}
BUILD=${BUILD:-build/release}
WORKERS=${WORKERS:-2}
JWT_ALG=${JWT_ALG:-HS256}
JWT_ISSUER=${JWT_ISSUER:-}
JWT_AUDIENCE=${JWT_AUDIENCE:-}
TRUSTED_PROXIES=${TRUSTED_PROXIES:-}
BENCH=${BENCH:-0}
AI_WORKERS=${AI_WORKERS:-8}
FAKE_LLM=${FAKE_LLM:-0}
FAKE_JWKS=${FAKE_JWKS:-0}
UPWORK_URL=${UPWORK_URL:-}
UPWORK_CLIENT_ID=${UPWORK_CLIENT_ID:-}
UPWORK_CLIENT_SECRET=${UPWORK_CLIENT_SECRET:-}
POLL_INTERVAL=${POLL_INTERVAL:-120}
REDIS=${REDIS:-1}
DB_ROLES=${DB_ROLES:-two}

case $BUILD in /*) BIN=$BUILD ;; *) BIN=$ROOT/$BUILD ;; esac
mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd)
# The MODE (and, but for fcgi, its WEB) of the running stack, unless
# MODE is given: restart and status keep them; stop forgets them.
if [ -z "${MODE:-}" ]; then
	read -r MODE saved_web 2>/dev/null <"$VAR/rt/run/mode" || read -r MODE saved_web 2>/dev/null <"$VAR/run/mode" || true
	MODE=${MODE:-fcgi}
	[ -n "$WEB_GIVEN" ] || [ "$MODE" = fcgi ] || WEB=${saved_web:-$WEB}
fi
case $MODE/$WEB in
fcgi/*|cgi/*|fcgid/apache|bin-path/lighttpd) ;;
*) printf 'stack: MODE=%s WEB=%s: MODE is fcgi, cgi (lighttpd or apache), fcgid (apache) or bin-path (lighttpd)\n' "$MODE" "$WEB" >&2; exit 1 ;;
esac
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

say() { printf '%s\n' "$*" >&2 || true; }
die() { say "stack: $*"; undo_start; exit 1; }

# What this invocation started, in order (pg, redis, push, fcgi:<program>,
# web, fake-llm): a start that fails stops these again, and only these:
# what ran before it keeps running.
STARTED=()
undo_start() {
	local i what
	[ ${#STARTED[@]} -gt 0 ] || return 0
	what=("${STARTED[@]}")
	STARTED=()
	say "stack: stopping what this start started: ${what[*]}"
	for ((i = ${#what[@]} - 1; i >= 0; i--)); do
		case ${what[$i]} in
		pg) pg_stop || true ;;
		redis) redis_stop ;;
		push) push_stop ;;
		fcgi:*) stop_pid "$RT/run/fcgi-${what[$i]#fcgi:}.pid"; rm -f "$RT/run/fcgi/${what[$i]#fcgi:}.sock" ;;
		web) web_stop_one "$WEB" ;;
		fake-llm) fake_llm_stop ;;
		fake-jwks) fake_jwks_stop ;;
		esac
	done
}

if [ "$(id -u)" = 0 ]; then
	IS_ROOT=1
	APPUSER=www-data
	PGOS=postgres
else
	IS_ROOT=0
	APPUSER=$(id -un)
	PGOS=$APPUSER
fi
APPGROUP=$(id -gn "$APPUSER")

# From /: the service users may not enter the caller's directory (a
# checkout under /root), and psql says so on every run.
as_pg() { if [ $IS_ROOT = 1 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
as_app() { if [ $IS_ROOT = 1 ]; then (cd / && runuser -u "$APPUSER" -- "$@"); else "$@"; fi; }
own() { if [ $IS_ROOT = 1 ]; then chown "$@"; fi; }

# --- where the runtime files live ----------------------------------------

reachable() {
	[ $IS_ROOT = 0 ] && return 0
	runuser -u postgres -- test -x "$1" 2>/dev/null &&
	    runuser -u "$APPUSER" -- test -x "$1" 2>/dev/null
}

pick_rt() {
	[ $IS_ROOT = 1 ] && chmod 0755 "$VAR"
	local longest="$VAR/run/fcgi/$(awk '!/^#/ && NF >= 2 && length($2) > length(p) { p = $2 } END { print p }' "$ROOT/httpd-conf/routes").sock"
	if reachable "$VAR" && [ ${#longest} -le 96 ]; then
		RT=$VAR
	else
		RT=/tmp/upw-$(printf '%s' "$VAR" | sha1sum | cut -c1-12)
		mkdir -p "$RT"
		chmod 0755 "$RT"
		ln -sfn "$RT" "$VAR/rt"
	fi
}
pick_rt

# The programs the app user executes (the endpoints, the broadcaster, the
# cron binaries, check-config): from the build directory when that user
# can reach it, else from copies in RT/bin (a checkout under /root, mode
# 0700, say), refreshed at each start.  XBIN is where they run from.
if [ $IS_ROOT = 0 ] || runuser -u "$APPUSER" -- test -x "$BIN/tools/check-config" 2>/dev/null ||
    [ ! -x "$BIN/tools/check-config" ]; then
	XBIN=$BIN
else
	XBIN=$RT/bin
fi

# Copy the build's programs into RT/bin when XBIN is there: each through a
# temporary file renamed over the old one, so a running program keeps its
# file (a copy in place would fail, "Text file busy") and a SIGHUP runs
# the new one, as it does from the build directory.
bin_install() {
	local d f
	[ "$XBIN" != "$BIN" ] || return 0
	for d in cgi-bin cron tools push; do
		mkdir -p "$XBIN/$d"
		for f in "$BIN/$d"/*; do
			[ -f "$f" ] && [ -x "$f" ] || continue
			cmp -s "$f" "$XBIN/$d/${f##*/}" && continue
			cp -p "$f" "$XBIN/$d/.${f##*/}.tmp" && mv -f "$XBIN/$d/.${f##*/}.tmp" "$XBIN/$d/${f##*/}" ||
			    die "cannot copy $f into $XBIN/$d"
		done
	done
	chmod -R a+rX,go-w "$XBIN"
	runuser -u "$APPUSER" -- test -x "$XBIN/tools/check-config" ||
	    die "$APPUSER cannot execute $XBIN/tools/check-config: /tmp is mounted noexec? (use a VAR the app user can reach)"
}

# --- ports -----------------------------------------------------------------

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
	ss -Hltn "( sport = :$1 )" 2>/dev/null | grep -q . && return 0
	return 1
}

# Below the kernel's ephemeral range (32768-60999 by default), so that no
# outgoing connection takes the port between the pick and the bind, and
# free in every state: a client socket lingering in TIME-WAIT on it
# (after a benchmark's thousands of connections, say) blocks a bind too.
pick_port() {
	local p i lo
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$lo" -gt 21024 ] || lo=60000
	for i in $(seq 1 500); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % (lo - 20000)))
		ss -Htan "( sport = :$p )" 2>/dev/null | grep -q . && continue
		port_busy "$p" || { echo "$p"; return 0; }
	done
	die "no free port found"
}

load_ports() {
	if [ -f "$RT/ports.env" ]; then
		. "$RT/ports.env"
	else
		PG_PORT=$(pick_port)
		REDIS_PORT=$(pick_port)
		printf 'PG_PORT=%s\nREDIS_PORT=%s\n' "$PG_PORT" "$REDIS_PORT" >"$RT/ports.env"
	fi
	# The broadcaster's port came later: added to an older ports.env.
	if [ -z "${PUSH_PORT:-}" ]; then
		PUSH_PORT=$(pick_port)
		printf 'PUSH_PORT=%s\n' "$PUSH_PORT" >>"$RT/ports.env"
	fi
	if [ "$FAKE_LLM" = 1 ] && [ -z "${FAKE_LLM_PORT:-}" ]; then
		FAKE_LLM_PORT=$(pick_port)
		printf 'FAKE_LLM_PORT=%s\n' "$FAKE_LLM_PORT" >>"$RT/ports.env"
	fi
	if [ "$FAKE_JWKS" = 1 ] && [ -z "${FAKE_JWKS_PORT:-}" ]; then
		FAKE_JWKS_PORT=$(pick_port)
		printf 'FAKE_JWKS_PORT=%s\n' "$FAKE_JWKS_PORT" >>"$RT/ports.env"
	fi
}

# --- files: directories, secrets, config -----------------------------------

layout() {
	mkdir -p "$RT/run/fcgi" "$RT/run/pg" "$RT/run/redis" "$RT/run/push" "$RT/run/apache" "$RT/run/metrics" "$RT/log/asan" \
	    "$RT/conf" "$RT/www" "$RT/redis" "$RT/secrets" "$RT/state"
	chmod 0755 "$RT/run" "$RT/conf" "$RT/www"
	chmod 0775 "$RT/log"
	own "root:$APPGROUP" "$RT/log"
	own "$PGOS" "$RT/run/pg"
	own "$APPUSER:$APPGROUP" "$RT/run/fcgi" "$RT/run/redis" "$RT/run/push" "$RT/run/metrics" "$RT/redis" "$RT/log/asan" "$RT/state"
	chmod 0750 "$RT/secrets"
	own "root:$APPGROUP" "$RT/secrets"
	touch "$RT/log/postgres.log" "$RT/log/redis.log"
	own "$PGOS" "$RT/log/postgres.log"
	own "$APPUSER" "$RT/log/redis.log"
}

# Secrets are generated once per VAR and never leave it.
secrets() {
	local s=$RT/secrets
	umask 027
	[ -s "$s/jwt-hs256.key" ] || head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$s/jwt-hs256.key"
	[ -s "$s/db-app.password" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$s/db-app.password"
	[ -s "$s/upwork-token.key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$s/upwork-token.key"
	[ -e "$s/upwork-client.secret" ] || printf '%s' "$UPWORK_CLIENT_SECRET" >"$s/upwork-client.secret"
	# app.conf names it: empty, no key is sent (FAKE_LLM=1 fills it).
	[ -e "$s/llm-api.key" ] || : >"$s/llm-api.key"
	[ -s "$s/metrics.token" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$s/metrics.token"
	# Redis's password (AUTH), and the key that signs events and cache
	# entries (only the programs that write to Redis hold it).
	[ -s "$s/redis.password" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$s/redis.password"
	[ -s "$s/events.key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$s/events.key"
	if [ ! -s "$s/jwt-rs256.key" ]; then
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$s/jwt-rs256.key" 2>/dev/null
		openssl pkey -in "$s/jwt-rs256.key" -pubout -out "$s/jwt-rs256.pub.pem"
		local mod kid n
		mod=$(openssl rsa -in "$s/jwt-rs256.key" -noout -modulus 2>/dev/null | cut -d= -f2)
		kid=$(printf '%s' "$mod" | sha256sum | cut -c1-16)
		n=$(printf '%s' "$mod" | xxd -r -p | base64 -w0 | tr '+/' '-_' | tr -d '=')
		printf '%s' "$kid" >"$s/jwt-rs256.kid"
		printf '{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"%s","n":"%s","e":"AQAB"}]}\n' \
		    "$kid" "$n" >"$s/jwks.json"
	fi
	umask 022
	own "root:$APPGROUP" "$s"/*
	chmod 0640 "$s"/*
}

# The role the programs log in as: upwork_app, or with DB_ROLES=single
# the one role that owns the database.
db_app_role() {
	if [ "$DB_ROLES" = single ]; then echo upwork_site; else echo upwork_app; fi
}

# The workers' config file: written once, then the admin's to edit.
app_conf() {
	local f=$RT/app.conf
	if [ -s "$f" ]; then
		first_start_notes
		redis_auth_conf "$f"
		return 0
	fi
	{
		echo "# app.conf: configuration of the FastCGI workers of this stack (see README.md, Configuration)."
		echo "db_conninfo = host=$RT/run/pg port=$PG_PORT dbname=upwork user=$(db_app_role) password=$(cat "$RT/secrets/db-app.password")"
		if [ "$REDIS" = 0 ]; then
			echo "# No Redis: rate limits and events live in PostgreSQL (docs/no-redis.md)."
			echo "redis_host ="
		else
			echo "redis_socket = $RT/run/redis/redis.sock"
			echo "redis_password_file = $RT/secrets/redis.password"
		fi
		echo "events_key_file = $RT/secrets/events.key"
		echo "jwt_alg = $JWT_ALG"
		echo "jwt_secret_file = $RT/secrets/jwt-hs256.key"
		echo "jwt_jwks_file = $RT/secrets/jwks.json"
		echo "jwt_issuer = $JWT_ISSUER"
		echo "jwt_audience = $JWT_AUDIENCE"
		echo "trusted_proxies = $TRUSTED_PROXIES"
		echo "openapi_file = $RT/conf/openapi.yaml"
		echo "log_level = info"
		echo "# The builtin provider streams at a reader's pace, for the page's demo (0: at once)."
		echo "llm_builtin_pace_ms = 40"
		echo "# AI: llm_provider = builtin works offline. For OpenAI or a compatible server, put the API key"
		echo "# in the file below and set llm_provider = openai (and llm_base_url, llm_model if needed)."
		echo "llm_api_key_file = $RT/secrets/llm-api.key"
		echo "upwork_client_id = $UPWORK_CLIENT_ID"
		echo "upwork_client_secret_file = $RT/secrets/upwork-client.secret"
		echo "upwork_token_key_file = $RT/secrets/upwork-token.key"
		echo "upwork_redirect_uri = http://127.0.0.1:$PORT/api/upwork/callback"
		echo "# /metrics: metrics_enabled = 1 turns it on; Prometheus sends the token of this file."
		echo "metrics_dir = $RT/run/metrics"
		echo "metrics_token_file = $RT/secrets/metrics.token"
		if [ -n "$UPWORK_URL" ]; then
			echo "upwork_graphql_url = $UPWORK_URL/graphql"
			echo "upwork_authorize_url = $UPWORK_URL/oauth2/authorize"
			echo "upwork_token_url = $UPWORK_URL/oauth2/token"
		fi
	} >"$f"
	own "root:$APPGROUP" "$f"
	chmod 0640 "$f"
}

# An app.conf written before Redis required a password: add the two
# lines it now needs (the stack's Redis refuses connections without AUTH).
redis_auth_conf() {
	grep -Eq '^[[:space:]]*redis_password_file[[:space:]]*=' "$1" && return 0
	redis_configured || return 0
	{
		echo "redis_password_file = $RT/secrets/redis.password"
		grep -Eq '^[[:space:]]*events_key_file[[:space:]]*=' "$1" ||
		    echo "events_key_file = $RT/secrets/events.key"
	} >>"$1"
	say "stack: app.conf: added redis_password_file and events_key_file (this stack's Redis requires a password)"
}

# The first-start settings given again (JWT_ALG=RS256 make start on a VAR
# that has HS256, say): app.conf keeps what its first start wrote, so
# say which are ignored, and how to change them.
first_start_notes() {
	local v key have want
	for v in $GIVEN; do
		case $v in
		JWT_ALG) key=jwt_alg; want=$JWT_ALG ;;
		JWT_ISSUER) key=jwt_issuer; want=$JWT_ISSUER ;;
		JWT_AUDIENCE) key=jwt_audience; want=$JWT_AUDIENCE ;;
		TRUSTED_PROXIES) key=trusted_proxies; want=$TRUSTED_PROXIES ;;
		UPWORK_CLIENT_ID) key=upwork_client_id; want=$UPWORK_CLIENT_ID ;;
		UPWORK_URL) key=upwork_graphql_url; want=${UPWORK_URL:+$UPWORK_URL/graphql} ;;
		UPWORK_CLIENT_SECRET)
			# Never printed: only whether it differs.
			if [ "$(cat "$RT/secrets/upwork-client.secret" 2>/dev/null)" != "$UPWORK_CLIENT_SECRET" ]; then
				say "stack: UPWORK_CLIENT_SECRET is ignored: $RT/secrets/upwork-client.secret keeps the one of this VAR's first start; write the new one there, then make restart"
			fi
			continue ;;
		esac
		have=$(conf_get "$key")
		[ "$v" != UPWORK_URL ] || [ -n "$have" ] || [ -z "$want" ] || have="(the default)"
		[ "$have" = "$want" ] && continue
		say "stack: $v=$want is ignored: $RT/app.conf has $key = ${have:-(empty)} since this VAR's first start; edit app.conf, then make restart (or use a new VAR)"
	done
}

# FAKE_LLM=1: the provider is the fake of tests/, with short timeouts and
# a priced test model; each line only if app.conf does not set it yet.
app_conf_fake() {
	local f=$RT/app.conf k v
	while IFS='|' read -r k v; do
		grep -q "^$k[[:space:]]*=" "$f" || echo "$k = $v" >>"$f"
	done <<EOF
llm_base_url|http://127.0.0.1:$FAKE_LLM_PORT/v1
llm_api_key_file|$RT/secrets/llm-api.key
llm_connect_timeout_ms|2000
llm_idle_timeout_ms|3000
llm_timeout_ms|8000
llm_sse_ping_ms|1000
llm_prices|gpt-4o-mini=0.15/0.60,gpt-4o=2.50/10.00,test-pricey=1000/3000
EOF
}

# FAKE_JWKS=1: RS256 tokens are checked against the fake issuer's JWKS
# URL (its certificate against the CA generated for it), the host's
# processes sharing the fetched set in RT/state; short bounds so that the
# tests see max-age and the refetch interval at work.
app_conf_jwks() {
	local f=$RT/app.conf k v
	while IFS='|' read -r k v; do
		grep -q "^$k[[:space:]]*=" "$f" || echo "$k = $v" >>"$f"
	done <<EOF
jwt_jwks_url|https://127.0.0.1:$FAKE_JWKS_PORT/.well-known/jwks.json
jwt_jwks_ca_file|$RT/fake-jwks/ca.pem
jwt_jwks_cache_dir|$RT/state
jwt_jwks_min_ttl|1
jwt_jwks_refetch_interval|2
EOF
}

# The fake issuer (tests/fake-jwks.js) on its own port, over HTTPS with
# a certificate for 127.0.0.1 signed by a CA made for this stack; it
# serves the stack's own dev key (secrets/jwks.json) and what the tests add.
fake_jwks_start() {
	local d=$RT/fake-jwks
	pid_alive "$d/fake-jwks.pid" && return 0
	command -v node >/dev/null || die "node is needed for the fake JWKS issuer"
	mkdir -p "$d"
	chmod 0755 "$d"
	if [ ! -s "$d/server.pem" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 30 \
		    -subj "/CN=upwork-api test CA" -addext "basicConstraints=critical,CA:TRUE" \
		    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || die "openssl: no test CA"
		openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" -out "$d/server.csr" \
		    -subj "/CN=127.0.0.1" 2>/dev/null || die "openssl: no test certificate request"
		printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
		openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		    -out "$d/server.pem" -days 30 -extfile "$d/ext.cnf" 2>/dev/null || die "openssl: no test certificate"
		chmod 0600 "$d/ca.key" "$d/server.key"
		chmod 0644 "$d/ca.pem" "$d/server.pem"
	fi
	node "$ROOT/tests/fake-jwks.js" --port "$FAKE_JWKS_PORT" --cert "$d/server.pem" --key "$d/server.key" \
	    --keys-file "$RT/secrets/jwks.json" --pid-file "$d/fake-jwks.pid" >>"$RT/log/fake-jwks.log" 2>&1 &
	STARTED+=(fake-jwks)
	wait_for "the fake JWKS issuer" curl -sf --cacert "$d/ca.pem" -o /dev/null \
	    "https://127.0.0.1:$FAKE_JWKS_PORT/__jwks/stats"
}

fake_jwks_stop() {
	stop_pid "$RT/fake-jwks/fake-jwks.pid"
}

conf_get() {
	sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" "$RT/app.conf" | tail -n 1
}

# What tests and tools need to reach this stack.
stack_env() {
	cat >"$RT/stack.env" <<EOF
ROOT=$ROOT
VAR=$VAR
RT=$RT
PORT=$PORT
WEB=$WEB
BUILD=$BUILD
BIN=$BIN
XBIN=$XBIN
MODE=$MODE
PG_HOST=$RT/run/pg
PG_PORT=$PG_PORT
PG_SUPERUSER=$PGOS
REDIS_SOCKET=$RT/run/redis/redis.sock
REDIS_PASSWORD_FILE=$RT/secrets/redis.password
REDIS_PORT=$REDIS_PORT
PUSH_PORT=$PUSH_PORT
JWT_ALG=$(conf_get jwt_alg)
APPUSER=$APPUSER
FAKE_LLM_URL=${FAKE_LLM_PORT:+http://127.0.0.1:$FAKE_LLM_PORT}
FAKE_JWKS_URL=${FAKE_JWKS_PORT:+https://127.0.0.1:$FAKE_JWKS_PORT}
FAKE_JWKS_CA=${FAKE_JWKS_PORT:+$RT/fake-jwks/ca.pem}
EOF
}

# --- processes ---------------------------------------------------------------

# A zombie counts as gone: PID 1 of a container may reap it late.
alive() {
	kill -0 "$1" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]
}

pid_alive() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(head -n 1 "$1")
	[ -n "$pid" ] && alive "$pid"
}

# Stop the process of a pid file: TERM, then KILL after a grace period.
stop_pid() {
	local f=$1 pid i
	pid_alive "$f" || { rm -f "$f"; return 0; }
	pid=$(head -n 1 "$f")
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		alive "$pid" || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$f"
}

wait_for() {
	local what=$1 i
	shift
	for i in $(seq 1 300); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "$what did not come up (logs in $RT/log)"
}

psql_super() {
	as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RT/run/pg" -p "$PG_PORT" -U "$PGOS" "$@"
}

pg_start() {
	if [ ! -s "$RT/pg/PG_VERSION" ]; then
		mkdir -p "$RT/pg"
		own "$PGOS" "$RT/pg"
		chmod 0700 "$RT/pg"
		as_pg "$PGBIN/initdb" -D "$RT/pg" -U "$PGOS" -E UTF8 --locale=C.UTF-8 \
		    --auth-local=peer --auth-host=scram-sha-256 >>"$RT/log/postgres.log" 2>&1 ||
		    die "initdb failed (see $RT/log/postgres.log)"
		cat >>"$RT/pg/postgresql.conf" <<EOF
# Added by scripts/stack.sh.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$RT/run/pg'
max_connections = 300
shared_buffers = 256MB
work_mem = 8MB
effective_cache_size = 2GB
random_page_cost = 1.1
synchronous_commit = off
log_min_duration_statement = 1000
EOF
		# The programs' role by OS identity too, over the socket: the app
		# user (and root, for the tests and tools) is upwork_app without
		# a password exchange, the cheapest connection a CGI request
		# can open (scripts/bench-cgi.sh measures it); the password in
		# db_conninfo is only asked for over TCP.
		cat >"$RT/pg/pg_hba.conf" <<EOF
# Written by scripts/stack.sh: the superuser and the programs' role by OS identity, everyone else by password.
local   all   $PGOS                   peer
local   all   upwork_app              peer map=app
local   all   all                     scram-sha-256
host    all   all   127.0.0.1/32      scram-sha-256
EOF
		{
			echo "# Written by scripts/stack.sh: who may be upwork_app by OS identity."
			echo "app   $APPUSER   upwork_app"
			[ $IS_ROOT = 0 ] || echo "app   root   upwork_app"
		} >"$RT/pg/pg_ident.conf"
	fi
	if ! as_pg "$PGBIN/pg_ctl" -D "$RT/pg" status >/dev/null 2>&1; then
		STARTED+=(pg)
		as_pg "$PGBIN/pg_ctl" -D "$RT/pg" -l "$RT/log/postgres.log" -w -t 60 start >/dev/null ||
		    die "PostgreSQL did not start (see $RT/log/postgres.log)"
	fi
}

pg_stop() {
	if [ -s "$RT/pg/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$RT/pg" status >/dev/null 2>&1; then
		as_pg "$PGBIN/pg_ctl" -D "$RT/pg" -m fast -w -t 60 stop >/dev/null
	fi
}

db_setup() {
	local as=() ci
	[ $IS_ROOT = 1 ] && as=(--run-as "$PGOS")
	if grep -Eq '^db_conninfo = .* user=upwork_site ' "$RT/app.conf"; then
		# What a hosting panel hands out: one database and its owner,
		# no superuser, no BYPASSRLS, no CREATE ROLE.
		psql_super -d postgres -v pw="$(cat "$RT/secrets/db-app.password")" >/dev/null <<'EOF' || die "the single role failed"
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upwork_site') AS mk \gset
\if :mk
CREATE ROLE upwork_site LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
\endif
ALTER ROLE upwork_site PASSWORD :'pw';
SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = 'upwork') AS mk \gset
\if :mk
CREATE DATABASE upwork OWNER upwork_site ENCODING 'UTF8' TEMPLATE template0;
\endif
EOF
		ci="host=$RT/run/pg port=$PG_PORT user=upwork_site dbname=upwork password=$(cat "$RT/secrets/db-app.password")"
		(cd / && "$ROOT/scripts/migrate.sh" --single-role --conninfo "$ci" >/dev/null) || die "migrations failed"
	else
		(cd / && APP_PASSWORD=$(cat "$RT/secrets/db-app.password") "$ROOT/scripts/migrate.sh" --bootstrap "${as[@]}" \
		    --conninfo "host=$RT/run/pg port=$PG_PORT user=$PGOS dbname=upwork" >/dev/null) || die "migrations failed"
	fi
	if [ "$(psql_super -d upwork -tA -c "SELECT count(*) FROM tenants WHERE id = 'org_demo'")" = 0 ]; then
		cat "$ROOT/sql/demo/generator.sql" "$ROOT/sql/demo/demo-data.sql" | psql_super -d upwork >/dev/null ||
		    die "demo data failed to load"
		psql_super -d upwork -c "VACUUM ANALYZE" >/dev/null
	fi
}

# Redis listens on its unix socket only (port 0: no TCP at all) and
# requires the password of secrets/redis.password; the directive that
# holds it lives in secrets/ too (root:app, 0640), included from the
# config, so that conf/ holds no secret.
redis_start() {
	pid_alive "$RT/run/redis/redis.pid" && return 0
	redis_configured || return 0
	(umask 027; printf 'requirepass %s\n' "$(cat "$RT/secrets/redis.password")" >"$RT/secrets/redis-auth.conf")
	own "root:$APPGROUP" "$RT/secrets/redis-auth.conf"
	chmod 0640 "$RT/secrets/redis-auth.conf"
	cat >"$RT/conf/redis.conf" <<EOF
# Written by scripts/stack.sh.
port 0
unixsocket $RT/run/redis/redis.sock
unixsocketperm 770
include $RT/secrets/redis-auth.conf
dir $RT/redis
pidfile $RT/run/redis/redis.pid
logfile $RT/log/redis.log
daemonize yes
save ""
appendonly no
maxmemory 256mb
maxmemory-policy volatile-lru
maxclients 10000
EOF
	STARTED+=(redis)
	as_app redis-server "$RT/conf/redis.conf" || die "Redis did not start"
	wait_for Redis env REDISCLI_AUTH="$(cat "$RT/secrets/redis.password")" \
	    redis-cli -s "$RT/run/redis/redis.sock" ping
}

# Predicate: app.conf names a Redis (REDIS=0 wrote an empty redis_host).
redis_configured() {
	! grep -Eq '^[[:space:]]*redis_host[[:space:]]*=[[:space:]]*$' "$RT/app.conf" ||
	    grep -Eq '^[[:space:]]*redis_socket[[:space:]]*=[[:space:]]*[^[:space:]]' "$RT/app.conf"
}

redis_stop() {
	stop_pid "$RT/run/redis/redis.pid"
}

# The broadcaster (push/): as the app user, on 127.0.0.1:PUSH_PORT; it
# writes its own pid file.  cors_origins defaults to this stack's own
# origin unless app.conf sets it.  APP_PUSH_* in the environment pass
# through (the tests shorten timeouts that way).
push_start() {
	local pidf=$RT/run/push/push.pid
	pid_alive "$pidf" && return 0
	redis_configured || return 0	# no Redis, no broadcaster: /api/events/recent
	[ -x "$BIN/push/broadcaster" ] || die "$BIN/push/broadcaster is not built (make all)"
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	STARTED+=(push)
	push_fingerprint >"$RT/run/push/push.started"
	as_app env APP_CONFIG="$RT/app.conf" $(push_env) \
	    ASAN_OPTIONS="log_path=$RT/log/asan/asan:detect_leaks=1:halt_on_error=1" \
	    UBSAN_OPTIONS="log_path=$RT/log/asan/ubsan:print_stacktrace=1:halt_on_error=1" \
	    "$XBIN/push/broadcaster" -P "$pidf" </dev/null >>"$RT/log/push.log" 2>&1 &
	# Up, or ended at once (a port taken, a bad value): no need to wait then.
	local bpid=$! i
	for i in $(seq 1 300); do
		push_up "$pidf" && return 0
		alive "$bpid" || die "the broadcaster exited at start: $(tail -n 1 "$RT/log/push.log" | tr '\n' ' ')"
		sleep 0.1
	done
	die "the broadcaster on port $PUSH_PORT did not come up (logs in $RT/log)"
}

# The environment the stack gives the broadcaster: its port, and this
# stack's own origins unless app.conf sets cors_origins.
push_env() {
	echo "APP_PUSH_LISTEN=127.0.0.1:$PUSH_PORT"
	grep -Eq '^[[:space:]]*cors_origins[[:space:]]*=' "$RT/app.conf" ||
	    echo "APP_CORS_ORIGINS=http://127.0.0.1:$PORT,http://localhost:$PORT"
}

# What a SIGHUP cannot change in a running program: its environment
# (APP_* variables, the stack's own among them) and, for the
# broadcaster, where it listens and its Redis connection.  A digest,
# written at start and compared by restart: the same, the program
# reloads; different, it restarts.
env_digest() {
	{ env | grep '^APP_' | grep -v '^APP_CONFIG=' || true; printf '%s\n' "$@"; } | sort | sha1sum | cut -c1-40
}
push_fingerprint() {
	env_digest $(push_env) "$(grep -E '^[[:space:]]*(push_listen|redis_[a-z_]+)[[:space:]]*=' "$RT/app.conf" || true)"
}
fcgi_fingerprint() {
	env_digest "APP_WORKERS=$(workers_for "$1")"
}

push_up() {
	pid_alive "$1" && port_busy "$PUSH_PORT"
}

push_stop() {
	stop_pid "$RT/run/push/push.pid"
}

# The programs named in httpd-conf/routes (bench routes only with BENCH=1;
# "push" is the broadcaster, not a FastCGI program).
programs() {
	awk -v bench="$BENCH" '!/^#/ && NF >= 2 && $2 != "push" && ($3 != "bench" || bench == 1) { print $2 }' \
	    "$ROOT/httpd-conf/routes" | awk '!seen[$0]++'
}

# Worker processes of a program: WORKERS_<program>, else AI_WORKERS for
# the AI endpoints (a worker is busy for a whole generation), else WORKERS.
workers_for() {
	local v="WORKERS_$1"
	if [ -n "${!v:-}" ]; then echo "${!v}"
	else case $1 in proposals_generate|proposals_stream) echo "$AI_WORKERS" ;; *) echo "$WORKERS" ;; esac
	fi
}

# The fake OpenAI server (tests/fake-openai.js) on its own port, with a
# generated API key it requires; its URL goes into app.conf.
fake_llm_start() {
	local k=$RT/secrets/llm-api.key
	pid_alive "$RT/run/fake-llm.pid" && return 0
	command -v node >/dev/null || die "node is needed for the fake LLM server"
	if [ ! -s "$k" ]; then
		(umask 027; printf 'sk-test-%s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$k")
		own "root:$APPGROUP" "$k"
		chmod 0640 "$k"
	fi
	STARTED+=(fake-llm)
	node "$ROOT/tests/fake-openai.js" --port "$FAKE_LLM_PORT" --key-file "$k" \
	    --pid-file "$RT/run/fake-llm.pid" >>"$RT/log/fake-llm.log" 2>&1 &
	wait_for "the fake LLM server" curl -sf -o /dev/null "http://127.0.0.1:$FAKE_LLM_PORT/__fake/log"
}

fake_llm_stop() {
	stop_pid "$RT/run/fake-llm.pid"
}

workers_start() {
	local p sock pidf ids=() origins=() todo=${1:-$(programs)}
	[ $IS_ROOT = 1 ] && ids=(-U "$APPUSER" -G "$APPGROUP" -u "$APPUSER" -g "$APPGROUP")
	# The same CORS allow-list as the broadcaster's (push_start).
	grep -Eq '^[[:space:]]*cors_origins[[:space:]]*=' "$RT/app.conf" ||
	    origins=("APP_CORS_ORIGINS=http://127.0.0.1:$PORT,http://localhost:$PORT")
	for p in $todo; do
		sock=$RT/run/fcgi/$p.sock
		pidf=$RT/run/fcgi-$p.pid
		pid_alive "$pidf" && continue
		[ -x "$BIN/cgi-bin/$p" ] || die "$BIN/cgi-bin/$p is not built (make all)"
		rm -f "$sock"
		STARTED+=("fcgi:$p")
		fcgi_fingerprint "$p" >"$RT/run/fcgi-$p.started"
		# -n: spawn-fcgi execs the program, whose stderr (its JSON log)
		# must reach the log file; spawn-fcgi's own fork would send it
		# to /dev/null.  setsid: Ctrl-C on a terminal reaches the stack
		# script, which stops everything in order, not the workers.
		env APP_CONFIG="$RT/app.conf" APP_WORKERS="$(workers_for "$p")" "${origins[@]}" \
		    ASAN_OPTIONS="log_path=$RT/log/asan/asan:detect_leaks=1:halt_on_error=1" \
		    UBSAN_OPTIONS="log_path=$RT/log/asan/ubsan:print_stacktrace=1:halt_on_error=1" \
		    setsid spawn-fcgi -n -s "$sock" -M 0660 "${ids[@]}" -- "$XBIN/cgi-bin/$p" \
		    </dev/null >>"$RT/log/$p.log" 2>&1 &
		echo $! >"$pidf"
	done
	for p in $todo; do
		wait_for "FastCGI $p" test -S "$RT/run/fcgi/$p.sock"
	done
	# A program that cannot start (a bad config value) exits at once.
	sleep 0.2
	for p in $todo; do
		pid_alive "$RT/run/fcgi-$p.pid" ||
		    die "$p exited at start: $(tail -n 3 "$RT/log/$p.log" | tr '\n' ' ')"
	done
}

workers_stop() {
	local f
	for f in "$RT"/run/fcgi-*.pid; do
		[ -e "$f" ] && stop_pid "$f"
	done
	rm -f "$RT"/run/fcgi/*.sock
}

# Fill a template's @VARIABLES@; @ROUTES@ comes from httpd-conf/routes.
render() {
	local tpl=$1 routes=$2 lu="" au=""
	if [ $IS_ROOT = 1 ]; then
		lu="server.username = \"$APPUSER\"
server.groupname = \"$APPGROUP\""
		au="User $APPUSER
Group $APPGROUP"
	fi
	awk -v port="$PORT" -v rt="$RT" -v lu="$lu" -v au="$au" -v routes="$routes" -v passenv="$(apache_passenv)" '
		/^@ROUTES@$/ { print routes; next }
		/^@PASSENV@$/ { print passenv; next }
		/^@LIGHTTPD_USER@$/ { print lu; next }
		/^@APACHE_USER@$/ { print au; next }
		{ gsub(/@PORT@/, port); gsub(/@RT@/, rt); print }' "$tpl"
}

lighttpd_routes() {
	awk -v bench="$BENCH" -v rt="$RT" -v push="$PUSH_PORT" '
		!/^#/ && NF >= 2 && $2 == "push" {
			# The broadcaster over HTTP; "websocket" routes may upgrade.
			# Its own pings and keep-alives bound idle connections.
			printf "%s$HTTP[\"url\"] =~ \"%s\" {\n", (n++ ? "else " : ""), $1
			printf "    proxy.server = ( \"\" => ( ( \"host\" => \"127.0.0.1\", \"port\" => %s ) ) )\n", push
			if ($3 == "websocket")
				printf "    proxy.header = ( \"upgrade\" => \"enable\" )\n"
			printf "    server.max-read-idle = 3600\n    server.max-write-idle = 3600\n}\n"
			next
		}
		!/^#/ && NF >= 2 && ($3 != "bench" || bench == 1) {
			printf "%s$HTTP[\"url\"] =~ \"%s\" {\n", (n++ ? "else " : ""), $1
			printf "    fastcgi.server = ( \"/\" => ( ( \"socket\" => \"%s/run/fcgi/%s.sock\",\n", rt, $2
			printf "                                    \"check-local\" => \"disable\" ) ) )\n}\n"
		}' "$ROOT/httpd-conf/routes"
}

apache_routes() {
	awk -v bench="$BENCH" -v rt="$RT" -v push="$PUSH_PORT" '
		!/^#/ && NF >= 2 && $2 == "push" {
			# mod_proxy_http; without a $1 in the target the whole path
			# is appended.  One worker for the broadcaster, its
			# parameters on its first route: upgrade=websocket lets
			# WebSocket upgrades through (plain requests stay plain);
			# timeout=300 keeps a long-polling GET (held up to
			# push_ping_interval_ms) whatever ProxyTimeout becomes.
			printf "ProxyPassMatch \"%s\" \"http://127.0.0.1:%s\"%s\n", $1, push, (pushed++ ? "" : " upgrade=websocket timeout=300") " mapping=encoded"
			next
		}
		!/^#/ && NF >= 2 && ($3 != "bench" || bench == 1) {
			# Worker parameters count once per worker: on its first route.
			printf "ProxyPassMatch \"%s\" \"unix:%s/run/fcgi/%s.sock|fcgi://%s/\"%s\n", $1, rt, $2, $2, (seen[$2]++ ? "" : " flushpackets=on") " mapping=encoded"
		}' "$ROOT/httpd-conf/routes"
}

# The routes of the modes without spawn-fcgi's workers.  The programs
# that serve them (httpd-conf/routes, the broadcaster's routes left out
# where no daemon runs), one a line, and each line as "regex program".
mode_routes() {
	awk -v bench="$BENCH" -v mode="$MODE" '
		!/^#/ && NF >= 2 && ($3 != "bench" || bench == 1) && ($2 != "push" || mode == "bin-path") { print $1, $2 }' \
	    "$ROOT/httpd-conf/routes"
}

# The environment the programs get from the web server in these modes:
# the stack's APP_* settings and the sanitizers' options (mod_cgi and
# bin-path programs inherit nothing of lighttpd's own environment).
mode_env_names() {
	{ env | grep -E '^(APP_[A-Z0-9_]+|ASAN_OPTIONS|UBSAN_OPTIONS)=' | grep -v '^APP_CONFIG=' | cut -d= -f1 || true; } | sort -u
}

# The same CORS allow-list as the workers' (workers_start), in the
# environment mode_env_names lists.
mode_env_init() {
	grep -Eq '^[[:space:]]*cors_origins[[:space:]]*=' "$RT/app.conf" ||
	    export APP_CORS_ORIGINS="http://127.0.0.1:$PORT,http://localhost:$PORT"
}

# lighttpd with mod_cgi: each route rewritten to its program in
# RT/www/cgi-bin/ (copied there by shared_install), which mod_cgi runs; the
# program reads the original path from REQUEST_URI.
lighttpd_routes_cgi() {
	local n
	echo 'server.modules += ( "mod_rewrite", "mod_cgi" )'
	# The programs' stderr, their JSON log lines (lighttpd's own is /dev/null).
	echo "server.breakagelog = \"$RT/log/programs.log\""
	printf 'setenv.add-environment = ( "APP_CONFIG" => "%s"' "$RT/app.conf"
	for n in $(mode_env_names); do
		printf ', "%s" => "%s"' "$n" "${!n}"
	done
	echo ' )'
	echo '$HTTP["url"] =~ "^/cgi-bin/[a-z_]+\.cgi$" {'
	echo '    cgi.assign = ( ".cgi" => "" )'
	echo '}'
	mode_routes | awk '{
		printf "%s$HTTP[\"url\"] =~ \"%s\" {\n", (n++ ? "else " : ""), $1
		printf "    url.rewrite-once = ( \"^\" => \"/cgi-bin/%s.cgi\" )\n}\n", $2
	}'
}

# lighttpd's mod_fastcgi with bin-path: lighttpd starts WORKERS processes
# of each program (one request each: APP_WORKERS=1) on a socket of each
# route's own, and restarts them; the broadcaster stays a proxied daemon.
lighttpd_routes_binpath() {
	local copy n
	copy=$(for n in $(mode_env_names); do printf '"%s", ' "$n"; done)
	echo "server.breakagelog = \"$RT/log/programs.log\""
	mode_routes | awk -v rt="$RT" -v xbin="$XBIN" -v push="$PUSH_PORT" -v conf="$RT/app.conf" \
	    -v copy="$copy" -v workers="$WORKERS" -v ai="$AI_WORKERS" '
		$2 == "push" {
			printf "%s$HTTP[\"url\"] =~ \"%s\" {\n", (n++ ? "else " : ""), $1
			printf "    proxy.server = ( \"\" => ( ( \"host\" => \"127.0.0.1\", \"port\" => %s ) ) )\n", push
			printf "    proxy.header = ( \"upgrade\" => \"enable\" )\n"
			printf "    server.max-read-idle = 3600\n    server.max-write-idle = 3600\n}\n"
			next
		}
		{
			procs = ($2 ~ /^proposals_(generate|stream)$/) ? ai : workers
			printf "%s$HTTP[\"url\"] =~ \"%s\" {\n", (n++ ? "else " : ""), $1
			printf "    fastcgi.server = ( \"/\" => ( ( \"socket\" => \"%s/run/fcgi/%s-%d.sock\",\n", rt, $2, NR
			printf "        \"bin-path\" => \"%s/cgi-bin/%s\", \"max-procs\" => %d, \"min-procs\" => %d,\n", xbin, $2, procs, procs
			printf "        \"bin-environment\" => ( \"APP_CONFIG\" => \"%s\", \"APP_WORKERS\" => \"1\" ),\n", conf
			printf "        \"bin-copy-environment\" => ( %s\"PATH\" ),\n", copy
			printf "        \"check-local\" => \"disable\" ) ) )\n}\n"
		}'
}

# Apache's mod_rewrite lines of the .htaccess: each route (a path
# relative to the directory there) to its program in cgi-bin/.
htaccess_rules() {
	mode_routes | awk -v ext="$1" '{
		re = $1
		sub(/^\^\//, "^", re)
		printf "RewriteRule %s cgi-bin/%s%s [L]\n", re, $2, ext
	}'
}

# mod_fcgid gives SetEnv's variables to a program as FastCGI parameters
# of each request, not in the environment it starts with, where the
# programs read APP_CONFIG: so each .fcgi is a wrapper that sets it (and
# the stack's settings) and executes the program, one request at a time.
fcgid_wrapper() {
	local n
	echo '#!/bin/sh'
	echo "# $1 under mod_fcgid: the environment it reads at start, then the program."
	printf "export APP_CONFIG='%s' APP_WORKERS=1\n" "$RT/app.conf"
	for n in $(mode_env_names); do printf "export %s='%s'\n" "$n" "${!n}"; done
	printf "exec '%s'\n" "$1"
}

# PassEnv lines of the host's Apache configuration: the stack's settings.
apache_passenv() {
	local n
	for n in $(mode_env_names); do echo "PassEnv $n"; done
}

# What a shared-hosting customer uploads, into RT/www (the document root):
# the programs as cgi-bin/<program>.cgi, or for mod_fcgid a wrapper
# cgi-bin/<program>.fcgi (fcgid_wrapper), the .htaccess, and the JSON
# error bodies under errors/.  Each program through a temporary file
# renamed over the old one, as in bin_install.
shared_install() {
	local ext=.cgi p tpl=htaccess-cgi.in
	case $MODE in cgi) ;; fcgid) ext=.fcgi; tpl=htaccess-fcgid.in ;; *) return 0 ;; esac
	mkdir -p "$RT/www/cgi-bin" "$RT/www/errors"
	for p in $(mode_routes | awk '{ print $2 }' | sort -u); do
		[ -x "$XBIN/cgi-bin/$p" ] || die "$XBIN/cgi-bin/$p is not built (make all)"
		if [ "$MODE" = fcgid ]; then
			fcgid_wrapper "$XBIN/cgi-bin/$p" >"$RT/www/cgi-bin/.$p.tmp"
			chmod 0755 "$RT/www/cgi-bin/.$p.tmp"
		else
			cmp -s "$XBIN/cgi-bin/$p" "$RT/www/cgi-bin/$p$ext" && continue
			cp -p "$XBIN/cgi-bin/$p" "$RT/www/cgi-bin/.$p.tmp"
		fi
		mv -f "$RT/www/cgi-bin/.$p.tmp" "$RT/www/cgi-bin/$p$ext"
	done
	cp "$ROOT"/httpd-conf/errors/api-error-*.html "$RT/www/errors/"
	if [ "$WEB" = apache ]; then
		awk -v conf="$RT/app.conf" -v rules="$(htaccess_rules "$ext")" '
			/^@RULES@$/ { print rules; next }
			{ gsub(/@APP_CONFIG@/, conf); print }' "$ROOT/httpd-conf/shared-hosting/$tpl" >"$RT/www/.htaccess"
	fi
	chmod -R a+rX,go-w "$RT/www"
	mkdir -p "$RT/run/apache/fcgid"
	own "$APPUSER:$APPGROUP" "$RT/run/apache/fcgid"
}

# The page (www/) into RT/www, the web server's document root, at every
# start: it reaches RT wherever the checkout is (a clone under /root, say).
# socket.io-client's browser build comes from www/node_modules (npm ci, as
# scripts/deps.sh runs it, when missing) to /vendor/.  Files are
# overwritten in place, so `make start` on a running stack refreshes them.
www_install() {
	local dist=$ROOT/www/node_modules/socket.io-client/dist
	if [ ! -s "$dist/socket.io.min.js" ] && command -v npm >/dev/null; then
		(cd "$ROOT/www" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) || true
	fi
	mkdir -p "$RT/www/vendor"
	cp -p "$ROOT/www/index.html" "$ROOT/www/app.js" "$ROOT/www/style.css" "$RT/www/"
	cp -p "$dist/socket.io.min.js" "$dist/socket.io.min.js.map" "$RT/www/vendor/" 2>/dev/null ||
	    say "stack: warning: www/node_modules lacks socket.io-client (npm ci in www/): the page has no live feed"
	chmod -R a+rX "$RT/www"
}

# Files the programs and the web server read from RT/conf, copied at every
# start (app.conf names them, so check-config looks for them): the
# contract served at /api/openapi.yaml (openapi_file), and the JSON bodies
# of the web servers' own errors (httpd-conf/errors).
conf_files() {
	cp "$ROOT/docs/openapi.yaml" "$RT/conf/openapi.yaml"
	chmod 0644 "$RT/conf/openapi.yaml"
	mkdir -p "$RT/conf/errors"
	cp "$ROOT"/httpd-conf/errors/api-error-*.html "$ROOT/httpd-conf/errors/request-id.lua" "$RT/conf/errors/"
	chmod 0755 "$RT/conf/errors"
	chmod 0644 "$RT"/conf/errors/*
}

web_start() {
	local other
	[ "$WEB" = lighttpd ] && other=apache || other=lighttpd
	pid_alive "$RT/run/$other.pid" && web_stop_one "$other"
	pid_alive "$RT/run/$WEB.pid" && return 0
	port_busy "$PORT" && die "port $PORT is already in use"
	web_conf >"$RT/conf/$WEB.conf"
	STARTED+=(web)
	case $WEB in
	lighttpd)
		lighttpd -f "$RT/conf/lighttpd.conf" || die "lighttpd did not start (see $RT/log/lighttpd-error.log)"
		;;
	apache)
		apache2 -f "$RT/conf/apache.conf" -k start || die "Apache did not start (see $RT/log/apache-error.log)"
		;;
	esac
	wait_for "$WEB on port $PORT" curl -sf -o /dev/null "http://127.0.0.1:$PORT/api/health"
}

# The web server's configuration, as web_start writes it.
web_conf() {
	case $MODE/$WEB in
	fcgi/lighttpd) render "$ROOT/httpd-conf/lighttpd.conf.in" "$(lighttpd_routes)" ;;
	fcgi/apache) render "$ROOT/httpd-conf/apache.conf.in" "$(apache_routes)" ;;
	cgi/lighttpd) render "$ROOT/httpd-conf/lighttpd.conf.in" "$(lighttpd_routes_cgi)" ;;
	bin-path/lighttpd) render "$ROOT/httpd-conf/lighttpd.conf.in" "$(lighttpd_routes_binpath)" ;;
	*/apache) render "$ROOT/httpd-conf/shared-hosting/apache-host.conf.in" "" ;;
	*) die "WEB must be lighttpd or apache" ;;
	esac
}

web_stop_one() {
	stop_pid "$RT/run/$1.pid"
}

# check-config as the programs' user, with the environment the stack
# gives them: what they would refuse, refused before anything starts.
# Its errors and warnings are printed; $1 says what did not happen.
check_config() {
	local out rc=0
	[ -x "$BIN/tools/check-config" ] || die "$BIN/tools/check-config is not built (make all)"
	out=$(as_app env APP_CONFIG="$RT/app.conf" APP_WORKERS="$WORKERS" $(push_env) \
	    ASAN_OPTIONS="log_path=$RT/log/asan/asan:detect_leaks=1:halt_on_error=1" \
	    "$XBIN/tools/check-config" 2>&1) || rc=$?
	printf '%s\n' "$out" | grep -E ': (error|warning): ' | sed 's/^/stack: /' >&2 || true
	# Not the check's own words (it could not run: runuser, the loader): say them.
	[ $rc = 0 ] || printf '%s\n' "$out" | grep -qE ': (error|warning): ' ||
	    die "$XBIN/tools/check-config as $APPUSER failed (exit $rc): $(printf '%s' "$out" | tail -n 2 | tr '\n' ' ')"
	[ $rc = 0 ] || die "$RT/app.conf: the programs would refuse it (above); $1"
}

start() {
	command -v spawn-fcgi >/dev/null || die "spawn-fcgi is missing: run make deps"
	layout
	load_ports
	secrets
	app_conf
	[ "$FAKE_LLM" = 1 ] && app_conf_fake
	# The fake issuer first: app.conf names its CA, which the check reads.
	if [ "$FAKE_JWKS" = 1 ]; then
		app_conf_jwks
		fake_jwks_start
	fi
	conf_files
	bin_install
	[ "$MODE" = fcgi ] || mode_env_init
	check_config "nothing was started"
	# The port before anything: a start that cannot end well does not begin.
	if ! pid_alive "$RT/run/lighttpd.pid" && ! pid_alive "$RT/run/apache.pid" &&
	    port_busy "$PORT"; then
		die "port $PORT is already in use: nothing was started (another PORT: make start PORT=8090)"
	fi
	[ "$FAKE_LLM" = 1 ] && fake_llm_start
	stack_env
	pg_start
	db_setup
	redis_start
	has_push && push_start
	[ "$MODE" = fcgi ] && workers_start
	www_install
	shared_install
	echo "$MODE $WEB" >"$RT/run/mode"
	web_start
	STARTED=()
	say "stack: $WEB on http://127.0.0.1:$PORT/ (VAR=$VAR$(mode_note))"
}

# The broadcaster runs where the web server can proxy to a daemon: not
# in the modes of a host that runs no daemon of yours (cgi, fcgid).
has_push() {
	{ [ "$MODE" = fcgi ] || [ "$MODE" = bin-path ]; } && redis_configured	# REDIS=0: no broadcaster
}

# The children of a process, one pid a line.
children() {
	ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true
}

# SIGHUP to a FastCGI program, and wait until it runs again: it
# executes itself anew and forks new workers (a lone worker has none:
# it is given a moment).  The old workers finish their requests.
reload_program() {
	local p=$1 pidf=$RT/run/fcgi-$1.pid pid old i kid
	pid=$(head -n 1 "$pidf")
	old=" $(children "$pid" | tr '\n' ' ')"
	kill -HUP "$pid"
	for i in $(seq 1 100); do
		sleep 0.1
		alive "$pid" || die "$p ended on SIGHUP: $(tail -n 3 "$RT/log/$p.log" | tr '\n' ' ')"
		[ "$(workers_for "$p")" -gt 1 ] || { [ "$i" -ge 3 ] && return 0; continue; }
		for kid in $(children "$pid"); do
			case $old in *" $kid "*) ;; *) return 0 ;; esac
		done
	done
	die "$p did not come back after SIGHUP (see $RT/log/$p.log)"
}

# SIGHUP to the broadcaster, and wait for it to say it read the configuration.
reload_push() {
	local log=$RT/log/push.log before i
	before=$(grep -c 'push: SIGHUP: configuration read again' "$log" || true)
	kill -HUP "$(head -n 1 "$RT/run/push/push.pid")"
	for i in $(seq 1 50); do
		sleep 0.1
		[ "$(grep -c 'push: SIGHUP: configuration read again' "$log" || true)" -gt "$before" ] && return 0
	done
	die "the broadcaster did not confirm the reload (see $log)"
}

# Apply changed settings to a running stack: check app.conf first
# (nothing is touched if the programs would refuse it), then reload
# (SIGHUP) each program whose environment is as it was, and restart
# those whose is not (WORKERS, APP_* variables) and the broadcaster when
# push_listen or the Redis settings changed; the web server restarts
# when its rendered configuration differs (PORT, WEB, BENCH).  What is
# down is started.
restart() {
	local p reloaded=() restarted=() todo=()
	[ -f "$RT/ports.env" ] || die "no stack in $VAR: make start first"
	layout
	load_ports
	secrets
	app_conf
	[ "$FAKE_LLM" = 1 ] && app_conf_fake
	conf_files
	bin_install
	[ "$MODE" = fcgi ] || mode_env_init
	check_config "nothing was restarted"
	[ "$FAKE_LLM" = 1 ] && fake_llm_start
	stack_env
	pg_start
	db_setup
	redis_start
	if ! has_push; then
		push_stop
	elif pid_alive "$RT/run/push/push.pid" &&
	    [ "$(push_fingerprint)" = "$(cat "$RT/run/push/push.started" 2>/dev/null)" ]; then
		reload_push
		reloaded+=(push)
	else
		push_stop
		push_start
		restarted+=(push)
	fi
	[ "$MODE" = fcgi ] || workers_stop
	for p in $([ "$MODE" != fcgi ] || programs); do
		if pid_alive "$RT/run/fcgi-$p.pid" &&
		    [ "$(fcgi_fingerprint "$p")" = "$(cat "$RT/run/fcgi-$p.started" 2>/dev/null)" ]; then
			reload_program "$p"
			reloaded+=("$p")
		else
			stop_pid "$RT/run/fcgi-$p.pid"
			todo+=("$p")
		fi
	done
	if [ ${#todo[@]} -gt 0 ]; then
		workers_start "${todo[*]}"
		restarted+=("${todo[@]}")
	fi
	www_install
	shared_install
	echo "$MODE $WEB" >"$RT/run/mode"
	# bin-path: lighttpd starts the programs, so it restarts them.
	if ! pid_alive "$RT/run/$WEB.pid" || ! web_conf | cmp -s - "$RT/conf/$WEB.conf" ||
	    [ "$MODE" = bin-path ]; then
		web_stop_one "$WEB"
		web_start
		restarted+=("$WEB")
	fi
	STARTED=()
	[ ${#reloaded[@]} = 0 ] || say "stack: reloaded (SIGHUP): ${reloaded[*]}"
	[ ${#restarted[@]} = 0 ] || say "stack: restarted: ${restarted[*]}"
	say "stack: $WEB on http://127.0.0.1:$PORT/ (VAR=$VAR$(mode_note))"
}

# ", MODE=cgi" after the stack's address, but for the default fcgi.
mode_note() {
	[ "$MODE" = fcgi ] || printf ', MODE=%s' "$MODE"
}

# Each part of the stack, up or down; returns 3 (as LSB status does)
# when any is down, or when there is no stack at all.
status() {
	local p f web=$WEB down=() parts=3
	if [ ! -f "$RT/ports.env" ]; then
		say "down  (no stack in $VAR)"
		return 3
	fi
	load_ports
	pid_alive "$RT/run/apache.pid" && web=apache
	pid_alive "$RT/run/lighttpd.pid" && web=lighttpd
	for p in $([ "$MODE" != fcgi ] || programs); do
		up_down "fcgi-$p" pid_alive "$RT/run/fcgi-$p.pid"
		parts=$((parts + 1))
	done
	up_down "$web" pid_alive "$RT/run/$web.pid"
	if has_push; then
		up_down push pid_alive "$RT/run/push/push.pid"
		parts=$((parts + 1))
	fi
	if redis_configured; then
		up_down redis pid_alive "$RT/run/redis/redis.pid"
	else
		parts=$((parts - 1))	# REDIS=0: no Redis
	fi
	[ ! -e "$RT/run/fake-llm.pid" ] || up_down fake-llm pid_alive "$RT/run/fake-llm.pid"
	up_down postgres as_pg "$PGBIN/pg_ctl" -D "$RT/pg" status
	[ ${#down[@]} = 0 ] && return 0
	if [ ${#down[@]} = $parts ]; then
		say "stack: the stack is down (make start)"
	else
		say "stack: down: ${down[*]}"
	fi
	return 3
}

up_down() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		say "up    $name"
	else
		say "down  $name"
		down+=("$name")
	fi
}

stop() {
	[ -f "$RT/ports.env" ] || return 0
	load_ports
	web_stop_one lighttpd
	web_stop_one apache
	workers_stop
	fake_llm_stop
	fake_jwks_stop
	push_stop
	redis_stop
	pg_stop
	rm -f "$RT/run/mode"
}

token() {
	local sub=${1:-} org=${2:-} alg
	[ -n "$sub" ] || die "usage: make token SUB=user_x [ORG=org_y]"
	[ -s "$RT/app.conf" ] || die "no stack in $VAR: run make start first"
	alg=$(conf_get jwt_alg)
	if [ "$alg" = RS256 ]; then
		APP_CONFIG=$RT/app.conf "$BIN/tools/token" --sub "$sub" ${org:+--org "$org"} \
		    --key "$RT/secrets/jwt-rs256.key" --kid "$(cat "$RT/secrets/jwt-rs256.kid")"
	else
		APP_CONFIG=$RT/app.conf "$BIN/tools/token" --sub "$sub" ${org:+--org "$org"}
	fi
}

# One event through events_publish(), as the workers publish them.
publish() {
	local tenant=${1:-} sub=${2:-} event=${3:-} data=${4:-}
	[ -n "$tenant" ] && [ -n "$event" ] ||
	    die "usage: make publish TENANT=org_x [SUB=user_y] EVENT=job:new DATA='{...}'"
	[ -s "$RT/app.conf" ] || die "no stack in $VAR: run make start first"
	APP_CONFIG=$RT/app.conf "$BIN/tools/publish" --tenant "$tenant" ${sub:+--user "$sub"} \
	    --type "$event" --data "${data:-"{}"}"
}

# Under `run`, poll-jobs every POLL_INTERVAL seconds against the
# configured Upwork (nothing to do until a tenant connects an account),
# as the crontab would; its log is log/cron.log.
poller() {
	local pid
	trap 'kill $pid 2>/dev/null; exit 0' TERM
	touch "$RT/log/cron.log"
	own "$APPUSER:$APPGROUP" "$RT/log/cron.log"
	while :; do
		as_app env APP_CONFIG="$RT/app.conf" "$XBIN/cron/poll-jobs" \
		    >>"$RT/log/cron.log" 2>&1 </dev/null || true
		sleep "$POLL_INTERVAL" &
		pid=$!
		wait $pid || true
	done
}

banner() {
	local tok job
	tok=$(token user_demo org_demo)
	job=$(psql_super -d upwork -tA -c "SELECT id FROM jobs WHERE tenant_id = 'org_demo' ORDER BY posted_at DESC LIMIT 1")
	cat <<EOF

  The page: http://127.0.0.1:$PORT/   (sign in with the demo token below)
  Upwork agent API: http://127.0.0.1:$PORT/api/   ($WEB in front, VAR=$VAR)

  Demo token (user_demo in org_demo, valid 1 hour; make token SUB=... ORG=... for others):
    $tok

  Try it:
    curl -s -H "Authorization: Bearer $tok" \\
      'http://127.0.0.1:$PORT/api/jobs?skills=postgresql,c&minBudget=40&limit=2'

  Write a proposal (the builtin provider, offline; /api/ai/proposals/stream streams it):
    curl -s -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \\
      -d '{"jobId":"$job","tone":"friendly","maxWords":200}' http://127.0.0.1:$PORT/api/ai/proposals/generate

  Realtime: Socket.IO at http://127.0.0.1:$PORT/socket.io/ (long-polling, then WebSocket),
    events at http://127.0.0.1:$PORT/api/events?topics=jobs,proposals;
    make publish TENANT=org_demo EVENT=job:new DATA='{"title":"hello"}'

  poll-jobs runs every $POLL_INTERVAL s (log/cron.log); connect Upwork first (docs/upwork.md).
  Logs: $RT/log/    Stop: Ctrl-C

EOF
}

case ${1:-} in
start) start ;;
stop) stop ;;
run)
	# Ctrl-C, kill, or the terminal closing, from the first step on:
	# stop everything.  Further signals are ignored meanwhile (make
	# exiting on the same Ctrl-C can hang up the terminal), so the stop
	# is never cut short; nor by a write to a terminal that is gone.
	POLLER=
	trap 'trap "" INT TERM HUP; say "stack: stopping"
	    [ -z "$POLLER" ] || kill $POLLER 2>/dev/null || true; stop || true; exit 0' INT TERM HUP
	start
	banner
	poller &
	POLLER=$!
	while :; do sleep 3600 & wait $! || true; done
	;;
status) status || exit $? ;;
restart) restart ;;
check-config)
	[ -s "$RT/app.conf" ] || die "no stack in $VAR: run make start first"
	load_ports
	bin_install
	check_config "nothing would start"
	say "stack: $RT/app.conf: ok"
	;;
token) shift; token "$@" ;;
publish) shift; publish "$@" ;;
push-stop) load_ports; push_stop ;;
push-start) load_ports; push_start ;;
psql) shift; load_ports; psql_super "$@" ;;
restart-workers) load_ports; workers_stop; workers_start ;;
pg-stop) load_ports; pg_stop ;;
pg-start) load_ports; pg_start ;;
redis-stop) load_ports; redis_stop ;;
redis-start) load_ports; redis_start ;;
fake-llm-start)
	FAKE_LLM=1
	layout; load_ports; secrets; app_conf; app_conf_fake; fake_llm_start; stack_env
	say "stack: fake LLM server on http://127.0.0.1:$FAKE_LLM_PORT/v1 (restart the workers to use it)"
	;;
fake-llm-stop) fake_llm_stop ;;
env) cat "$RT/stack.env" ;;
*) die "usage: $0 start|stop|restart|run|status|check-config|token SUB [ORG]|psql|pg-stop|pg-start|redis-stop|redis-start|push-stop|push-start|restart-workers|fake-llm-start|fake-llm-stop|env" ;;
esac
