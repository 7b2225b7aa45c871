#!/usr/bin/env perl
# 04-isolation.t: tenant isolation through the API and in PostgreSQL itself (RLS forced, app role without privileges).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my ($A, $B) = ('org_t_iso_a', 'org_t_iso_b');
reset_tenant($A, $B);
insert_jobs($A, map { { upwork_id => "a-$_", title => "A job $_", skills => ['shared'] } } 1 .. 5);
insert_jobs($B, map { { upwork_id => "b-$_", title => "B job $_", skills => ['shared'] } } 1 .. 3);
my $ta = token(sub => 'user_a', org => $A);
my $tb = token(sub => 'user_b', org => $B);

my $r = api(GET => '/api/jobs?skills=shared&limit=100', token => $ta);
is($r->{json}{pagination}{total}, 5, 'A sees its 5 jobs');
ok(!(grep { $_->{upworkId} !~ /^a-/ } @{ $r->{json}{data} }), 'and none of B\'s');
$r = api(GET => '/api/jobs?skills=shared&limit=100', token => $tb);
is($r->{json}{pagination}{total}, 3, 'B sees its 3 jobs');
ok(!(grep { $_->{upworkId} !~ /^b-/ } @{ $r->{json}{data} }), 'and none of A\'s');

$r = api(POST => '/api/jobs', token => $ta, json => { name => 'A private search' });
my $sid = $r->{json}{data}{id};
ok(uuid_like($sid), 'A saved a search');
$r = api(GET => '/api/job-searches', token => $tb);
ok(!(grep { $_->{id} eq $sid } @{ $r->{json}{data} }), 'B does not list it');
$r = api(DELETE => "/api/job-searches/$sid", token => $tb);
is($r->{status}, 404, 'B deleting A\'s search: 404, not 403');
is(psql("SELECT count(*) FROM job_searches WHERE id = '$sid'"), 1, 'and the search still exists');
$r = api(DELETE => "/api/job-searches/$sid", token => token(sub => 'user_a2', org => $A));
is($r->{status}, 200, 'another member of A may delete it');

# The tables that hold no tenant's data: the migrations' record, the
# rate limiters without Redis, and the tenant ids the cron binaries go
# through (sql/0008-no-redis.sql).
my $shared = q{('schema_migrations', 'rate_limits', 'upwork_limits', 'tenant_directory')};
is(psql(qq{SELECT string_agg(c.relname || '.' || a.attname, ',' ORDER BY c.relname || '.' || a.attname COLLATE "C") FROM pg_attribute a
     JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relname IN $shared AND a.attnum > 0 AND NOT a.attisdropped}),
    'rate_limits.cur,rate_limits.expires_ms,rate_limits.key,rate_limits.prev,rate_limits.win,'
    . 'schema_migrations.applied_at,schema_migrations.checksum,schema_migrations.name,schema_migrations.version,'
    . 'tenant_directory.id,upwork_limits.day,upwork_limits.key,upwork_limits.next_ms,upwork_limits.used',
    'the tables outside row-level security hold counters and tenant ids, no tenant data');

# PostgreSQL: the API's role, with no tenant set, sees nothing at all.
my @tables = split /\n/, psql(qq{
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname NOT IN $shared
     ORDER BY 1});
