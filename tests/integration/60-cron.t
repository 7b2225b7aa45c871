#!/usr/bin/env perl
# 60-cron.t: the cron binaries: flags, one run at a time (and kill -9 leaves no lock), the time budget, a progress line on terminals, dry runs, prune, usage-report, refresh-clients.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use ApiTest;
use UpworkTest;

my ($TL, $TK, $TD, $TB, $TP, $TU, $TU2, $TR) = map { "org_t_cron_$_" } qw(lock kill dry budget prune usage usage2 refresh);
reset_tenant($TL, $TK, $TD, $TB, $TP, $TU, $TU2, $TR);
fake_reset($TL, $TK, $TD, $TB, $TR);
my $s = stack();

# A tenant connected to the fake, with one saved search.
my $setup = sub {
    my ($t) = @_;
    is(connect_upwork(tenant => $t, user => "user_$t", account => $t)->{status}, 200, "$t connects");
    api(POST => '/api/jobs', token => token(sub => "user_$t", org => $t), json => { name => 'all' });
};
my $jobs = sub { psql("SELECT count(*) || '|' || count(DISTINCT upwork_id) FROM jobs WHERE tenant_id = '$_[0]'") };
my $inflight = sub {    # wait until the fake is answering a request of this account
    my ($t, $n) = @_;
    my $t0 = time();
    sleep 0.05 while fake(GET => "/_fake/$t")->{graphqlRequests} < $n && time() - $t0 < 10;
};

# --- flags -----------------------------------------------------------------
for my $bin (qw(poll-jobs refresh-clients prune usage-report)) {
    my $r = run_cron($bin, args => ['--help']);
    is($r->{exit}, 0, "$bin --help: exit 0");
    like($r->{out}, qr/^usage: $bin \[--tenant ID\] \[--dry-run\] \[--verbose\] \[--max-seconds N\]/, 'its usage');
    is(run_cron($bin, args => ['--bogus'])->{exit}, 2, "$bin --bogus: exit 2");
}
is(run_cron('poll-jobs', args => ['--tenant', 'bad tenant!'])->{exit}, 2, 'a malformed --tenant: exit 2');
is(run_cron('poll-jobs', args => ['--max-seconds', '0'])->{exit}, 2, '--max-seconds 0: exit 2');
is(run_cron('poll-jobs', args => ['--tenant', $TL, 'extra'])->{exit}, 2, 'a stray argument: exit 2');
is(run_cron('prune', args => ['--batch', 'x'])->{exit}, 2, 'prune --batch x: exit 2');
is(run_cron('usage-report', args => ['--month', '2026-13'])->{exit}, 2, 'usage-report --month 2026-13: exit 2');
is(run_cron('usage-report', args => ['--format', 'xml'])->{exit}, 2, 'usage-report --format xml: exit 2');
my $r = run_cron('poll-jobs', args => ['--tenant', $TL], env => { APP_UPWORK_PAGE_SIZE => 0 });
is($r->{exit}, 1, 'a configuration value out of range: exit 1');
like($r->{err}, qr/upwork_page_size must be an integer in 1\.\.100/, 'saying which');
$r = run_cron('poll-jobs', args => ['--tenant', $TL, '--verbose']);
ok((grep { $_->{level} eq 'debug' && $_->{msg} =~ /started for $TL/ } @{ $r->{log} }), '--verbose: debug lines');
ok(!(grep { $_->{level} eq 'debug' } @{ run_cron('poll-jobs', args => ['--tenant', $TL])->{log} }), 'and none without');

