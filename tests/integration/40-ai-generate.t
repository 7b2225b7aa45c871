#!/usr/bin/env perl
# 40-ai-generate.t: POST /api/ai/proposals/generate with the builtin provider: the proposal, its storage with usage in one go, the event, budgets, GET /api/usage, and the bad-input matrix.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;
use ProposalInput;

my $T = 'org_t_aigen';
my $O = 'org_t_aigen_other';
reset_tenant($T, $O);
my $tok = token(sub => 'user_g', org => $T);

# The tenant, a freelancer with a profile, a client and three jobs.
my $q = \&sql_quote;
psql(<<"SQL");
INSERT INTO tenants (id, kind) VALUES ('$T', 'org'), ('$O', 'org');
INSERT INTO users (tenant_id, id, name, title, skills, hourly_rate, bio) VALUES
  ('$T', 'user_g', 'Gina Gen', 'Backend engineer', '{postgresql,node.js,c}', 85,
   'I build multi-tenant APIs. Ten years of PostgreSQL.');
INSERT INTO clients (tenant_id, upwork_uid, name, country, total_spent, hire_rate, rating, reviews_count,
                     jobs_posted, total_hires, payment_verified)
  VALUES ('$T', 'c-1', 'Acme Health', 'Germany', 52000, 80, 4.9, 12, 15, 12, true);
