#!/usr/bin/env perl
# 14-job-analytics.t: GET /api/analytics/jobs on a fixture week with hand-checked numbers: per day, top skills, budget buckets, client score, match share; empty ranges, defaults, validation, cache, isolation.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use POSIX qw(strftime);
use Test::More;
use ApiTest;

my ($T, $O) = ('org_t_analytics', 'org_t_analytics_other');
reset_tenant($T, $O);
invalidate('user', "$T/$_") for qw(user_a user_a2 user_av);
my $tok = token(sub => 'user_a', org => $T);

sub jobs_sql {
    my ($tenant, @jobs) = @_;
    my $sql = "INSERT INTO tenants (id, kind) VALUES ('$tenant', 'org') ON CONFLICT DO NOTHING;\n";
    for my $j (@jobs) {
        my $skills = '{' . join(',', map { "\"$_\"" } @{ $j->{skills} }) . '}';
        $sql .= sprintf("INSERT INTO jobs (tenant_id, upwork_id, title, skills, budget_type, budget_min, budget_max, "
            . "currency, client_score, applicants, posted_at) VALUES ('%s', '%s', '%s', '%s', '%s', %s, %s, '%s', %d, %s, '%s+00');\n",
            $tenant, $j->{id}, $j->{id}, $skills, $j->{type} // 'hourly', $j->{min} // 'NULL', $j->{max} // 'NULL',
            $j->{currency} // 'USD', $j->{client}, $j->{applicants} // 'NULL', $j->{at});
    }
    psql($sql);
    invalidate('jobs', $tenant);
}

# Scores below are as posted (recency 10), for python+sql at $40-$60/h:
# 1: 50 + 12.5 + 12 + 10 + 5 = 89.5 -> 90    2: 50 + 10 + 6 + 10 + 1 = 77
# 3: 0 + 20 + 15 + 10 + 5 = 50               4: 40 + 10 + 9 + 10 + 2 = 71
# 5: 0 + 0 + 0 + 10 + 0 = 10                 6: 50 + 10 + 3 + 10 + 4 = 77
jobs_sql($T,
    { id => 'j1', at => '2024-02-01 10:00:00', min => 20, max => 45, skills => [qw(python sql)], client => 80, applicants => 3 },
    { id => 'j2', at => '2024-02-01 23:59:59', type => 'fixed', min => 800, max => 800, skills => ['python'],
      client => 40, applicants => 20 },
    { id => 'j3', at => '2024-02-03 12:00:00', min => 70, max => 120, skills => [qw(react css)], client => 100, applicants => 0 },
    { id => 'j4', at => '2024-02-03 13:00:00', skills => [qw(sql python aws)], client => 60 },
    { id => 'j5', at => '2024-02-07 00:00:00', type => 'fixed', min => 50, max => 50, skills => ['figma'], client => 0,
      applicants => 55 },
    { id => 'j6', at => '2024-02-07 23:00:00', min => 50, max => 80, currency => 'EUR', skills => ['python'], client => 20,
      applicants => 7 },
    { id => 'before', at => '2024-01-31 23:59:59', min => 20, max => 45, skills => ['python'], client => 80 },
    { id => 'after', at => '2024-02-08 00:00:00', min => 20, max => 45, skills => ['python'], client => 80 },
);
api(PUT => '/api/me', token => $tok, json => { skills => ['python', 'sql'], hourlyRateMin => 40,
    hourlyRateTarget => 60, matchThreshold => 70 });

my $week = '/api/analytics/jobs?from=2024-02-01&to=2024-02-07';
my $r = api(GET => $week, token => $tok);
is($r->{status}, 200, 'a week: 200');
my $d = $r->{json}{data};
is_deeply([ @$d{qw(from to days jobs)} ], ['2024-02-01', '2024-02-07', 7, 6], 'the range and its six jobs');
is_deeply([ map { "$_->{date}=$_->{count}" } @{ $d->{perDay} } ],
    [qw(2024-02-01=2 2024-02-02=0 2024-02-03=2 2024-02-04=0 2024-02-05=0 2024-02-06=0 2024-02-07=2)],
    'new jobs per day, zero-filled, UTC days, the edges inclusive');
is_deeply($d->{topSkills}, [ { skill => 'python', count => 4 }, { skill => 'sql', count => 2 },
    map { { skill => $_, count => 1 } } qw(aws css figma react) ], 'top skills: by count, then name');
is_deeply([ map { $_->{count} } @{ $d->{budget}{hourly}{buckets} } ], [0, 0, 1, 0, 0, 1],
    'hourly buckets by the top rate: $45 in 30-50, $120 in 100+');
is($d->{budget}{hourly}{unknown}, 2, 'hourly unknown: no budget, and EUR');
is_deeply([ map { $_->{count} } @{ $d->{budget}{fixed}{buckets} } ], [1, 0, 1, 0, 0, 0],
    'fixed buckets: $50 under 100, $800 in 500-1000');
is_deeply([ map { [$_->{min}, $_->{max}] } @{ $d->{budget}{fixed}{buckets} } ],
    [[0, 100], [100, 500], [500, 1000], [1000, 2500], [2500, 5000], [5000, undef]], 'the fixed bucket edges');
is_deeply([ map { [$_->{min}, $_->{max}] } @{ $d->{budget}{hourly}{buckets} } ],
    [[0, 15], [15, 30], [30, 50], [50, 75], [75, 100], [100, undef]], 'the hourly bucket edges');
is($d->{clientScore}{average}, 50, 'average client score: 300 / 6');
is_deeply($d->{match}, { threshold => 70, thresholdFrom => 'profile', scored => 6, matching => 4,
    share => 0.6667, truncated => JSON::PP::false }, 'four of six reach the threshold of 70 (90, 77, 71, 77)');

# The cache: hits, then a profile change or a new job shows at once.
$r = api(GET => $week, token => $tok);
is($r->{headers}{'x-cache'}, 'HIT-L2', 'the second call is a cache hit');
api(PUT => '/api/me', token => $tok, json => { skills => ['python', 'sql'], hourlyRateMin => 40, hourlyRateTarget => 60 });
$r = api(GET => $week, token => $tok);
is_deeply([ @{ $r->{json}{data}{match} }{qw(threshold thresholdFrom matching)} ], [60, 'default', 4],
    'without a threshold in the profile: the default 60, at once');
api(PUT => '/api/me', token => $tok, json => { skills => ['python', 'sql'], hourlyRateMin => 40,
    hourlyRateTarget => 60, matchThreshold => 80 });
$r = api(GET => $week, token => $tok);
is($r->{json}{data}{match}{matching}, 1, 'threshold 80: only the 90');
jobs_sql($T, { id => 'j7', at => '2024-02-02 08:00:00', min => 60, max => 60, skills => ['sql'], client => 90, applicants => 1 });
$r = api(GET => $week, token => $tok);
is($r->{json}{data}{jobs}, 7, 'a new job (the poller invalidates): counted at once');
is($r->{json}{data}{perDay}[1]{count}, 1, 'on its day');
psql("DELETE FROM jobs WHERE tenant_id = '$T' AND upwork_id = 'j7'");
invalidate('jobs', $T);

# Another member: the same counts, their own match.
my $tok2 = token(sub => 'user_a2', org => $T);
$r = api(GET => $week, token => $tok2);
is($r->{json}{data}{jobs}, 6, 'another member sees the tenant\'s counts');
is_deeply([ @{ $r->{json}{data}{match} }{qw(threshold thresholdFrom matching)} ], [60, 'default', 2],
    'an empty profile scores 25 + 10 + client + 10 + competition: j1 (62) and j3 (65) reach 60');
# Another tenant: nothing of this one.
$r = api(GET => $week, token => token(sub => 'user_a', org => $O));
is($r->{json}{data}{jobs}, 0, 'another tenant: no jobs');

# An empty range is zeros, not an error.
$r = api(GET => '/api/analytics/jobs?from=2023-01-01&to=2023-01-05', token => $tok);
is($r->{status}, 200, 'an empty range: 200');
$d = $r->{json}{data};
is_deeply([ map { $_->{count} } @{ $d->{perDay} } ], [0, 0, 0, 0, 0], 'five zero days');
is_deeply([ $d->{jobs}, $d->{topSkills}, $d->{clientScore}{average}, @{ $d->{match} }{qw(scored matching share)} ],
    [0, [], 0, 0, 0, 0], 'zero jobs, no skills, zero average and share');
ok(!(grep { $_->{count} } @{ $d->{budget}{hourly}{buckets} }, @{ $d->{budget}{fixed}{buckets} }), 'empty buckets');
$r = api(GET => '/api/analytics/jobs?from=2024-02-03&to=2024-02-03', token => $tok);
is_deeply([ $r->{json}{data}{days}, $r->{json}{data}{jobs} ], [1, 2], 'a one-day range');

# The defaults: the last 30 days, today included (UTC).
$r = api(GET => '/api/analytics/jobs', token => $tok);
my $today = strftime('%Y-%m-%d', gmtime);
is_deeply([ @{ $r->{json}{data} }{qw(to days)} ], [$today, 30], "no range: 30 days to today ($today)");
is(scalar @{ $r->{json}{data}{perDay} }, 30, 'thirty entries');
$r = api(GET => '/api/analytics/jobs?to=2024-02-07', token => $tok);
is($r->{json}{data}{from}, '2024-01-09', 'to alone: the 30 days before it');

# Validation.
my $tv = token(sub => 'user_av', org => $T);
for my $b (['from=2024-13-01', 'from', 'must be a date'], ['from=yesterday', 'from', 'must be a date'],
           ['to=2024-02-30', 'to', 'must be a date'], ['from=2024-2-1', 'from', 'must be a date'],
           ['from=2024-02-08&to=2024-02-07', 'from', 'must not be after to'],
           ['from=2023-01-01&to=2024-01-02', 'from', 'at most 366 days'],
           ['from=1999-12-31&to=2000-01-05', 'from', 'must be between 2000-01-01 and 2099-12-31'],
           ['to=2100-01-01', 'to', 'must be between'], ['days=7', 'days', 'unknown parameter'],
           ['from=2024-01-01&from=2024-01-02', 'from', 'given more than once']) {
    my ($qs, $field, $msg) = @$b;
    $r = api(GET => "/api/analytics/jobs?$qs", token => $tv);
    is($r->{status}, 400, "$qs: 400");
    my ($e) = grep { $_->{field} eq $field } @{ $r->{json}{details} // [] };
    ok($e && index($e->{message}, $msg) >= 0, "$qs: names $field ($msg)") or diag $r->{body};
}
$r = api(GET => '/api/analytics/jobs?from=2023-01-01&to=2024-01-01', token => $tv);
is($r->{status}, 200, 'exactly 366 days is allowed');
is(api(GET => '/api/analytics/jobs')->{status}, 401, 'no token: 401');
is(api(POST => '/api/analytics/jobs', token => $tv, json => {})->{status}, 405, 'POST: 405');
is(api(GET => '/api/analytics/nothing', token => $tv)->{status}, 404, 'an unknown report: 404');

done_testing;
