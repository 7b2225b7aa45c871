#!/usr/bin/env perl
# 43-proposals.t: GET /api/proposals and GET /api/proposals/{id}: the tenant's drafts with their usage, filters, paging, bad queries and other tenants' ids.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my $T = 'org_t_props';
my $O = 'org_t_props_other';
reset_tenant($T, $O);
my $tok = token(sub => 'user_l', org => $T);
my $otok = token(sub => 'user_o', org => $O);
insert_jobs($T, { upwork_id => 'l-1', title => 'Build a Django API', skills => ['python', 'django'], budget_min => 30, budget_max => 50 },
                { upwork_id => 'l-2', title => 'Fix our CSS', skills => ['css'], budget_min => 20, budget_max => 40 });
insert_jobs($O, { upwork_id => 'o-1', title => 'Other', skills => ['c'], budget_min => 10, budget_max => 20 });
my ($j1, $j2) = split /\n/, psql("SELECT id FROM jobs WHERE tenant_id = '$T' ORDER BY upwork_id");
my $oj = psql("SELECT id FROM jobs WHERE tenant_id = '$O'");

my @ids;
for my $x ([$j1, 'professional'], [$j2, 'concise'], [$j1, 'friendly']) {
    my $r = api(POST => '/api/ai/proposals/generate', token => $tok,
        json => { jobId => $x->[0], tone => $x->[1], alternatives => 1, highlights => ['ten years of Python'] });
    is($r->{status}, 200, "generate a $x->[1] draft") or diag $r->{body};
    push @ids, $r->{json}{data}{metadata}{proposalId};
}
my $r = api(POST => '/api/ai/proposals/generate', token => $otok, json => { jobId => $oj });
my $other = $r->{json}{data}{metadata}{proposalId};
ok(uuid_like($other), 'a draft in another tenant');

$r = api(GET => '/api/proposals', token => $tok);
is($r->{status}, 200, 'list: 200');
is($r->{json}{pagination}{total}, 3, 'the tenant\'s three drafts');
is_deeply([map { $_->{id} } @{ $r->{json}{data} }], [reverse @ids], 'newest first');
my $p = $r->{json}{data}[0];
is($p->{jobId}, $j1, 'jobId');
is($p->{job}{title}, 'Build a Django API', 'the job\'s title');
is($p->{userId}, 'user_l', 'userId');
is($p->{status}, 'draft', 'status');
is($p->{tone}, 'friendly', 'tone');
is($p->{provider}, 'builtin', 'provider');
is($p->{model}, 'builtin-1', 'model');
is($p->{maxWords}, 250, 'maxWords (the default)');
is_deeply($p->{highlights}, ['ten years of Python'], 'highlights');
is(scalar @{ $p->{alternatives} }, 1, 'alternatives');
is($p->{alternatives}[0]{tone}, 'confident', 'an alternative\'s tone');
ok(ref $p->{suggestions} eq 'ARRAY' && @{ $p->{suggestions} }, 'suggestions');
like($p->{content}, qr/Django|Python/i, 'content');
ok($p->{usage}{promptTokens} > 0 && $p->{usage}{completionTokens} > 0, 'usage tokens');
is($p->{usage}{cost}, 0, 'usage cost');
like($p->{createdAt}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'createdAt');
ok(!grep({ $_->{id} eq $other } @{ $r->{json}{data} }), 'no other tenant\'s draft');

$r = api(GET => "/api/proposals?jobId=$j2", token => $tok);
is($r->{json}{pagination}{total}, 1, 'filter by job');
is($r->{json}{data}[0]{id}, $ids[1], 'the draft of that job');
$r = api(GET => '/api/proposals?status=draft&limit=2&page=2', token => $tok);
is($r->{json}{pagination}{total}, 3, 'filter by status');
is(scalar @{ $r->{json}{data} }, 1, 'page 2 of 2');
ok(!$r->{json}{pagination}{hasMore}, 'hasMore false on the last page');
$r = api(GET => '/api/proposals?status=incomplete', token => $tok);
is($r->{json}{pagination}{total}, 0, 'no incomplete drafts');
$r = api(GET => "/api/proposals?jobId=$oj", token => $tok);
is($r->{json}{pagination}{total}, 0, 'another tenant\'s job id matches nothing');

for my $bad ('limit=0', 'limit=51', 'page=0', 'page=x', 'jobId=abc', 'status=' . ('s' x 21), 'sort=new',
             'limit=1&limit=2', 'status=%ff') {
    $r = api(GET => "/api/proposals?$bad", token => $tok);
    is($r->{status}, 400, "list ?$bad: 400");
}

# One.
$r = api(GET => "/api/proposals/$ids[0]", token => $tok);
is($r->{status}, 200, 'one: 200');
is($r->{json}{data}{id}, $ids[0], 'one: the draft');
is($r->{json}{data}{tone}, 'professional', 'one: its tone');
my $l = api(GET => "/api/proposals?jobId=$j1&limit=50", token => $tok);
my ($same) = grep { $_->{id} eq $ids[0] } @{ $l->{json}{data} };
my %one = %{ $r->{json}{data} };
my $history = delete $one{history};
is_deeply(\%one, $same, 'one: the same object as in the list, plus its history');
is_deeply([map { [$_->{from}, $_->{to}, $_->{by}] } @$history], [[undef, 'draft', 'user_l']],
    'one: its history, the creation by its user');
$r = api(GET => "/api/proposals/$other", token => $tok);
is($r->{status}, 404, 'another tenant\'s draft: 404');
is($r->{json}{code}, 'not_found', 'not_found');
$r = api(GET => '/api/proposals/00000000-0000-4000-8000-000000000000', token => $tok);
is($r->{status}, 404, 'an unknown id: 404');
$r = api(GET => '/api/proposals/not-a-uuid', token => $tok);
is($r->{status}, 400, 'a malformed id: 400');
$r = api(GET => "/api/proposals/$ids[0]?x=1", token => $tok);
is($r->{status}, 400, 'an unknown parameter: 400');
$r = api(GET => "/api/proposals/$ids[0]");
is($r->{status}, 401, 'no token: 401');
$r = api(POST => '/api/proposals', token => $tok, json => {});
is($r->{status}, 405, 'POST /api/proposals: 405');
$r = api(GET => "/api/proposals/$ids[0]/x", token => $tok);
is($r->{status}, 404, 'a deeper path: 404');
is($r->{json}{code}, 'not_found', 'as JSON');

done_testing;
