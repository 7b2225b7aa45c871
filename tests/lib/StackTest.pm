# StackTest.pm: helpers the tests of tests/stack share: a free port, a shell command's status and output, a file's text.
#
# Those tests start their own stacks, installs and packages (they need
# no running stack, unlike ApiTest.pm's), so they pick their own ports.
package StackTest;

use strict;
use warnings;
use Exporter 'import';
use IO::Socket::INET;

our @EXPORT = qw(free_port sh slurp);

# A port free on 127.0.0.1 now, below the kernel's ephemeral range, as
# the harness picks them.
sub free_port {
    for (1 .. 500) {
        my $port = 10000 + int(rand(20000));
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => $port,
            Proto => 'tcp', ReuseAddr => 0) or next;
        close $s;
        return $port;
    }
    die "no free port";
}

# Run a shell command; returns (exit status, output, stderr included).
sub sh {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out // '');
}

# A file's text, or undef when it cannot be read.
sub slurp {
    my ($f) = @_;
    open(my $fh, '<', $f) or return undef;
    local $/;
    return scalar <$fh>;
}

1;
