#!/usr/bin/env perl
# 12-job-searches.t: saved searches: POST /api/jobs, GET /api/job-searches, DELETE /api/job-searches/{id}, and their bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my $T = 'org_t_searches';
reset_tenant($T);
my $tok = token(sub => 'user_s', org => $T);

my %full = (name => 'Rust & C jobs', skills => ['Rust', 'C'], minBudget => 30, maxBudget => 120,
            location => 'Germany', clientScore => 60, query => 'embedded "low latency"', notify => JSON::PP::false);
my $r = api(POST => '/api/jobs', token => $tok, json => \%full);
is($r->{status}, 201, 'POST /api/jobs creates a saved search: 201') or diag $r->{body};
my $s = $r->{json}{data};
ok($r->{json}{success}, 'success: true');
ok(uuid_like($s->{id}), 'it has a UUID');
is($s->{name}, 'Rust & C jobs', 'name stored');
is_deeply($s->{skills}, ['rust', 'c'], 'skills lower-cased');
is($s->{minBudget}, 30, 'minBudget');
is($s->{maxBudget}, 120, 'maxBudget');
is($s->{location}, 'Germany', 'location');
is($s->{clientScore}, 60, 'clientScore');
is($s->{query}, 'embedded "low latency"', 'query');
ok(!$s->{notify}, 'notify false kept');
is($s->{userId}, 'user_s', 'the creator is recorded');
like($s->{createdAt}, qr/Z$/, 'createdAt');
is(psql("SELECT count(*) FROM job_searches WHERE tenant_id = '$T' AND id = '$s->{id}'"), 1, 'the row is in the database under the tenant');
is(psql("SELECT count(*) FROM users WHERE tenant_id = '$T' AND id = 'user_s'"), 1, 'the user row exists');

$r = api(POST => '/api/jobs', token => $tok, json => { name => 'Minimal' });
is($r->{status}, 201, 'only a name is required');
is_deeply($r->{json}{data}{skills}, [], 'skills default to empty');
ok($r->{json}{data}{notify}, 'notify defaults to true');
is($r->{json}{data}{minBudget}, undef, 'absent budget is null');
my $minimal = $r->{json}{data}{id};

$r = api(POST => '/api/jobs', token => $tok, body => '{"name":"charset"}',
    headers => { 'Content-Type' => 'application/json; charset=utf-8' });
is($r->{status}, 201, 'Content-Type with charset=utf-8 accepted');

$r = api(GET => '/api/job-searches', token => $tok);
is($r->{status}, 200, 'list: 200');
is($r->{json}{pagination}{total}, 3, 'list: total 3');
is($r->{json}{data}[0]{name}, 'charset', 'list: newest first');

