#!/usr/bin/env perl
# 44-client-research.t: GET /api/clients/{clientId}/research: scores and red flags of fixture clients with hand-computed answers, the cache, other tenants' ids, and the LLM summary.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my $T = 'org_t_research';
my $L = 'org_t_research_llm';
my $O = 'org_t_research_other';
reset_tenant($T, $L, $O);
my $tok = token(sub => 'user_r', org => $T);
my $run = "$$-" . int(rand(1e9));
psql(<<"SQL");
INSERT INTO tenants (id, kind, ai_provider) VALUES ('$T', 'org', NULL), ('$L', 'org', 'openai'), ('$O', 'org', NULL);
INSERT INTO clients (tenant_id, upwork_uid, name, company, country, total_spent, hire_rate, rating, reviews_count,
                     jobs_posted, total_hires, payment_verified, member_since) VALUES
  ('$T', 'strong', 'Acme Software', 'Acme Software Inc.', 'United States', 410000, 88.64, 4.9, 39, 44, 39, true, now() - interval '4000 days'),
  ('$T', 'risky', 'New Buyer', NULL, 'Nowhere', 0, NULL, NULL, 0, 6, 0, false, now() - interval '10 days'),
  ('$T', 'fair', 'Mixed Bag', 'Mixed Bag Ltd', 'Germany', 5000, 25, 3.6, 5, 20, 5, true, now() - interval '400 days'),
  ('$L', 'llm', 'Zeta Labs [[fake:normal,id=rs-llm-$run]]', NULL, 'France', 20000, 60, 4.5, 8, 10, 6, true, now() - interval '800 days'),
  ('$L', 'llmfail', 'Omega [[fake:500,times=99,id=rs-fail-$run]]', NULL, 'France', 20000, 60, 4.5, 8, 10, 6, true, now() - interval '800 days'),
  ('$O', 'foreign', 'Foreign', NULL, 'Spain', 100, 50, 5, 1, 2, 1, true, now() - interval '100 days');
INSERT INTO client_reviews (tenant_id, client_id, rating, comment, reviewed_at)
  SELECT '$T', id, r, c, now() - make_interval(days => d) FROM clients,
    (VALUES (5.0, 'Great client, clear requirements and paid on time. Would work again.', 1),
            (5.0, 'A pleasure to work with.', 20), (4.8, 'Responsive and fair.', 40)) v(r, c, d)
   WHERE upwork_uid = 'strong' AND tenant_id = '$T';
INSERT INTO client_reviews (tenant_id, client_id, rating, comment, reviewed_at)
  SELECT '$T', id, r, c, now() - make_interval(days => d) FROM clients,
    (VALUES (2.0, 'Unclear requirements and the payment came weeks after the deadline.', 1),
            (3.0, 'Scope creep, constant changes.', 10), (4.0, 'Good communication.', 30)) v(r, c, d)
   WHERE upwork_uid = 'fair' AND tenant_id = '$T';
