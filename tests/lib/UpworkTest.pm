# UpworkTest.pm: helpers for the Upwork tests: the fake Upwork's control routes, connecting a tenant through the real OAuth flow, running the cron binaries, listening to realtime events.
#
# The fake (tests/fake-upwork.js) is started by tests/harness.pl for each
# pass, and the stack's app.conf points at it.  Each test file works with
# its own fake accounts (keys), so files running in parallel never share
# a scenario.
package UpworkTest;

use strict;
use warnings;
use Exporter 'import';
use HTTP::Tiny;
use IO::Select;
use IO::Socket::UNIX;
use Time::HiRes qw(time sleep);
use ApiTest;

our @EXPORT = qw(conf_value fake fake_reset connect_upwork run_cron start_cron
    finish_cron events_tap cron_env poll_now);

# A value of the stack's app.conf.
sub conf_value {
    my ($key) = @_;
    my $s = stack();
    open my $fh, '<', "$s->{RT}/app.conf" or die "app.conf: $!";
    my $v;
    while (<$fh>) {
        $v = $1 if /^\Q$key\E\s*=\s*(.*?)\s*$/;
    }
    close $fh;
    return $v;
}

sub fake_base {
    my $u = conf_value('upwork_graphql_url') // die "upwork_graphql_url is not set\n";
    $u =~ s{/graphql$}{};
    return $u;
}

my $http = HTTP::Tiny->new(timeout => 30, max_redirect => 0);

# fake(METHOD => '/_fake/key/config', {json}) returns the decoded answer.
sub fake {
    my ($method, $path, $json) = @_;
    my %req = (headers => { 'Content-Type' => 'application/json' });
    $req{content} = json_encode($json) if $json;
    my $r = $http->request($method, fake_base() . $path, \%req);
    die "fake $method $path: $r->{status} $r->{content}\n" unless $r->{success};
    return json_decode($r->{content});
}

