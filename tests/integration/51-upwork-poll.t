#!/usr/bin/env perl
# 51-upwork-poll.t: poll-jobs end to end: saved searches → Upwork (the fake) → jobs and clients under the right tenant → job:new once → cached lists fresh; filters, client score, pagination, re-runs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep);
use ApiTest;
use UpworkTest;

my ($T, $TB, $TF) = ('org_t_poll', 'org_t_poll_b', 'org_t_poll_f');
reset_tenant($T, $TB, $TF);
fake_reset($T, $TB, $TF);
my $tok = token(sub => 'user_poll', org => $T);
my $tokb = token(sub => 'user_pollb', org => $TB);

my $r = connect_upwork(tenant => $T, user => 'user_poll', account => $T);
is($r->{status}, 200, 'the tenant connects its Upwork account') or diag $r->{body};
$r = api(POST => '/api/jobs', token => $tok, json => { name => 'everything' });
is($r->{status}, 201, 'a saved search with notify on');
my $search = $r->{json}{data}{id};
api(POST => '/api/jobs', token => $tok, json => { name => 'quiet', query => 'zzzquiet', notify => JSON::PP::false });

# The tenant's cached job list, in Redis only (past the L1 TTL), before the run.
$r = api(GET => '/api/jobs?limit=100', token => $tok);
is($r->{json}{pagination}{total}, 0, 'no jobs yet');
sleep 1.2;
$r = api(GET => '/api/jobs?limit=100', token => $tok);
is($r->{headers}{'x-cache'}, no_redis() ? 'BYPASS' : 'HIT-L2', 'the empty list is cached (no cache in the noredis pass)');

my $tap = events_tap();
my $run = run_cron('poll-jobs', args => ['--tenant', $T], env => { APP_UPWORK_PAGE_SIZE => 10 });
is($run->{exit}, 0, 'poll-jobs exits 0') or diag $run->{err};
like($run->{msgs}, qr/tenant $T: 1 searches, 2 pages, 15 jobs fetched, 15 new, 0 updated, 15 announced/,
    'one search (notify off is skipped), two pages of ten, fifteen new jobs announced');
ok(!$run->{bad}, 'every stderr line is a JSON log line') or diag explain $run->{bad};

is(psql("SELECT count(*), count(DISTINCT upwork_id) FROM jobs WHERE tenant_id = '$T'"), '15|15',
    'fifteen jobs in the database, under the tenant');
is(psql("SELECT count(*) FROM clients WHERE tenant_id = '$T'"), '15', 'and their fifteen clients');
is(psql("SELECT count(*) FROM jobs j JOIN clients c ON c.tenant_id = j.tenant_id AND c.id = j.client_id"
    . " WHERE j.tenant_id = '$T' AND j.client_score = client_score_of(c.payment_verified, c.total_spent,"
    . " c.hire_rate, c.rating, c.reviews_count)"), '15', 'every job carries client_score_of() of its client');
# By hand: unverified 0, $410,000 spent 23.39, 39/44 hires 17.73, rating 5 x 10+ reviews 20, 39 reviews 3.9.
is(psql("SELECT client_score FROM jobs WHERE tenant_id = '$T' AND upwork_id = '1700000000000000000'"), '65',
    'the score of the first fixture job, computed by hand: 65');
is(psql("SELECT budget_type, budget_min, budget_max, currency, location, experience_level, applicants,"
    . " ciphertext, array_to_string(skills, ',') FROM jobs WHERE tenant_id = '$T' AND upwork_id = '1700000000000000000'"),
    'hourly|40.00|90.00|USD|United States|EXPERT|40|~0117979cfe362a0000|api development,postgresql,node.js,typescript',
    'the fields of a job as Upwork gave them');
is(psql("SELECT count(*) FROM job_skills WHERE tenant_id = '$T' AND skill = 'postgresql'"), '3',
    'job_skills follows (the skills filter works on them)');

