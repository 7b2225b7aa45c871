#!/usr/bin/env perl
# 01-basics.t: health, the common headers, request ids, unknown routes (404) and wrong methods (405), as JSON.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my $r = api(GET => '/api/health');
is($r->{status}, 200, 'health answers 200');
is($r->{json}{status}, 'ok', 'health: status ok');
ok($r->{json}{checks}{postgres}{ok}, 'health: PostgreSQL reachable');
if (no_redis()) {
    ok(!exists $r->{json}{checks}{redis}, 'health: no Redis configured, no Redis check');
} else {
    ok($r->{json}{checks}{redis}{ok}, 'health: Redis reachable');
}
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON content type');
is($r->{headers}{'x-content-type-options'}, 'nosniff', 'nosniff');
is($r->{headers}{'cache-control'}, 'no-store', 'Cache-Control: no-store');
like($r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/, 'a request id is generated');

$r = api(GET => '/api/health', headers => { 'X-Request-Id' => 'trace-abc.123_x' });
is($r->{headers}{'x-request-id'}, 'trace-abc.123_x', 'a sane X-Request-Id is echoed');
$r = api(GET => '/api/health', headers => { 'X-Request-Id' => 'bad id with spaces' });
like($r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/, 'an unusable X-Request-Id is replaced');

for my $path ('/api/nothing-here', '/api/jobs/extra/segments', '/api/health/x') {
    $r = api(GET => $path, token => token());
    is($r->{status}, 404, "$path is 404");
    is($r->{json}{code}, 'not_found', "$path: JSON error with a code");
}

$r = api(DELETE => '/api/jobs', token => token());
is($r->{status}, 405, 'DELETE /api/jobs is 405');
is($r->{headers}{allow}, 'GET, HEAD, POST, OPTIONS', 'Allow lists the methods (HEAD wherever GET, OPTIONS everywhere)');
is($r->{json}{code}, 'method_not_allowed', '405 body is JSON');
$r = api(POST => '/api/health', json => {});
is($r->{status}, 405, 'POST /api/health is 405');
is($r->{headers}{allow}, 'GET, HEAD, OPTIONS', 'Allow: GET, HEAD, OPTIONS');
$r = api(PUT => '/api/job-searches/00000000-0000-0000-0000-000000000000', token => token());
is($r->{status}, 405, 'PUT on a saved search is 405');
is($r->{headers}{allow}, 'DELETE, OPTIONS', 'Allow: DELETE, OPTIONS');

$r = api(GET => '/api/jobs');
is($r->{status}, 401, 'no token is 401');
like($r->{headers}{'www-authenticate'}, qr/^Bearer .*error="invalid_token"/, 'WWW-Authenticate on 401');
is_deeply([sort keys %{ $r->{json} }], [qw(code details error)], '401 body has error, code, details');

done_testing;
