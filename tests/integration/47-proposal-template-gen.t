#!/usr/bin/env perl
# 47-proposal-template-gen.t: generation with templateId (the builtin writer fills the template in within maxWords; the openai prompt carries it), the template stored on the proposal, other users' and tenants' templates (404), and the profile's portfolio and preferred tone in generation.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Encode qw(decode);
use Test::More;
use ApiTest;

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

my ($T, $O, $P) = ('org_t_tplgen', 'org_t_tplgen_o', 'org_t_tplgen_ai');
reset_tenant($T, $O, $P);
invalidate('user', "$T/$_") for qw(user_tg user_tg2);
invalidate('user', "$O/user_tg");
invalidate('user', "$P/user_tg");
my $tok = token(sub => 'user_tg', org => $T);
my $tok2 = token(sub => 'user_tg2', org => $T);
my $toko = token(sub => 'user_tg', org => $O);
my $tokp = token(sub => 'user_tg', org => $P);
my $q = \&sql_quote;

psql(<<"SQL");
INSERT INTO tenants (id, kind) VALUES ('$T', 'org'), ('$O', 'org');
INSERT INTO tenants (id, kind, ai_provider) VALUES ('$P', 'org', 'openai');
INSERT INTO clients (tenant_id, upwork_uid, name, country, payment_verified)
  VALUES ('$T', 'tg-c', 'Acme Health', 'Germany', true), ('$P', 'tg-c', 'Acme Health', 'Germany', true);
SQL
my %client = map { $_ => scalar psql("SELECT id FROM clients WHERE tenant_id = '$_'") } ($T, $P);
sub job {
    my ($tenant, $desc) = @_;
    return scalar psql(sprintf("INSERT INTO jobs (tenant_id, upwork_id, title, description, skills, budget_type, budget_min,"
        . " budget_max, client_id, posted_at) VALUES (%s, %s, 'Build a booking API', %s, '{postgresql,node.js,graphql}',"
        . " 'hourly', 40, 60, %s, now()) RETURNING id", $q->($tenant), $q->("tg-" . int(rand(1e9))), $q->($desc),
        $client{$tenant} ? $q->($client{$tenant}) : 'NULL'));
}
my $job = job($T, 'We need a Node.js and PostgreSQL backend.');

# The profile, through the API, with a portfolio and a preferred tone.
my %profile = (name => 'Tina Template', title => 'Backend engineer', skills => ['postgresql', 'node.js', 'c'],
    hourlyRateMin => 50, hourlyRateTarget => 85, bio => 'I build APIs.', tone => 'friendly',
    portfolio => [{ title => 'Shop front', skills => ['react'] },
                  { title => 'Clinic booking API', description => 'A multi-tenant API on PostgreSQL. Ten clinics.',
                    skills => ['postgresql', 'node.js'], url => 'https://example.com/clinic' }]);
for my $t ($tok, $tokp) {
    my $r = api(PUT => '/api/me', token => $t, json => \%profile);
    is($r->{status}, 200, 'the profile is saved') or diag $r->{body};
}
my $content = "Hi {{client_name}},\n\nYour \"{{ job_title }}\" needs {{matched_skills}}. I charge {{rate}}.\n"
    . "See {{portfolio_highlight}}.\n\n-- {{freelancer_name}} \x{2713}";
my $r = api(POST => '/api/templates', token => $tok, json => { name => 'Mine', content => $content });
is($r->{status}, 201, 'a template');
my $tpl = $r->{json}{data}{id};
my $tpl2 = api(POST => '/api/templates', token => $tok2, json => { name => 'Colleague', content => 'Colleague {{rate}}' })->{json}{data}{id};
my $tplo = api(POST => '/api/templates', token => $toko, json => { name => 'Other tenant', content => 'Other {{rate}}' })->{json}{data}{id};
my $tplp = api(POST => '/api/templates', token => $tokp, json => { name => 'For the LLM', content => $content })->{json}{data}{id};
ok($tpl2 && $tplo && $tplp, 'templates of a colleague, of another tenant, and in the openai tenant');

my $filled = "Hi Acme Health,\n\nYour \"Build a booking API\" needs PostgreSQL and Node.js. I charge \$60/hour.\n"
    . "See Clinic booking API (https://example.com/clinic).\n\n-- Tina Template \x{2713}";
my $gen = sub { my ($t, %b) = @_; api(POST => '/api/ai/proposals/generate', token => $t, json => { jobId => $job, %b }) };

# --- The builtin writer fills the template in ----------------------------
$r = $gen->($tok, templateId => $tpl, alternatives => 1);
is($r->{status}, 200, 'generate with templateId: 200') or diag $r->{body};
my $d = $r->{json}{data};
is($d->{proposal}, $filled, 'the proposal is the template filled in: client, title, matched skills, rate (the target'
    . ' brought to the top of the $40-60 range), portfolio highlight, name');
is($d->{metadata}{templateId}, $tpl, 'metadata names the template');
is(scalar @{ $d->{alternatives} }, 1, 'the alternatives are still written');
my $pid = $d->{metadata}{proposalId};
is(psql("SELECT template_id FROM proposals WHERE id = '$pid'"), $tpl, 'the proposal stores its template');
is(decode('UTF-8', scalar psql("SELECT content FROM proposals WHERE id = '$pid'")), $filled, 'and the filled text');
is(api(GET => "/api/proposals/$pid", token => $tok)->{json}{data}{templateId}, $tpl, 'GET shows templateId');

