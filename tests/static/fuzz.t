#!/usr/bin/env perl
# fuzz.t: run every libFuzzer target (make fuzz) for a few seconds from its seeds; any crash, leak or sanitizer report fails.
use strict;
use warnings;
use Test::More;

my $secs = $ENV{FUZZ_SECONDS} // 5;
my @fuzzers = sort glob('build/fuzz/fuzzers/*');
plan skip_all => 'no fuzzers built (make fuzz)' unless @fuzzers;
for my $f (@fuzzers) {
    (my $name = $f) =~ s{.*/}{};
    my $corpus = "build/fuzz/corpus/$name";
    system('mkdir', '-p', $corpus);
    # Crash artifacts go beside the corpus, never into the checkout's top.
    my $out = `$f -max_total_time=$secs -max_len=4096 -artifact_prefix=build/fuzz/ $corpus tests/fuzz/seeds/$name 2>&1`;
    my $rc = $?;
    my ($runs) = $out =~ /Done (\d+) runs/;
    ok($rc == 0 && defined $runs, "$name: " . ($runs // 0) . " inputs in ${secs} s, no crash")
        or diag join("\n", grep { /ERROR|SUMMARY|==\d+==|#0 / } split /\n/, $out);
}
done_testing;
