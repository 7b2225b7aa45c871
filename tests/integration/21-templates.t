#!/usr/bin/env perl
# 21-templates.t: proposal templates: CRUD, placeholder validation, per-user scope (another user's or tenant's template is a 404), cache, the cap, bad input.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

my ($T, $O) = ('org_t_tpl', 'org_t_tpl_other');
reset_tenant($T, $O);
invalidate('user', "$T/$_") for qw(user_t user_t2 user_tv user_cap);
invalidate('user', "$O/user_t");
my $tok = token(sub => 'user_t', org => $T);
my $other_user = token(sub => 'user_t2', org => $T);
my $other_tenant = token(sub => 'user_t', org => $O);

my $r = api(GET => '/api/templates', token => $tok);
is($r->{status}, 200, 'an empty list: 200');
is_deeply($r->{json}{data}, [], 'no templates yet');

my $content = "Hi {{client_name}},\n\n\"{{ job_title }}\" needs {{matched_skills}}; I charge {{rate}}.\n"
    . "See {{portfolio_highlight}}.\n-- {{freelancer_name}} \x{2713}";
$r = api(POST => '/api/templates', token => $tok, json => { name => 'Full', content => $content });
is($r->{status}, 201, 'POST: 201');
my $t = $r->{json}{data};
ok(uuid_like($t->{id}), 'an id');
is($t->{content}, $content, 'the content as written');
is_deeply($t->{placeholders}, [qw(client_name job_title matched_skills rate freelancer_name portfolio_highlight)],
    'the placeholders it uses');
is(psql("SELECT user_id FROM proposal_templates WHERE id = '$t->{id}'"), 'user_t', 'stored for the user');
$r = api(POST => '/api/templates', token => $tok, json => { name => 'Plain', content => 'No placeholders { at all }' });
is($r->{status}, 201, 'a template without placeholders');
is_deeply($r->{json}{data}{placeholders}, [], 'uses none');
my $plain = $r->{json}{data}{id};

$r = api(GET => '/api/templates', token => $tok);
is_deeply([ map { $_->{name} } @{ $r->{json}{data} } ], ['Plain', 'Full'], 'listed newest first');
is($r->{json}{pagination}{total}, 2, 'total 2');
$r = api(GET => "/api/templates/$t->{id}", token => $tok);
is_deeply($r->{json}{data}, $t, 'GET by id');

# The list is cached per user, and a write shows at once.
$r = api(GET => '/api/templates', token => $tok);
is($r->{headers}{'x-cache'}, 'HIT-L2', 'the list is cached (Redis only)');
$r = api(PUT => "/api/templates/$plain", token => $tok, json => { name => 'Renamed', content => '{{rate}}' });
is($r->{status}, 200, 'PUT: 200');
is_deeply($r->{json}{data}{placeholders}, ['rate'], 'the new placeholders');
ok($r->{json}{data}{updatedAt} ge $r->{json}{data}{createdAt}, 'updatedAt moves');
for my $i (1 .. 3) {
    $r = api(GET => '/api/templates', token => $tok);
    is($r->{json}{data}[0]{name}, 'Renamed', "read $i after PUT sees it ($r->{headers}{'x-cache'})");
}

