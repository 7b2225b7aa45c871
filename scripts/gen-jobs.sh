#!/bin/sh
# gen-jobs.sh: add N generated jobs (and N/50 clients) to a tenant of a running stack, for benchmarks.
#
# Usage: VAR=./var scripts/gen-jobs.sh TENANT N [SEED]
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: scripts/gen-jobs.sh TENANT N [SEED]" >&2; exit 2; }
tenant=$1 n=$2 seed=${3:-7}
case $tenant in *[!A-Za-z0-9_.:@\|-]*) echo "gen-jobs: bad tenant id" >&2; exit 2 ;; esac
case $n$seed in *[!0-9]*) echo "gen-jobs: N and SEED are numbers" >&2; exit 2 ;; esac
clients=$((n / 50 + 1))
{
	cat sql/demo/generator.sql
	echo "INSERT INTO tenants (id, kind) VALUES ('$tenant', 'org') ON CONFLICT DO NOTHING;"
	echo "SELECT pg_temp.demo_clients('$tenant', $clients, $seed);"
	echo "SELECT pg_temp.demo_jobs('$tenant', $n, $seed, $clients);"
	# The count deltas of the batches, folded as poll-jobs would (every tenant's: superuser).
	echo "SELECT job_counts_compact();"
} | scripts/stack.sh psql -d upwork >/dev/null
# In a session of its own: run in the loading session, VACUUM left the
# visibility map unset and index-only scans visited the heap.  Another
# snapshot open meanwhile (autovacuum's own ANALYZE of the new rows) has
# the same effect, so VACUUM again until the map covers the tables:
# without it the skills count reads 5,000 heap pages instead of none.
i=0
while :; do
	scripts/stack.sh psql -d upwork -c "VACUUM ANALYZE jobs, job_skills, clients" >/dev/null
	[ "$(scripts/stack.sh psql -d upwork -tA -c "SELECT bool_and(relallvisible >= relpages * 0.95)
	    FROM pg_class WHERE relname IN ('jobs', 'job_skills', 'clients')")" = t ] && break
	i=$((i + 1))
	[ $i -lt 10 ] || { echo "gen-jobs: the visibility map stays unset; index-only scans will read the heap" >&2; break; }
	sleep 1
done
