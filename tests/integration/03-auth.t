#!/usr/bin/env perl
# 03-auth.t: the authentication matrix over HTTP: missing, forged, alg none, algorithm confusion, expired, nbf, iss, aud, cookies.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;
use UpworkTest;

my $s = stack();
reset_tenant('org_t_auth_v1', 'personal:user_solo');
my $alg = $s->{JWT_ALG};
my $now = time;
my %std = (sub => 'user_auth', o => { id => 'org_t_auth' }, iat => $now, exp => $now + 300);
{
    my $conf = do { local (@ARGV, $/) = ("$s->{RT}/app.conf"); <> };
    $std{iss} = $1 if $conf =~ /^jwt_issuer\s*=\s*(\S+)\s*$/m;
    $std{aud} = $1 if $conf =~ /^jwt_audience\s*=\s*(\S+)\s*$/m;
}
my %hdr = (alg => $alg, typ => 'JWT');
if ($alg eq 'RS256') {
    open my $fh, '<', "$s->{RT}/secrets/jwt-rs256.kid" or die $!;
    $hdr{kid} = <$fh>;
}

sub denied {
    my ($what, %o) = @_;
    my $r = api(GET => '/api/jobs?limit=1', %o);
    is($r->{status}, 401, "$what: 401");
    is($r->{json}{code}, 'unauthorized', "$what: code unauthorized");
    like($r->{headers}{'www-authenticate'} // '', qr/^Bearer .*error="invalid_token"/, "$what: WWW-Authenticate");
    return $r;
}

my $good = sign_token(\%hdr, \%std);
my $r = api(GET => '/api/jobs?limit=1', token => $good);
is($r->{status}, 200, "a valid $alg token: 200") or diag $r->{body};

denied('no token');
denied('garbage', token => 'garbage');
denied('three empty segments', token => '..');
denied('Basic auth', headers => { Authorization => 'Basic dXNlcjpwYXNz' });
(my $forged = $good) =~ s/(.)(.{8})$/($1 eq 'A' ? 'B' : 'A') . $2/e;    # a data bit, never base64 padding
denied('signature altered', token => $forged);
my ($h, $c, $sig) = split /\./, $good;
denied('claims swapped under the old signature',
    token => join('.', $h, b64url(json_encode({ %std, sub => 'user_admin' })), $sig));

for my $none ('none', 'None', 'NONE', 'nOnE') {
    my $t = sign_token({ alg => $none, typ => 'JWT' }, \%std);
    my $r = denied("alg $none", token => $t);
    like($r->{json}{details}, qr/algorithm/, "alg $none: refused for its algorithm");
    denied("alg $none with the real signature appended", token => "$t" . (split /\./, $good)[2]);
}
denied('alg HS512', token => sign_token({ alg => 'HS512', typ => 'JWT' }, \%std, sign_as => 'HS256'));
if ($alg eq 'RS256') {
    open my $fh, '<', "$s->{RT}/secrets/jwt-rs256.pub.pem" or die $!;
    my $pub = do { local $/; <$fh> };
    my $r = denied('HS256 signed with the RS256 public key',
        token => sign_token({ alg => 'HS256', typ => 'JWT', kid => $hdr{kid} }, \%std, key => $pub));
    like($r->{json}{details}, qr/algorithm/, 'algorithm confusion refused for its algorithm');
    open my $kf, '>', "/tmp/other-$$.pem" or die $!;
    print $kf `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null`;
    close $kf;
    denied('RS256 signed by another key', token => sign_token(\%hdr, \%std, keyfile => "/tmp/other-$$.pem"));
    unlink "/tmp/other-$$.pem";
    denied('unknown kid', token => sign_token({ %hdr, kid => 'nope' }, \%std));
} else {
    denied('HS256 with another secret', token => sign_token(\%hdr, \%std, key => 'x' x 48));
    denied('RS256 when HS256 is pinned', token => sign_token({ alg => 'RS256', typ => 'JWT' }, \%std,
        sign_as => 'RS256', keyfile => "$s->{RT}/secrets/jwt-rs256.key"));
}

my $r2 = denied('expired', token => sign_token(\%hdr, { %std, exp => $now - 120 }));
like($r2->{json}{details}, qr/expired/, 'expired: says so');
denied('nbf in the future', token => sign_token(\%hdr, { %std, nbf => $now + 300 }));
denied('iat in the future', token => sign_token(\%hdr, { %std, iat => $now + 300 }));
my %noexp = %std;
delete $noexp{exp};
denied('no exp', token => sign_token(\%hdr, \%noexp));
denied('exp as a string', token => sign_token(\%hdr, { %std, exp => "" . ($now + 300) }));
SKIP: {
    skip 'the stack has no issuer configured', 6 unless $std{iss};
    denied('wrong iss', token => sign_token(\%hdr, { %std, iss => 'https://evil.example' }));
    my %noiss = %std;
    delete $noiss{iss};
    denied('no iss', token => sign_token(\%hdr, \%noiss));
}
SKIP: {
    skip 'the stack has no audience configured', 6 unless $std{aud};
    denied('wrong aud', token => sign_token(\%hdr, { %std, aud => 'someone-else' }));
    $r = api(GET => '/api/jobs?limit=1', token => sign_token(\%hdr, { %std, aud => ['x', $std{aud}] }));
    is($r->{status}, 200, 'aud as an array containing ours: 200');
}
denied('sub with a space', token => sign_token(\%hdr, { %std, sub => 'user x' }));
denied('org with a quote', token => sign_token(\%hdr, { %std, o => { id => "org'x" } }));
# Past 8 kB the web server itself refuses the header (lighttpd 431,
# Apache 400); below that, the API answers.
$r = api(GET => '/api/jobs?limit=1', token => 'a' x 9000);
ok($r->{status} == 400 || $r->{status} == 401 || $r->{status} == 431, "a 9 kB token: refused ($r->{status})");
denied('a 6 kB token', token => 'a.' . ('b' x 6000) . '.c');

$r = api(GET => '/api/jobs?limit=1', headers => { Cookie => "theme=dark; __session=$good" });
is($r->{status}, 200, 'the __session cookie authenticates');
$r = api(GET => '/api/jobs?limit=1', headers => { Cookie => "__session=$forged" });
is($r->{status}, 401, 'a forged __session cookie: 401');
$r = api(GET => '/api/jobs?limit=1', token => $good, headers => { Cookie => "__session=$forged" });
is($r->{status}, 200, 'the Authorization header wins over the cookie');

# A personal account: no organisation, a tenant of its own.
my $personal = sign_token(\%hdr, { %std, sub => 'user_solo', o => undef });
$r = api(POST => '/api/jobs', token => $personal, json => { name => 'solo search' });
is($r->{status}, 201, 'a personal account can save a search');
is(psql("SELECT kind FROM tenants WHERE id = 'personal:user_solo'"), 'personal', 'in its personal tenant');
my $v1 = sign_token(\%hdr, { %std, sub => 'user_v1', o => undef, org_id => 'org_t_auth_v1' });
$r = api(POST => '/api/jobs', token => $v1, json => { name => 'v1 search' });
is($r->{status}, 201, 'a Clerk v1 token (org_id) works');
is(psql("SELECT count(*) FROM job_searches WHERE tenant_id = 'org_t_auth_v1'"), 1, 'in the org_id tenant');
# Issue 15: a v2 token takes its tenant from o.id only, never from org_id.
my $v2 = sign_token(\%hdr, { %std, sub => 'user_v2', v => 2, o => undef, org_id => 'org_t_auth_v1' });
$r = api(POST => '/api/jobs', token => $v2, json => { name => 'v2 search' });
is($r->{status}, 201, 'a v2 token without o, with org_id: served');
is(psql("SELECT count(*) FROM job_searches WHERE tenant_id = 'org_t_auth_v1' AND user_id = 'user_v2'"), 0,
    'not in the org_id tenant');
is(psql("SELECT count(*) FROM job_searches WHERE tenant_id = 'personal:user_v2'"), 1, 'in its personal tenant');
denied('exp 1e300 (outside time_t)', token => sign_token(\%hdr, '{"sub":"user_x","exp":1e300}'));
denied('a claim twice', token => sign_token(\%hdr, '{"sub":"user_x","exp":9999999999,"sub":"user_y"}'));
denied('a crit header', token => sign_token({ %hdr, crit => ['exp'] }, { %std, sub => 'user_x' }));

# Issue 15: a cookie-authenticated POST from another site (a text/plain
# body-less form needs no preflight) is refused; from an allowed origin,
# this site, or with a bearer token it is served.
my $cors = conf_value('cors_origins') // '';
my ($allowed) = split /\s*,\s*/, $cors;
my $host = "127.0.0.1:$s->{PORT}";
my $csrf = sub { api(POST => '/api/jobs', headers => { Cookie => "__session=$good", %{ $_[0] } },
    json => { name => 'csrf ' . int(rand(1e9)) }) };
$r = $csrf->({ Origin => 'https://evil.example' });
is($r->{status}, 403, 'a cookie POST with a foreign Origin: 403');
is($r->{json}{code}, 'forbidden', 'code forbidden');
$r = $csrf->({});
is($r->{status}, 403, 'a cookie POST with neither Origin nor Referer: 403');
$r = $csrf->({ Referer => 'https://evil.example/x' });
is($r->{status}, 403, 'a cookie POST with a foreign Referer: 403');
$r = $csrf->({ Origin => "http://$host" });
is($r->{status}, 201, 'a cookie POST from the API\'s own origin: 201') or diag $r->{body};
SKIP: {
    skip 'no cors_origins in this pass', 1 unless $allowed;
    is($csrf->({ Origin => $allowed })->{status}, 201, "a cookie POST from an allowed origin ($allowed): 201");
}
$r = api(POST => '/api/jobs', token => $good, headers => { Origin => 'https://evil.example' },
    json => { name => 'bearer ' . int(rand(1e9)) });
is($r->{status}, 201, 'a bearer POST from any Origin: 201 (no cookie, no forgery)');

# The token never reaches the logs.
my $logs = `cat '$s->{RT}'/log/*.log 2>/dev/null`;
ok(index($logs, $good) < 0 && index($logs, (split /\./, $good)[2]) < 0, 'no token or signature in any log');

done_testing;