$r = $gen->($tok, templateId => $tpl, maxWords => 50, alternatives => 0);
is($r->{status}, 200, 'maxWords 50');
$r = api(POST => '/api/templates', token => $tok, json => { name => 'Long', content => join(' ', ('Word.') x 120) . ' {{rate}}' });
my $long = $r->{json}{data}{id};
$r = $gen->($tok, templateId => $long, maxWords => 50, alternatives => 0);
my @words = $r->{json}{data}{proposal} =~ /\S+/g;
ok(@words <= 50 && @words >= 40, 'a long template is cut to maxWords (' . scalar(@words) . ' words)');

$r = sse_request('/api/ai/proposals/stream', token => $tok, json => { jobId => $job, templateId => $tpl, alternatives => 0 });
is($r->{status}, 200, 'stream with templateId: 200');
my ($done) = grep { $_->{data}{done} } @{ $r->{events} };
is($done->{data}{proposal}, $filled, 'the stream ends with the filled template');
is(join('', map { $_->{data}{delta} // '' } @{ $r->{events} }), $filled, 'and its deltas add up to it');
is($done->{data}{metadata}{templateId}, $tpl, 'with templateId in the metadata');

# --- Whose template -------------------------------------------------------
my $count = psql("SELECT count(*) FROM proposals WHERE tenant_id = '$T'");
for my $c ([$tpl2, "a colleague's template"], [$tplo, "another tenant's template"],
           [scalar psql('SELECT gen_random_uuid()'), 'an unknown template']) {
    $r = $gen->($tok, templateId => $c->[0]);
    is($r->{status}, 404, "$c->[1]: 404");
    like($r->{json}{details} // '', qr/no template with this id/, "$c->[1]: says which");
    $r = sse_request('/api/ai/proposals/stream', token => $tok, json => { jobId => $job, templateId => $c->[0] });
    is($r->{status}, 404, "$c->[1], streamed: 404");
}
is(psql("SELECT count(*) FROM proposals WHERE tenant_id = '$T'"), $count, 'nothing stored for them');
for my $bad ('abc', 42, '', JSON::PP::true, [$tpl], uc($tpl) . 'x') {
    $r = $gen->($tok, templateId => $bad);
    is($r->{status}, 400, 'templateId ' . json_encode($bad) . ': 400');
    is($r->{json}{code}, 'validation_failed', 'validation_failed');
}
$r = $gen->($tok, templateId => undef, alternatives => 0);
is($r->{status}, 200, 'templateId null: no template');
is($r->{json}{data}{metadata}{templateId}, undef, 'none recorded');
my $deleted = api(POST => '/api/templates', token => $tok, json => { name => 'Doomed', content => 'Doomed {{rate}}' })->{json}{data}{id};
$r = $gen->($tok, templateId => $deleted, alternatives => 0);
my $dp = $r->{json}{data}{metadata}{proposalId};
is(api(DELETE => "/api/templates/$deleted", token => $tok)->{status}, 200, 'a template used by a proposal can be deleted');
is(psql("SELECT coalesce(template_id::text, 'null') FROM proposals WHERE id = '$dp'"), 'null', 'the proposal forgets it');
is($gen->($tok, templateId => $deleted)->{status}, 404, 'and it is gone for generation');

# --- The profile's tone and portfolio without a template ------------------
$r = $gen->($tok, alternatives => 0);
is($r->{json}{data}{metadata}{status}, 'draft', 'no template, no tone');
is(psql("SELECT tone FROM proposals WHERE id = '$r->{json}{data}{metadata}{proposalId}'"), 'friendly',
    "the profile's preferred tone when the request names none");
like($r->{json}{data}{proposal}, qr/^Hi there!/, 'written in it');
like($r->{json}{data}{proposal}, qr/A project close to yours: Clinic booking API - A multi-tenant API on PostgreSQL \(https:\/\/example\.com\/clinic\)\./,
    'with the portfolio item that fits the job');
$r = $gen->($tok, tone => 'concise', alternatives => 0);
is(psql("SELECT tone FROM proposals WHERE id = '$r->{json}{data}{metadata}{proposalId}'"), 'concise', 'a tone in the request wins');

# --- The openai provider gets the template in its prompt ------------------
my $run = "$$-" . int(rand(1e9));
my $pjob = job($P, "Node.js and PostgreSQL. [[fake:normal,id=tpl-$run]]");
$r = api(POST => '/api/ai/proposals/generate', token => $tokp, json => { jobId => $pjob, templateId => $tplp, alternatives => 0 });
is($r->{status}, 200, 'openai with templateId: 200') or diag $r->{body};
is($r->{json}{data}{metadata}{templateId}, $tplp, 'metadata names it');
my $log = fake_log("tpl-$run");
is(scalar @$log, 1, 'one request to the provider');
my $prompt = $log->[0]{prompt};
like($prompt, qr/follow the freelancer's own template below/, 'the prompt asks to follow the template');
ok(index($prompt, "Template:\n\"\"\"\n$filled\n\"\"\"") >= 0, 'and carries it, filled in, as the structure and voice')
    or diag $prompt;
unlike($prompt, qr/Structure: open with the client's need/, 'instead of the default structure');
like($prompt, qr/Portfolio project closest to the job: Clinic booking API - A multi-tenant API on PostgreSQL\. Ten clinics\. \(https:\/\/example\.com\/clinic\)/,
    'the portfolio highlight is in the facts');
like($prompt, qr/Tone: friendly\./, "the profile's tone");
is(psql("SELECT template_id FROM proposals WHERE id = '$r->{json}{data}{metadata}{proposalId}'"), $tplp, 'stored with the proposal');
$run .= 'b';
$pjob = job($P, "Node.js. [[fake:normal,id=tpl-$run]]");
api(POST => '/api/ai/proposals/generate', token => $tokp, json => { jobId => $pjob, alternatives => 0 });
like(fake_log("tpl-$run")->[0]{prompt}, qr/Structure: open with the client's need/, 'without a template: the default structure');

done_testing;
