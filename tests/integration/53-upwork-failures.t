#!/usr/bin/env perl
# 53-upwork-failures.t: Upwork failing in every way (5xx, 429, GraphQL errors, malformed, oversized, wrong types, dropped, slow, expired tokens): clear errors, exit status, nothing half-stored, retries.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;
use UpworkTest;

my $T = 'org_t_fail';
reset_tenant($T);
fake_reset($T);
my $tok = token(sub => 'user_fail', org => $T);
is(connect_upwork(tenant => $T, user => 'user_fail', account => $T)->{status}, 200, 'connected');
api(POST => '/api/jobs', token => $tok, json => { name => 'all' });

# Scenarios that pause the API key (429) get a rate-limit bucket of
# their own, so that no other test file waits for them.
my %own = (APP_UPWORK_CLIENT_ID => 'upw-test-client-82');
my $count = sub { psql("SELECT count(*) FROM jobs WHERE tenant_id = '$T'") };
my $clean = sub {
    psql("DELETE FROM jobs WHERE tenant_id = '$T'; DELETE FROM clients WHERE tenant_id = '$T';"
        . " UPDATE job_searches SET polled_fully = false WHERE tenant_id = '$T'");
    invalidate('jobs', $T);
};
my $poll = sub {
    my (%o) = @_;
    fake(POST => "/_fake/$T/config", { failNext => $o{fail} // [] });
    my $before = fake(GET => "/_fake/$T")->{graphqlRequests};
    my $r = run_cron('poll-jobs', args => ['--tenant', $T, @{ $o{args} // [] }],
        env => { APP_UPWORK_PAGE_SIZE => 10, %{ $o{env} // {} } });
    $r->{requests} = fake(GET => "/_fake/$T")->{graphqlRequests} - $before;
    return $r;
};

my $r = $poll->(fail => [({ status => 500 }) x 4]);
is($r->{exit}, 1, '500 on every attempt: exit 1');
like($r->{msgs}, qr/tenant $T failed: Upwork answered HTTP 500 \(after 4 attempts\)/, 'a clear error, after upwork_retries');
is($r->{requests}, 4, 'four attempts (one and three retries)');
is($count->(), '0', 'nothing stored');
ok(!(grep { $_->{level} eq 'error' && $_->{msg} !~ /failed/ } @{ $r->{log} }) && !$r->{bad}, 'JSON log lines only');

$r = $poll->(fail => [{ status => 503 }]);
is($r->{exit}, 0, 'one 503, then Upwork answers: exit 0');
like($r->{msgs}, qr/HTTP 503; retrying in \d+ ms/, 'the retry is logged');
is($count->(), '15', 'everything stored');
$clean->();

$r = $poll->(fail => [{ graphqlError => 1 }]);
is($r->{exit}, 1, 'a GraphQL errors array: exit 1');
like($r->{msgs}, qr/Upwork GraphQL error: Requested field is not allowed for this token scope \(code 403\)/,
    "Upwork's message and code in the error");
is($r->{requests}, 1, 'not retried (it would fail the same way)');
is($count->(), '0', 'nothing stored');

$r = $poll->(fail => [{ pass => 1 }, { malformed => 1 }]);
is($r->{exit}, 1, 'page 2 malformed: exit 1');
like($r->{msgs}, qr/malformed Upwork response: unexpected end of JSON/, 'said so');
is($count->(), '10', 'page 1, whole and valid, is stored; nothing of page 2');
$r = $poll->();
is($r->{exit}, 0, 'the next run');
like($r->{msgs}, qr/2 pages, 15 jobs fetched, 5 new/, 'reads on past the known first page (the last run failed) and fills the gap');
is($count->(), '15', 'all fifteen');
$clean->();

$r = $poll->(fail => [{ oversized => 200000 }], env => { APP_UPWORK_RESPONSE_MAX => 65536 });
is($r->{exit}, 1, 'a response past upwork_response_max: exit 1');
like($r->{msgs}, qr/response is larger than 65536 bytes/, 'said so');
is($count->(), '0', 'nothing stored');

$r = $poll->(fail => [{ badType => 1 }]);
is($r->{exit}, 1, 'a wrong type in one job: exit 1');
like($r->{msgs}, qr/edges\[0\]\.node\.title: must be a string/, 'which field of which job');
is($count->(), '0', 'the whole page is refused, nothing stored');

$r = $poll->(fail => [{ drop => 1 }]);
is($r->{exit}, 0, 'a dropped connection is retried: exit 0');
is($count->(), '15', 'stored');
$clean->();

$r = $poll->(fail => [{ delayMs => 1500 }], env => { APP_UPWORK_TIMEOUT_MS => 500 });
is($r->{exit}, 0, 'a request slower than upwork_timeout_ms is retried: exit 0');
like($r->{msgs}, qr/did not answer within 500 ms; retrying/, 'the timeout is logged');
is($count->(), '15', 'stored');
$clean->();

$r = $poll->(fail => [{ status => 429, retryAfter => 1 }], env => \%own);
is($r->{exit}, 0, "Upwork's 429 with Retry-After: 1: waited, then exit 0");
ok($r->{secs} >= 1, sprintf('the run honoured Retry-After (%.2f s)', $r->{secs}));
is($r->{requests}, 3, 'the refused request was sent again (three in all)');
is($count->(), '15', 'stored');
$clean->();

$r = $poll->(fail => [{ status => 429, retryAfter => 5 }], args => ['--max-seconds', '2'], env => \%own);
is($r->{exit}, 1, 'a Retry-After past the time budget: exit 1');
like($r->{msgs}, qr/rate limiting this API key \(429\); retry after 5000 ms/, 'said so');
ok($r->{secs} < 4, sprintf('without waiting for it (%.2f s)', $r->{secs}));
is($count->(), '0', 'nothing stored');

# The access token is refused before its time (revoked, rotated elsewhere): one forced refresh.
fake(POST => "/_fake/$T/expire");
my $refreshes = fake(GET => "/_fake/$T")->{refreshes};
$r = $poll->();
is($r->{exit}, 0, 'a 401 with a token that should be valid: refresh once, then exit 0');
is(fake(GET => "/_fake/$T")->{refreshes}, $refreshes + 1, 'one refresh');
is($count->(), '15', 'stored');
$clean->();

$r = $poll->(env => { APP_UPWORK_GRAPHQL_URL => 'http://127.0.0.1:9/graphql', APP_UPWORK_RETRIES => 1 });
is($r->{exit}, 1, 'Upwork unreachable: exit 1');
like($r->{msgs}, qr/Upwork unreachable: Couldn't connect to server \(after 2 attempts\)/, 'said so');

# The same failures through the API.
fake(POST => "/_fake/$T/config", { failNext => [({ status => 500 }) x 4] });
$r = poll_now($tok);
is($r->{status}, 502, 'POST /api/upwork/poll with Upwork failing: 502');
is($r->{json}{code}, 'bad_gateway', 'bad_gateway');
like($r->{json}{details}, qr/Upwork answered HTTP 500/, 'with the reason');
fake(POST => "/_fake/$T/config", { failNext => [{ graphqlError => 1 }] });
$r = poll_now($tok);
is($r->{status}, 502, 'a GraphQL error: 502');
like($r->{json}{details}, qr/not allowed for this token scope/, "with Upwork's message");
is($count->(), '0', 'nothing stored');

done_testing;
