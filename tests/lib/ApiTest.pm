# ApiTest.pm: helpers for the integration tests: the running stack's settings, HTTP calls, tokens, SQL.
#
# Every integration test runs against a real stack started by
# tests/harness.pl (or by hand: make start, then
# STACK_ENV=var/stack.env prove -Itests/lib tests/integration).  Tokens
# are minted here, independently of the C code under test: HS256 with
# Digest::SHA, RS256 with the openssl command.
package ApiTest;

use strict;
use warnings;
use Exporter 'import';
use Digest::SHA qw(hmac_sha256);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Encode ();
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time);

our @EXPORT = qw(stack api token b64url sign_token raw_request psql psql_app app_role single_role no_redis
    json_encode json_decode uuid_like insert_jobs reset_tenant redis invalidate local_address
    sse_request fake_log ai_job ai_rows sql_quote mode_lacks publish_event open_stream read_until);

my %stack;

# The settings of the stack under test (RT, PORT, PG_PORT, JWT_ALG, ...).
sub stack {
    return \%stack if %stack;
    my $file = $ENV{STACK_ENV}
        or die "STACK_ENV must name the stack.env of a running stack\n";
    open my $fh, '<', $file or die "$file: $!\n";
    while (<$fh>) {
        chomp;
        $stack{$1} = $2 if /^(\w+)=(.*)$/;
    }
    close $fh;
    $stack{URL} = "http://127.0.0.1:$stack{PORT}";
    return \%stack;
}

# What the stack's MODE (scripts/stack.sh, docs/shared-hosting.md) lacks,
# as a reason to skip tests, or undef: 'push', the broadcaster (no
# daemon on a shared host: cgi, fcgid); 'logs', each program's log file
# in RT/log (elsewhere the web server's error log takes its lines);
# 'process', a program process that outlives a request (not under cgi);
# 'partial-body', a 400 or a close (not a 500) for a body cut short.
sub mode_lacks {
    my ($what) = @_;
    my $m = stack()->{MODE} || 'fcgi';
    return "MODE=$m: no broadcaster (a shared host runs no daemon of yours)"
        if $what eq 'push' && ($m eq 'cgi' || $m eq 'fcgid');
    return "MODE=$m: the programs log to the web server's error log" if $what eq 'logs' && $m ne 'fcgi';
    return "MODE=$m: one process a request, nothing kept between requests" if $what eq 'process' && $m eq 'cgi';
    return "MODE=$m: the host's web server, whose limits (mod_reqtimeout, its workers) are the host's to set"
        if $what eq 'server-config' && ($m eq 'cgi' || $m eq 'fcgid');
    return "MODE=$m: mod_fcgid reads a body whole before the program runs and answers 500 to one cut short"
        if $what eq 'partial-body' && $m eq 'fcgid';
    return undef;
}

my $json = JSON::PP->new->utf8->canonical->allow_nonref;
sub json_encode { $json->encode($_[0]) }
sub json_decode { $json->decode($_[0]) }

sub b64url {
    my $s = encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!\n";
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data;
}

# Sign header and claims (hash refs or raw JSON strings) with the
# stack's key for alg; alg "none" gives an empty signature.
sub sign_token {
    my ($header, $claims, %opt) = @_;
    my $s = stack();
    $header = json_encode($header) if ref $header;
    $claims = json_encode($claims) if ref $claims;
    my $input = b64url($header) . '.' . b64url($claims);
    my $alg = $opt{sign_as} // (json_decode($header)->{alg} // 'none');
    my $sig = '';
    if ($alg eq 'HS256') {
        my $key = $opt{key} // slurp("$s->{RT}/secrets/jwt-hs256.key");
        $key =~ s/\s+$//;
        $sig = b64url(hmac_sha256($input, $key));
    } elsif ($alg eq 'RS256') {
        my $keyfile = $opt{keyfile} // "$s->{RT}/secrets/jwt-rs256.key";
        my $tmp = "/tmp/apitest-$$-" . int(rand(1e9));
        open my $fh, '>', $tmp or die $!;
        print $fh $input;
        close $fh;
        $sig = b64url(scalar `openssl dgst -sha256 -sign '$keyfile' '$tmp'`);
        unlink $tmp;
    }
    return "$input.$sig";
}

