#!/usr/bin/env perl
# 11-jobs-validation.t: GET /api/jobs refuses every malformed filter with a 400 naming the field.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use ApiTest;

my $tok = token(sub => 'user_v', org => 'org_t_valid');

my @bad = (
    ['minBudget=abc', 'minBudget', 'must be an integer'],
    ['minBudget=1e3', 'minBudget', 'must be an integer'],
    ['minBudget=12abc', 'minBudget', 'must be an integer'],
    ['minBudget=99999999999999999999', 'minBudget', 'must be an integer'],
    ['minBudget=-5', 'minBudget', 'must be between'],
    ['minBudget=', 'minBudget', 'must be an integer'],
    ['maxBudget=1.5', 'maxBudget', 'must be an integer'],
    ['maxBudget=100000001', 'maxBudget', 'must be between'],
    ['minBudget=100&maxBudget=50', 'minBudget', 'must not be greater than maxBudget'],
    ['clientScore=101', 'clientScore', 'must be between'],
    ['clientScore=%2B5', 'clientScore', 'must be an integer'],
    ['page=0', 'page', 'must be between'],
    ['page=-1', 'page', 'must be between'],
    ['page=x', 'page', 'must be an integer'],
    ['limit=0', 'limit', 'must be between'],
    ['limit=101', 'limit', 'must be between'],
    ['limit=20.0', 'limit', 'must be an integer'],
    ['skills=' . join(',', map { "s$_" } 1 .. 21), 'skills', 'must have 1 to 20 items'],
    ['skills=' . ('x' x 51), 'skills', 'must be 1 to 50 characters'],
    ['skills=,,,', 'skills', 'must have 1 to 20 items'],
    ['location=' . ('x' x 101), 'location', 'must be 1 to 100 characters'],
    ['q=' . ('q' x 201), 'q', 'must be 1 to 200 characters'],
    ['minbudget=10', 'minbudget', 'unknown parameter'],
    ['limit=5&limit=6', 'limit', 'given more than once'],
);
for my $b (@bad) {
    my ($qs, $field, $msg) = @$b;
    my $r = api(GET => "/api/jobs?$qs", token => $tok);
    is($r->{status}, 400, "$qs: 400");
    is($r->{json}{code}, 'validation_failed', "$qs: code validation_failed");
    my ($d) = grep { $_->{field} eq $field } @{ $r->{json}{details} // [] };
    ok($d && index($d->{message}, $msg) >= 0, "$qs: details name $field ($msg)")
        or diag $r->{body};
}

my $r = api(GET => '/api/jobs?minBudget=abc&limit=0&page=x', token => $tok);
is(scalar @{ $r->{json}{details} }, 3, 'every bad field is reported at once');
is($r->{json}{error}, 'Validation failed', 'the seed\'s error message');

$r = api(GET => '/api/jobs?minBudget=10&maxBudget=10&limit=1', token => $tok);
is($r->{status}, 200, 'minBudget equal to maxBudget is fine');
$r = api(GET => '/api/jobs?q=%22quoted%20phrase%22%20-minus%20OR%20x', token => $tok);
is($r->{status}, 200, 'web-search syntax in q is accepted');

done_testing;
