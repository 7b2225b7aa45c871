#!/usr/bin/env perl
# 17-single-role.t: upwork-api-migrate with one database role (the noredis pass): the mode detected, a superuser or BYPASSRLS role refused, --bootstrap refused, and what the role owns.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

plan skip_all => 'a stack with one database role (DB_ROLES=single: the noredis pass)' unless single_role();

my $s = stack();
my $role = app_role();
my $pw = ApiTest::slurp("$s->{RT}/secrets/db-app.password");
my $mig = "$s->{ROOT}/scripts/migrate.sh";
my $ci = "host=$s->{PG_HOST} port=$s->{PG_PORT} dbname=upwork";
sub run { my $out = `$_[0] 2>&1`; return ($out, $? >> 8) }

my ($out, $rc) = run("$mig --conninfo '$ci user=$role password=$pw'");
is($rc, 0, 'migrate as the one role, without --single-role: exit 0');
like($out, qr/one role \($role\): neither upwork_owner nor upwork_app exists; migrating in single-role mode/,
    'the mode is detected and said');
like($out, qr/is up to date at schema version \d+/, 'and nothing is pending');

($out, $rc) = run("$mig --status --single-role --conninfo '$ci user=$role password=$pw'");
is($rc, 0, '--status --single-role: exit 0');
like($out, qr/0008-no-redis\.sql\s+applied/, 'lists 0008-no-redis.sql applied');

my $as = $> == 0 ? "--run-as $s->{PG_SUPERUSER}" : '';
($out, $rc) = run("$mig --single-role $as --conninfo '$ci user=$s->{PG_SUPERUSER}'");
isnt($rc, 0, '--single-role as a superuser: refused');
like($out, qr/is a superuser or has BYPASSRLS, so row-level security would not apply/, 'saying why');

($out, $rc) = run("$mig --single-role --bootstrap --conninfo '$ci user=$role password=$pw'");
isnt($rc, 0, '--single-role with --bootstrap: refused');
like($out, qr/one role cannot create roles/, 'saying why');

is(psql("SELECT rolcreaterole::text || rolcreatedb::text || rolsuper::text || rolbypassrls::text"
    . " FROM pg_roles WHERE rolname = '$role'"), 'falsefalsefalsefalse',
    "$role may not create roles or databases, is no superuser, has no BYPASSRLS: a hosting panel's role");
is(psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'upwork'"), $role, "$role owns the database");
is(psql("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    . " WHERE n.nspname = 'public' AND p.prosecdef"), 0, 'no SECURITY DEFINER function');
like(psql_app("SELECT string_agg(t, ',' ORDER BY t) FROM scheduler_tenants('prune') t"), qr/\borg_demo\b.*\borg_other\b/,
    'cron\'s tenants, found by the role without BYPASSRLS');

done_testing;
