#!/usr/bin/env perl
# sanitizers.t: after a stack has stopped, fail if AddressSanitizer/UBSan reported anything or a worker died during the pass.
use strict;
use warnings;
use Test::More;

my $dir = $ENV{SANITIZER_LOGS} or plan skip_all => 'SANITIZER_LOGS is not set';
my @reports = grep { -s } glob("$dir/*");
is(scalar @reports, 0, 'no sanitizer reports') or do {
    for my $f (@reports[0 .. ($#reports < 2 ? $#reports : 2)]) {
        open my $fh, '<', $f or next;
        diag "$f:\n", join('', (<$fh>)[0 .. 40]);
    }
};
(my $logs = $dir) =~ s{/asan$}{};
# Workers a test killed on purpose (96-worker-down.t) are listed in
# run/killed-on-purpose, one pid a line: their ends are expected.
my %meant;
if (open my $fh, '<', "$logs/../run/killed-on-purpose") {
    chomp(my @pids = <$fh>);
    $meant{$_} = 1 for @pids;
}
my @died = grep { /worker (\d+) ended/ && !$meant{$1} }
    map { `grep -h 'worker [0-9]* ended' $_ 2>/dev/null` } glob("$logs/*.log");
is(scalar @died, 0, 'no worker process died') or diag @died;
done_testing;
