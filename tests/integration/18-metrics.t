#!/usr/bin/env perl
# 18-metrics.t: /metrics over HTTP: the guard (token, address), the text format parsed whole, counters that move with requests, cache lookups, rate-limit refusals, generations and Upwork calls, and the broadcaster's own.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use HTTP::Tiny;
use IO::Socket::INET;
use Test::More;
use ApiTest;
use UpworkTest;

# The harness turns metrics on (APP_METRICS_ENABLED=1); the stack's
# app.conf names the token file and metrics_allow is the default, the
# loopback address only: this test scrapes from 127.0.0.1, which plays
# the trusted proxy here (TRUSTED_PROXIES).
my $s = stack();
my $mtoken = do { local (@ARGV, $/) = ("$s->{RT}/secrets/metrics.token"); <> };
$mtoken =~ s/\s+$//;

my $T = 'org_t_metrics';
my $TO = 'org_t_metrics_ai';
reset_tenant($T, $TO);
insert_jobs($T, { upwork_id => 'm-1', title => 'Measure a C service', skills => ['c'] });
insert_jobs($TO, { upwork_id => 'm-2', title => 'Measure an AI service', skills => ['c'] });
psql("UPDATE tenants SET ai_provider = 'openai' WHERE id = '$TO'");
my ($job) = psql("SELECT id FROM jobs WHERE tenant_id = '$T'") =~ /(\S+)/;
my ($job_ai) = psql("SELECT id FROM jobs WHERE tenant_id = '$TO'") =~ /(\S+)/;