# A valid token for the stack: token(sub => 'user_x', org => 'org_y',
# claims => {...extra or overriding claims}, header => {...}).
sub token {
    my (%o) = @_;
    my $s = stack();
    my $now = time();
    my %claims = (sub => $o{sub} // 'user_demo', iat => int($now),
                  exp => int($now) + 600);
    $claims{o} = { id => $o{org}, rol => 'admin' } if defined $o{org};
    my $conf = slurp("$s->{RT}/app.conf");
    $claims{iss} = $1 if $conf =~ /^jwt_issuer\s*=\s*(\S+)\s*$/m;
    $claims{aud} = $1 if $conf =~ /^jwt_audience\s*=\s*(\S+)\s*$/m;
    %claims = (%claims, %{ $o{claims} // {} });
    delete $claims{$_} for grep { !defined $claims{$_} } keys %claims;
    my %header = (alg => $s->{JWT_ALG}, typ => 'JWT');
    $header{kid} = slurp("$s->{RT}/secrets/jwt-rs256.kid") if $s->{JWT_ALG} eq 'RS256';
    %header = (%header, %{ $o{header} // {} });
    return sign_token(\%header, \%claims, %o);
}

# Each test file talks from its own loopback address (127.0.0.2 to
# 127.0.0.251, from its name), so that per-address rate limits of
# parallel test files never meet.  $ENV{API_LOCAL_ADDRESS} overrides it.
sub local_address {
    return $ENV{API_LOCAL_ADDRESS} if $ENV{API_LOCAL_ADDRESS};
    my $n = 0;
    $n = ($n * 31 + ord($_)) % 250 for split //, $0;
    return '127.0.0.' . (2 + $n);
}

my %http;
sub http_client {
    my ($addr) = @_;
    $addr //= local_address();
    return $http{$addr} //= HTTP::Tiny->new(timeout => 30, keep_alive => 0, local_address => $addr);
}

# api(METHOD, PATH, token => ..., json => $data | body => $raw,
#     headers => {...}, from => '127.0.0.9') returns
# { status, headers, body, json, ms }.  raw => 1 sends the path as it
# is, spaces and all, over a socket of its own.
sub api {
    my ($method, $path, %o) = @_;
    my %h = %{ $o{headers} // {} };
    $h{Authorization} = "Bearer $o{token}" if defined $o{token};
    my %req = (headers => \%h);
    if (exists $o{json}) {
        $req{content} = json_encode($o{json});
        $h{'Content-Type'} //= 'application/json';
    } elsif (defined $o{body}) {
        $req{content} = $o{body};
    }
    my $t0 = time();
    # raw => 1: the request line goes out byte for byte, as a hostile
    # client sends it (HTTP::Tiny refuses spaces and the like in a URL).
    my $r = $o{raw} ? raw_http($method, $path, \%req, $o{from})
        : http_client($o{from})->request($method, stack()->{URL} . $path, \%req);
    my %res = (status => $r->{status}, headers => $r->{headers},
               body => $r->{content} // '', ms => (time() - $t0) * 1000);
    $res{json} = eval { json_decode($res{body}) } if length $res{body};
    record_exchange($method, $path, \%h, $res{status}, $res{headers}, $res{body}) unless $o{raw};
    return \%res;
}

# The contract check (tests/post/contract.js): with CONTRACT_LOG set (the
# harness sets it to a directory of the pass), every exchange with the
# stack is appended to <file>.<pid>.jsonl there: method, request target,
# the request's headers, status, response headers (lower-case) and body,
# and validated against docs/openapi.yaml once the pass is over.
sub record_exchange {
    my ($method, $target, $req_headers, $status, $headers, $body) = @_;
    my $dir = $ENV{CONTRACT_LOG} or return;
    return unless $status && $status != 599;
    my %h = map { my $v = $headers->{$_}; (lc($_) => ref $v ? join(', ', @$v) : $v) } keys %{ $headers // {} };
    my %rq = map { (lc($_) => $req_headers->{$_}) } grep { !/^authorization$/i } keys %{ $req_headers // {} };
    (my $file = $0) =~ s{.*/}{};
    my $line = JSON::PP->new->canonical->encode({ src => $file, method => $method, target => $target,
        request => \%rq, status => $status + 0, headers => \%h,
        body => !defined $body ? undef : utf8::is_utf8($body) ? $body : Encode::decode('UTF-8', $body, Encode::FB_DEFAULT) });
    if (open my $fh, '>>:encoding(UTF-8)', "$dir/$file.$$.jsonl") {
        print $fh "$line\n";
        close $fh;
    }
}

# api(..., raw => 1): one request over a socket of its own, the path
# unchecked; returns what HTTP::Tiny's request() would.
sub raw_http {
    my ($method, $path, $req, $from) = @_;
    my $bytes = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:" . stack()->{PORT} . "\r\n";
    $bytes .= "$_: $req->{headers}{$_}\r\n" for sort keys %{ $req->{headers} };
    $bytes .= 'Content-Length: ' . length($req->{content}) . "\r\n" if defined $req->{content};
    $bytes .= "Connection: close\r\n\r\n" . ($req->{content} // '');
    my ($status, $body, $resp) = raw_request($bytes, $from);
    my ($head) = split /\r\n\r\n/, $resp, 2;
    my %headers;
    for (split /\r\n/, $head // '') {
        $headers{ lc $1 } = $2 if /^([^:\s]+):\s*(.*)$/;
    }
    return { status => $status || 599, headers => \%headers, content => $body };
}

# Send bytes as they are (for requests HTTP::Tiny would refuse to
# make); returns the status, the body and the whole response.
sub raw_request {
    my ($bytes, $from) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', LocalAddr => $from // local_address(),
        PeerPort => stack()->{PORT}, Timeout => 10) or die "connect: $!";
    print $sock $bytes;
    shutdown($sock, 1);    # end of request: a short body is now short
    local $/;
    my $resp = <$sock> // '';
    close $sock;
    my ($status) = $resp =~ m{^HTTP/1\.\d (\d{3})};
    my ($body) = $resp =~ /\r\n\r\n(.*)$/s;
    my $record = $bytes =~ m{^([A-Z]+) (\S+) HTTP/1\.\d\r\n(.*?)\r\n\r\n}s ? [$1, $2, $3] : undef;
    # Undo chunked transfer encoding when the server used it.
    if ($resp =~ /^Transfer-Encoding: chunked/mi && defined $body) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    }
    if ($record && $status) {
        my ($head) = split /\r\n\r\n/, $resp, 2;
        my (%h, %rq);
        for (split /\r\n/, $head // '') {
            $h{ lc $1 } = exists $h{ lc $1 } ? "$h{ lc $1 }, $2" : $2 if /^([^:\s]+):\s*(.*)$/;
        }
        for (split /\r\n/, $record->[2]) {
            $rq{ lc $1 } = $2 if /^([^:\s]+):\s*(.*)$/;
        }
        record_exchange($record->[0], $record->[1], \%rq, $status, \%h, $body // '');
    }
    return ($status // 0, $body // '', $resp);
}

sub run_psql {
    my ($user, $sql) = @_;
    my $s = stack();
    my $tmp = "/tmp/apitest-sql-$$-" . int(rand(1e9));
    open my $fh, '>', $tmp or die $!;
    print $fh $sql;
    close $fh;
    my $out;
    if ($user eq 'super') {
        $out = `VAR='$s->{VAR}' '$s->{ROOT}/scripts/stack.sh' psql -d upwork -tA -F '|' < '$tmp' 2>&1`;
    } else {
        my $pw = slurp("$s->{RT}/secrets/db-app.password");
        my $role = app_role();
        $out = `PGPASSWORD='$pw' psql -X -q -v ON_ERROR_STOP=1 -h '$s->{PG_HOST}' -p $s->{PG_PORT} -U $role -d upwork -tA -F '|' < '$tmp' 2>&1`;
    }
    my $rc = $?;
    unlink $tmp;
    die "psql failed: $out" if $rc != 0 && !wantarray;
    chomp $out;
    return wantarray ? ($out, $rc) : $out;
}

# The role the programs log in as (db_conninfo's user): upwork_app, or
# the one role of a single-role stack (DB_ROLES=single).
sub app_role {
    my $s = stack();
    my $conf = slurp("$s->{RT}/app.conf");
    return $conf =~ /^db_conninfo\s*=.*\buser=(\w+)/m ? $1 : 'upwork_app';
}
sub single_role { app_role() ne 'upwork_app' }

# Predicate: the stack runs without Redis (REDIS=0: an empty redis_host).
sub no_redis {
    my $s = stack();
    my $conf = slurp("$s->{RT}/app.conf");
    return $conf =~ /^redis_host\s*=\s*$/m && $conf !~ /^redis_socket\s*=\s*\S/m;
}

# SQL as the superuser (fixtures, checks), or as the API's role.
sub psql { run_psql('super', @_) }
sub psql_app { run_psql('app', @_) }

# The stack's Redis password (its Redis requires AUTH).
sub redis_password {
    my $s = stack();
    my $pw = slurp($s->{REDIS_PASSWORD_FILE} // "$s->{RT}/secrets/redis.password");
    $pw =~ s/\s+\z//;
    return $pw;
}

# A redis-cli command against the stack's Redis; returns its output.
sub redis {
    my (@args) = @_;
    my $s = stack();
    my $cmd = join ' ', map { my $a = $_; $a =~ s/'/'\\''/g; "'$a'" } @args;
    local $ENV{REDISCLI_AUTH} = redis_password();
    my $out = `redis-cli -s '$s->{REDIS_SOCKET}' $cmd 2>&1`;
    chomp $out;
    return $out;
}

# What a writer does after changing a tenant's data behind the API's
# back: bump the cache generation (the API's own writes do this).
sub invalidate {
    my ($ns, $scope) = @_;
    redis('INCR', "c:{$ns:$scope}:g");
}

# Remove a tenant and everything it owns, so that a test file can run
# again on the same stack.
sub reset_tenant {
    for my $t (@_) {
        (my $q = $t) =~ s/'/''/g;
        psql("DELETE FROM tenants WHERE id = '$q'");
        invalidate($_, $t) for qw(jobs searches clients);
    }
}

sub uuid_like { defined $_[0] && $_[0] =~ /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/ }

# Insert fixture jobs for a tenant: each a hash of column => value
# (upwork_id, title, skills as an array ref, budget_type, budget_min,
# budget_max, location, client_score, posted_at as an SQL expression).
sub insert_jobs {
    my ($tenant, @jobs) = @_;
    my $q = sub { my $v = shift; return 'NULL' unless defined $v; $v =~ s/'/''/g; "'$v'" };
    my $sql = "INSERT INTO tenants (id, kind) VALUES (" . $q->($tenant) . ", 'org') ON CONFLICT DO NOTHING;\n";
    for my $j (@jobs) {
        my $skills = '{' . join(',', map { my $x = $_; $x =~ s/"/\\"/g; "\"$x\"" } @{ $j->{skills} // [] }) . '}';
        $sql .= sprintf("INSERT INTO jobs (tenant_id, upwork_id, title, description, skills, budget_type, "
            . "budget_min, budget_max, location, client_score, posted_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %d, %s);\n",
            $q->($tenant), $q->($j->{upwork_id}), $q->($j->{title}), $q->($j->{description} // $j->{title}),
            $q->($skills), $q->($j->{budget_type} // 'hourly'), $j->{budget_min} // 'NULL',
            $j->{budget_max} // 'NULL', $q->($j->{location}), $j->{client_score} // 0,
            $j->{posted_at} // 'now()');
    }
    psql($sql);
    invalidate('jobs', $tenant);
}

# SQL literal of a Perl value (undef: NULL), for fixtures built in tests.
sub sql_quote {
    my ($v) = @_;
    return 'NULL' unless defined $v;
    $v =~ s/'/''/g;
    return "'$v'";
}

# What the fake OpenAI server saw for requests carrying id (see
# tests/fake-openai.js): an array of hashes.
sub fake_log {
    my ($id) = @_;
    my $url = stack()->{FAKE_LLM_URL} or die "the stack has no fake LLM server (FAKE_LLM=1)\n";
    my $r = http_client()->get("$url/__fake/log?id=$id");
    die "fake log: $r->{status}\n" unless $r->{success};
    return json_decode($r->{content});
}

# publish_event(tenant, event, data, [user]): publish through make
# publish, as an operator would; returns the event's id.  BUILD is
# unset for make: make publish builds and runs the release tools (as
# publish in tests/node/lib.js does).
sub publish_event {
    my ($tenant, $event, $data, $user) = @_;
    my $s = stack();
    local $ENV{BUILD};
    delete $ENV{BUILD};
    my $json = json_encode($data);
    my $cmd = "make -s -C '$s->{ROOT}' publish VAR='$s->{VAR}' PORT=$s->{PORT} TENANT='$tenant' EVENT='$event' DATA='$json'"
        . ($user ? " SUB='$user'" : '');
    my $id = `$cmd`;
    chomp $id;
    return $id;
}

# A long-lived GET (an event stream) over a socket of its own, so that
# a test can read it a piece at a time: open_stream(path, headers)
# returns { sock, buf }; read_until(st, regex, secs) appends what
# arrives to buf until regex matches it or secs (5 unless given) pass,
# and returns whether it matched.  buf keeps the raw bytes, headers and
# any chunk sizes included, since a proxy may chunk the stream.
sub open_stream {
    my ($path, %h) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => stack()->{PORT}, Timeout => 5)
        or die "connect: $!";
    my $req = "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    print $sock "$req\r\n";
    return { sock => $sock, buf => '' };
}

sub read_until {
    my ($st, $re, $secs) = @_;
    my $sel = IO::Select->new($st->{sock});
    my $end = time() + ($secs // 5);
    while ($st->{buf} !~ $re) {
        my $left = $end - time();
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($st->{sock}, my $chunk, 65536);
        last unless $n;
        $st->{buf} .= $chunk;
    }
    return $st->{buf} =~ $re;
}

# An hourly job (50 to 100 USD) for the AI tests: ai_job(tenant,
# directive, upwork_id => ..., title => ..., about => ..., skills =>
# [...]) stores it with the description "about directive", where the
# directive ([[fake:normal,id=...]]) tells the fake server how to
# answer and under which id to log it; returns the job's id.
sub ai_job {
    my ($tenant, $directive, %j) = @_;
    my $skills = '{' . join(',', @{ $j{skills} }) . '}';
    return scalar psql(sprintf("INSERT INTO jobs (tenant_id, upwork_id, title, description, skills, budget_type, budget_min,"
        . " budget_max, posted_at) VALUES (%s, %s, %s, %s, %s, 'hourly', 50, 100, now()) RETURNING id",
        sql_quote($tenant), sql_quote($j{upwork_id}), sql_quote($j{title}), sql_quote("$j{about} $directive"),
        sql_quote($skills)));
}

# "proposals,usage rows" of a tenant: a generation that fails must add
# to neither, one that succeeds (or is replayed) to each exactly once.
sub ai_rows {
    my ($tenant) = @_;
    my $t = sql_quote($tenant);
    return scalar psql("SELECT (SELECT count(*) FROM proposals WHERE tenant_id = $t) || ',' || "
        . "(SELECT count(*) FROM ai_usage WHERE tenant_id = $t)");
}

# POST a JSON body and read a streamed (text/event-stream) answer as it
# arrives, over a raw socket, timing each event.  Options: token, json,
# close_after => N (hang up after N data events), timeout (s).
# Returns { status, headers (lower-case keys), events => [{ms, data, raw}],
# comments, body, ms } where ms are milliseconds since the request was sent
# and data is the decoded JSON of each "data:" event.
sub sse_request {
    my ($path, %o) = @_;
    my $body = json_encode($o{json});
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => stack()->{PORT},
        LocalAddr => local_address(), Timeout => 10) or die "connect: $!";
    $sock->autoflush(1);
    my $req = "POST $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        . "Accept: text/event-stream\r\nContent-Type: application/json\r\n"
        . (defined $o{token} ? "Authorization: Bearer $o{token}\r\n" : '')
        . 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
    my $t0 = time();
    print $sock $req;
    my %res = (events => [], comments => 0, headers => {});
    my ($raw, $head_done, $chunked, $pending, $text) = ('', 0, 0, '', '');
    my $deadline = $t0 + ($o{timeout} // 30);
    my $sel = IO::Select->new($sock);
    READ: while (time() < $deadline) {
        last unless $sel->can_read($deadline - time());
        my $n = sysread($sock, my $got, 65536);
        last unless $n;
        my $now = (time() - $t0) * 1000;
        $raw .= $got;
        if (!$head_done) {
            next unless $raw =~ /\r\n\r\n/;
            my ($head, $rest) = split /\r\n\r\n/, $raw, 2;
            ($res{status}) = $head =~ m{^HTTP/1\.\d (\d{3})};
            for (split /\r\n/, $head) { $res{headers}{lc $1} = $2 if /^([^:]+):\s*(.*)$/ }
            $chunked = ($res{headers}{'transfer-encoding'} // '') =~ /chunked/i;
            $head_done = 1;
            $pending = $rest;
        } else {
            $pending .= $got;
        }
        # De-chunk what is complete so far.
        if ($chunked) {
            while ($pending =~ /^([0-9a-fA-F]+)\r\n/) {
                my $len = hex $1;
                my $hl = length($1) + 2;
                if ($len == 0) { $pending = ''; last }
                last if length($pending) < $hl + $len + 2;
                $text .= substr($pending, $hl, $len);
                $pending = substr($pending, $hl + $len + 2);
            }
        } else {
            $text .= $pending;
            $pending = '';
        }
        $res{body} .= '';
        while ($text =~ s/^(.*?)\n\n//s) {
            my $ev = $1;
            $res{body} .= "$ev\n\n";
            if ($ev =~ /^:/) { $res{comments}++; next }
            my ($data) = $ev =~ /^data: (.*)$/m;
            next unless defined $data;
            push @{ $res{events} }, { ms => $now, raw => $data, data => eval { json_decode($data) } };
            $res{first_ms} //= $now;
            if ($o{close_after} && @{ $res{events} } >= $o{close_after}) {
                close $sock;
                $res{closed} = 1;
                last READ;
            }
        }
    }
    $res{body} .= $text if !$res{closed} && length $text;
    $res{ms} = (time() - $t0) * 1000;
    close $sock unless $res{closed};
    record_exchange('POST', $path, { 'Content-Type' => 'application/json' }, $res{status}, $res{headers},
        $res{closed} ? undef : $res{body}) if $res{status};
    return \%res;
}

1;
