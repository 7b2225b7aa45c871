#!/usr/bin/env perl
# 41-ai-provider.t: generation through the openai provider (the fake server of tests/): the request it gets, usage and cost, retries, and every failure mapped to a clear error with nothing stored.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my $T = 'org_t_aiprov';
reset_tenant($T);
my $tok = token(sub => 'user_p', org => $T);
psql(<<"SQL");
INSERT INTO tenants (id, kind, ai_provider) VALUES ('$T', 'org', 'openai');
INSERT INTO users (tenant_id, id, name, title, skills, hourly_rate, bio) VALUES
  ('$T', 'user_p', 'Pat Provider', 'API engineer', '{postgresql,rust}', 90, 'APIs since 2012.');
SQL

# One job per scenario: its description carries the fake's directive,
# whose id is unique to this run (the fake keeps its log while it runs).
my $run = "$$-" . int(rand(1e9));
my $n = 0;
sub job {
    my ($directive) = @_;
    $n++;
    return ai_job($T, $directive, upwork_id => "p-$n", title => 'Build a Rust service',
        about => 'Rust and PostgreSQL work.', skills => ['rust', 'postgresql']);
}
my $rows = sub { ai_rows($T) };
my $gen = sub { my ($job, %o) = @_; api(POST => '/api/ai/proposals/generate', token => $tok, json => { jobId => $job, %o }) };

# --- A normal call: what the provider gets and what is stored -------------
my $job = job("[[fake:normal,id=prov-normal-$run]]");
my $r = $gen->($job, maxWords => 200, alternatives => 2, tone => 'friendly', highlights => ['led a Rust rewrite']);
is($r->{status}, 200, 'openai: 200') or diag $r->{body};
my $m = $r->{json}{data}{metadata};
my $log = fake_log("prov-normal-$run");
is(scalar @$log, 1, 'one request reached the provider');
my $e = $log->[0];
ok($e->{authOk}, 'with the API key from llm_api_key_file');
is($e->{model}, 'gpt-4o-mini', 'the configured model');
ok(!$e->{stream}, 'not streamed');
is($e->{maxTokens}, 200 * 3 * 2 + 100, 'max_tokens covers the proposal and its alternatives');
is($e->{messages}, 2, 'a system and a user message');
like($e->{prompt}, qr/Job title: Build a Rust service/, 'the prompt has the job title');
like($e->{prompt}, qr/Required skills: rust, postgresql/, 'the job skills');
like($e->{prompt}, qr/Skills that match the job: rust, postgresql/, 'the matching skills');
like($e->{prompt}, qr/Hourly rate: 90\.00 USD/, 'the freelancer\'s rate');
like($e->{prompt}, qr/Points to mention: led a Rust rewrite/, 'the highlights');
like($e->{prompt}, qr/Tone: friendly\./, 'the tone');
like($e->{prompt}, qr/at most 200 words/, 'the length');
like($e->{prompt}, qr/=== ALTERNATIVE: confident ===\n=== ALTERNATIVE: concise ===/, 'the alternatives\' headers, in the other tones');
is($m->{promptTokens}, $e->{usage}{prompt_tokens}, 'prompt tokens as the provider reported them');
is($m->{completionTokens}, $e->{usage}{completion_tokens}, 'completion tokens as reported');
is($m->{tokensUsed}, $e->{usage}{total_tokens}, 'tokensUsed');
ok($m->{usageReported}, 'usageReported');
my $cost = sprintf('%.6f', (412 * 0.15 + 63 * 0.60) / 1e6 + 5e-13);
is(sprintf('%.6f', $m->{cost}), $cost, "cost from the gpt-4o-mini price ($cost)");
my $d = $r->{json}{data};
is($d->{proposal}, 'Hi! I have shipped three multi-tenant REST APIs on PostgreSQL with row-level security, and I can start this week.',
    'the provider\'s proposal, without the alternatives');
is_deeply([map { $_->{tone} } @{ $d->{alternatives} }], ['confident', 'concise'], 'alternatives split from the text');
like($d->{alternatives}[0]{text}, qr/^A confident version:/, 'an alternative\'s text');
is(psql("SELECT prompt_tokens || '|' || completion_tokens || '|' || cost || '|' || provider || '|' || model"
    . " FROM ai_usage WHERE proposal_id = '$m->{proposalId}'"), "412|63|$cost|openai|gpt-4o-mini",
    'the usage row matches what the provider reported');
is(psql("SELECT content FROM proposals WHERE id = '$m->{proposalId}'"), $d->{proposal}, 'the stored draft');

