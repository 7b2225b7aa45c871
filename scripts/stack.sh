#!/bin/bash
# stack.sh: start, stop and inspect one private stack (PostgreSQL, Redis, FastCGI workers, lighttpd or Apache) under VAR.
#
# Usage: scripts/stack.sh start|stop|run|status|token SUB [ORG]|psql [args]
#                         |publish TENANT SUB EVENT DATA
#                         |pg-stop|pg-start|redis-stop|redis-start
#                         |push-stop|push-start|restart-workers
#                         |fake-llm-start|fake-llm-stop|env
# Environment: PORT (8080), VAR (./var), WEB (lighttpd|apache),
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
# `run` (120).
#
# Everything lives under VAR: several stacks with different PORT and VAR
# run side by side.  As root, PostgreSQL runs as the postgres user and
# Redis, the workers and the web server's children as www-data.  When
# those users cannot reach VAR (a checkout under /root, say) or its
# socket paths would be too long, the runtime files live in
# /tmp/upw-<hash of VAR> and VAR/rt points there.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8080}
VAR=${VAR:-./var}
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

case $BUILD in /*) BIN=$BUILD ;; *) BIN=$ROOT/$BUILD ;; esac
mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

say() { printf '%s\n' "$*" >&2 || true; }
die() { say "stack: $*"; exit 1; }

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

as_pg() { if [ $IS_ROOT = 1 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_app() { if [ $IS_ROOT = 1 ]; then runuser -u "$APPUSER" -- "$@"; else "$@"; fi; }
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
	mkdir -p "$RT/run/fcgi" "$RT/run/pg" "$RT/run/redis" "$RT/run/push" "$RT/run/apache" "$RT/log/asan" \
	    "$RT/conf" "$RT/www" "$RT/redis" "$RT/secrets" "$RT/state"
	chmod 0755 "$RT/run" "$RT/conf" "$RT/www"
	chmod 0775 "$RT/log"
	own "root:$APPGROUP" "$RT/log"
	own "$PGOS" "$RT/run/pg"
	own "$APPUSER:$APPGROUP" "$RT/run/fcgi" "$RT/run/redis" "$RT/run/push" "$RT/redis" "$RT/log/asan" "$RT/state"
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

# The workers' config file: written once, then the admin's to edit.
app_conf() {
	local f=$RT/app.conf
	[ -s "$f" ] && return 0
	{
		echo "# app.conf: configuration of the FastCGI workers of this stack (see README.md, Configuration)."
		echo "db_conninfo = host=$RT/run/pg port=$PG_PORT dbname=upwork user=upwork_app password=$(cat "$RT/secrets/db-app.password")"
		echo "redis_socket = $RT/run/redis/redis.sock"
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
		if [ -n "$UPWORK_URL" ]; then
			echo "upwork_graphql_url = $UPWORK_URL/graphql"
			echo "upwork_authorize_url = $UPWORK_URL/oauth2/authorize"
			echo "upwork_token_url = $UPWORK_URL/oauth2/token"
		fi
	} >"$f"
	own "root:$APPGROUP" "$f"
	chmod 0640 "$f"
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
PG_HOST=$RT/run/pg
PG_PORT=$PG_PORT
PG_SUPERUSER=$PGOS
REDIS_SOCKET=$RT/run/redis/redis.sock
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
		cat >"$RT/pg/pg_hba.conf" <<EOF
# Written by scripts/stack.sh: the superuser by OS identity, everyone else by password.
local   all   $PGOS                   peer
local   all   all                     scram-sha-256
host    all   all   127.0.0.1/32      scram-sha-256
EOF
	fi
	if ! as_pg "$PGBIN/pg_ctl" -D "$RT/pg" status >/dev/null 2>&1; then
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
	local as=()
	[ $IS_ROOT = 1 ] && as=(--run-as "$PGOS")
	APP_PASSWORD=$(cat "$RT/secrets/db-app.password") "$ROOT/scripts/migrate.sh" --bootstrap "${as[@]}" \
	    --conninfo "host=$RT/run/pg port=$PG_PORT user=$PGOS dbname=upwork" >/dev/null || die "migrations failed"
	if [ "$(psql_super -d upwork -tA -c "SELECT count(*) FROM tenants WHERE id = 'org_demo'")" = 0 ]; then
		cat "$ROOT/sql/demo/generator.sql" "$ROOT/sql/demo/demo-data.sql" | psql_super -d upwork >/dev/null ||
		    die "demo data failed to load"
		psql_super -d upwork -c "VACUUM ANALYZE" >/dev/null
	fi
}

redis_start() {
	pid_alive "$RT/run/redis/redis.pid" && return 0
	cat >"$RT/conf/redis.conf" <<EOF
# Written by scripts/stack.sh.
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
unixsocket $RT/run/redis/redis.sock
unixsocketperm 770
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
	as_app redis-server "$RT/conf/redis.conf" || die "Redis did not start"
	wait_for Redis redis-cli -s "$RT/run/redis/redis.sock" ping
}

redis_stop() {
	stop_pid "$RT/run/redis/redis.pid"
}

# The broadcaster (push/): as the app user, on 127.0.0.1:PUSH_PORT; it
# writes its own pid file.  cors_origins defaults to this stack's own
# origin unless app.conf sets it.  APP_PUSH_* in the environment pass
# through (the tests shorten timeouts that way).
push_start() {
	local pidf=$RT/run/push/push.pid origins=()
	pid_alive "$pidf" && return 0
	[ -x "$BIN/push/broadcaster" ] || die "$BIN/push/broadcaster is not built (make all)"
	grep -Eq '^[[:space:]]*cors_origins[[:space:]]*=' "$RT/app.conf" ||
	    origins=("APP_CORS_ORIGINS=http://127.0.0.1:$PORT,http://localhost:$PORT")
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	as_app env APP_CONFIG="$RT/app.conf" APP_PUSH_LISTEN="127.0.0.1:$PUSH_PORT" "${origins[@]}" \
	    ASAN_OPTIONS="log_path=$RT/log/asan/asan:detect_leaks=1:halt_on_error=1" \
	    UBSAN_OPTIONS="log_path=$RT/log/asan/ubsan:print_stacktrace=1:halt_on_error=1" \
	    "$BIN/push/broadcaster" -P "$pidf" </dev/null >>"$RT/log/push.log" 2>&1 &
	wait_for "the broadcaster on port $PUSH_PORT" push_up "$pidf"
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
	node "$ROOT/tests/fake-openai.js" --port "$FAKE_LLM_PORT" --key-file "$k" \
	    --pid-file "$RT/run/fake-llm.pid" >>"$RT/log/fake-llm.log" 2>&1 &
	wait_for "the fake LLM server" curl -sf -o /dev/null "http://127.0.0.1:$FAKE_LLM_PORT/__fake/log"
}

fake_llm_stop() {
	stop_pid "$RT/run/fake-llm.pid"
}

workers_start() {
	local p sock pidf ids=() origins=()
	[ $IS_ROOT = 1 ] && ids=(-U "$APPUSER" -G "$APPGROUP" -u "$APPUSER" -g "$APPGROUP")
	# The same CORS allow-list as the broadcaster's (push_start).
	grep -Eq '^[[:space:]]*cors_origins[[:space:]]*=' "$RT/app.conf" ||
	    origins=("APP_CORS_ORIGINS=http://127.0.0.1:$PORT,http://localhost:$PORT")
	for p in $(programs); do
		sock=$RT/run/fcgi/$p.sock
		pidf=$RT/run/fcgi-$p.pid
		pid_alive "$pidf" && continue
		[ -x "$BIN/cgi-bin/$p" ] || die "$BIN/cgi-bin/$p is not built (make all)"
		rm -f "$sock"
		# -n: spawn-fcgi execs the program, whose stderr (its JSON log)
		# must reach the log file; spawn-fcgi's own fork would send it
		# to /dev/null.  setsid: Ctrl-C on a terminal reaches the stack
		# script, which stops everything in order, not the workers.
		env APP_CONFIG="$RT/app.conf" APP_WORKERS="$(workers_for "$p")" "${origins[@]}" \
		    ASAN_OPTIONS="log_path=$RT/log/asan/asan:detect_leaks=1:halt_on_error=1" \
		    UBSAN_OPTIONS="log_path=$RT/log/asan/ubsan:print_stacktrace=1:halt_on_error=1" \
		    setsid spawn-fcgi -n -s "$sock" -M 0660 "${ids[@]}" -- "$BIN/cgi-bin/$p" \
		    </dev/null >>"$RT/log/$p.log" 2>&1 &
		echo $! >"$pidf"
	done
	for p in $(programs); do
		wait_for "FastCGI $p" test -S "$RT/run/fcgi/$p.sock"
	done
	# A program that cannot start (a bad config value) exits at once.
	sleep 0.2
	for p in $(programs); do
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
	awk -v port="$PORT" -v rt="$RT" -v lu="$lu" -v au="$au" -v routes="$routes" '
		/^@ROUTES@$/ { print routes; next }
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

web_start() {
	local other
	[ "$WEB" = lighttpd ] && other=apache || other=lighttpd
	pid_alive "$RT/run/$other.pid" && web_stop_one "$other"
	pid_alive "$RT/run/$WEB.pid" && return 0
	port_busy "$PORT" && die "port $PORT is already in use"
	# The contract, served at /api/openapi.yaml (openapi_file).
	cp "$ROOT/docs/openapi.yaml" "$RT/conf/openapi.yaml"
	chmod 0644 "$RT/conf/openapi.yaml"
	# The JSON bodies of the web servers' own errors (httpd-conf/errors).
	mkdir -p "$RT/conf/errors"
	cp "$ROOT"/httpd-conf/errors/api-error-*.html "$ROOT/httpd-conf/errors/request-id.lua" "$RT/conf/errors/"
	chmod 0755 "$RT/conf/errors"
	chmod 0644 "$RT"/conf/errors/*
	case $WEB in
	lighttpd)
		render "$ROOT/httpd-conf/lighttpd.conf.in" "$(lighttpd_routes)" >"$RT/conf/lighttpd.conf"
		lighttpd -f "$RT/conf/lighttpd.conf" || die "lighttpd did not start (see $RT/log/lighttpd-error.log)"
		;;
	apache)
		render "$ROOT/httpd-conf/apache.conf.in" "$(apache_routes)" >"$RT/conf/apache.conf"
		apache2 -f "$RT/conf/apache.conf" -k start || die "Apache did not start (see $RT/log/apache-error.log)"
		;;
	*) die "WEB must be lighttpd or apache" ;;
	esac
	wait_for "$WEB on port $PORT" curl -sf -o /dev/null "http://127.0.0.1:$PORT/api/health"
}

web_stop_one() {
	stop_pid "$RT/run/$1.pid"
}

start() {
	command -v spawn-fcgi >/dev/null || die "spawn-fcgi is missing: run make deps"
	layout
	load_ports
	secrets
	app_conf
	if [ "$FAKE_LLM" = 1 ]; then
		app_conf_fake
		fake_llm_start
	fi
	if [ "$FAKE_JWKS" = 1 ]; then
		app_conf_jwks
		fake_jwks_start
	fi
	stack_env
	pg_start
	db_setup
	redis_start
	push_start
	workers_start
	www_install
	web_start
	say "stack: $WEB on http://127.0.0.1:$PORT/ (VAR=$VAR)"
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
		as_app env APP_CONFIG="$RT/app.conf" "$BIN/cron/poll-jobs" \
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
status)
	for f in "$RT"/run/*.pid "$RT"/run/*/*.pid; do
		[ -e "$f" ] || continue
		if pid_alive "$f"; then say "up    $(basename "$f" .pid)"; else say "down  $(basename "$f" .pid)"; fi
	done
	[ -f "$RT/ports.env" ] && { load_ports; as_pg "$PGBIN/pg_ctl" -D "$RT/pg" status >/dev/null 2>&1 && say "up    postgres" || say "down  postgres"; }
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
*) die "usage: $0 start|stop|run|status|token SUB [ORG]|psql|pg-stop|pg-start|redis-stop|redis-start|restart-workers|fake-llm-start|fake-llm-stop|env" ;;
esac
