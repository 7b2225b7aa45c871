#!/usr/bin/env perl
# layering.t: the two floors stay apart: the platform (common/) and the broadcaster (push/) name nothing of the product (agent/), link nothing of it, and touching the product's header rebuilds only what uses it; each header declares only its files' functions.
use strict;
use warnings;
use Test::More;

sub slurp { my ($f) = @_; open my $fh, '<', $f or die "$f: $!"; local $/; return <$fh> }

# The product's vocabulary.  A platform file may not use these words in
# code, comments or strings, nor have an identifier with one of them as
# a part (route_match would do): the platform knows no product word.
my $words = qr/^(?:jobs?|proposals?|llm|upwork|match(?:es|ed|ing)?|tones?|templates?|profiles?|poll(?:s|ed|ing|er)?|ai|agent)$/i;
my $parts = qr/^(?:jobs?|proposals?|llm|upwork|match|tones?|templates?|profiles?|poll|ai|agent|rank|shape|lifecycle|research|aibudget)$/i;
# The product's symbol prefixes, for the broadcaster (which does have
# rooms named jobs and proposals: the seed's realtime contract).
my $prefix = qr/^(?:agent|llm|upwork|proposal|poll|match|rank|shape|profile|lifecycle|research|template|tone|job|ai|aibudget)_/i;
# What libc calls these: poll(2) and getaddrinfo(3)'s struct and flags.
my %libc = map { $_ => 1 } qw(poll ai_family ai_socktype ai_protocol ai_flags
    ai_addr ai_addrlen ai_next ai_canonname AI_PASSIVE AI_CANONNAME
    AI_NUMERICHOST AI_NUMERICSERV AI_ADDRCONFIG AI_V4MAPPED AI_ALL);

my @platform = sort(glob('common/*.c'), glob('common/*.h'));
my @push = sort(glob('push/*.c'), glob('push/*.h'));
ok(@platform > 20, 'platform files: ' . scalar(@platform));