# Placeholder validation names what is wrong.
my $tv = token(sub => 'user_tv', org => $T);
for my $b (['Hi {{budget}}', 'unknown placeholder {{budget}} at character 3; known: client_name, job_title'],
           ['Hi {{Client_Name}}', 'unknown placeholder {{Client_Name}}'],
           ['Hi {{client_name', 'malformed placeholder "{{client_name" at character 3'],
           ['Hi {{client name}}', 'malformed placeholder "{{client name}}"'],
           ['{{}}', 'malformed placeholder "{{}}"'],
           ['Price: }} ok', '}} without a matching {{ at character 7'],
           ["ok {{rate}} then {{nope}}", 'unknown placeholder {{nope}} at character 17']) {
    my ($text, $msg) = @$b;
    $r = api(POST => '/api/templates', token => $tv, json => { name => 'x', content => $text });
    is($r->{status}, 400, "content '$text': 400");
    my ($e) = grep { $_->{field} eq 'content' } @{ $r->{json}{details} // [] };
    ok($e && index($e->{message}, $msg) >= 0, "and says: $msg") or diag $r->{body};
}
$r = api(PUT => "/api/templates/$t->{id}", token => $tok, json => { name => 'x', content => '{{oops}}' });
is($r->{status}, 400, 'PUT checks placeholders too');
is(api(GET => "/api/templates/$t->{id}", token => $tok)->{json}{data}{content}, $content, 'and changes nothing');

# The body matrix.
for my $b ([{ content => 'x' }, 'name', 'is required'], [{ name => 'x' }, 'content', 'is required'],
           [{ name => '', content => 'x' }, 'name', 'must be 1 to 100 characters'],
           [{ name => 'n' x 101, content => 'x' }, 'name', 'must be 1 to 100 characters'],
           [{ name => 'x', content => '' }, 'content', 'must be 1 to 10000 characters'],
           [{ name => 'x', content => 'c' x 10001 }, 'content', 'must be 1 to 10000 characters'],
           [{ name => 'x', content => ['a'] }, 'content', 'must be a string'],
           [{ name => undef, content => 'x' }, 'name', 'must not be null'],
           [{ name => 'x', content => 'x', userId => 'user_t2' }, 'userId', 'unknown field']) {
    my ($body, $field, $msg) = @$b;
    $r = api(POST => '/api/templates', token => $tv, json => $body);
    my ($e) = grep { $_->{field} eq $field } @{ $r->{json}{details} // [] };
    ok($r->{status} == 400 && $e && index($e->{message}, $msg) >= 0,
        substr(json_encode($body), 0, 50) . ": 400, $field $msg") or diag $r->{body};
}
$r = api(POST => '/api/templates', token => $tv, body => '{"name":"x",', headers => { 'Content-Type' => 'application/json' });
is($r->{json}{code}, 'malformed_json', 'malformed JSON');
$r = api(POST => '/api/templates', token => $tv, body => 'x', headers => { 'Content-Type' => 'text/plain' });
is($r->{status}, 415, 'not JSON: 415');
for my $m (qw(GET PUT DELETE)) {
    $r = api($m => '/api/templates/not-a-uuid', token => $tv, ($m eq 'PUT' ? (json => { name => 'x', content => 'y' }) : ()));
    is($r->{status}, 400, "$m with a malformed id: 400");
}
is(psql("SELECT count(*) FROM proposal_templates WHERE tenant_id = '$T' AND user_id = 'user_tv'"), 0,
    'nothing refused was stored');

# Another user of the tenant, another tenant: 404 on every route, nothing changed.
for my $who ([$other_user, 'another user'], [$other_tenant, 'another tenant']) {
    my ($k, $label) = @$who;
    is(api(GET => "/api/templates/$t->{id}", token => $k)->{status}, 404, "$label: GET 404");
    is(api(PUT => "/api/templates/$t->{id}", token => $k, json => { name => 'x', content => 'y' })->{status}, 404,
        "$label: PUT 404");
    is(api(DELETE => "/api/templates/$t->{id}", token => $k)->{status}, 404, "$label: DELETE 404");
    is_deeply(api(GET => '/api/templates', token => $k)->{json}{data}, [], "$label: lists none of them");
}
is(psql("SELECT name FROM proposal_templates WHERE id = '$t->{id}'"), 'Full', 'the template is intact');
my $unknown = '00000000-0000-4000-8000-000000000000';
is(api(GET => "/api/templates/$unknown", token => $tok)->{status}, 404, 'an id that never existed: 404');

# At most 100 templates per user.
my $tc = token(sub => 'user_cap', org => $T);
api(POST => '/api/templates', token => $tc, json => { name => 'first', content => 'x' });
psql("INSERT INTO proposal_templates (tenant_id, user_id, name, content) "
    . "SELECT '$T', 'user_cap', 'bulk ' || i, 'x' FROM generate_series(2, 100) i");
$r = api(POST => '/api/templates', token => $tc, json => { name => 'one too many', content => 'x' });
is($r->{status}, 409, 'the 101st template: 409');
is($r->{json}{code}, 'conflict', 'code conflict');
is(psql("SELECT count(*) FROM proposal_templates WHERE tenant_id = '$T' AND user_id = 'user_cap'"), 100,
    'still 100');

is(api(GET => '/api/templates')->{status}, 401, 'no token: 401');
is(api(DELETE => "/api/templates/$t->{id}")->{status}, 401, 'no token, DELETE: 401');
is(api(PATCH => "/api/templates/$t->{id}", token => $tok, json => {})->{status}, 405, 'PATCH: 405');
$r = api(DELETE => "/api/templates/$t->{id}", token => $tok);
is($r->{status}, 200, 'DELETE: 200');
is_deeply($r->{json}{data}, { id => $t->{id}, deleted => JSON::PP::true }, 'says what it deleted');
is(api(DELETE => "/api/templates/$t->{id}", token => $tok)->{status}, 404, 'a second DELETE: 404');
is(scalar @{ api(GET => '/api/templates', token => $tok)->{json}{data} }, 1, 'one template left');

done_testing;
