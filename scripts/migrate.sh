#!/bin/sh
# migrate.sh: print the SQL that bootstraps roles and applies every pending sql/NNNN-*.sql; pipe it into psql as a superuser.
#
# Usage: APP_PASSWORD=secret scripts/migrate.sh |
#            psql -X -q -v ON_ERROR_STOP=1 -d postgres
#
# One psql session: sql/bootstrap.sql (roles, the upwork database,
# schema_migrations), then each migration in its own transaction, run as
# upwork_owner.  An advisory lock serialises concurrent migrators and
# each migration re-checks schema_migrations under it, so running this
# again, or twice at once, applies nothing twice.
set -eu
cd "$(dirname "$0")/.."
: "${APP_PASSWORD:?APP_PASSWORD must be set}"

# dash's echo would interpret the backslashes of psql's meta-commands.
line() { printf '%s\n' "$@"; }

line '\o /dev/null' "\\set app_password '$APP_PASSWORD'"
cat sql/bootstrap.sql
for f in sql/[0-9][0-9][0-9][0-9]-*.sql; do
	v=$(basename "$f" .sql)
	line "BEGIN;"
	line "SELECT pg_advisory_xact_lock(727073690);"
	line "SELECT NOT EXISTS (SELECT FROM schema_migrations WHERE version = '$v') AS todo \\gset"
	line "\\if :todo"
	line "SET LOCAL ROLE upwork_owner;"
	cat "$f"
	line ""
	line "RESET ROLE;"
	line "INSERT INTO schema_migrations (version) VALUES ('$v');"
	line "\\echo migrate: applied $v"
	line "\\endif"
	line "COMMIT;"
done
