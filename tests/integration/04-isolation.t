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

# PostgreSQL: the API's role, with no tenant set, sees nothing at all.
my @tables = split /\n/, psql(q{
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
     ORDER BY 1});
ok(@tables >= 7, 'tenant tables found: ' . join(', ', @tables));
for my $t (@tables) {
    my $total = psql("SELECT count(*) FROM $t");
    my $seen = psql_app("SELECT count(*) FROM $t");
    # Tables other test files fill (or not) meanwhile; 50-upwork-oauth.t checks its own.
    ok($total > 0 || $t =~ /^(proposals|proposal_history|ai_usage|ai_spend|ai_reservations|upwork_accounts|upwork_oauth_states)$/, "$t has rows ($total)");
    is($seen, 0, "$t: the app role without a tenant sees 0 rows");
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
($out, $rc) = psql_app("ALTER TABLE jobs DISABLE ROW LEVEL SECURITY");
ok($rc != 0, 'the app role cannot switch RLS off');
($out, $rc) = psql_app("SET row_security = off; SELECT count(*) FROM jobs");
ok($rc != 0 || $out =~ /\b0$/, 'row_security = off does not bypass the policies');

# The catalog.
is(psql(q{
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
       AND NOT (c.relrowsecurity AND c.relforcerowsecurity)}), 0,
    'every table has ENABLE and FORCE ROW LEVEL SECURITY');
is(psql(q{
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
       AND NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid)}), 0,
    'every table has a policy');
is(psql("SELECT rolsuper::text || rolbypassrls::text FROM pg_roles WHERE rolname = 'upwork_app'"),
    'falsefalse', 'upwork_app is neither superuser nor BYPASSRLS');
is(psql("SELECT count(*) FROM pg_class WHERE relowner = 'upwork_app'::regrole"), 0, 'upwork_app owns nothing');
SKIP: {
    skip mode_lacks('process'), 1 if mode_lacks('process');
    api(GET => '/api/jobs?limit=1', token => $ta);
    like(psql("SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity WHERE application_name = 'upwork-api'"),
        qr/^upwork_app$/, 'the workers are connected as upwork_app');
}

done_testing;
