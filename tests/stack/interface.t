#!/usr/bin/env perl
# interface.t: the make targets users drive the stack with: start and stop (idempotent), token, two stacks side by side, WEB=apache, and make run stopped by Ctrl-C or a closed terminal, leaving no process behind.
use strict;
use warnings;
use File::Temp qw(tempdir);
use IO::Handle;
use IO::Socket::INET;
use IPC::Open2 qw(open2);
use POSIX qw(WNOHANG);
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use StackTest qw(free_port);

sub port_open {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 2);
    return defined $s;
}

sub server {
    my ($port) = @_;
    open(my $fh, '-|', 'curl', '-s', '-o', '/dev/null', '-D', '-', '--max-time', '10',
        "http://127.0.0.1:$port/api/health") or die "curl: $!";
    my ($srv) = map { /^Server:\s*(\S+)/i ? $1 : () } <$fh>;
    close $fh;
    return $srv // '';
}

sub get {
    my ($port, $path, $token) = @_;
    my @h = $token ? ('-H', "Authorization: Bearer $token") : ();
    open(my $fh, '-|', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10',
        @h, "http://127.0.0.1:$port$path") or die "curl: $!";
    my $code = do { local $/; <$fh> };
    close $fh;
    return $code;
}

# Every process the stack wrote down: the pid files under run/ (a
# FastCGI pid file lists one worker a line) and PostgreSQL's postmaster.
sub stack_pids {
    my ($var) = @_;
    my $rt = -l "$var/rt" ? readlink("$var/rt") : $var;
    my @pids;
    for my $f (glob("$rt/run/*.pid"), glob("$rt/run/*/*.pid"), "$rt/pg/postmaster.pid") {
        open(my $fh, '<', $f) or next;
        my @lines = <$fh>;
        @lines = ($lines[0] // '') if $f =~ /postmaster\.pid$/;
        push @pids, map { /^\s*(\d+)\s*$/ ? $1 : () } @lines;
    }
    return @pids;
}

sub alive {
    my @left;
    for my $pid (@_) {
        open(my $fh, '<', "/proc/$pid/stat") or next;
        my $stat = do { local $/; <$fh> } // '';
        push @left, $pid if $stat =~ /^\d+ \(.*\) [^Z]/s;
    }
    return @left;
}

sub make {
    my ($var, $port, @args) = @_;
    my $out = `make -s @args VAR=$var PORT=$port 2>&1`;
    return ($? >> 8, $out);
}

my $base = tempdir('upw-iface-XXXXXX', TMPDIR => 1, CLEANUP => 0);
my ($var, $port) = ("$base/a", free_port());
my ($var2, $port2) = ("$base/b", free_port());
my @all_vars = ($var, $var2);
# Killed (the harness passes TERM on), the END block still stops the stacks.
$SIG{$_} = sub { exit 1 } for qw(TERM INT HUP);
END {
    # A stack's runtime files may live in /tmp/upw-<hash> (VAR/rt points there): those go too.
    my @rt = map { -l "$_/rt" ? readlink("$_/rt") : () } @all_vars;
    system("make -s stop VAR=$_ PORT=0 >/dev/null 2>&1") for @all_vars;
    system('rm', '-rf', $base, @rt) if $base;
}

# --- make start / make stop -------------------------------------------
my ($rc, $out) = make($var, $port, 'start');
is($rc, 0, 'make start') or diag $out;
is(get($port, '/api/health'), '200', 'the stack answers on PORT');
unlike(server($port), qr/Apache/, 'lighttpd in front by default');
my @pids = stack_pids($var);
ok(@pids >= 5, scalar(@pids) . ' processes written down');
($rc, $out) = make($var, $port, 'start');
is($rc, 0, 'make start again: nothing to do');
is_deeply([sort { $a <=> $b } stack_pids($var)], [sort { $a <=> $b } @pids], 'and the same processes serve');

# --- make token ----------------------------------------------------------
my $tok = `make -s token VAR=$var PORT=$port SUB=user_x ORG=org_y 2>/dev/null`;
chomp $tok;
like($tok, qr/^[\w-]+\.[\w-]+\.[\w-]+$/, 'make token prints a JWT');
is(get($port, '/api/job-searches', $tok), '200', 'the stack accepts it');
my $personal = `make -s token VAR=$var PORT=$port SUB=user_x ORG= 2>/dev/null`;
chomp $personal;
is(get($port, '/api/job-searches', $personal), '200', 'a personal token (ORG empty) too');
is(get($port, '/api/job-searches', "$tok" . 'x'), '401', 'a token with a broken signature is refused');

# --- a second stack side by side ---------------------------------------
($rc, $out) = make($var2, $port2, 'start');
is($rc, 0, 'a second stack with its own VAR and PORT starts') or diag $out;
is(get($port2, '/api/health'), '200', 'it answers on its port');
is(get($port, '/api/health'), '200', 'the first one still does');
my $tok2 = `make -s token VAR=$var2 PORT=$port2 SUB=user_x ORG=org_y 2>/dev/null`;
chomp $tok2;
is(get($port2, '/api/job-searches', $tok2), '200', 'its own token works there');
is(get($port, '/api/job-searches', $tok2), '401', 'but not on the first stack: each VAR has its own key');
my @pids2 = stack_pids($var2);
($rc, $out) = make($var2, $port2, 'stop');
is($rc, 0, 'make stop (second stack)') or diag $out;
is_deeply([alive(@pids2)], [], 'every process of the second stack is gone');
is(get($port, '/api/health'), '200', 'and the first stack is untouched');

# --- make stop ---------------------------------------------------------
($rc, $out) = make($var, $port, 'stop');
is($rc, 0, 'make stop') or diag $out;
is_deeply([alive(@pids)], [], 'every process written down is gone');
ok(!port_open($port), 'PORT is closed');
($rc, $out) = make($var, $port, 'stop');
is($rc, 0, 'make stop again: nothing to do') or diag $out;

# --- WEB=apache ---------------------------------------------------------
($rc, $out) = make($var, $port, 'start', 'WEB=apache');
is($rc, 0, 'make start WEB=apache') or diag $out;
is(get($port, '/api/health'), '200', 'the same port answers');
like(server($port), qr/^Apache/, 'from Apache');
is(get($port, '/api/jobs?limit=1', $tok), '200', 'with the same routes and the same key');
@pids = stack_pids($var);
($rc, $out) = make($var, $port, 'stop', 'WEB=apache');
is($rc, 0, 'make stop WEB=apache') or diag $out;
is_deeply([alive(@pids)], [], 'nothing of it is left');

# --- make run, under a terminal ------------------------------------------
# script(1) gives make run a terminal; a byte 0x03 written to it is the
# user's Ctrl-C.  $hangup closes the terminal as well, as a closed
# terminal window does.
sub run_and_interrupt {
    my ($hangup) = @_;
    my ($rd, $wr);
    # A shell that runs this test in the background without job control
    # ignores SIGINT, and make run would inherit that: restore it.
    local @SIG{qw(INT QUIT HUP)} = ('DEFAULT') x 3;
    my $pid = open2($rd, $wr, 'script', '-qefc', "make run VAR=$var PORT=$port", '/dev/null');
    $wr->autoflush(1);
    my ($seen, $banner) = ('', 0);
    my $rin = '';
    vec($rin, fileno($rd), 1) = 1;
    my $deadline = time + 120;
    while (time < $deadline) {
        my $n = select(my $r = $rin, undef, undef, 1);
        next unless $n > 0;
        my $got = sysread($rd, my $chunk, 65536);
        last unless $got;
        $seen .= $chunk;
        if ($seen =~ /Stop: Ctrl-C/) { $banner = 1; last }
    }
    ok($banner, 'make run prints its banner' . ($hangup ? ' (hang-up case)' : '')) or diag substr($seen, -2000);
    like($seen, qr{http://127\.0\.0\.1:$port/}, 'with the URL');
    like($seen, qr/Authorization: Bearer [\w-]+\.[\w-]+\.[\w-]+/, 'a demo token and a curl example');
    is(get($port, '/api/health'), '200', 'and serves while it runs');
    my @run_pids = stack_pids($var);
    print $wr "\x03";
    close $wr if $hangup;
    my $waited = 0;
    while (waitpid($pid, WNOHANG) == 0 && $waited < 60) { sleep 1; $waited++ }
    kill 'KILL', $pid if $waited >= 60;
    # The stop may outlive make (make leaves on the first Ctrl-C): give it time.
    my @left = alive(@run_pids);
    for (1 .. 30) { last unless @left = alive(@run_pids); sleep 1 }
    is_deeply(\@left, [], ($hangup ? 'Ctrl-C and a closed terminal' : 'Ctrl-C') . ' stop every process');
    ok(!port_open($port), 'PORT is closed again');
    close $rd;
}
run_and_interrupt(0);
run_and_interrupt(1);

done_testing;