# POST /api/upwork/poll, waiting out the per-tenant cooldown
# (upwork_poll_cooldown_s, 1 s in the test stacks) when it answers 429.
sub poll_now {
    my ($tok) = @_;
    for (1 .. 5) {
        my $r = api(POST => '/api/upwork/poll', token => $tok);
        return $r unless $r->{status} == 429 && ($r->{json}{code} // '') eq 'rate_limited'
            && ($r->{json}{details} // '') =~ /polled less than/;
        select(undef, undef, undef, $r->{headers}{'retry-after'} // 1);
    }
    die "poll_now: still cooling down\n";
}

sub fake_reset { for my $k (@_) { fake(POST => "/_fake/$k/reset") } }

# Connect a tenant the way a browser would: GET /api/upwork/connect,
# follow the authorize URL to the fake (which consents at once for the
# fake account), then hand Upwork's redirect to our callback.  Returns
# the callback's response (api()'s hash) plus {authorize} and {location}.
sub connect_upwork {
    my (%o) = @_;
    my $tok = token(sub => $o{user}, org => $o{tenant});
    my $q = defined $o{organization} ? "?organization=$o{organization}" : '';
    my $r = api(GET => "/api/upwork/connect$q", token => $tok);
    die "connect: $r->{status} $r->{body}\n" unless $r->{status} == 200;
    my $auth = $r->{json}{data}{authorizeUrl};
    my $consent = $http->get("$auth&fake_account=$o{account}");
    die "authorize: $consent->{status} $consent->{content}\n" unless $consent->{status} == 302;
    my $loc = $consent->{headers}{location};
    (my $path = $loc) =~ s{^https?://[^/]+}{};
    # The browser comes back with the user's session (a cookie in real life).
    my $cb = api(GET => $path, token => $tok);
    $cb->{authorize} = $auth;
    $cb->{location} = $loc;
    return $cb;
}

# The environment a cron binary runs with in the tests: the stack's
# config, and the sanitizers reporting where tests/post/sanitizers.t looks.
sub cron_env {
    my $s = stack();
    return (APP_CONFIG => "$s->{RT}/app.conf",
            ASAN_OPTIONS => "log_path=$s->{RT}/log/asan/asan:detect_leaks=1:halt_on_error=1",
            UBSAN_OPTIONS => "log_path=$s->{RT}/log/asan/ubsan:print_stacktrace=1:halt_on_error=1");
}

# Start a cron binary in the background: start_cron('poll-jobs', args =>
# [...], env => {...}); returns a handle for finish_cron().
sub start_cron {
    my ($name, %o) = @_;
    my $s = stack();
    my $tmp = "/tmp/upwtest-cron-$$-" . int(rand(1e9));
    my $t0 = time();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my %env = (cron_env(), %{ $o{env} // {} });
        $ENV{$_} = $env{$_} for keys %env;
        open STDOUT, '>', "$tmp.out" or die;
        open STDERR, '>', "$tmp.err" or die;
        open STDIN, '<', '/dev/null' or die;
        exec("$s->{BIN}/cron/$name", @{ $o{args} // [] }) or die "exec: $!";
    }
    return { pid => $pid, tmp => $tmp, t0 => $t0, name => $name };
}

sub slurp_file {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    my $d = <$fh>;
    close $fh;
    return $d // '';
}

# Wait for a started run; returns {exit, signal, out, err, secs, log:
# [decoded JSON lines of stderr], bad: [stderr lines that are not JSON]}.
sub finish_cron {
    my ($h) = @_;
    waitpid($h->{pid}, 0);
    my %r = (exit => $? >> 8, signal => $? & 127, secs => time() - $h->{t0});
    $r{out} = slurp_file("$h->{tmp}.out");
    $r{err} = slurp_file("$h->{tmp}.err");
    unlink "$h->{tmp}.out", "$h->{tmp}.err";
    for my $line (split /\n/, $r{err}) {
        my $j = eval { json_decode($line) };
        if (ref $j eq 'HASH') { push @{ $r{log} }, $j } else { push @{ $r{bad} }, $line }
    }
    $r{log} //= [];
    $r{msgs} = join "\n", map { $_->{msg} // '' } @{ $r{log} };
    return \%r;
}

sub run_cron { finish_cron(start_cron(@_)) }

# A subscriber to the channel every broadcaster listens to (upw:events):
# my $tap = events_tap(); ...; my @ev = $tap->collect(0.5, tenant => 'org_x').
sub events_tap {
    return UpworkTest::PgTap->new if ApiTest::no_redis();
    my $s = stack();
    my $sock = IO::Socket::UNIX->new(Peer => $s->{REDIS_SOCKET}) or die "redis: $!";
    my $pw = ApiTest::redis_password();
    printf $sock "*2\r\n\$4\r\nAUTH\r\n\$%d\r\n%s\r\n", length($pw), $pw;
    my $ok = <$sock>;
    die "redis AUTH: $ok" unless defined $ok && $ok =~ /^\+OK/;
    print $sock "*2\r\n\$9\r\nSUBSCRIBE\r\n\$10\r\nupw:events\r\n";
    my $self = bless { sock => $sock, buf => '', events => [] }, 'UpworkTest::Tap';
    $self->read_until(sub { $_[0] eq 'subscribe' }, 5);
    return $self;
}

package UpworkTest::Tap;

use Time::HiRes qw(time);

# Take one RESP value off the front of the buffer; undef when incomplete.
sub parse {
    my ($self) = @_;
    my $b = \$self->{buf};
    return undef unless $$b =~ /^\*(\d+)\r\n/;
    my ($n, $pos, @items) = ($1, length($&));
    for (1 .. $n) {
        my $rest = substr($$b, $pos);
        if ($rest =~ /^\$(\d+)\r\n/) {
            my $len = $1;
            my $start = $pos + length($&);
            return undef if length($$b) < $start + $len + 2;
            push @items, substr($$b, $start, $len);
            $pos = $start + $len + 2;
        } elsif ($rest =~ /^:(-?\d+)\r\n/) {
            push @items, $1;
            $pos += length($&);
        } else {
            return undef;
        }
    }
    substr($$b, 0, $pos, '');
    return \@items;
}

sub read_until {
    my ($self, $stop, $secs) = @_;
    my $sel = IO::Select->new($self->{sock});
    my $end = time() + $secs;
    while (1) {
        while (my $m = $self->parse) {
            return 1 if $m->[0] eq 'subscribe' && $stop->('subscribe');
            if ($m->[0] eq 'message') {
                my $ev = eval { ApiTest::json_decode($m->[2]) };
                push @{ $self->{events} }, $ev if $ev;
                return 1 if $ev && $stop->($ev);
            }
        }
        my $left = $end - time();
        return 0 if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($self->{sock}, my $chunk, 65536);
        return 0 unless $n;
        $self->{buf} .= $chunk;
    }
}

# Every event received within secs (more come in while waiting), taken
# from the tap; with tenant => ..., only that tenant's.
sub collect {
    my ($self, $secs, %o) = @_;
    $self->read_until(sub { 0 }, $secs);
    my @all = @{ $self->{events} };
    $self->{events} = [];
    return grep { !$o{tenant} || $_->{tenant} eq $o{tenant} } @all;
}

# Without Redis (docs/no-redis.md) events are rows of the events table:
# the same envelopes, read from there after the newest id at the tap's
# creation, each once.
package UpworkTest::PgTap;

use Time::HiRes qw(sleep);

sub new {
    my ($class) = @_;
    my $top = ApiTest::psql("SELECT coalesce(max(ms), 0) || ' ' || coalesce(max(seq) FILTER (WHERE ms = (SELECT max(ms) FROM events)), 0) FROM events");
    my ($ms, $seq) = split ' ', $top;
    return bless { ms => $ms, seq => $seq, seen => {} }, $class;
}

sub collect {
    my ($self, $secs, %o) = @_;
    sleep($secs);
    my @ev;
    for my $row (split /\n/, ApiTest::psql("SELECT '{\"id\":\"' || ms || '-' || seq || '\"' || tail FROM events"
        . " WHERE (ms, seq) > ($self->{ms}, $self->{seq}) ORDER BY tenant_id, ms, seq")) {
        my $ev = eval { ApiTest::json_decode($row) } or next;
        next if $self->{seen}{($ev->{tenant} // '') . "/$ev->{id}"}++;
        push @ev, $ev;
    }
    return grep { !$o{tenant} || ($_->{tenant} // '') eq $o{tenant} } @ev;
}

1;
