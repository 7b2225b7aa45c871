#!/usr/bin/env perl
# 92-redis.t: no KEYS or SCAN on request paths; Redis stopped, frozen or refusing the password: requests still succeed, fast, per class policy (503 with Retry-After where closed); back: all works again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep time);
use ApiTest;

my $s = stack();
my $stack = "VAR='$s->{VAR}' PORT=$s->{PORT} '$s->{ROOT}/scripts/stack.sh'";
my $T = 'org_t_redis';
reset_tenant($T);
insert_jobs($T, map { { upwork_id => "r-$_", title => "Redis job $_", skills => ['lua'] } } 1 .. 3);
my $tok = token(sub => 'user_r', org => $T);

# A mixed workload, then Redis's own command counters.
is(redis('CONFIG', 'RESETSTAT'), 'OK', 'command statistics reset');
for my $i (1 .. 5) {
    api(GET => '/api/jobs?skills=lua', token => $tok);
    api(GET => "/api/jobs?page=$i", token => $tok);
    api(GET => '/api/job-searches', token => $tok);
    my $id = api(POST => '/api/jobs', token => $tok, json => { name => "s$i" })->{json}{data}{id};
    api(DELETE => "/api/job-searches/$id", token => $tok);
    api(GET => '/api/jobs');
    api(GET => '/api/health');
}
my $stats = redis('INFO', 'commandstats');
like($stats, qr/cmdstat_evalsha/, 'the workload ran its scripts with EVALSHA');
like($stats, qr/cmdstat_incr:/, 'and invalidated with INCR');
unlike($stats, qr/cmdstat_(keys|scan):/, 'and never issued KEYS or SCAN');

# Every rate-limit counter and cache value expires; generations are kept.
# (Checked with one Lua call: redis-cli per key would take minutes.)
my $ttl_check = q{
    local bad, n = 0, 0
    for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
        if not (ARGV[2] == '1' and (string.sub(k, -2) == ':g' or string.sub(k, -5) == ':lock')) then
            n = n + 1
            if redis.call('PTTL', k) <= 0 then bad = bad + 1 end
        end
    end
    return {n, bad}
};
my ($nrl, $badrl) = split /\n/, redis('EVAL', $ttl_check, 0, 'rl:*', 0);
ok($nrl > 0, "$nrl rate-limit counters");
is($badrl, 0, 'every one has a TTL');
my ($nc, $badc) = split /\n/, redis('EVAL', $ttl_check, 0, 'c:*', 1);
ok($nc > 0, "$nc cache values");
is($badc, 0, 'every one has a TTL');

# Redis stopped.
system("$stack redis-stop") == 0 or BAIL_OUT('cannot stop Redis');
for my $i (1 .. 4) {
    my $r = api(GET => '/api/jobs?skills=lua', token => $tok);
    is($r->{status}, 200, "Redis down, list $i: 200 from PostgreSQL");
    is($r->{headers}{'x-cache'}, 'BYPASS', "list $i: X-Cache BYPASS");
    ok(!exists $r->{headers}{'x-ratelimit-limit'}, "list $i: the default class fails open (no rate-limit headers)");
    is($r->{json}{pagination}{total}, 3, "list $i: the right data");
    ok($r->{ms} < 3000, "list $i: no hang (" . int($r->{ms}) . ' ms)');
}
my $r = api(POST => '/api/jobs', token => $tok, json => { name => 'while redis is down' });
is($r->{status}, 201, 'a write while Redis is down: 201');
my $job = psql("SELECT id FROM jobs WHERE tenant_id = '$T' LIMIT 1");
my $before = psql("SELECT count(*) FROM proposals WHERE tenant_id = '$T'");
$r = api(POST => '/api/ai/proposals/generate', token => $tok, json => { jobId => $job });
is($r->{status}, 503, 'the ai class fails closed: 503');
is($r->{json}{code}, 'service_unavailable', 'with a JSON error');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, 'and Retry-After');
is(psql("SELECT count(*) FROM proposals WHERE tenant_id = '$T'"), $before, 'and nothing was generated or stored');
$r = api(GET => '/api/health');
is($r->{status}, 200, 'health: 200');
is($r->{json}{status}, 'degraded', 'health: degraded');
my $ailog;
SKIP: {
    skip mode_lacks('logs'), 2 if mode_lacks('logs');
    my $log = `cat '$s->{RT}'/log/jobs.log`;
    like($log, qr/ratelimit: redis unavailable: class default fails open/, 'the fail-open decision is logged');
    $ailog = `cat '$s->{RT}'/log/proposals_generate.log`;
    like($ailog, qr/ratelimit: redis unavailable: class ai fails closed/, 'the fail-closed decision is logged');
}

