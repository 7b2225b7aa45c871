#!/usr/bin/env perl
# 96-worker-down.t: a program that is not running: the web server's own 503 carries the API's JSON body and an X-Request-Id, behind lighttpd and Apache; the route answers again once it is back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep);
use ApiTest;

my $s = stack();
my $tok = token(sub => 'user_down', org => 'org_t_down');
my $rt = $s->{RT};
my $pidfile = "$rt/run/fcgi-usage.pid";
plan skip_all => 'no usage worker to stop' unless -s $pidfile;

is(api(GET => '/api/usage', token => $tok)->{status}, 200, 'GET /api/usage: 200 while its program runs');

# Stop the one program (its supervisor and workers), as a crash or a deploy would.
chomp(my $pid = do { local (@ARGV, $/) = ($pidfile); <> });
kill 'TERM', $pid;
for (1 .. 100) { last unless kill 0, $pid; sleep 0.05 }
unlink "$rt/run/fcgi/usage.sock";

my $r = api(GET => '/api/usage', token => $tok);
ok($r->{status} == 503 || $r->{status} == 502, "its program down: $r->{status} from the web server");
like($r->{headers}{'content-type'} // '', qr{^application/json}, 'as JSON, not the web server\'s HTML');
my $j = eval { json_decode($r->{body}) } // {};
is($j->{code}, $r->{status} == 503 ? 'service_unavailable' : 'bad_gateway', 'the API\'s code') or diag $r->{body};
ok(defined $j->{error} && defined $j->{details}, 'error and details, as the API\'s errors');
like($r->{headers}{'x-request-id'} // '', qr/^[A-Za-z0-9._@-]{8,64}$/, 'an X-Request-Id from the web server');
is(api(GET => '/api/health')->{status}, 200, 'the other programs still answer');

# Back.
system("$s->{ROOT}/scripts/stack.sh", 'restart-workers') == 0 or BAIL_OUT('the workers did not restart');
my $back;
for (1 .. 50) {
    $back = api(GET => '/api/usage', token => $tok);
    last if $back->{status} == 200;
    sleep 0.1;
}
is($back->{status}, 200, 'restarted: 200 again');
done_testing;
