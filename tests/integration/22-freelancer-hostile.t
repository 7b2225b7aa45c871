#!/usr/bin/env perl
# 22-freelancer-hostile.t: hostile strings in the profile, templates, ranking and analytics inputs never cause a 5xx, and text comes back unchanged.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

my $T = 'org_t_fl_hostile';
reset_tenant($T);
invalidate('user', "$T/$_") for map { "user_fh$_" } 1 .. 12;
# Skills that need quoting in PostgreSQL's array text, written with ARRAY[] to be exact.
psql("INSERT INTO tenants (id, kind) VALUES ('$T', 'org') ON CONFLICT DO NOTHING;"
    . "INSERT INTO jobs (tenant_id, upwork_id, title, skills, budget_type, posted_at) VALUES ('$T', 'fh-1', "
    . q{'Innocent job', ARRAY['c', 'o''reilly', 'a"b', 'x\y', 'a,b', '{}'], 'hourly', now() - interval '1 hour')});
invalidate('jobs', $T);

my @values = (
    q{'; DROP TABLE users; --}, q{" OR "1"="1}, q{\\'\\"\\\\}, '%00', 'a%00b', '%ff%fe', '%c0%af',
    '%ed%a0%80', '%', '%zz', '%e2%80%ae' . 'rtl', '%f0%9f%92%a9', 'x' x 3000,
    '%0d%0aSet-Cookie:%20x=1', '<script>alert(1)</script>', '../../etc/passwd', '{}', '[1]', '-1',
    '1e308', '0x1F', 'NaN', ' ', '+', '2024-02-30T00:00:00Z', '9999-12-31T23:59:59Z', '2024-01-01T00:00:00.1234567891Z',
);
# Sent raw, a value with a space or a quote breaks the request line, as
# a hostile client's would; the same value percent-encoded reaches the API.
push @values, map { (my $e = $_) =~ s/([^\x21-\x7e]|["<>\\^`{|}])/sprintf('%%%02X', ord $1)/ge; $e }
    grep { /[^\x21-\x7e]|["<>\\^`{|}]/ } @values;
my $user = 0;
my $next_token = sub { token(sub => 'user_fh' . (++$user), org => $T) };
for my $q (['/api/jobs?sort=match&', [qw(sort window asOf minMatch skills q)]],
           ['/api/analytics/jobs?', [qw(from to)]], ['/api/analytics/proposals?', [qw(from to)]]) {
    my ($path, $fields) = @$q;
    for my $field (@$fields) {
        my $tok = $next_token->();    # one user per field: within its rate-limit budget
        my %seen;
        for my $v (@values) {
            my $r = api(GET => "$path$field=$v", token => $tok, raw => 1);
            $seen{ $r->{status} }++;
            my $from_api = ($r->{headers}{'content-type'} // '') =~ m{^application/json};
            ok(($r->{status} == 200 || $r->{status} == 400) && (!$from_api || $r->{status} == 200
                || $r->{json}{code} =~ /^(validation_failed|bad_request)$/),
                "$path$field=" . substr($v, 0, 30) . ": $r->{status}") or diag $r->{body};
        }
    }
}

my $tok = $next_token->();
for my $path ('/api/templates/%00', "/api/templates/'%20OR%201=1", '/api/templates/%ff',
              '/api/templates/..%2f..%2fetc', '/api/templates/' . ('a' x 300), '/api/me/extra', '/api/analytics/%00') {
    for my $m (qw(GET DELETE)) {
        my $r = api($m => $path, token => $tok);
        ok($r->{status} >= 400 && $r->{status} < 500, "$m $path: $r->{status}");
    }
}

# Text goes in and comes back byte for byte.
my @strings = (q{Robert'); DROP TABLE proposal_templates;--}, "tab\there, newline\nthere", "\x{1F4A9} emoji",
    "\x{202E}rtl override", '<img src=x onerror=alert(1)>', '\\u0000 literal backslash', '{single} braces',
    "caf\x{e9} \x{2014} \x{4e2d}\x{6587}");
$tok = $next_token->();
for my $s (@strings) {
    my $r = api(POST => '/api/templates', token => $tok, json => { name => substr($s, 0, 100), content => "$s {{rate}}" });
    is($r->{status}, 201, 'template ' . substr($s, 0, 20) . ': 201');
    is($r->{json}{data}{content}, "$s {{rate}}", 'and its content comes back unchanged');
}
$tok = $next_token->();
my $r = api(PUT => '/api/me', token => $tok, json => { name => $strings[0], title => $strings[3], bio => join("\n", @strings),
    skills => [(map { lc substr($_, 0, 50) } @strings), "o'reilly"], languages => [map { substr($_, 0, 50) } @strings[2 .. 7]],
    portfolio => [{ title => substr($strings[4], 0, 100), description => $strings[1], skills => ["o'reilly"] }] });
is($r->{status}, 200, 'a profile of hostile strings: 200');
is($r->{json}{data}{bio}, join("\n", @strings), 'the bio comes back unchanged');
is($r->{json}{data}{portfolio}[0]{description}, $strings[1], 'so does the portfolio');
$r = api(GET => '/api/jobs?sort=match&limit=5', token => $tok);
is($r->{status}, 200, 'ranking with that profile: 200');
like($r->{json}{data}[0]{match}{reasons}[0], qr/^matches 1 of 6 skills: o'reilly$/,
    'skills with quotes, commas, braces and backslashes are read back from PostgreSQL exactly');
$r = api(PUT => '/api/me', token => $tok, json => { skills => ['c', 'a"b', 'x\\y', 'a,b', '{}'] });
$r = api(GET => '/api/jobs?sort=match&limit=5', token => $tok);
is($r->{json}{data}[0]{match}{reasons}[0], 'matches 5 of 6 skills: c, a"b, x\\y, a,b, {}',
    'every awkward skill matches itself');
$r = api(PUT => '/api/me', token => $tok, body => '{"name":"\u0000"}', headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 400, 'a NUL in a string: 400');
$r = api(PUT => '/api/me', token => $tok, body => '{"portfolio":[' . ('[' x 40) . (']' x 40) . ']}',
    headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 400, 'deep nesting: 400');
$r = api(PUT => '/api/me', token => $tok, body => "{\"name\":\"\xff\xfe\"}", headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 400, 'invalid UTF-8: 400');
is(psql("SELECT count(*) FROM jobs WHERE tenant_id = '$T'"), 1, 'the jobs table is intact');

done_testing;