# The bad-input matrix for the body.
my $count = sub { psql("SELECT count(*) FROM job_searches WHERE tenant_id = '$T'") };
my $before = $count->();
my @bad = (
    ['{"name":', 400, 'malformed_json', 'truncated JSON'],
    ['{"name":"x",}', 400, 'malformed_json', 'trailing comma'],
    ['{"name":"x"} {"name":"y"}', 400, 'malformed_json', 'two values'],
    ['', 400, 'malformed_json', 'empty body'],
    ['[]', 400, 'validation_failed', 'an array'],
    ['{}', 400, 'validation_failed', 'no name'],
    ['{"name":""}', 400, 'validation_failed', 'empty name'],
    ['{"name":"' . ('n' x 101) . '"}', 400, 'validation_failed', 'name too long'],
    ['{"name":7}', 400, 'validation_failed', 'name a number'],
    ['{"name":"x","skills":"react"}', 400, 'validation_failed', 'skills a string'],
    ['{"name":"x","skills":[1,2]}', 400, 'validation_failed', 'skills of numbers'],
    ['{"name":"x","skills":[' . join(',', map { "\"s$_\"" } 1 .. 21) . ']}', 400, 'validation_failed', '21 skills'],
    ['{"name":"x","minBudget":"10"}', 400, 'validation_failed', 'minBudget a string'],
    ['{"name":"x","minBudget":10.5}', 400, 'validation_failed', 'minBudget fractional'],
    ['{"name":"x","minBudget":1e3}', 400, 'validation_failed', 'minBudget in exponent form'],
    ['{"name":"x","minBudget":-1}', 400, 'validation_failed', 'minBudget negative'],
    ['{"name":"x","minBudget":99999999999999999999}', 400, undef, 'minBudget past 64 bits'],
    ['{"name":"x","minBudget":50,"maxBudget":10}', 400, 'validation_failed', 'minBudget > maxBudget'],
    ['{"name":"x","clientScore":101}', 400, 'validation_failed', 'clientScore 101'],
    ['{"name":"x","notify":"yes"}', 400, 'validation_failed', 'notify a string'],
    ['{"name":"x","notify":null}', 400, 'validation_failed', 'notify null'],
    ['{"name":"x","tenant_id":"org_other"}', 400, 'validation_failed', 'unknown key (tenant_id)'],
    ['{"name":"x","userId":"someone"}', 400, 'validation_failed', 'unknown key (userId)'],
    ['{"name":"a\u0000b"}', 400, 'validation_failed', 'NUL in a string'],
    ['{"name":' . ('[' x 40) . (']' x 40) . '}', 400, 'malformed_json', 'nested too deep'],
    ["{\"name\":\"\xff\xfe\"}", 400, 'malformed_json', 'invalid UTF-8'],
    # The optional fields one by one (search_fields in cgi-bin/jobs.c): a
    # fifth element names the field the details must report, and how.
    ['{"name":"x","location":7}', 400, 'validation_failed', 'location a number', 'location', 'must be a string'],
    ['{"name":"x","location":["Germany"]}', 400, 'validation_failed', 'location an array', 'location', 'must be a string'],
    ['{"name":"x","location":""}', 400, 'validation_failed', 'empty location', 'location', 'must be 1 to 100 characters'],
    ['{"name":"x","location":"' . ('l' x 101) . '"}', 400, 'validation_failed', 'location too long (101)', 'location', 'must be 1 to 100 characters'],
    ['{"name":"x","query":7}', 400, 'validation_failed', 'query a number', 'query', 'must be a string'],
    ['{"name":"x","query":true}', 400, 'validation_failed', 'query a boolean', 'query', 'must be a string'],
    ['{"name":"x","query":""}', 400, 'validation_failed', 'empty query', 'query', 'must be 1 to 200 characters'],
    ['{"name":"x","query":"' . ('q' x 201) . '"}', 400, 'validation_failed', 'query too long (201)', 'query', 'must be 1 to 200 characters'],
    ['{"name":"x","maxBudget":"10"}', 400, 'validation_failed', 'maxBudget alone, a string', 'maxBudget', 'must be an integer'],
    ['{"name":"x","maxBudget":10.5}', 400, 'validation_failed', 'maxBudget alone, fractional', 'maxBudget', 'must be an integer'],
    ['{"name":"x","maxBudget":true}', 400, 'validation_failed', 'maxBudget alone, a boolean', 'maxBudget', 'must be an integer'],
    ['{"name":"x","maxBudget":-1}', 400, 'validation_failed', 'maxBudget alone, negative', 'maxBudget', 'must be between 0 and 100000000'],
    ['{"name":"x","maxBudget":100000001}', 400, 'validation_failed', 'maxBudget alone, past 100000000', 'maxBudget', 'must be between 0 and 100000000'],
    ['{"name":"x","minMatch":"50"}', 400, 'validation_failed', 'minMatch a string', 'minMatch', 'must be an integer'],
    ['{"name":"x","minMatch":50.5}', 400, 'validation_failed', 'minMatch fractional', 'minMatch', 'must be an integer'],
    ['{"name":"x","minMatch":false}', 400, 'validation_failed', 'minMatch a boolean', 'minMatch', 'must be an integer'],
    ['{"name":"x","minMatch":-1}', 400, 'validation_failed', 'minMatch negative', 'minMatch', 'must be between 0 and 100'],
    ['{"name":"x","minMatch":101}', 400, 'validation_failed', 'minMatch 101', 'minMatch', 'must be between 0 and 100'],
);
for my $b (@bad) {
    my ($body, $status, $code, $what, $field, $msg) = @$b;
    $r = api(POST => '/api/jobs', token => $tok, body => $body, headers => { 'Content-Type' => 'application/json' });
    is($r->{status}, $status, "$what: $status");
    is($r->{json}{code}, $code, "$what: code $code") if defined $code;
    ok(defined $r->{json}{error}, "$what: JSON error body");
    if (defined $field) {
        my @d = @{ $r->{json}{details} // [] };
        my ($d) = grep { ($_->{field} // '') eq $field } @d;
        ok($d && index($d->{message}, $msg) >= 0 && @d == 1, "$what: details name only $field ($msg)")
            or diag $r->{body};
    }
}
$r = api(POST => '/api/jobs', token => $tok, body => '{"name":"x"}', headers => { 'Content-Type' => 'text/plain' });
is($r->{status}, 415, 'text/plain: 415');
is($r->{json}{code}, 'unsupported_media_type', '415 code');
$r = api(POST => '/api/jobs', token => $tok, body => '{"name":"x"}', headers => { 'Content-Type' => 'application/json-patch+json' });
is($r->{status}, 415, 'a look-alike type: 415');
$r = api(POST => '/api/jobs', token => $tok, body => 'name=x', headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
is($r->{status}, 415, 'form encoding: 415');
$r = api(POST => '/api/jobs', token => $tok, body => '{"name":"' . ('x' x 70000) . '"}', headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 413, 'a 70 kB body: 413');
is($r->{json}{code}, 'payload_too_large', '413 is JSON');
is($count->(), $before, 'nothing was written by any refused request');

# The limits themselves are allowed, and the optional fields take null
# (another user of the tenant, notify off: the refusals above used up
# much of user_s's rate-limit budget, and these must not count against
# the poller's cap).
my $tok_edge = token(sub => 'user_s_edge', org => $T);
my @edge = (
    [{ location => 'l' x 100 }, 'location', 'l' x 100, 'location of 100 characters'],
    [{ query => 'q' x 200 }, 'query', 'q' x 200, 'query of 200 characters'],
    [{ maxBudget => 100000000 }, 'maxBudget', 100000000, 'maxBudget alone, 100000000'],
    [{ maxBudget => 0 }, 'maxBudget', 0, 'maxBudget alone, 0'],
    [{ minMatch => 0 }, 'minMatch', 0, 'minMatch 0'],
    [{ minMatch => 100 }, 'minMatch', 100, 'minMatch 100'],
    [{ location => undef, query => undef, maxBudget => undef, minMatch => undef }, 'location', undef, 'the four as null'],
);
for my $e (@edge) {
    my ($fields, $key, $want, $what) = @$e;
    $r = api(POST => '/api/jobs', token => $tok_edge, json => { name => 'edge', notify => JSON::PP::false, %$fields });
    is($r->{status}, 201, "$what: 201") or diag $r->{body};
    is($r->{json}{data}{$key}, $want, "$what: $key comes back");
    if (!defined $want) {
        is($r->{json}{data}{$_}, undef, "$what: $_ null") for qw(query maxBudget minMatch);
    }
    my $id = $r->{json}{data}{id} // 'none';
    is(api(DELETE => "/api/job-searches/$id", token => $tok_edge)->{status}, 200, "$what: deleted again");
}
is($count->(), $before, 'the limit cases were all deleted');

# Delete.
$r = api(DELETE => "/api/job-searches/$minimal", token => $tok);
is($r->{status}, 200, 'DELETE: 200');
is($r->{json}{data}{id}, $minimal, 'DELETE returns the id');
is(psql("SELECT count(*) FROM job_searches WHERE id = '$minimal'"), 0, 'the row is gone');
$r = api(DELETE => "/api/job-searches/$minimal", token => $tok);
is($r->{status}, 404, 'DELETE again: 404');
$r = api(DELETE => '/api/job-searches/not-a-uuid', token => $tok);
is($r->{status}, 400, 'DELETE with a malformed id: 400');
$r = api(DELETE => '/api/job-searches/' . ('9' x 300), token => $tok);
ok($r->{status} == 400 || $r->{status} == 404, 'DELETE with a 300-character id: 400 or 404');
$r = api(GET => "/api/job-searches?limit=1&page=2", token => $tok);
is($r->{status}, 200, 'list paging');
is(scalar @{ $r->{json}{data} }, 1, 'page 2 of size 1');
ok($r->{json}{pagination}{hasMore} == 0, 'hasMore false on the last page');
$r = api(GET => "/api/job-searches?limit=500", token => $tok);
is($r->{status}, 400, 'list limit over 100: 400');

done_testing;
