#!/bin/bash
# migrate.sh: upwork-api-migrate: apply the sql/NNNN-*.sql migrations a database lacks, each in its own transaction, recorded in schema_migrations; --bootstrap makes the roles and the database first.
#
# Installed as upwork-api-migrate (make install fills in the paths of SQLDIR and
# CONFIG); from a checkout it reads the checkout's sql/ and needs
# --conninfo (scripts/stack.sh runs it so for the dev stack).
#
# Two sessions.  The first only reads: which migrations schema_migrations
# records, with their checksums.  A recorded migration whose file changed,
# or one this sql/ does not have (the database is newer), is an error and
# nothing is applied.  The second applies what is pending, one
# transaction per file under an advisory lock (class 727073690), each
# re-checking schema_migrations under the lock: two migrators at once, or
# a second run, apply nothing twice.  A migration that fails is rolled
# back whole, with its file and line named, and the later ones are not
# tried.
#
# schema_migrations (version integer, name, checksum = sha256 of the file,
# applied_at) is readable by every role: max(version) is the schema
# version the programs can check.  Its older form (version text
# '0001-schema', from the old scripts/migrate.sh) is converted in place,
# adopting the current files' checksums.
#
# One role (--single-role, or detected: neither upwork_owner nor
# upwork_app exists and the connecting role is no superuser): a hosting
# panel's database, owned by the one role the programs log in as, which
# cannot create roles.  That role owns everything and runs the
# migrations; their GRANT, REVOKE and OWNER TO statements naming the
# roles of the two-role setup are left out (blank lines, so that errors
# keep their line numbers).  Row-level security still holds: every
# table has FORCE ROW LEVEL SECURITY, which binds the owner too, so the
# role must be no superuser and have no BYPASSRLS (checked).
set -euo pipefail

PROG=upwork-api-migrate
SQLDIR=@SQLDIR@
CONFIG=@CONF@
# Not filled in: running from a checkout.
case $SQLDIR in @*) SQLDIR=$(cd "$(dirname "$0")/../sql" && pwd) ;; esac
case $CONFIG in @*) CONFIG= ;; esac
LOCK=727073690

usage() {
	cat >&2 <<EOF
usage: $PROG [--bootstrap] [--status] [--conninfo CONNINFO] [--config FILE]
           [--sql-dir DIR] [--owner ROLE] [--run-as USER] [--single-role]
  Applies the migrations of the SQL directory that the database has not
  recorded in schema_migrations, in order, each in its own transaction.
  Running it again applies nothing; a recorded migration whose file has
  changed is an error.
  --bootstrap      first create the roles (upwork_owner, upwork_app,
                   upwork_scheduler) and the upwork database: a superuser's
                   job; upwork_app's password comes from APP_PASSWORD, else
                   from password= or the passfile= of db_conninfo
  --status         list applied and pending migrations, change nothing;
                   exit 3 when some are pending (1: an error)
  --conninfo STR   libpq connection (key=value) of a role allowed to create
                   objects; default: the database of db_conninfo through the
                   local socket, as the postgres user when run as root
  --config FILE    the app.conf whose db_conninfo names the database
                   (default: ${CONFIG:-none})
  --sql-dir DIR    the migrations (default: $SQLDIR)
  --owner ROLE     the role that owns the schema (default: upwork_owner)
  --run-as USER    run psql as this system user (root only)
  --single-role    one role owns the database and is what the programs log
                   in as (a hosting panel's); detected when the roles of the
                   two-role setup do not exist and the connection is no
                   superuser's (docs/no-redis.md)
EOF
	exit 2
}

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }

