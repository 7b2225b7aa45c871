#!/usr/bin/env perl
# cron.t: every cron binary is scheduled in cron/crontab and documented in docs/cron.md, and make install renders the crontab with every path filled in.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my @bins = map { m{cron/(.+)\.c$} ? $1 : () } sort glob('cron/*.c');
ok(@bins >= 4, 'cron binaries: ' . join(' ', @bins));
my $tab = do { local (@ARGV, $/) = ('cron/crontab'); <> };
my $doc = do { local (@ARGV, $/) = ('docs/cron.md'); <> };
for my $b (@bins) {
    like($tab, qr{^\S+(\s+\S+){4}\s+\@PREFIX\@/cron/\Q$b\E\b}m, "$b is scheduled in cron/crontab");
    like($doc, qr/^\| `\Q$b\E` \|/m, "docs/cron.md describes $b");
}
like($tab, qr{^\*/2\s+\*\s+\*\s+\*\s+\*\s+\@PREFIX\@/cron/poll-jobs\b}m, 'poll-jobs every 2 minutes');
like($tab, qr/^APP_CONFIG=\@CONF\@$/m, 'the crontab names the configuration');
like($doc, qr/\| `--$_/, "docs/cron.md documents --$_") for qw(tenant dry-run verbose max-seconds);

my $dest = tempdir(CLEANUP => 1);
my $out = `make -s install DESTDIR=$dest PREFIX=/opt/upw CONF=/etc/upw/app.conf LOGDIR=/var/log/upw 2>&1`;
is($?, 0, 'make install DESTDIR=... works') or diag $out;
my $inst = do { local (@ARGV, $/) = ("$dest/opt/upw/crontab"); <> } // '';
unlike($inst, qr/\@[A-Z]+\@/, 'the installed crontab has every path filled in');
like($inst, qr{^\*/2 .* /opt/upw/cron/poll-jobs >>/var/log/upw/poll-jobs\.log 2>&1$}m, 'with the prefix and log directory');
ok(-x "$dest/opt/upw/cron/$_", "$_ is installed") for @bins;
done_testing;
