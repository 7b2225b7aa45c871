#!/usr/bin/env perl
# install.t: make install into a scratch PREFIX, SYSCONFDIR and LOCALSTATEDIR, then PostgreSQL, Redis, the units' ExecStart lines, lighttpd and Apache with nothing but the installed snippets, upwork-api-migrate, a smoke set, cron.d, logrotate, systemd-analyze verify and make uninstall.
#
# No DESTDIR: the paths inside the installed files are the real ones, and
# every program runs from them.  systemd is not PID 1 here, so each unit
# is started the way it says: its ExecStart line, parsed from the
# installed unit file, run as its User/Group/SupplementaryGroups with its
# Environment and RuntimeDirectory (%t is the scratch RUNSTATEDIR).  The
# system user is this test's own (upwt<pid>), removed at the end.
use strict;
use warnings;
use Cwd qw(getcwd);
use Digest::SHA qw(hmac_sha256 sha256_hex);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use POSIX qw(WNOHANG setsid);
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use StackTest qw(free_port sh slurp);

plan skip_all => 'make install as root: a system user, PostgreSQL run as postgres' if $> != 0;

my $root = getcwd();
my $json = JSON::PP->new->canonical;
my $user = "upwt$$";
my $base = tempdir('upw-install-XXXXXX', TMPDIR => 1, CLEANUP => 0);
chmod 0755, $base;
my %dir = (prefix => "$base/usr", etc => "$base/etc", var => "$base/var", run => "$base/run");
my $conf = "$dir{etc}/upwork-api/app.conf";
my $libdir = "$dir{prefix}/lib/upwork-api";
my $unitdir = "$dir{prefix}/lib/systemd/system";
my ($web, $pg, $redis, $push) = map { free_port() } 1 .. 4;
my @layout = ("PREFIX=$dir{prefix}", "SYSCONFDIR=$dir{etc}", "LOCALSTATEDIR=$dir{var}",
    "RUNSTATEDIR=$dir{run}", "APPUSER=$user", "PUSH_LISTEN=127.0.0.1:$push");
my (%pids, $pg_started);
my $pgbin = (sort { ver($a) <=> ver($b) } glob('/usr/lib/postgresql/*/bin'))[-1];

# Killed (the harness passes TERM on), the END block still stops the stacks.
$SIG{$_} = sub { exit 1 } for qw(TERM INT HUP);
END {
    my $rc = $?;
    cleanup();
    $? = $rc;
}

# --- helpers ------------------------------------------------------------------

sub ver { $_[0] =~ m{/(\d+)/bin$} ? $1 : 0 }

sub q_ { my $s = shift; $s =~ s/'/'\\''/g; "'$s'" }

sub spew {
    my ($f, $text) = @_;
    open(my $fh, '>', $f) or die "$f: $!";
    print $fh $text;
    close $fh;
}

sub wait_until {
    my ($what, $cond, $secs) = @_;
    for (1 .. ($secs // 15) * 10) {
        return 1 if $cond->();
        select(undef, undef, undef, 0.1);
    }
    diag "$what did not happen";
    return 0;
}

sub port_open {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $_[0], Proto => 'tcp', Timeout => 1);
    return defined $s;
}

sub alive {
    my ($pid) = @_;
    my $stat = slurp("/proc/$pid/stat") // return 0;
    return $stat !~ /^\d+ \(.*\) Z/s;
}

