#!/usr/bin/env perl
# 10-jobs-filters.t: GET /api/jobs: every filter alone and combined, newest-first order, pagination arithmetic, empty results.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep);
use ApiTest;

my $T = 'org_t_filters';
reset_tenant($T);
# 45 jobs with known attributes; job i was posted i hours ago.
my @jobs;
for my $i (1 .. 45) {
    push @jobs, {
        upwork_id    => "f-$i",
        title        => $i % 9 == 0 ? "Kubernetes migration $i" : "Job number $i",
        description  => $i % 9 == 0 ? 'Move our services to kubernetes' : 'Generic work',
        skills       => [$i % 3 == 0 ? ('postgresql', 'c') : $i % 3 == 1 ? ('react') : ('python', 'sql')],
        budget_type  => $i % 5 == 0 ? 'fixed' : 'hourly',
        budget_min   => $i % 5 == 0 ? 500 + $i : 10 + $i,
        budget_max   => $i % 5 == 0 ? 500 + $i : 30 + $i,
        location     => $i % 4 == 0 ? 'Germany' : 'United States',
        client_score => ($i * 7) % 101,
        posted_at    => "now() - interval '$i hours'",
    };
}
insert_jobs($T, @jobs);
my $tok = token(sub => 'user_f', org => $T);

# Expected ids ("f-i") from the fixture, newest first.
sub expect {
    my ($pred) = @_;
    return [map { "f-$_" } grep { $pred->($jobs[$_ - 1]) } 1 .. 45];
}