SQL
my $client = psql("SELECT id FROM clients WHERE tenant_id = '$T'");
sub job {
    my ($tenant, %j) = @_;
    my $skills = '{' . join(',', map { "\"$_\"" } @{ $j{skills} }) . '}';
    return psql(sprintf("INSERT INTO jobs (tenant_id, upwork_id, title, description, skills, budget_type, budget_min, budget_max, "
        . "client_id, experience_level, posted_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) RETURNING id",
        $q->($tenant), $q->($j{upwork_id}), $q->($j{title}), $q->($j{description}), $q->($skills),
        $q->($j{budget_type}), $j{min} // 'NULL', $j{max} // 'NULL', $q->($j{client_id}), $q->($j{level})));
}
my $hourly = job($T, upwork_id => 'g-1', title => 'Build a REST API for our clinic scheduling app',
    description => 'We need a Node.js and PostgreSQL backend with tenant isolation and tests. Existing prototype in Express.',
    skills => ['node.js', 'postgresql', 'graphql'], budget_type => 'hourly', min => 40, max => 60,
    client_id => $client, level => 'EXPERT');
my $fixed = job($T, upwork_id => 'g-2', title => 'Landing page copy review',
    description => 'Review the copy of our landing page.', skills => ['copywriting'],
    budget_type => 'fixed', min => 500, max => 500);
my $foreign = job($O, upwork_id => 'o-1', title => 'Other tenant job', description => 'x',
    skills => ['c'], budget_type => 'hourly', min => 10, max => 20);

my $count = sub { psql("SELECT (SELECT count(*) FROM proposals WHERE tenant_id = '$T') || ',' || "
    . "(SELECT count(*) FROM ai_usage WHERE tenant_id = '$T')") };
my $words = sub { scalar(() = $_[0] =~ /\S+/g) };
my $gen = sub { api(POST => '/api/ai/proposals/generate', token => $tok, json => { @_ }) };

# --- A proposal from the builtin provider --------------------------------
my $r = $gen->(jobId => $hourly, tone => 'professional', maxWords => 300, alternatives => 2,
    highlights => ['cut p99 latency of a booking API from 900 ms to 60 ms']);
is($r->{status}, 200, 'generate: 200') or diag $r->{body};
my $d = $r->{json}{data};
ok($r->{json}{success}, 'success: true');
my $m = $d->{metadata};
is($m->{provider}, 'builtin', 'the default provider is builtin');
is($m->{model}, 'builtin-1', 'its model');
is($m->{cost}, 0, 'builtin costs nothing');
ok($m->{promptTokens} > 100 && $m->{completionTokens} > 100, "tokens are counted ($m->{promptTokens} + $m->{completionTokens})");
is($m->{tokensUsed}, $m->{promptTokens} + $m->{completionTokens}, 'tokensUsed is the sum');
ok(!$m->{usageReported}, 'usage counted, not reported');
ok($m->{latencyMs} >= 0, 'latencyMs');
ok(uuid_like($m->{proposalId}), 'proposalId');
my $p = $d->{proposal};
like($p, qr/Node\.js/, 'mentions a matching skill (Node.js)');
like($p, qr/PostgreSQL/, 'mentions a matching skill (PostgreSQL)');
unlike($p, qr/experience with [^.]*GraphQL/, 'does not claim GraphQL, which the profile lacks');
like($p, qr/build a REST API for our clinic scheduling app/, 'hooks on the client\'s need (the title)');
like($p, qr/\$60\/hour/, 'the rate is capped at the top of the client\'s range ($60, not $85)');
like($p, qr/900 ms to 60 ms/, 'the highlight is in');
like($p, qr/\?/, 'asks the client a question');
like($p, qr/existing code/, 'the question follows the description (an existing prototype)');
like($p, qr/Gina Gen\s*$/, 'signed with the freelancer\'s name');
ok($words->($p) <= 300, 'within maxWords (' . $words->($p) . ' words)');
is(scalar @{ $d->{alternatives} }, 2, 'two alternatives');
is_deeply([map { $_->{tone} } @{ $d->{alternatives} }], ['friendly', 'confident'], 'in the other tones');
isnt($d->{alternatives}[0]{text}, $p, 'an alternative differs from the proposal');
ok(scalar(grep { /GraphQL/ } @{ $d->{suggestions} }), 'a suggestion names the missing skill');
ok(scalar(grep { /above the client/ } @{ $d->{suggestions} }), 'a suggestion about the rate');

# Stored: the draft and its usage, consistent with the answer.
my $id = $m->{proposalId};
my $row = psql("SELECT status, tone, provider, model, max_words, content = " . $q->($p)
    . ", jsonb_array_length(alternatives), user_id FROM proposals WHERE id = '$id' AND tenant_id = '$T'");
is($row, 'draft|professional|builtin|builtin-1|300|t|2|user_g', 'the draft row matches the answer');
is(psql("SELECT kind, provider, prompt_tokens, completion_tokens, cost FROM ai_usage WHERE proposal_id = '$id'"),
   "proposal_generation|builtin|$m->{promptTokens}|$m->{completionTokens}|0.000000", 'the usage row matches the metadata');

# The event, in the tenant's stream, for this user only.
my $s = stack();
my $ev = redis('XREVRANGE', "upw:events:$T", '+', '-', 'COUNT', '1');
like($ev, qr/"type":"proposal:updated"/, 'proposal:updated published');
like($ev, qr/"user":"user_g"/, 'addressed to the user');
like($ev, qr/\Q$id\E/, 'naming the proposal');

# Same input, same output.
my $again = $gen->(jobId => $hourly, tone => 'professional', maxWords => 300, alternatives => 2,
    highlights => ['cut p99 latency of a booking API from 900 ms to 60 ms']);
is($again->{json}{data}{proposal}, $p, 'deterministic: the same proposal');
is_deeply($again->{json}{data}{alternatives}, $d->{alternatives}, 'deterministic: the same alternatives');
isnt($again->{json}{data}{metadata}{proposalId}, $id, 'a new draft each time');

# maxWords is respected at every size, in every tone.
for my $tone (qw(professional friendly confident concise)) {
    for my $max (50, 80, 120, 1000) {
        my $x = $gen->(jobId => $hourly, tone => $tone, maxWords => $max, alternatives => 1,
            highlights => ['one', 'two', 'three']);
        my $w = $words->($x->{json}{data}{proposal} // '');
        my $aw = $words->($x->{json}{data}{alternatives}[0]{text} // '');
        ok($x->{status} == 200 && $w <= $max && $w > 10 && $aw <= $max, "$tone, maxWords $max: $w and $aw words");
    }
}

# A fixed-price job: the price is the client's budget.
$r = $gen->(jobId => $fixed, alternatives => 0);
is($r->{status}, 200, 'fixed-price job: 200');
like($r->{json}{data}{proposal}, qr/fixed budget of \$500/, 'quotes the fixed budget');
is_deeply($r->{json}{data}{alternatives}, [], 'alternatives: 0 gives none');

# A user without a profile still gets a proposal, and is told why it is generic.
$r = api(POST => '/api/ai/proposals/generate', token => token(sub => 'user_new', org => $T),
    json => { jobId => $hourly });
is($r->{status}, 200, 'a user with no profile: 200');
ok(scalar(grep { /Complete your profile/ } @{ $r->{json}{data}{suggestions} }), 'suggests completing the profile');
is(psql("SELECT count(*) FROM users WHERE tenant_id = '$T' AND id = 'user_new'"), 1, 'the user row was created with the draft');

# --- Not found, cross-tenant, method, media type, auth -------------------
my $before = $count->();
$r = $gen->(jobId => '00000000-0000-4000-8000-000000000000');
is($r->{status}, 404, 'unknown job: 404');
is($r->{json}{code}, 'not_found', 'not_found');
$r = $gen->(jobId => $foreign);
is($r->{status}, 404, "another tenant's job: 404");
$r = api(GET => '/api/ai/proposals/generate', token => $tok);
is($r->{status}, 405, 'GET: 405');
$r = api(POST => '/api/ai/proposals/generate', json => { jobId => $hourly });
is($r->{status}, 401, 'no token: 401');
$r = api(POST => '/api/ai/proposals/generate', token => $tok, body => '{}', headers => { 'Content-Type' => 'text/plain' });
is($r->{status}, 415, 'text/plain: 415');
$r = api(POST => '/api/ai/proposals/generate', token => $tok, body => '{"jobId":"' . ('x' x 70000) . '"}',
    headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 413, 'a 70 kB body: 413');

# --- The bad-input matrix -------------------------------------------------
my @bad = bad_proposal_bodies($hourly, $O);
for my $b (@bad) {
    my ($body, $code, $what) = @$b;
    $r = api(POST => '/api/ai/proposals/generate', token => $tok, body => $body,
        headers => { 'Content-Type' => 'application/json' });
    is($r->{status}, 400, "$what: 400");
    is($r->{json}{code}, $code, "$what: $code") if defined $code;
}
is($count->(), $before, 'no refused request wrote a proposal or a usage row');

# --- Budgets ---------------------------------------------------------------
psql("UPDATE tenants SET ai_monthly_budget_usd = 0 WHERE id = '$T'");
$r = $gen->(jobId => $hourly);
is($r->{status}, 402, 'budget 0 (AI off): 402');
is($r->{json}{code}, 'budget_exhausted', 'budget_exhausted');
is($r->{json}{budgetUsd}, 0, 'the budget is in the body');

# A priced model through the fake provider: 412 prompt tokens at $1000/M
# and 63 completion tokens (23 + 20 per alternative) at $3000/M.
psql("UPDATE tenants SET ai_provider = 'openai', ai_model = 'test-pricey', ai_monthly_budget_usd = 10 WHERE id = '$T'");
$r = $gen->(jobId => $hourly, alternatives => 2);
is($r->{status}, 200, 'openai with a budget of $10: 200') or diag $r->{body};
$m = $r->{json}{data}{metadata};
is($m->{provider}, 'openai', 'provider openai');
is($m->{model}, 'test-pricey', 'the tenant\'s model');
is($m->{promptTokens}, 412, 'prompt tokens as the provider reported');
is($m->{completionTokens}, 63, 'completion tokens as reported');
ok($m->{usageReported}, 'usageReported');
is(sprintf('%.6f', $m->{cost}), '0.601000', 'cost from the price table: 412 * 1000/M + 63 * 3000/M');
is(psql("SELECT cost FROM ai_usage WHERE proposal_id = '$m->{proposalId}'"), '0.601000', 'the usage row has that cost');

# The worst case of the next call (every allowed token) no longer fits a $5 budget.
psql("UPDATE tenants SET ai_monthly_budget_usd = 5 WHERE id = '$T'");
$before = $count->();
$r = $gen->(jobId => $hourly, alternatives => 3, maxWords => 1000);
is($r->{status}, 402, 'a call that could cost more than what is left: 402');
like($r->{json}{details}, qr/could cost more/, 'says why');
ok($r->{json}{estimatedCostUsd} > 5, 'with the estimate');
is($count->(), $before, '402 wrote nothing');
$r = $gen->(jobId => $hourly, alternatives => 0, maxWords => 50);
is($r->{status}, 200, 'a smaller call fits: 200');

# Spent this month past the budget: every call is refused.
psql("INSERT INTO ai_usage (tenant_id, user_id, kind, provider, model, prompt_tokens, completion_tokens, cost)"
    . " VALUES ('$T', 'user_g', 'proposal_generation', 'openai', 'test-pricey', 1, 1, 5)");
$r = $gen->(jobId => $hourly, alternatives => 0, maxWords => 50);
is($r->{status}, 402, 'budget spent: 402');
like($r->{json}{details}, qr/spent/, 'says it is spent');
# Usage from last month does not count.
psql("UPDATE ai_usage SET created_at = date_trunc('month', now()) - interval '1 day' WHERE tenant_id = '$T' AND cost = 5");
$r = $gen->(jobId => $hourly, alternatives => 0, maxWords => 50);
is($r->{status}, 200, 'last month\'s spending does not count');

# Concurrent calls cannot together spend past the budget: each reserves
# its worst case before calling the provider (slow here, so they overlap).
my $slow = job($T, upwork_id => 'g-slow', title => 'Slow provider job [[fake:slow,ms=1500]]',
    description => 'Needs PostgreSQL.', skills => ['postgresql'], budget_type => 'hourly', min => 40, max => 90,
    client_id => $client);
my $month = "tenant_id = '$T' AND created_at >= date_trunc('month', now())";
my $spent0 = psql("SELECT coalesce(sum(cost), 0) FROM ai_usage WHERE $month");
my $calls0 = psql("SELECT count(*) FROM ai_usage WHERE $month");
psql("UPDATE tenants SET ai_monthly_budget_usd = $spent0 + 0.01 WHERE id = '$T'");
my $probe = $gen->(jobId => $slow, alternatives => 0, maxWords => 50);
is($probe->{status}, 402, 'probe: the worst case of one call is') or diag $probe->{body};
my $est = $probe->{json}{estimatedCostUsd};
ok($est > 0.1, "the worst case of one call: \$$est");
my $budget = sprintf('%.6f', $spent0 + 2.5 * $est);
psql("UPDATE tenants SET ai_monthly_budget_usd = $budget WHERE id = '$T'");
my @kids;
for my $i (1 .. 4) {
    pipe(my $rd, my $wr) or die;
    if (!(my $pid = fork // die)) {
        close $rd;
        print $wr $gen->(jobId => $slow, alternatives => 0, maxWords => 50)->{status};
        close $wr;
        exit 0;
    }
    close $wr;
    push @kids, $rd;
}
my %got;
for my $rd (@kids) { local $/; $got{ <$rd> // 0 }++ }
1 while wait != -1;
is($got{200} // 0, 2, "four calls at once against room for 2.5 worst cases: two pass");
is($got{402} // 0, 2, 'two are refused with 402');
my ($spent) = psql("SELECT coalesce(sum(cost), 0) FROM ai_usage WHERE $month");
ok($spent <= $budget, "spent \$$spent within the budget \$$budget");
is(psql("SELECT count(*) FROM ai_reservations WHERE tenant_id = '$T'"), '0', 'no reservation is left behind');
is(psql("SELECT count(*) FROM ai_usage WHERE $month"), $calls0 + 2, 'two usage rows');
# A call that fails gives its reservation back.
my $down = job($T, upwork_id => 'g-500', title => 'Failing provider [[fake:500,times=9,id=budget500]]',
    description => 'x', skills => ['c'], budget_type => 'hourly', min => 10, max => 20);
psql("UPDATE tenants SET ai_monthly_budget_usd = 100 WHERE id = '$T'");
$r = $gen->(jobId => $down, alternatives => 0, maxWords => 50);
is($r->{status}, 502, 'a provider failure: 502');
is(psql("SELECT count(*) FROM ai_reservations WHERE tenant_id = '$T'"), '0', 'and its reservation is released');

# A model without a price cannot be used.
psql("UPDATE tenants SET ai_model = 'unpriced-model' WHERE id = '$T'");
$before = $count->();
$r = $gen->(jobId => $hourly);
is($r->{status}, 500, 'a model with no price: 500');
like($r->{json}{details}, qr/no price/, 'says so');
is($count->(), $before, 'and stores nothing');
psql("UPDATE tenants SET ai_provider = NULL, ai_model = NULL, ai_monthly_budget_usd = NULL WHERE id = '$T'");

# --- GET /api/usage --------------------------------------------------------
$r = api(GET => '/api/usage', token => $tok);
is($r->{status}, 200, 'usage: 200');
my $u = $r->{json}{data};
my ($n, $pt, $ct, $cost) = split /\|/, psql("SELECT count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost)"
    . " FROM ai_usage WHERE tenant_id = '$T' AND created_at >= date_trunc('month', now())");
is($u->{requests}, $n, "usage: requests ($n)");
is($u->{promptTokens}, $pt, 'usage: prompt tokens');
is($u->{completionTokens}, $ct, 'usage: completion tokens');
is(sprintf('%.6f', $u->{spentUsd}), $cost, "usage: spent ($cost)");
is($u->{budgetUsd}, 50, 'usage: the configured default budget');
ok(abs($u->{remainingUsd} - (50 - $cost)) < 1e-6, 'usage: remaining');
like($u->{periodStart}, qr/^\d{4}-\d\d-01T00:00:00\.000Z$/, 'usage: the month starts on the 1st');
my %kinds = map { ("$_->{provider}/$_->{model}" => $_) } @{ $u->{breakdown} };
ok($kinds{'builtin/builtin-1'} && $kinds{'openai/test-pricey'}, 'usage: broken down by provider and model');
is(psql("SELECT cost || '|' || requests FROM ai_spend WHERE tenant_id = '$T'"
    . " AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date"), "$cost|$n",
    'the monthly total the budget reads (ai_spend) equals the sum of the usage rows');
is(psql("SELECT cost FROM ai_spend WHERE tenant_id = '$T'"
    . " AND month = date_trunc('month', now() AT TIME ZONE 'UTC')::date - interval '1 month'"), '5.000000',
    'and last month\'s total has the row moved there');
$r = api(GET => '/api/usage?month=2026-01', token => $tok);
is($r->{status}, 400, 'usage: unknown parameter 400');
$r = api(GET => '/api/usage', token => token(sub => 'user_x', org => $O));
is($r->{json}{data}{requests}, 0, 'usage: another tenant sees none of it');

done_testing;