# --- one run at a time ------------------------------------------------------------------
$setup->($TL);
fake(POST => "/_fake/$TL/config", { searchDelayMs => 4000 });
my $first = start_cron('poll-jobs', args => ['--tenant', $TL], env => { APP_UPWORK_PAGE_SIZE => 5 });
$inflight->($TL, 1);
my $second = run_cron('poll-jobs', args => ['--tenant', $TL]);
ok(waitpid($first->{pid}, WNOHANG) == 0, 'the first run is still working');
is($second->{exit}, 0, 'a second run for the same tenant meanwhile: exit 0');
ok($second->{secs} < 3, sprintf('at once, without waiting for the first (%.2f s)', $second->{secs}));
like($second->{msgs}, qr/another run holds the lock for tenant $TL; exiting/, 'with a log line saying why');
my $full = run_cron('poll-jobs');
is($full->{exit}, 0, 'a run over all tenants meanwhile: exit 0 at once too');
like($full->{msgs}, qr/another run holds the lock; exiting/, 'it waits for no one and polls no one');
fake(POST => "/_fake/$TL/config", { searchDelayMs => 0 });
$first = finish_cron($first);
is($first->{exit}, 0, 'the first run finishes: exit 0');
like($first->{msgs}, qr/15 new/, 'and did the work');
is($jobs->($TL), '15|15', 'once');

# --- kill -9 in the middle -------------------------------------------------------------------
$setup->($TK);
fake(POST => "/_fake/$TK/config", { searchDelayMs => 1500 });
my $k = start_cron('poll-jobs', args => ['--tenant', $TK], env => { APP_UPWORK_PAGE_SIZE => 5 });
$inflight->($TK, 2);    # page 1 is stored, page 2 is on its way
kill 'KILL', $k->{pid};
$k = finish_cron($k);
is($k->{signal}, 9, 'a run killed with SIGKILL mid-run');
my $mid = $jobs->($TK);
like($mid, qr/^5\|5$/, 'it had stored page 1');
fake(POST => "/_fake/$TK/config", { searchDelayMs => 0 });
my $tap = events_tap();
$r = run_cron('poll-jobs', args => ['--tenant', $TK], env => { APP_UPWORK_PAGE_SIZE => 5 });
is($r->{exit}, 0, 'the next run gets the lock at once (it died with its session)');
unlike($r->{msgs}, qr/another run holds the lock/, 'no stale lock');
like($r->{msgs}, qr/10 new/, 'and stores the rest');
is($jobs->($TK), '15|15', 'fifteen jobs, no duplicates');
is(scalar(grep { $_->{type} eq 'job:new' } $tap->collect(1, tenant => $TK)), 10, 'job:new only for the ten new ones');

# --- the time budget ----------------------------------------------------------------------------
$setup->($TB);
fake(POST => "/_fake/$TB/config", { searchDelayMs => 1200 });
$r = run_cron('poll-jobs', args => ['--tenant', $TB, '--max-seconds', '1'], env => { APP_UPWORK_PAGE_SIZE => 5 });
is($r->{exit}, 0, '--max-seconds 1 with a slow Upwork: exit 0');
like($r->{msgs}, qr/the time budget \(1 s\) is spent; the rest is left to the next run/, 'it says it stopped');
ok($r->{secs} < 3, sprintf('it stopped (%.2f s) instead of reading all three pages', $r->{secs}));
is($jobs->($TB), '5|5', 'what it fetched is stored');
fake(POST => "/_fake/$TB/config", { searchDelayMs => 0 });
$r = run_cron('poll-jobs', args => ['--tenant', $TB], env => { APP_UPWORK_PAGE_SIZE => 5 });
is($jobs->($TB), '15|15', 'the next run completes it');

# --- dry run ------------------------------------------------------------------------------------
$setup->($TD);
$tap = events_tap();
$r = run_cron('poll-jobs', args => ['--tenant', $TD, '--dry-run']);
is($r->{exit}, 0, '--dry-run: exit 0');
like($r->{msgs}, qr/15 new \(dry run: not stored\)/, 'says what it would store');
is($jobs->($TD), '0|0', 'stores nothing');
is(psql("SELECT count(*) FROM job_searches WHERE tenant_id = '$TD' AND last_run_at IS NOT NULL"), '0', 'changes nothing');
is(scalar($tap->collect(0.7, tenant => $TD)), 0, 'announces nothing');

