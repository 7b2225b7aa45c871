#!/usr/bin/env perl
# 31-push-sse.t: Server-Sent Events at /api/events through the web server: auth, topics, isolation, keep-alives, Last-Event-ID replay; Engine.IO's version and polling handshake at both doors.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);
use ApiTest;

my $s = stack();
my $T = 'org_push_sse';
my $tok = token(sub => 'user_sse_a', org => $T);

# The events of a stream's text (chunked or not: the proxy may chunk).
sub events {
    my ($text) = @_;
    my @ev;
    while ($text =~ /^id: (\S+)\r?\nevent: (\S+)\r?\ndata: (.*?)\r?\n\r?\n/mg) {
        push @ev, { id => $1, event => $2, data => json_decode($3) };
    }
    return @ev;
}

my $r = api(GET => '/api/events');
is($r->{status}, 401, 'no token: 401');
is($r->{json}{code}, 'unauthorized', 'JSON error');
is($r->{headers}{'www-authenticate'}, 'Bearer realm="api", error="invalid_token"', 'WWW-Authenticate, as the API sends it');
$r = api(GET => '/api/events', token => token(sub => 'user_sse_a', org => $T, claims => { exp => time() - 3600 }));
is($r->{status}, 401, 'expired token: 401');
$r = api(GET => '/api/events?topics=jobs,salaries', token => $tok);
is($r->{status}, 400, 'unknown topic: 400');
is($r->{json}{code}, 'validation_failed', 'validation_failed');
$r = api(GET => '/api/events', token => $tok, headers => { 'Last-Event-ID' => 'yesterday' });
is($r->{status}, 400, 'malformed Last-Event-ID: 400');
$r = api(POST => '/api/events', token => $tok, body => '');
is($r->{status}, 405, 'POST: 405');

# Engine.IO at /socket.io/, through the web server and at the
# broadcaster's own port alike: the long-polling handshake that
# socket.io-client sends first, and other versions refused with
# Engine.IO's own error body.
sub push_get {
    my ($target) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $s->{PUSH_PORT}, Timeout => 5)
        or die "connect: $!";
    print $sock "GET $target HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    my ($resp, $sel) = ('', IO::Select->new($sock));
    my $end = time() + 5;
    while ((my $left = $end - time()) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread($sock, my $chunk, 65536);
        last unless $n;
        $resp .= $chunk;
    }
    close $sock;
    my ($status) = $resp =~ m{^HTTP/1\.1 (\d{3})};
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    return { status => $status // 0, head => $head // '', json => scalar(eval { json_decode($body // '') }) };
}
my %via = (
    'web server' => sub { api(GET => $_[0]) },
    'broadcaster port' => \&push_get,
);
for my $via (sort keys %via) {
    for my $target ('/socket.io/?EIO=4&transport=polling', '/socket.io/?EIO=4&transport=polling&t=PxA1b2c') {
        $r = $via{$via}->($target);
        is($r->{status}, 200, "$via: GET $target: 200, the polling handshake");
    }
    for my $target ('/socket.io/?EIO=3&transport=polling', '/socket.io/?EIO=3&transport=websocket') {
        $r = $via{$via}->($target);
        is($r->{status}, 400, "$via: GET $target (Engine.IO 3): 400");
        is_deeply($r->{json}, { code => 5, message => 'Unsupported protocol version' },
            "$via: GET $target: Engine.IO's error body") or diag explain $r->{json};
    }
}

# Live events, topics and isolation.
my $a = open_stream('/api/events?topics=jobs,proposals', Authorization => "Bearer $tok");
ok(read_until($a, qr/: connected\n/), 'the stream opens') or diag $a->{buf};
like($a->{buf}, qr{^HTTP/1\.1 200}, 'status 200');
like($a->{buf}, qr{Content-Type: text/event-stream}i, 'text/event-stream');
my $jobsonly = open_stream("/api/events?topics=jobs", Cookie => "theme=dark; __session=$tok");
ok(read_until($jobsonly, qr/: connected\n/), 'a stream authenticated by the __session cookie opens');

my $id1 = publish_event($T, 'job:new', { n => 1, title => 'SSE job' });
publish_event("${T}_other", 'job:new', { n => 2 });
publish_event($T, 'proposal:updated', { n => 3 }, 'user_sse_b');
publish_event($T, 'proposal:updated', { n => 4 }, 'user_sse_a');
ok(read_until($a, qr/"n":4/), 'events arrive on the stream');
my @ev = events($a->{buf});
is_deeply([map { $_->{data}{n} } @ev], [1, 4], "own events in order; not another tenant's, not another user's");
is($ev[0]{event}, 'job:new', 'event: line names the type');
is($ev[0]{id}, $id1, 'id: line is the event id');
is_deeply($ev[0]{data}, { n => 1, title => 'SSE job' }, 'data: line is the JSON data');
ok(read_until($jobsonly, qr/"n":1/), 'the jobs-only stream has job:new');
ok(read_until($a, qr/: keep-alive\n/, 4), 'keep-alive comments appear');
read_until($jobsonly, qr/: keep-alive\n/, 4);
ok(!grep({ $_->{data}{n} == 4 } events($jobsonly->{buf})), 'the jobs-only stream has no proposal events');
close $a->{sock};

# Last-Event-ID: what was published while away comes back, in order, once.
my $last = $ev[-1]{id};
my $id5 = publish_event($T, 'job:new', { n => 5 });
publish_event($T, 'proposal:updated', { n => 6 }, 'user_sse_b');
publish_event($T, 'job:new', { n => 7 });
my $b = open_stream('/api/events', Authorization => "Bearer $tok", 'Last-Event-ID' => $last);
ok(read_until($b, qr/"n":7/), 'reconnected with Last-Event-ID: the missed events are replayed');
publish_event($T, 'job:new', { n => 8 });
ok(read_until($b, qr/"n":8/), 'then live events follow');
is_deeply([map { $_->{data}{n} } events($b->{buf})], [5, 7, 8], 'replayed and live, in order, none twice, none of others');
close $b->{sock};

my $c = open_stream("/api/events?topics=jobs&lastEventId=$id5", Authorization => "Bearer $tok");
ok(read_until($c, qr/"n":8/), 'lastEventId in the query string works too');
is_deeply([map { $_->{data}{n} } events($c->{buf})], [7, 8], 'from after that id');
close $c->{sock};
close $jobsonly->{sock};

done_testing;
