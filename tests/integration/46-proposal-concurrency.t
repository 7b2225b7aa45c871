#!/usr/bin/env perl
# 46-proposal-concurrency.t: truly concurrent PATCHes (forked processes released at the same instant) never lose a transition: one of N identical changes wins, racing changes leave a legal chain in the history, and submit and PATCH agree.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time sleep);
use ApiTest;

my $T = 'org_t_race';
reset_tenant($T);
my $job = psql('SELECT gen_random_uuid()');
psql(<<"SQL");
INSERT INTO tenants (id) VALUES ('$T');
INSERT INTO users (tenant_id, id) SELECT '$T', 'user_race' || n FROM generate_series(1, 6) n;
INSERT INTO jobs (tenant_id, id, upwork_id, ciphertext, title, budget_type, posted_at)
    VALUES ('$T', '$job', 'race-1', '~01race', 'Race job', 'fixed', now());
SQL

sub mk {
    my ($user, $status) = @_;
    return scalar psql("INSERT INTO proposals (tenant_id, user_id, job_id, status, content)"
        . " VALUES ('$T', '$user', '$job', '$status', 'Race text') RETURNING id");
}

# Run each request of @reqs ([method, path, body]) in its own process,
# all released at the same instant; returns their statuses in order.
sub race {
    my ($tok, @reqs) = @_;
    my $go = time() + 0.5;
    my @pipes;
    for my $q (@reqs) {
        pipe(my $rd, my $wr) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $rd;
            my $wait = $go - time();
            sleep $wait if $wait > 0;
            my $r = api($q->[0], $q->[1], token => $tok, ($q->[2] ? (json => $q->[2]) : ()));
            print $wr $r->{status};
            close $wr;
            exit 0;
        }
        close $wr;
        push @pipes, $rd;
    }
    my @got = map { local $/; my $s = <$_>; close $_; $s // 0 } @pipes;
    1 while wait != -1;
    return @got;
}

sub history {
    my ($id) = @_;
    return map { [split /\|/, $_, -1] }
        split /\n/, psql("SELECT coalesce(from_status, ''), to_status, edited, id FROM proposal_history WHERE proposal_id = '$id' ORDER BY id");
}

# README's edges, for checking chains.
my %edge = map { $_ => 1 } qw(draft>ready draft>withdrawn incomplete>draft incomplete>withdrawn
    ready>draft ready>submitted ready>withdrawn submitted>viewed submitted>declined submitted>withdrawn
    viewed>interviewing viewed>declined viewed>withdrawn interviewing>hired interviewing>declined interviewing>withdrawn);
sub legal_chain {
    my ($start, @h) = @_;
    my $at = $start;
    for my $c (@h) {
        my ($f, $t, $edited) = @$c;
        return "a change from $f while the proposal was $at" if $f ne $at;
        return "an illegal $f -> $t" unless $edge{"$f>$t"} || ($f eq $t && $edited eq 't');
        $at = $t;
    }
    return '';
}

# --- N identical transitions: exactly one wins ---------------------------
my $N = 8;
my $tok = token(sub => 'user_race1', org => $T);
my $id = mk('user_race1', 'submitted');
my @st = race($tok, map { [PATCH => "/api/proposals/$id", { status => 'viewed' }] } 1 .. $N);
is(scalar(grep { $_ == 200 } @st), 1, "$N concurrent submitted -> viewed: exactly one 200");
is(scalar(grep { $_ == 409 } @st), $N - 1, 'the others 409 (already viewed)') or diag "@st";
my @h = history($id);
is(scalar @h, 2, 'the history: its creation and one change');
is_deeply([@{ $h[1] }[0, 1]], ['submitted', 'viewed'], 'submitted -> viewed, once');
is(psql("SELECT status FROM proposals WHERE id = '$id'"), 'viewed', 'viewed');

