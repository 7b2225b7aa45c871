#!/usr/bin/env perl
# ops.t: the operator's make targets: status (its exit status), restart (reload by SIGHUP or restart, as each part needs; a bad app.conf changes nothing), start refusing a bad app.conf or a taken port before starting anything, a failed start stopping what it started, first-start settings said to be ignored, check-config as the programs' user.
use strict;
use warnings;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use StackTest qw(free_port);

plan skip_all => 'the stack as root (its users are www-data and postgres)' if $> != 0;

my $base = tempdir('upw-ops-XXXXXX', TMPDIR => 1, CLEANUP => 0);
my ($var, $port) = ("$base/v", free_port());
# Killed (the harness passes TERM on), the END block still stops the stacks.
$SIG{$_} = sub { exit 1 } for qw(TERM INT HUP);
END {
    my $rt = $var && -l "$var/rt" ? readlink("$var/rt") : undef;
    system("make -s stop VAR=$var PORT=$port >/dev/null 2>&1") if $var;
    system('rm', '-rf', grep { defined } $base, $rt) if $base;
}

sub make {
    my ($args, $env) = @_;
    $env //= '';
    my $out = `$env make -s $args VAR=$var PORT=$port 2>&1`;
    return ($? >> 8, $out);
}

sub slurp { my ($f) = @_; open my $fh, '<', $f or return undef; local $/; return <$fh> }
sub rt { -l "$var/rt" ? readlink("$var/rt") : $var }
sub pid_of { my $p = slurp(rt() . "/run/$_[0].pid") // ''; return $p =~ /^(\d+)/ ? $1 : 0 }

sub alive {
    my @left;
    for my $pid (@_) {
        open(my $fh, '<', "/proc/$pid/stat") or next;
        push @left, $pid if (do { local $/; <$fh> } // '') =~ /^\d+ \(.*\) [^Z]/s;
    }
    return @left;
}

# Every process the stack wrote down, PostgreSQL's postmaster included.
sub stack_pids {
    my $rt = rt();
    my @pids;
    for my $f (glob("$rt/run/*.pid"), glob("$rt/run/*/*.pid"), "$rt/pg/postmaster.pid") {
        my $s = slurp($f) // next;
        push @pids, $1 if $s =~ /^\s*(\d+)/;
    }
    return @pids;
}

# curl: the status, then the headers, of a request.
sub get {
    my ($url, @h) = @_;
    my $out = `curl -s -o /dev/null -D - --max-time 10 @{[ map { "-H '$_'" } @h ]} '$url'`;
    my ($status) = $out =~ m{^HTTP/\S+ (\d+)}m;
    return ($status // 0, $out);
}

sub set_conf {
    my ($line) = @_;
    my $f = rt() . '/app.conf';
    my ($key) = $line =~ /^(\w+)/;
    my $c = slurp($f);
    $c =~ s/^\Q$key\E\s*=.*\n//mg;
    open my $fh, '>', $f or die;
    print $fh $c, "$line\n";
    close $fh;
}

# --- a stack, and what make status says of it ------------------------------------
my ($rc, $out) = make('status');
isnt($rc, 0, 'make status without a stack: non-zero');
like($out, qr/^down  \(no stack in /m, 'saying there is none');
($rc, $out) = make('start');
is($rc, 0, 'make start') or diag $out;
($rc, $out) = make('status');
is($rc, 0, 'make status of a running stack: 0') or diag $out;
like($out, qr/^up    fcgi-jobs$/m, 'a line per program');
like($out, qr/^up    lighttpd$/m, 'the web server');
like($out, qr/^up    postgres$/m, 'and PostgreSQL');
my $token = `make -s token VAR=$var PORT=$port ORG=org_demo 2>/dev/null`;
chomp $token;
my $u = "http://127.0.0.1:$port";
my ($status, $head) = get("$u/api/jobs?limit=1", "Authorization: Bearer $token");
is($status, 200, 'it serves');
like($head, qr/^X-RateLimit-Limit: 100\r?$/mi, 'with the default rate limit');
is((get("$u/metrics"))[0], 404, '/metrics is off by default: 404');
my $push_port = (slurp(rt() . '/ports.env') =~ /^PUSH_PORT=(\d+)/m)[0];
is((get("http://127.0.0.1:$push_port/metrics"))[0], 404, 'the broadcaster\'s too');

# --- make restart: SIGHUP where it applies --------------------------------------------
my %before = map { $_ => pid_of($_) } qw(fcgi-jobs fcgi-metrics push/push lighttpd);
# A client of the broadcaster, connected across the reload.
my $sse = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10) or die "connect: $!";
print $sse "GET /api/events?topics=jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $token\r\n\r\n";
my $got = '';
while ($got !~ /: connected/ && sysread($sse, my $chunk, 4096)) { $got .= $chunk }
like($got, qr{^HTTP/1\.1 200}, 'an event stream is open');
set_conf('rl_default_limit = 77');
set_conf('metrics_enabled = 1');
($rc, $out) = make('restart');
is($rc, 0, 'make restart after editing app.conf') or diag $out;
like($out, qr/^stack: reloaded \(SIGHUP\): push .*\bjobs\b/m, 'it says the broadcaster and the programs were reloaded');
unlike($out, qr/^stack: restarted:/m, 'and nothing restarted');
is_deeply({ map { $_ => pid_of($_) } keys %before }, \%before, 'the same processes (pid files) serve');
($status, $head) = get("$u/api/jobs?limit=1", "Authorization: Bearer $token");
like($head, qr/^X-RateLimit-Limit: 77\r?$/mi, 'the FastCGI programs apply the new limit');
my $mtoken = slurp(rt() . '/secrets/metrics.token') =~ s/\s+$//r;
is((get("$u/metrics", "Authorization: Bearer $mtoken"))[0], 200, 'metrics_enabled applies: /metrics answers');
is((get("http://127.0.0.1:$push_port/metrics", "Authorization: Bearer $mtoken"))[0], 200,
    'and the broadcaster answers its own');
`make -s publish VAR=$var PORT=$port TENANT=org_demo EVENT=job:new DATA='{"after":"reload"}' 2>&1`;
$got = '';
my $sel = IO::Select->new($sse);
while ($got !~ /"after":"reload"/ && $sel->can_read(10)) { sysread($sse, my $chunk, 4096) or last; $got .= $chunk }
like($got, qr/^data: \{"after":"reload"\}/m, 'the stream opened before the reload receives an event published after it');
close $sse;

# The environment a program got (WORKERS) cannot change by SIGHUP: those restart.
($rc, $out) = make('restart', 'WORKERS=3');
is($rc, 0, 'WORKERS=3 make restart') or diag $out;
like($out, qr/^stack: restarted: .*\bjobs\b/m, 'the programs whose worker count changed are restarted');
like($out, qr/^stack: reloaded \(SIGHUP\): push\b/m, 'the broadcaster, whose environment did not, is reloaded');
isnt(pid_of('fcgi-jobs'), $before{'fcgi-jobs'}, 'jobs runs in a new process');
my @kids = split ' ', `ps -o pid= --ppid @{[ pid_of('fcgi-jobs') ]}`;
is(scalar(@kids), 3, 'with 3 workers');

# A bad app.conf: nothing is touched.
%before = map { $_ => pid_of($_) } qw(fcgi-jobs push/push);
set_conf('wokers = 3');
($rc, $out) = make('restart', 'WORKERS=3');
isnt($rc, 0, 'make restart with an unknown key: non-zero');
like($out, qr{app\.conf:\d+: error: unknown key wokers \(did you mean workers\?\)}, 'naming the key, its line and the one meant');
like($out, qr/nothing was restarted/, 'saying nothing was restarted');
is_deeply({ map { $_ => pid_of($_) } keys %before }, \%before, 'and nothing was');
is((get("$u/api/jobs?limit=1", "Authorization: Bearer $token"))[0], 200, 'the stack serves on');

# --- make start refuses before starting anything ------------------------------------
($rc, $out) = make('stop');
is($rc, 0, 'make stop');
($rc, $out) = make('status');
isnt($rc, 0, 'make status of a stopped stack: non-zero');
like($out, qr/^down  postgres$/m, 'down  postgres');
($rc, $out) = make('start');
isnt($rc, 0, 'make start with the unknown key: non-zero');
like($out, qr{app\.conf:\d+: error: unknown key wokers}, 'naming it');
like($out, qr/nothing was started/, 'nothing was started');
is_deeply([alive(stack_pids())], [], 'and nothing runs');
set_conf('workers = 2');
(my $c = slurp(rt() . '/app.conf')) =~ s/^wokers = 3\n//m;
open my $fh, '>', rt() . '/app.conf' or die;
print $fh $c;
close $fh;

# A taken port: refused before anything starts.
my $taken = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => $port, ReuseAddr => 1)
    or die "listen: $!";
($rc, $out) = make('start');
isnt($rc, 0, 'make start on a taken port: non-zero');
like($out, qr/port $port is already in use: nothing was started/, 'saying so');
is_deeply([alive(stack_pids())], [], 'nothing runs');
close $taken;

# A part that fails after others started (the broadcaster's port taken):
# what this start started is stopped again.
$taken = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => $push_port, ReuseAddr => 1)
    or die "listen: $!";
($rc, $out) = make('start');
isnt($rc, 0, 'make start with the broadcaster\'s port taken: non-zero');
like($out, qr/the broadcaster exited at start: .*cannot listen/, 'the broadcaster\'s own words');
like($out, qr/stopping what this start started: pg redis push/, 'what it started is stopped');
is_deeply([alive(stack_pids())], [], 'PostgreSQL and Redis included: nothing runs');
close $taken;

# --- first-start settings, given again ---------------------------------------------------
($rc, $out) = make('start', 'JWT_ALG=RS256 JWT_ISSUER=https://issuer.test');
is($rc, 0, 'make start, JWT_ALG and JWT_ISSUER given') or diag $out;
like($out, qr/JWT_ALG=RS256 is ignored: .*app\.conf has jwt_alg = HS256 since this VAR's first start/,
    'JWT_ALG is said to be ignored, and why');
like($out, qr/JWT_ISSUER=https:\/\/issuer\.test is ignored: .*jwt_issuer = \(empty\)/, 'JWT_ISSUER too');
($rc, $out) = make('start', 'JWT_ALG=HS256');
unlike($out, qr/is ignored/, 'a value app.conf already has: nothing to say');

# --- check-config, as the programs' user --------------------------------------------------
my $cc = "APP_CONFIG=" . rt() . "/app.conf build/release/tools/check-config";
$out = `$cc --user www-data 2>&1`;
is($? >> 8, 0, 'check-config --user www-data: the stack\'s app.conf is usable') or diag $out;
$out = `$cc --user nobody 2>&1`;
isnt($? >> 8, 0, 'check-config --user nobody: not usable');
like($out, qr/app\.conf: error: Permission denied\n/, 'nobody cannot read app.conf, and it says so');
unlike($out, qr/jwt_secret_file/, 'and only that: no check runs on the defaults');

($rc, $out) = make('stop');
is($rc, 0, 'make stop');
done_testing;
