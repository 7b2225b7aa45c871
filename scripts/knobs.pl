#!/usr/bin/perl
# knobs.pl: print every configuration knob (key, default, description; tab-separated) from the knob tables of the C sources given.
#
# Usage: scripts/knobs.pl common/*.c [agent/*.c ...]
#
# A knob table is an array of initialisers shaped like
#   { "key", K_TYPE, offsetof(struct config, field), "default", min, max,
#     "description" "continued" },
# wherever it lives, so the list survives the tables moving between
# files or being split in two.  This is the stopgap until the programs
# print their own knobs (see the install notes); the install test checks
# the result against the README and against the programs themselves.
use strict;
use warnings;

my %seen;
for my $file (@ARGV) {
	open(my $fh, '<', $file) or die "knobs.pl: $file: $!\n";
	my $src = do { local $/; <$fh> };
	close $fh;
	$src =~ s{/\*.*?\*/}{ }gs;	# comments may hold braces and quotes
	# One initialiser: { "key", K_..., offsetof(...), "default", ... }.
	while ($src =~ /\{\s*("[a-z0-9_]+")\s*,\s*K_[A-Z_]+\s*,\s*offsetof\s*\(((?:[^()]|\([^()]*\))*)\)\s*,(.*?)\}/gs) {
		my ($key, $rest) = ($1, $3);
		# The string literals left (default, description), adjacent ones
		# joined as C joins them.
		my @str;
		my $last = -1;
		while ($rest =~ /"((?:[^"\\]|\\.)*)"/g) {
			my ($lit, $from, $to) = ($1, $-[0], $+[0]);
			$lit =~ s/\\(.)/$1/g;
			if ($last >= 0 && substr($rest, $last, $from - $last) =~ /^\s*$/) {
				$str[-1] .= $lit;
			} else {
				push @str, $lit;
			}
			$last = $to;
		}
		$key =~ tr/"//d;
		die "knobs.pl: $file: knob $key has no default and description\n" if @str < 2;
		next if $seen{$key}++;
		my ($def, $doc) = ($str[0], $str[-1]);
		s/[\t\n]/ /g for $def, $doc;
		print "$key\t$def\t$doc\n";
	}
}
die "knobs.pl: no knob found in @ARGV\n" unless %seen;