system("$stack redis-start") == 0 or BAIL_OUT('cannot start Redis');
sleep 1.2;    # redis_retry_ms: how long a worker bypasses Redis after a failure
$r = api(GET => '/api/job-searches', token => $tok);
is($r->{status}, 200, 'Redis back: 200');
diag explain $r->{headers} unless exists $r->{headers}{'x-ratelimit-limit'};
ok(exists $r->{headers}{'x-ratelimit-limit'}, 'rate limits work again, without restarting workers');
like($r->{headers}{'x-cache'} // '', qr/^(MISS|HIT-L2)$/, 'the cache works again');
ok((grep { $_->{name} eq 'while redis is down' } @{ $r->{json}{data} }), 'and shows the write made during the outage');

# Redis frozen (SIGSTOP): connected but silent.
open my $fh, '<', "$s->{RT}/run/redis/redis.pid" or die $!;
chomp(my $pid = <$fh>);
kill 'STOP', $pid;
for my $i (1 .. 4) {
    $r = api(GET => "/api/jobs?skills=lua&limit=$i", token => $tok);
    is($r->{status}, 200, "Redis frozen, request $i: 200");
    ok($r->{ms} < 3000, "request $i: finished within the timeout (" . int($r->{ms}) . ' ms)');
}
# The ai class fails closed on a silent Redis as on a dead one: the rate
# limit's command times out (redis_timeout_ms) and the request gets a 503,
# rather than hanging or generating unmetered.
my $frozen_id = "redis-frozen-ai-$$-" . int(rand(1e9));
$before = psql("SELECT count(*) FROM proposals WHERE tenant_id = '$T'");
$r = api(POST => '/api/ai/proposals/generate', token => $tok, json => { jobId => $job },
    headers => { 'X-Request-Id' => $frozen_id });
is($r->{status}, 503, 'Redis frozen: the ai class fails closed: 503') or diag $r->{body};
is($r->{json}{code}, 'service_unavailable', 'with the JSON code service_unavailable');
is($r->{json}{details}, 'rate limiting is unavailable', 'refused by the rate limit, not by anything later');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, 'and Retry-After');
ok($r->{ms} < 5000, 'the ai request finished within the timeout (' . int($r->{ms}) . ' ms)');
is(psql("SELECT count(*) FROM proposals WHERE tenant_id = '$T'"), $before, 'and nothing was generated or stored');
SKIP: {
    skip mode_lacks('logs'), 1 if mode_lacks('logs');
    my $logged = 0;
    for (1 .. 50) {
        $ailog = `cat '$s->{RT}'/log/proposals_generate.log`;
        last if $logged = scalar grep { /"request_id":"\Q$frozen_id\E"/ && /ratelimit: redis unavailable: class ai fails closed/ }
            split /\n/, $ailog;
        sleep 0.1;
    }
    ok($logged, 'the fail-closed decision is logged for that request');
}
kill 'CONT', $pid;
sleep 1.2;
$r = api(GET => '/api/job-searches', token => $tok);
ok(exists $r->{headers}{'x-ratelimit-limit'} && $r->{headers}{'x-cache'} ne 'BYPASS',
    'thawed: rate limits and cache are back');
$r = api(POST => '/api/ai/proposals/generate', token => $tok, json => { jobId => $job });
is($r->{status}, 200, 'thawed: the same ai request succeeds (so the 503 was Redis\'s)') or diag $r->{body};
like($r->{headers}{'ratelimit-policy'} // '', qr/^"ai";/, 'thawed: counted in the ai class again');

# Redis's password changed under the programs (a rotation half done):
# every reconnect's AUTH is refused.  The programs log it by name, fail
# per class policy (the ai class: 503 with Retry-After), and recover
# once the password agrees again, without a restart.
my $pw = ApiTest::redis_password();
my $other = "rotated-$$";
sub redis_as {
    my ($pass, @args) = @_;
    local $ENV{REDISCLI_AUTH} = $pass;
    my $cmd = join ' ', map { "'$_'" } @args;
    my $out = `redis-cli -s '$s->{REDIS_SOCKET}' $cmd 2>&1`;
    chomp $out;
    return $out;
}
is(redis_as($pw, 'CONFIG', 'SET', 'requirepass', $other), 'OK', 'the Redis password changed');
redis_as($other, 'CLIENT', 'KILL', 'TYPE', 'normal');
redis_as($other, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
sleep 0.2;
my $wrong_id = "redis-wrongpass-$$-" . int(rand(1e9));
$r = api(POST => '/api/ai/proposals/generate', token => $tok, json => { jobId => $job },
    headers => { 'X-Request-Id' => $wrong_id });
is($r->{status}, 503, 'wrong password: the ai class fails closed: 503') or diag $r->{body};
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, 'with Retry-After');
$r = api(GET => '/api/jobs?skills=lua', token => $tok);
is($r->{status}, 200, 'wrong password: a list still answers 200 from PostgreSQL');
is($r->{headers}{'x-cache'}, 'BYPASS', 'bypassing the cache');
$r = api(GET => '/api/health');
is($r->{json}{checks}{redis}{ok}, JSON::PP::false, 'health: redis not ok');
SKIP: {
    skip mode_lacks('logs'), 1 if mode_lacks('logs');
    $ailog = `cat '$s->{RT}'/log/proposals_generate.log`;
    like($ailog, qr/redis: AUTH refused: WRONGPASS/, 'the refused AUTH is logged by name');
}
SKIP: {
    skip mode_lacks('push'), 1 if mode_lacks('push');
    my $pushlog = '';
    for (1 .. 50) {
        $pushlog = `cat '$s->{RT}'/log/push.log`;
        last if $pushlog =~ /push: redis AUTH refused/;
        sleep 0.1;
    }
    like($pushlog, qr/push: redis AUTH refused/, 'the broadcaster logs it too');
}
is(redis_as($other, 'CONFIG', 'SET', 'requirepass', $pw), 'OK', 'the password restored');
sleep 1.2;    # redis_retry_ms
$r = api(GET => '/api/job-searches', token => $tok);
ok(exists $r->{headers}{'x-ratelimit-limit'} && $r->{headers}{'x-cache'} ne 'BYPASS',
    'restored: rate limits and cache are back, no restart');
$r = api(GET => '/api/health');
is($r->{json}{checks}{redis}{ok}, JSON::PP::true, 'health: redis ok again');

done_testing;