BOOTSTRAP=0
STATUS=0
CONNINFO=
RUN_AS=
OWNER=upwork_owner
OWNER_GIVEN=0
SINGLE=0
while [ $# -gt 0 ]; do
	case $1 in
	--bootstrap) BOOTSTRAP=1 ;;
	--status) STATUS=1 ;;
	--conninfo) [ $# -ge 2 ] || usage; CONNINFO=$2; shift ;;
	--config) [ $# -ge 2 ] || usage; CONFIG=$2; shift ;;
	--sql-dir) [ $# -ge 2 ] || usage; SQLDIR=$2; shift ;;
	--owner) [ $# -ge 2 ] || usage; OWNER=$2; OWNER_GIVEN=1; shift ;;
	--single-role) SINGLE=1 ;;
	--run-as) [ $# -ge 2 ] || usage; RUN_AS=$2; shift ;;
	-h|--help) usage ;;
	*) printf '%s: unknown argument %s\n' "$PROG" "$1" >&2; usage ;;
	esac
	shift
done
[[ $OWNER =~ ^[a-z_][a-z0-9_]*$ ]] || die "--owner must be a plain role name, not $OWNER"
[ $SINGLE = 0 ] || [ $BOOTSTRAP = 0 ] || die "--single-role and --bootstrap: one role cannot create roles; create the database in the hosting panel"
[ -d "$SQLDIR" ] || die "$SQLDIR: no such directory"

# --- the connection -----------------------------------------------------------

# The value of one keyword of a key=value conninfo (the last one given),
# quotes and backslashes undone as libpq reads them.
conninfo_get() {
	awk -v s="$1" -v want="$2" 'BEGIN {
		n = length(s); i = 1
		while (i <= n) {
			while (i <= n && substr(s, i, 1) ~ /[ \t\n]/) i++
			if (i > n) break
			k = ""
			while (i <= n && substr(s, i, 1) !~ /[ \t\n=]/) { k = k substr(s, i, 1); i++ }
			while (i <= n && substr(s, i, 1) ~ /[ \t\n]/) i++
			if (substr(s, i++, 1) != "=") exit 1
			while (i <= n && substr(s, i, 1) ~ /[ \t\n]/) i++
			v = ""
			if (substr(s, i, 1) == "\047") {
				for (i++; i <= n && substr(s, i, 1) != "\047"; i++) {
					if (substr(s, i, 1) == "\\") i++
					v = v substr(s, i, 1)
				}
				i++
			} else {
				for (; i <= n && substr(s, i, 1) !~ /[ \t\n]/; i++) {
					if (substr(s, i, 1) == "\\") i++
					v = v substr(s, i, 1)
				}
			}
			if (k == want) { val = v; found = 1 }
		}
		if (found) print val
	}'
}