SQL
my %id = map { split /\|/ } split /\n/, psql("SELECT upwork_uid || '|' || id FROM clients WHERE tenant_id IN ('$T', '$L', '$O')");
my $research = sub { my ($id, $t) = @_; api(GET => "/api/clients/$id/research", token => $t // $tok) };
my $points = sub { my ($d) = @_; return { map { $_->{factor} => $_->{points} } @{ $d->{reasons} } } };
my $flags = sub { [sort map { $_->{code} } @{ $_[0]{redFlags} }] };

# A strong client: 25 + 20 + 18 + 15 + 5 + 5 + 10.
my $r = $research->($id{strong});
is($r->{status}, 200, 'strong client: 200') or diag $r->{body};
my $d = $r->{json}{data};
is($d->{clientId}, $id{strong}, 'clientId');
is($d->{score}, 98, 'score 98');
is($d->{verdict}, 'strong', 'verdict strong');
is_deeply($points->($d), { paymentVerified => 25, totalSpent => 20, hireRate => 18, rating => 15, reviewCount => 5,
    reviewTone => 5, accountAge => 10 }, 'the points of each reason');
my $sum = 0;
$sum += $_->{points} for @{ $d->{reasons} };
is($sum, $d->{score}, 'the reasons add up to the score');
is_deeply($d->{redFlags}, [], 'no red flags');
is($d->{facts}{spendTier}, 'top', 'spend tier top');
is($d->{facts}{reviewTone}, 'positive', 'recent reviews positive');
is($d->{facts}{recentReviews}, 3, 'three reviews read');
is($d->{facts}{accountAgeDays}, 4000, 'account age');
is($d->{facts}{jobsPosted}, 44, 'jobs posted');
is($d->{facts}{totalHires}, 39, 'hires');
like($d->{summary}, qr/^Acme Software \(Acme Software Inc\.\) from United States looks like a strong client \(98\/100\)/, 'builtin summary');
like($d->{summary}, qr/\$410,000 spent/, 'summary: money spent');
is($d->{summarySource}, 'builtin', 'summarySource builtin');

# A risky client: nothing but red flags.
$d = $research->($id{risky})->{json}{data};
is($d->{score}, 0, 'risky client: score 0');
is($d->{verdict}, 'risky', 'verdict risky');
is_deeply($flags->($d), [qw(new_account no_hires no_spend payment_unverified)], 'its red flags');
my ($nh) = grep { $_->{code} eq 'no_hires' } @{ $d->{redFlags} };
is($nh->{message}, 'Posted 6 jobs and hired no one.', 'a red flag says what it saw');
is($d->{facts}{hireRate}, 0, 'hire rate computed from hires and jobs posted');
is($d->{facts}{rating}, undef, 'no rating');
is($d->{facts}{reviewTone}, 'none', 'no reviews');

# A fair client with poor recent reviews: 25 + 10 + 5 + 5 + 1 + 0 + 7.
$d = $research->($id{fair})->{json}{data};
is($d->{score}, 53, 'fair client: score 53');
is($d->{verdict}, 'fair', 'verdict fair');
is_deeply($points->($d), { paymentVerified => 25, totalSpent => 10, hireRate => 5, rating => 5, reviewCount => 1,
    reviewTone => 0, accountAge => 7 }, 'the points of each reason');
is_deeply($flags->($d), [qw(low_hire_rate low_rating negative_reviews)], 'its red flags');
is($d->{facts}{reviewTone}, 'negative', 'recent reviews negative');

# The cache: the second call is a hit; a change is seen once the namespace is invalidated.
$r = $research->($id{strong});
like($r->{headers}{'x-cache'} // '', qr/^HIT-L[12]$/, 'the second call is a cache hit (' . ($r->{headers}{'x-cache'} // '') . ')');
is($r->{json}{data}{score}, 98, 'with the same answer');
$r = $research->(uc $id{strong});
like($r->{headers}{'x-cache'} // '', qr/^HIT-L[12]$/, 'the id in upper case is the same entry');
psql("UPDATE clients SET payment_verified = false WHERE id = '$id{strong}'");
$r = $research->($id{strong});
is($r->{json}{data}{score}, 98, 'a change behind the API\'s back is not seen before invalidation');
invalidate('clients', $T);
select undef, undef, undef, 1.1;    # cache_l1_ttl_ms
$r = $research->($id{strong});
is($r->{headers}{'x-cache'}, 'MISS', 'after invalidation: a miss');
is($r->{json}{data}{score}, 73, 'and the new answer (payment no longer verified: 25 points less)');
$r = $research->($id{strong});
is($r->{json}{data}{score}, 73, 'which is cached in turn');

# Other tenants' ids, unknown ids, bad ids.
$r = $research->($id{foreign});
is($r->{status}, 404, 'another tenant\'s client: 404');
is($r->{json}{code}, 'not_found', 'not_found');
$r = $research->('00000000-0000-4000-8000-000000000000');
is($r->{status}, 404, 'an unknown client: 404');
$r = $research->('not-a-uuid');
is($r->{status}, 400, 'a malformed id: 400');
$r = api(GET => "/api/clients/$id{strong}/research?fresh=1", token => $tok);
is($r->{status}, 400, 'an unknown parameter: 400');
$r = api(GET => "/api/clients/$id{strong}/research");
is($r->{status}, 401, 'no token: 401');
$r = api(POST => "/api/clients/$id{strong}/research", token => $tok, json => {});
is($r->{status}, 405, 'POST: 405');
$r = $research->($id{fair});
like($r->{headers}{'ratelimit-policy'} // '', qr/^"default";/, 'research is in the default rate-limit class');

# With the openai provider the summary comes from the model, and its usage is recorded.
my $ltok = token(sub => 'user_r', org => $L);
$r = $research->($id{llm}, $ltok);
is($r->{status}, 200, 'openai tenant: 200');
is($r->{json}{data}{summarySource}, 'openai', 'summary from the provider');
like($r->{json}{data}{summary}, qr/^Hi! I have shipped/, 'the provider\'s text');
is($r->{json}{data}{score}, 74, 'the score is still the analyzer\'s');
my $log = fake_log("rs-llm-$run");
is(scalar @$log, 1, 'one call to the provider');
like($log->[0]{prompt}, qr/looks like a good client \(74\/100\)/, 'the prompt carries the analyzer\'s findings');
is(psql("SELECT kind || '|' || prompt_tokens || '|' || completion_tokens FROM ai_usage WHERE tenant_id = '$L'"),
   'client_research|412|23', 'the usage row');
$r = $research->($id{llm}, $ltok);
is($r->{json}{data}{summarySource}, 'openai', 'cached with its summary');
is(scalar @{ fake_log("rs-llm-$run") }, 1, 'no second call to the provider');

# A failing provider leaves the builtin summary, and no usage row.
$r = $research->($id{llmfail}, $ltok);
is($r->{status}, 200, 'provider failing: research still 200');
is($r->{json}{data}{summarySource}, 'builtin', 'with the builtin summary');
is(psql("SELECT count(*) FROM ai_usage WHERE tenant_id = '$L'"), 1, 'and no usage row for the failed call');

# No budget left: the builtin summary, no call.
psql("UPDATE tenants SET ai_monthly_budget_usd = 0 WHERE id = '$L'");
invalidate('clients', $L);
select undef, undef, undef, 1.1;
$r = $research->($id{llm}, $ltok);
is($r->{json}{data}{summarySource}, 'builtin', 'budget spent: the builtin summary');
is(scalar @{ fake_log("rs-llm-$run") }, 1, 'and the provider was not called');

done_testing;
