#!/usr/bin/env perl
# 50-upwork-oauth.t: connecting Upwork: signed single-use states, the code exchange, tokens sealed and never shown, refresh with rotation, revocation, disconnecting.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Digest::SHA qw(hmac_sha256);
use ApiTest;
use MIME::Base64 ();
use UpworkTest;

my ($T, $T2, $TR) = ('org_t_oauth', 'org_t_oauth_2', 'org_t_oauth_r');
reset_tenant($T, $T2, $TR);
fake_reset($T, $T2, $TR, "$T-x", "$T-y");
my $tok = token(sub => 'user_oa', org => $T);
my $s = stack();

# --- connect -----------------------------------------------------------------
my $r = api(GET => '/api/upwork/connect');
is($r->{status}, 401, 'connect needs a token');
$r = api(GET => '/api/upwork/connect?organization=bad%20org', token => $tok);
is($r->{status}, 400, 'a malformed organization: 400');
is($r->{json}{code}, 'validation_failed', 'validation_failed');
$r = api(GET => '/api/upwork/connect?foo=1', token => $tok);
is($r->{status}, 400, 'an unknown parameter: 400');
$r = api(GET => '/api/upwork/connect', token => $tok);
is($r->{status}, 200, 'connect: 200');
my $auth = $r->{json}{data}{authorizeUrl};
my $base = conf_value('upwork_authorize_url');
my $redirect = conf_value('upwork_redirect_uri');
(my $enc = $redirect) =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
like($auth, qr/^\Q$base\E\?response_type=code&client_id=upw-test-client&redirect_uri=\Q$enc\E&state=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
    "the authorize URL: Upwork's page, our client id and redirect URL, a signed state");
my ($state) = $auth =~ /state=([^&]+)$/;
is($r->{json}{data}{state}, $state, 'the state is also given alone');
is(psql("SELECT count(*) FROM upwork_oauth_states WHERE tenant_id = '$T' AND expires_at > now() + interval '590 seconds'"),
    '1', 'its nonce is stored for the tenant, valid for upwork_state_ttl');

