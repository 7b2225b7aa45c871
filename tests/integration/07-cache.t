#!/usr/bin/env perl
# 07-cache.t: the two-layer cache over HTTP: X-Cache sequence, canonical keys, bypass, invalidation by writes, L1 staleness bound.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep time);
use ApiTest;

my $T = 'org_t_cache';
reset_tenant($T, 'org_t_cache_b');
insert_jobs($T, map { { upwork_id => "c-$_", title => "Cached job $_", skills => ['go', 'grpc'],
                        posted_at => "now() - interval '$_ minutes'" } } 1 .. 3);
my $tok = token(sub => 'user_c', org => $T);
my $get = sub { api(GET => $_[0], token => $_[1] // $tok, headers => $_[2] // {}) };

my $r = $get->('/api/jobs?skills=go,grpc');
is($r->{status}, 200, 'a list: 200');
is($r->{headers}{'x-cache'}, 'MISS', 'first time: MISS');
is($r->{json}{pagination}{total}, 3, 'with the three jobs');
my $body = $r->{body};
my %seen;
for (1 .. 6) {
    $r = $get->('/api/jobs?skills=go,grpc');
    $seen{ $r->{headers}{'x-cache'} }++;
    is($r->{body}, $body, 'a cached answer is the same body');
}
ok(!$seen{MISS} && ($seen{'HIT-L1'} // 0) + ($seen{'HIT-L2'} // 0) == 6,
    'the next six: hits only (' . join(', ', map { "$_ x$seen{$_}" } sort keys %seen) . ')');
SKIP: {
    skip mode_lacks('process'), 1 if mode_lacks('process');
    ok($seen{'HIT-L1'}, 'a worker that served it before answers from its memory (HIT-L1)');
}
sleep 1.3;    # past cache_l1_ttl_ms: every worker's L1 entry is gone
$r = $get->('/api/jobs?skills=go,grpc');
is($r->{headers}{'x-cache'}, 'HIT-L2', 'after the L1 TTL: HIT-L2 from Redis');

$r = $get->('/api/jobs?skills=grpc,GO,go');
like($r->{headers}{'x-cache'}, qr/^HIT-L[12]$/, 'the same filter written differently shares the entry');
$r = $get->('/api/jobs?skills=go,grpc&limit=2');
is($r->{headers}{'x-cache'}, 'MISS', 'another page size is another entry');
$r = $get->('/api/jobs?skills=go,grpc', $tok, { 'Cache-Control' => 'no-cache' });
is($r->{headers}{'x-cache'}, 'BYPASS', 'Cache-Control: no-cache bypasses the cache');
is($r->{json}{pagination}{total}, 3, 'and reads the same data from PostgreSQL');

# Another tenant, the same filters: its own entry, its own data.
$r = $get->('/api/jobs?skills=go,grpc', token(sub => 'user_cb', org => 'org_t_cache_b'));
is($r->{headers}{'x-cache'}, 'MISS', 'another tenant never shares an entry');
is($r->{json}{pagination}{total}, 0, 'and sees none of these jobs');

# Saved searches skip L1: a write is visible to the very next read on any worker.
$r = $get->('/api/job-searches');
is($r->{headers}{'x-cache'}, 'MISS', 'saved searches: MISS');
$r = $get->('/api/job-searches');
is($r->{headers}{'x-cache'}, 'HIT-L2', 'then HIT-L2 (no L1 for user-edited data)');
my $created = api(POST => '/api/jobs', token => $tok, json => { name => 'fresh' })->{json}{data}{id};
for my $i (1 .. 4) {
    $r = $get->('/api/job-searches');
    ok((grep { $_->{id} eq $created } @{ $r->{json}{data} }), "after POST, read $i sees the new search ($r->{headers}{'x-cache'})");
}
api(DELETE => "/api/job-searches/$created", token => $tok);
for my $i (1 .. 4) {
    $r = $get->('/api/job-searches');
    ok(!(grep { $_->{id} eq $created } @{ $r->{json}{data} }), "after DELETE, read $i does not ($r->{headers}{'x-cache'})");
}

# A job upsert elsewhere (what the poller does): PostgreSQL, then the generation.
$get->('/api/jobs?skills=go') for 1 .. 4;
insert_jobs($T, { upwork_id => 'c-new', title => 'Brand new job', skills => ['go'] });
my ($fresh_after, @stale) = (undef);
my $t0 = time;
while (time - $t0 < 3) {
    $r = $get->('/api/jobs?skills=go');
    if ($r->{json}{pagination}{total} == 4) {
        $fresh_after = time - $t0;
        last;
    }
    push @stale, $r->{headers}{'x-cache'};
    sleep 0.05;
}
ok(defined $fresh_after, 'the new job shows up');
ok(!(grep { $_ ne 'HIT-L1' } @stale), 'before that, only a worker\'s L1 copy (at most cache_l1_ttl_ms old) was served: '
    . (@stale ? join(',', @stale) : 'none'));
ok(defined $fresh_after && $fresh_after < 2, 'within the L1 TTL (plus slack): ' . sprintf('%.2f s', $fresh_after // -1));

# The access log says which layer answered.
my $s = stack();
SKIP: {
    skip mode_lacks('logs') // mode_lacks('process'), 2 if mode_lacks('logs') || mode_lacks('process');
    my $log = `grep -h '"path":"/api/jobs"' '$s->{RT}'/log/jobs.log`;
    like($log, qr/"cache":"HIT-L1"/, 'the request log records HIT-L1');
    like($log, qr/"cache":"MISS"/, 'and MISS');
}

done_testing;
