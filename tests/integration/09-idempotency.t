#!/usr/bin/env perl
# 09-idempotency.t: Idempotency-Key on POST and PATCH: the first response replayed (Idempotent-Replayed), one row and one provider call for a retried generate, 409 while the first runs, 422 for another body, 400 for a bad key, scoped by tenant and user, 5xx not kept, expiry, RLS, and the prune.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time sleep);
use ApiTest;
use UpworkTest;

my $T = 'org_t_idem';
my $O = 'org_t_idem_other';
reset_tenant($T, $O);
my $tok = token(sub => 'user_i', org => $T);
my $tok2 = token(sub => 'user_i2', org => $T);
my $other = token(sub => 'user_i', org => $O);
psql(<<"SQL");
INSERT INTO tenants (id, kind, ai_provider) VALUES ('$T', 'org', 'openai'), ('$O', 'org', 'builtin');
INSERT INTO users (tenant_id, id, name, title, skills, hourly_rate, bio) VALUES
  ('$T', 'user_i', 'Ida Idem', 'API engineer', '{postgresql,c}', 90, 'APIs.');
SQL
my $run = "$$-" . int(rand(1e9));
my $n = 0;
sub job {
    my ($directive) = @_;
    $n++;
    return ai_job($T, $directive, upwork_id => "i-$n", title => 'Build a C service',
        about => 'C and PostgreSQL work.', skills => ['c', 'postgresql']);
}
my $rows = sub { ai_rows($T) };
my $gen = sub {
    my ($key, $body, %o) = @_;
    api(POST => '/api/ai/proposals/generate', token => $o{token} // $tok, json => $body,
        headers => { defined $key ? ('Idempotency-Key' => $key) : () });
};

# --- A retried generate runs once and bills once -------------------------
my $job = job("[[fake:normal,id=idem-gen-$run]]");
my $key = "gen-$run";
my $r1 = $gen->($key, { jobId => $job, maxWords => 150 });
is($r1->{status}, 200, 'generate with a key: 200') or diag $r1->{body};
ok(!defined $r1->{headers}{'idempotent-replayed'}, 'the first answer is not a replay');
is($rows->(), '1,1', 'one proposal, one usage row');
my $r2 = $gen->($key, { jobId => $job, maxWords => 150 });
is($r2->{status}, 200, 'the same key again: 200');
is($r2->{headers}{'idempotent-replayed'}, 'true', 'Idempotent-Replayed: true');
is($r2->{body}, $r1->{body}, 'the same body, byte for byte');
is($r2->{headers}{'content-type'}, $r1->{headers}{'content-type'}, 'the same Content-Type');
isnt($r2->{headers}{'x-request-id'}, $r1->{headers}{'x-request-id'}, 'its own request id');
ok(defined $r2->{headers}{'x-ratelimit-remaining'}, 'its own rate-limit headers');
is(scalar @{ fake_log("idem-gen-$run") }, 1, 'the provider was called once (the fake\'s log)');
is($rows->(), '1,1', 'still one proposal and one usage row: billed once');
my $r3 = $gen->(undef, { jobId => $job, maxWords => 150 });
is($r3->{status}, 200, 'without a key: runs');
is($rows->(), '2,2', 'and is billed');

# --- A stream is kept whole and replayed ---------------------------------
my $sjob = job("[[fake:normal,id=idem-stream-$run]]");
my $st = sub { api(POST => '/api/ai/proposals/stream', token => $tok, json => { jobId => $sjob, maxWords => 120 },
    headers => { 'Idempotency-Key' => "stream-$run" }) };