# A conninfo value, quoted for libpq.
quote() {
	local v=${1//\\/\\\\}
	printf "'%s'" "${v//\'/\\\'}"
}

# db_conninfo as the programs see it: the config file's last line, then
# APP_DB_CONNINFO.
# Needed without --conninfo, and by --bootstrap for the password; the
# postgres user with --conninfo may not read it, and need not.
APP_CONNINFO=
if [ -n "$CONFIG" ] && [ -r "$CONFIG" ]; then
	APP_CONNINFO=$(sed -n 's/^[[:space:]]*db_conninfo[[:space:]]*=[[:space:]]*//p' "$CONFIG" |
	    tail -n 1 | sed 's/[[:space:]]*$//')
elif [ -n "$CONFIG" ] && { [ -z "$CONNINFO" ] || { [ $BOOTSTRAP = 1 ] && [ -z "${APP_PASSWORD:-}" ]; }; }; then
	die "$CONFIG: cannot read it (run as root, or give --conninfo and APP_PASSWORD)"
fi
APP_CONNINFO=${APP_DB_CONNINFO:-$APP_CONNINFO}
case $APP_CONNINFO in
postgres://*|postgresql://*) [ -n "$CONNINFO" ] || die "db_conninfo is a URI: give --conninfo" ;;
esac

if [ -z "$CONNINFO" ]; then
	[ -n "$APP_CONNINFO" ] || die "no database named: give --conninfo, or --config with db_conninfo"
	# The programs' database, through the local socket (a host that is
	# a directory is a socket directory), as the caller.
	db=$(conninfo_get "$APP_CONNINFO" dbname)
	CONNINFO="dbname=$(quote "${db:-upwork}")"
	port=$(conninfo_get "$APP_CONNINFO" port)
	[ -z "$port" ] || CONNINFO="$CONNINFO port=$(quote "$port")"
	host=$(conninfo_get "$APP_CONNINFO" host)
	case $host in /*) CONNINFO="$CONNINFO host=$(quote "$host")" ;; esac
	[ "$(id -u)" != 0 ] || [ -n "$RUN_AS" ] || RUN_AS=postgres
fi
case $CONNINFO in postgres://*|postgresql://*) die "--conninfo must be key=value pairs, not a URI" ;; esac
if [ -n "$RUN_AS" ] && [ "$(id -u)" != 0 ]; then
	die "--run-as needs root"
fi
DBNAME=$(conninfo_get "$CONNINFO" dbname)
DBNAME=${DBNAME:-${PGDATABASE:-upwork}}

# psql on CONNINFO plus any keyword=value given, as RUN_AS; the script on stdin.
psql_on() {
	local ci=$1
	shift
	local cmd=(psql -X -q -v ON_ERROR_STOP=1 -f - "$@" -d "$ci application_name=$PROG")
	if [ -n "$RUN_AS" ]; then
		runuser -u "$RUN_AS" -- "${cmd[@]}"
	else
		"${cmd[@]}"
	fi
}

# A hint for the failures an admin meets first.
hint() {
	case $1 in
	*"database \"$DBNAME\" does not exist"*|*"role \"$OWNER\" does not exist"*)
		say "hint: create the roles and the database first: $PROG --bootstrap (as root, or with a superuser's --conninfo)" >&2 ;;
	*"Peer authentication failed"*|*"password authentication failed"*|*"no password supplied"*)
		say "hint: connect as a superuser or the owner role: --conninfo 'host=... user=...' (as root the default is the postgres user through the local socket)" >&2 ;;
	esac
}

# --- bootstrap -----------------------------------------------------------------

if [ $BOOTSTRAP = 1 ]; then
	[ "$DBNAME" = upwork ] || die "--bootstrap creates the database upwork, but the connection names $DBNAME"
	pw=${APP_PASSWORD:-}
	if [ -z "$pw" ]; then
		pw=$(conninfo_get "$APP_CONNINFO" password)
	fi
	if [ -z "$pw" ]; then
		passfile=$(conninfo_get "$APP_CONNINFO" passfile)
		if [ -n "$passfile" ]; then
			[ -r "$passfile" ] || die "$passfile (passfile of db_conninfo): cannot read it"
			# host:port:database:user:password, \: and \\ escaped.
			pw=$(awk '!/^#/ {
				n = 0; f = ""
				for (i = 1; i <= length($0); i++) {
					c = substr($0, i, 1)
					if (c == "\\") { i++; f = f substr($0, i, 1); continue }
					if (c == ":" && n < 4) { a[++n] = f; f = ""; continue }
					f = f c
				}
				if (n == 4 && (a[4] == "upwork_app" || a[4] == "*")) { print f; exit }
			}' "$passfile")
		fi
	fi
	[ -n "$pw" ] || die "--bootstrap: no password for upwork_app (set APP_PASSWORD, or password= or passfile= in db_conninfo)"
	pw=${pw//\\/\\\\}
	out=$( { printf '%s\n' '\o /dev/null' "\\set app_password '${pw//\'/\'\'}'"
		cat "$SQLDIR/bootstrap.sql"; } | psql_on "$CONNINFO dbname=postgres" 2>&1) || {
		printf '%s\n' "$out" | sed "s/^psql:[^:]*:[0-9]*: /$PROG: bootstrap.sql: /" >&2
		hint "$out"
		exit 1
	}
	[ -z "$out" ] || printf '%s\n' "$out" | sed "s/^psql:[^:]*:[0-9]*: /$PROG: bootstrap.sql: /" >&2
	say "roles and database upwork are in place"
fi

# --- what the files and the database hold -----------------------------------

declare -A FILE_OF SUM_OF NAME_OF
VERSIONS=()
for f in "$SQLDIR"/[0-9][0-9][0-9][0-9]-*.sql; do
	[ -e "$f" ] || continue
	b=$(basename "$f" .sql)
	v=$((10#${b%%-*}))
	[ -z "${FILE_OF[$v]:-}" ] || die "two migrations numbered $v: ${FILE_OF[$v]##*/} and ${f##*/}"
	FILE_OF[$v]=$f
	NAME_OF[$v]=${b#*-}
	SUM_OF[$v]=$(sha256sum <"$f" | cut -d' ' -f1)
	VERSIONS+=("$v")
done
[ ${#VERSIONS[@]} -gt 0 ] || die "$SQLDIR holds no NNNN-*.sql migration"

state=$(psql_on "$CONNINFO" -tA -F'|' 2>&1 <<EOF
SELECT 'owner', EXISTS (SELECT FROM pg_roles WHERE rolname = '$OWNER');
SELECT 'me', current_user, rolsuper OR rolbypassrls,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname IN ('upwork_owner', 'upwork_app'))
  FROM pg_roles WHERE rolname = current_user;
SELECT to_regclass('public.schema_migrations') IS NOT NULL AS has_table,
       EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('public.schema_migrations')
               AND attname = 'checksum' AND NOT attisdropped) AS has_sum \gset
\if :has_sum
SELECT 'm', version, name, checksum, to_char(applied_at, 'YYYY-MM-DD HH24:MI:SS TZ')
  FROM schema_migrations ORDER BY version;
\elif :has_table
SELECT 'legacy', substring(version from '^[0-9]+')::integer, regexp_replace(version, '^[0-9]+-', ''),
       '', to_char(applied_at, 'YYYY-MM-DD HH24:MI:SS TZ')
  FROM schema_migrations ORDER BY 2;
\endif
SELECT 'table', :'has_table';
EOF
) || { printf '%s\n' "$state" | sed "s/^psql: error: /$PROG: /" >&2; hint "$state"; exit 1; }

HAS_TABLE=0
LEGACY=0
OWNER_EXISTS=f
ME=
ME_BYPASS=f
NO_ROLES=f
declare -A APPLIED APPLIED_SUM APPLIED_AT
while IFS='|' read -r kind a b c d; do
	case $kind in
	owner) OWNER_EXISTS=$a ;;
	me) ME=$a; ME_BYPASS=$b; NO_ROLES=$c ;;
	table) [ "$a" = t ] && HAS_TABLE=1 ;;
	m|legacy)
		[ "$kind" = legacy ] && LEGACY=1
		APPLIED[$a]=$b
		APPLIED_SUM[$a]=$c
		APPLIED_AT[$a]=$d
		;;
	esac
