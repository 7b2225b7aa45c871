#!/usr/bin/env perl
# 52-upwork-minmatch.t: poll-jobs announces job:new only for jobs that reach the saved search's minimum match for its creator (minMatch, else the creator's matchThreshold, else none), scored as when posted; every job is stored either way.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;
use UpworkTest;

my ($A, $B, $C) = ('org_t_mm_a', 'org_t_mm_b', 'org_t_mm_c');
reset_tenant($A, $B, $C);
fake_reset($A, $B, $C);

# A C and Linux freelancer.  Of the fifteen fixture jobs, two list only
# skills of the profile, both fixed price at $3,000: skills 50, budget 20
# ($3,000 >= 20 h x the $100 target), recency 10 (scored as when posted),
# competition 1 (43 and 47 proposals), client 0-15: at least 81.  Every
# other job scores under 80: the best of them, "Build a REST API"
# (api development among four skills: 16.67; $90/h: 18; 10; 1; client
# at most 15), 60.67.
my %profile = (name => 'Cleo C', skills => ['c', 'linux', 'api development'], hourlyRateMin => 50, hourlyRateTarget => 100);
my @well = ('1700000000000007919', '1700000000000087109');

sub setup {
    my ($tenant, $user, %o) = @_;
    my $tok = token(sub => $user, org => $tenant);
    my $r = connect_upwork(tenant => $tenant, user => $user, account => $tenant);
    is($r->{status}, 200, "$tenant connects") or diag $r->{body};
    $r = api(PUT => '/api/me', token => $tok, json => { %profile, %{ $o{profile} // {} } });
    is($r->{status}, 200, "$tenant: the creator's profile") or diag $r->{body};
    $r = api(POST => '/api/jobs', token => $tok, json => { name => 'c work', %{ $o{search} // {} } });
    is($r->{status}, 201, "$tenant: a saved search") or diag $r->{body};
    return ($tok, $r->{json}{data}{id});
}

my $tap = events_tap();
sub announced {
    my ($tenant) = @_;
    return sort map { $_->{data}{upworkId} } grep { $_->{type} eq 'job:new' } $tap->collect(1.5, tenant => $tenant);
}

# --- minMatch 80 on the search ------------------------------------------
my ($tok, $search) = setup($A, 'user_mm_a', search => { minMatch => 80 });
is(api(GET => "/api/job-searches", token => $tok)->{json}{data}[0]{minMatch}, 80, 'the search keeps minMatch 80');
my $run = run_cron('poll-jobs', args => ['--tenant', $A]);
is($run->{exit}, 0, 'poll-jobs exits 0') or diag $run->{err};
like($run->{msgs}, qr/tenant $A: 1 searches, \d+ pages, 15 jobs fetched, 15 new, 0 updated, 2 announced/,
    'fifteen new jobs, two announced');
is_deeply([announced($A)], \@well, 'job:new only for the two jobs that reach 80');
is(psql("SELECT count(*) FROM jobs WHERE tenant_id = '$A'"), 15, 'every job is stored either way');
my $r = api(GET => '/api/jobs?limit=100', token => $tok);
is($r->{json}{pagination}{total}, 15, 'and listed');
# The scores the poller compared, as the API shows them for the posting time.
for my $id (@well, '1700000000000015838', '1700000000000000000') {
    my ($job) = grep { $_->{upworkId} eq $id } @{ $r->{json}{data} };
    my $m = api(GET => "/api/jobs?sort=match&asOf=$job->{createdAt}&limit=100", token => $tok);
    my ($ranked) = grep { $_->{upworkId} eq $id } @{ $m->{json}{data} };
    my $well = grep { $_ eq $id } @well;
    cmp_ok($ranked->{match}{score}, $well ? '>=' : '<', 80,
        "$id scores $ranked->{match}{score} as posted: " . ($well ? 'announced' : 'not announced'));
}

# A new job on Upwork: a C and Linux one, announced.
my $added = fake(POST => "/_fake/$A/jobs", { add => 1 })->{added};
$run = run_cron('poll-jobs', args => ['--tenant', $A]);
like($run->{msgs}, qr/1 new, 0 updated, 1 announced/, 'a new well-matching job');
is_deeply([announced($A)], [$added->[0]{id}], 'is announced');

# A poorly matching one: stored, not announced.
$added = fake(POST => "/_fake/$A/jobs", { add => 1 })->{added};
fake(POST => "/_fake/$A/jobs", { edit => { id => $added->[0]{id}, title => 'Figma screens',
    skills => [{ name => 'figma', prettyName => 'Figma' }, { name => 'ui-design', prettyName => 'UI Design' }] } });
$run = run_cron('poll-jobs', args => ['--tenant', $A]);
like($run->{msgs}, qr/1 new, 0 updated, 0 announced/, 'a new poorly matching job');
is_deeply([announced($A)], [], 'is not announced');
is(psql("SELECT title FROM jobs WHERE tenant_id = '$A' AND upwork_id = '$added->[0]{id}'"), 'Figma screens', 'but stored');

# --- minMatch null: the creator's matchThreshold -------------------------
setup($B, 'user_mm_b', profile => { matchThreshold => 80 });
$run = run_cron('poll-jobs', args => ['--tenant', $B]);
like($run->{msgs}, qr/15 new, 0 updated, 2 announced/, "minMatch null: the creator's threshold 80 applies");
is_deeply([announced($B)], \@well, 'the same two jobs');

# --- minMatch 0: no minimum, whatever the profile says -------------------
setup($C, 'user_mm_c', profile => { matchThreshold => 80 }, search => { minMatch => 0 });
$run = run_cron('poll-jobs', args => ['--tenant', $C]);
like($run->{msgs}, qr/15 new, 0 updated, 15 announced/, 'minMatch 0: every new job announced');
is(scalar(my @all = announced($C)), 15, 'fifteen job:new');

done_testing;
