#!/usr/bin/env perl
# package.t: make deb builds upwork-api_<version>_<arch>.deb, lintian finds no error in it, and it holds what make install puts in place (same files, modes and contents), with the right dependencies, conffiles and maintainer scripts.
#
# With TEST_DPKG=1 (a machine of its own: CI), the package is also
# installed, reinstalled, removed and purged with dpkg, and the purge is
# checked to leave nothing behind.
use strict;
use warnings;
use Cwd qw(getcwd);
use File::Temp qw(tempdir);
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use StackTest qw(sh slurp);

my $root = getcwd();
for my $tool (qw(dpkg-buildpackage dh lintian)) {
    plan skip_all => "$tool is missing (make deps)" unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}

my $base = tempdir('upw-package-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# --- make deb ---------------------------------------------------------------------

my $version = `dpkg-parsechangelog -S Version`;
chomp $version;
my $arch = `dpkg-architecture -qDEB_HOST_ARCH`;
chomp $arch;
my ($rc, $out) = sh("make -s deb DEBDIR=$base/deb");
is($rc, 0, 'make deb') or diag $out;
my $deb = "$base/deb/upwork-api_${version}_$arch.deb";
ok(-f $deb, "it built upwork-api_${version}_$arch.deb");
note(sprintf 'the package: %d bytes', -s $deb);

($rc, $out) = sh("lintian $deb");
my @errors = grep { /^E: / } split /\n/, $out;
is_deeply(\@errors, [], 'lintian: no error');
note("lintian: $_") for grep { /^[WIP]: / } split /\n/, $out;

# --- the same files as make install -------------------------------------------------

# The layout debian/rules installs with.
my ($layout) = slurp("$root/debian/rules") =~ /^LAYOUT = ((?:.*\\\n)*.*)$/m;
$layout =~ s/\\\n\s*/ /g;
like($layout, qr{PREFIX=/usr\b}, "debian/rules' layout: $layout");
($rc, $out) = sh("make -s install DESTDIR=$base/inst $layout");
is($rc, 0, 'make install DESTDIR=... with that layout') or diag $out;
($rc, $out) = sh("dpkg-deb -x $deb $base/pkg");
is($rc, 0, 'the package unpacks');

# Files under a root: path => mode (man pages unzipped: dh_installman
# compresses them; the package's own documentation set apart).
sub tree {
    my ($top) = @_;
    my %t;
    for (split /\n/, `cd $top && find . -type f -o -type l`) {
        s{^\.}{};
        next if m{^/usr/share/(doc|lintian)/};
        my $mode = sprintf('%04o', (lstat "$top$_")[2] & 07777);
        if (m{^/usr/share/man/.*\.gz$}) {
            system('gunzip', "$top$_");
            s/\.gz$//;
        }
        $t{$_} = $mode;
    }
    return \%t;
}
my $inst = tree("$base/inst");
my $pkg = tree("$base/pkg");
ok(keys(%$inst) > 30, scalar(keys %$inst) . ' files from make install');
is_deeply([sort keys %$pkg], [sort keys %$inst], 'the package holds exactly the files make install writes');
is_deeply($pkg, $inst, 'with the same modes');
ok(-f "$base/pkg/usr/share/doc/upwork-api/copyright", 'and its copyright file');
my @differ;
for my $f (sort keys %$inst) {
    my ($from, $to) = ("$base/inst$f", "$base/pkg$f");
    next if -B $from && (slurp($from) // '') =~ /^\x7fELF/;
    push @differ, $f if (slurp($from) // "") ne (slurp($to) // "");
}
is_deeply(\@differ, [], 'every file but the programs is byte for byte the same');
my @elf = grep { (slurp("$base/pkg$_") // '') =~ /^\x7fELF/ } sort keys %$pkg;
ok(@elf >= 15, scalar(@elf) . ' programs, built by the package');
is(slurp("$base/pkg/etc/upwork-api/app.conf"), slurp("$base/inst/etc/upwork-api/app.conf"), 'app.conf is make install\'s');
like(slurp("$base/pkg/etc/apache2/conf-available/upwork-api.conf"),
    qr{"unix:/run/upwork-api/health/fcgi\.sock\|fcgi://upwork-api-health/"},
    'the Apache snippet names the sockets under /run, where the units make them');
like(slurp("$base/pkg/lib/systemd/system/upwork-api-fcgi\@.service"),
    qr{^ExecStart=/usr/bin/spawn-fcgi -n -s %t/upwork-api/%i/fcgi\.sock }m, 'as the FastCGI unit says');

# --- control data -----------------------------------------------------------------

my %ctl;
for (split /\n(?=\S)/, `dpkg-deb -f $deb`) {
    my ($key, $value) = /^([\w-]+): (.*)$/s or next;
    $ctl{$key} = $value =~ s/\n\s+/ /gr;
}
is($ctl{Version}, $version, "version $version");
for my $lib (qw(libfcgi0ldbl libpq5 libhiredis libjson-c5 libcurl4 libjwt0 libssl3 libev4 libwslay1 libhttp-parser)) {
    like($ctl{Depends}, qr/\b\Q$lib\E/, "Depends on $lib (shlibs)");
}
like($ctl{Depends}, qr/\b$_\b/, "Depends on $_") for qw(spawn-fcgi postgresql-client adduser);
unlike(join(',', $ctl{Depends}, $ctl{'Pre-Depends'} // ''), qr/apache|lighttpd|httpd/, 'no web server in Depends');
like(join(',', $ctl{Recommends} // '', $ctl{Suggests} // ''), qr/\bapache2\b.*\blighttpd\b|\blighttpd\b.*\bapache2\b/,
    'both web servers are suggested, neither required');
mkdir "$base/ctl";
system("dpkg-deb -e $deb $base/ctl");
is_deeply([sort split /\n/, slurp("$base/ctl/conffiles") // ''],
    [sort qw(/etc/upwork-api/app.conf /etc/apache2/conf-available/upwork-api.conf
        /etc/lighttpd/conf-available/50-upwork-api.conf /etc/cron.d/upwork-api /etc/logrotate.d/upwork-api)],
    'conffiles: app.conf, both snippets, cron.d, logrotate');
my $scripts = join '', map { slurp("$base/ctl/$_") // '' } qw(preinst postinst prerm postrm);
unlike($scripts, qr/(systemctl|deb-systemd-invoke)\s+(--\S+\s+)*(start|restart|enable)\b/,
    'no maintainer script starts or enables a unit');
unlike($scripts, qr/\b(a2enconf|a2enmod|lighty-enable-mod)\b/, 'nor enables a web server snippet');
like(slurp("$base/ctl/postinst"), qr/try-restart/, 'postinst restarts, on upgrade, only what runs');
unlike(slurp("$base/ctl/preinst") // '', qr/stop/, 'an upgrade does not stop the units first');
like(slurp("$base/ctl/prerm"), qr/"\$1" = remove .*\n.*stop upwork-api\.target/, 'removal stops them');

# --- dpkg: install, reinstall, remove, purge (TEST_DPKG=1) ---------------------------

SKIP: {
    skip 'TEST_DPKG=1 installs the package on this machine', 1 unless $ENV{TEST_DPKG};
    ok(!-e '/var/lib/dpkg/info/upwork-api.list', 'upwork-api is not installed yet') or last SKIP;
    ($rc, $out) = sh("dpkg -i $deb");
    is($rc, 0, 'dpkg -i') or diag $out;
    ok(getpwnam('upwork-api'), 'the system user is created');
    is(sprintf('%04o %s', (stat '/etc/upwork-api/app.conf')[2] & 07777, scalar getgrgid((stat _)[5])),
        '0640 upwork-api', 'app.conf is 0640 in its group');
    like(`dpkg-statoverride --list /etc/upwork-api/app.conf`, qr/^root upwork-api 640 /, 'a statoverride keeps it so');
    ok(-s '/etc/upwork-api/secrets/pgpass' && -s '/etc/upwork-api/secrets/jwt-hs256.key', 'the secrets are generated');
    ok(-d '/var/log/upwork-api' && -d '/var/lib/upwork-api', 'the log and state directories exist');
    ok(!`ps -o pid= -u upwork-api`, 'nothing runs as the user: nothing was started');
    my $keys = slurp('/etc/upwork-api/secrets/pgpass');
    ($rc, $out) = sh("dpkg -i $deb");
    is($rc, 0, 'dpkg -i again (an upgrade to the same version)') or diag $out;
    is(slurp('/etc/upwork-api/secrets/pgpass'), $keys, 'the secrets are kept');
    system('a2enconf upwork-api >/dev/null 2>&1; lighty-enable-mod upwork-api >/dev/null 2>&1');
    ($rc, $out) = sh('dpkg --remove upwork-api');
    is($rc, 0, 'dpkg --remove') or diag $out;
    ok(!-e '/etc/apache2/conf-enabled/upwork-api.conf' && !-e '/etc/lighttpd/conf-enabled/50-upwork-api.conf',
        'removal disables the web server snippets');
    ok(-f '/etc/upwork-api/app.conf' && !-e '/usr/lib/upwork-api', 'and keeps the configuration, not the programs');
    ($rc, $out) = sh('dpkg --purge upwork-api');
    is($rc, 0, 'dpkg --purge') or diag $out;
    my @left = grep { -e } qw(/etc/upwork-api /var/lib/upwork-api /var/log/upwork-api /usr/lib/upwork-api
        /etc/cron.d/upwork-api /etc/logrotate.d/upwork-api /etc/apache2/conf-available/upwork-api.conf
        /etc/lighttpd/conf-available/50-upwork-api.conf);
    is_deeply(\@left, [], 'purge removes the configuration, the secrets, the logs and the data');
    ok(!getpwnam('upwork-api') && !getgrnam('upwork-api'), 'and the user and its group');
    is(`dpkg-statoverride --list /etc/upwork-api/app.conf`, '', 'and the statoverride');
}

done_testing;
