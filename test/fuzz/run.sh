#!/bin/bash
# run.sh FUZZER SECONDS MAX_LEN DICT CORPUS WORK - one bounded libFuzzer
# run, the fuzz suite's test. DICT is the harness's dictionary (words of
# its input language, for the mutator); CORPUS (seeds and regressions, in
# the source tree) is only read; what the run adds to the corpus goes to
# WORK/corpus, kept between runs in the same build directory, and a
# crashing input to WORK/artifacts/. A crash, a sanitizer report, a leak, a hang or a broken
# harness property fails the test. libFuzzer's own log is WORK/fuzz.log;
# the test log gets its start and final lines (executions, coverage), or
# its last 200 lines on a failure.
set -uo pipefail
fuzzer=$1
seconds=$2
max_len=$3
dict=$4
corpus=$5
work=$6
mkdir -p "$work/corpus" "$work/artifacts" "$work/tmp" || exit 1
# The config harness writes its input to a file under TMPDIR.
export TMPDIR=$work/tmp
# -timeout: one input taking 10 s is a hang; -rss_limit_mb: a run growing
# past 2 GiB is a leak or an unbounded allocation; -error_exitcode: not
# libFuzzer's default 77, which meson counts as a skipped test.
"$fuzzer" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -error_exitcode=1 -print_final_stats=1 -dict="$dict" -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$corpus" > "$work/fuzz.log" 2>&1
status=$?
if [ $status -ne 0 ]; then
    tail -n 200 "$work/fuzz.log"
    echo "run.sh: $fuzzer failed with status $status; the input is in $work/artifacts/" >&2
    exit $status
fi
grep -E '^(INFO: seed corpus|#[0-9]+[[:space:]]+(INITED|DONE)|stat::|Done )' "$work/fuzz.log"
