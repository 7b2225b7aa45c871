#!/usr/bin/env perl
# checkout.t: a clone in a directory only root may enter (as /root is, mode 0700): make start, requests, check-config, status and make stop work, the programs running from copies in the runtime directory.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use StackTest qw(free_port);

plan skip_all => 'as root only: the service users (www-data, postgres) must be other users than the one owning the clone'
    if $> != 0;
my $root = `pwd`;
chomp $root;
-x "$root/build/release/tools/check-config" or plan skip_all => 'build/release is not built (make all)';

sub curl {
    my ($port, $path, $token) = @_;
    my @h = $token ? ('-H', "Authorization: Bearer $token") : ();
    open(my $fh, '-|', 'curl', '-s', '-w', '\n%{http_code}', '--max-time', '10', @h,
        "http://127.0.0.1:$port$path") or die "curl: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    my ($body, $code) = $out =~ /^(.*)\n(\d+)$/s ? ($1, $2) : ($out, '000');
    return ($code, $body);
}

# The home directory: 0700, root's, like /root.  The clone: the tracked
# and untracked (not ignored) files of this tree, plus the release build
# and the page's node_modules, so that make start builds and installs
# nothing.
my $base = tempdir('upw-checkout-XXXXXX', TMPDIR => 1, CLEANUP => 0);
my $home = "$base/home";
my $clone = "$home/upwork-api";
my $port = free_port();
mkdir $home or die "mkdir $home: $!";
chmod 0700, $home;
mkdir $clone or die "mkdir $clone: $!";
my $rt;
# Killed (the harness passes TERM on), the END block still stops the stack.
$SIG{$_} = sub { exit 1 } for qw(TERM INT HUP);
END {
    if ($base) {
        system("cd $clone && make -s stop PORT=0 >/dev/null 2>&1") if -d $clone;
        system('rm', '-rf', $base);
        system('rm', '-rf', $rt) if $rt && $rt =~ m{^/tmp/upw-};
    }
}
my $copy = "cd $root && { git ls-files -co --exclude-standard -z; " .
    "find build/release www/node_modules -print0 2>/dev/null; } | tar --null --no-recursion -T - -cf - | tar -C $clone -xpf -";
is(system($copy), 0, 'the tree copied into a 0700 home directory');
isnt(system("runuser -u www-data -- test -x $clone/build/release/tools/check-config 2>/dev/null"), 0,
    'www-data cannot reach the clone\'s programs');

my $out = `cd $clone && make -s start PORT=$port 2>&1`;
is($? >> 8, 0, 'make start in the clone') or diag $out;
unlike($out, qr/could not change directory/, 'no service user complains about the working directory') or diag $out;
$rt = readlink("$clone/var/rt") // '';
like($rt, qr{^/tmp/upw-[0-9a-f]{12}$}, 'the runtime files live in /tmp/upw-<hash>');

my ($code, $body) = curl($port, '/api/health');
is($code, '200', 'GET /api/health') or diag $body;
like($body, qr/"postgres":\{"ok":true/, 'PostgreSQL reached');
my $tok = `cd $clone && make -s token PORT=$port ORG=org_demo 2>/dev/null`;
chomp $tok;
($code, $body) = curl($port, '/api/jobs?limit=1', $tok);
is($code, '200', 'GET /api/jobs with a token') or diag $body;
like($body, qr/"total":1200/, 'the demo jobs');

# Every FastCGI program runs from RT/bin, as www-data.
my @exe;
for my $f (glob("$rt/run/fcgi-*.pid"), "$rt/run/push/push.pid") {
    open(my $fh, '<', $f) or next;
    my ($pid) = <$fh> =~ /(\d+)/;
    push @exe, readlink("/proc/$pid/exe") // "(pid $pid gone)";
}
ok(@exe >= 5, scalar(@exe) . ' programs running');
is_deeply([grep { !m{^\Q$rt\E/bin/} } @exe], [], 'all of them from the copies in RT/bin');

$out = `cd $clone && make -s check-config 2>&1`;
is($? >> 8, 0, 'make check-config') or diag $out;
$out = `cd $clone && make -s status 2>&1`;
is($? >> 8, 0, 'make status: everything up') or diag $out;

# A rebuilt program reaches RT/bin with make restart.
my $health = "$clone/build/release/cgi-bin/health";
system("cp -p $health $health.orig && printf '\\0' >>$health && touch -r $health.orig $health");
$out = `cd $clone && make -s restart PORT=$port 2>&1`;
is($? >> 8, 0, 'restart after a rebuild') or diag $out;
is(system("cmp -s $health $rt/bin/cgi-bin/health"), 0, 'RT/bin holds the new program');
($code) = curl($port, '/api/health');
is($code, '200', 'which serves');

$out = `cd $clone && make -s stop 2>&1`;
is($? >> 8, 0, 'make stop') or diag $out;
($code) = curl($port, '/api/health');
is($code, '000', 'nothing answers any more');

done_testing();
