#!/usr/bin/env perl
# 99-schema.t: a database older than the programs: workers answer 503 with a clear log line (no crash loop), cron binaries and check-config --db refuse at start; migrated again, the workers serve without a restart.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;
use UpworkTest;

my $s = stack();
my $tok = token(sub => 'user_schema', org => 'org_demo');
# The version this build needs: the highest sql/NNNN-*.sql (the Makefile compiles it in).
# The version before it is the next highest file (the numbers may skip one).
my ($need, $old) = sort { $b <=> $a } map { m{/0*(\d+)-[^/]*\.sql$} ? $1 : () } glob("$s->{ROOT}/sql/[0-9]*-*.sql");
ok($need > 1, "this build needs schema version $need");

is(api(GET => '/api/jobs?limit=1', token => $tok)->{status}, 200, 'before: 200');
is(psql('SELECT max(version) FROM schema_migrations') =~ s/\s+//gr, $need, "the database records version $need");
# The programs run from XBIN (a copy in RT/bin when www-data cannot reach BIN).
my $xbin = $s->{XBIN} || $s->{BIN};
my $workers = sub { join ' ', sort split ' ', `pgrep -f '^$xbin/cgi-bin/jobs\$'` };
my $before = $workers->();
my $log = "$s->{RT}/log/jobs.log";
my $log_size = -s $log;

# The database goes back a version: the last migration unrecorded, and
# the workers' sessions ended, as a restore from an older dump would.
my $row = psql("SELECT name || '|' || checksum || '|' || applied_at FROM schema_migrations WHERE version = $need");
chomp $row;
my ($name, $sum, $at) = split /\|/, $row;
psql("DELETE FROM schema_migrations WHERE version = $need");
sub kick { psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'upwork-api'") }
kick();

for my $i (1 .. 3) {
    my $r = api(GET => '/api/jobs?limit=1', token => $tok, headers => { 'Cache-Control' => 'no-cache' });
    is($r->{status}, 503, "schema $old, request $i: 503");
    is($r->{json}{code}, 'service_unavailable', "request $i: the JSON error");
    like($r->{json}{error} . ' ' . ($r->{json}{details} // ''), qr/schema/, "request $i: which says the schema is the reason");
}
my $r = api(GET => '/api/health');
is($r->{status}, 503, '/api/health: 503');
like($r->{json}{error} // '', qr/schema is version $old, this program needs $need/, 'it says which versions') or diag $r->{body};

my $lines = do { open my $fh, '<', $log or die; seek $fh, $log_size, 0; local $/; <$fh> };
my @said = $lines =~ /(the database schema is version $old, this program needs $need: apply the migrations \(upwork-api-migrate\))/g;
ok(@said >= 1, 'the log says why, what the versions are, and what to run');
ok(@said <= 2 * 2, 'once a minute per worker, not once per request (' . scalar(@said) . ' lines)');
is($workers->(), $before, 'the same workers: no crash, no restart loop');

# The cron binaries and check-config --db refuse to start.
my $c = run_cron('prune', args => ['--dry-run']);
is($c->{exit}, 1, 'prune: exit 1');
like($c->{msgs}, qr/schema is version $old, this program needs $need/, 'saying why');
my $out = `APP_CONFIG=$s->{RT}/app.conf $s->{BIN}/tools/check-config --db 2>&1`;
isnt($? >> 8, 0, 'check-config --db: non-zero');
like($out, qr/schema is version $old, this program needs $need/, 'saying why') or diag $out;

# Migrated again (the row back, as upwork-api-migrate would write it):
# the workers serve again by themselves.
psql("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($need, '$name', '$sum', '$at')");
my $ok = 0;
for (1 .. 50) {
    last if ($ok = api(GET => '/api/jobs?limit=1', token => $tok, headers => { 'Cache-Control' => 'no-cache' })->{status} == 200);
    select(undef, undef, undef, 0.1);
}
ok($ok, 'migrated: 200 again, within a few seconds');
is(api(GET => '/api/health')->{status}, 200, '/api/health: 200');
is($workers->(), $before, 'still the same workers');
$out = `APP_CONFIG=$s->{RT}/app.conf $s->{BIN}/tools/check-config --db 2>&1`;
is($? >> 8, 0, 'check-config --db: 0') or diag $out;
like($out, qr/schema: version $need or newer/, 'and says so');
is(run_cron('prune', args => ['--dry-run'])->{exit}, 0, 'prune runs again');

done_testing;
