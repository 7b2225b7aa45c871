#!/usr/bin/env perl
# harness.t: tests/harness.pl killed mid-pass (TERM, then HUP) stops every process of the stack it started, its fakes and its test programs, and exits.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);

# /proc/<pid>/stat, or '' when the process is gone.
sub stat_of {
    open my $fh, '<', "/proc/$_[0]/stat" or return '';
    local $/;
    return <$fh> // '';
}

# A file's text, or '' when there is none yet.
sub slurp {
    open my $fh, '<', $_[0] or return '';
    local $/;
    return <$fh> // '';
}

# One integration file that takes a while, in the Apache pass only.
sub run_and_kill {
    my ($sig) = @_;
    my $log = "/tmp/harness-t-$$.log";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDOUT, '>', $log or die;
        open STDERR, '>&', \*STDOUT or die;
        $ENV{TEST_FILTER} = '32-push-expiry';
        $ENV{TEST_PASSES} = 'apache';
        delete $ENV{TEST_KEEP};
        exec 'perl', 'tests/harness.pl';
        exit 127;
    }
    my ($var, $t0) = (undef, time);
    while (time - $t0 < 120) {
        my $text = slurp($log);
        if (!$var && $text =~ /starting a stack on port \d+ .* in (\S+)/) { $var = $1 }
        last if $var && $text =~ /^stack: apache on /m;
        sleep 0.5;
    }
    ok($var, "$sig: the harness started a stack") or return;
    sleep 3;    # the test program is running against it
    my $rt = -l "$var/rt" ? readlink("$var/rt") : $var;
    my @pids = map { do { local (@ARGV, $/) = ($_); my $p = <>; $p =~ /(\d+)/ ? $1 : () } } glob("$rt/run/*.pid $rt/run/*/*.pid");
    ok(@pids >= 5, "$sig: " . scalar(@pids) . ' processes of the stack written down');
    kill $sig, $pid;
    my $gone = 0;
    for (1 .. 120) {
        if (waitpid($pid, 1) == $pid) { $gone = 1; last }
        sleep 0.5;
    }
    ok($gone, "$sig: the harness exits");
    # A zombie is gone (this container's pid 1 may never reap it).
    my @alive = grep { stat_of($_) =~ /^\d+ \(.*\) [^Z]/ } @pids;
    is_deeply(\@alive, [], "$sig: no process of its stack is left")
        or diag join "\n", map { "$_: " . stat_of($_) } @alive;
    # Whatever it started stayed in the process group it leads.
    my @left = grep { stat_of($_) =~ /^\d+ \(.*\) [^Z] \d+ (\d+)/ && $1 == $pid }
        map { m{/(\d+)$} ? $1 : () } glob('/proc/[0-9]*');
    is_deeply(\@left, [], "$sig: nothing else it started runs");
    like(slurp($log), qr/SIG$sig: stopping the stacks it started/, "$sig: it says so");
    system('rm', '-rf', $var, $rt, $log);
}

run_and_kill($_) for qw(TERM HUP);
done_testing;
