#!/usr/bin/env perl
# 15-cgi.t: the endpoint programs run as plain CGI (the environment, stdin, stdout): the same routes, JSON, headers, errors, body limits and logs as over FastCGI, and a stream flushed piece by piece.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Select;
use IPC::Open3 qw(open3);
use Symbol qw(gensym);
use Test::More;
use Time::HiRes qw(time);
use ApiTest;

my $s = stack();
my $bin = ($s->{XBIN} || $s->{BIN}) . '/cgi-bin';
my $T = 'org_t_cgi';
reset_tenant($T);
my $tok = token(sub => 'user_c', org => $T);
psql(<<"SQL");
INSERT INTO tenants (id, kind) VALUES ('$T', 'org');
INSERT INTO users (tenant_id, id, name, title, skills, hourly_rate) VALUES
  ('$T', 'user_c', 'Cai Gee', 'Backend developer', '{c,postgresql}', 60);
SQL
insert_jobs($T, map { { upwork_id => "cgi-$_", title => "CGI job $_", skills => ['c'], budget_min => 10 * $_,
    budget_max => 20 * $_, posted_at => "now() - interval '$_ minutes'" } } 1 .. 3);

# Run a program as a web server runs a CGI: the request in the
# environment (CGI/1.1 and the HTTP_* headers), the body on stdin; the
# program's stdout split into status, headers and body, its stderr kept.
sub cgi {
    my ($prog, $method, $uri, %o) = @_;
    my ($path, $query) = split /\?/, $uri, 2;
    local %ENV = (PATH => '/usr/bin:/bin', APP_CONFIG => "$s->{RT}/app.conf",
        (map { $_ => $ENV{$_} } grep { /^(APP_|ASAN_|UBSAN_)/ && $_ ne 'APP_CONFIG' } keys %ENV),
        GATEWAY_INTERFACE => 'CGI/1.1', SERVER_PROTOCOL => 'HTTP/1.1', SERVER_SOFTWARE => 'cgi-test',
        SERVER_NAME => '127.0.0.1', SERVER_PORT => $s->{PORT}, REMOTE_ADDR => '127.0.0.9',
        REQUEST_METHOD => $method, REQUEST_URI => $uri, SCRIPT_NAME => "/cgi-bin/$prog",
        QUERY_STRING => $query // '', (defined $o{token} ? (HTTP_AUTHORIZATION => "Bearer $o{token}") : ()),
        (defined $o{body} ? (CONTENT_TYPE => 'application/json') : ()),
        ((defined $o{body} || defined $o{length}) && !$o{chunked} ? (CONTENT_LENGTH => $o{length} // length $o{body}) : ()),
        %{ $o{env} // {} });
    local $SIG{PIPE} = 'IGNORE';    # a program that answers without reading the whole body
    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, "$bin/$prog");
    print $in $o{body} // '';
    close $in;
    my %r = (chunks => []);
    my $sel = IO::Select->new($out, $err);
    my $t0 = time();
    while (my @ready = $sel->can_read(30)) {
        for my $fh (@ready) {
            my $n = sysread($fh, my $buf, 65536);
            if (!$n) { $sel->remove($fh); next; }
            if ($fh == $out) {
                $r{stdout} .= $buf;
                push @{ $r{chunks} }, [time() - $t0, $buf];
            } else {
                $r{stderr} .= $buf;
            }
        }
        last if !$sel->count;
    }
    waitpid($pid, 0);
    $r{exit} = $? >> 8;
    $r{ms} = (time() - $t0) * 1000;
    my ($head, $body) = split /\r\n\r\n/, $r{stdout} // '', 2;
    $r{body} = $body // '';
    for (split /\r\n/, $head // '') {
        $r{headers}{ lc $1 } = $2 if /^([^:]+):\s*(.*)$/;
    }
    ($r{status}) = ($r{headers}{status} // '') =~ /^(\d{3})/;
    $r{status} //= 0;
    $r{json} = eval { json_decode($r{body}) } if ($r{headers}{'content-type'} // '') =~ /json/;
    return \%r;
}

# --- the issue's reproduction: a CGI environment, stdin not a socket ----
my $r = cgi('health', GET => '/api/health');
is($r->{status}, 200, 'health as a CGI: Status: 200') or diag explain $r;
is($r->{exit}, 0, 'and exits 0');
ok($r->{json}{success}, 'the JSON of /api/health');
ok($r->{json}{checks}{postgres}{ok}, 'PostgreSQL reached');
if (no_redis()) {
    ok(!exists $r->{json}{checks}{redis}, 'no Redis configured, none checked')
        or diag explain $r->{json}{checks};
} else {
    ok($r->{json}{checks}{redis}{ok}, 'Redis reached');
}
is($r->{headers}{'content-length'}, length $r->{body}, 'Content-Length is the body\'s length');
like($r->{headers}{'x-request-id'}, qr/^[0-9a-f]{32}$/, 'X-Request-Id');
is($r->{headers}{'cache-control'}, 'no-store', 'the common headers');
like($r->{stderr}, qr/"msg":"request".*"path":"\/api\/health","status":200/, 'the request log line, on stderr');

# --- the same answer as over FastCGI ------------------------------------
$r = cgi('jobs', GET => '/api/jobs?limit=2&sort=newest', token => $tok);
is($r->{status}, 200, 'GET /api/jobs as a CGI') or diag $r->{body};
my $f = api(GET => '/api/jobs?limit=2&sort=newest', token => $tok);
is($f->{status}, 200, 'and over FastCGI');
is_deeply([map { $_->{id} } @{ $r->{json}{data} }], [map { $_->{id} } @{ $f->{json}{data} }], 'the same jobs');
is_deeply($r->{json}{pagination}, $f->{json}{pagination}, 'the same pagination');
ok(exists $r->{headers}{'x-ratelimit-limit'}, 'rate-limit headers');
# A process a request: no rate-limit lease (its permits would die with
# it), one permit a request, even where the limit would lease.
my @left = map { cgi('jobs', GET => '/api/jobs?limit=1', token => $tok,
    env => { APP_RL_DEFAULT_LIMIT => 100000 })->{headers}{'x-ratelimit-remaining'} } 1 .. 2;
SKIP: {
    skip 'no rate-limit headers (no store)', 1 unless defined $left[0];
    is($left[0] - $left[1], 1, "one permit a CGI request, no lease (remaining $left[0], then $left[1])");
}
$r = cgi('jobs', GET => '/api/jobs', env => { HTTP_X_REQUEST_ID => 'cgi-req-1' });
is($r->{status}, 401, 'no token: 401');
is($r->{json}{code}, 'unauthorized', 'the error contract') or diag $r->{body};
like($r->{headers}{'www-authenticate'}, qr/^Bearer/, 'with WWW-Authenticate');
is($r->{headers}{'x-request-id'}, 'cgi-req-1', 'the client\'s request id kept');
$r = cgi('jobs', GET => '/api/nothing-here', token => $tok);
is($r->{status}, 404, 'a path the program does not serve: 404 JSON') or diag $r->{body};
$r = cgi('jobs', GET => '/api/jobs%00', token => $tok);
is($r->{status}, 400, 'a broken URI: 400');

# --- bodies: CONTENT_LENGTH bytes of stdin, the same limits --------------
my $body = json_encode({ name => 'CGI search', skills => ['C'] });
$r = cgi('jobs', POST => '/api/jobs', token => $tok, body => $body);
is($r->{status}, 201, 'POST /api/jobs with the body on stdin: 201') or diag $r->{body};
is($r->{json}{data}{name}, 'CGI search', 'the body read');
is(psql("SELECT count(*) FROM job_searches WHERE tenant_id = '$T'"), 1, 'the row is stored');
$r = cgi('jobs', POST => '/api/jobs', token => $tok, body => $body . 'trailing garbage', length => length $body);
is($r->{status}, 201, 'no byte past CONTENT_LENGTH is read') or diag $r->{body};
$r = cgi('jobs', POST => '/api/jobs', token => $tok, body => $body, length => length($body) + 10);
is($r->{status}, 400, 'stdin ends before CONTENT_LENGTH: 400');
like($r->{json}{details} // '', qr/shorter than Content-Length/, 'said so');
$r = cgi('jobs', POST => '/api/jobs', token => $tok, body => '', length => 10_000_000);
is($r->{status}, 413, 'CONTENT_LENGTH above body_max: 413, nothing read');
$r = cgi('jobs', POST => '/api/jobs', token => $tok, body => '{"name":"' . ('x' x 70000) . '"}');
is($r->{status}, 413, 'a declared body above body_max: 413');
$r = cgi('jobs', POST => '/api/jobs', token => $tok, body => $body, chunked => 1);
is($r->{status}, 411, 'no CONTENT_LENGTH: 411, as over FastCGI, stdin not read') or diag $r->{body};
$r = cgi('jobs', POST => '/api/jobs', token => $tok, body => '{"name":');
is($r->{status}, 400, 'broken JSON: 400');
is($r->{json}{code}, 'malformed_json', 'the error contract');
$r = cgi('jobs', POST => '/api/jobs', token => $tok, length => 'ten', body => '');
is($r->{status}, 400, 'a CONTENT_LENGTH that is not a number: 400');

# --- a stream, flushed piece by piece -----------------------------------
my $job = psql("SELECT id FROM jobs WHERE tenant_id = '$T' ORDER BY posted_at DESC LIMIT 1");
$r = cgi('proposals_stream', POST => '/api/ai/proposals/stream', token => $tok,
    body => json_encode({ jobId => $job, maxWords => 60, alternatives => 0 }),
    env => { APP_LLM_BUILTIN_PACE_MS => 30 });
is($r->{status}, 200, 'the stream as a CGI: 200') or diag $r->{stdout};
like($r->{headers}{'content-type'}, qr{^text/event-stream}, 'text/event-stream');
my @deltas = $r->{body} =~ /^data: \{"delta":/mg;
ok(@deltas >= 5, scalar(@deltas) . ' deltas');
like($r->{body}, qr/"proposalId":"[0-9a-f-]{36}"/, 'and the final event with the stored proposal');
ok(@{ $r->{chunks} } >= 5, scalar(@{ $r->{chunks} }) . ' separate writes reached the pipe');
my ($first, $last) = ($r->{chunks}[0][0], $r->{chunks}[-1][0]);
ok($last - $first > 0.1, sprintf('the first arrived %.0f ms before the last: not buffered to the end', ($last - $first) * 1000));

done_testing();