# --- Retries ---------------------------------------------------------------
$r = $gen->(job("[[fake:429,times=1,retry=1,id=prov-429once-$run]]"));
is($r->{status}, 200, '429 once, then fine: 200');
is(scalar @{ fake_log("prov-429once-$run") }, 2, 'retried once');
ok($r->{ms} >= 900, 'after waiting the Retry-After second (' . int($r->{ms}) . ' ms)');

$r = $gen->(job("[[fake:500,times=1,id=prov-500once-$run]]"));
is($r->{status}, 200, '500 once, then fine: 200');
is(scalar @{ fake_log("prov-500once-$run") }, 2, 'retried once after the 500');

# --- Failures: a clear error, nothing stored --------------------------------
my @fail = (
    ['429,times=99,retry=1', 503, 'service_unavailable', qr/rate limiting/, 3, '429 every time'],
    ['500,times=99', 502, 'bad_gateway', qr/HTTP 500/, 3, '500 every time'],
    ['malformed', 502, 'bad_gateway', qr/malformed/, 1, 'a malformed body'],
    ['truncated', 502, 'bad_gateway', qr/cut short/, 1, 'a body cut short'],
    ['oversize', 502, 'bad_gateway', qr/exceeded \d+ bytes/, 1, 'a body past the size cap'],
    ['redirect', 502, 'bad_gateway', qr/HTTP 302/, 1, 'a redirect (not followed)'],
    ['badkey', 502, 'bad_gateway', qr/refused the request \(HTTP 401\)/, 1, 'the key refused'],
    ['hang', 504, 'gateway_timeout', qr/sent nothing for 3000 ms/, 1, 'a provider that never answers'],
);
for my $f (@fail) {
    my ($mode, $status, $code, $why, $attempts, $what) = @$f;
    my $id = "prov-fail-$n-$run";
    my $before = $rows->();
    $r = $gen->(job("[[fake:$mode,id=$id]]"));
    is($r->{status}, $status, "$what: $status");
    is($r->{json}{code}, $code, "$what: $code");
    like($r->{json}{details} // '', $why, "$what: says why");
    unlike($r->{body}, qr/sk-test/, "$what: no key in the answer");
    is(scalar @{ fake_log($id) }, $attempts, "$what: $attempts request(s) to the provider");
    is($rows->(), $before, "$what: no proposal, no usage row");
    if ($mode eq 'hang') {
        ok($r->{ms} >= 2500 && $r->{ms} < 7000, 'the hang ends at the idle timeout (' . int($r->{ms}) . ' ms)');
    }
    if ($status == 503) {
        is($r->{headers}{'retry-after'}, 1, "$what: the provider's Retry-After is passed on");
    }
}

# A Retry-After longer than the deadline is not waited for.
$r = $gen->(job("[[fake:429,times=99,retry=30,id=prov-429long-$run]]"));
is($r->{status}, 503, '429 with Retry-After 30: 503');
is($r->{headers}{'retry-after'}, 30, 'Retry-After: 30 passed on');
is(scalar @{ fake_log("prov-429long-$run") }, 1, 'no retry: the wait would pass the deadline');
ok($r->{ms} < 3000, 'answered at once (' . int($r->{ms}) . ' ms)');

# Slow, but within the idle timeout.
$r = $gen->(job("[[fake:slow,ms=1500,id=prov-slow-$run]]"));
is($r->{status}, 200, 'a provider that takes 1.5 s: 200');
ok($r->{ms} >= 1400, 'after its delay');

# A provider that does not report usage: tokens are counted.
$r = $gen->(job("[[fake:nousage,id=prov-nousage-$run]]"), alternatives => 0);
is($r->{status}, 200, 'no usage reported: 200');
$m = $r->{json}{data}{metadata};
ok(!$m->{usageReported}, 'usageReported false');
ok($m->{promptTokens} > 200 && $m->{promptTokens} != 412, "prompt tokens counted ($m->{promptTokens})");
ok($m->{completionTokens} >= 20 && $m->{completionTokens} <= 40, "completion tokens counted ($m->{completionTokens}, the fixture has 23)");
is(psql("SELECT prompt_tokens || '|' || completion_tokens FROM ai_usage WHERE proposal_id = '$m->{proposalId}'"),
   "$m->{promptTokens}|$m->{completionTokens}", 'and stored as counted');

# The AI routes belong to the ai rate-limit class.
like($r->{headers}{'ratelimit-policy'} // '', qr/^"ai";/, 'generate is in the ai rate-limit class');

done_testing;