# Parse the text exposition format, strictly: every line a HELP, a TYPE
# or a sample of the family last typed; each family typed once, its
# samples together; histograms cumulative, ending at +Inf, _count equal
# to it.  Returns { 'name{labels}' => value } and a list of problems.
sub parse {
    my ($text) = @_;
    my (%v, @bad, %typed, $family, $type, %hist);
    my $label = qr/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"/;
    for my $line (split /\n/, $text) {
        if ($line =~ /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S/) {
            next;
        } elsif ($line =~ /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/) {
            push @bad, "$1 typed twice" if $typed{$1}++;
            ($family, $type) = ($1, $2);
            push @bad, "counter $1 does not end in _total" if $type eq 'counter' && $1 !~ /_total$/;
        } elsif ($line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:$label)(?:,$label)*)?\})? (-?[0-9]+(?:\.[0-9]+)?|\+Inf)$/) {
            my ($name, $labels, $value) = ($1, $2 // '', $3);
            my $ok = defined $family && ($type eq 'histogram'
                ? $name =~ /^\Q$family\E_(bucket|sum|count)$/ : $name eq $family);
            push @bad, "sample $name outside its family" unless $ok;
            $v{"$name\{$labels\}"} = $value;
            if ($type eq 'histogram' && $name =~ /_bucket$/) {
                my ($le) = $labels =~ /(?:^|,)le="([^"]*)"$/;
                (my $base = $labels) =~ s/,?le="[^"]*"$//;
                my $h = $hist{"$family\{$base\}"} //= { last => -1 };
                push @bad, "$name\{$labels\} is below the bucket before it" if $value < $h->{last};
                $h->{last} = $value;
                $h->{inf} = $value if $le eq '+Inf';
            }
        } else {
            push @bad, "not the text format: $line";
        }
    }
    for my $k (keys %hist) {
        my ($f, $base) = $k =~ /^([^{]*)\{(.*)\}$/;
        push @bad, "$k has no +Inf bucket" unless defined $hist{$k}{inf};
        push @bad, "$k: _count is not the +Inf bucket"
            unless ($v{"${f}_count\{$base\}"} // -1) == ($hist{$k}{inf} // -2);
    }
    return (\%v, \@bad);
}

sub scrape {
    my $r = api(GET => '/metrics', from => '127.0.0.1', token => $mtoken);
    is($r->{status}, 200, 'GET /metrics with the token, from 127.0.0.1: 200') or diag $r->{body};
    like($r->{headers}{'content-type'} // '', qr{^text/plain; version=0\.0\.4}, 'in the text format, version 0.0.4');
    my ($v, $bad) = parse($r->{body});
    is_deeply($bad, [], 'which parses, line by line') or diag join("\n", @$bad);
    return $v;
}

sub delta {
    my ($before, $after, $key) = @_;
    return ($after->{$key} // 0) - ($before->{$key} // 0);
}

# --- the guard ---------------------------------------------------------------
my $r = api(GET => '/metrics', from => '127.0.0.1');
is($r->{status}, 401, 'no token: 401');
like($r->{headers}{'www-authenticate'} // '', qr/^Bearer/, 'with WWW-Authenticate: Bearer');
is($r->{json}{code}, 'unauthorized', 'as the API answers its errors');
$r = api(GET => '/metrics', from => '127.0.0.1', token => "x$mtoken");
is($r->{status}, 401, 'another token: 401');
$r = api(GET => '/metrics', from => '127.0.0.1', token => $mtoken, headers => { 'X-Forwarded-For' => '127.0.0.77' });
is($r->{status}, 403, 'the right token from an address metrics_allow does not list (through the trusted proxy): 403');
$r = api(GET => '/metrics', token => $mtoken);
is($r->{status}, 403, 'from ' . local_address() . ': 403');
$r = api(POST => '/metrics', from => '127.0.0.1', token => $mtoken, body => '');
is($r->{status}, 405, 'POST /metrics: 405');

# --- counters that move ------------------------------------------------------------
my $before = scrape();
my $tok = token(sub => 'user_metrics', org => $T);
is(api(GET => '/api/jobs?limit=5', token => $tok)->{status}, 200, 'a job list') for 1 .. 3;
is(api(GET => '/api/no-such-route', token => $tok)->{status}, 404, 'an unknown route: 404');
is(api(GET => '/api/jobs', token => "$tok" . 'x')->{status}, 401, 'a forged token: 401');

# The upwork class allows 30 a minute: the 31st is refused.
my $rl = token(sub => 'user_metrics_rl', org => $T);
my @st = map { api(POST => '/api/proposals/00000000-0000-0000-0000-000000000000/submit', token => $rl,
    body => '')->{status} } 1 .. 31;
is($st[-1], 429, 'the 31st request of the upwork class: 429');

$r = api(POST => '/api/ai/proposals/generate', token => $tok, json => { jobId => $job, maxWords => 80 });
is($r->{status}, 200, 'a generation with the builtin provider') or diag $r->{body};
$r = api(POST => '/api/ai/proposals/generate', token => token(sub => 'user_metrics_ai', org => $TO),
    json => { jobId => $job_ai, maxWords => 80, alternatives => 0 });
is($r->{status}, 200, 'a generation with the openai provider (the fake)') or diag $r->{body};
my $cost = $r->{json}{data}{metadata}{cost} // 0;
ok($cost > 0, "which cost \$$cost");

is(connect_upwork(tenant => $T, user => 'user_metrics', account => $T)->{status}, 200,
    'an Upwork account connected (the fake)');

my $after = scrape();
my $jobs = 'program="jobs",route="/api/jobs",method="GET"';
ok(delta($before, $after, "http_requests_total{$jobs,status=\"200\"}") >= 3,
    'http_requests_total counts the job lists by program, route, method and status');
ok(delta($before, $after, "http_requests_total{$jobs,status=\"401\"}") >= 1, 'and the 401 apart');
ok(delta($before, $after, 'http_requests_total{program="health",route="none",method="other",status="404"}') >= 1,
    'an unknown route counts under route="none"');
ok(delta($before, $after, "http_request_duration_seconds_count{$jobs}") >= 4,
    'the latency histogram of the route counts them too');
ok(delta($before, $after, "http_request_duration_seconds_sum{$jobs}") > 0, 'and sums their seconds');
ok(delta($before, $after, 'cache_requests_total{namespace="jobs",result="miss"}')
    + delta($before, $after, 'cache_requests_total{namespace="jobs",result="l1_hit"}')
    + delta($before, $after, 'cache_requests_total{namespace="jobs",result="l2_hit"}') >= 3,
    'cache lookups by layer: the three job lists');
ok(delta($before, $after, 'cache_requests_total{namespace="jobs",result="l1_hit"}')
    + delta($before, $after, 'cache_requests_total{namespace="jobs",result="l2_hit"}') >= 1,
    'of which a hit, in memory or Redis');
ok(delta($before, $after, 'ratelimit_refusals_total{class="upwork",reason="limit"}') >= 1,
    'ratelimit_refusals_total{class="upwork"} counts the 429');
ok(delta($before, $after, 'llm_requests_total{provider="builtin",outcome="ok"}') >= 1, 'LLM calls: builtin');
ok(delta($before, $after, 'llm_tokens_total{provider="builtin",kind="completion"}') > 0, 'its tokens');
ok(delta($before, $after, 'llm_requests_total{provider="openai",outcome="ok"}') >= 1, 'LLM calls: openai');
ok(delta($before, $after, 'llm_tokens_total{provider="openai",kind="prompt"}') > 0
    && delta($before, $after, 'llm_tokens_total{provider="openai",kind="completion"}') > 0, 'its tokens, by kind');
ok(delta($before, $after, 'llm_cost_usd_total{provider="openai"}') >= $cost - 1e-6, 'and its cost in dollars');
ok(delta($before, $after, 'upwork_requests_total{outcome="ok"}') >= 1, 'Upwork requests: the OAuth code exchange');
ok(($after->{'http_requests_total{program="metrics",route="/metrics",method="GET",status="200"}'} // 0) >= 1,
    'and the scrapes themselves');

# --- the broadcaster's own ---------------------------------------------------------
SKIP: {
    skip mode_lacks('push'), 8 if mode_lacks('push');
    my $push = "http://127.0.0.1:$s->{PUSH_PORT}/metrics";
    my $local = HTTP::Tiny->new(timeout => 10, local_address => '127.0.0.1');
    $r = $local->get($push);
    is($r->{status}, 401, 'the broadcaster: no token: 401');
    $r = HTTP::Tiny->new(timeout => 10, local_address => local_address())->get($push,
        { headers => { Authorization => "Bearer $mtoken" } });
    is($r->{status}, 403, 'the broadcaster: from ' . local_address() . ': 403');
    # An event stream held open while it counts.
    my $sse = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{PORT}, LocalAddr => local_address(),
        Timeout => 5) or die "connect: $!";
    print $sse "GET /api/events?topics=jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $tok\r\n\r\n";
    my $head = '';
    while ($head !~ /\r\n\r\n/ && sysread($sse, my $chunk, 4096)) { $head .= $chunk }
    like($head, qr{^HTTP/1\.1 200}, 'an event stream is open');
    $r = $local->get($push, { headers => { Authorization => "Bearer $mtoken" } });
    is($r->{status}, 200, 'the broadcaster: /metrics with the token from 127.0.0.1: 200');
    my ($pv, $pbad) = parse($r->{content});
    is_deeply($pbad, [], 'which parses');
    ok(($pv->{'broadcaster_connections{transport="sse"}'} // 0) >= 1, 'broadcaster_connections counts the stream');
    ok(defined $pv->{'broadcaster_queued_bytes{}'}, 'broadcaster_queued_bytes is there');
    ok(($pv->{'broadcaster_connections_accepted_total{}'} // 0) >= 1, 'and the counters');
    close $sse;
}

done_testing;
