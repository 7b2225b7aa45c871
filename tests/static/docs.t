#!/usr/bin/env perl
# docs.t: every route an endpoint serves is in docs/openapi.yaml and docs/api.md, and every file opens with a purpose line.
use strict;
use warnings;
use Test::More;

my %routes;
for my $file (glob('cgi-bin/*.c')) {
    open my $fh, '<', $file or die "$file: $!";
    while (<$fh>) {
        $routes{$1}{$file} = 1 while /\{\s*"(\/api\/[^"]*)"\s*,\s*METHOD_/g;
    }
}
ok(scalar(keys %routes) >= 3, 'routes found in cgi-bin: ' . join(' ', sort keys %routes));

my $openapi = do { local (@ARGV, $/) = ('docs/openapi.yaml'); <> };
my $api = do { local (@ARGV, $/) = ('docs/api.md'); <> };
for my $r (sort keys %routes) {
    like($openapi, qr/^  \Q$r\E:\s*$/m, "openapi.yaml documents $r");
    ok(index($api, $r) >= 0, "docs/api.md mentions $r");
}

# The house rule: every source file opens with a one-line purpose.
my @files = grep { -f } map { glob($_) } qw(common/*.c common/*.h agent/*.c agent/*.h cgi-bin/*.c cron/*.c tools/*.c push/*.c
    push/*.h scripts/*.sh sql/*.sql sql/demo/*.sql tests/unit/*.c tests/unit/*.h tests/integration/*.[ch]
    tests/integration/*.t tests/integration/*.js tests/lib/*.pm tests/*.pl httpd-conf/* docs/*.md
    www/*.html www/*.js www/*.css);
for my $f (@files) {
    open my $fh, '<', $f or die;
    my @head = grep { defined } map { scalar <$fh> } 1 .. 2;
    my $line = $head[0] =~ /^#!/ ? $head[1] : $head[0];
    like($line // '', qr{^(/\*|#|--|//|<!--) \S+: \S.*}, "$f opens with a purpose line");
}
done_testing;
