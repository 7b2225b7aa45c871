#!/usr/bin/env perl
# 20-profile.t: GET/PUT /api/me: the empty profile, a full round trip, replacement, the cache seeing writes at once, the bad-input matrix, isolation.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

my ($T, $O) = ('org_t_profile', 'org_t_profile_other');
reset_tenant($T, $O);
invalidate('user', "$T/$_") for qw(user_p user_p2 user_bad1 user_bad2 user_bad3);
invalidate('user', "$O/user_p");
my $tok = token(sub => 'user_p', org => $T);

# A user never seen: an empty profile, not a 404.
my $r = api(GET => '/api/me', token => $tok);
is($r->{status}, 200, 'GET /api/me for a new user: 200');
is_deeply($r->{json}{data}, { userId => 'user_p', name => undef, title => undef, skills => [],
    hourlyRateMin => undef, hourlyRateTarget => undef, bio => undef, portfolio => [], tone => undef,
    languages => [], matchThreshold => undef, updatedAt => undef }, 'the empty profile');
is(psql("SELECT count(*) FROM users WHERE tenant_id = '$T'"), 0, 'reading creates no row');

my %profile = (
    name => 'Pat Profile', title => 'Senior C and PostgreSQL engineer',
    skills => ['PostgreSQL', 'c', 'Linux', 'api development', 'c'],
    hourlyRateMin => 60, hourlyRateTarget => 87.5, bio => "I build fast APIs.\nAnd test them. \x{2713}",
    portfolio => [
        { title => 'Billing API', description => 'RLS and C', skills => ['C', 'postgresql'],
          url => 'https://example.com/billing' },
        { title => 'Log shipper', skills => [], url => 'http://x' },
    ],
    tone => 'concise', languages => ['English (native)', 'Deutsch'], matchThreshold => 65,
);
$r = api(PUT => '/api/me', token => $tok, json => \%profile);
is($r->{status}, 200, 'PUT /api/me: 200');
my $d = $r->{json}{data};
is($d->{name}, 'Pat Profile', 'name');
is_deeply($d->{skills}, ['postgresql', 'c', 'linux', 'api development'],
    'skills lower-cased, the repeated one dropped, order kept');
is($d->{hourlyRateMin}, 60, 'minimum rate');
is($d->{hourlyRateTarget}, 87.5, 'target rate');
is($d->{bio}, $profile{bio}, 'bio with a newline and a non-ASCII character');
is_deeply($d->{portfolio}, [
    { title => 'Billing API', description => 'RLS and C', skills => ['c', 'postgresql'],
      url => 'https://example.com/billing' },
    { title => 'Log shipper', description => undef, skills => [], url => 'http://x' },
], 'portfolio highlights, absent fields null');
is($d->{tone}, 'concise', 'tone');
is_deeply($d->{languages}, ['English (native)', 'Deutsch'], 'languages as written');
is($d->{matchThreshold}, 65, 'match threshold');
like($d->{updatedAt}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'updatedAt');
is(psql("SELECT hourly_rate || ',' || hourly_rate_min FROM users WHERE tenant_id = '$T' AND id = 'user_p'"),
    '87.50,60.00', 'users.hourly_rate holds the target, hourly_rate_min the minimum');

$r = api(GET => '/api/me', token => $tok);
is_deeply($r->{json}{data}, $d, 'GET returns what PUT answered');

# The cache: the profile is served from Redis (no L1), and a write shows at once.
$r = api(GET => '/api/me', token => $tok);
is($r->{headers}{'x-cache'}, 'HIT-L2', 'a second read: HIT-L2');
$r = api(PUT => '/api/me', token => $tok, json => { %profile, name => 'Pat Renamed' });
is($r->{json}{data}{name}, 'Pat Renamed', 'renamed');
for my $i (1 .. 4) {
    $r = api(GET => '/api/me', token => $tok);
    is($r->{json}{data}{name}, 'Pat Renamed', "read $i after the write sees it ($r->{headers}{'x-cache'})");
}

