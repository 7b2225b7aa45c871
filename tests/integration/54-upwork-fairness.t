#!/usr/bin/env perl
# 54-upwork-fairness.t: no tenant can take the shared Upwork key from the others: least recently polled first, a slice per tenant, capped searches, a cooldown on polling by hand.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep);
use ApiTest;
use UpworkTest;

my ($TA, $TB, $TC) = map { "org_t_fair_$_" } qw(a b c);
reset_tenant($TA, $TB, $TC);
fake_reset($TA, $TB, $TC);
my %tok = map { ($_ => token(sub => "user_$_", org => $_)) } ($TA, $TB, $TC);
for my $t ($TA, $TB) {
    is(connect_upwork(tenant => $t, user => "user_$t", account => $t)->{status}, 200, "$t connects");
}

# --- the scheduler: least recently polled first -------------------------------------------
api(POST => '/api/jobs', token => $tok{$_}, json => { name => "s-$_" }) for ($TA, $TB);
psql("UPDATE upwork_accounts SET last_polled_at = now() - interval '1 hour' WHERE tenant_id = '$TA'");
psql("UPDATE upwork_accounts SET last_polled_at = now() - interval '2 hours' WHERE tenant_id = '$TB'");
my @order = grep { /^org_t_fair_/ } split /\n/, psql_app("SELECT * FROM scheduler_tenants('poll')");
is_deeply(\@order, [$TB, $TA], 'the tenant polled longest ago comes first, whatever its id');
psql("UPDATE upwork_accounts SET last_polled_at = NULL WHERE tenant_id = '$TA'");
@order = grep { /^org_t_fair_/ } split /\n/, psql_app("SELECT * FROM scheduler_tenants('poll')");
is_deeply(\@order, [$TA, $TB], 'a tenant never polled comes before both');
my $r = run_cron('poll-jobs', args => ['--tenant', $TA]);
is($r->{exit}, 0, 'a poll run');
ok(psql("SELECT last_polled_at > now() - interval '1 minute' FROM upwork_accounts WHERE tenant_id = '$TA'") eq 't',
    'records when the tenant was polled');
@order = grep { /^org_t_fair_/ } split /\n/, psql_app("SELECT * FROM scheduler_tenants('poll')");
is_deeply(\@order, [$TB, $TA], 'so the next run starts with the other one');

# --- a slice of the run per tenant ----------------------------------------------------------
# Five searches, each answered slowly: more than one tenant's share.
api(POST => '/api/jobs', token => $tok{$TB}, json => { name => "slow $_", query => "q$_" }) for 1 .. 4;
fake(POST => "/_fake/$TB/config", { searchDelayMs => 400 });
$r = run_cron('poll-jobs', args => ['--tenant', $TB], env => { APP_POLL_TENANT_MAX_MS => 1000 });
is($r->{exit}, 0, 'a tenant past its share: exit 0, not a failure');
like($r->{msgs}, qr/tenant $TB used its share of the run/, 'said so');
my $ran = psql("SELECT count(*) FROM job_searches WHERE tenant_id = '$TB' AND last_run_at > now() - interval '1 minute'");
ok($ran >= 1 && $ran < 5, "it ran $ran of its 5 searches");
my @first = split /\n/, psql("SELECT id FROM job_searches WHERE tenant_id = '$TB' AND last_run_at IS NULL ORDER BY id");
$r = run_cron('poll-jobs', args => ['--tenant', $TB], env => { APP_POLL_TENANT_MAX_MS => 1000 });
my @left = split /\n/, psql("SELECT id FROM job_searches WHERE tenant_id = '$TB' AND last_run_at IS NULL ORDER BY id");
ok(@left < @first, 'the next run starts with the searches the last one did not reach (' . scalar(@first) . ' -> ' . scalar(@left) . ' never run)');
fake(POST => "/_fake/$TB/config", { searchDelayMs => 0 });

# --- at most poll_max_searches with notify on --------------------------------------------
my $max = 25;
my $have = psql("SELECT count(*) FROM job_searches WHERE tenant_id = '$TB' AND notify");
for my $i ($have + 1 .. $max) {
    api(POST => '/api/jobs', token => $tok{$TB}, json => { name => "fill $i", skills => ['c'] });
}
is(psql("SELECT count(*) FROM job_searches WHERE tenant_id = '$TB' AND notify"), $max, "$max searches with notify on");
$r = api(POST => '/api/jobs', token => $tok{$TB}, json => { name => 'one too many' });
is($r->{status}, 409, 'one more with notify on: 409');
like($r->{json}{details}, qr/$max saved searches with notify on/, 'saying why');
$r = api(POST => '/api/jobs', token => $tok{$TB}, json => { name => 'quiet', notify => JSON::PP::false });
is($r->{status}, 201, 'with notify off it is saved');
is(psql("SELECT count(*) FROM job_searches WHERE tenant_id = '$TB' AND notify"), $max, 'still at the cap');

# --- polling by hand: once per upwork_poll_cooldown_s per tenant -------------------------------
$r = poll_now($tok{$TA});
is($r->{status}, 200, 'a poll by hand: 200');
$r = api(POST => '/api/upwork/poll', token => $tok{$TA});
is($r->{status}, 429, 'another at once: 429');
is($r->{json}{code}, 'rate_limited', 'rate_limited');
like($r->{json}{details}, qr/polled less than 1 seconds ago/, 'saying why');
ok($r->{headers}{'retry-after'} >= 1, 'with Retry-After');
$r = api(POST => '/api/upwork/poll', token => token(sub => 'user_other', org => $TA));
is($r->{status}, 429, 'another user of the tenant waits too: the cooldown is the tenant\'s');
sleep 1.2;
is(api(POST => '/api/upwork/poll', token => $tok{$TA})->{status}, 200, 'after the cooldown: 200');

done_testing;
