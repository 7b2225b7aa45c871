#!/usr/bin/env perl
# faults-writer.pl: the write load of scripts/bench-faults.sh: POST /api/jobs (a saved search) back to back for SECS seconds on one connection; prints the counts and writes the id of every 2xx to IDS.
use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time sleep);

my ($url, $token, $secs, $idfile, $tag) = @ARGV;
my $http = HTTP::Tiny->new(timeout => 5, keep_alive => 1);
open my $ids, '>', $idfile or die "$idfile: $!";
my ($sent, $ok, $bad, $first, $last, $s503, $ra) = (0, 0, 0, 0, 0, 0, 0);
my $end = time() + $secs;
while (time() < $end) {
    my $r = $http->post("$url/api/jobs", {
        headers => { Authorization => "Bearer $token", 'Content-Type' => 'application/json' },
        content => encode_json({ name => "$tag-$sent", skills => ['c'], notify => JSON::PP::false }) });
    $sent++;
    my $id = $r->{success} ? eval { decode_json($r->{content})->{data}{id} } : undef;
    if (defined $id) {
        $ok++;
        print $ids "$id\n";
    } else {
        my $t = int(time() * 1000);
        $bad++;
        $s503++ if $r->{status} == 503;
        $ra++ if $r->{status} == 503 && defined $r->{headers}{'retry-after'};
        $first ||= $t;
        $last = $t;
        sleep 0.05 if $r->{status} == 599;    # no connection: do not spin
    }
}
close $ids;
print "WRITES sent=$sent ok=$ok bad=$bad s503=$s503 retry_after=$ra first_bad=$first last_bad=$last\n";
