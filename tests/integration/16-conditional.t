#!/usr/bin/env perl
# 16-conditional.t: conditional requests in every mode: ETag on each GET's 200, If-None-Match answered 304 until the content changes, If-Match on PUT and DELETE answered 412 when the resource changed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my $T = 'org_t_cond';
reset_tenant($T);
my $tok = token(sub => 'user_cond', org => $T);
my $tag_re = qr/^"[A-Za-z0-9_-]{24}"$/;

# A list.
my $r = api(GET => '/api/job-searches', token => $tok);
my $tag = $r->{headers}{etag};
like($tag // '', $tag_re, 'a list GET carries a strong ETag');
is(api(GET => '/api/job-searches', token => $tok)->{headers}{etag}, $tag, 'the same content: the same ETag');
$r = api(GET => '/api/job-searches', token => $tok, headers => { 'If-None-Match' => $tag });
is($r->{status}, 304, 'If-None-Match with it: 304');
is($r->{body} // '', '', 'without a body');
is($r->{headers}{etag}, $tag, 'and with the ETag');
is(api(GET => '/api/job-searches', token => $tok, headers => { 'If-None-Match' => "\"other\", W/$tag" })->{status},
    304, 'a list of tags naming it, weakly: 304');
is(api(GET => '/api/job-searches', token => $tok, headers => { 'If-None-Match' => '*' })->{status}, 304, '*: 304');
is(api(GET => '/api/job-searches', token => $tok, headers => { 'If-None-Match' => '"other"' })->{status},
    200, 'another tag: 200');
is(api(HEAD => '/api/job-searches', token => $tok, headers => { 'If-None-Match' => $tag })->{status}, 304,
    'HEAD: 304 too');
$r = api(POST => '/api/jobs', token => $tok, json => { name => 'Conditional' });
is($r->{status}, 201, 'a search is saved');
$r = api(GET => '/api/job-searches', token => $tok, headers => { 'If-None-Match' => $tag });
is($r->{status}, 200, 'the list changed: the old tag gets 200');
isnt($r->{headers}{etag}, $tag, 'with a new ETag');
ok(!defined api(POST => '/api/jobs', token => $tok, json => { name => 'x' })->{headers}{etag},
    'a POST\'s answer carries no ETag');

# A resource: If-Match on PUT and DELETE.
$r = api(POST => '/api/templates', token => $tok, json => { name => 'Cond', content => 'Hello {{client_name}}' });
my $id = $r->{json}{data}{id};
ok($id, 'a template');
my $t1 = api(GET => "/api/templates/$id", token => $tok)->{headers}{etag};
like($t1 // '', $tag_re, 'its GET has an ETag');
$r = api(PUT => "/api/templates/$id", token => $tok, headers => { 'If-Match' => '"stale"' },
    json => { name => 'Lost', content => 'x' });
is($r->{status}, 412, 'PUT with a tag it does not have: 412');
is($r->{json}{code}, 'precondition_failed', 'precondition_failed');
is($r->{headers}{etag}, $t1, 'with the current ETag');
is(api(GET => "/api/templates/$id", token => $tok)->{json}{data}{name}, 'Cond', 'and nothing was written');
is(api(PUT => "/api/templates/$id", token => $tok, headers => { 'If-Match' => "W/$t1" },
    json => { name => 'Lost', content => 'x' })->{status}, 412, 'a weak tag never satisfies If-Match');
$r = api(PUT => "/api/templates/$id", token => $tok, headers => { 'If-Match' => $t1 },
    json => { name => 'Kept', content => 'Hi {{client_name}}' });
is($r->{status}, 200, 'PUT with the current tag: 200');
my $t2 = api(GET => "/api/templates/$id", token => $tok)->{headers}{etag};
isnt($t2, $t1, 'the resource has a new tag');
is(api(DELETE => "/api/templates/$id", token => $tok, headers => { 'If-Match' => $t1 })->{status}, 412,
    'DELETE with the old tag (someone changed it meanwhile): 412');
is(api(DELETE => "/api/templates/$id", token => $tok, headers => { 'If-Match' => "\"a\", $t2" })->{status}, 200,
    'DELETE with a list naming the current tag: 200');
is(api(DELETE => "/api/templates/$id", token => $tok, headers => { 'If-Match' => $t2 })->{status}, 404,
    'gone: 404, not 412 (the condition is ignored when the GET would not be a 200)');
is(api(PUT => '/api/me', token => $tok, headers => { 'If-Match' => '*' },
    json => { name => 'Cond User' })->{status}, 200, 'If-Match: * on a resource that exists: the write goes on');

# Another tenant's resource stays a 404 (the GET runs as the caller).
$r = api(POST => '/api/templates', token => $tok, json => { name => 'Mine', content => 'x' });
my $mine = $r->{json}{data}{id};
my $other = token(sub => 'user_cond', org => 'org_t_cond_o');
is(api(DELETE => "/api/templates/$mine", token => $other, headers => { 'If-Match' => '*' })->{status}, 404,
    'another tenant with If-Match: *: 404, nothing revealed');

done_testing;
