#!/usr/bin/env perl
# 98-user-crontab.t: the shared-hosting crontab (httpd-conf/shared-hosting/crontab.in): each line run as cron runs it, as a user that is not root, with nothing but the crontab's environment: every binary exits 0 and logs where the line says (a 9* file: it takes the cron binaries' locks, which 60-cron.t checks).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Temp qw(tempdir);
use Test::More;
use ApiTest;

my $s = stack();
my $user = $> == 0 ? ($s->{APPUSER} || 'www-data') : scalar getpwuid($>);
plan skip_all => "the account must not be root (as root: $user)" if $user eq 'root';

# The account's directory, as docs/shared-hosting.md lays it out: bin/
# (the cron binaries), app.conf (readable by the account alone), log/.
my $dir = tempdir('upw-crontab-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$dir/$_" for qw(bin log);
my $xbin = $s->{XBIN} || $s->{BIN};
system('cp', '-p', glob("$xbin/cron/*"), "$dir/bin/") == 0 or die "cp: $?";
system('cp', "$s->{RT}/app.conf", "$dir/app.conf") == 0 or die "cp: $?";
chmod 0600, "$dir/app.conf";
system('chown', '-R', $user, $dir) if $> == 0;
chmod 0700, $dir;

my $tpl = do { local (@ARGV, $/) = ("$s->{ROOT}/httpd-conf/shared-hosting/crontab.in"); <> };
(my $tab = $tpl) =~ s/\@DIR\@/$dir/g;
unlike($tab, qr/\@[A-Z_]+\@/, 'every @VARIABLE@ filled in');
my (%env, @jobs);
for (split /\n/, $tab) {
    next if /^\s*(#|$)/;
    if (/^([A-Z_]+)=(.*)$/) { $env{$1} = $2; next; }
    my @f = split ' ', $_, 6;
    is(scalar @f, 6, "five time fields and a command, no user field: $f[5]");
    push @jobs, $f[5];
}
is_deeply([sort keys %env], ['APP_CONFIG', 'SHELL'], 'the crontab sets APP_CONFIG (and SHELL)');
my @bins = map { m{cron/(.+)\.c$} ? $1 : () } sort glob("$s->{ROOT}/cron/*.c");
is_deeply([sort map { m{/bin/([a-z-]+)} ? $1 : () } @jobs], [sort @bins], 'one line per cron binary');

# As cron runs a line: sh -c, the crontab's variables and cron's own
# (HOME, LOGNAME, PATH), nothing of this shell's.
for my $cmd (@jobs) {
    my @env = (map({ "$_=$env{$_}" } sort keys %env), "HOME=$dir", "LOGNAME=$user", 'PATH=/usr/bin:/bin');
    my @as = $> == 0 ? ('runuser', '-u', $user, '--') : ();
    my $rc = system(@as, 'env', '-i', @env, '/bin/sh', '-c', "cd && $cmd");
    my ($bin) = $cmd =~ m{/bin/([a-z-]+)};
    is($rc, 0, "$bin: exit 0 as $user");
    my @logs = grep { -s } glob("$dir/log/$bin.*");
    ok(@logs, "$bin: wrote " . join(', ', map { s{.*/}{}r } @logs));
}
my $report = do { local (@ARGV, $/) = ("$dir/log/usage-report.jsonl"); <> } // '';
like($report, qr/^\{.*"month"/m, 'usage-report appended its JSON line') or diag $report;
my $poll = do { local (@ARGV, $/) = ("$dir/log/poll-jobs.log"); <> } // '';
like($poll, qr/^\{"time":"[^"]+","level":"\w+","svc":"poll-jobs"/m, 'poll-jobs logged JSON lines');

done_testing();