# The same on several proposals at once, so that the race is not a fluke of one row.
$tok = token(sub => 'user_race2', org => $T);
my @ids = map { mk('user_race2', 'draft') } 1 .. 3;
@st = race($tok, map { my $p = $_; map { [PATCH => "/api/proposals/$p", { status => 'ready' }] } 1 .. 4 } @ids);
is(scalar(grep { $_ == 200 } @st), 3, 'four racers on each of three drafts: one 200 per draft');
is(scalar(grep { $_ == 409 } @st), 9, 'nine 409s');
is(psql("SELECT count(*) FROM proposal_history WHERE proposal_id IN ('" . join("','", @ids) . "') AND to_status = 'ready'"),
    3, 'one draft -> ready recorded per draft');

# --- Racing different targets: the last writer cannot jump a state -------
# From submitted, processes race to viewed, interviewing, hired and
# declined at once.  Whatever the order, each success is one legal step
# from the state the previous one left, and each one left a row.
$tok = token(sub => 'user_race3', org => $T);
for my $round (1 .. 3) {
    my $p = mk('user_race3', 'submitted');
    my @targets = (qw(viewed interviewing hired declined withdrawn)) x 2;
    my @s = race($tok, map { [PATCH => "/api/proposals/$p", { status => $_ }] } @targets);
    my @hist = history($p);
    shift @hist;    # its creation
    my $ok = grep { $_ == 200 } @s;
    ok($ok >= 1, "round $round: at least one change went through (@s)");
    is(scalar(grep { $_ != 200 && $_ != 409 } @s), 0, "round $round: every other answer a 409");
    is(scalar @hist, $ok, "round $round: one history row per 200");
    is(legal_chain('submitted', @hist), '', "round $round: the history is a legal chain: "
        . join(' ', 'submitted', map { $_->[1] } @hist));
    is(psql("SELECT status FROM proposals WHERE id = '$p'"), @hist ? $hist[-1][1] : 'submitted',
        "round $round: the proposal is where its history ends");
}

# --- Edits racing a status change: no edit lands after ready -------------
$tok = token(sub => 'user_race4', org => $T);
my $p = mk('user_race4', 'draft');
my @reqs = ((map { [PATCH => "/api/proposals/$p", { content => "Edit $_" }] } 1 .. 6),
            [PATCH => "/api/proposals/$p", { status => 'ready' }]);
@st = race($tok, @reqs);
my @hist = history($p);
my ($ready) = grep { $_->[1] eq 'ready' } @hist;
ok($ready, 'the proposal became ready');
is($st[-1], 200, 'the status change: 200');
my @edits = grep { $_->[2] eq 't' } @hist;
is(scalar @edits, scalar(grep { $_ == 200 } @st[0 .. 5]), 'one edited row per edit that answered 200');
ok(!(grep { $_->[3] > $ready->[3] } @edits), 'every edit that went through came before ready');
is(scalar(grep { $_ == 409 } @st[0 .. 5]), 6 - scalar(@edits), 'the edits that came after were refused (409)');
my $last = @edits ? do { my $t = psql("SELECT content FROM proposals WHERE id = '$p'"); $t } : 'Race text';
like($last, qr/^(Edit \d|Race text)$/, 'the stored text is one whole edit');

# --- submit and PATCH racing on one draft ---------------------------------
$tok = token(sub => 'user_race5', org => $T);
$p = mk('user_race5', 'draft');
@st = race($tok, ([POST => "/api/proposals/$p/submit"]) x 3, ([PATCH => "/api/proposals/$p", { status => 'ready' }]) x 3);
is(psql("SELECT count(*) FROM proposal_history WHERE proposal_id = '$p' AND to_status = 'ready'"), 1,
    'three submits and three PATCHes at once: the draft became ready once');
is(scalar(grep { $_ == 200 } @st[0 .. 2]), 3, 'every submit answers 200 (ready again is the same answer)');
ok(scalar(grep { $_ == 200 } @st[3 .. 5]) <= 1, 'at most one PATCH won');
is(scalar(grep { $_ == 200 } @st[3 .. 5]) + scalar(grep { $_ == 409 } @st[3 .. 5]), 3, 'the others 409');

done_testing;
