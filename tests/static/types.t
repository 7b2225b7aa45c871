#!/usr/bin/env perl
# types.t: TypeScript types generated from docs/openapi.yaml with openapi-typescript, and a small client using them (tests/types/client.ts) type-checked with tsc --strict: the seed's "shared types", which the spec's drift would break.
use strict;
use warnings;
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use Test::More;

my $bin = 'tests/node/node_modules/.bin';
plan skip_all => 'openapi-typescript and tsc are not installed (make deps)'
    unless -x "$bin/openapi-typescript" && -x "$bin/tsc";
my $dir = tempdir('upw-types-XXXXXX', TMPDIR => 1, CLEANUP => 1);

my $out = `$bin/openapi-typescript docs/openapi.yaml -o $dir/api.d.ts 2>&1`;
is($?, 0, 'openapi-typescript generates the types of docs/openapi.yaml') or diag $out;
my $types = -f "$dir/api.d.ts" ? do { local (@ARGV, $/) = ("$dir/api.d.ts"); <> } : '';
like($types, qr/"\/api\/jobs": \{/, 'with the paths');
like($types, qr/ProposalUpdatedEvent: /, 'and the events');

copy('tests/types/client.ts', "$dir/client.ts") or die "copy: $!";
$out = `$bin/tsc --noEmit --strict --target es2022 --lib es2022,dom --module es2022 --moduleResolution bundler $dir/client.ts 2>&1`;
is($?, 0, 'tests/types/client.ts type-checks against them (tsc --strict), its @ts-expect-error lines failing as they must')
    or diag $out;

# The check can fail: a client that misreads the spec does not compile.
open my $fh, '>', "$dir/wrong.ts" or die;
print $fh "import type { components } from './api';\n"
    . "export const p: components['schemas']['Proposal']['status'] = 'sent';\n";
close $fh;
$out = `$bin/tsc --noEmit --strict --target es2022 --module es2022 --moduleResolution bundler $dir/wrong.ts 2>&1`;
isnt($?, 0, 'a client using a status the spec does not have does not compile');
like($out, qr/'"sent"' is not assignable/, 'tsc says why');
done_testing;