# --- a progress line on a terminal, and only there -------------------------------------------------
my $env = join ' ', map { my %e = cron_env(); "$_='$e{$_}'" } qw(APP_CONFIG ASAN_OPTIONS UBSAN_OPTIONS);
my $tty = `script -qec "env $env $s->{BIN}/cron/poll-jobs --tenant $TD --dry-run" /dev/null 2>&1`;
like($tty, qr/\r\e\[Kpoll-jobs: tenant 1\/1 \($TD\)/, 'on a terminal: a progress line, rewritten in place');
like($tty, qr/\r\e\[K\{"time":/, 'erased before the next log line');
unlike($r->{err}, qr/\r|\e\[/, 'not a byte of it when stderr is not a terminal');

# --- prune -------------------------------------------------------------------------------------
psql(<<"SQL");
INSERT INTO tenants (id) VALUES ('$TP');
INSERT INTO users (tenant_id, id) VALUES ('$TP', 'user_p');
INSERT INTO clients (tenant_id, upwork_uid, updated_at) VALUES ('$TP', 'old-orphan', now() - interval '200 days'),
    ('$TP', 'new-orphan', now());
INSERT INTO jobs (tenant_id, upwork_id, title, budget_type, posted_at)
    SELECT '$TP', 'old-' || i, 'Old ' || i, 'fixed', now() - interval '200 days' FROM generate_series(1, 5) i;
INSERT INTO jobs (tenant_id, upwork_id, title, budget_type, posted_at)
    VALUES ('$TP', 'old-kept', 'Old, proposed', 'fixed', now() - interval '200 days'),
           ('$TP', 'new-1', 'New 1', 'fixed', now()), ('$TP', 'new-2', 'New 2', 'fixed', now());
INSERT INTO proposals (tenant_id, user_id, job_id) SELECT '$TP', 'user_p', id FROM jobs WHERE upwork_id = 'old-kept';
INSERT INTO upwork_oauth_states (tenant_id, nonce, user_id, expires_at)
    VALUES ('$TP', repeat('a', 32), 'user_p', now() - interval '1 hour'), ('$TP', repeat('b', 32), 'user_p', now() + interval '1 hour');
SQL
my $tokp = token(sub => 'user_p', org => $TP);
is(api(GET => '/api/jobs', token => $tokp)->{json}{pagination}{total}, 8, 'eight jobs before pruning (and the list cached)');
$r = run_cron('prune', args => ['--tenant', $TP, '--dry-run']);
is($r->{exit}, 0, 'prune --dry-run: exit 0');
like($r->{msgs}, qr/tenant $TP: 5 jobs would be deleted/, 'counts what it would delete');
is(psql("SELECT count(*) FROM jobs WHERE tenant_id = '$TP'"), '8', 'deletes nothing');
$r = run_cron('prune', args => ['--tenant', $TP, '--batch', '2']);
is($r->{exit}, 0, 'prune --batch 2: exit 0');
like($r->{msgs}, qr/1 tenants, 5 jobs, 1 clients, 1 oauth states, 0 ai reservations, 0 idempotency keys deleted \(older than 90 days, batches of 2\)/,
    'five old jobs (in batches of two), the orphaned client, the spent state');
is(psql("SELECT string_agg(upwork_id, ',' ORDER BY upwork_id) FROM jobs WHERE tenant_id = '$TP'"), 'new-1,new-2,old-kept',
    'recent jobs and the job with a proposal are kept');
is(psql("SELECT string_agg(upwork_uid, ',') FROM clients WHERE tenant_id = '$TP'"), 'new-orphan', 'a recent client is kept');
is(psql("SELECT count(*) FROM upwork_oauth_states WHERE tenant_id = '$TP'"), '1', 'a live state is kept');
is(api(GET => '/api/jobs', token => $tokp)->{json}{pagination}{total}, 3, 'the cached job list shows it at once');
is(psql("SELECT count(*) || '|' || sum(n) FROM job_counts WHERE tenant_id = '$TP' AND skill = ''"), '1|3',
    "the job count's deltas folded into one row, the jobs left (sql/0010)");

# --- usage-report --------------------------------------------------------------------------------
psql(<<"SQL");
INSERT INTO tenants (id) VALUES ('$TU'), ('$TU2');
INSERT INTO users (tenant_id, id) VALUES ('$TU', 'u1'), ('$TU2', 'u2');
INSERT INTO ai_usage (tenant_id, user_id, kind, provider, model, prompt_tokens, completion_tokens, cost, created_at) VALUES
    ('$TU', 'u1', 'proposal_generation', 'openai', 'gpt-4o-mini', 1000, 200, 0.000123, '2026-03-01 00:00:00+00'),
    ('$TU', 'u1', 'proposal_generation', 'openai', 'gpt-4o-mini', 2000, 300, 0.010000, '2026-03-31 23:59:59+00'),
    ('$TU', 'u1', 'client_research', 'builtin', 'builtin', 500, 100, 0, '2026-03-15 12:00:00+00'),
    ('$TU', 'u1', 'proposal_generation', 'openai', 'gpt-4o-mini', 9999, 9999, 9, '2026-04-01 00:00:00+00'),
    ('$TU2', 'u2', 'proposal_generation', 'openai', 'gpt-4o', 100, 50, 1.5, '2026-03-02 00:00:00+00');
SQL
$r = run_cron('usage-report', args => ['--month', '2026-03', '--format', 'json', '--tenant', $TU]);
is($r->{exit}, 0, 'usage-report --format json: exit 0');
my $rep = eval { json_decode($r->{out}) };
ok($rep, 'stdout is one JSON document') or diag $r->{out};
is($rep->{month}, '2026-03', 'the month');
is_deeply([map { $_->{tenant} } @{ $rep->{tenants} }], [$TU], '--tenant: that tenant');
my $t = $rep->{tenants}[0];
is_deeply([@$t{qw(calls promptTokens completionTokens totalTokens)}], [3, 3500, 600, 4100],
    'calls and tokens of March only (the first and last second included, April not)');
is(sprintf('%.6f', $t->{costUsd}), '0.010123', 'the cost, exactly');
is_deeply([map { "$_->{kind}/$_->{provider}/$_->{model}/$_->{calls}" } @{ $t->{byModel} }],
    ['client_research/builtin/builtin/1', 'proposal_generation/openai/gpt-4o-mini/2'], 'by kind and model');
$r = run_cron('usage-report', args => ['--month', '2026-03', '--format', 'json']);
$rep = eval { json_decode($r->{out}) };
my %by = map { $_->{tenant} => $_ } @{ $rep->{tenants} };
ok($by{$TU} && $by{$TU2}, 'without --tenant: every tenant with usage that month');
is($by{$TU2}{costUsd}, 1.5, 'each with its own figures');
$r = run_cron('usage-report', args => ['--month', '2026-03', '--tenant', $TU]);
like($r->{out}, qr/^AI usage 2026-03 \(UTC/, 'text: a title');
like($r->{out}, qr/^\Q$TU\E\s+3\s+3500\s+600\s+0\.010123$/m, 'a line per tenant');
like($r->{out}, qr/^  proposal_generation openai\/gpt-4o-mini\s+2\s+3000\s+500\s+0\.010123$/m, 'and per model');
is(run_cron('usage-report', args => ['--month', 'last'])->{exit}, 0, '--month last');

# --- refresh-clients ------------------------------------------------------------------------------
$setup->($TR);
is(run_cron('poll-jobs', args => ['--tenant', $TR])->{exit}, 0, 'jobs and clients to refresh');
$r = run_cron('refresh-clients', args => ['--tenant', $TR, '--dry-run']);
like($r->{msgs}, qr/tenant $TR: 15 clients to refresh \(dry run\)/, 'refresh-clients --dry-run counts');
is(fake(GET => "/_fake/$TR")->{details}, 0, 'and asks Upwork nothing');
my $cache = api(GET => '/api/jobs?limit=1', token => token(sub => "user_$TR", org => $TR));
$r = run_cron('refresh-clients', args => ['--tenant', $TR]);
is($r->{exit}, 0, 'refresh-clients: exit 0');
like($r->{msgs}, qr/tenant $TR: 15 of 15 clients refreshed/, 'fifteen clients');
is(fake(GET => "/_fake/$TR")->{details}, 15, 'one marketplaceJobPosting(id) each');
is(psql("SELECT count(*) FROM clients WHERE tenant_id = '$TR' AND name = city || ' Works Ltd' AND details IS NOT NULL"),
    '15', 'the company names stored, with the details');
my $head = api(GET => '/api/jobs?limit=1', token => token(sub => "user_$TR", org => $TR))->{json}{data}[0];
like($head->{client}{name}, qr/ Works Ltd$/, 'and the job list shows them at once');
$r = run_cron('refresh-clients', args => ['--tenant', $TR]);
like($r->{msgs}, qr/tenant $TR has no refresh work/, 'a second run: nothing is stale');
psql("UPDATE clients SET details_refreshed_at = now() - interval '25 hours' WHERE tenant_id = '$TR' AND upwork_uid = '1500000000000000000'");
$r = run_cron('refresh-clients', args => ['--tenant', $TR], env => { APP_REFRESH_CLIENTS_RESERVE => 100000000 });
is($r->{exit}, 0, 'with the whole day reserved for polling: exit 0');
like($r->{msgs}, qr/stopping: the day's Upwork request budget is spent .*reserved for polling/, 'it yields, saying why');
is(fake(GET => "/_fake/$TR")->{details}, 15, 'without a request');
$r = run_cron('refresh-clients', args => ['--tenant', $TR]);
like($r->{msgs}, qr/1 of 1 clients refreshed/, 'otherwise the stale client (older than 24 h) is refreshed');

# A posting Upwork will not describe must not block the queue behind it.
psql("UPDATE clients SET details_refreshed_at = NULL WHERE tenant_id = '$TR'");
my ($head_client, $head_job) = split /\|/, psql("SELECT c.id, (SELECT j.upwork_id FROM jobs j WHERE j.client_id = c.id"
    . " ORDER BY j.posted_at DESC LIMIT 1) FROM clients c WHERE c.tenant_id = '$TR' ORDER BY c.id LIMIT 1");
fake(POST => "/_fake/$TR/config", { detailsFailIds => [$head_job] });
$r = run_cron('refresh-clients', args => ['--tenant', $TR]);
is($r->{exit}, 0, 'a posting Upwork refuses to describe: exit 0');
like($r->{msgs}, qr/client $head_client skipped/, 'the client at the head of the queue is skipped, and logged');
like($r->{msgs}, qr/14 of 15 clients refreshed/, 'every other client is refreshed');
$r = run_cron('refresh-clients', args => ['--tenant', $TR]);
like($r->{msgs}, qr/has no refresh work/, 'and the skipped one waits for the next refresh age, not the next run');
fake(POST => "/_fake/$TR/config", { detailsFailIds => [] });

# The poller changes clients: client research must not keep the old ones.
my $ttok = token(sub => "user_$TR", org => $TR);
my $cid = psql("SELECT client_id FROM jobs WHERE tenant_id = '$TR' AND upwork_id = '$head_job'");
my $before = api(GET => "/api/clients/$cid/research", token => $ttok);
is($before->{status}, 200, 'research on a polled client');
is(api(GET => "/api/clients/$cid/research", token => $ttok)->{headers}{'x-cache'} =~ /^HIT/ ? 1 : 0, no_redis() ? 0 : 1,
    'cached (no cache in the noredis pass)');
fake(POST => "/_fake/$TR/jobs", { edit => { id => $head_job, client => { totalReviews => 1, totalFeedback => 1.0 } } });
is(run_cron('poll-jobs', args => ['--tenant', $TR])->{exit}, 0, 'the poller sees the client change');
is(psql("SELECT reviews_count || '|' || rating FROM clients WHERE id = '$cid'"), '1|1.00', 'the client row is updated');
select(undef, undef, undef, 1.2);    # a worker's L1 copy lives cache_l1_ttl_ms
my $after = api(GET => "/api/clients/$cid/research", token => $ttok);
like($after->{headers}{'x-cache'}, qr/^(MISS|BYPASS)$/, 'research is recomputed, not served from Redis');
isnt(json_encode($after->{json}{data}), json_encode($before->{json}{data}), 'and reflects the new reviews');

done_testing;
