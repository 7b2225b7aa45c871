#!/usr/bin/env perl
# quickstart.t: README.md's "first five minutes", block by block, against a fresh stack on a free port: every command succeeds and prints what README promises.
#
# The blocks come from README.md itself, so the two cannot drift.  A
# fenced block after the comment
#   <!-- quickstart: run -->            runs, and must exit 0;
#   <!-- quickstart: background NAME --> starts and keeps running (a
#                                        second terminal), until the end;
#   <!-- quickstart: expect [NAME] -->  is the output promised by the last
#                                        run block, or by background NAME.
# An expected output matches when each of its non-blank lines matches a
# whole line of the output, in order (other lines may come between); "…"
# stands for any text.  The blocks run in order, each in bash from the
# top directory with PORT and VAR of a scratch stack in the environment
# (the make targets read them) and 127.0.0.1:8080 turned into the
# stack's port; shell variables carry over from one block to the next.
use strict;
use warnings;
use utf8;
use Encode qw(decode);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(setsid WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More;
use FindBin;
use lib "$FindBin::Bin/../lib";
use StackTest qw(free_port);

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

# --- the blocks, from README.md ---------------------------------------------
open(my $fh, '<:encoding(UTF-8)', 'README.md') or die "README.md: $!";
my @lines = <$fh>;
close $fh;
# @steps in README's order: run and background blocks, and the checks of
# the background blocks' promises where README shows them.
my (@steps, %expect, $marker, $last_run);
for (my $i = 0; $i < @lines; $i++) {
    if ($lines[$i] =~ /^<!-- quickstart: (run|background|expect)(?: (\w+))? -->\s*$/) {
        $marker = [$1, $2, $i + 1];
        next;
    }
    next unless $marker && $lines[$i] =~ /^```/;
    my @body;
    for ($i++; $i < @lines && $lines[$i] !~ /^```\s*$/; $i++) {
        push @body, $lines[$i];
    }
    my ($kind, $name, $at) = @$marker;
    undef $marker;
    my $text = join '', @body;
    if ($kind eq 'expect') {
        my $key = $name // $last_run;
        die "README.md line $at: an expected output with no block before it\n" unless defined $key;
        die "README.md line $at: a second expected output for $key\n" if $expect{$key};
        $expect{$key} = { text => $text, at => $at };
        push @steps, { kind => 'check', key => $key, at => $at } if defined $name;
    } elsif ($kind eq 'run') {
        $last_run = "run\@$at";
        push @steps, { kind => 'run', key => $last_run, text => $text, at => $at };
    } else {
        die "README.md line $at: a background block needs a name\n" unless defined $name;
        push @steps, { kind => 'background', key => $name, text => $text, at => $at };
    }
}
my @runs = grep { $_->{kind} eq 'run' } @steps;
my $all = join '', map { $_->{text} } @runs;
ok(@runs >= 5, scalar(@runs) . ' quickstart commands to run in README.md');
is(scalar(grep { !$expect{$_->{key}} } @runs, grep { $_->{kind} eq 'background' } @steps), 0,
    'each block shows the output to expect');
like($all, qr/^make start\b/m, 'the path starts the stack with make start');
like($all, qr/^make stop\b/m, 'and stops it with make stop');

# --- a scratch stack ---------------------------------------------------------
my $base = tempdir('upw-quickstart-XXXXXX', TMPDIR => 1, CLEANUP => 0);
my $var = "$base/var";
my $port = free_port();
my $state = "$base/state.sh";
my %bg;
# The user's environment, not the harness's: nothing that would change
# what the stack or the make targets do.
delete @ENV{qw(WEB BUILD SUB ORG TENANT EVENT DATA JWT_ALG JWT_ISSUER JWT_AUDIENCE TRUSTED_PROXIES
    WORKERS AI_WORKERS FAKE_LLM BENCH UPWORK_URL UPWORK_CLIENT_ID UPWORK_CLIENT_SECRET MAKEFLAGS MFLAGS),
    grep { /^(APP_|WORKERS_)/ } keys %ENV};