for my $f (@platform) {
    my $src = slurp($f);
    my (%bad_words, %bad_ids);
    unlike($src, qr/#\s*include\s*[<"](?:[^">]*\/)?agent(?:\/|\.h)/, "$f includes nothing of agent/");
    (my $text = $src) =~ s/<poll\.h>//g;
    # HTTP's conditional headers (CORS lists them; reply.c and dispatch.c
    # read them, by their CGI names too).
    $text =~ s/\b(?:If-(?:None-)?Match|HTTP_IF_(?:NONE_)?MATCH)\b//g;
    while ($text =~ /\b([A-Za-z_][A-Za-z0-9_]*)\b/g) {
        my $id = $1;
        next if $libc{$id};
        if ($id =~ /_/) {
            $bad_ids{$id} = 1 if grep { $_ ne '' && $_ =~ $parts } split /_/, $id;
        } elsif ($id =~ $words) {
            $bad_words{$id} = 1;
        }
    }
    ok(!%bad_ids, "$f: no product identifier") or diag 'found: ' . join(' ', sort keys %bad_ids);
    ok(!%bad_words, "$f: no product word") or diag 'found: ' . join(' ', sort keys %bad_words);
}

for my $f (@push) {
    my $src = slurp($f);
    my %bad;
    unlike($src, qr/#\s*include\s*[<"](?:[^">]*\/)?agent(?:\/|\.h)/, "$f includes nothing of agent/");
    while ($src =~ /\b([A-Za-z_][A-Za-z0-9_]*)\b/g) {
        my $id = $1;
        $bad{$id} = 1 if $id =~ $prefix && !$libc{$id};
    }
    ok(!%bad, "$f: no product symbol") or diag 'found: ' . join(' ', sort keys %bad);
}

# One header per library.
is_deeply([sort glob('common/*.h')], ['common/common.h'], 'common/ has one header');
is_deeply([sort glob('agent/*.h')], ['agent/agent.h'], 'agent/ has one header');

# Each header section (/* file.c -- ... */) declares only that file's functions.
for my $lib (['common', 'common/common.h'], ['agent', 'agent/agent.h']) {
    my ($dir, $h) = @$lib;
    my %defined;
    for my $c (glob("$dir/*.c")) {
        (my $base = $c) =~ s{.*/}{};
        my $src = slurp($c);
        # The house style: the return type on the line above, the name at the start.
        while ($src =~ /^(?!static)[A-Za-z].*\n([a-z_][a-z0-9_]*)\(/mg) {
            $defined{$1} = $base;
        }
        while ($src =~ /^(?:const )?(?:char|struct \w+|size_t|int) \*?(?:const )?\*?\s*([a-z_][a-z0-9_]*)\s*\(/mg) {
            $defined{$1} //= $base;
        }
    }
    my ($section, @wrong, $n);
    my $hdr = slurp($h);
    $hdr =~ s{/\*(.*?)\*/}{ my $c = $1; $c =~ /^\s*\*?\s*([a-z_]+\.c) --/m ? "\n\@section $1\n" : ' ' }gse;
    for my $line (split /\n/, $hdr) {
        if ($line =~ /^\@section (\S+)/) { $section = $1; next }
        next if $line =~ /^\s|^#|^(?:typedef|struct|enum|union|extern)\b|^[{}]/;
        next unless $line =~ /\b([a-z_][a-z0-9_]*)\(/;
        my $fn = $1;
        next if $fn eq '__attribute__';
        $n++;
        my $where = $defined{$fn} // 'nowhere';
        push @wrong, "$fn (under $section, in $where)" if !$section || $where ne $section;
    }
    ok($n > 20 && !@wrong, "$h: each section declares its own file's functions ($n)")
        or diag join("\n", @wrong);
}

# What is linked: the built programs (make, make tests) say it.
SKIP: {
    my $b = 'build/release';
    skip 'no release build', 4 unless -x "$b/push/broadcaster" && -f "$b/libcommon.a" && -f "$b/libagent.a";
    my @syms = grep { /\b(?:$prefix)/ } map { (split ' ')[-1] // '' } `nm $b/push/broadcaster`;
    ok(!@syms, 'the broadcaster links no product symbol') or diag join(' ', @syms[0 .. ($#syms < 9 ? $#syms : 9)]);
    my %product = map { (split ' ')[2] => 1 } grep { /^[0-9a-f]+ [TDBR] / } `nm --defined-only $b/libagent.a 2>/dev/null`;
    ok(%product > 50, 'libagent.a defines the product: ' . scalar(keys %product) . ' symbols');
    my @up = grep { $product{$_} } map { (split ' ')[-1] } grep { / U / } `nm -u $b/libcommon.a`;
    ok(!@up, 'libcommon.a refers to nothing libagent.a defines') or diag join(' ', @up);

    # Touching agent/agent.h rebuilds what uses it, never the platform's
    # objects, the broadcaster or the platform's unit tests (make -W:
    # "as if modified", without touching anything; what is out of date
    # anyway does not count).
    my %stale = map { /\s-o\s+(\S+)/ ? ($1 => 1) : () } `make -n BUILD=$b all tests 2>/dev/null`;
    my @todo = grep { !$stale{$_} } map { /\s-o\s+(\S+)/ ? $1 : () } `make -n -W agent/agent.h BUILD=$b all tests 2>/dev/null`;
    my @wrong = grep { m{/obj/(?:common|push)/|/push/broadcaster$|/tests/test_(?:auth|datetime|pgarray|util|validate|request|response|dispatch|cache|ratelimit|json)$} } @todo;
    ok(@todo > 20 && (grep { m{/obj/agent/} } @todo) && !@wrong,
        'touching agent/agent.h rebuilds ' . scalar(@todo) . ' product targets and nothing of the platform')
        or diag join("\n", @wrong ? @wrong : @todo);
}
done_testing;