ok(@tables >= 7, 'tenant tables found: ' . join(', ', @tables));
# Issue 15: "sees 0 rows" proves nothing of an empty table.  So each
# table's policies are checked themselves: every one compares the
# table's tenant column with app_tenant() (NULL without a tenant, so no
# row matches), for reading and writing, and none is permissive
# otherwise; then rows of two tenants are made in every table that has
# none, and the app role sees none of them.
my %col = (tenants => 'id');
for my $t (@tables) {
    my $c = $col{$t} // 'tenant_id';
    my $pol = psql("SELECT count(*) || '|' || count(*) FILTER (WHERE permissive = 'PERMISSIVE' AND cmd = 'ALL'"
        . " AND roles = '{public}' AND qual = '($c = app_tenant())' AND with_check = '($c = app_tenant())')"
        . " FROM pg_policies WHERE schemaname = 'public' AND tablename = '$t'");
    my ($n, $good) = split /\|/, $pol;
    ok($n >= 1 && $n == $good, "$t: every policy is $c = app_tenant(), for reading and writing ($pol)");
    my $total = psql("SELECT count(*) FROM $t");
    my $seen = psql_app("SELECT count(*) FROM $t");
    ok($total > 0 || $t =~ /^(proposals|proposal_history|ai_usage|ai_spend|ai_reservations|upwork_accounts|upwork_oauth_states|idempotency_keys|events|event_heads|poll_cooldowns)$/,
        "$t has rows ($total)");
    is($seen, 0, "$t: the app role without a tenant sees 0 of its $total rows");
}
# Rows of both tenants in the tables other files may leave empty
# (reset_tenant() deletes them with the tenants).
psql(<<"SQL");
INSERT INTO users (tenant_id, id) VALUES ('$A', 'user_iso_a'), ('$B', 'user_iso_b') ON CONFLICT DO NOTHING;
INSERT INTO proposals (tenant_id, user_id, job_id)
  SELECT tenant_id, CASE tenant_id WHEN '$A' THEN 'user_iso_a' ELSE 'user_iso_b' END, min(id::text)::uuid
  FROM jobs WHERE tenant_id IN ('$A', '$B') GROUP BY tenant_id;
INSERT INTO upwork_oauth_states (tenant_id, nonce, user_id, expires_at)
  VALUES ('$A', repeat('c', 32), 'user_iso_a', now() + interval '1 hour'), ('$B', repeat('d', 32), 'user_iso_b', now() + interval '1 hour');
INSERT INTO ai_reservations (tenant_id, user_id, amount, expires_at)
  VALUES ('$A', 'user_iso_a', 1, now() + interval '1 hour'), ('$B', 'user_iso_b', 1, now() + interval '1 hour');
INSERT INTO idempotency_keys (tenant_id, user_id, method, path, key, fingerprint, locked_until, expires_at)
  VALUES ('$A', 'user_iso_a', 'POST', '/api/x', 'k', 'f', now(), now() + interval '1 hour'),
         ('$B', 'user_iso_b', 'POST', '/api/x', 'k', 'f', now(), now() + interval '1 hour');
INSERT INTO events (tenant_id, ms, seq, type, user_id, tail)
  VALUES ('$A', 1, 0, 'iso', NULL, '}'), ('$B', 1, 0, 'iso', NULL, '}') ON CONFLICT DO NOTHING;
INSERT INTO event_heads (tenant_id, ms, seq) VALUES ('$A', 1, 0), ('$B', 1, 0) ON CONFLICT DO NOTHING;
INSERT INTO poll_cooldowns (tenant_id, until) VALUES ('$A', now()), ('$B', now()) ON CONFLICT DO NOTHING;
SQL
for my $t (qw(proposals upwork_oauth_states ai_reservations idempotency_keys events event_heads poll_cooldowns)) {
    my $both = psql("SELECT count(DISTINCT tenant_id) FROM $t WHERE tenant_id IN ('$A', '$B')");
    is($both, 2, "$t: rows of both tenants seeded");
    is(psql_app("SELECT count(*) FROM $t"), 0, "$t: the app role without a tenant sees none of them");
    is(psql_app("BEGIN; SELECT set_config('app.tenant_id', '$A', true); SELECT count(DISTINCT tenant_id) || ':' || min(tenant_id)"
        . " FROM $t; COMMIT;"), "$A\n1:$A", "$t: with tenant A, only A's");
}
is(psql_app("BEGIN; SELECT set_config('app.tenant_id', '$A', true); SELECT count(*) FROM jobs; COMMIT;"),
    "$A\n5", 'with the tenant set for the transaction it sees its 5 jobs');
