#!/usr/bin/env perl
# 19-events-recent.t: GET /api/events/recent: the caller's events after an id as plain JSON, scoped as the broadcaster scopes them, with Redis or (no-Redis pass) from PostgreSQL: order, topics, paging, concurrent publishers, bad input, the bounded table.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my $s = stack();
my ($T, $O) = ('org_t_recent', 'org_t_recent_o');
my $ta = token(sub => 'user_rec_a', org => $T);
my $tb = token(sub => 'user_rec_b', org => $T);
my $to = token(sub => 'user_rec_a', org => $O);
my $mode = no_redis() ? 'PostgreSQL' : 'Redis';

sub recent {
    my ($tok, $q) = @_;
    return api(GET => '/api/events/recent' . (defined $q ? "?$q" : ''), token => $tok);
}
sub ids { [ map { $_->{id} } @{ $_[0]{json}{data}{events} } ] }
sub id_lt {
    my ($a, $b) = @_;
    my ($am, $as) = split /-/, $a;
    my ($bm, $bs) = split /-/, $b;
    return $am < $bm || ($am == $bm && $as < $bs);
}

# Where the tenant's stream stands now: the tests count from there.
my $r = recent($ta);
is($r->{status}, 200, "GET /api/events/recent ($mode): 200");
my $start = '0';
while (1) {
    $r = recent($ta, "after=$start&limit=500");
    $start = $r->{json}{data}{lastId} // $start;
    last unless $r->{json}{data}{hasMore};
}

my $e1 = publish_event($T, 'job:new', { n => 1 });
my $e2 = publish_event($T, 'proposal:updated', { n => 2 }, 'user_rec_a');
my $e3 = publish_event($T, 'proposal:updated', { n => 3 }, 'user_rec_b');
my $e4 = publish_event($T, 'test:other', { n => 4 });
my $e5 = publish_event($O, 'job:new', { n => 5 });
like($_, qr/^\d+-\d+$/, "make publish prints the id ($_)") for $e1, $e5;
ok(id_lt($e1, $e2) && id_lt($e2, $e3) && id_lt($e3, $e4), 'ids grow in publishing order');

$r = recent($ta, "after=$start");
is_deeply(ids($r), [ $e1, $e2, $e4 ], "A: the tenant's events and A's own, in order; not B's, not the other tenant's");
my $ev = $r->{json}{data}{events}[1];
is_deeply([ sort keys %$ev ], [qw(data id tenant time type user)], 'each is the envelope subscribers get');
is_deeply([ @$ev{qw(type tenant user)} ], [ 'proposal:updated', $T, 'user_rec_a' ], 'type, tenant, user');
is_deeply($ev->{data}, { n => 2 }, 'and the data as published');
like($ev->{time}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'time in ISO 8601');
is($r->{json}{data}{lastId}, $e4, 'lastId: the last one given');
is($r->{json}{data}{hasMore}, JSON::PP::false, 'hasMore false');
is($r->{headers}{'cache-control'}, 'no-store', 'Cache-Control: no-store');
ok(defined $r->{headers}{'x-ratelimit-limit'}, 'rate limited as the default class');

is_deeply(ids(recent($tb, "after=$start")), [ $e1, $e3, $e4 ], 'B: its own instead of A\'s');
$r = recent($to, 'after=0');
ok((grep { $_ eq $e5 } @{ ids($r) }) && !(grep { $_ eq $e1 || $_ eq $e4 } @{ ids($r) }),
    'the other tenant: its own event, none of the first');

is_deeply(ids(recent($ta, "after=$e2")), [ $e4 ], 'after an id: only what follows it');
is_deeply(ids(recent($ta, "after=$start&topics=jobs")), [ $e1, $e4 ], 'topics=jobs: job:* and the tenant-wide others');
is_deeply(ids(recent($ta, "after=$start&topics=proposals")), [ $e2, $e4 ], 'topics=proposals');
$r = recent($ta, "after=$start&limit=2");
is_deeply(ids($r), [ $e1, $e2 ], 'limit=2: the first two');
ok($r->{json}{data}{hasMore}, 'hasMore true');
is_deeply(ids(recent($ta, "after=$r->{json}{data}{lastId}&limit=2")), [ $e4 ], 'from lastId: the rest');
$r = recent($ta, "after=$e4");
is_deeply([ ids($r), $r->{json}{data}{lastId} ], [ [], $e4 ], 'nothing new: no events, lastId stays');

# Publishers at once: every id distinct, a reader misses none.
my @pids;
for my $i (1 .. 8) {
    my $pid = fork // die;
    if ($pid == 0) {
        publish_event($T, 'job:new', { burst => $i });
        exit 0;
    }
    push @pids, $pid;
}
waitpid $_, 0 for @pids;
$r = recent($ta, "after=$e4");
my @burst = @{ $r->{json}{data}{events} };
is(scalar(@burst), 8, 'eight publishers at once: eight events');
is_deeply([ sort { $a <=> $b } map { $_->{data}{burst} } @burst ], [ 1 .. 8 ], 'each once');
ok(!(grep { !id_lt($burst[$_ - 1]{id}, $burst[$_]{id}) } 1 .. $#burst), 'in strictly growing id order');

# Bad input.
$r = recent($ta, 'after=12-x');
is($r->{status}, 400, 'after=12-x: 400');
is($r->{json}{code}, 'validation_failed', 'validation_failed');
is($r->{json}{details}[0]{field}, 'after', 'naming after');
is(recent($ta, 'after=-1')->{status}, 400, 'after=-1: 400');
is(recent($ta, 'topics=jobs,nope')->{json}{details}[0]{field}, 'topics', 'an unknown topic: 400 naming topics');
is(recent($ta, 'limit=0')->{status}, 400, 'limit=0: 400');
is(recent($ta, 'limit=501')->{status}, 400, 'limit=501: 400');
is(recent($ta, 'since=1')->{status}, 400, 'an unknown parameter: 400');
is(api(GET => '/api/events/recent')->{status}, 401, 'no token: 401');

SKIP: {
    skip 'the events table is the no-Redis store', 4 unless no_redis();
    # The newest 1,000 are kept (EVENTS_STREAM_MAX), as the Redis stream's cap.
    psql_app(<<"SQL");
BEGIN;
SELECT set_config('app.tenant_id', '$T', true);
SELECT count(events_append('job:new', NULL, ',"type":"job:new","tenant":"$T","user":null,"time":"2026-01-01T00:00:00.000Z","data":{"fill":' || i || '}}', 1000, 86400)) FROM generate_series(1, 1010) i;
COMMIT;
SQL
    is(psql("SELECT count(*) FROM events WHERE tenant_id = '$T'"), 1000, 'after 1,010 more, the table keeps 1,000 of the tenant');
    $r = recent($ta, 'after=0&limit=500&topics=jobs');
    is($r->{json}{data}{events}[0]{data}{fill}, 11, 'the oldest kept is the 11th of them');
    is(psql("SELECT count(*) FROM events WHERE tenant_id = '$O'"), 1, 'the other tenant\'s untouched');
    is(psql_app("SELECT count(*) FROM events"), 0, 'and the app role without a tenant sees none');
}

done_testing;