my $s1 = $st->();
is($s1->{status}, 200, 'a stream with a key: 200') or diag $s1->{body};
like($s1->{body}, qr/^data: \{"delta"/m, 'an event stream of deltas');
my $s2 = $st->();
is($s2->{headers}{'idempotent-replayed'}, 'true', 'the same key: replayed');
is($s2->{body}, $s1->{body}, 'every event, as the first time');
like($s2->{headers}{'content-type'} // '', qr{^text/event-stream}, 'as an event stream');
is(scalar @{ fake_log("idem-stream-$run") }, 1, 'one provider call');

# --- Another body with the key: 422 ---------------------------------------
my $r = $gen->($key, { jobId => $job, maxWords => 151 });
$rows->() eq '3,3' or diag 'rows: ' . $rows->();
is($r->{status}, 422, 'the key with another body: 422');
is($r->{json}{code}, 'idempotency_key_reused', 'code idempotency_key_reused');
$r = api(POST => '/api/ai/proposals/generate?x=1', token => $tok, json => { jobId => $job, maxWords => 150 },
    headers => { 'Idempotency-Key' => $key });
is($r->{status}, 400, 'a query the route does not take is still refused first (400)');
is($rows->(), '3,3', 'nothing ran');

# --- Scope: tenant and user, method and path -------------------------------
$r = $gen->($key, { jobId => $job, maxWords => 150 }, token => $tok2);
isnt($r->{headers}{'idempotent-replayed'} // '', 'true', 'another user of the tenant with the key: not a replay');
$r = api(POST => '/api/templates', token => $tok, json => { name => "T $run", content => 'Hello {clientName}' },
    headers => { 'Idempotency-Key' => $key });
is($r->{status}, 201, 'the key on another route: its own request (201)') or diag $r->{body};
my $tpl = $r->{json}{data}{id};
$r = api(POST => '/api/templates', token => $tok, json => { name => "T $run", content => 'Hello {clientName}' },
    headers => { 'Idempotency-Key' => $key });
is($r->{status}, 201, 'a retried create: 201 again');
is($r->{headers}{'idempotent-replayed'}, 'true', 'replayed');
is($r->{json}{data}{id}, $tpl, 'the same template');
is(psql("SELECT count(*) FROM proposal_templates WHERE tenant_id = '$T' AND name = 'T $run'"), 1, 'one row');
$r = api(POST => '/api/templates', token => $other, json => { name => "T $run", content => 'Hello {clientName}' },
    headers => { 'Idempotency-Key' => $key });
is($r->{status}, 201, 'the same user and key in another tenant: runs');
ok(!defined $r->{headers}{'idempotent-replayed'}, 'not a replay of the first tenant\'s');
isnt($r->{json}{data}{id}, $tpl, 'its own template');

# --- Bad keys --------------------------------------------------------------
$r = api(POST => '/api/templates', token => $tok, json => { name => 'x', content => 'y' },
    headers => { 'Idempotency-Key' => 'k' x 256 });
is($r->{status}, 400, 'a 256-character key: 400');
like($r->{json}{details} // '', qr/Idempotency-Key must be 1 to 255 printable/, 'saying what a key is');
$r = api(POST => '/api/templates', token => $tok, json => { name => "K255 $run", content => 'y' },
    headers => { 'Idempotency-Key' => 'k' x 255 });
is($r->{status}, 201, 'a 255-character key: fine');

# --- A duplicate while the first runs: 409 ---------------------------------
my $slow = job("[[fake:slow,ms=2500,id=idem-slow-$run]]");
my $skey = "slow-$run";
my $out = "/tmp/idem-$$.status";
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
    my $x = $gen->($skey, { jobId => $slow, maxWords => 150 });
    open my $fh, '>', $out or die;
    print $fh $x->{status};
    close $fh;
    exit 0;
}
sleep 0.8;
my $t0 = time;
$r = $gen->($skey, { jobId => $slow, maxWords => 150 });
is($r->{status}, 409, 'the same key while the first request runs: 409');
is($r->{json}{code}, 'idempotency_key_in_use', 'code idempotency_key_in_use');
ok(defined $r->{headers}{'retry-after'}, 'with Retry-After');
ok(time - $t0 < 1.5, 'at once, not after the first');
waitpid($pid, 0);
is(scalar(do { local (@ARGV, $/) = $out; <> }), '200', 'the first one ends with 200');
unlink $out;
$r = $gen->($skey, { jobId => $slow, maxWords => 150 });
is($r->{headers}{'idempotent-replayed'}, 'true', 'then the key replays it');
is(scalar @{ fake_log("idem-slow-$run") }, 1, 'one provider call in all');

# --- A failure is not kept: the retry runs ---------------------------------
my $bad = job("[[fake:badkey,id=idem-bad-$run]]");
$r = $gen->("bad-$run", { jobId => $bad, maxWords => 150 });
ok($r->{status} >= 500, "a provider failure: $r->{status}");
$r = $gen->("bad-$run", { jobId => $bad, maxWords => 150 });
ok(!defined $r->{headers}{'idempotent-replayed'}, 'the retry is not a replay of the failure');
is(scalar @{ fake_log("idem-bad-$run") }, 2, 'it reached the provider again');

# --- PATCH ------------------------------------------------------------------
my $pid1 = psql("SELECT id FROM proposals WHERE tenant_id = '$T' ORDER BY created_at LIMIT 1");
$r = api(PATCH => "/api/proposals/$pid1", token => $tok, json => { status => 'submitted' },
    headers => { 'Idempotency-Key' => "patch-$run" });
my $first = $r->{status};
$r = api(PATCH => "/api/proposals/$pid1", token => $tok, json => { status => 'submitted' },
    headers => { 'Idempotency-Key' => "patch-$run" });
is($r->{headers}{'idempotent-replayed'}, 'true', "a PATCH replays too ($first)");
is($r->{status}, $first, 'with the first status');

# --- Storage: PostgreSQL, under RLS, expiry, prune --------------------------
is(psql("SELECT count(*) FROM idempotency_keys WHERE tenant_id = '$T' AND user_id = 'user_i' AND key = '$key'"), 2,
    'rows in PostgreSQL: the key on two routes');
is(psql_app("SELECT count(*) FROM idempotency_keys"), 0, 'the API\'s role sees no row without a tenant (RLS)');
is(psql_app("BEGIN; SELECT set_config('app.tenant_id', '$O', true); SELECT count(*) FROM idempotency_keys"
    . " WHERE tenant_id = '$T'; COMMIT;") =~ s/\D//gr =~ s/^$O//r, '0', 'nor another tenant\'s');
psql("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = '$T' AND key = '$key'"
    . " AND path = '/api/templates'");
$r = api(POST => '/api/templates', token => $tok, json => { name => "T2 $run", content => 'Hello {clientName}' },
    headers => { 'Idempotency-Key' => $key });
is($r->{status}, 201, 'an expired key: a new request, whatever its body');
ok(!defined $r->{headers}{'idempotent-replayed'}, 'not a replay');
psql("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = '$T'");
my $pr = run_cron('prune', args => ['--tenant', $T]);
is(psql("SELECT count(*) FROM idempotency_keys WHERE tenant_id = '$T'"), 0, 'the prune deletes expired keys')
    or diag $pr->{msgs};
like($pr->{msgs}, qr/[1-9]\d* idempotency keys deleted/, 'and says so');

reset_tenant($T, $O);
done_testing();
