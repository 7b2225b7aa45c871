#!/usr/bin/env perl
# 48-proposal-analytics.t: GET /api/analytics/proposals on a fixture with hand-checked numbers: counts by status, reply and win rates, the median time to submit, AI tokens and cost per proposal, per template; the range, the cache and its invalidation, other users and tenants, bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my ($T, $O) = ('org_t_pan', 'org_t_pan_o');
reset_tenant($T, $O);
invalidate('user', "$T/$_") for qw(user_pan user_pan_b);
invalidate('user', "$O/user_pan");
my $tok = token(sub => 'user_pan', org => $T);
my $tokb = token(sub => 'user_pan_b', org => $T);
my $toko = token(sub => 'user_pan', org => $O);
my $uuid = sub { scalar psql('SELECT gen_random_uuid()') };
my ($tA, $tB, $j1, $j2, $j3, $jo) = map { $uuid->() } 1 .. 6;

psql(<<"SQL");
INSERT INTO tenants (id) VALUES ('$T'), ('$O');
INSERT INTO users (tenant_id, id) VALUES ('$T', 'user_pan'), ('$T', 'user_pan_b'), ('$O', 'user_pan');
INSERT INTO proposal_templates (tenant_id, user_id, id, name, content) VALUES
    ('$T', 'user_pan', '$tA', 'Tpl A', 'A {{rate}}'), ('$T', 'user_pan', '$tB', 'Tpl B', 'B {{rate}}');
INSERT INTO jobs (tenant_id, id, upwork_id, title, budget_type, posted_at) VALUES
    ('$T', '$j1', 'pan-1', 'Job one', 'fixed', '2026-03-01 10:00+00'),
    ('$T', '$j2', 'pan-2', 'Job two', 'fixed', '2026-03-04 00:00+00'),
    ('$T', '$j3', 'pan-3', 'Job three', 'fixed', '2026-03-31 20:00+00'),
    ('$O', '$jo', 'pan-o', 'Other job', 'fixed', '2026-03-01 00:00+00');
SQL

