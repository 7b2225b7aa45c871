#!/usr/bin/env perl
# 02-request-log.t: one JSON access-log line per request, found by its X-Request-Id: the fields, no query string, no body, and never the bearer token.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(sleep time);
use ApiTest;

my $s = stack();
my $T = 'org_t_reqlog';
reset_tenant($T);
insert_jobs($T, { upwork_id => 'rl-1', title => 'Logged job', skills => ['perl'] });
my $tok = token(sub => 'user_reqlog', org => $T);
my $cookie_tok = token(sub => 'user_reqlog_cookie', org => $T);
# The same token with the first character of its signature changed: 401.
my ($h64, $c64, $sig64) = split /\./, $tok;
my $bad_tok = join '.', $h64, $c64, (substr($sig64, 0, 1) eq 'A' ? 'B' : 'A') . substr($sig64, 1);

# Request ids the API takes as given: letters, digits, '-', '_', '.'.
my $tag = "itest-reqlog-$$-" . int(rand(1e9));
my $qmarker = "qmarker$$" . int(rand(1e9));
my $bmarker = "bmarker$$" . int(rand(1e9));

# [request id, method, path and query, token, options, expected status, what]
my @reqs = (
    ["$tag.ok", GET => "/api/jobs?limit=1&q=$qmarker", $tok, {}, 200, 'a list'],
    ["$tag.bad", GET => '/api/jobs?limit=0', $tok, {}, 400, 'a bad parameter'],
    ["$tag.post", POST => '/api/jobs', $tok, { json => { name => $bmarker, notify => JSON::PP::false } }, 201,
        'a saved search'],
    ["$tag.cookie", GET => '/api/jobs?limit=1', undef, { headers => { Cookie => "__session=$cookie_tok" } }, 200,
        'a list, the token in the __session cookie'],
    ["$tag.unauth", GET => '/api/jobs?limit=1', $bad_tok, {}, 401, 'a tampered token'],
);
for my $q (@reqs) {
    my ($id, $method, $target, $t, $o, $status, $what) = @$q;
    my %h = (%{ $o->{headers} // {} }, 'X-Request-Id' => $id);
    my $r = api($method => $target, (defined $t ? (token => $t) : ()), %$o, headers => \%h);
    is($r->{status}, $status, "$what: $status") or diag $r->{body};
}

# The workers write their lines after the answer, each to its program's
# log: wait until every request has its line.
my $log = "$s->{RT}/log/jobs.log";
my %lines;
my $deadline = time() + 15;
while (1) {
    %lines = ();
    if (open my $fh, '<', $log) {
        while (my $line = <$fh>) {
            next unless index($line, $tag) >= 0;
            chomp $line;
            for my $q (@reqs) {
                push @{ $lines{ $q->[0] } }, $line if index($line, "\"request_id\":\"$q->[0]\"") >= 0;
            }
        }
        close $fh;
    }
    last if @reqs == grep { $lines{ $_->[0] } } @reqs;
    last if time() > $deadline;
    sleep 0.2;
}

for my $q (@reqs) {
    my ($id, $method, $target, $t, $o, $status, $what) = @$q;
    my @mine = @{ $lines{$id} // [] };
    my @parsed = map { scalar eval { json_decode($_) } } @mine;
    is(scalar(grep { !defined } @parsed), 0, "$what: every line with its request id is JSON")
        or diag explain \@mine;
    my @access = grep { defined && ($_->{msg} // '') eq 'request' } @parsed;
    is(scalar @access, 1, "$what: exactly one access-log line") or diag explain \@mine;
    my $l = $access[0] // {};
    my ($raw) = grep { /"msg":"request"/ } @mine;
    is($l->{request_id}, $id, "$what: request_id is the X-Request-Id sent");
    is($l->{method}, $method, "$what: method $method");
    is($l->{path}, '/api/jobs', "$what: path, without the query string");
    is($l->{status}, $status, "$what: status $status");
    like($raw // '', qr/"status":\d{3}[,}]/, "$what: status is a JSON number");
    like($raw // '', qr/"duration_ms":\d+(\.\d+)?[,}]/, "$what: duration_ms is a JSON number");
    ok(defined $l->{duration_ms} && $l->{duration_ms} >= 0 && $l->{duration_ms} < 60000,
        "$what: duration_ms is plausible (" . ($l->{duration_ms} // 'none') . ')');
    is($l->{level}, 'info', "$what: level info (not 5xx)");
    is($l->{svc}, 'jobs', "$what: svc names the program");
    like($l->{time} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, "$what: time in UTC with milliseconds");
    if ($status == 401) {
        ok(!exists $l->{tenant} && !exists $l->{user}, "$what: no tenant or user (the token did not verify)");
        is($l->{code}, 'unauthorized', "$what: code unauthorized");
    } else {
        is($l->{tenant}, $T, "$what: tenant");
        is($l->{user}, $id =~ /cookie/ ? 'user_reqlog_cookie' : 'user_reqlog', "$what: user");
    }
    is($l->{code}, 'validation_failed', "$what: code validation_failed") if $status == 400;
}

# Nothing secret or private reaches any log of the stack: not the tokens
# (whole, or their claims or signature), not the query string, not the
# body.  PostgreSQL's log is the exception for the last two: it logs a
# statement slower than log_min_duration_statement (1 s) with its
# parameters, which may happen on a loaded machine; tokens never reach
# PostgreSQL at all.
my @secrets = (
    [$tok, 'the bearer token', 1],
    [$c64, "the bearer token's claims", 1],
    [$sig64, "the bearer token's signature", 1],
    [$cookie_tok, 'the cookie token', 1],
    [$bad_tok, 'the tampered token', 1],
    [$qmarker, 'the query string', 0],
    [$bmarker, 'the body', 0],
);
my @logs = grep { -f && -r } glob("'$s->{RT}/log/'*.log");
ok((grep { $_ eq $log } @logs), "the logs scanned include $log") or diag explain \@logs;
for my $file (@logs) {
    (my $name = $file) =~ s{.*/}{};
    my @look = grep { $_->[2] || $name ne 'postgres.log' } @secrets;
    open my $fh, '<', $file or next;
    my %found;
    while (my $line = <$fh>) {
        for my $sec (@look) {
            $found{ $sec->[1] }++ if index($line, $sec->[0]) >= 0;
        }
    }
    close $fh;
    is_deeply(\%found, {}, "$name: no line holds " . join(', ', map { $_->[1] } @look));
}

done_testing;
