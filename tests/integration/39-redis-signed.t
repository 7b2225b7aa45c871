#!/usr/bin/env perl
# 39-redis-signed.t: Redis wants a password and has no TCP port; a wrong password is a clear error; events and cache entries written to Redis without the events key are never delivered or served, nor can a forged high id silence a stream.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time sleep);
use ApiTest;

my $s = stack();
my $T = 'org_t_signed';
reset_tenant($T);
insert_jobs($T, map { { upwork_id => "sg-$_", title => "Signed job $_", skills => ['hmac'] } } 1 .. 3);
my $tok = token(sub => 'user_sg', org => $T);

# --- Redis itself ----------------------------------------------------------
my $noauth = `redis-cli -s '$s->{REDIS_SOCKET}' PING 2>&1`;
like($noauth, qr/NOAUTH/, 'Redis refuses a client without the password');
is(redis('PING'), 'PONG', 'and answers one with it');
is((split /\n/, redis('CONFIG', 'GET', 'port'))[1], '0', 'Redis listens on its unix socket only (port 0)');
for my $f ('redis.password', 'events.key') {
    my $mode = (stat "$s->{RT}/secrets/$f")[2] & 07777;
    is(sprintf('%04o', $mode), '0640', "secrets/$f is 0640");
}
my $conf = ApiTest::slurp("$s->{RT}/app.conf");
like($conf, qr/^redis_password_file = /m, 'app.conf names the password file');
like($conf, qr/^events_key_file = /m, 'and the events key');
unlike(ApiTest::slurp("$s->{RT}/conf/redis.conf"), qr/requirepass/, 'redis.conf (not in secrets/) holds no password');

# A program given the wrong password says so, and publishes nothing.
my $wrong = "$s->{RT}/run/wrong-redis-$$.password";
open my $fh, '>', $wrong or die "$wrong: $!";
print $fh "not-the-password\n";
close $fh;
my $out = `APP_CONFIG='$s->{RT}/app.conf' APP_REDIS_PASSWORD_FILE='$wrong' '$s->{BIN}/tools/publish' --tenant $T --type job:new --data '{}' 2>&1`;
isnt($? >> 8, 0, 'publish with a wrong Redis password fails');
like($out, qr/redis: AUTH refused: WRONGPASS/, 'naming the refused AUTH') or diag $out;
unlink $wrong;

# --- events ----------------------------------------------------------------
sub publish {
    my ($data) = @_;
    my $json = json_encode($data);
    my $id = `APP_CONFIG='$s->{RT}/app.conf' '$s->{BIN}/tools/publish' --tenant $T --type job:new --data '$json' 2>/dev/null`;
    chomp $id;
    return $id;
}

