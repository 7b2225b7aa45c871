#!/usr/bin/env perl
# 42-ai-stream.t: POST /api/ai/proposals/stream through the web server: events as the provider produces them (not buffered), the final event, mid-way failures, a client that hangs up, and bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;
use ProposalInput;

my $T = 'org_t_aistream';       # openai provider (the fake)
my $B = 'org_t_aistream_b';     # the default, builtin
reset_tenant($T, $B);
my $tok = token(sub => 'user_s', org => $T);
my $btok = token(sub => 'user_s', org => $B);
my $q = \&sql_quote;
psql(<<"SQL");
INSERT INTO tenants (id, kind, ai_provider) VALUES ('$T', 'org', 'openai'), ('$B', 'org', NULL);
INSERT INTO users (tenant_id, id, name, title, skills, hourly_rate) VALUES
  ('$T', 'user_s', 'Sam Stream', 'Backend developer', '{go,postgresql}', 70),
  ('$B', 'user_s', 'Sam Stream', 'Backend developer', '{go,postgresql}', 70);
SQL
my $run = "$$-" . int(rand(1e9));
my $n = 0;
sub job {
    my ($tenant, $directive) = @_;
    $n++;
    return scalar psql(sprintf("INSERT INTO jobs (tenant_id, upwork_id, title, description, skills, budget_type,"
        . " budget_min, budget_max, posted_at) VALUES (%s, 's-$n', 'Build a Go API for invoices', %s, '{go,postgresql}',"
        . " 'fixed', 1500, 1500, now()) RETURNING id", $q->($tenant), $q->("Go and PostgreSQL. $directive")));
}
my $rows = sub { ai_rows($T) };
my $stream = sub { my ($t, $job, %o) = @_; sse_request('/api/ai/proposals/stream', token => $t, json => { jobId => $job, %o }) };
my @deltas = sub { grep { exists $_->{data}{delta} } @{ $_[0]{events} } };
my $text = sub { join '', map { $_->{data}{delta} } grep { exists $_->{data}{delta} } @{ $_[0]{events} } };
my $last = sub { $_[0]{events}[-1]{data} // {} };
my $fixture = 'Hi! I have shipped three multi-tenant REST APIs on PostgreSQL with row-level security, and I can start this week.';

# --- The builtin provider streams too --------------------------------------
my $bjob = job($B, '');
my $r = $stream->($btok, $bjob, alternatives => 1);
is($r->{status}, 200, 'builtin stream: 200');
like($r->{headers}{'content-type'}, qr{^text/event-stream}, 'Content-Type: text/event-stream');
ok(!exists $r->{headers}{'content-length'}, 'no Content-Length: streamed');
like($r->{headers}{'cache-control'} // '', qr/no-store|no-cache/, 'not cacheable');
my @d = grep { exists $_->{data}{delta} } @{ $r->{events} };
ok(@d >= 10, 'the text comes in many delta events (' . scalar(@d) . ')');
my $done = $last->($r);
ok($done->{done}, 'the last event is done');
is($text->($r), $done->{proposal}, 'the deltas put together are the proposal');
is($done->{metadata}{provider}, 'builtin', 'metadata: provider');
is(scalar @{ $done->{alternatives} }, 1, 'the alternatives come with done');
my $g = api(POST => '/api/ai/proposals/generate', token => $btok, json => { jobId => $bjob, alternatives => 1 });
is($done->{proposal}, $g->{json}{data}{proposal}, 'the same proposal as generate gives for the same input');
is(psql("SELECT status || '|' || (content = " . $q->($done->{proposal}) . ") FROM proposals WHERE id = '$done->{metadata}{proposalId}'"),
   'draft|true', 'stored as a draft when the stream ends');
is(psql("SELECT prompt_tokens || '|' || completion_tokens FROM ai_usage WHERE proposal_id = '$done->{metadata}{proposalId}'"),
   "$done->{metadata}{promptTokens}|$done->{metadata}{completionTokens}", 'with its usage');

# --- The openai provider: the provider's chunks, as they come --------------
$r = $stream->($tok, job($T, "[[fake:normal,id=st-normal-$run]]"), alternatives => 2);
is($r->{status}, 200, 'openai stream: 200');
is($text->($r), $fixture, 'the deltas are the provider\'s text (the alternatives are not streamed)');
$done = $last->($r);
is($done->{proposal}, $fixture, 'done: the proposal');
is(scalar @{ $done->{alternatives} }, 2, 'done: two alternatives, split from the stream');
my $log = fake_log("st-normal-$run");
ok($log->[0]{stream} && $log->[0]{includeUsage}, 'asked the provider for a stream with usage');
is($done->{metadata}{promptTokens}, 412, 'usage from the stream\'s usage chunk: prompt');
is($done->{metadata}{completionTokens}, 63, 'completion');
ok($done->{metadata}{usageReported}, 'usageReported');
is(psql("SELECT prompt_tokens || '|' || completion_tokens || '|' || cost FROM ai_usage WHERE proposal_id = '$done->{metadata}{proposalId}'"),
   sprintf('412|63|%.6f', $done->{metadata}{cost}), 'the usage row matches');
my $ev = redis('XREVRANGE', "upw:events:$T", '+', '-', 'COUNT', '1');
like($ev, qr/proposal:updated.*\Q$done->{metadata}{proposalId}\E/s, 'proposal:updated published');

# --- Not buffered: the first event arrives while the provider pauses -------
$r = $stream->($tok, job($T, "[[fake:pause,ms=2000,after=1,id=st-pause-$run]]"));
is($r->{status}, 200, 'a provider that pauses 2 s after its first piece: 200');
my @ev = @{ $r->{events} };
my $first = $ev[0]{ms};
my $end = $ev[-1]{ms};
ok($ev[0]{data}{delta}, 'the first event is a delta');
ok($end - $first >= 1700, sprintf('the first delta arrived %.0f ms before the end: not buffered by %s', $end - $first, stack()->{WEB}));
ok($first < 1500, sprintf('and soon after the request (%.0f ms)', $first));
ok($r->{comments} >= 1, "the pause was filled with keep-alive comments ($r->{comments})");
is($text->($r), $fixture, 'and the whole text arrived');

# --- Split mid-line, slow first token, no usage ----------------------------
$r = $stream->($tok, job($T, "[[fake:split,size=7,id=st-split-$run]]"));
is($text->($r), $fixture, 'a stream cut into 7-byte pieces with CRLF line ends: the same text');
ok($last->($r)->{done}, 'and done');
$r = $stream->($tok, job($T, "[[fake:slow,ms=1500,id=st-slow-$run]]"));
ok($last->($r)->{done}, 'a slow first token (1.5 s): done');
ok($r->{first_ms} >= 1400, sprintf('first event after the delay (%.0f ms)', $r->{first_ms}));
$r = $stream->($tok, job($T, "[[fake:nousage,id=st-nousage-$run]]"), alternatives => 0);
$done = $last->($r);
ok(!$done->{metadata}{usageReported}, 'a stream without usage: counted');
ok($done->{metadata}{promptTokens} > 0 && $done->{metadata}{completionTokens} > 0, 'counted tokens');
$r = $stream->($tok, job($T, "[[fake:429,times=1,retry=1,id=st-429once-$run]]"));
ok($last->($r)->{done}, '429 before the first byte: retried, then done');
is(scalar @{ fake_log("st-429once-$run") }, 2, 'two requests');

# --- Failures part-way: an error event, nothing stored ---------------------
for my $f (['truncated', 'bad_gateway', qr/ended before/], ['errorevent', 'bad_gateway', qr/error part-way/],
           ['malformed', 'bad_gateway', qr/malformed/], ['oversize', 'bad_gateway', qr/exceeded/]) {
    my ($mode, $code, $why) = @$f;
    my $before = $rows->();
    $r = $stream->($tok, job($T, "[[fake:$mode,id=st-$mode-$run]]"));
    is($r->{status}, 200, "$mode: the stream had started (200)");
    my $e = $last->($r);
    is($e->{error}, 'Generation failed', "$mode: ends with the error event");
    is($e->{code}, $code, "$mode: code $code");
    like($e->{details} // '', $why, "$mode: details");
    ok(!grep({ $_->{data}{done} } @{ $r->{events} }), "$mode: no done event");
    is($rows->(), $before, "$mode: no proposal, no usage row");
}

# --- Failures before the first byte: ordinary JSON errors ------------------
for my $f (['hang', 504, 'gateway_timeout'], ['429,times=99,retry=1', 503, 'service_unavailable'],
           ['500,times=99', 502, 'bad_gateway']) {
    my ($mode, $status, $code) = @$f;
    my $before = $rows->();
    $r = $stream->($tok, job($T, "[[fake:$mode,id=st-x$n-$run]]"));
    is($r->{status}, $status, "$mode before any data: $status");
    like($r->{headers}{'content-type'}, qr{^application/json}, "$mode: a JSON error");
    is(eval { json_decode($r->{body}) }->{code}, $code, "$mode: $code");
    is($rows->(), $before, "$mode: nothing stored");
}

# --- The client hangs up part-way ------------------------------------------
my $hjob = job($T, "[[fake:drip,ms=400,id=st-hangup-$run]]");
$r = sse_request('/api/ai/proposals/stream', token => $tok, json => { jobId => $hjob }, close_after => 1);
ok($r->{closed}, 'the client read one delta and hung up') or diag explain $r;
my ($status, $ok) = ('', 0);
for (1 .. 60) {
    $status = psql("SELECT status FROM proposals WHERE job_id = '$hjob'");
    last if $status ne '' && ($ok = 1);
    select undef, undef, undef, 0.25;
}
is($status, 'incomplete', 'the partial text is stored, marked incomplete');
my $partial = psql("SELECT content FROM proposals WHERE job_id = '$hjob'");
ok(length($partial) < length($fixture) && index($fixture, $partial) == 0, "it is the start of the text ('$partial')");
my ($pt, $ct) = split /\|/, psql("SELECT u.prompt_tokens || '|' || u.completion_tokens FROM ai_usage u"
    . " JOIN proposals p ON p.id = u.proposal_id WHERE p.job_id = '$hjob'");
ok($pt > 0 && $ct > 0, "with the usage it cost, counted ($pt + $ct)");
my $aborted = 0;
for (1 .. 20) {
    $aborted = fake_log("st-hangup-$run")->[0]{aborted};
    last if $aborted;
    select undef, undef, undef, 0.25;
}
ok($aborted, 'the provider call was stopped before the provider finished');

# --- Bad input: JSON errors, never a stream ---------------------------------
my $before = $rows->();
for my $b (bad_proposal_bodies($hjob, $B)) {
    my ($body, $code, $what) = @$b;
    my $x = api(POST => '/api/ai/proposals/stream', token => $tok, body => $body,
        headers => { 'Content-Type' => 'application/json' });
    is($x->{status}, 400, "stream, $what: 400");
    is($x->{json}{code}, $code, "stream, $what: $code") if defined $code;
}
$r = api(POST => '/api/ai/proposals/stream', token => $tok, json => { jobId => $bjob });
is($r->{status}, 404, "stream: another tenant's job: 404");
$r = api(POST => '/api/ai/proposals/stream', json => { jobId => $bjob });
is($r->{status}, 401, 'stream: no token: 401');
psql("UPDATE tenants SET ai_monthly_budget_usd = 0 WHERE id = '$T'");
$r = api(POST => '/api/ai/proposals/stream', token => $tok, json => { jobId => $hjob });
is($r->{status}, 402, 'stream: budget 0: 402');
is($r->{json}{code}, 'budget_exhausted', 'budget_exhausted');
like($r->{headers}{'ratelimit-policy'} // '', qr/^"ai";/, 'stream is in the ai rate-limit class');
is($rows->(), $before, 'no refused request stored anything');

done_testing;
