#!/usr/bin/env perl
# 45-proposal-lifecycle.t: PATCH /api/proposals/{id}: every legal and illegal status change, text edits, the history, proposal:updated to the owner only, submit on the same edges, other users' and tenants' ids, the bad-input matrix and hostile strings.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Select;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);
use ApiTest;
use UpworkTest;

my ($T, $O) = ('org_t_life', 'org_t_life_o');
reset_tenant($T, $O);
# Each part of the file acts as its own user, within the default rate limit (100 a minute).
my $me = 'user_life';
my %toks;
sub tok { my ($u, $t) = @_; $toks{"$u/" . ($t // $T)} //= token(sub => $u, org => $t // $T) }
my $tokb = tok('user_life_b');
my $job = psql('SELECT gen_random_uuid()');
my $ojob = psql('SELECT gen_random_uuid()');
psql(<<"SQL");
INSERT INTO tenants (id) VALUES ('$T'), ('$O');
INSERT INTO users (tenant_id, id) VALUES ('$T', 'user_life'), ('$T', 'user_life_b'), ('$O', 'user_life'),
    ('$T', 'user_life2'), ('$T', 'user_life3'), ('$O', 'user_life3'), ('$T', 'user_life4'), ('$T', 'user_life5');
INSERT INTO jobs (tenant_id, id, upwork_id, ciphertext, title, budget_type, posted_at) VALUES
    ('$T', '$job', 'life-1', '~01life', 'Lifecycle job', 'fixed', now()),
    ('$O', '$ojob', 'life-2', '~01lifo', 'Other tenant job', 'fixed', now());
SQL

# A proposal of the tenant in a given state (by default the caller's), as a generator or an earlier change left it.
sub mk {
    my ($status, %o) = @_;
    my $tenant = $o{tenant} // $T;
    my $j = $tenant eq $T ? $job : $ojob;
    my $user = $o{user} // $me;
    return scalar psql("INSERT INTO proposals (tenant_id, user_id, job_id, status, content, alternatives)"
        . " VALUES ('$tenant', '$user', '$j', '$status', 'Dear client, original text.',"
        . " '[{\"tone\":\"friendly\",\"text\":\"Hi!\"}]') RETURNING id");
}
sub patch { my ($id, $body, %o) = @_; api(PATCH => "/api/proposals/$id", token => $o{token} // tok($me), json => $body) }
sub status_of { scalar psql("SELECT status FROM proposals WHERE id = '$_[0]'") }
# The history as "from>to[+edit]/by", oldest first ("-" for a creation or no user).
sub history {
    my ($id) = @_;
    return [map { my ($f, $t, $e, $by) = split /\|/, $_, -1; ($f eq '' ? '-' : $f) . ">$t" . ($e eq 't' ? '+edit' : '') . '/' . ($by eq '' ? '-' : $by) }
        split /\n/, psql("SELECT from_status, to_status, edited, changed_by FROM proposal_history WHERE proposal_id = '$id' ORDER BY id")];
}

# README's table of the lifecycle, written out independently of the C code.
my @states = qw(draft incomplete ready submitted viewed interviewing hired declined withdrawn);
my %edge = map { $_ => 1 } qw(draft>ready draft>withdrawn incomplete>draft incomplete>withdrawn
    ready>draft ready>submitted ready>withdrawn submitted>viewed submitted>declined submitted>withdrawn
    viewed>interviewing viewed>declined viewed>withdrawn interviewing>hired interviewing>declined interviewing>withdrawn);
my %final = map { $_ => 1 } qw(hired declined withdrawn);
sub allowed_from { my ($s) = @_; [grep { $edge{"$s>$_"} } @states] }

my $tap = events_tap();

# --- Every pair of states, status only -----------------------------------
my ($legal, $refused, @changed) = (0, 0);
for my $from (@states) {
    for my $to (@states) {
        my $id = mk($from);
        my $r = patch($id, { status => $to });
        my $ok = $edge{"$from>$to"} && !($from eq 'incomplete' && $to eq 'draft');
        if ($ok) {
            $legal++;
            push @changed, $id;
            is($r->{status}, 200, "$from -> $to: 200") or diag $r->{body};
            is($r->{json}{data}{status}, $to, "$from -> $to: the answer says $to");
            is(status_of($id), $to, "$from -> $to: stored");
            is_deeply(history($id), ["->$from/-", "$from>$to/user_life"], "$from -> $to: recorded, by its user");
        } else {
            $refused++;
            is($r->{status}, 409, "$from -> $to: 409") or diag $r->{body};
            is($r->{json}{code}, 'conflict', "$from -> $to: conflict");
            is($r->{json}{currentStatus}, $from, "$from -> $to: names the current state");
            is_deeply($r->{json}{allowed}, allowed_from($from), "$from -> $to: and the allowed next ones");
            my $why = $from eq $to ? qr/already $from/
                : $from eq 'incomplete' && $to eq 'draft' ? qr/becomes a draft when its text is edited/
                : qr/cannot go from $from to $to/;
            like($r->{json}{details}, $why, "$from -> $to: says why");
            like($r->{json}{details}, $final{$from} ? qr/$from is final/ : qr/from $from it can become/,
                "$from -> $to: says what may follow") unless $from eq 'incomplete' && $to eq 'draft';
            is(status_of($id), $from, "$from -> $to: unchanged");
            is(scalar @{ history($id) }, 1, "$from -> $to: nothing recorded");
        }
    }
}
is($legal, 15, 'fifteen status changes are legal on their own');
is($refused, 81 - 15, 'the other sixty-six pairs are refused');
my @ev = grep { $_->{type} eq 'proposal:updated' } $tap->collect(1.5, tenant => $T);
is(scalar @ev, $legal, 'one proposal:updated per change, none for a refusal');
ok(!(grep { ($_->{user} // '') ne 'user_life' } @ev), 'each to the owner only (the envelope names the user)');
is_deeply([sort map { $_->{data}{id} } @ev], [sort @changed], 'one for each changed proposal');
my ($e1) = grep { ($_->{data}{previousStatus} // '') eq 'viewed' && $_->{data}{status} eq 'interviewing' } @ev;
my %d = %{ $e1->{data} };
is_deeply([delete @d{qw(changes cause previousStatus)}], [['status'], 'updated', 'viewed'],
    'the event says what changed (changes, cause, previousStatus)');
ok(!delete $d{truncated}, 'all of it (truncated false)');
is_deeply(\%d, api(GET => "/api/proposals/$e1->{data}{id}", token => tok($me))->{json}{data},
    'and carries the proposal as GET /api/proposals/{id} shows it, history included');
is($e1->{data}{jobId}, $job, 'with its job');

# --- Editing the text ----------------------------------------------------
$me = 'user_life2';
my $tok = tok($me);
for my $from (@states) {
    my $id = mk($from);
    my $r = patch($id, { content => "Edited while $from." });
    if ($from eq 'draft' || $from eq 'incomplete') {
        is($r->{status}, 200, "edit a(n) $from: 200") or diag $r->{body};
        is($r->{json}{data}{content}, "Edited while $from.", "edit a(n) $from: the new text");
        is($r->{json}{data}{status}, 'draft', "edit a(n) $from: a draft now");
        is_deeply(history($id), ["->$from/-", "$from>draft+edit/user_life2"], "edit a(n) $from: recorded as an edit");
    } else {
        is($r->{status}, 409, "edit a(n) $from: 409");
        like($r->{json}{details}, qr/can be edited only while the proposal is a draft \(or incomplete\); this proposal is $from/,
            "edit a(n) $from: says the text is locked");
        is(psql("SELECT content FROM proposals WHERE id = '$id'"), 'Dear client, original text.', "edit a(n) $from: unchanged");
    }
}
my $d = mk('draft');
my $r = patch($d, { alternatives => [{ tone => 'concise', text => 'Short one.' }, { tone => 'confident', text => 'Bold one.' }] });
is($r->{status}, 200, 'edit the alternatives of a draft');
is_deeply($r->{json}{data}{alternatives}, [{ tone => 'concise', text => 'Short one.' }, { tone => 'confident', text => 'Bold one.' }],
    'stored as given');
is($r->{json}{data}{content}, 'Dear client, original text.', 'the content untouched');
$r = patch($d, { alternatives => [] });
is_deeply($r->{json}{data}{alternatives}, [], 'an empty list clears them');
$r = patch($d, { content => 'Final words.', status => 'ready' });
is($r->{status}, 200, 'edit and ready in one change');
is($r->{json}{data}{content}, 'Final words.', 'the text');
is($r->{json}{data}{status}, 'ready', 'and the state');
like($r->{json}{data}{readyAt}, qr/^\d{4}-\d\d-\d\dT/, 'readyAt recorded, as submit does');
is_deeply(history($d), ['->draft/-', 'draft>draft+edit/user_life2', 'draft>draft+edit/user_life2', 'draft>ready+edit/user_life2'],
    'each change recorded');
my $inc = mk('incomplete');
is(patch($inc, { content => 'Finished by hand.', status => 'draft' })->{status}, 200, 'incomplete -> draft with its text');
$inc = mk('incomplete');
$r = patch($inc, { content => 'Finished by hand.', status => 'ready' });
is($r->{status}, 409, 'incomplete -> ready, even with the text: 409 (it goes through draft)');
is(patch($inc, { content => 'Finished by hand.', status => 'withdrawn' })->{status}, 200, 'incomplete withdrawn with an edit');
$r = patch(mk('draft'), { content => 'Same state.', status => 'draft' });
is($r->{status}, 200, 'status draft with an edit of a draft: a plain edit');

# --- The list filters by any state ---------------------------------------
$r = api(GET => "/api/proposals?status=ready&limit=50", token => $tok);
ok(scalar(grep { $_->{id} eq $d } @{ $r->{json}{data} }), '?status=ready lists it');
ok(!(grep { $_->{status} ne 'ready' } @{ $r->{json}{data} }), 'and only ready ones');
for my $bad ('sent', 'Ready', 'ready,draft', '') {
    is(api(GET => "/api/proposals?status=$bad", token => $tok)->{status}, 400, "?status=$bad: 400");
}

# --- GET shows the history -----------------------------------------------
$r = api(GET => "/api/proposals/$d", token => $tok);
my @h = @{ $r->{json}{data}{history} };
is(scalar @h, 4, 'GET one: the four changes');
is_deeply([map { [$_->{from}, $_->{to}, $_->{edited} ? 1 : 0, $_->{by}] } @h],
    [[undef, 'draft', 0, undef], ['draft', 'draft', 1, 'user_life2'], ['draft', 'draft', 1, 'user_life2'], ['draft', 'ready', 1, 'user_life2']],
    'from, to, edited, by');
ok(!(grep { $_->{at} !~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/ } @h), 'each with its time');
is(api(GET => "/api/proposals/$d", token => $tokb)->{json}{data}{history}[3]{to}, 'ready', 'a colleague in the tenant reads it too');

# --- expectedStatus: optimistic concurrency for clients that want it ------
my $x = mk('submitted');
$r = patch($x, { status => 'viewed', expectedStatus => 'ready' });
is($r->{status}, 409, 'expectedStatus that does not match: 409');
like($r->{json}{details}, qr/the proposal is submitted, not ready/, 'says what it is');
is($r->{json}{currentStatus}, 'submitted', 'currentStatus');
is(patch($x, { status => 'viewed', expectedStatus => 'submitted' })->{status}, 200, 'matching: 200');

# --- submit follows the same edges ---------------------------------------
my $s = mk('incomplete');
$r = api(POST => "/api/proposals/$s/submit", token => $tok);
is($r->{status}, 409, 'submit an incomplete proposal: 409');
like($r->{json}{details}, qr/only a draft can be submitted; this proposal is incomplete \(a proposal cannot go from incomplete to ready; from incomplete it can become draft or withdrawn\)/,
    'the lifecycle says why');
$s = mk('draft');
$r = api(POST => "/api/proposals/$s/submit", token => $tok);
is($r->{status}, 200, 'submit a draft');
my $ready_at = $r->{json}{data}{readyAt};
is(patch($s, { status => 'draft' })->{status}, 200, 'back to draft to edit it again');
is(patch($s, { content => 'Second thoughts.' })->{status}, 200, 'edited');
select(undef, undef, undef, 0.01);
$r = api(POST => "/api/proposals/$s/submit", token => $tok);
is($r->{status}, 200, 'submitted again');
isnt($r->{json}{data}{readyAt}, $ready_at, 'a new readyAt');
is_deeply(history($s), ['->draft/-', 'draft>ready/user_life2', 'ready>draft/user_life2', 'draft>draft+edit/user_life2', 'draft>ready/user_life2'],
    'submit is recorded like any change');
is(patch($s, { status => 'ready' })->{status}, 409, 'PATCH to ready once ready: 409 (submit alone answers it again)');

# --- Only its user, only its tenant --------------------------------------
$me = 'user_life3';
$tok = tok($me);
my $toko = tok($me, $O);
my $mine = mk('draft');
my $theirs = mk('draft', user => 'user_life_b');
my $foreign = mk('draft', tenant => $O);
for my $c ([$theirs, $tok, "another user's proposal"], [$mine, $tokb, 'a colleague changing mine'],
           [$foreign, $tok, "another tenant's proposal"], [$mine, $toko, 'the same user from another tenant']) {
    my ($id, $t, $what) = @$c;
    for my $body ({ status => 'ready' }, { content => 'Hijacked' }, { status => 'withdrawn' }) {
        $r = patch($id, $body, token => $t);
        is($r->{status}, 404, "$what: 404 (" . join(',', keys %$body) . ')');
        is($r->{json}{code}, 'not_found', "$what: not_found");
    }
}
is(psql("SELECT string_agg(status || ':' || content, ',' ORDER BY id) FROM proposals WHERE id IN ('$mine', '$theirs', '$foreign')"),
    join(',', map { 'draft:Dear client, original text.' } 1 .. 3), 'none of them changed');
is(patch(scalar psql('SELECT gen_random_uuid()'), { status => 'ready' })->{status}, 404, 'an unknown id: 404');
is(patch($foreign, { status => 'ready' }, token => $toko)->{status}, 200, "the other tenant's user changes its own");
@ev = grep { $_->{type} eq 'proposal:updated' } $tap->collect(1, tenant => $T);
ok(!(grep { $_->{data}{id} eq $theirs || $_->{data}{id} eq $mine && $_->{user} ne 'user_life3' } @ev),
    'no event for a refused change');

# --- Events reach only the owner's connections ---------------------------
sub stream {
    my ($t) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => stack()->{PORT}, Timeout => 5) or die "connect: $!";
    print $sock "GET /api/events?topics=proposals HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $t\r\n\r\n";
    return { sock => $sock, buf => '' };
}
sub drain {
    my ($st, $secs) = @_;
    my $sel = IO::Select->new($st->{sock});
    my $end = time() + $secs;
    while ((my $left = $end - time()) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread($st->{sock}, my $chunk, 65536);
        last unless $n;
        $st->{buf} .= $chunk;
    }
    return $st->{buf};
}
SKIP: {
    skip mode_lacks('push'), 4 if mode_lacks('push');
    my %st = (owner => stream($tok), colleague => stream($tokb), other_tenant => stream($toko));
    drain($_, 0.5) for values %st;
    my $live = mk('draft');
    is(patch($live, { status => 'ready' })->{status}, 200, 'a change while three streams listen');
    my %seen = map { $_ => (drain($st{$_}, 1.5) =~ /event: proposal:updated\r?\ndata: [^\n]*"id":"\Q$live\E"/ ? 1 : 0) } keys %st;
    is($seen{owner}, no_redis() ? 0 : 1, "the owner's stream gets proposal:updated (no stream without Redis)");
    is($seen{colleague}, 0, 'a colleague in the tenant does not');
    is($seen{other_tenant}, 0, 'nor the same user in another tenant');
    close $_->{sock} for values %st;
}

# --- The bad-input matrix ------------------------------------------------
$me = 'user_life4';
$tok = tok($me);
my $b = mk('draft');
my $raw = sub { api(PATCH => "/api/proposals/$b", token => $tok, body => $_[0], headers => { 'Content-Type' => 'application/json' }) };
for my $c (['{"status":', 'malformed_json', 'truncated JSON'], ['', 'malformed_json', 'empty body'],
           ['{"status":"ready",}', 'malformed_json', 'trailing comma'], ["\xff{}", 'malformed_json', 'invalid UTF-8'],
           ['{"status":"ready"} {}', 'malformed_json', 'two values'],
           ['[]', 'validation_failed', 'an array'], ['"ready"', 'validation_failed', 'a string'],
           ['{}', 'validation_failed', 'nothing to change'],
           ['{"expectedStatus":"draft"}', 'validation_failed', 'only expectedStatus'],
           ['{"status":"sent"}', 'validation_failed', 'an unknown status'],
           ['{"status":"Ready"}', 'validation_failed', 'a status in the wrong case'],
           ['{"status":" ready"}', 'validation_failed', 'a status with a space'],
           ['{"status":3}', 'validation_failed', 'a status as a number'],
           ['{"status":null}', 'validation_failed', 'status null'],
           ['{"status":["ready"]}', 'validation_failed', 'status an array'],
           ['{"content":""}', 'validation_failed', 'empty content'],
           ['{"content":null}', 'validation_failed', 'content null'],
           ['{"content":42}', 'validation_failed', 'content a number'],
           ['{"content":"a\u0000b"}', 'validation_failed', 'NUL in the content'],
           ['{"content":"' . ('x' x 50001) . '"}', 'validation_failed', 'content of 50,001 characters'],
           ['{"alternatives":{}}', 'validation_failed', 'alternatives an object'],
           ['{"alternatives":[{"tone":"sarcastic","text":"x"}]}', 'validation_failed', 'an unknown tone'],
           ['{"alternatives":[{"tone":"friendly"}]}', 'validation_failed', 'an alternative without text'],
           ['{"alternatives":[{"tone":"friendly","text":"x","id":1}]}', 'validation_failed', 'an unknown key in an alternative'],
           ['{"alternatives":[' . join(',', ('{"tone":"friendly","text":"x"}') x 4) . ']}', 'validation_failed', 'four alternatives'],
           ['{"alternatives":["x"]}', 'validation_failed', 'an alternative that is not an object'],
           ['{"expectedStatus":"maybe","status":"ready"}', 'validation_failed', 'an unknown expectedStatus'],
           ['{"status":"ready","owner":"user_life_b"}', 'validation_failed', 'an unknown key'],
           ['{"status":"ready","tenant_id":"org_t_life_o"}', 'validation_failed', 'a tenant smuggled in'],
           ['{"status":' . ('[' x 40) . (']' x 40) . '}', 'malformed_json', 'nested too deep']) {
    my ($body, $code, $what) = @$c;
    $r = $raw->($body);
    is($r->{status}, 400, "$what: 400") or diag $r->{body};
    is($r->{json}{code}, $code, "$what: $code") if defined $code;
}
like($raw->('{"status":"sent"}')->{body}, qr/"field":"status"/, 'the error names the field');
like($raw->('{"alternatives":[{"tone":"friendly"}]}')->{body}, qr/alternatives\[0\]\.text/, 'and the path inside a list');
for my $k (qw(jobId userId tone provider model maxWords highlights suggestions templateId readyAt createdAt id)) {
    $r = $raw->(json_encode({ status => 'ready', $k => 'x' }));
    is($r->{status}, 409, "changing $k: 409");
    like($r->{json}{details}, qr/^$k cannot be changed: PATCH changes status, content and alternatives/, "$k: says so");
}
$r = $raw->('{"jobId":"x","tone":"friendly"}');
like($r->{json}{details}, qr/^jobId, tone cannot be changed/, 'every read-only field named');
is(status_of($b), 'draft', 'after all that, still a draft');
is(scalar @{ history($b) }, 1, 'and nothing recorded');
$r = api(PATCH => "/api/proposals/$b", token => $tok, body => '{"status":"ready"}', headers => { 'Content-Type' => 'text/plain' });
is($r->{status}, 415, 'not JSON: 415');
$r = api(PATCH => "/api/proposals/$b", token => $tok, body => '{"content":"' . ('y' x 70000) . '"}',
    headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 413, 'a body over body_max: 413');
is(api(PATCH => "/api/proposals/$b?force=1", token => $tok, json => { status => 'ready' })->{status}, 400, 'a query parameter: 400');
is(api(PATCH => '/api/proposals/not-a-uuid', token => $tok, json => { status => 'ready' })->{status}, 400, 'a malformed id: 400');
is(api(PATCH => "/api/proposals/%27%20OR%201=1--", token => $tok, json => { status => 'ready' })->{status}, 400, 'an injection in the id: 400');
for my $path ("%00", "%ff", "..%2f..%2fetc", "a" x 300, "$b%20", "%7B$b%7D", "$b/x") {
    $r = api(PATCH => "/api/proposals/$path", token => $tok, json => { status => 'ready' });
    ok($r->{status} >= 400 && $r->{status} < 500, 'PATCH /api/proposals/' . substr($path, 0, 20) . ": $r->{status}");
}
is(api(PATCH => "/api/proposals/$b", json => { status => 'ready' })->{status}, 401, 'no token: 401');
is(api(PATCH => "/api/proposals/$b", token => "${tok}x", json => { status => 'ready' })->{status}, 401, 'a forged token: 401');
my $none = sign_token({ alg => 'none', typ => 'JWT' }, { sub => 'user_life4', o => { id => $T }, exp => time() + 600 });
is(api(PATCH => "/api/proposals/$b", token => $none, json => { status => 'ready' })->{status}, 401, 'alg none: 401');
is(api(PATCH => "/api/proposals/$b", token => token(sub => 'user_life4', org => $T, claims => { exp => time() - 600 }),
    json => { status => 'ready' })->{status}, 401, 'an expired token: 401');
$r = api(PUT => "/api/proposals/$b", token => $tok, json => { status => 'ready' });
is($r->{status}, 405, 'PUT: 405');
like($r->{headers}{allow} // '', qr/PATCH/, 'Allow names PATCH');
is(api(PATCH => '/api/proposals', token => $tok, json => { status => 'ready' })->{status}, 405, 'PATCH the list: 405');
is(status_of($b), 'draft', 'still a draft');

# --- Hostile strings are text, stored and returned as they are -----------
$me = 'user_life5';
$tok = tok($me);
for my $text ("'; DROP TABLE proposals; --", '<script>alert(1)</script>', "\x{202e}gnp.exe \x{1f600} \x{10ffff}",
              "line\r\nInjected-Header: x", '{{client_name}} {{budget}} }}{{', "\\\"\\u0000", 'x' x 50000,
              "caf\x{e9} \x{4e2d}\x{6587}") {
    my $h = mk('draft');
    $r = patch($h, { content => $text });
    is($r->{status}, 200, 'hostile text (' . length($text) . ' chars): 200') or diag substr($r->{body}, 0, 200);
    is($r->{json}{data}{content}, $text, 'returned as it is');
    is(api(GET => "/api/proposals/$h", token => $tok)->{json}{data}{content}, $text, 'and stored as it is');
}
ok(psql("SELECT count(*) FROM proposals WHERE tenant_id = '$T'") > 0, 'the table is still there');

done_testing;
