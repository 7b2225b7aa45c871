#!/usr/bin/env perl
# cron.t: every cron binary is scheduled in cron/crontab and documented in docs/cron.md, and make install renders the user crontab and cron.d with every path filled in.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my @bins = map { m{cron/(.+)\.c$} ? $1 : () } sort glob('cron/*.c');
ok(@bins >= 4, 'cron binaries: ' . join(' ', @bins));
my $tab = do { local (@ARGV, $/) = ('cron/crontab'); <> };
my $doc = do { local (@ARGV, $/) = ('docs/cron.md'); <> };
for my $b (@bins) {
    like($tab, qr{^\S+(\s+\S+){4}\s+\@LIBDIR\@/cron/\Q$b\E\b}m, "$b is scheduled in cron/crontab");
    like($doc, qr/^\| `\Q$b\E` \|/m, "docs/cron.md describes $b");
}
like($tab, qr{^\*/2\s+\*\s+\*\s+\*\s+\*\s+\@LIBDIR\@/cron/poll-jobs\b}m, 'poll-jobs every 2 minutes');
like($tab, qr/^APP_CONFIG=\@CONF\@$/m, 'the crontab names the configuration');
like($doc, qr/\| `--$_/, "docs/cron.md documents --$_") for qw(tenant dry-run verbose max-seconds);

my $dest = tempdir(CLEANUP => 1);
my $out = `make -s install DESTDIR=$dest PREFIX=/opt/upw SYSCONFDIR=/etc/upw LOCALSTATEDIR=/var/upw 2>&1`;
is($?, 0, 'make install DESTDIR=... works') or diag $out;
my $inst = do { local (@ARGV, $/) = ("$dest/opt/upw/share/upwork-api/crontab"); <> } // '';
unlike($inst, qr/\@[A-Z_]+\@/, 'the installed user crontab has every path filled in');
like($inst, qr{^\*/2 .* /opt/upw/lib/upwork-api/cron/poll-jobs >>/var/upw/log/upwork-api/poll-jobs\.log 2>&1$}m,
    'with the prefix and log directory');
like($inst, qr{^APP_CONFIG=/etc/upw/upwork-api/app\.conf$}m, 'and the installed app.conf');
my $crond = do { local (@ARGV, $/) = ("$dest/etc/upw/cron.d/upwork-api"); <> } // '';
unlike($crond, qr/\@[A-Z_]+\@/, 'cron.d has every path filled in');
for my $b (@bins) {
    like($crond, qr{^#\S+(\s+\S+){4}\s+upwork-api\s+\[ -x /opt/upw/lib/upwork-api/cron/\Q$b\E \] && /opt/upw/lib/upwork-api/cron/\Q$b\E\b}m,
        "cron.d runs $b as upwork-api, commented out");
}
ok(-x "$dest/opt/upw/lib/upwork-api/cron/$_", "$_ is installed") for @bins;
done_testing;
