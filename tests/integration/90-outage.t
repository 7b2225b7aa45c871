#!/usr/bin/env perl
# 90-outage.t: PostgreSQL stopped: 503 with a JSON error and Retry-After; restarted: the next requests succeed, no worker restart.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my $s = stack();
my $tok = token(sub => 'user_o', org => 'org_demo');
my $stack = "VAR='$s->{VAR}' PORT=$s->{PORT} '$s->{ROOT}/scripts/stack.sh'";
# The programs run from XBIN (a copy in RT/bin when www-data cannot reach BIN).
my $xbin = $s->{XBIN} || $s->{BIN};
my $workers = sub { join ' ', sort split ' ', `pgrep -f '^$xbin/cgi-bin/jobs\$'` };
my $pids_before = $workers->();

for (1 .. 4) {
    my $r = api(GET => '/api/jobs?limit=1', token => $tok);
    is($r->{status}, 200, "before: 200");
}
system("$stack pg-stop") == 0 or BAIL_OUT('could not stop PostgreSQL');
# no-cache: a cached list would (rightly) still be served.
for my $i (1 .. 6) {
    my $r = api(GET => '/api/jobs?limit=1', token => $tok, headers => { 'Cache-Control' => 'no-cache' });
    is($r->{status}, 503, "PostgreSQL down, request $i: 503");
    is($r->{json}{code}, 'service_unavailable', "request $i: JSON error code");
    like($r->{headers}{'retry-after'} // '', qr/^\d+$/, "request $i: Retry-After");
    ok($r->{ms} < 5000, "request $i: answered promptly (" . int($r->{ms}) . " ms)");
}
my $r = api(POST => '/api/jobs', token => $tok, json => { name => 'during outage' });
is($r->{status}, 503, 'a write during the outage: 503');
$r = api(GET => '/api/health');
is($r->{status}, 503, 'health: 503');
is($r->{json}{status}, 'down', 'health: status down');
is($r->{json}{code}, 'service_unavailable', 'health: with the code of every 503');
like($r->{json}{error} // '', qr/PostgreSQL/, 'and an error naming what is down');
ok(!$r->{json}{checks}{postgres}{ok}, 'health: postgres not ok');

system("$stack pg-start") == 0 or BAIL_OUT('could not start PostgreSQL');
for my $i (1 .. 8) {
    $r = api(GET => '/api/jobs?limit=1', token => $tok, headers => { 'Cache-Control' => 'no-cache' });
    is($r->{status}, 200, "PostgreSQL back, request $i: 200") or diag $r->{body};
}
$r = api(POST => '/api/jobs', token => $tok, json => { name => 'after outage' });
is($r->{status}, 201, 'a write after recovery: 201');
is(psql("SELECT count(*) FROM job_searches WHERE name = 'during outage'"), 0, 'nothing half-written during the outage');
SKIP: {
    skip mode_lacks('process'), 2 if mode_lacks('process');
    ok($pids_before =~ /\d+ \d+ \d+/, "the jobs supervisor and its workers: $pids_before");
    is($workers->(), $pids_before, 'the same worker processes served before and after');
}

done_testing;