# A proposal created at a given time, whose history is exactly the chain
# given (each state with the time it was entered), and its usage rows.
sub prop {
    my (%p) = @_;
    my $id = $uuid->();
    my $tenant = $p{tenant} // $T;
    my @chain = @{ $p{chain} };
    my $sql = sprintf("INSERT INTO proposals (tenant_id, id, user_id, job_id, status, template_id, created_at)"
        . " VALUES ('%s', '%s', '%s', '%s', '%s', %s, '%s');\n", $tenant, $id, $p{user} // 'user_pan', $p{job},
        $chain[-1][0], $p{tpl} ? "'$p{tpl}'" : 'NULL', $chain[0][1]);
    $sql .= "DELETE FROM proposal_history WHERE proposal_id = '$id';\n";
    my $from = 'NULL';
    for my $c (@chain) {
        $sql .= "INSERT INTO proposal_history (tenant_id, proposal_id, from_status, to_status, changed_by, changed_at)"
            . " VALUES ('$tenant', '$id', $from, '$c->[0]', 'user_pan', '$c->[1]');\n";
        $from = "'$c->[0]'";
    }
    for my $u (@{ $p{usage} // [] }) {
        $sql .= "INSERT INTO ai_usage (tenant_id, user_id, kind, proposal_id, provider, model, prompt_tokens,"
            . " completion_tokens, cost) VALUES ('$tenant', '" . ($p{user} // 'user_pan') . "', '$u->[0]', '$id',"
            . " 'openai', 'gpt-4o-mini', $u->[1], $u->[2], $u->[3]);\n";
    }
    psql($sql);
    return $id;
}

# The fixture: eight proposals of user_pan created in March 2026.
#            template  created            chain (state entered at)                                  job posted -> submitted
my %p;
$p{1} = prop(tpl => $tA, job => $j1, usage => [['proposal_generation', 1000, 500, 0.0015], ['client_research', 4000, 1000, 0.01]],
    chain => [['draft', '2026-03-02 09:00+00'], ['ready', '2026-03-02 11:00+00'], ['submitted', '2026-03-02 12:00+00'],
              ['viewed', '2026-03-03 08:00+00'], ['interviewing', '2026-03-04 08:00+00'], ['hired', '2026-03-06 08:00+00']]);
    # posted 03-01 10:00, submitted 03-02 12:00: 26 h = 93,600 s
$p{2} = prop(tpl => $tA, job => $j1, usage => [['proposal_generation', 800, 400, 0.0012]],
    chain => [['draft', '2026-03-03 08:00+00'], ['ready', '2026-03-03 09:00+00'], ['submitted', '2026-03-03 10:00+00'],
              ['viewed', '2026-03-03 12:00+00'], ['declined', '2026-03-05 12:00+00']]);
    # 03-01 10:00 -> 03-03 10:00: 48 h = 172,800 s
$p{3} = prop(tpl => $tA, job => $j2,
    chain => [['draft', '2026-03-04 00:30+00'], ['ready', '2026-03-04 01:00+00'], ['submitted', '2026-03-04 02:00+00'],
              ['viewed', '2026-03-04 03:00+00'], ['interviewing', '2026-03-05 00:00+00'], ['declined', '2026-03-08 00:00+00']]);
    # 03-04 00:00 -> 02:00: 7,200 s
$p{4} = prop(tpl => $tB, job => $j2, usage => [['proposal_generation', 600, 300, 0.0009]],
    chain => [['draft', '2026-03-04 12:00+00'], ['ready', '2026-03-04 18:00+00'], ['submitted', '2026-03-05 00:00+00']]);
    # 03-04 00:00 -> 03-05 00:00: 86,400 s
$p{5} = prop(tpl => $tB, job => $j2,
    chain => [['draft', '2026-03-06 00:00+00'], ['ready', '2026-03-06 01:00+00'], ['withdrawn', '2026-03-06 02:00+00']]);
$p{6} = prop(job => $j2, usage => [['proposal_generation', 200, 100, 0.0004]], chain => [['draft', '2026-03-07 00:00+00']]);
$p{7} = prop(job => $j2, chain => [['incomplete', '2026-03-08 00:00+00']]);
$p{8} = prop(job => $j3,
    chain => [['draft', '2026-03-31 23:59:59+00'], ['ready', '2026-04-01 00:30+00'], ['submitted', '2026-04-01 01:00+00'],
              ['withdrawn', '2026-04-02 00:00+00']]);
    # posted 03-31 20:00 -> 04-01 01:00: 5 h = 18,000 s
# Outside the range, another user's, another tenant's: never counted.
prop(job => $j1, usage => [['proposal_generation', 9999, 9999, 1]], chain => [['draft', '2026-02-28 23:59:59+00'],
    ['ready', '2026-03-01 00:00+00'], ['submitted', '2026-03-01 01:00+00'], ['viewed', '2026-03-01 02:00+00'],
    ['interviewing', '2026-03-01 03:00+00'], ['hired', '2026-03-02 00:00+00']]);
prop(job => $j1, chain => [['draft', '2026-04-01 00:00+00']]);
my $bp = prop(user => 'user_pan_b', job => $j1, chain => [['draft', '2026-03-10 00:00+00'], ['ready', '2026-03-10 01:00+00'],
    ['submitted', '2026-03-10 02:00+00'], ['viewed', '2026-03-10 03:00+00'], ['interviewing', '2026-03-10 04:00+00'],
    ['hired', '2026-03-11 00:00+00']]);
prop(tenant => $O, job => $jo, chain => [['draft', '2026-03-10 00:00+00'], ['ready', '2026-03-10 01:00+00'],
    ['submitted', '2026-03-10 02:00+00']]);

my $range = 'from=2026-03-01&to=2026-03-31';
my $r = api(GET => "/api/analytics/proposals?$range", token => $tok);
is($r->{status}, 200, 'March 2026: 200') or diag $r->{body};
is($r->{headers}{'x-cache'}, 'MISS', 'computed');
my $d = $r->{json}{data};
is_deeply([@$d{qw(from to days proposals)}], ['2026-03-01', '2026-03-31', 31, 8],
    'the range and its eight proposals (created 03-02 .. 03-31 23:59:59; not 02-28 nor 04-01)');
is_deeply($d->{byStatus}, { draft => 1, incomplete => 1, ready => 0, submitted => 1, viewed => 0, interviewing => 0,
    hired => 1, declined => 2, withdrawn => 2 }, 'by status, every state listed');
# Submitted: reached submitted at some point: 1, 2, 3, 4 and 8 (withdrawn after it); not 5 (withdrawn when ready).
is($d->{submitted}, 5, 'submitted: five reached submitted, the withdrawn 8 included, 5 not');
# Replied: reached interviewing: 1 (hired) and 3 (declined after the interview); 2 was only viewed.
is($d->{replied}, 2, 'replied: two reached interviewing');
is($d->{hired}, 1, 'hired: one');
is($d->{replyRate}, 0.4, 'reply rate 2/5');
is($d->{winRate}, 0.2, 'win rate 1/5');
# Time from posted to submitted: 7,200, 18,000, 86,400, 93,600, 172,800 s: the median is 86,400.
is_deeply($d->{timeToSubmit}, { proposals => 5, medianSeconds => 86400, medianHours => 24 },
    'median time from the job posted to submitted: 24 h over five');
# proposal_generation usage: 1,000+800+600+200 prompt, 500+400+300+100 completion, $0.0040; research never counts.
is_deeply($d->{ai}, { promptTokens => 2600, completionTokens => 1300, tokens => 3900, cost => 0.004,
    tokensPerProposal => 487.5, costPerProposal => 0.0005 }, 'AI tokens and cost, in all and per proposal (8)');
is_deeply($d->{templates}, [
    { templateId => $tA, name => 'Tpl A', proposals => 3, submitted => 3, replied => 2, hired => 1,
      replyRate => 0.6667, winRate => 0.3333, tokens => 2700, cost => 0.0027 },
    { templateId => $tB, name => 'Tpl B', proposals => 2, submitted => 1, replied => 0, hired => 0,
      replyRate => 0, winRate => 0, tokens => 900, cost => 0.0009 },
    { templateId => undef, name => undef, proposals => 3, submitted => 1, replied => 0, hired => 0,
      replyRate => 0, winRate => 0, tokens => 300, cost => 0.0004 },
], 'per template: most proposals first, those without a template last');

# Ranges: one day, inclusive at both ends.
$r = api(GET => '/api/analytics/proposals?from=2026-03-31&to=2026-03-31', token => $tok);
is($r->{json}{data}{proposals}, 1, 'one day: the proposal created at 23:59:59 is in it');
is($r->{json}{data}{timeToSubmit}{medianSeconds}, 18000, 'its time to submit, 5 h');
$r = api(GET => '/api/analytics/proposals?from=2030-01-01&to=2030-01-31', token => $tok);
is($r->{status}, 200, 'an empty range: 200');
is_deeply([@{ $r->{json}{data} }{qw(proposals submitted replied hired replyRate winRate)}], [0, 0, 0, 0, 0, 0], 'zeros');
is_deeply($r->{json}{data}{timeToSubmit}, { proposals => 0, medianSeconds => 0, medianHours => 0 }, 'no time to submit');
is($r->{json}{data}{ai}{costPerProposal}, 0, 'no cost per proposal');
is_deeply($r->{json}{data}{templates}, [], 'no templates');
ok(!(grep { $_ } values %{ $r->{json}{data}{byStatus} }), 'every status 0');
$r = api(GET => '/api/analytics/proposals', token => $tok);
is($r->{status}, 200, 'the default range: 200');
is($r->{json}{data}{days}, 30, 'thirty days ending today');

# Other users and tenants.
$r = api(GET => "/api/analytics/proposals?$range", token => $tokb);
is_deeply([@{ $r->{json}{data} }{qw(proposals submitted hired)}], [1, 1, 1], "a colleague sees only their own");
$r = api(GET => "/api/analytics/proposals?$range", token => $toko);
is_deeply([@{ $r->{json}{data} }{qw(proposals submitted hired)}], [1, 1, 0], 'the same user in another tenant: that tenant only');

# The cache, and what invalidates it: PATCH, submit, generation.
$r = api(GET => "/api/analytics/proposals?$range", token => $tok);
is($r->{headers}{'x-cache'}, 'HIT-L2', 'cached (Redis, per user)');
is(api(PATCH => "/api/proposals/$p{6}", token => $tok, json => { status => 'ready' })->{status}, 200, 'PATCH a draft to ready');
$r = api(GET => "/api/analytics/proposals?$range", token => $tok);
is($r->{headers}{'x-cache'}, 'MISS', 'the PATCH invalidated it');
is_deeply([@{ $r->{json}{data}{byStatus} }{qw(draft ready)}], [0, 1], 'and the counts follow at once');
is(api(GET => "/api/analytics/proposals?$range", token => $tokb)->{json}{data}{proposals}, 1, "the colleague's entry is separate");
is(api(PATCH => "/api/proposals/$p{6}", token => $tok, json => { status => 'draft' })->{status}, 200, 'back to draft');
api(GET => "/api/analytics/proposals?$range", token => $tok);
psql("UPDATE jobs SET ciphertext = '~01pan' WHERE id = '$j2'");
is(api(POST => "/api/proposals/$p{6}/submit", token => $tok)->{status}, 200, 'submit');
$r = api(GET => "/api/analytics/proposals?$range", token => $tok);
is($r->{headers}{'x-cache'}, 'MISS', 'submit invalidated it');
is($r->{json}{data}{byStatus}{ready}, 1, 'ready again');
$r = api(POST => '/api/ai/proposals/generate', token => $tok, json => { jobId => $j2, alternatives => 0 });
is($r->{status}, 200, 'generate a proposal') or diag $r->{body};
$r = api(GET => "/api/analytics/proposals?$range", token => $tok);
is($r->{headers}{'x-cache'}, 'MISS', 'generation invalidated it');
my $today = api(GET => '/api/analytics/proposals', token => $tok)->{json}{data};
is($today->{byStatus}{draft}, 1, "today's range counts the new draft");
is($r->{json}{data}{proposals}, 8, 'March is still eight');

# Bad input.
for my $bad ('from=2026-13-01', 'from=2026-02-30', 'to=yesterday', 'from=2026-03-31&to=2026-03-01', 'from=2025-01-01&to=2026-03-01',
             'from=1999-12-31', 'to=2100-01-01', 'from=2026-3-1', 'template=x', 'from=2026-03-01&from=2026-03-02',
             'from=%00', 'from=%ff', "from=2026-03-01'%20OR%201=1--") {
    $r = api(GET => "/api/analytics/proposals?$bad", token => $tok);
    is($r->{status}, 400, "?$bad: 400");
    is($r->{json}{code}, 'validation_failed', "?$bad: validation_failed") unless $bad =~ /%00|%ff/;
}
is(api(GET => "/api/analytics/proposals?$range")->{status}, 401, 'no token: 401');
is(api(GET => "/api/analytics/proposals?$range", token => "${tok}x")->{status}, 401, 'a forged token: 401');
is(api(POST => '/api/analytics/proposals', token => $tok, json => {})->{status}, 405, 'POST: 405');
is(api(GET => '/api/analytics/proposals/x', token => $tok)->{status}, 404, 'a deeper path: 404');

done_testing;