done <<<"$state"

if [ $SINGLE = 0 ] && [ $OWNER_GIVEN = 0 ] && [ "$NO_ROLES" = t ] && [ "$ME_BYPASS" = f ]; then
	SINGLE=1
	say "one role ($ME): neither upwork_owner nor upwork_app exists; migrating in single-role mode"
fi
if [ $SINGLE = 1 ]; then
	[ "$ME_BYPASS" = f ] || die "--single-role: $ME is a superuser or has BYPASSRLS, so row-level security would not apply to the programs: connect as the database's own role"
	OWNER=$ME
elif [ "$OWNER_EXISTS" != t ]; then
	say "role $OWNER does not exist" >&2
	hint "role \"$OWNER\" does not exist"
	exit 1
fi

file_name() { printf '%04d-%s.sql' "$1" "${NAME_OF[$1]:-${APPLIED[$1]}}"; }

# Recorded migrations must match their files, unchanged.
bad=0
for v in "${!APPLIED[@]}"; do
	if [ -z "${FILE_OF[$v]:-}" ]; then
		say "the database records migration $(file_name "$v"), which $SQLDIR does not have: the database is newer than these migrations" >&2
		bad=1
	elif [ "${APPLIED[$v]}" != "${NAME_OF[$v]}" ]; then
		say "migration $v was applied as $(printf '%04d-%s.sql' "$v" "${APPLIED[$v]}"), but the file is now $(file_name "$v")" >&2
		bad=1
	elif [ -n "${APPLIED_SUM[$v]}" ] && [ "${APPLIED_SUM[$v]}" != "${SUM_OF[$v]}" ]; then
		say "$(file_name "$v") changed after it was applied (sha256 ${APPLIED_SUM[$v]:0:12}... then, ${SUM_OF[$v]:0:12}... now): an applied migration must not change; write a new one" >&2
		bad=1
	fi