$ENV{PORT} = $port;
$ENV{VAR} = $var;
# Killed (the harness passes TERM on), the END block still stops the stacks.
$SIG{$_} = sub { exit 1 } for qw(TERM INT HUP);
END {
    for my $b (values %bg) {
        kill 'TERM', -$b->{pid};
        waitpid($b->{pid}, 0);
    }
    my $rt = $var && -l "$var/rt" ? readlink("$var/rt") : undef;
    system("make -s stop VAR=$var PORT=$port >/dev/null 2>&1") if $var;
    system('rm', '-rf', grep { defined } $base, $rt) if $base;
}

# A block as bash runs it: the shell variables the blocks before it set
# (exported or not, as they left them), this one's commands with the
# stack's port, then those variables written back.
my %names = map { $_ => 1 } map { /^\s*(?:export\s+)?([A-Za-z_]\w*)=/mg } map { $_->{text} // '' } @steps;
my $names = join ' ', sort keys %names;
sub script {
    my ($text) = @_;
    $text =~ s/127\.0\.0\.1:8080\b/127.0.0.1:$port/g;
    return "[ -f '$state' ] && . '$state'\nset -eo pipefail\n$text\n"
        . "__rc=\$?; declare -p $names >'$state' 2>/dev/null || true; exit \$__rc\n";
}

sub matches {
    my ($text, $out) = @_;
    $text =~ s/127\.0\.0\.1:8080\b/127.0.0.1:$port/g;
    my @want = grep { /\S/ && !/^…$/ } map { s/\s+$//r } split /\n/, $text;
    my @got = map { s/\s+$//r } split /\n/, $out;
    my $g = 0;
    for my $w (@want) {
        my $re = join '.*', map { quotemeta } split /…/, $w, -1;
        $g++ while $g < @got && $got[$g] !~ /^$re$/;
        return $w if $g++ >= @got;
    }
    return undef;
}

sub slurp_out {
    my ($file) = @_;
    open(my $f, '<:raw', $file) or return '';
    local $/;
    my $s = <$f> // '';
    return decode('UTF-8', $s);
}

sub check {
    my ($key, $out, $what) = @_;
    my $e = $expect{$key};
    my $missing = matches($e->{text}, $out);
    ok(!defined $missing, "$what prints what README.md line $e->{at} promises")
        or diag("not found: $missing\noutput:\n" . substr($out, 0, 4000));
}

for my $s (@steps) {
    if ($s->{kind} eq 'check') {
        # What a background block prints in answer to the commands
        # before: given a few seconds to arrive.
        my $b = $bg{$s->{key}} or die "README.md line $s->{at}: no background block $s->{key} before\n";
        my $deadline = time + 10;
        my $out = slurp_out($b->{out});
        while (defined matches($expect{$s->{key}}{text}, $out) && time < $deadline) {
            sleep 0.2;
            $out = slurp_out($b->{out});
        }
        check($s->{key}, $out, $b->{what});
        next;
    }
    my $first = (split /\n/, $s->{text})[0];
    my $what = "README.md line $s->{at} ($first)";
    my ($file, $out_file) = ("$base/step-$s->{at}.sh", "$base/out-$s->{at}");
    open(my $sh, '>', $file) or die "$file: $!";
    print $sh script($s->{text});
    close $sh;
    if ($s->{kind} eq 'run') {
        my $rc = system("timeout 600 bash '$file' >'$out_file' 2>&1");
        my $out = slurp_out($out_file);
        is($rc, 0, "$what succeeds") or diag(substr($out, -3000));
        check($s->{key}, $out, $what);
        next;
    }
    # A background block (another terminal): in a session of its own, so
    # that the end stops it and whatever it started.
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setsid();
        open(STDOUT, '>', $out_file) or die;
        open(STDERR, '>&', \*STDOUT) or die;
        open(STDIN, '<', '/dev/null') or die;
        exec('bash', $file) or die "bash: $!";
    }
    $bg{$s->{key}} = { pid => $pid, out => $out_file, what => $what };
    # Running once it prints the first line it promises.
    my ($first_want) = grep { /\S/ && !/^…$/ } split /\n/, $expect{$s->{key}}{text};
    my ($deadline, $ready) = (time + 20, 0);
    until ($ready || time > $deadline) {
        $ready = !defined matches($first_want, slurp_out($out_file));
        last if !$ready && waitpid($pid, WNOHANG) == $pid;
        sleep 0.1 unless $ready;
    }
    ok($ready, "$what is running") or diag(slurp_out($out_file));
}

# make stop ended the stack: nothing answers on its port any more.
ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 2),
    'after the last block, the port is closed');
done_testing;
