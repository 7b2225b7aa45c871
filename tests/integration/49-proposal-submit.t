#!/usr/bin/env perl
# 49-proposal-submit.t: POST /api/proposals/{id}/submit: the draft becomes ready, the time is recorded, proposal:updated goes to its user, the apply URL comes back; once only; bad input and other users' ids.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;
use UpworkTest;

my ($T, $O) = ('org_t_submit', 'org_t_submit_o');
reset_tenant($T, $O);
my %p;
$p{$_} = undef for qw(draft nokey sent other foreign twice);
for my $k (keys %p) { $p{$k} = psql('SELECT gen_random_uuid()') }
my $jk = psql("SELECT gen_random_uuid()");
my $jn = psql("SELECT gen_random_uuid()");
my $jo = psql("SELECT gen_random_uuid()");
psql(<<"SQL");
INSERT INTO tenants (id) VALUES ('$T'), ('$O');
INSERT INTO users (tenant_id, id) VALUES ('$T', 'user_sub'), ('$T', 'user_sub2'), ('$O', 'user_sub');
INSERT INTO jobs (tenant_id, id, upwork_id, ciphertext, title, budget_type, posted_at) VALUES
    ('$T', '$jk', 'sub-1', '~0117979cfe362a0000', 'With a key', 'fixed', now()),
    ('$T', '$jn', 'sub-2', NULL, 'Without a key', 'fixed', now()),
    ('$O', '$jo', 'sub-3', '~01aa', 'Elsewhere', 'fixed', now());
INSERT INTO proposals (tenant_id, id, user_id, job_id, status, content) VALUES
    ('$T', '$p{draft}', 'user_sub', '$jk', 'draft', 'Dear client'),
    ('$T', '$p{nokey}', 'user_sub', '$jn', 'draft', 'Dear client'),
    ('$T', '$p{sent}', 'user_sub', '$jk', 'submitted', 'Dear client'),
    ('$T', '$p{other}', 'user_sub2', '$jk', 'draft', 'Not yours'),
    ('$T', '$p{twice}', 'user_sub', '$jk', 'draft', 'Race'),
    ('$O', '$p{foreign}', 'user_sub', '$jo', 'draft', 'Other tenant');
SQL
my $tok = token(sub => 'user_sub', org => $T);
my $tap = events_tap();

my $r = api(POST => "/api/proposals/$p{draft}/submit", token => $tok);
is($r->{status}, 200, 'submit a draft: 200') or diag $r->{body};
my $d = $r->{json}{data};
is($d->{id}, $p{draft}, 'the proposal');
is($d->{jobId}, $jk, 'its job');
is($d->{status}, 'ready', 'now ready');
is($d->{applyUrl}, 'https://www.upwork.com/nx/proposals/job/~0117979cfe362a0000/apply/',
    "the job's apply page on Upwork, to finish there");
is($d->{submittedToUpwork}, JSON::PP::false, 'said plainly: not sent to Upwork by us');
like($d->{readyAt}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'readyAt');
is($r->{headers}{'x-ratelimit-limit'}, 30, 'in the upwork rate class');
is(psql("SELECT status, ready_at IS NOT NULL, updated_at > created_at FROM proposals WHERE id = '$p{draft}'"),
    'ready|t|t', 'stored: ready, with the time');
my @ev = grep { $_->{type} eq 'proposal:updated' } $tap->collect(1, tenant => $T);
is(scalar @ev, 1, 'one proposal:updated');
is($ev[0]{user}, 'user_sub', 'to its user only');
my %e = %{ $ev[0]{data} // {} };
is_deeply([delete @e{qw(changes cause previousStatus truncated)}], [[qw(status readyAt)], 'submitted', 'draft', JSON::PP::false],
    'saying what changed: the status and readyAt, by the submit, from draft');
is_deeply(\%e, api(GET => "/api/proposals/$p{draft}", token => $tok)->{json}{data},
    'carrying the proposal as GET /api/proposals/{id} shows it');
is_deeply([@e{qw(id jobId status readyAt)}], [@$d{qw(id jobId status readyAt)}], 'which agrees with the answer');

$r = api(POST => "/api/proposals/$p{draft}/submit", token => $tok);
is($r->{status}, 200, 'again: 200');
is($r->{json}{data}{readyAt}, $d->{readyAt}, 'the same time: nothing changed');
is(scalar(grep { $_->{type} eq 'proposal:updated' } $tap->collect(0.7, tenant => $T)), 0, 'and no second event');

$r = api(POST => "/api/proposals/$p{nokey}/submit", token => $tok);
is($r->{status}, 409, 'a job without an Upwork key: 409');
like($r->{json}{details}, qr/no Upwork key \(ciphertext\)/, 'said so');
is(psql("SELECT status FROM proposals WHERE id = '$p{nokey}'"), 'draft', 'still a draft');
$r = api(POST => "/api/proposals/$p{sent}/submit", token => $tok);
is($r->{status}, 409, 'a proposal past draft: 409');
like($r->{json}{details}, qr/only a draft can be submitted; this proposal is submitted/, 'said so');

is(api(POST => "/api/proposals/$p{other}/submit", token => $tok)->{status}, 404, "another user's proposal: 404");
is(psql("SELECT status FROM proposals WHERE id = '$p{other}'"), 'draft', 'untouched');
is(api(POST => "/api/proposals/$p{foreign}/submit", token => $tok)->{status}, 404, "another tenant's: 404");
is(api(POST => "/api/proposals/$p{foreign}/submit", token => token(sub => 'user_sub', org => $O))->{status}, 200,
    'its own user in its own tenant can');
is(api(POST => '/api/proposals/' . psql('SELECT gen_random_uuid()') . '/submit', token => $tok)->{status}, 404,
    'an unknown id: 404');
$r = api(POST => '/api/proposals/not-a-uuid/submit', token => $tok);
is($r->{status}, 400, 'not a UUID: 400');
is($r->{json}{code}, 'validation_failed', 'validation_failed');
is(api(POST => "/api/proposals/%27%20OR%201=1--/submit", token => $tok)->{status}, 400, 'an injection attempt: 400');
is(api(POST => "/api/proposals/$p{draft}/submit")->{status}, 401, 'no token: 401');
is(api(POST => "/api/proposals/$p{draft}/submit", token => "$tok" . 'x')->{status}, 401, 'a forged token: 401');
is(api(GET => "/api/proposals/$p{draft}/submit", token => $tok)->{status}, 405, 'GET: 405');

# Two submits at once: one change, one event, both answers agree.
my @pids;
for (1 .. 2) {
    pipe(my $rd, my $wr) or die;
    my $pid = fork // die;
    if (!$pid) {
        close $rd;
        my $x = api(POST => "/api/proposals/$p{twice}/submit", token => $tok);
        print $wr "$x->{status} " . ($x->{json}{data}{readyAt} // '');
        exit 0;
    }
    close $wr;
    push @pids, $rd;
}
my @got = map { local $/; scalar <$_> } @pids;
1 while wait != -1;
is_deeply([map { (split ' ', $_)[0] } @got], [200, 200], 'two submits at once: both 200');
is((split ' ', $got[0])[1], (split ' ', $got[1])[1], 'with the same readyAt');
is(scalar(grep { $_->{type} eq 'proposal:updated' && $_->{data}{id} eq $p{twice} } $tap->collect(1, tenant => $T)), 1,
    'and one event');

done_testing;