is(psql_app("SELECT set_config('app.tenant_id', '$A', true); SELECT count(*) FROM jobs;"),
    "$A\n0", 'set_config(..., true) does not outlive its transaction');
my ($out, $rc) = psql_app("BEGIN; SELECT set_config('app.tenant_id', '$A', true); "
    . "INSERT INTO jobs (tenant_id, upwork_id, title, budget_type, posted_at) VALUES ('$B', 'x', 'x', 'fixed', now()); COMMIT;");
ok($rc != 0 && $out =~ /row-level security/, 'inserting into another tenant is refused by RLS');
($out, $rc) = psql_app("BEGIN; SELECT set_config('app.tenant_id', '$A', true); "
    . "UPDATE jobs SET title = 'pwned' WHERE tenant_id = '$B'; COMMIT;");
is(psql("SELECT count(*) FROM jobs WHERE title = 'pwned'"), 0, 'updating another tenant\'s rows changes nothing');
if (single_role()) {
    # What one role gives up (docs/no-redis.md): it owns the tables, so
    # it could switch RLS off; tried in a transaction rolled back.
    ($out, $rc) = psql_app("BEGIN; ALTER TABLE jobs NO FORCE ROW LEVEL SECURITY; ROLLBACK;");
    is($rc, 0, 'single role: the owner could lift FORCE ROW LEVEL SECURITY (what one role gives up)');
} else {
    ($out, $rc) = psql_app("ALTER TABLE jobs DISABLE ROW LEVEL SECURITY");
    ok($rc != 0, 'the app role cannot switch RLS off');
}
($out, $rc) = psql_app("SET row_security = off; SELECT count(*) FROM jobs");
ok($rc != 0 || $out =~ /\b0$/, 'row_security = off does not bypass the policies');

# The catalog.
is(psql(qq{
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname NOT IN $shared
       AND NOT (c.relrowsecurity AND c.relforcerowsecurity)}), 0,
    'every tenant table has ENABLE and FORCE ROW LEVEL SECURITY');
is(psql(qq{
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname NOT IN $shared
       AND NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid)}), 0,
    'every tenant table has a policy');
my $role = app_role();
is(psql("SELECT rolsuper::text || rolbypassrls::text FROM pg_roles WHERE rolname = '$role'"),
    'falsefalse', "$role is neither superuser nor BYPASSRLS");
if (single_role()) {
    is(psql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        . " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relowner <> '$role'::regrole"), 0,
        "single role: $role owns every table, and FORCE binds it all the same (the counts above)");
    is(psql("SELECT count(*) FROM pg_roles WHERE rolname IN ('upwork_owner', 'upwork_app', 'upwork_scheduler')"), 0,
        'single role: no other role of ours exists');
} else {
    is(psql("SELECT count(*) FROM pg_class WHERE relowner = 'upwork_app'::regrole"), 0, 'upwork_app owns nothing');
}
SKIP: {
    skip mode_lacks('process'), 1 if mode_lacks('process');
    api(GET => '/api/jobs?limit=1', token => $ta);
    like(psql("SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity WHERE application_name = 'upwork-api'"),
        qr/^$role$/, "the workers are connected as $role");
}

# The cron binaries' tenants: found without BYPASSRLS, each tenant asked
# under its own policy; ids only.
my @prune = split /\n/, psql_app("SELECT * FROM scheduler_tenants('prune')");
ok((grep { $_ eq $A } @prune) && (grep { $_ eq $B } @prune), "scheduler_tenants('prune') lists both tenants as $role");
like(psql_app("BEGIN; SELECT count(*) > 0 FROM scheduler_tenants('prune'); SELECT count(*) FROM jobs; COMMIT;"),
    qr/^t\n0$/, 'and leaves no tenant set behind in the transaction');

done_testing;
