#!/usr/bin/env perl
# 23-job-counts.t: the exact job counts of sql/0010 behind GET /api/jobs's total: inserts, updates, upserts, deletes, concurrent writers, folding, a deleted tenant, row-level security.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my ($T, $O) = ('org_t_counts', 'org_t_counts_other');
reset_tenant($T, $O);
my $tok = token(sub => 'user_counts', org => $T);
my @SKILLS = qw(react python go rust);

# The total GET /api/jobs answers, unfiltered or for one skill, uncached.
sub total {
    my ($skill) = @_;
    my $r = api(GET => '/api/jobs?limit=1' . (defined $skill ? "&skills=$skill" : ''), token => $tok,
        headers => { 'Cache-Control' => 'no-cache' });
    return $r->{status} == 200 ? $r->{json}{pagination}{total} : "status $r->{status}";
}

# What the tables hold, counted the slow way.
sub truth {
    my ($skill) = @_;
    return psql(defined $skill
        ? "SELECT count(*) FROM job_skills WHERE tenant_id = '$T' AND skill = '$skill'"
        : "SELECT count(*) FROM jobs WHERE tenant_id = '$T'");
}

# Skills whose summed deltas differ from the count of job_skills (or jobs, for '').
sub mismatches {
    return psql(<<"SQL");
SELECT count(*) FROM
    (SELECT skill, sum(n) AS n FROM job_counts WHERE tenant_id = '$T' GROUP BY skill HAVING sum(n) <> 0) a
    FULL JOIN (SELECT skill, count(*) AS n FROM job_skills WHERE tenant_id = '$T' GROUP BY skill
               UNION ALL SELECT '', count(*) FROM jobs WHERE tenant_id = '$T' HAVING count(*) > 0) b USING (skill)
    WHERE a.n IS DISTINCT FROM b.n
SQL
}

sub check {
    my ($what) = @_;
    is(total(undef), truth(undef), "$what: the unfiltered total is the number of jobs");
    is(total($_), truth($_), "$what: the total for skills=$_") for @SKILLS;
    is(mismatches(), 0, "$what: every skill's count is exact");
}

sub job {
    my ($id, @skills) = @_;
    return { upwork_id => $id, title => "Job $id", skills => [@skills] };
}

# --- writes one by one --------------------------------------------------------------------
insert_jobs($T, map { job("c-$_", $_ % 2 ? 'react' : 'python', $_ % 3 ? () : ('go')) } 1 .. 24);
insert_jobs($T, job('c-dup', 'react', 'react', 'rust'));
check('after 25 inserts, one with a skill twice');
is(total('react'), 13, 'a job with a skill twice counts once');

my $rows = psql("SELECT count(*) FROM job_counts WHERE tenant_id = '$T'");
psql("UPDATE jobs SET title = 'Renamed' WHERE tenant_id = '$T'");
is(psql("SELECT count(*) FROM job_counts WHERE tenant_id = '$T'"), $rows, 'an update that leaves skills alone adds no delta');
psql("UPDATE jobs SET skills = '{rust,go}' WHERE tenant_id = '$T' AND upwork_id IN ('c-1', 'c-2', 'c-3')");
check('after skills changed on three jobs');

# The poller's upsert: one statement inserting some jobs and changing others.
psql(<<"SQL");
INSERT INTO jobs (tenant_id, upwork_id, title, skills, budget_type, posted_at)
    VALUES ('$T', 'c-4', 'Up', '{go}', 'fixed', now()), ('$T', 'c-new', 'New', '{rust,react}', 'fixed', now())
    ON CONFLICT (tenant_id, upwork_id) DO UPDATE SET skills = EXCLUDED.skills
SQL
check('after an upsert that inserted one job and changed another');

psql("DELETE FROM jobs WHERE tenant_id = '$T' AND upwork_id IN ('c-5', 'c-6', 'c-dup')");
check('after three deletes');

