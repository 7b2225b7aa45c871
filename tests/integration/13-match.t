#!/usr/bin/env perl
# 13-match.t: GET /api/jobs?sort=match: a hand-computed score, expected orderings, the window and asOf, paging that covers every job once, filters, cache and isolation; minMatch on saved searches.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my ($T, $O) = ('org_t_match', 'org_t_match_other');
reset_tenant($T, $O);
invalidate('user', "$T/$_") for qw(user_m user_m2 user_mv);
invalidate('user', "$O/user_m");
my $tok = token(sub => 'user_m', org => $T);
my $AS_OF = '2024-03-31T00:00:00.000Z';

# Jobs with every feature the score reads; age in days before asOf.
sub jobs_sql {
    my ($tenant, @jobs) = @_;
    my $q = sub { my $v = shift; return 'NULL' unless defined $v; $v =~ s/'/''/g; "'$v'" };
    my $sql = "INSERT INTO tenants (id, kind) VALUES ('$tenant', 'org') ON CONFLICT DO NOTHING;\n";
    for my $j (@jobs) {
        my $skills = '{' . join(',', map { "\"$_\"" } @{ $j->{skills} }) . '}';
        $sql .= sprintf("INSERT INTO jobs (tenant_id, upwork_id, title, skills, budget_type, budget_min, "
            . "budget_max, currency, client_score, applicants, posted_at) VALUES ('%s', %s, %s, '%s', '%s', %s, %s, "
            . "'%s', %d, %s, timestamptz '2024-03-31 00:00:00+00' - interval '%s');\n",
            $tenant, $q->($j->{id}), $q->($j->{title} // $j->{id}), $skills, $j->{type} // 'hourly',
            $j->{min} // 'NULL', $j->{max} // 'NULL', $j->{currency} // 'USD', $j->{client} // 0,
            $j->{applicants} // 'NULL', $j->{age} // '0 days');
    }
    psql($sql);
    invalidate('jobs', $tenant);
}

jobs_sql($T,
    { id => 'perfect', skills => [qw(c postgresql linux)], min => 60, max => 100, client => 90, applicants => 2 },
    { id => 'hand', skills => ['postgresql', 'c', 'node.js', 'linux'], min => 40, max => 70, client => 80,
      applicants => 12, age => '6 days' },
    { id => 'half', skills => [qw(react c)], min => 60, max => 100, client => 90, applicants => 2 },
    { id => 'none', skills => ['figma'], type => 'fixed', min => 5000, max => 5000, client => 90, applicants => 2 },
    { id => 'old', skills => [qw(c postgresql linux)], min => 60, max => 100, client => 90, applicants => 2,
      age => '29 days' },
    { id => 'bare', skills => [] },
    { id => 'euro', skills => ['c'], min => 100, max => 200, currency => 'EUR', client => 50, applicants => 60 },
    { id => 'outside', skills => [qw(c postgresql linux)], min => 60, max => 100, client => 90, age => '31 days' },
    { id => 'later', skills => [qw(c postgresql linux)], min => 60, max => 100, client => 90, age => '-1 hours' },
);
my $r = api(PUT => '/api/me', token => $tok, json => { name => 'Max Match',
    skills => ['postgresql', 'c', 'linux', 'api development'], hourlyRateMin => 60, hourlyRateTarget => 85 });
is($r->{status}, 200, 'the profile is set');

my $list = sub {
    my ($qs, $t) = @_;
    return api(GET => "/api/jobs?sort=match&asOf=$AS_OF&$qs", token => $t // $tok);
};
$r = $list->('limit=100');
is($r->{status}, 200, 'sort=match: 200');
my @got = map { $_->{upworkId} } @{ $r->{json}{data} };
is_deeply(\@got, [qw(perfect old hand euro half none bare)],
    'the expected order: skills, then budget, client, recency and competition decide')
    or diag join(' ', map { "$_->{upworkId}=$_->{match}{score}" } @{ $r->{json}{data} });
my %score = map { $_->{upworkId} => $_->{match}{score} } @{ $r->{json}{data} };
is_deeply(\%score, { perfect => 99, old => 89, hand => 79, euro => 78, half => 65, none => 49, bare => 47 },
    'the scores worked out by hand (README, Matching)');
my ($hand) = grep { $_->{upworkId} eq 'hand' } @{ $r->{json}{data} };
is_deeply($hand->{match}{breakdown}, { skills => 41.67, budget => 14, client => 12, recency => 8, competition => 3 },
    'the hand-computed breakdown: 41.67 + 14 + 12 + 8 + 3 = 78.67, score 79');
is_deeply($hand->{match}{reasons}, ['matches 3 of 4 skills: postgresql, c, linux',
    'budget up to $70/h is between your $60/h minimum and $85/h target', 'client score 80/100',
    'posted 6 days ago', '12 proposals so far'], 'and its reasons');
is($hand->{title}, 'hand', 'the job itself is the full object');
ok(exists $hand->{client} && exists $hand->{budget}, 'with its client and budget');
my $p = $r->{json}{pagination};
is_deeply([ @$p{qw(page limit total hasMore sort asOf window truncated)} ],
    [1, 100, 7, JSON::PP::false, 'match', $AS_OF, 30, JSON::PP::false], 'pagination: asOf, window, total');
ok(!(grep { $_ eq 'outside' || $_ eq 'later' } @got),
    'jobs older than the window or posted after asOf are not ranked');

# The newest-first list: every job with its match, scored as of now.
my %ranked = map { $_->{upworkId} => $_->{match} } @{ $r->{json}{data} };
$r = api(GET => '/api/jobs?limit=100', token => $tok);
is($r->{json}{pagination}{total}, 9, 'the newest-first list still has all nine');
is(scalar(grep { ref $_->{match} eq 'HASH' } @{ $r->{json}{data} }), 9, 'each with a match object');
my %newest = map { $_->{upworkId} => $_->{match} } @{ $r->{json}{data} };
for my $id (sort keys %ranked) {
    my ($a, $b) = ($newest{$id}{breakdown}, $ranked{$id}{breakdown});
    is_deeply([ @$a{qw(skills budget client competition)} ], [ @$b{qw(skills budget client competition)} ],
        "$id: the same skills, budget, client and competition parts as in sort=match");
}
# Posted in 2024: past the 30-day window as of now, so no recency points.
is_deeply([ map { $newest{$_}{breakdown}{recency} } sort keys %newest ], [ (0) x 9 ], 'no recency points for old jobs');
is($newest{hand}{score}, 71, 'hand: 41.67 + 14 + 12 + 0 + 3 = 70.67, score 71');
for my $id (sort keys %newest) {
    my $sum = 0;
    $sum += $_ for values %{ $newest{$id}{breakdown} };
    is($newest{$id}{score}, int($sum + 0.5), "$id: the score is its parts, rounded");
}

$r = $list->('limit=100&window=60');
ok((grep { $_->{upworkId} eq 'outside' } @{ $r->{json}{data} }), 'a 60-day window reaches the older job');
$r = $list->('limit=100&window=1');
is_deeply([ map { $_->{upworkId} } @{ $r->{json}{data} } ], [qw(perfect euro half none bare)],
    'a 1-day window: only the last day\'s jobs');
$r = $list->('limit=100&minMatch=70');
is_deeply([ map { $_->{upworkId} } @{ $r->{json}{data} } ], [qw(perfect old hand euro)], 'minMatch=70');
is($r->{json}{pagination}{total}, 4, 'and the total counts only those');
$r = $list->('limit=100&skills=postgresql');
is_deeply([ map { $_->{upworkId} } @{ $r->{json}{data} } ], [qw(perfect old hand)],
    'filters apply as in the newest-first list');
$r = $list->('limit=100&maxBudget=50');
is_deeply([ map { $_->{upworkId} } @{ $r->{json}{data} } ], [qw(hand)], 'budget filter');

# Another profile ranks the same jobs differently.
my $tok2 = token(sub => 'user_m2', org => $T);
api(PUT => '/api/me', token => $tok2, json => { skills => ['figma'], hourlyRateTarget => 20 });
$r = $list->('limit=1', $tok2);
is($r->{json}{data}[0]{upworkId}, 'none', 'a designer\'s profile puts the figma job first');

# The profile changes, the ranking follows at once (cached lists carry the user, no L1).
$r = $list->('limit=3');
$r = $list->('limit=3');
is($r->{headers}{'x-cache'}, 'HIT-L2', 'a ranked list is cached, in Redis only');
api(PUT => '/api/me', token => $tok, json => { skills => ['react'], hourlyRateMin => 60, hourlyRateTarget => 85 });
for my $i (1 .. 3) {
    $r = $list->('limit=3');
    is($r->{json}{data}[0]{upworkId}, 'half', "read $i after the profile changed: the react job leads ($r->{headers}{'x-cache'})");
}
api(PUT => '/api/me', token => $tok, json => { skills => ['postgresql', 'c', 'linux', 'api development'],
    hourlyRateMin => 60, hourlyRateTarget => 85 });
jobs_sql($T, { id => 'fresh', skills => [qw(c postgresql linux)], min => 90, max => 120, client => 100, applicants => 0 });
$r = $list->('limit=1');
is($r->{json}{data}[0]{upworkId}, 'fresh', 'a new job (the poller\'s invalidation) is ranked at once');
is($r->{json}{data}[0]{match}{score}, 100, 'scoring 100');
psql("DELETE FROM jobs WHERE tenant_id = '$T' AND upwork_id = 'fresh'");
invalidate('jobs', $T);

# Ties: equal scores go newest first, then by id; pages with one asOf never overlap or skip.
jobs_sql($T, map { { id => "tie-$_", skills => ['c'], min => 60, max => 100, client => 50,
    applicants => $_ % 7, age => (int($_ / 3)) . ' hours' } } 1 .. 50);
$r = $list->('limit=100');
my @all = map { $_->{id} } @{ $r->{json}{data} };
is(scalar @all, 57, 'the 57 jobs of the window');
my $sorted = 1;
for my $i (1 .. $#all) {
    my ($x, $y) = @{ $r->{json}{data} }[$i - 1, $i];
    my $cmp = $x->{match}{score} <=> $y->{match}{score} || $x->{createdAt} cmp $y->{createdAt}
        || $x->{id} cmp $y->{id};
    $sorted = 0 unless $cmp > 0;
}
ok($sorted, 'ordered by score, then posting time, then id, all descending');
my (@paged, $page);
for ($page = 1; $page < 30; $page++) {
    my $pr = $list->("limit=4&page=$page");
    push @paged, map { $_->{id} } @{ $pr->{json}{data} };
    last unless $pr->{json}{pagination}{hasMore};
}
is($page, 15, '57 jobs in 15 pages of 4');
is_deeply(\@paged, \@all, 'paging by match gives every job exactly once, in the same order');
my %seen;
$seen{$_}++ for @paged;
ok(!(grep { $_ != 1 } values %seen), 'no job twice');
$r = $list->('limit=4&page=16');
is_deeply($r->{json}{data}, [], 'a page past the end is empty');

# The default asOf: now, to the minute; passing it back pages the same ranking.
insert_jobs($T, map { { upwork_id => "recent-$_", title => "Recent $_", skills => ['c'],
    posted_at => "now() - interval '$_ hours'" } } 1 .. 2);
$r = api(GET => '/api/jobs?sort=match&limit=2', token => $tok);
is($r->{json}{pagination}{total}, 2, 'the default window (30 days before now) holds the two recent jobs');
my $as_of = $r->{json}{pagination}{asOf};
like($as_of, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/, "the default asOf is the current minute ($as_of)");
my $again = api(GET => "/api/jobs?sort=match&limit=1&page=2&asOf=$as_of", token => $tok);
is($again->{json}{data}[0]{id}, $r->{json}{data}[1]{id}, 'page 2 of the same asOf continues page 1');

# The query's bad-input matrix.
my $tv = token(sub => 'user_mv', org => $T);
for my $b (['sort=best', 'sort', 'must be one of: newest, match'],
           ['sort=match&window=0', 'window', 'must be between 1 and 365'],
           ['sort=match&window=366', 'window', 'must be between 1 and 365'],
           ['sort=match&window=7d', 'window', 'must be an integer'],
           ['sort=match&minMatch=101', 'minMatch', 'must be between 0 and 100'],
           ['sort=match&minMatch=-1', 'minMatch', 'must be between 0 and 100'],
           ['sort=match&asOf=yesterday', 'asOf', 'must be an ISO 8601 time'],
           ['sort=match&asOf=2024-03-31', 'asOf', 'must be an ISO 8601 time'],
           ['sort=match&asOf=2024-02-30T00:00:00Z', 'asOf', 'must be an ISO 8601 time'],
           ['sort=match&asOf=1999-12-31T23:59:59Z', 'asOf', 'must be between'],
           ['sort=match&asOf=2099-01-01T00:00:00Z', 'asOf', 'must not be in the future'],
           ['sort=match&asOf=2024-03-31T02:00:00+02:00', 'asOf', 'must be an ISO 8601 time'],
           ['window=7', 'window', 'only applies with sort=match'],
           ['asOf=2024-03-31T00:00:00Z', 'asOf', 'only applies with sort=match'],
           ['sort=newest&minMatch=5', 'minMatch', 'only applies with sort=match'],
           ['sort=match&sort=newest', 'sort', 'given more than once']) {
    my ($qs, $field, $msg) = @$b;
    $r = api(GET => "/api/jobs?$qs", token => $tv);
    is($r->{status}, 400, "$qs: 400");
    my ($e) = grep { $_->{field} eq $field } @{ $r->{json}{details} // [] };
    ok($e && index($e->{message}, $msg) >= 0, "$qs: names $field ($msg)") or diag $r->{body};
}
$r = api(GET => '/api/jobs?sort=match&asOf=2024-03-31T02:00:00%2B02:00&limit=100', token => $tok);
is($r->{json}{pagination}{asOf}, $AS_OF, 'an offset (with + escaped) is the same instant');
$r = api(GET => '/api/jobs?sort=newest&limit=1', token => $tok);
is($r->{status}, 200, 'sort=newest is the default list');

# Isolation: another tenant ranks only its own jobs.
my $to = token(sub => 'user_m', org => $O);
api(PUT => '/api/me', token => $to, json => { skills => ['c', 'postgresql', 'linux'] });
$r = api(GET => "/api/jobs?sort=match&asOf=$AS_OF&limit=100", token => $to);
is($r->{json}{pagination}{total}, 0, 'another tenant, the same user id and skills: no jobs of this one');

# A saved search's minimum match.
$r = api(POST => '/api/jobs', token => $tok, json => { name => 'Strong matches', skills => ['c'], minMatch => 70 });
is($r->{status}, 201, 'a search with minMatch: 201');
is($r->{json}{data}{minMatch}, 70, 'minMatch comes back');
my $sid = $r->{json}{data}{id};
is(psql("SELECT min_match FROM job_searches WHERE id = '$sid'"), 70, 'and is stored');
$r = api(GET => '/api/job-searches', token => $tok);
my ($s) = grep { $_->{id} eq $sid } @{ $r->{json}{data} };
is($s->{minMatch}, 70, 'the list shows it');
$r = api(POST => '/api/jobs', token => $tok, json => { name => 'Any' });
is($r->{json}{data}{minMatch}, undef, 'absent: null (the user\'s threshold applies)');
for my $bad (101, -1, 'high', 7.5) {
    $r = api(POST => '/api/jobs', token => $tv, json => { name => 'x', minMatch => $bad });
    my ($e) = grep { $_->{field} eq 'minMatch' } @{ $r->{json}{details} // [] };
    ok($r->{status} == 400 && $e, "minMatch $bad: 400 naming minMatch");
}

done_testing;