my @ev = $tap->collect(1.5, tenant => $T);
my @new = grep { $_->{type} eq 'job:new' } @ev;
is(scalar @new, 15, 'fifteen job:new events on upw:events');
ok(!(grep { defined $_->{user} } @new), 'to the tenant (user null)');
is(scalar(grep { ($_->{data}{searchId} // '') eq $search } @new), 15, 'each names the search that found it');
my %ids = map { $_->{data}{upworkId} => 1 } @new;
is(scalar keys %ids, 15, 'one per job');
my ($ev1) = grep { $_->{data}{upworkId} eq '1700000000000000000' } @new;
is($ev1->{data}{title}, 'Build a REST API for a multi-tenant SaaS dashboard', 'the event carries the job as the API shows it');
is($ev1->{data}{client}{location}{city}, 'Austin', 'with its client');

$r = api(GET => '/api/jobs?limit=100', token => $tok);
is($r->{json}{pagination}{total}, 15, 'the cached job list shows the new jobs at once');
is($r->{headers}{'x-cache'}, no_redis() ? 'BYPASS' : 'MISS', '(its cache entry was invalidated, not served stale)');
# job:new is the job as GET /api/jobs shows it to the search's creator
# (same minute: the match's recency moves by the minute).
my %listed = map { $_->{id} => $_ } @{ $r->{json}{data} };
my ($same, $extra) = (0, 0);
for my $e (@new) {
    my %d = %{ $e->{data} };
    $extra++ if delete($d{searchId}) eq $search && delete($d{matchUserId}) eq 'user_poll';
    $same++ if json_encode(\%d) eq json_encode($listed{ $d{id} } // {});
}
is($extra, 15, 'each names the search and whose match it carries');
ok($same >= 14, "and is the job as GET /api/jobs lists it, match included ($same of 15 identical; a minute may turn between)")
    or diag json_encode($new[0]{data}), "\n", json_encode($listed{ $new[0]{data}{id} });
$r = api(GET => '/api/jobs?limit=100', token => $tokb);
is($r->{json}{pagination}{total}, 0, 'another tenant sees none of them');
$r = api(GET => '/api/job-searches', token => $tok);
my ($s1) = grep { $_->{id} eq $search } @{ $r->{json}{data} };
ok($s1->{lastRunAt}, 'the search records when it ran');
my ($quiet) = grep { $_->{name} eq 'quiet' } @{ $r->{json}{data} };
ok(!$quiet->{lastRunAt}, 'the notify-off search did not run');

# The same Upwork data again: nothing created, nothing announced.
my $before = psql("SELECT max(updated_at), count(*) FROM jobs WHERE tenant_id = '$T'");
my $searches = fake(GET => "/_fake/$T")->{searches};
$run = run_cron('poll-jobs', args => ['--tenant', $T], env => { APP_UPWORK_PAGE_SIZE => 10 });
is($run->{exit}, 0, 'a second run exits 0');
like($run->{msgs}, qr/tenant $T: 1 searches, 1 pages, 10 jobs fetched, 0 new, 0 updated, 0 announced/,
    'it stops after the first page that brings nothing new');
is(psql("SELECT max(updated_at), count(*) FROM jobs WHERE tenant_id = '$T'"), $before, 'no row created or rewritten');
@ev = grep { $_->{type} eq 'job:new' } $tap->collect(1, tenant => $T);
is(scalar @ev, 0, 'and no job:new published');
is(fake(GET => "/_fake/$T")->{searches}, $searches + 1, 'one request to Upwork');

# New jobs appear on Upwork between runs.
my $added = fake(POST => "/_fake/$T/jobs", { add => 2 })->{added};
$run = run_cron('poll-jobs', args => ['--tenant', $T], env => { APP_UPWORK_PAGE_SIZE => 10 });
is($run->{exit}, 0, 'a third run');
@ev = grep { $_->{type} eq 'job:new' } $tap->collect(1.5, tenant => $T);
is_deeply([sort map { $_->{data}{upworkId} } @ev], [sort map { $_->{id} } @$added],
    'job:new for exactly the two new jobs');
is(psql("SELECT count(*) FROM jobs WHERE tenant_id = '$T'"), '17', 'seventeen jobs now');
$r = api(GET => '/api/jobs?limit=1', token => $tok);
is($r->{json}{data}[0]{upworkId}, $added->[1]{id}, 'the newest job heads the list at once');

# A job that changed on Upwork is updated, not announced again.
fake(POST => "/_fake/$T/jobs", { edit => { id => $added->[1]{id}, title => 'Retitled: embedded C with websockets' } });
$run = run_cron('poll-jobs', args => ['--tenant', $T], env => { APP_UPWORK_PAGE_SIZE => 10 });
like($run->{msgs}, qr/0 new, 1 updated, 0 announced/, 'the change is an update');
is(psql("SELECT title FROM jobs WHERE tenant_id = '$T' AND upwork_id = '$added->[1]{id}'"),
    'Retitled: embedded C with websockets', 'the changed field is stored');
is(scalar(grep { $_->{type} eq 'job:new' } $tap->collect(1, tenant => $T)), 0, 'no job:new for it');
is(api(GET => '/api/jobs?limit=1', token => $tok)->{json}{data}[0]{title},
    'Retitled: embedded C with websockets', 'and the cached list shows it');

# A tenant with an account but no saved search has no work.
$r = connect_upwork(tenant => $TB, user => 'user_pollb', account => $TB);
is($r->{status}, 200, 'a second tenant connects');
$run = run_cron('poll-jobs', args => ['--tenant', $TB]);
is($run->{exit}, 0, 'poll-jobs --tenant for it');
like($run->{msgs}, qr/tenant $TB has no poll work/, 'it has no work: no saved search');
is(fake(GET => "/_fake/$TB")->{searches}, 0, 'so Upwork is not asked');

# The mapping of a saved search to Upwork's filter, and clientScore after fetching.
$r = connect_upwork(tenant => $TF, user => 'user_pollf', account => $TF, organization => '424242');
is($r->{status}, 200, 'a third tenant connects for organization 424242');
my $tokf = token(sub => 'user_pollf', org => $TF);
api(POST => '/api/jobs', token => $tokf, json => { name => 'pg in AU', skills => ['PostgreSQL'],
    minBudget => 50, maxBudget => 5000, location => 'Australia', query => 'postgresql' });
api(POST => '/api/jobs', token => $tokf, json => { name => 'good clients', clientScore => 70 });
$run = run_cron('poll-jobs', args => ['--tenant', $TF]);
is($run->{exit}, 0, 'poll-jobs for the filtered searches') or diag $run->{err};
my $st = fake(GET => "/_fake/$TF");
my @f = @{ $st->{filters} };
is(scalar @f, 3, 'a search with a budget runs once per kind (fixed, hourly), one without once');
my ($fixed) = grep { ($_->{jobType_eq} // '') eq 'FIXED' } @f;
my ($hourly) = grep { ($_->{jobType_eq} // '') eq 'HOURLY' } @f;
is_deeply($fixed, { searchExpression_eq => 'postgresql', skillExpression_eq => 'postgresql',
    locations_any => ['Australia'], jobType_eq => 'FIXED', budgetRange_eq => { rangeStart => 50, rangeEnd => 5000 },
    pagination_eq => { first => 50 } }, 'fixed price: budgetRange_eq, with query, skills and location');
is_deeply($hourly->{hourlyRate_eq}, { rangeStart => 50, rangeEnd => 5000 }, 'hourly: hourlyRate_eq');
my ($plain) = grep { !$_->{jobType_eq} } @f;
is_deeply($plain, { pagination_eq => { first => 50 } }, 'clientScore has no Upwork filter: nothing is sent for it');
ok(!(grep { !defined || $_ ne '424242' } @{ $st->{tenantHeaders} }), 'every call carried X-Upwork-API-TenantId: 424242');
like($st->{userAgents}[0], qr/^upwork-agent-api/, 'and our User-Agent');
my $want = psql("SELECT count(*) FROM jobs WHERE tenant_id = '$T' AND client_score >= 70 AND upwork_id LIKE '17%'");
is(psql("SELECT count(*) FROM jobs WHERE tenant_id = '$TF' AND client_score >= 70"), $want,
    "every fixture job whose client scores 70 or more is stored ($want)");
is(psql("SELECT count(*) FROM jobs WHERE tenant_id = '$TF' AND client_score < 70 AND NOT ('postgresql' = ANY (skills))"), '0',
    'and no job below 70 came through that search');
is(psql("SELECT string_agg(upwork_id, ',' ORDER BY upwork_id) FROM jobs WHERE tenant_id = '$TF' AND location = 'Australia' AND 'postgresql' = ANY (skills)"),
    '1700000000000023757,1700000000000071271', 'the skills, location and budget search found the two Australian PostgreSQL jobs');

done_testing;