# --- concurrent writers ---------------------------------------------------------------------
# Transactions that each add and remove jobs with the same skills in
# opposite orders, held open across statements: appended deltas never
# wait on each other, so none fails (a counter row updated in place
# would deadlock here).
my @pids;
for my $w (1 .. 6) {
    my $pid = fork // die;
    if ($pid == 0) {
        my @order = $w % 2 ? ('react', 'python') : ('python', 'react');
        my $sql = "BEGIN;\nSELECT set_config('app.tenant_id', '$T', true);\n";
        for my $i (1 .. 5) {
            $sql .= "INSERT INTO jobs (tenant_id, upwork_id, title, skills, budget_type, posted_at)"
                . " VALUES ('$T', 'w$w-$i', 'W', '{$order[0]}', 'fixed', now());\nSELECT pg_sleep(0.02);\n"
                . "INSERT INTO jobs (tenant_id, upwork_id, title, skills, budget_type, posted_at)"
                . " VALUES ('$T', 'w$w-$i-b', 'W', '{$order[1],go}', 'fixed', now());\n";
        }
        $sql .= "DELETE FROM jobs WHERE tenant_id = '$T' AND upwork_id = 'w$w-1';\nCOMMIT;\n";
        my (undef, $rc) = psql($sql);
        exit($rc == 0 ? 0 : 1);
    }
    push @pids, $pid;
}
my $failed = 0;
for (@pids) { waitpid($_, 0); $failed++ if $? != 0 }
is($failed, 0, 'six concurrent writers, skills taken in opposite orders: every transaction commits');
is(psql("SELECT count(*) FROM jobs WHERE tenant_id = '$T' AND upwork_id LIKE 'w%'"), 6 * 9, 'all their jobs are there');
check('after the concurrent writers');

# --- folding ---------------------------------------------------------------------------------
my $before = psql("SELECT count(*) FROM job_counts WHERE tenant_id = '$T'");
my $distinct = psql("SELECT count(DISTINCT skill) + 1 FROM job_skills WHERE tenant_id = '$T'");
cmp_ok($before, '>', $distinct, "the writes left $before delta rows");
my ($removed) = psql_app("SELECT set_config('app.tenant_id', '$T', false) \\g /dev/null\nSELECT job_counts_compact()");
is($removed, $before, 'job_counts_compact() as the API role removes every delta row of its tenant');
is(psql("SELECT count(*) FROM job_counts WHERE tenant_id = '$T'"), $distinct, 'and leaves one row per skill and one for all');
check('after folding');

# --- another tenant, row-level security -----------------------------------------------------------
insert_jobs($O, map { job("o-$_", 'react') } 1 .. 4);
my $ctx = "SELECT set_config('app.tenant_id', '$O', false) \\g /dev/null\n";
is(scalar psql_app($ctx . "SELECT coalesce(sum(n), 0) FROM job_counts WHERE skill = 'react'"), 4,
    "the API role sees only its tenant's counts");
my ($out, $rc) = psql_app($ctx . "INSERT INTO job_counts (tenant_id, skill, n) VALUES ('$T', 'react', 1000)");
isnt($rc, 0, "it cannot add to another tenant's count");
like($out, qr/row-level security/, 'refused by the row-level security policy');
SKIP: {
    skip 'one role owns the tables (DB_ROLES=single)', 1 if single_role();
    ($out, $rc) = psql_app($ctx . "UPDATE job_counts SET n = 0");
    like($out, qr/permission denied/, 'and cannot rewrite counts in place (no UPDATE grant)');
}
check("another tenant's jobs change nothing here");

($out, $rc) = psql("DELETE FROM tenants WHERE id = '$O'");
is($rc, 0, 'a tenant with jobs can be deleted');
is(psql("SELECT count(*) FROM job_counts WHERE tenant_id = '$O'"), 0, 'and its counts go with it');

done_testing;