# Issue 15: connecting changes the whole organisation: its admin role only.
my $member = token(sub => 'user_member', org => $T, claims => { o => { id => $T, rol => 'member' } });
$r = api(GET => '/api/upwork/connect', token => $member);
is($r->{status}, 403, 'connect by a member without the admin role: 403');
like($r->{json}{details} // '', qr/admin role/, 'saying why');
$r = api(GET => "/api/upwork/callback?code=x&state=$state", token => $member);
is($r->{status}, 403, 'the callback by a member: 403');
is(api(DELETE => '/api/upwork/connection', token => $member)->{status}, 403, 'disconnect by a member: 403');
is(api(GET => '/api/upwork/status', token => $member)->{status}, 200, 'the status is for every member');
my $v1admin = token(sub => 'user_oa_v1', claims => { o => undef, org_id => $T, org_role => 'org:admin' });
is(api(GET => '/api/upwork/connect', token => $v1admin)->{status}, 200, 'a v1 token with org_role org:admin: 200');

# --- the flow ------------------------------------------------------------------------
$r = connect_upwork(tenant => $T, user => 'user_oa', account => $T);
is($r->{status}, 200, 'callback: 200') or diag $r->{body};
is_deeply($r->{json}{data}, { connected => JSON::PP::true, tenant => $T, expiresIn => 86399 },
    'connected, for the tenant of the state');
is(fake(GET => "/_fake/$T")->{codeExchanges}, 1, 'the code was exchanged once');
is($r->{headers}{'x-ratelimit-limit'}, 30, 'the callback is in the upwork rate class (30/min)');
like($r->{headers}{'ratelimit-policy'}, qr/^"upwork"/, 'RateLimit-Policy upwork');
my $again = api(GET => do { (my $p = $r->{location}) =~ s{^https?://[^/]+}{}; $p }, token => $tok);
is($again->{status}, 400, 'the same callback again: 400');
like($again->{json}{details}, qr/already used or has expired/, 'the state works once');

$r = api(GET => '/api/upwork/status', token => $tok);
is($r->{status}, 200, 'status: 200');
is($r->{json}{data}{connected}, JSON::PP::true, 'connected');
is($r->{json}{data}{connectedBy}, 'user_oa', 'by the user who consented');
ok($r->{json}{data}{accessExpiresAt}, 'when the access token expires');
is(api(GET => '/api/upwork/status', token => token(sub => 'user_oa', org => $T2))->{json}{data}{status},
    'none', "another tenant has no connection (it cannot see this one)");

# The tokens: sealed in the database, never answered, never logged.
my $toks = fake(GET => "/_fake/$T")->{tokens};
is(scalar @$toks, 2, 'the fake issued an access and a refresh token');
my $row = psql("SELECT row_to_json(a) FROM upwork_accounts a WHERE tenant_id = '$T'");
diag "row: $row, tokens: @$toks" if $ENV{TEST_VERBOSE};
like(psql("SELECT access_token || ' ' || refresh_token FROM upwork_accounts WHERE tenant_id = '$T'"),
    qr/^v1\.[A-Za-z0-9_-]{40,} v1\.[A-Za-z0-9_-]{40,}$/, 'stored sealed (v1.<AES-256-GCM>)');
ok(index($row, $toks->[0]) < 0 && index($row, $toks->[1]) < 0, 'no plain token anywhere in the row');
ok(index($r->{body}, $toks->[0]) < 0 && index($r->{body}, $toks->[1]) < 0, 'nor in the status answer');
is(psql_app("SELECT count(*) FROM upwork_accounts"), '0', 'the app role without a tenant sees no account');
is(psql_app("BEGIN; SELECT set_config('app.tenant_id', '$T2', true); SELECT count(*) FROM upwork_accounts WHERE tenant_id = '$T'; COMMIT;"),
    "$T2\n0", "nor with another tenant set (RLS)");
is(psql_app("SELECT count(*) FROM upwork_oauth_states"), '0', 'nor any OAuth state');

# --- bad callbacks ----------------------------------------------------------------------
$r = api(GET => '/api/upwork/callback?code=abc', token => $tok);
is($r->{status}, 400, 'no state: 400');
like($r->{json}{details}, qr/state is invalid or expired/, 'a clear reason');
$r = api(GET => '/api/upwork/connect', token => $tok);
($state) = $r->{json}{data}{authorizeUrl} =~ /state=([^&]+)$/;
(my $forged = $state) =~ s/^(.{5})(.)/$1 . ($2 eq 'A' ? 'B' : 'A')/e;
is(api(GET => "/api/upwork/callback?code=abc&state=$forged", token => $tok)->{status}, 400, 'an altered state: 400');
is(api(GET => '/api/upwork/callback?code=abc&state=' . ('A' x 5000), token => $tok)->{status}, 400, 'a huge state: 400');
is(api(GET => '/api/upwork/callback?code=abc&state=%00%01', token => $tok)->{status}, 400, 'control bytes: 400');

# States signed with the real key: expired, or naming a nonce that was never issued.
my $master = do { local (@ARGV, $/) = ("$s->{RT}/secrets/upwork-token.key"); <> };
$master =~ s/[\r\n ]+$//;
my $signkey = hmac_sha256('upwork-api/state-sign/v1', $master);
my $sign = sub {
    my $p = b64url(json_encode($_[0]));
    return $p . '.' . b64url(hmac_sha256($p, $signkey));
};
my $expired = $sign->({ t => $T, u => 'user_oa', n => 'a' x 32, e => time() - 5 });
$r = api(GET => "/api/upwork/callback?code=abc&state=$expired", token => $tok);
is($r->{status}, 400, 'a correctly signed but expired state: 400');
like($r->{json}{details}, qr/invalid or expired/, 'said so');
my $unknown = $sign->({ t => $T, u => 'user_oa', n => 'b' x 32, e => time() + 300 });
$r = api(GET => "/api/upwork/callback?code=abc&state=$unknown", token => $tok);
is($r->{status}, 400, 'a signed state whose nonce was never issued: 400');
like($r->{json}{details}, qr/already used or has expired/, 'said so');

# The callback belongs to the user who started the flow (RFC 6749 10.12):
# no session, another user's, or another tenant's is refused, and the
# authorization stays usable by its owner.
$r = api(GET => '/api/upwork/connect', token => $tok);
my ($own) = $r->{json}{data}{authorizeUrl} =~ /state=([^&]+)$/;
is(api(GET => "/api/upwork/callback?code=abc&state=$own")->{status}, 401, 'a callback without a session: 401');
$r = api(GET => "/api/upwork/callback?code=abc&state=$own", token => token(sub => 'user_oa_other', org => $T));
is($r->{status}, 400, "another user of the tenant presenting someone's authorization: 400");
like($r->{json}{details}, qr/started by another user/, 'said so');
$r = api(GET => "/api/upwork/callback?code=abc&state=$own", token => token(sub => 'user_victim', org => $T2));
is($r->{status}, 400, "a user of another tenant presenting it (the account-linking CSRF): 400");
my ($own_nonce) = json_decode(do { my $p = (split /\./, $own)[0]; $p =~ tr{-_}{+/}; MIME::Base64::decode_base64($p) })->{n};
is(psql("SELECT count(*) FROM upwork_oauth_states WHERE tenant_id = '$T' AND nonce = '$own_nonce'"), '1',
    'the authorization is not spent by those attempts');
# A real nonce of $T, re-signed for $T2 and presented by a user of $T2.
my $other = $sign->({ t => $T2, u => 'user_oa2', n => $own_nonce, e => time() + 300 });
$r = api(GET => "/api/upwork/callback?code=abc&state=$other", token => token(sub => 'user_oa2', org => $T2));
is($r->{status}, 400, "a state naming another tenant does not find this tenant's nonce (RLS)");
like($r->{json}{details}, qr/already used or has expired/, 'as if it never existed');
is(psql("SELECT count(*) FROM upwork_oauth_states WHERE tenant_id = '$T' AND nonce = '$own_nonce'"), '1',
    "and ${T}'s nonce is still there");

# The user declines on Upwork: the state is spent, nothing connected.
$r = api(GET => "/api/upwork/callback?error=access_denied&state=$state", token => $tok);
is($r->{status}, 400, 'declined on Upwork: 400');
like($r->{json}{details}, qr/not granted on Upwork \(access_denied\)/, 'with the reason Upwork gave');
is(api(GET => "/api/upwork/callback?code=abc&state=$state", token => $tok)->{status}, 400, 'and the state is spent');

# A code Upwork refuses; a token endpoint that fails.
$r = api(GET => '/api/upwork/connect', token => $tok);
($state) = $r->{json}{data}{authorizeUrl} =~ /state=([^&]+)$/;
$r = api(GET => "/api/upwork/callback?code=code_forged&state=$state", token => $tok);
is($r->{status}, 400, 'a code Upwork does not know: 400');
like($r->{json}{details}, qr/Upwork refused the authorization code/, 'said so');
$r = api(GET => '/api/upwork/connect', token => $tok);
($state) = $r->{json}{data}{authorizeUrl} =~ /state=([^&]+)$/;
$r = api(GET => "/api/upwork/callback?code=has%20space&state=$state", token => $tok);
is($r->{status}, 400, 'a code that cannot be one: 400');
fake(POST => "/_fake/$T-x/config", { tokenFailNext => [{ status => 500 }] });
$r = connect_upwork(tenant => $T2, user => 'user_oa2', account => "$T-x");
is($r->{status}, 502, "Upwork's token endpoint fails: 502");
is($r->{json}{code}, 'bad_gateway', 'bad_gateway');
like($r->{json}{details}, qr/answered HTTP 500/, 'with what Upwork answered');
is(psql("SELECT count(*) FROM upwork_accounts WHERE tenant_id = '$T2'"), '0', 'nothing stored');

# --- refresh with rotation ----------------------------------------------------------------
# Tokens that live 60 s are always within upwork_refresh_skew (300 s): every use refreshes.
fake(POST => "/_fake/$TR/config", { expiresIn => 60 });
my $tokr = token(sub => 'user_oar', org => $TR);
is(connect_upwork(tenant => $TR, user => 'user_oar', account => $TR)->{status}, 200, 'a tenant with short-lived tokens connects');
api(POST => '/api/jobs', token => $tokr, json => { name => 'anything' });
$r = poll_now($tokr);
is($r->{status}, 200, 'POST /api/upwork/poll: 200') or diag $r->{body};
is($r->{json}{data}{new}, 15, 'it polled with a refreshed token');
is($r->{headers}{'x-ratelimit-limit'}, 30, 'in the upwork rate class');
my $st = fake(GET => "/_fake/$TR");
is($st->{refreshes}, 1, 'one refresh');
is(psql("SELECT token_generation, refreshed_at IS NOT NULL FROM upwork_accounts WHERE tenant_id = '$TR'"), '2|t',
    'the new pair is stored (generation 2)');
$r = poll_now($tokr);
is($r->{status}, 200, 'again');
$st = fake(GET => "/_fake/$TR");
is($st->{refreshes}, 2, 'refreshed with the rotated token');
is($st->{refreshRejected}, 0, 'no refresh token was ever used twice');
ok(index(`cat '$s->{RT}'/log/*.log`, $_) < 0, 'the token is in no log file') for @{ $st->{tokens} };
ok(index(`cat '$s->{RT}'/log/*.log`, $_) < 0, 'the first pair is in no log file either') for @$toks;

# --- revoked ----------------------------------------------------------------------------
fake(POST => "/_fake/$TR/revoke");
$r = poll_now($tokr);
is($r->{status}, 409, 'the user revoked the app on Upwork: the next call is a 409');
is($r->{json}{code}, 'upwork_not_connected', 'upwork_not_connected');
is($r->{json}{error}, 'Upwork account not connected', 'a clear error');
like($r->{json}{details}, qr/connect again/, 'saying what to do');
$r = api(GET => '/api/upwork/status', token => $tokr);
is($r->{json}{data}{status}, 'disconnected', 'the tenant is marked disconnected');
like($r->{json}{data}{reason}, qr/revoked or expired/, 'with the reason');
is(psql("SELECT access_token IS NULL AND refresh_token IS NULL FROM upwork_accounts WHERE tenant_id = '$TR'"), 't',
    'the dead tokens are gone');
my $run = run_cron('poll-jobs', args => ['--tenant', $TR]);
is($run->{exit}, 0, 'poll-jobs afterwards: exit 0');
like($run->{msgs}, qr/tenant $TR has no poll work/, 'the disconnected tenant is not polled');
is(poll_now($tokr)->{status}, 409, 'and stays disconnected');
fake(POST => "/_fake/$TR/reset");
is(connect_upwork(tenant => $TR, user => 'user_oar', account => $TR)->{status}, 200, 'connecting again works');
is(api(GET => '/api/upwork/status', token => $tokr)->{json}{data}{status}, 'connected', 'connected again');

# --- disconnect ------------------------------------------------------------------------
is(poll_now(token(sub => 'u', org => 'org_t_oauth_none'))->{status}, 409,
    'polling without a connection: 409');
$r = api(DELETE => '/api/upwork/connection', token => $tok);
is($r->{status}, 200, 'DELETE /api/upwork/connection: 200');
is(api(DELETE => '/api/upwork/connection', token => $tok)->{status}, 404, 'again: 404');
is(api(GET => '/api/upwork/status', token => $tok)->{json}{data}{status}, 'none', 'no connection');
is(api(GET => '/api/upwork/nothing', token => $tok)->{status}, 404, 'an unknown /api/upwork route: 404');
is(api(POST => '/api/upwork/status', token => $tok)->{status}, 405, 'a wrong method: 405');

done_testing;
