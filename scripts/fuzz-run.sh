#!/bin/bash
# fuzz-run.sh: run every libFuzzer target of build/fuzz at low priority, for FUZZ_RUNS executions or FUZZ_SECONDS each, report the executions per target, and merge the inputs that found new coverage into tests/fuzz/seeds/.
#
# Usage: scripts/fuzz-run.sh [target...]   (default: every built target)
# Environment: FUZZ_SECONDS (60: the time limit of each target),
# FUZZ_RUNS (unset: no limit on executions; 10000000 for a deep run),
# FUZZ_JOBS (1: parallel fuzzing processes per target), FUZZ_MERGE (1:
# merge new coverage into the seeds; 0: leave the seeds alone).
# Crashes, leaks and timeouts are written to build/fuzz/ (never into the
# checkout) and fail the run.  Everything runs under nice -n 19.
set -uo pipefail

cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-60}
RUNS=${FUZZ_RUNS:-}
MERGE=${FUZZ_MERGE:-1}
MAXLEN=4096
status=0

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in build/fuzz/fuzzers/*; do targets+=("$(basename "$f")"); done
fi
printf '%-16s %14s %8s %10s %s\n' target executions seconds exec/s "new seeds"
for t in "${targets[@]}"; do
	bin=build/fuzz/fuzzers/$t
	[ -x "$bin" ] || { echo "fuzz-run: $bin is not built (make fuzz)" >&2; status=1; continue; }
	corpus=build/fuzz/corpus/$t
	seeds=tests/fuzz/seeds/$t
	mkdir -p "$corpus" "$seeds"
	log=build/fuzz/$t.log
	t0=$(date +%s)
	nice -n 19 "$bin" -max_total_time="$SECS" ${RUNS:+-runs="$RUNS"} -max_len=$MAXLEN \
	    -artifact_prefix=build/fuzz/"$t"- -print_final_stats=1 "$corpus" "$seeds" >"$log" 2>&1
	rc=$?
	t1=$(date +%s)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	[ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
	secs=$((t1 - t0)); [ $secs -gt 0 ] || secs=1
	added=-
	if [ $rc -ne 0 ]; then
		echo "fuzz-run: $t failed (exit $rc); see $log and build/fuzz/$t-*" >&2
		grep -E 'ERROR|SUMMARY' "$log" | head -n 5 >&2
		status=1
	elif [ "$MERGE" = 1 ]; then
		# Only inputs that reach code (edges, not hit counts) the seeds
		# do not, at most 512 bytes each: a few small files, not the
		# whole corpus.
		before=$(ls "$seeds" | wc -l)
		nice -n 19 "$bin" -merge=1 -use_counters=0 -max_len=512 "$seeds" "$corpus" >>"$log" 2>&1
		added=$(( $(ls "$seeds" | wc -l) - before ))
	fi
	printf '%-16s %14s %8s %10s %s\n' "$t" "${runs:-?}" "$secs" "$(( ${runs:-0} / secs ))" "$added"
done
exit $status