sub stop_pid {
    my ($pid) = @_;
    return unless $pid && alive($pid);
    kill 'TERM', $pid;
    wait_until("pid $pid to exit", sub { waitpid($pid, WNOHANG); !alive($pid) }, 10)
        or kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub psql_super {
    my ($sql) = @_;
    my $f = "$base/query.sql";
    spew($f, $sql);
    chmod 0644, $f;
    return sh("runuser -u postgres -- $pgbin/psql -X -q -v ON_ERROR_STOP=1 -tA -h $base/pgrun -p $pg -d upwork -f $f");
}

sub cleanup {
    system("apache2 -f $base/web/apache.conf -k stop >/dev/null 2>&1") if -e "$base/web/apache.pid";
    for my $pf ("$base/web/lighttpd.pid", "$base/web/apache.pid") {
        my $pid = slurp($pf);
        stop_pid($1) if $pid && $pid =~ /(\d+)/;
    }
    stop_pid($_) for values %pids;
    system("runuser -u postgres -- $pgbin/pg_ctl -D $base/pg -m fast -w stop >/dev/null 2>&1") if $pg_started;
    # The user's processes are all this test's: none may outlive it.
    if (defined(my $uid = getpwnam($user))) {
        for my $st (glob('/proc/[0-9]*/status')) {
            my $t = slurp($st) // next;
            kill 'KILL', $1 if $t =~ /^Uid:\s+$uid\s/m && $st =~ m{/proc/(\d+)/};
        }
    }
    system("userdel $user >/dev/null 2>&1") if getpwnam($user);
    system("groupdel $user >/dev/null 2>&1") if getgrnam($user);
    system('rm', '-rf', $base) if $base && -d $base;
}

# --- make install ---------------------------------------------------------------

my ($rc, $out) = sh("make -s install @layout");
is($rc, 0, 'make install into a scratch PREFIX, SYSCONFDIR and LOCALSTATEDIR') or diag $out;
ok(getpwnam($user) && getgrnam($user), "it created the system user $user and its group");

my @manifest = map { [split ' '] } split /\n/, `make -s install-manifest @layout`;
ok(@manifest > 30, scalar(@manifest) . ' files in the manifest');
my @missing = grep { !-f $_->[1] || sprintf('%04o', (stat $_->[1])[2] & 07777) ne $_->[0] } @manifest;
is_deeply([map { $_->[1] } @missing], [], 'every file of the manifest is installed with its mode');
my @under = map { $_->[1] =~ s/^\Q$base\E//r } @manifest;
is_deeply([grep { !m{^/(usr|etc)/} } @under], [], 'nothing outside PREFIX and SYSCONFDIR but what setup made');

# Which programs: the routes' (no bench route), every cron binary, no bench or dev tool.
my @routes = grep { !/^#/ && /\S/ } split /\n/, slurp("$root/httpd-conf/routes");
my %bench = map { (split)[1] => 1 } grep { (split)[2] && (split)[2] eq 'bench' } @routes;
my @programs = do { my %s; grep { $_ ne 'push' && !$bench{$_} && !$s{$_}++ } map { (split)[1] } @routes };
ok(@programs >= 10, 'endpoint programs in the routes: ' . join(' ', @programs));
is_deeply([sort map { s{.*/}{}r } glob("$libdir/cgi-bin/*")], [sort @programs],
    'the endpoints installed are exactly the routes\' programs');
for my $src (glob("$root/cgi-bin/*.c")) {
    (my $p = $src) =~ s{.*/(.*)\.c$}{$1};
    ok((grep { $_ eq $p } @programs) || $bench{$p}, "cgi-bin/$p.c is installed or a bench route");
}
is_deeply([sort map { s{.*/}{}r } glob("$libdir/cron/*")], [sort map { s{.*/(.*)\.c$}{$1}r } glob("$root/cron/*.c")],
    'every cron binary is installed');
my @dev = grep { -e } map { ("$libdir/tools/$_", "$dir{prefix}/bin/upwork-api-$_", "$libdir/cgi-bin/$_") }
    qw(trivial push_bench ratelimit token);
is_deeply(\@dev, [], 'no bench or dev program (trivial, push_bench, ratelimit, token)');
ok(-x "$dir{prefix}/$_", "$_ is installed") for qw(sbin/upwork-api-broadcaster sbin/upwork-api-migrate bin/upwork-api-publish);
is_deeply([sort map { s{.*/}{}r } glob("$dir{prefix}/share/upwork-api/sql/*")],
    [sort map { s{.*/}{}r } glob("$root/sql/*.sql")], 'the migrations and bootstrap.sql are in DATADIR/sql');

# The paths inside the installed text files are the scratch ones.
my @text = grep { -T $_ } map { $_->[1] } @manifest;
my @unfilled = grep { slurp($_) =~ /\@[A-Z_]+\@/ } @text;
is_deeply(\@unfilled, [], 'no @PLACEHOLDER@ is left in the installed files');
my @foreign = grep { slurp($_) =~ m{(?<![\w/.-])/(usr/(lib|share|sbin)/upwork-api|etc/upwork-api|run/upwork-api|var/log/upwork-api)} } @text;
is_deeply(\@foreign, [], 'no installed file names the default paths instead of the scratch ones');

# app.conf: mode, group, every knob, kept when present.
my @st = stat $conf;
is(sprintf('%04o', $st[2] & 07777), '0640', 'app.conf is 0640');
is(scalar getgrgid($st[5]), $user, 'in the user\'s group');
my $appconf = slurp($conf);
# The knobs as docs/configuration.md lists them (test_config checks that
# list against the code's tables, defaults included).
my @knobs = slurp("$root/docs/configuration.md") =~ /^\| `([a-z0-9_]+)` \| `APP_/mg;
ok(@knobs > 50, scalar(@knobs) . ' knobs in docs/configuration.md');
my @absent = grep { $appconf !~ /^#?\Q$_\E =/m } @knobs;
is_deeply(\@absent, [], 'app.conf lists every knob');
my @doc = grep { $appconf !~ /^# \S.*\n#?\Q$_\E =/m } @knobs;
is_deeply(\@doc, [], 'each with its description above it');
is((() = $appconf =~ /^[a-z]/mg), 6, 'six lines set (database, two generated keys, push_listen, openapi_file, metrics_dir), the rest commented out');
like($appconf, qr/^push_listen = 127\.0\.0\.1:$push$/m, 'push_listen is the one the snippets name');

my %secret = map { $_ => slurp("$dir{etc}/upwork-api/secrets/$_") } qw(pgpass jwt-hs256.key upwork-token.key);
ok(length($secret{'jwt-hs256.key'}) >= 64 && length($secret{'upwork-token.key'}) >= 64, 'the keys were generated');
like($secret{pgpass}, qr/^\*:\*:\*:upwork_app:[0-9a-f]{48}$/, 'and the database password, in a libpq password file');
is(sprintf('%04o %s', (stat "$dir{etc}/upwork-api/secrets/pgpass")[2] & 07777,
    scalar getpwuid((stat _)[4])), "0600 $user", 'which only the user reads');
is(sprintf('%04o %s', (stat "$dir{var}/log/upwork-api")[2] & 07777,
    scalar getpwuid((stat _)[4])), "0750 $user", 'the log directory is the user\'s');

spew($conf, "$appconf# kept by the second make install\n");
($rc, $out) = sh("make -s install @layout");
is($rc, 0, 'make install again') or diag $out;
like(slurp($conf), qr/# kept by the second make install/, 'app.conf is kept');
ok(-f "$conf.dist", 'the new one is beside it as app.conf.dist');
is_deeply({ map { $_ => slurp("$dir{etc}/upwork-api/secrets/$_") } keys %secret }, \%secret, 'the secrets are kept');

# --- PostgreSQL, Redis ---------------------------------------------------------

mkdir "$base/$_" for qw(pg pgrun redis log web web/www web/run);
system('chown', 'postgres', "$base/pg", "$base/pgrun");
chmod 0700, "$base/pg";
system('chown', $user, "$base/redis");
($rc, $out) = sh("runuser -u postgres -- $pgbin/initdb -D $base/pg -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256");
is($rc, 0, 'initdb') or diag $out;
open(my $pgc, '>>', "$base/pg/postgresql.conf") or die;
print $pgc "listen_addresses = '127.0.0.1'\nport = $pg\nunix_socket_directories = '$base/pgrun'\n";
close $pgc;
spew("$base/pg/pg_hba.conf", "local all postgres peer\nlocal all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n");
($rc, $out) = sh("runuser -u postgres -- $pgbin/pg_ctl -D $base/pg -l $base/pg/log -w -t 60 start");
$pg_started = 1;
is($rc, 0, 'PostgreSQL started') or diag $out;

spew("$base/redis/redis.conf", "bind 127.0.0.1\nport $redis\ndir $base/redis\npidfile $base/redis/redis.pid\n"
    . "logfile $base/redis/redis.log\ndaemonize yes\nsave \"\"\nappendonly no\n");
($rc, $out) = sh("runuser -u $user -- redis-server $base/redis/redis.conf");
is($rc, 0, 'Redis started') or diag $out;
wait_until('Redis', sub { port_open($redis) });
$pids{redis} = (slurp("$base/redis/redis.pid") // '') =~ /(\d+)/ ? $1 : 0;

# What an admin does: the database and Redis of this host in app.conf,
# and here every knob uncommented, so that the programs prove each
# default line valid (an unknown key or value stops them at start).
(my $all = slurp($conf)) =~ s/^#([a-z0-9_]+ =)/$1/mg;
spew($conf, $all . "# install.t: this test's services\n"
    . "db_conninfo = host=$base/pgrun port=$pg dbname=upwork user=upwork_app passfile=$dir{etc}/upwork-api/secrets/pgpass\n"
    . "redis_port = $redis\ncors_origins = http://127.0.0.1:$web\nmetrics_enabled = 1\n");

# --- upwork-api-migrate -----------------------------------------------------------

my $migrate = "$dir{prefix}/sbin/upwork-api-migrate";
($rc, $out) = sh("$migrate --bootstrap");
is($rc, 0, 'upwork-api-migrate --bootstrap, as root, with nothing but app.conf') or diag $out;
my @sql = sort map { s{.*/}{}r } glob("$root/sql/[0-9][0-9][0-9][0-9]-*.sql");
is_deeply([$out =~ /applied (\S+)/g], \@sql, 'it applied every migration, in order');
($rc, $out) = sh($migrate);
is($rc, 0, 'again') or diag $out;
unlike($out, qr/applied/, 'applies nothing');
like($out, qr/up to date at schema version \d+/, 'and says the database is up to date');
($rc, $out) = sh("$migrate --status");
is($rc, 0, '--status: up to date') or diag $out;
is((() = $out =~ /^\d{4}-\S+\.sql +applied /mg), scalar(@sql), '--status lists each migration as applied');
($rc, $out) = psql_super("SELECT version || ' ' || name || ' ' || checksum FROM schema_migrations ORDER BY version");
is($out, join('', map { my $f = $_; my ($v, $n) = /^(\d+)-(.*)\.sql$/;
    sprintf("%d %s %s\n", $v, $n, sha256_hex(slurp("$dir{prefix}/share/upwork-api/sql/$f"))) } @sql),
    'schema_migrations records version, name and checksum of each file');
my ($pw) = $secret{pgpass} =~ /:([0-9a-f]+)$/;
($rc, $out) = sh("PGPASSWORD=$pw psql -X -tA -h 127.0.0.1 -p $pg -U upwork_app -d upwork -c 'SELECT max(version) FROM schema_migrations'");
is($out, scalar(@sql) . "\n", 'upwork_app, with the generated password, reads the schema version');
psql_super("UPDATE schema_migrations SET checksum = 'x' WHERE version = 2");
($rc, $out) = sh($migrate);
is($rc, 1, 'a recorded migration whose file changed: an error');
like($out, qr/\Q$sql[1]\E changed after it was applied/, 'naming the file');
psql_super("UPDATE schema_migrations SET checksum = '" . sha256_hex(slurp("$root/sql/$sql[1]")) . "' WHERE version = 2");
my $bad = "$base/sql-bad";
mkdir $bad;
system("cp $root/sql/*.sql $bad/");
spew("$bad/9998-probe.sql", "-- 9998-probe.sql: a test table\nCREATE TABLE install_probe (a int);\n");
spew("$bad/9999-broken.sql", "-- 9999-broken.sql: fails on line 3\nCREATE TABLE install_probe2 (a int);\nSELEC 1;\n");
($rc, $out) = sh("$migrate --status --sql-dir $bad");
is($rc, 3, '--status with migrations pending: exit 3');
like($out, qr/^9998-probe\.sql +pending$/m, 'naming them');
($rc, $out) = sh("$migrate --sql-dir $bad");
is($rc, 1, 'a migration that fails: an error');
like($out, qr/applied 9998-probe\.sql/, 'the ones before it are applied');
like($out, qr/9999-broken\.sql:3: ERROR:  syntax error/, 'the message names the file and line');
($rc, $out) = psql_super("SELECT to_regclass('install_probe2') IS NULL, max(version) FROM schema_migrations");
is($out, "t|9998\n", 'the failed one is rolled back whole and not recorded');
psql_super("DROP TABLE install_probe; DELETE FROM schema_migrations WHERE version > 9000");

# --- the units, as their ExecStart lines say --------------------------------------

# The [Service] settings of a unit file, instance and %t filled in.
sub unit {
    my ($file, $instance) = @_;
    my (%u, $section);
    for (split /\n/, slurp($file) // die "$file: $!") {
        next if /^\s*(#|$)/;
        if (/^\[(\w+)\]$/) { $section = $1; next }
        next unless $section eq 'Service' && /^(\w+)=(.*)$/;
        my ($k, $v) = ($1, $2);
        $v =~ s/%i/$instance/g if defined $instance;
        $v =~ s/%t/$dir{run}/g;
        push @{ $u{$k} }, $v;
    }
    return \%u;
}

# Start a unit's ExecStart as systemd would: RuntimeDirectory made and
# owned, User, Group, SupplementaryGroups, Environment, no new privileges.
sub start_unit {
    my ($name, $u) = @_;
    my ($uid, $gid) = ((getpwnam($u->{User}[0]))[2], scalar getgrnam($u->{Group}[0]));
    for my $rd (@{ $u->{RuntimeDirectory} // [] }) {
        system('mkdir', '-p', "$dir{run}/$rd");
        chown $uid, $gid, "$dir{run}/$rd";
        chmod oct($u->{RuntimeDirectoryMode}[0] // '0755'), "$dir{run}/$rd";
    }
    my @argv = split ' ', $u->{ExecStart}[0];
    die "$name: ExecStart prefixes are not handled here" if $argv[0] =~ /^[-@+!:]/;
    my %env = (PATH => '/usr/sbin:/usr/bin:/sbin:/bin', map { /^([^=]+)=(.*)$/ } @{ $u->{Environment} // [] });
    my @as = ('setpriv', "--reuid=$u->{User}[0]", "--regid=$u->{Group}[0]",
        '--groups=' . join(',', @{ $u->{SupplementaryGroups} // [$u->{Group}[0]] }), '--no-new-privs', '--');
    # ExecStartPre (the configuration check) first, as the same user: it must pass.
    for my $pre (@{ $u->{ExecStartPre} // [] }) {
        my $out = do { local %ENV = %env; `@as $pre 2>&1` };
        is($?, 0, "$name: ExecStartPre $pre passes") or diag $out;
    }
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setsid();
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>>', "$base/log/$name.log");
        open(STDERR, '>&', \*STDOUT);
        %ENV = %env;
        exec(@as, @argv) or die "exec: $!";
    }
    $pids{$name} = $pid;
}

my $bunit = unit("$unitdir/upwork-api-broadcaster.service");
like($bunit->{ExecStart}[0], qr{^\Q$dir{prefix}\E/sbin/upwork-api-broadcaster}, 'the broadcaster unit runs the installed command');
start_unit('broadcaster', $bunit);
ok(wait_until('the broadcaster', sub { port_open($push) }), "the broadcaster listens on push_listen ($push)");

my $target = slurp("$unitdir/upwork-api.target");
my @wanted = $target =~ /^Wants=upwork-api-fcgi\@(\S+)\.service$/mg;
is_deeply([sort @wanted], [sort @programs], 'upwork-api.target wants one FastCGI unit per program');
like($target, qr/^Wants=upwork-api-broadcaster\.service$/m, 'and the broadcaster');
for my $p (@wanted) {
    start_unit("fcgi\@$p", unit("$unitdir/upwork-api-fcgi\@.service", $p));
}
my @sockets = map { "$dir{run}/upwork-api/$_/fcgi.sock" } @wanted;
ok(wait_until('the sockets', sub { !grep { !-S $_ } @sockets }), 'every FastCGI unit has its socket');
my @perm = grep { my @s = stat $_; sprintf('%04o', $s[2] & 07777) ne '0660' || getgrgid($s[5]) ne 'www-data' } @sockets;
is_deeply(\@perm, [], 'each 0660 in the web server\'s group');
select(undef, undef, undef, 0.5);
my @dead = grep { !alive($pids{$_}) } sort keys %pids;
is_deeply(\@dead, [], 'every program is still running with every knob set (none refused app.conf)')
    or diag `tail -n 5 $base/log/*.log`;

# --- the smoke set ------------------------------------------------------------------

my $http = HTTP::Tiny->new(timeout => 30);
my $T = 'org_install';
psql_super("INSERT INTO tenants (id, kind) VALUES ('$T', 'org');
INSERT INTO jobs (tenant_id, upwork_id, title, description, skills, budget_type, budget_min, budget_max, posted_at)
  VALUES ('$T', 'i-1', 'Build a PostgreSQL backed API', 'A REST API in C with PostgreSQL and Redis.',
          '{c,postgresql}', 'hourly', 40, 60, now()),
         ('$T', 'i-2', 'Tune our lighttpd setup', 'FastCGI and streaming.', '{lighttpd}', 'fixed', 300, 300, now());");
my $job = (psql_super("SELECT id FROM jobs WHERE upwork_id = 'i-1'"))[1] =~ s/\s+//gr;

sub b64u { my $s = encode_base64($_[0], ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }
sub token {
    my (%c) = @_;
    (my $key = $secret{'jwt-hs256.key'}) =~ s/\s+$//;
    my $in = b64u('{"alg":"HS256","typ":"JWT"}') . '.'
        . b64u($json->encode({ sub => 'user_inst', o => { id => $T, rol => 'admin' }, iat => time,
            exp => time + 600, %c }));
    return "$in." . b64u(hmac_sha256($in, $key));
}
my $tok = token();

sub api {
    my ($method, $path, %o) = @_;
    my %h = %{ $o{headers} // {} };
    $h{Authorization} = "Bearer $o{token}" if $o{token};
    my %req = (headers => \%h);
    if ($o{json}) {
        $req{content} = $json->encode($o{json});
        $h{'Content-Type'} = 'application/json';
    }
    my $r = $http->request($method, "http://127.0.0.1:$web$path", \%req);
    $r->{json} = eval { $json->decode($r->{content}) } if length($r->{content} // '');
    return $r;
}

sub smoke {
    my ($server) = @_;
    my $r = api(GET => '/api/health');
    is($r->{status}, 200, "$server: /api/health 200");
    ok($r->{json}{checks}{postgres}{ok} && $r->{json}{checks}{redis}{ok}, "$server: PostgreSQL and Redis reachable")
        or diag $r->{content};
    $r = api(GET => '/api/jobs');
    is($r->{status}, 401, "$server: no token: 401");
    like($r->{headers}{'www-authenticate'} // '', qr/^Bearer /, "$server: with WWW-Authenticate");
    $r = api(GET => '/api/jobs', token => $tok =~ s/.....$/AAAAA/r);
    is($r->{status}, 401, "$server: a forged token: 401");
    is($r->{json}{code}, 'unauthorized', "$server: as JSON") or diag $r->{content};
    $r = api(GET => '/api/jobs', token => token(exp => time - 3600));
    is($r->{status}, 401, "$server: an expired token: 401");
    $r = api(GET => '/api/jobs?limit=10', token => $tok);
    is($r->{status}, 200, "$server: /api/jobs 200") or diag $r->{content};
    is_deeply([sort map { $_->{title} } @{ $r->{json}{data} // [] }],
        ['Build a PostgreSQL backed API', 'Tune our lighttpd setup'], "$server: the tenant's jobs");
    $r = api(GET => '/api/nothing-here', token => $tok);
    is($r->{status}, 404, "$server: an unknown /api/ path: a JSON 404 from the catch-all route");
    $r = api(POST => '/api/ai/proposals/generate', token => $tok,
        json => { jobId => $job, tone => 'friendly', maxWords => 150 });
    is($r->{status}, 200, "$server: a generation with the builtin provider") or diag $r->{content};
    is($r->{json}{data}{metadata}{provider}, 'builtin', "$server: by builtin");
    like($r->{json}{data}{proposal} // '', qr/PostgreSQL/, "$server: a proposal that names the job's skill");
    $r = api(GET => '/api/events?topics=jobs');
    is($r->{status}, 401, "$server: /api/events reaches the broadcaster (401 without a token)");

    # /metrics (metrics_enabled = 1 here): from this host, the sums of
    # every program; from another address the snippet stops it before
    # the program (whose own answer would be JSON).
    $r = api(GET => '/metrics');
    is($r->{status}, 200, "$server: /metrics from 127.0.0.1") or diag $r->{content};
    like($r->{content}, qr/^http_requests_total\{program="jobs",route="\/api\/jobs",method="GET",status="200"\} [1-9]/m,
        "$server: with the requests of the other programs");
    my $far = HTTP::Tiny->new(timeout => 10, local_address => '127.0.0.2')->get("http://127.0.0.1:$web/metrics");
    ok($far->{status} == 403 || $far->{status} == 404, "$server: /metrics from 127.0.0.2: $far->{status}");
    unlike($far->{content} // '', qr/^\{/, "$server: refused by the web server, not the program");

    # A socket.io event: the official client through the web server, the
    # event published with the installed upwork-api-publish.
    my $n = int(rand(1e9));
    my $js = <<'JS';
const { io } = require(process.env.SIO);
const s = io(process.env.URL, { transports: ['websocket'], auth: { token: process.env.TOKEN },
  reconnection: false, timeout: 5000 });
const t = setTimeout(() => { console.log('timeout'); process.exit(1); }, 15000);
s.on('connect', async () => {
  const ack = await s.timeout(5000).emitWithAck('subscribe:jobs');
  console.log('subscribed ' + JSON.stringify(ack));
});
s.on('connect_error', (e) => { console.log('connect_error ' + e.message); process.exit(1); });
s.on('job:new', (d) => { console.log('event ' + JSON.stringify(d)); clearTimeout(t); s.close(); process.exit(0); });
JS
    local $ENV{SIO} = "$root/tests/node/node_modules/socket.io-client";
    local $ENV{URL} = "http://127.0.0.1:$web";
    local $ENV{TOKEN} = $tok;
    my $pid = open(my $node, '-|', 'node', '-e', $js) or die "node: $!";
    # And a Server-Sent Events stream: the event arrives while the
    # response goes on, so the web server streams it.
    my $sse = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $web, Timeout => 5) or die "connect: $!";
    print $sse "GET /api/events?topics=jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $tok\r\n\r\n";
    my $first = <$node> // '';
    is($first, "subscribed {\"ok\":true,\"room\":\"jobs:$T\"}\n", "$server: socket.io client connected over WebSocket, subscribed to jobs");
    ($rc, $out) = sh("$dir{prefix}/bin/upwork-api-publish --tenant $T --type job:new --data '{\"n\":$n}'");
    is($rc, 0, "$server: upwork-api-publish") or diag $out;
    my $ev = <$node> // '';
    like($ev, qr/^event .*"n":$n\b/, "$server: the client received the event");
    close $node;
    my ($buf, $sel, $end) = ('', IO::Select->new($sse), time + 10);
    while ($buf !~ /"n":$n\b/ && time < $end && $sel->can_read($end - time)) {
        sysread($sse, my $chunk, 65536) or last;
        $buf .= $chunk;
    }
    like($buf, qr{^HTTP/1\.1 200 .*^Content-Type: text/event-stream}ims, "$server: /api/events streams");
    like($buf, qr/^event: job:new\r?\ndata: .*"n":$n\b/m, "$server: the event arrived on the open stream");
    close $sse;
}

spew("$base/web/lighttpd.conf", <<"EOF");
# The least lighttpd needs, and the installed snippet.
server.modules = ( "mod_fastcgi", "mod_proxy", "mod_magnet" )
server.bind = "127.0.0.1"
server.port = $web
server.document-root = "$base/web/www"
server.pid-file = "$base/web/lighttpd.pid"
server.errorlog = "$base/web/lighttpd-error.log"
server.username = "www-data"
server.groupname = "www-data"
include "$dir{etc}/lighttpd/conf-available/50-upwork-api.conf"
EOF
my @lsnip = glob("$dir{etc}/lighttpd/conf-available/*upwork-api.conf");
like($lsnip[0] // '', qr{/\d+-upwork-api\.conf$}, 'the lighttpd snippet is named as lighty-enable-mod upwork-api looks for it');
like(slurp($lsnip[0] // '/dev/null'), qr/^# -\*- depends: fastcgi, proxy, magnet -\*-$/m,
    'and makes it enable fastcgi, proxy and magnet (the JSON errors)');
# lighttpd opens its error log as www-data.
spew("$base/web/lighttpd-error.log", '');
system('chown', 'www-data', "$base/web/lighttpd-error.log");
($rc, $out) = sh("lighttpd -tt -f $base/web/lighttpd.conf");
is($rc, 0, 'lighttpd accepts the installed snippet') or diag $out;
($rc, $out) = sh("lighttpd -f $base/web/lighttpd.conf");
is($rc, 0, 'lighttpd started') or diag $out;
wait_until('lighttpd', sub { port_open($web) });
smoke('lighttpd');
stop_pid($1) if (slurp("$base/web/lighttpd.pid") // '') =~ /(\d+)/;
wait_until('lighttpd to stop', sub { !port_open($web) });

my $mods = '/usr/lib/apache2/modules';
spew("$base/web/apache.conf", <<"EOF");
# The least Apache needs (what a2enmod proxy_fcgi proxy_http headers unique_id enables, and
# alias and mime, enabled by default), and the installed snippet.
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule alias_module $mods/mod_alias.so
LoadModule mime_module $mods/mod_mime.so
TypesConfig /etc/mime.types
LoadModule headers_module $mods/mod_headers.so
LoadModule unique_id_module $mods/mod_unique_id.so
LoadModule authz_host_module $mods/mod_authz_host.so
LoadModule proxy_module $mods/mod_proxy.so
LoadModule proxy_fcgi_module $mods/mod_proxy_fcgi.so
LoadModule proxy_http_module $mods/mod_proxy_http.so
ServerRoot "$base/web"
ServerName 127.0.0.1
Listen 127.0.0.1:$web
PidFile "$base/web/apache.pid"
DefaultRuntimeDir "$base/web/run"
Mutex file:$base/web/run default
ErrorLog "$base/web/apache-error.log"
User www-data
Group www-data
Include "$dir{etc}/apache2/conf-available/upwork-api.conf"
EOF
($rc, $out) = sh("apache2 -t -f $base/web/apache.conf");
is($rc, 0, 'Apache accepts the installed snippet') or diag $out;
($rc, $out) = sh("apache2 -f $base/web/apache.conf -k start");
is($rc, 0, 'Apache started') or diag $out;
wait_until('Apache', sub { port_open($web) });
smoke('Apache');
system("apache2 -f $base/web/apache.conf -k stop >/dev/null 2>&1");
wait_until('Apache to stop', sub { !port_open($web) && !-e "$base/web/apache.pid" });

# --- cron.d, logrotate ---------------------------------------------------------------

my $crond = slurp("$dir{etc}/cron.d/upwork-api");
my %cronenv = $crond =~ /^([A-Z_]+)=(.*)$/mg;
is($cronenv{APP_CONFIG}, $conf, 'cron.d names the installed app.conf');
my @jobs = $crond =~ /^#(\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+\[ -x .*)$/mg;
is(scalar(@jobs), scalar(() = glob("$root/cron/*.c")), 'cron.d has a job for each cron binary, commented out');
ok(!grep({ (split)[5] ne $user } @jobs), 'each with the user field');
my ($poll) = grep { m{/cron/poll-jobs } } @jobs;
my $cmd = (split ' ', $poll, 7)[6];
($rc, $out) = sh("runuser -u $user -- env -i PATH=/usr/bin:/bin HOME=/ SHELL=/bin/sh APP_CONFIG=$conf /bin/sh -c " . q_($cmd));
is($rc, 0, 'poll-jobs, run as the cron.d line says: exit 0') or diag $out . slurp("$dir{var}/log/upwork-api/poll-jobs.log");
my $log = slurp("$dir{var}/log/upwork-api/poll-jobs.log") // '';
like($log, qr/^\{.*"svc":"poll-jobs"/m, 'its JSON log lines are in LOGDIR/poll-jobs.log');
($rc, $out) = sh("logrotate -f -s $base/logrotate.state $dir{etc}/logrotate.d/upwork-api");
is($rc, 0, 'logrotate runs the installed rules') or diag $out;
ok(-s "$dir{var}/log/upwork-api/poll-jobs.log.1", 'the log was rotated');
is(scalar getpwuid((stat "$dir{var}/log/upwork-api/poll-jobs.log")[4]), $user, 'and a new one made for the user');

# --- systemd-analyze verify ----------------------------------------------------------

($rc, $out) = sh("cd $unitdir && MANPATH=$dir{prefix}/share/man systemd-analyze verify "
    . "upwork-api-fcgi\@$programs[0].service upwork-api-broadcaster.service upwork-api.target");
is($rc, 0, 'systemd-analyze verify: the units') or diag $out;
is($out, '', 'without a warning (their man pages found too)');
($rc, $out) = sh("cd $unitdir && systemd-analyze security --offline=yes upwork-api-fcgi\@$programs[0].service upwork-api-broadcaster.service");
my @exposure = $out =~ /Overall exposure level for \S+: ([\d.]+)/g;
is(scalar(@exposure), 2, 'systemd-analyze security rates both services') or diag $out;
ok(!grep({ $_ > 2.5 } @exposure), "their exposure is low (@exposure of 10)");

# --- make uninstall ---------------------------------------------------------------------

# The processes first, as an admin stops the units before removing them.
stop_pid($_) for values %pids;
%pids = ();
($rc, $out) = sh("make -s uninstall @layout");
is($rc, 0, 'make uninstall') or diag $out;
my @left = grep { $_->[1] ne $conf && -e $_->[1] } @manifest;
is_deeply([map { $_->[1] } @left], [], 'every installed file is gone');
is_deeply([grep { -f } split /\n/, `find $dir{prefix} -type f`], [], 'nothing is left under PREFIX');
ok(-f $conf && -f "$dir{etc}/upwork-api/secrets/pgpass", 'app.conf and the secrets are kept');
ok(-f "$dir{var}/log/upwork-api/poll-jobs.log", 'and the logs');

done_testing;