done
[ $bad = 0 ] || exit 1

PENDING=()
for v in "${VERSIONS[@]}"; do
	[ -n "${APPLIED[$v]:-}" ] || PENDING+=("$v")
done
latest() {
	local v max=0
	for v in "${!APPLIED[@]}"; do [ "$v" -gt "$max" ] && max=$v; done
	echo "$max"
}

if [ $STATUS = 1 ]; then
	for v in "${VERSIONS[@]}"; do
		if [ -n "${APPLIED[$v]:-}" ]; then
			printf '%-36s applied %s\n' "$(file_name "$v")" "${APPLIED_AT[$v]}"
		else
			printf '%-36s pending\n' "$(file_name "$v")"
		fi
	done
	[ ${#PENDING[@]} = 0 ] || { say "database $DBNAME: ${#PENDING[@]} pending" >&2; exit 3; }
	say "database $DBNAME is up to date at schema version $(latest)"
	exit 0
fi

if [ ${#PENDING[@]} = 0 ] && [ $HAS_TABLE = 1 ] && [ $LEGACY = 0 ]; then
	say "database $DBNAME is up to date at schema version $(latest) ($(file_name "$(latest)"))"
	exit 0
fi

# --- the apply session ------------------------------------------------------------

# The script is built in memory, its line numbers noted per file so that
# psql's errors can name the file and line they come from.
SCRIPT=
LINES=0
MAP=
emit() {
	local l
	for l in "$@"; do
		SCRIPT+=$l$'\n'
		LINES=$((LINES + 1))
	done
}
# Single-role: the statements that name the two-role setup's roles
# (GRANT ... TO upwork_app, ALTER ... OWNER TO upwork_scheduler, ...)
# become blank lines; the rest is the file as it is.
single_role_filter() {
	awk '
	function flush(   i) {
		for (i = 1; i <= nb; i++)
			print (drop ? "" : buf[i])
		nb = 0; drop = 0; open = 0
	}
	{
		if (!open && $0 ~ /^[[:space:]]*(GRANT|REVOKE|ALTER[[:space:]]+(FUNCTION|TABLE|SCHEMA|ROLE))[[:space:]]/)
			open = 1
		if (!open) { print; next }
		buf[++nb] = $0
		if ($0 ~ /upwork_(app|owner|scheduler)/ && ($0 ~ /(TO|FROM)[[:space:]]+upwork_/ || $0 ~ /OWNER[[:space:]]+TO/ || $0 ~ /ROLE[[:space:]]+upwork_/))
			drop = 1
		if ($0 ~ /;[[:space:]]*(--.*)?$/) flush()
	}
	END { if (nb) flush() }'
}
emit_file() {
	local f=$1 body n
	if [ $SINGLE = 1 ]; then
		body=$(single_role_filter <"$f"; printf x)
	else
		body=$(cat "$f"; printf x)
	fi
	body=${body%x}
	[ -z "$body" ] || [ "${body: -1}" = $'\n' ] || body+=$'\n'
	n=$(printf '%s' "$body" | tr -dc '\n' | wc -c)
	MAP+="$((LINES + 1)) $((LINES + n)) ${f##*/}"$'\n'
	SCRIPT+=$body
	LINES=$((LINES + n))
}

emit '\o /dev/null' 'SET client_min_messages = warning;'
if [ $HAS_TABLE = 0 ] || [ $LEGACY = 1 ]; then
	emit 'BEGIN;' "SELECT pg_advisory_xact_lock($LOCK);" "SET LOCAL ROLE $OWNER;" \
	    'CREATE TABLE IF NOT EXISTS schema_migrations (' \
	    '    version     integer PRIMARY KEY CHECK (version > 0),' \
	    '    name        text NOT NULL,' \
	    '    checksum    text NOT NULL,' \
	    '    applied_at  timestamptz NOT NULL DEFAULT now()' \
	    ');'
	if [ $LEGACY = 1 ]; then
		# The old table: version text '0001-schema', no name, no checksum.
		emit "DO \$\$ BEGIN" \
		    "IF (SELECT atttypid FROM pg_attribute WHERE attrelid = 'schema_migrations'::regclass AND attname = 'version') = 'text'::regtype THEN" \
		    '    ALTER TABLE schema_migrations ADD COLUMN name text, ADD COLUMN checksum text;' \
		    "    UPDATE schema_migrations SET name = regexp_replace(version, '^[0-9]+-', '');" \
		    "    ALTER TABLE schema_migrations ALTER COLUMN version TYPE integer USING substring(version from '^[0-9]+')::integer;" \
		    'END IF; END $$;'
		for v in "${!APPLIED[@]}"; do
			emit "UPDATE schema_migrations SET checksum = '${SUM_OF[$v]}' WHERE version = $v AND checksum IS NULL;"
		done
		emit 'ALTER TABLE schema_migrations ALTER COLUMN name SET NOT NULL, ALTER COLUMN checksum SET NOT NULL,' \
		    '    ADD CONSTRAINT schema_migrations_version_check CHECK (version > 0);'
	fi
	emit "COMMENT ON TABLE schema_migrations IS 'The migrations of sql/ applied to this database, one row each (upwork-api-migrate); max(version) is the schema version.';" \
	    "COMMENT ON COLUMN schema_migrations.version IS 'The number of the file (sql/NNNN-name.sql).';" \
	    "COMMENT ON COLUMN schema_migrations.name IS 'The rest of the file name, without .sql.';" \
	    "COMMENT ON COLUMN schema_migrations.checksum IS 'SHA-256 of the file as applied; a file that changes afterwards is refused.';" \
	    "COMMENT ON COLUMN schema_migrations.applied_at IS 'When it was applied.';" \
	    'GRANT SELECT ON schema_migrations TO PUBLIC;' \
	    'COMMIT;'
	[ $LEGACY = 0 ] || emit "\\echo $PROG: schema_migrations converted to its new form (the checksums of the ${#APPLIED[@]} applied files adopted)"
fi
for v in "${PENDING[@]}"; do
	emit 'BEGIN;' "SELECT pg_advisory_xact_lock($LOCK);" \
	    "SELECT NOT EXISTS (SELECT FROM schema_migrations WHERE version = $v) AS todo \\gset" \
	    '\if :todo' "SET LOCAL ROLE $OWNER;"
	emit_file "${FILE_OF[$v]}"
	emit "SET LOCAL ROLE $OWNER;" \
	    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($v, '${NAME_OF[$v]}', '${SUM_OF[$v]}');" \
	    '\endif' 'COMMIT;' \
	    '\if :todo' "\\echo $PROG: applied $(file_name "$v")" '\else' \
	    "\\echo $PROG: $(file_name "$v") was applied meanwhile by another run" '\endif'
done
emit "SELECT max(version) AS latest FROM schema_migrations \\gset" \
    "\\echo $PROG: database $DBNAME is at schema version :latest"

# psql's "psql:<stdin>:N: ERROR: ..." becomes "FILE:LINE: ERROR: ...".
set +e
printf '%s' "$SCRIPT" | psql_on "$CONNINFO" 2>&1 | awk -v map="$MAP" -v prog="$PROG" '
	BEGIN { n = split(map, m, "\n") }
	match($0, /^psql:<stdin>:[0-9]+: /) {
		line = substr($0, 14, RLENGTH - 15) + 0
		rest = substr($0, RLENGTH + 1)
		where = "(migrate script line " line ")"
		for (i = 1; i <= n; i++) {
			split(m[i], r, " ")
			if (line >= r[1] && line <= r[2]) where = r[3] ":" (line - r[1] + 1)
		}
		print prog ": " where ": " rest > "/dev/stderr"
		next
	}
	/^upwork-api-migrate: / { print; next }
	{ print > "/dev/stderr" }'
rc=${PIPESTATUS[1]}
set -e
[ "$rc" = 0 ] || die "stopped: the migration named above was rolled back; nothing after it was tried"