sub seen { my ($buf) = @_; [map { /"n":"?(\w+)/ ? $1 : () } grep { /^data: / } split /\r?\n/, $buf] }

# An envelope as a writer without the key would publish it.
sub envelope {
    my ($id, $n, $sig) = @_;
    my @t = gmtime();
    my $now = sprintf('%04d-%02d-%02dT%02d:%02d:%02d.000Z', $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0]);
    return qq({"id":"$id") . (defined $sig ? qq(,"sig":"$sig") : '')
        . qq(,"type":"job:new","tenant":"$T","user":null,"time":"$now","data":{"n":"$n"}});
}

my $st = open_stream('/api/events', Authorization => "Bearer $tok");
ok(read_until($st, qr/: connected\n/), 'an event stream opens');
my $ms = int(time() * 1000);
redis('PUBLISH', 'upw:events', envelope("$ms-0", 'unsigned'));
redis('PUBLISH', 'upw:events', envelope("$ms-1", 'forged', 'ab' x 32));
redis('PUBLISH', 'upw:events', envelope('9999999999999-0', 'high', 'ab' x 32));
my $id1 = publish({ n => 'real1' });
ok(read_until($st, qr/"n":"real1"/), 'a signed event is delivered');
is_deeply(seen($st->{buf}), ['real1'], 'the unsigned, forged and far-ahead ones published before it are not');

# A real event's signed tail, replayed under a far later id: refused too.
my $entry = redis('XRANGE', "upw:events:$T", $id1, $id1);
my ($tail, $sig) = (split /\n/, $entry)[2, 4];
ok(defined $sig && $sig =~ /^[0-9a-f]{64}$/, 'the stream keeps the signature beside the event');
my $later = (int(time() * 1000) + 3_600_000) . '-0';
redis('PUBLISH', 'upw:events', qq({"id":"$later","sig":"$sig"$tail));

# A writer without the key pushes the stream's last id far ahead: the
# next real event still gets a plausible id and is delivered.
redis('XADD', "upw:events:$T", '9999999999999-0', 'e', $tail, 's', $sig);
my $id2 = publish({ n => 'real2' });
my ($id2ms) = $id2 =~ /^(\d+)-/;
ok(defined $id2ms && abs($id2ms - time() * 1000) < 60_000, "after a forged high id in the stream, the next id is now's ($id2)");
ok(read_until($st, qr/"n":"real2"/), 'and that event is delivered');
is_deeply(seen($st->{buf}), ['real1', 'real2'], 'the replayed signature under a later id was not');
like(ApiTest::slurp("$s->{RT}/log/push.log"), qr/dropped: (unsigned|bad signature|id ahead of the clock|id far from its time)/,
    'the broadcaster logs what it drops');

# Replay after a reconnect: a forged entry in the stream is skipped.
redis('XADD', "upw:events:$T", '*', 'e', envelope_tail('replayed-forged'), 's', 'cd' x 32);
my $id3 = publish({ n => 'real3' });
close $st->{sock};
my $rs = open_stream('/api/events', Authorization => "Bearer $tok", 'Last-Event-ID' => $id1);
ok(read_until($rs, qr/"n":"real3"/), 'reconnected with Last-Event-ID: the signed events are replayed');
is_deeply(seen($rs->{buf}), ['real2', 'real3'], 'the forged stream entry is not');
close $rs->{sock};

# GET /api/events/recent reads the same stream: the forged entry is not served there either.
my $rec = api(GET => "/api/events/recent?after=$id1", token => $tok);
is($rec->{status}, 200, 'GET /api/events/recent: 200');
is_deeply([map { $_->{data}{n} } @{ $rec->{json}{data}{events} // [] }], ['real2', 'real3'],
    'it lists the signed events, not the forged entry') or diag $rec->{body};

sub envelope_tail {
    my ($n) = @_;
    my $e = envelope('0-0', $n);
    $e =~ s/^\{"id":"0-0"//;
    return $e;
}

# --- the L2 cache ----------------------------------------------------------
my $r = api(GET => '/api/jobs?skills=hmac', token => $tok);
is($r->{status}, 200, 'a list');
like($r->{headers}{'x-cache'}, qr/^(MISS|HIT-L2)$/, 'filled into the cache');
my @keys = grep { !/:g$|:lock$/ } split /\n/, redis('--scan', '--pattern', "c:{jobs:$T}:*");
ok(@keys >= 1, 'its L2 entry is in Redis');
my $forged = '{"success":true,"data":[{"title":"FORGED"}],"pagination":{"page":1,"limit":20,"total":1,"hasMore":false}}';
redis('SET', $_, $forged, 'EX', 60) for @keys;
sleep 1.2;    # cache_l1_ttl_ms: the workers' own copies expire
for my $i (1 .. 3) {
    $r = api(GET => '/api/jobs?skills=hmac', token => $tok);
    is($r->{status}, 200, "read $i after the L2 entry was overwritten: 200");
    unlike($r->{body}, qr/FORGED/, "read $i: the forged body is not served");
    is($r->{json}{pagination}{total}, 3, "read $i: the real data");
}
like(ApiTest::slurp("$s->{RT}/log/jobs.log"), qr/cache: L2 entry c:\{jobs:\Q$T\E\}:\S+ dropped: its signature does not verify/,
    'the dropped entry is logged');

done_testing;
