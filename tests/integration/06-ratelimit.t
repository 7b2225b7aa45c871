#!/usr/bin/env perl
# 06-ratelimit.t: rate limits over HTTP: headers, exactly N of 2N concurrent requests, identifiers, trusted and spoofed X-Forwarded-For.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes ();
use ApiTest;

my $T = 'org_t_rl';
my $N = 100;    # the default class

# Windows are whole minutes of the epoch, and the previous one counts in
# proportion to what of it is still inside the sliding window: N
# requests that straddle a minute leave room for one more.  A part that
# counts to N starts with 20 s of its minute left.
sub fresh_window {
    my $into = Time::HiRes::time() - 60 * int(time / 60);
    Time::HiRes::sleep(60.2 - $into) if $into > 40;
}

fresh_window();
my $t0 = time;
my $r = api(GET => '/api/job-searches', token => token(sub => 'user_rl_a', org => $T));
is($r->{status}, 200, 'a first request: 200');
my $h = $r->{headers};
is($h->{'x-ratelimit-limit'}, $N, 'X-RateLimit-Limit');
is($h->{'x-ratelimit-remaining'}, $N - 1, 'X-RateLimit-Remaining counts this request');
ok($h->{'x-ratelimit-reset'} >= $t0 && $h->{'x-ratelimit-reset'} <= $t0 + 61,
    'X-RateLimit-Reset is epoch seconds within the window');
is($h->{'ratelimit-policy'}, qq{"default";q=$N;w=60}, 'RateLimit-Policy (IETF draft)');
like($h->{ratelimit}, qr/^"default";r=${\($N - 1)};t=\d+$/, 'RateLimit (IETF draft)');

# 2N requests at once from one user: exactly N pass.
my $burst = token(sub => 'user_rl_burst', org => $T);
my ($procs, $each) = (20, 2 * $N / 20);
my @pipes;
for my $p (1 .. $procs) {
    pipe(my $rd, my $wr) or die;
    my $pid = fork // die;
    if ($pid == 0) {
        close $rd;
        my @s = map { api(GET => '/api/job-searches', token => $burst)->{status} } 1 .. $each;
        print $wr join(' ', @s);
        close $wr;
        exit 0;
    }
    close $wr;
    push @pipes, $rd;
}
my %count;
for my $rd (@pipes) {
    local $/;
    $count{$_}++ for split ' ', <$rd> // '';
}
1 while wait != -1;
is($count{200} // 0, $N, "$procs clients sending 2N = ${\(2 * $N)} requests at once: exactly N pass");
is($count{429} // 0, $N, 'and exactly N are refused');

$r = api(GET => '/api/job-searches', token => $burst);
is($r->{status}, 429, 'the next request is refused too (rejected requests did not count, the budget is spent)');
is($r->{json}{error}, 'Rate limit exceeded', "the seed's 429 body");
is($r->{json}{code}, 'rate_limited', 'with our code');
is($r->{json}{limit}, $N, 'limit');
is($r->{json}{remaining}, 0, 'remaining 0');
is($r->{json}{reset}, $r->{headers}{'x-ratelimit-reset'}, 'reset as in X-RateLimit-Reset');
is($r->{headers}{'x-ratelimit-remaining'}, 0, 'X-RateLimit-Remaining: 0 on the 429');
ok($r->{headers}{'retry-after'} >= 1 && $r->{headers}{'retry-after'} <= 60, 'Retry-After in seconds');
like($r->{headers}{ratelimit}, qr/^"default";r=0;t=\d+$/, 'RateLimit r=0');

$r = api(POST => '/api/ai/proposals/generate', token => $burst, json => {});
is($r->{status}, 400, 'the same user on an ai route: not limited by the spent default budget');
like($r->{headers}{'ratelimit-policy'} // '', qr/^"ai";q=\d+;w=60$/, 'it is counted in the ai class');
cmp_ok($r->{headers}{'x-ratelimit-remaining'}, '>', 0, 'which has a budget of its own');

$r = api(GET => '/api/job-searches', token => token(sub => 'user_rl_other', org => $T));
is($r->{status}, 200, 'another user of the same tenant has a budget of its own');
is($r->{headers}{'x-ratelimit-remaining'}, $N - 1, 'untouched');
$r = api(GET => '/api/job-searches', token => token(sub => 'user_rl_burst', org => 'org_t_rl_2'));
is($r->{status}, 429, 'the budget is the user\'s across tenants');

# Without a (valid) token the client address is the identifier.
$r = api(GET => '/api/job-searches', from => '127.0.0.252');
is($r->{status}, 401, 'no token: 401');
is($r->{headers}{'x-ratelimit-remaining'}, $N - 1, 'counted against the address');
$r = api(GET => '/api/job-searches', token => 'garbage', from => '127.0.0.252');
is($r->{headers}{'x-ratelimit-remaining'}, $N - 2, 'a bad token counts against the address too');

# X-Forwarded-For: believed from the trusted proxy (127.0.0.1), ignored from anyone else.
my $spoofed = '198.51.100.7';
fresh_window();
for my $i (1 .. $N) {
    $r = api(GET => '/api/job-searches', from => '127.0.0.1', headers => { 'X-Forwarded-For' => $spoofed });
    last if $r->{status} != 401;
}
is($r->{status}, 401, "N requests for $spoofed through the trusted proxy: 401 each");
$r = api(GET => '/api/job-searches', from => '127.0.0.1', headers => { 'X-Forwarded-For' => $spoofed });
is($r->{status}, 429, "the next one for $spoofed: 429");
$r = api(GET => '/api/job-searches', from => '127.0.0.1', headers => { 'X-Forwarded-For' => "$spoofed, 127.0.0.1" });
is($r->{status}, 429, 'a chain ending in trusted proxies resolves to the same client');
$r = api(GET => '/api/job-searches', from => '127.0.0.1', headers => { 'X-Forwarded-For' => "$spoofed, 198.51.100.8" });
is($r->{status}, 401, 'the rightmost untrusted hop is the client (198.51.100.8 has its own budget)');
$r = api(GET => '/api/job-searches', from => '127.0.0.1', headers => { 'X-Forwarded-For' => '198.51.100.9' });
is($r->{status}, 401, 'another forwarded client: its own budget');
$r = api(GET => '/api/job-searches', from => '127.0.0.253', headers => { 'X-Forwarded-For' => $spoofed });
is($r->{status}, 401, 'the same header from an untrusted address is ignored');
is($r->{headers}{'x-ratelimit-remaining'}, $N - 1, 'and that address is counted instead');
$r = api(GET => '/api/job-searches', from => '127.0.0.1', headers => { 'X-Forwarded-For' => 'not-an-address' });
is($r->{status}, 401, 'garbage in X-Forwarded-For: the proxy itself is the client');

$r = api(GET => '/api/health');
ok(!exists $r->{headers}{'x-ratelimit-limit'}, 'health is not rate limited');

done_testing;
