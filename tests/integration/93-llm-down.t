#!/usr/bin/env perl
# 93-llm-down.t: the LLM provider down (the fake stopped): generate and stream answer 502 at once with JSON and store nothing; back up: they work again without restarting workers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my $T = 'org_t_llmdown';
reset_tenant($T);
my $tok = token(sub => 'user_d', org => $T);
psql("INSERT INTO tenants (id, kind, ai_provider) VALUES ('$T', 'org', 'openai')");
insert_jobs($T, { upwork_id => 'd-1', title => 'Build an API', skills => ['go'], budget_min => 10, budget_max => 20 });
my $job = psql("SELECT id FROM jobs WHERE tenant_id = '$T'");
my $rows = sub { psql("SELECT (SELECT count(*) FROM proposals WHERE tenant_id = '$T') || ',' || "
    . "(SELECT count(*) FROM ai_usage WHERE tenant_id = '$T')") };
my $s = stack();
my $stack = "VAR='$s->{VAR}' PORT=$s->{PORT} '$s->{ROOT}/scripts/stack.sh'";

my $r = api(POST => '/api/ai/proposals/generate', token => $tok, json => { jobId => $job });
is($r->{status}, 200, 'before: 200');
system("$stack fake-llm-stop") == 0 or BAIL_OUT('could not stop the fake LLM server');
my $before = $rows->();
for my $i (1 .. 3) {
    $r = api(POST => '/api/ai/proposals/generate', token => $tok, json => { jobId => $job });
    is($r->{status}, 502, "provider down, generate $i: 502");
    is($r->{json}{code}, 'bad_gateway', 'bad_gateway');
    like($r->{json}{details}, qr/could not reach the AI provider/, 'says so');
    ok($r->{ms} < 2000, 'at once (' . int($r->{ms}) . ' ms)');
}
$r = sse_request('/api/ai/proposals/stream', token => $tok, json => { jobId => $job });
is($r->{status}, 502, 'provider down, stream: 502');
like($r->{headers}{'content-type'}, qr{^application/json}, 'a JSON error, not a stream');
is($rows->(), $before, 'nothing stored');

system("$stack fake-llm-start >/dev/null 2>&1") == 0 or BAIL_OUT('could not start the fake LLM server');
$r = api(POST => '/api/ai/proposals/generate', token => $tok, json => { jobId => $job });
is($r->{status}, 200, 'provider back: 200') or diag $r->{body};
$r = sse_request('/api/ai/proposals/stream', token => $tok, json => { jobId => $job });
ok($r->{events}[-1]{data}{done}, 'stream: done again');

done_testing;
