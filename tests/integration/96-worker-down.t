#!/usr/bin/env perl
# 96-worker-down.t: a worker killed -9 under load costs at most the request it was serving and is replaced; a program that is not running: the web server's own 503 carries the API's JSON body and an X-Request-Id, behind lighttpd and Apache; the route answers again once it is back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use POSIX ();
use Time::HiRes qw(sleep time);
use ApiTest;

my $s = stack();
my $tok = token(sub => 'user_down', org => 'org_t_down');
my $rt = $s->{RT};
my $pidfile = "$rt/run/fcgi-usage.pid";
plan skip_all => 'no usage worker to stop' unless -s $pidfile;

is(api(GET => '/api/usage', token => $tok)->{status}, 200, 'GET /api/usage: 200 while its program runs');

# One worker killed -9 in the middle of a load on its program: four
# clients reading back to back; the supervisor replaces the worker.
my $jobs_pidfile = "$rt/run/fcgi-jobs.pid";
chomp(my $sup = do { local (@ARGV, $/) = ($jobs_pidfile); <> });
my @before = grep { /^\d+$/ } split /\s+/, `pgrep -P $sup`;
my ($me, @kids) = ($$);
for my $k (1 .. 4) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my ($n, $bad) = (0, 0);
        my $end = time() + 4;
        # A user of its own, and under the default class's 100 a minute.
        my $ltok = token(sub => "user_kill_${me}_$k", org => 'org_t_down');
        while (time() < $end && $n < 90) {
            my $r = api(GET => "/api/jobs?limit=1&page=$k", token => $ltok);
            sleep 0.02;
            $n++;
            $bad++ unless $r->{status} == 200;
        }
        open my $fh, '>', "$rt/run/kill-load-$me-$k" or POSIX::_exit(1);
        print $fh "$n $bad\n";
        close $fh;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
sleep 1.5;
# Said before the kill, so that tests/post/sanitizers.t expects its end.
if (open my $fh, '>>', "$rt/run/killed-on-purpose") {
    print $fh "$before[0]\n";
    close $fh;
}
ok(@before >= 1 && kill('KILL', $before[0]), "a jobs worker ($before[0]) killed -9 under load");
waitpid $_, 0 for @kids;
my ($total, $failed) = (0, 0);
for my $f (glob "$rt/run/kill-load-$me-*") {
    my ($n, $bad) = split ' ', do { local (@ARGV, $/) = ($f); <> };
    $total += $n;
    $failed += $bad;
    unlink $f;
}
ok($total > 50, "$total requests during the load");
ok($failed <= 1, "at most the one request the worker was serving failed ($failed)");
my @after = grep { /^\d+$/ } split /\s+/, `pgrep -P $sup`;
is(scalar @after, scalar @before, 'the supervisor replaced it: as many workers as before');
ok(!(grep { $_ == $before[0] } @after), 'the killed one is gone');

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