sub ids {
    my ($path) = @_;
    my $r = api(GET => $path, token => $tok);
    is($r->{status}, 200, "$path: 200") or diag $r->{body};
    return ([map { $_->{upworkId} } @{ $r->{json}{data} // [] }], $r->{json});
}

my %has = map { my $s = $_; $s => sub { grep { $_ eq $s } @{ $_[0]{skills} } } } qw(postgresql c react python sql);

my @cases = (
    ['?limit=100', sub { 1 }],
    ['?skills=react&limit=100', sub { $has{react}->($_[0]) }],
    ['?skills=REACT,%20Python&limit=100', sub { $has{react}->($_[0]) || $has{python}->($_[0]) }],
    ['?minBudget=50&limit=100', sub { $_[0]{budget_max} >= 50 }],
    ['?maxBudget=40&limit=100', sub { $_[0]{budget_min} <= 40 }],
    ['?minBudget=40&maxBudget=60&limit=100', sub { $_[0]{budget_max} >= 40 && $_[0]{budget_min} <= 60 }],
    ['?location=germany&limit=100', sub { $_[0]{location} eq 'Germany' }],
    ['?clientScore=50&limit=100', sub { $_[0]{client_score} >= 50 }],
    ['?q=kubernetes&limit=100', sub { $_[0]{title} =~ /Kubernetes/ }],
    ['?skills=postgresql&location=United%20States&clientScore=30&minBudget=20&limit=100',
        sub { $has{postgresql}->($_[0]) && $_[0]{location} eq 'United States'
              && $_[0]{client_score} >= 30 && $_[0]{budget_max} >= 20 }],
    ['?skills=nonexistent-skill', sub { 0 }],
    ['?q=kubernetes&skills=react', sub { 0 }],
);
for my $c (@cases) {
    my ($got, $body) = ids("/api/jobs$c->[0]");
    my $want = expect($c->[1]);
    is_deeply($got, $want, "filter $c->[0]: exactly the matching jobs, newest first");
    is($body->{pagination}{total}, scalar @$want, "filter $c->[0]: total");
}

# The response shape of the seed.
my ($got, $body) = ids('/api/jobs?limit=1');
is_deeply([sort keys %$body], [qw(data pagination success)], 'top level: success, data, pagination');
is($body->{success}, JSON::PP::true, 'success is true');
is_deeply([sort keys %{ $body->{pagination} }], [qw(hasMore limit page total)], 'pagination keys');
my $job = $body->{data}[0];
ok(uuid_like($job->{id}), 'job id is a UUID');
is($job->{title}, 'Job number 1', 'newest job first');
is_deeply($job->{budget}, { type => 'hourly', min => 11, max => 31, currency => 'USD' }, 'budget object');
like($job->{createdAt}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'createdAt is ISO 8601 UTC');
is($job->{clientScore}, 7, 'clientScore');
is_deeply($job->{skills}, ['react'], 'skills');

# Pagination arithmetic: 45 jobs, 20 per page.
my @pages;
for my $p (1 .. 4) {
    my ($ids, $b) = ids("/api/jobs?page=$p&limit=20");
    push @pages, [$ids, $b->{pagination}];
}
is(scalar @{ $pages[0][0] }, 20, 'page 1 has 20');
is(scalar @{ $pages[2][0] }, 5, 'page 3 has the last 5');
is(scalar @{ $pages[3][0] }, 0, 'page 4 is empty');
is_deeply($pages[0][1], { page => 1, limit => 20, total => 45, hasMore => JSON::PP::true }, 'page 1 pagination');
is_deeply($pages[1][1], { page => 2, limit => 20, total => 45, hasMore => JSON::PP::true }, 'page 2 pagination');
is_deeply($pages[2][1], { page => 3, limit => 20, total => 45, hasMore => JSON::PP::false }, 'last page: hasMore false');
is_deeply($pages[3][1], { page => 4, limit => 20, total => 45, hasMore => JSON::PP::false }, 'past the end: empty, hasMore false');
is_deeply([map { @{ $_->[0] } } @pages], expect(sub { 1 }), 'pages together list every job once, in order');
my ($ids15) = ids('/api/jobs?limit=15&page=3');
is(scalar @$ids15, 15, 'exact last page (45 = 3 x 15) is full');
my (undef, $b15) = ids('/api/jobs?limit=15&page=3');
ok(!$b15->{pagination}{hasMore}, 'and has no more');
my (undef, $bd) = ids('/api/jobs');
is($bd->{pagination}{limit}, 20, 'default limit is 20');
is($bd->{pagination}{page}, 1, 'default page is 1');

# One skill alone is paged from job_skills by date (sql/0011): every
# page size walks the list the jobs table orders, ties on the date
# broken by id as there, however deep; a job's new date moves it.
insert_jobs($T, map { { upwork_id => "tie-$_", title => "Tie $_", skills => ['react'],
    posted_at => "timestamptz '2020-01-01 00:00:00+00'" } } 1 .. 3);
my $react = sub {
    [split /\n/, psql("SELECT upwork_id FROM jobs WHERE tenant_id = '$T' AND 'react' = ANY(skills)"
        . " ORDER BY posted_at DESC, id DESC")]
};
my $truth = $react->();
is(scalar @$truth, 18, 'eighteen react jobs, three posted at the same instant');
for my $limit (1, 2, 7) {
    my @walk;
    for my $p (1 .. 20) {
        my ($ids) = ids("/api/jobs?skills=react&limit=$limit&page=$p");
        last unless @$ids;
        push @walk, @$ids;
    }
    is_deeply(\@walk, $truth, "skills=react, $limit a page: the pages together are the list, in its order");
}
psql("UPDATE jobs SET posted_at = now() + interval '1 minute' WHERE tenant_id = '$T' AND upwork_id = 'tie-2'");
invalidate('jobs', $T);
sleep 1.2;    # what a worker holds in L1 lives cache_l1_ttl_ms (1 s) after a write elsewhere
my ($first) = ids('/api/jobs?skills=react&limit=1');
is_deeply($first, ['tie-2'], "a job whose date changes moves in the one-skill list");
is_deeply([map { @{ (ids("/api/jobs?skills=react&limit=5&page=$_"))[0] } } 1 .. 4], $react->(),
    'and every page follows');
is(psql("SELECT count(*) FROM job_skills s JOIN jobs j ON j.tenant_id = s.tenant_id AND j.id = s.job_id"
    . " WHERE s.posted_at <> j.posted_at"), 0, "job_skills keeps every job's date");

# An empty tenant.
my $empty = api(GET => '/api/jobs', token => token(sub => 'user_e', org => 'org_t_empty'));
is($empty->{status}, 200, 'a tenant with no jobs: 200');
is_deeply($empty->{json}{data}, [], 'empty data');
is($empty->{json}{pagination}{total}, 0, 'total 0');

done_testing;
