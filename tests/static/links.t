#!/usr/bin/env perl
# links.t: the README and the pages under docs/ link to files that exist and to headings that exist, and the README links every page.
use strict;
use warnings;
use File::Basename qw(dirname);
use Test::More;

# GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
sub slug {
    my ($h) = @_;
    $h = lc $h;
    $h =~ s/[^\w\- ]//g;
    $h =~ tr/ /-/;
    return $h;
}

my @pages = ('README.md', sort glob('docs/*.md'));
ok(@pages >= 8, scalar(@pages) . ' pages: ' . join(' ', @pages));
my (%text, %anchors);
for my $p (@pages) {
    open(my $fh, '<:encoding(UTF-8)', $p) or die "$p: $!";
    local $/;
    $text{$p} = <$fh>;
    close $fh;
    my $code = 0;
    for (split /\n/, $text{$p}) {
        $code = !$code if /^```/;
        $anchors{$p}{ slug($1) } = 1 if !$code && /^#{1,6} (.+?)\s*$/;
    }
}

for my $p (@pages) {
    (my $prose = $text{$p}) =~ s/^```.*?^```\s*$//msg;
    my @links = $prose =~ /\]\(([^)\s]+)\)/g;
    for my $l (grep { !m{^[a-z]+:} } @links) {
        my ($file, $anchor) = $l =~ /^([^#]*)(?:#(.*))?$/;
        my $target = $file eq '' ? $p : join('/', grep { $_ ne '.' } dirname($p), $file);
        1 while $target =~ s{[^/]+/\.\./}{};
        ok(-e $target, "$p links to $l: $target exists");
        next unless defined $anchor && $target =~ /\.md$/;
        ok($anchors{$target} && $anchors{$target}{$anchor}, "$p links to $l: the heading exists in $target");
    }
}

for my $p (grep { $_ ne 'README.md' } @pages) {
    (my $name = $p) =~ s{^docs/}{};
    like($text{'README.md'}, qr{\]\(docs/\Q$name\E\)}, "README.md links $p");
}
done_testing;
