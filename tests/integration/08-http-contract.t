#!/usr/bin/env perl
# 08-http-contract.t: one HTTP contract whoever answers: the web server's own errors (411, 413, 400 for %00, 414/431) with the API's JSON and an X-Request-Id, CORS (preflights, allowed and other origins), HEAD and OPTIONS, one rule for unknown parameters and body fields, the spec at /api/openapi.yaml, the event stream's errors in the API's shape.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my $s = stack();
my $T = 'org_t_httpc';
reset_tenant($T);
my $tok = token(sub => 'user_httpc', org => $T);
my $origin = "http://127.0.0.1:$s->{PORT}";    # the stack allows its own origin (cors_origins)
my $uuid = '00000000-0000-4000-8000-000000000001';

# The API's error body, whoever wrote it.
sub error_body {
    my ($r, $code, $what) = @_;
    my $j = eval { json_decode($r->{body}) } // {};
    ok(($r->{headers}{'content-type'} // '') =~ m{^application/json}, "$what: JSON")
        or diag "$r->{headers}{'content-type'}: " . substr($r->{body}, 0, 200);
    is($j->{code}, $code, "$what: code $code");
    ok(defined $j->{error} && defined $j->{details}, "$what: error and details, as the API's errors");
    like($r->{headers}{'x-request-id'} // '', qr/^[A-Za-z0-9._-]{8,64}$/, "$what: an X-Request-Id");
}

sub raw {
    my ($bytes) = @_;
    my ($status, $body, $resp) = raw_request($bytes);
    my ($head) = split /\r\n\r\n/, $resp, 2;
    my %h;
    for (split /\r\n/, $head // '') { $h{ lc $1 } = $2 if /^([^:\s]+):\s*(.*)$/ }
    return { status => $status, body => $body, headers => \%h };
}

# --- The web server's own errors ------------------------------------------
my $r = raw("POST /api/proposals/$uuid/submit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $tok\r\nConnection: close\r\n\r\n");
is($r->{status}, 411, 'a POST without Content-Length: 411, behind either web server');
error_body($r, 'length_required', '411');
$r = raw("POST /api/proposals/$uuid/submit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $tok\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
is($r->{status}, 404, 'with Content-Length: 0 it reaches the API (no such proposal)');
$r = raw("PUT /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $tok\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n");
is($r->{status}, 400, 'a PUT without Content-Length has no body (RFC 9112): 400, behind either web server');
is(eval { json_decode($r->{body}) }->{code}, 'malformed_json', 'an empty JSON body');

$r = api(POST => '/api/jobs', token => $tok, headers => { 'Content-Type' => 'application/json' },
    body => '{"name":"' . ('x' x (1100 * 1024)) . '"}');
is($r->{status}, 413, 'a body past the web server\'s 1 MiB: 413');
error_body($r, 'payload_too_large', '413 from the web server');
$r = api(POST => '/api/jobs', token => $tok, json => { name => 'x' x 70000 });
is($r->{status}, 413, 'past body_max: the API\'s 413');
error_body($r, 'payload_too_large', '413 from the API');

for my $target ('/api/jobs/%00', '/api/jobs?q=%00', '/api/me%00', '/api/templates/..%2f..%2fetc') {
    $r = raw("GET $target HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $tok\r\nConnection: close\r\n\r\n");
    is($r->{status}, 400, "$target: 400, not a web server's HTML page (nor a 404)");
    error_body($r, 'bad_request', "$target");
}
$r = raw('GET /api/jobs?q=' . ('a' x 70000) . " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
ok($r->{status} == 414 || $r->{status} == 431 || $r->{status} == 400, "a 70 KB URL: $r->{status} (414, 431 or 400: the server's limit)");
error_body($r, { 414 => 'uri_too_long', 431 => 'header_too_large', 400 => 'bad_request' }->{ $r->{status} } // 'none', 'too long a URL');

# --- CORS --------------------------------------------------------------------
$r = api(OPTIONS => '/api/jobs', headers => { Origin => $origin, 'Access-Control-Request-Method' => 'POST',
    'Access-Control-Request-Headers' => 'authorization, content-type' });
is($r->{status}, 204, 'a preflight: 204, without a token');
is($r->{headers}{'access-control-allow-origin'}, $origin, 'the allowed origin echoed');
is($r->{headers}{'access-control-allow-credentials'}, 'true', 'credentials allowed (the __session cookie)');
is($r->{headers}{'access-control-allow-methods'}, 'GET, HEAD, POST, OPTIONS', "the route's methods");
like($r->{headers}{'access-control-allow-headers'} // '', qr/\bAuthorization\b.*\bContent-Type\b.*\bIdempotency-Key\b.*\bIf-None-Match\b/,
    'the headers the API reads');
is($r->{headers}{'access-control-max-age'}, 600, 'max-age');
like($r->{headers}{vary} // '', qr/\bOrigin\b/, 'Vary: Origin');
is($r->{headers}{allow}, 'GET, HEAD, POST, OPTIONS', 'and Allow');
ok(!exists $r->{headers}{'x-ratelimit-limit'}, 'not rate-limited');
$r = api(OPTIONS => '/api/jobs', headers => { Origin => 'https://evil.example', 'Access-Control-Request-Method' => 'POST' });
is($r->{status}, 204, 'a preflight from another origin: answered');
ok(!(grep { /^access-control-/ } keys %{ $r->{headers} }), 'without any Access-Control-* header');
$r = api(GET => '/api/jobs?limit=1', token => $tok, headers => { Origin => $origin });
is($r->{status}, 200, 'a cross-origin GET');
is($r->{headers}{'access-control-allow-origin'}, $origin, 'ACAO');
like($r->{headers}{'access-control-expose-headers'} // '', qr/X-RateLimit-Remaining.*X-Request-Id|X-Request-Id.*X-RateLimit-Remaining/,
    'the rate-limit and request-id headers exposed');
like($r->{headers}{'access-control-expose-headers'} // '', qr/\bX-Cache\b/, 'and X-Cache');
like($r->{headers}{vary} // '', qr/\bOrigin\b/, 'Vary: Origin');
$r = api(GET => '/api/jobs?limit=1', headers => { Origin => $origin });
is($r->{status}, 401, 'without a token: 401');
is($r->{headers}{'access-control-allow-origin'}, $origin, 'which the page can read (ACAO on errors too)');
$r = api(GET => '/api/jobs?limit=1', token => $tok, headers => { Origin => 'https://evil.example' });
is($r->{status}, 200, 'another origin is served (the browser will not let its page read it)');
ok(!exists $r->{headers}{'access-control-allow-origin'}, 'without ACAO');

# --- HEAD and OPTIONS ----------------------------------------------------------
my $get = api(GET => '/api/openapi.yaml');
$r = api(HEAD => '/api/openapi.yaml');
is($r->{status}, $get->{status}, 'HEAD /api/openapi.yaml: the status of GET');
is($r->{body}, '', 'no body');
# lighttpd passes the program's Content-Length on; Apache streams the
# FastCGI answer (flushpackets), GET and HEAD alike, without one.
is($r->{headers}{'content-length'}, $get->{headers}{'content-length'}, 'the Content-Length GET has');
is($r->{headers}{'content-length'}, length($get->{body}), 'which is the length of its body')
    if $s->{WEB} eq 'lighttpd';
is($r->{headers}{'content-type'}, $get->{headers}{'content-type'}, 'its Content-Type');
$get = api(GET => '/api/templates?limit=5', token => $tok);
$r = api(HEAD => '/api/templates?limit=5', token => $tok);
is($r->{status}, 200, 'HEAD of an authenticated route: 200');
is($r->{headers}{'content-length'}, $get->{headers}{'content-length'}, 'with the Content-Length its GET has');
ok(defined $r->{headers}{'x-ratelimit-limit'}, 'rate-limited as GET');
is(api(HEAD => '/api/templates')->{status}, 401, 'HEAD without a token: 401');
$r = api(OPTIONS => "/api/templates/$uuid");
is($r->{status}, 204, 'OPTIONS: 204');
is($r->{headers}{allow}, 'GET, HEAD, PUT, DELETE, OPTIONS', 'Allow: the path\'s methods');
$r = api(PATCH => '/api/jobs', token => $tok, json => {});
is($r->{status}, 405, 'a method the path lacks: 405');
is($r->{headers}{allow}, 'GET, HEAD, POST, OPTIONS', 'Allow lists HEAD and OPTIONS too');
is(api(OPTIONS => '/api/nothing-here')->{status}, 404, 'OPTIONS of no route: 404');

# --- One rule for parameters and bodies -------------------------------------
for my $p ('/api/me', '/api/upwork/status', '/api/usage', "/api/proposals/$uuid") {
    $r = api(GET => "$p?verbose=1", token => $tok);
    is($r->{status}, 400, "$p?verbose=1: 400");
    is_deeply($r->{json}{details}, [{ field => 'verbose', message => 'unknown parameter' }], "$p: naming the parameter");
}
$r = api(GET => '/api/health?verbose=1');
is($r->{status}, 400, '/api/health?verbose=1: 400 (public routes too)');
SKIP: {
    skip 'no broadcaster without Redis (docs/no-redis.md)', 2 if no_redis();
    $r = api(GET => '/api/events?topics=jobs&verbose=1', token => $tok);
    is($r->{status}, 400, '/api/events?verbose=1: 400 (the broadcaster follows the rule)');
    is_deeply($r->{json}{details}, [{ field => 'verbose', message => 'unknown parameter' }], 'naming it as the API does');
}
$r = api(POST => "/api/proposals/$uuid/submit", token => $tok, json => { force => JSON::PP::true });
is($r->{status}, 400, 'submit with a body field: 400');
is_deeply($r->{json}{details}, [{ field => 'force', message => 'unknown field' }], 'naming the field');
is(api(POST => "/api/proposals/$uuid/submit", token => $tok, json => {})->{status}, 404, 'an empty object is no field');

# --- The event stream's errors are the API's ------------------------------------
SKIP: {
    skip 'no broadcaster without Redis (docs/no-redis.md)', 5 if no_redis();
    my $a = api(GET => '/api/jobs');
    my $e = api(GET => '/api/events');
    is($e->{status}, 401, '/api/events without a token: 401');
    is_deeply($e->{json}, $a->{json}, 'the same body as the API\'s 401') or diag "$e->{body} vs $a->{body}";
    is($e->{headers}{'www-authenticate'}, $a->{headers}{'www-authenticate'}, 'and WWW-Authenticate');
    $e = api(GET => '/api/events', token => 'not.a.token');
    is($e->{json}{code}, 'unauthorized', 'a bad token: unauthorized');
    is($e->{json}{details}, api(GET => '/api/jobs', token => 'not.a.token')->{json}{details}, 'saying why, as the API does');
}

# --- The spec, for tools ------------------------------------------------------
$r = api(GET => '/api/openapi.yaml');
is($r->{status}, 200, 'GET /api/openapi.yaml: 200');
like($r->{headers}{'content-type'} // '', qr{^application/yaml}, 'application/yaml');
my $doc = do { local (@ARGV, $/) = ("$s->{ROOT}/docs/openapi.yaml"); <> };
ok($r->{body} eq $doc, 'docs/openapi.yaml as it is');
$r = api(GET => '/api/openapi.yaml', headers => { Origin => 'https://editor.example' });
ok(!exists $r->{headers}{'access-control-allow-origin'}, 'a tool on another origin needs cors_origins like any page');

done_testing;
