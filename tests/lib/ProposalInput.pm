# ProposalInput.pm: the bad-input matrix of the proposal generation body, shared by the generate and stream tests.
package ProposalInput;

use strict;
use warnings;
use Exporter 'import';

our @EXPORT = qw(bad_proposal_bodies);

# [raw body, expected code (undef: any 400), what] for a body that must
# be refused with 400; $job is a valid job id of the tenant, $other a
# tenant id to smuggle in.
sub bad_proposal_bodies {
    my ($job, $other) = @_;
    my $j = "\"jobId\":\"$job\"";
    return (
        ['{"jobId":', 'malformed_json', 'truncated JSON'],
        ['', 'malformed_json', 'empty body'],
        ["{$j,}", 'malformed_json', 'trailing comma'],
        ["{$j} {}", 'malformed_json', 'two values'],
        ["\x{ff}{$j}", 'malformed_json', 'invalid UTF-8'],
        ['[]', 'validation_failed', 'an array'],
        ['{}', 'validation_failed', 'no jobId'],
        ['{"jobId":null}', 'validation_failed', 'jobId null'],
        ['{"jobId":"abc"}', 'validation_failed', 'jobId not a UUID'],
        ['{"jobId":42}', 'validation_failed', 'jobId a number'],
        ["{$j,\"tone\":\"sarcastic\"}", 'validation_failed', 'tone outside the set'],
        ["{$j,\"tone\":\"Professional\"}", 'validation_failed', 'tone in the wrong case'],
        ["{$j,\"tone\":1}", 'validation_failed', 'tone a number'],
        ["{$j,\"maxWords\":49}", 'validation_failed', 'maxWords 49'],
        ["{$j,\"maxWords\":1001}", 'validation_failed', 'maxWords 1001'],
        ["{$j,\"maxWords\":\"200\"}", 'validation_failed', 'maxWords a string'],
        ["{$j,\"maxWords\":200.5}", 'validation_failed', 'maxWords fractional'],
        ["{$j,\"maxWords\":-1}", 'validation_failed', 'maxWords negative'],
        ["{$j,\"maxWords\":99999999999999999999}", undef, 'maxWords past 64 bits'],
        ["{$j,\"alternatives\":4}", 'validation_failed', 'alternatives 4'],
        ["{$j,\"alternatives\":-1}", 'validation_failed', 'alternatives -1'],
        ["{$j,\"alternatives\":true}", 'validation_failed', 'alternatives a boolean'],
        ["{$j,\"highlights\":\"fast\"}", 'validation_failed', 'highlights a string'],
        ["{$j,\"highlights\":[1]}", 'validation_failed', 'highlights of numbers'],
        ["{$j,\"highlights\":[\"\"]}", 'validation_failed', 'an empty highlight'],
        ["{$j,\"highlights\":[\"" . ('h' x 201) . "\"]}", 'validation_failed', 'a highlight of 201 characters'],
        ["{$j,\"highlights\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]}", 'validation_failed', 'six highlights'],
        ["{$j,\"highlights\":[\"a\\u0000b\"]}", 'validation_failed', 'NUL in a highlight'],
        ["{$j,\"userId\":\"someone\"}", 'validation_failed', 'unknown key userId'],
        ["{$j,\"provider\":\"openai\"}", 'validation_failed', 'unknown key provider'],
        ["{$j,\"tenant_id\":\"$other\"}", 'validation_failed', 'unknown key tenant_id'],
        ['{"jobId":' . ('[' x 40) . (']' x 40) . '}', 'malformed_json', 'nested too deep'],
    );
}

1;