# PUT replaces: what is left out is cleared.
$r = api(PUT => '/api/me', token => $tok, json => { name => 'Pat', skills => ['go'] });
is($r->{status}, 200, 'a partial profile: 200');
is_deeply([ @{ $r->{json}{data} }{qw(name hourlyRateTarget hourlyRateMin tone matchThreshold bio)} ],
    ['Pat', undef, undef, undef, undef, undef], 'the fields left out are cleared');
is_deeply($r->{json}{data}{portfolio}, [], 'and the portfolio emptied');
$r = api(PUT => '/api/me', token => $tok, json => { name => undef, hourlyRateTarget => 50, hourlyRateMin => 50 });
is($r->{status}, 200, 'null fields and minimum equal to target');
is($r->{json}{data}{name}, undef, 'null clears');
$r = api(PUT => '/api/me', token => $tok, json => {});
is($r->{status}, 200, 'an empty object clears everything');
is_deeply($r->{json}{data}{skills}, [], 'no skills left');

# The bad-input matrix: every answer a 400 naming the field.
my @bad = (
    [{ name => '' }, 'name', 'must be 1 to 200 characters'],
    [{ name => 'x' x 201 }, 'name', 'must be 1 to 200 characters'],
    [{ name => 42 }, 'name', 'must be a string'],
    [{ title => ['x'] }, 'title', 'must be a string'],
    [{ skills => 'c,go' }, 'skills', 'must be an array of strings'],
    [{ skills => [1] }, 'skills', 'must be an array of strings'],
    [{ skills => [''] }, 'skills', 'must be 1 to 50 characters'],
    [{ skills => ['x' x 51] }, 'skills', 'must be 1 to 50 characters'],
    [{ skills => [map { "s$_" } 1 .. 51] }, 'skills', 'must have 0 to 50 items'],
    [{ hourlyRateTarget => 0 }, 'hourlyRateTarget', 'must be between 1 and 1000'],
    [{ hourlyRateTarget => 1000.01 }, 'hourlyRateTarget', 'must be between 1 and 1000'],
    [{ hourlyRateTarget => '85' }, 'hourlyRateTarget', 'must be a number'],
    [{ hourlyRateTarget => JSON::PP::true }, 'hourlyRateTarget', 'must be a number'],
    [{ hourlyRateMin => -1, hourlyRateTarget => 50 }, 'hourlyRateMin', 'must be between 1 and 1000'],
    [{ hourlyRateMin => 90, hourlyRateTarget => 80 }, 'hourlyRateMin', 'must not be greater than hourlyRateTarget'],
    [{ hourlyRateMin => 40 }, 'hourlyRateMin', 'needs hourlyRateTarget'],
    [{ bio => 'x' x 5001 }, 'bio', 'must be 1 to 5000 characters'],
    [{ tone => 'rude' }, 'tone', 'must be one of: professional, friendly, confident, concise'],
    [{ tone => 1 }, 'tone', 'must be a string'],
    [{ languages => [map { "l$_" } 1 .. 11] }, 'languages', 'must have 0 to 10 items'],
    [{ matchThreshold => 101 }, 'matchThreshold', 'must be between 0 and 100'],
    [{ matchThreshold => -1 }, 'matchThreshold', 'must be between 0 and 100'],
    [{ matchThreshold => 50.5 }, 'matchThreshold', 'must be an integer'],
    [{ portfolio => {} }, 'portfolio', 'must be an array of objects'],
    [{ portfolio => [ map { { title => "p$_" } } 1 .. 11 ] }, 'portfolio', 'must have 0 to 10 items'],
    [{ portfolio => ['x'] }, 'portfolio[0]', 'must be an object'],
    [{ portfolio => [{ title => 'a' }, { title => 'b' }, { description => 'no title' }] },
        'portfolio[2].title', 'is required'],
    [{ portfolio => [{ title => 'a', extra => 1 }] }, 'portfolio[0].extra', 'unknown field'],
    [{ portfolio => [{ title => 'a', skills => [2] }] }, 'portfolio[0].skills', 'must be an array of strings'],
    [{ portfolio => [{ title => 'x' x 101 }] }, 'portfolio[0].title', 'must be 1 to 100 characters'],
    [{ portfolio => [{ title => 'a', description => 'd' x 1001 }] }, 'portfolio[0].description',
        'must be 1 to 1000 characters'],
    [{ portfolio => [{ title => 'a' }, { title => 'b', url => 'javascript:alert(1)' }] },
        'portfolio[1].url', 'must be an http or https URL'],
    [{ portfolio => [{ title => 'a', url => 'https://a b' }] }, 'portfolio[0].url', 'must be an http or https URL'],
    [{ portfolio => [{ title => 'a', url => 'https://' }] }, 'portfolio[0].url', 'must be an http or https URL'],
    [{ portfolio => [{ title => 'a', url => 'ftp://example.com' }] }, 'portfolio[0].url', 'must be an http or https URL'],
    [{ userId => 'someone_else' }, 'userId', 'unknown field'],
    [{ hourlyRate => 80 }, 'hourlyRate', 'unknown field'],
);
my $n = 0;
for my $b (@bad) {
    my ($body, $field, $msg) = @$b;
    # A few users: the matrix stays inside each one's rate-limit budget.
    my $t = token(sub => 'user_bad' . (1 + int($n++ / 30)), org => $T);
    $r = api(PUT => '/api/me', token => $t, json => $body);
    my $what = substr(json_encode($body), 0, 60);
    is($r->{status}, 400, "$what: 400");
    my ($e) = grep { $_->{field} eq $field } @{ $r->{json}{details} // [] };
    ok($e && index($e->{message}, $msg) >= 0, "$what: names $field ($msg)") or diag $r->{body};
}
my $t3 = token(sub => 'user_bad3', org => $T);
$r = api(PUT => '/api/me', token => $t3, json => { name => '', matchThreshold => 200, portfolio => [{}], x => 1 });
is(scalar @{ $r->{json}{details} }, 4, 'every bad field at once, nested ones included');
$r = api(PUT => '/api/me', token => $t3, body => '{"name":', headers => { 'Content-Type' => 'application/json' });
is($r->{json}{code}, 'malformed_json', 'malformed JSON: malformed_json');
$r = api(PUT => '/api/me', token => $t3, body => '[]', headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 400, 'an array body: 400');
$r = api(PUT => '/api/me', token => $t3, body => 'name=x', headers => { 'Content-Type' => 'text/plain' });
is($r->{status}, 415, 'not JSON: 415');
$r = api(PUT => '/api/me', token => $t3, json => { bio => 'x' x 70000 });
is($r->{status}, 413, 'an oversized body: 413');
is(psql("SELECT count(*) FROM users WHERE tenant_id = '$T' AND id LIKE 'user_bad%'"), 0,
    'no refused body wrote anything');
$r = api(PATCH => '/api/me', token => $t3, json => {});
is($r->{status}, 405, 'PATCH: 405');
$r = api(GET => '/api/me');
is($r->{status}, 401, 'no token: 401');

# Isolation: the same user id in another tenant has another profile.
api(PUT => '/api/me', token => $tok, json => { name => 'In T' });
$r = api(GET => '/api/me', token => token(sub => 'user_p', org => $O));
is($r->{json}{data}{name}, undef, 'the same sub in another tenant sees its own (empty) profile');
api(PUT => '/api/me', token => token(sub => 'user_p', org => $O), json => { name => 'In O' });
is(api(GET => '/api/me', token => $tok)->{json}{data}{name}, 'In T', 'and writing it leaves this one alone');
is(api(GET => '/api/me', token => token(sub => 'user_p2', org => $T))->{json}{data}{name}, undef,
    'another member of the tenant does not see it');

done_testing;
