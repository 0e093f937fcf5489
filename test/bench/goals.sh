#!/bin/bash
# goals.sh - runs the measurement of every goal of issue 10 in turn and sums
# up the figures beside their goals. A measurement, not a pass/fail test.
#
#   test/bench/goals.sh [--only 1,6] [--quick] [--out DIR] [--aging FILE]
#
# Goal  measurement
#   1   bench.sh 20                          (--quick: bench.sh 5)
#   2   bench.sh kafka                       (real Kafka and kcat on it)
#   3   bench.sh full                        (the whole UCI dataset)
#   4   bench.sh realtime; SB_KAFKA=1 bench.sh realtime
#   5   bench.sh latency;  SB_KAFKA=1 bench.sh latency
#   6   bench_scale.sh; BUILD/test/bench_registry; bench_scrape.sh
# --quick is passed on to the scripts' modes (all but goal 1's, which runs
# 5 cycles instead, and the bench_registry program's).
#
# Each step's standard output and error go to DIR/NN-STEP.txt (default DIR:
# test/bench/results/<UTC date and time>/), its dated record to
# DIR/results.txt (SB_RESULTS), bench_scale.sh's TSV to DIR/scale/; every
# line starting with "GOAL " is collected into DIR/goals.tsv and the summary
# table (DIR/summary.txt), which docs/performance.md quotes. The format of
# those lines is
#     GOAL <id>: <what> = <figure> <unit> (goal <op> <target>) <MET|NOT MET>
# A step whose script or program does not exist (or a bench.sh mode it
# does not know: usage, exit 2) is "not measured", as is a goal none of
# whose steps printed a GOAL line. Goal 1's timeline, bench_scale.sh's TSV
# and --aging FILE (the aged real-time series, lines "elapsed_s cpu_pct
# rss_mb mock_cpu_pct") are plotted into DIR/plots/ by plot.py when
# Debian's python3-matplotlib is there.
#
# Environment: SB_BUILD (default build) as bench.sh; the other SB_* of
# bench.sh reach it unchanged.
# Exit status: 0 when every step that exists ran to its end (goals met or
# not); 1 when one failed (a loss, a crash: see its output file); 2 on bad
# usage.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/test/bench
BUILD=${SB_BUILD:-build}
if [ -d "$BUILD" ]; then BUILD=$(cd "$BUILD" && pwd); else BUILD=$ROOT/$BUILD; fi
export SB_BUILD=$BUILD
ONLY=1,2,3,4,5,6
QUICK=
OUT=
AGING=

usage() { echo "usage: $0 [--only 1,6] [--quick] [--out DIR] [--aging FILE]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --only) [ $# -ge 2 ] || usage; ONLY=$2; shift ;;
    --quick) QUICK=--quick ;;
    --out) [ $# -ge 2 ] || usage; OUT=$2; shift ;;
    --aging) [ $# -ge 2 ] || usage; AGING=$2; shift ;;
    *) usage ;;
    esac
    shift
done
case ,$ONLY, in *,[!1-6,]* | *[!0-9,]*) echo "goals.sh: --only takes goal numbers 1-6, e.g. 1,6" >&2; exit 2 ;; esac
[ -z "$AGING" ] || [ -r "$AGING" ] || { echo "goals.sh: $AGING: not readable" >&2; exit 2; }
[ -n "$OUT" ] || OUT=$ROOT/test/bench/results/$(date -u +%Y-%m-%dT%H%M%SZ)
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
export SB_RESULTS=$OUT/results.txt
wanted() { case ,$ONLY, in *,$1,*) return 0 ;; esac; return 1; }

# steps.tsv: goal, step, status (ran | failed (exit N) | not measured: why), output file.
: > "$OUT/steps.tsv"
STEP=0
FAILED=

# step GOAL NAME PROGRAM [ARGS...] (environment assignments before it with env):
# runs one measurement into its own output file.
step() {
    local goal=$1 name=$2 prog=$3 rc status file t0
    shift 3
    STEP=$((STEP + 1))
    file=$OUT/$(printf '%02d' "$STEP")-$name.txt
    printf 'goals: goal %s, %s ... ' "$goal" "$name"
    if [ ! -x "$prog" ]; then
        status="not measured: ${prog#"$ROOT"/} does not exist"
        echo "$status" | tee "$file"
        printf '%s\t%s\t%s\t%s\n' "$goal" "$name" "$status" "$file" >> "$OUT/steps.tsv"
        return 0
    fi
    t0=$EPOCHSECONDS
    {
        echo "# goals.sh step $STEP: goal $goal: $* (in $ROOT, $(date -u +%Y-%m-%dT%H:%M:%SZ))"
        echo "# git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    } > "$file"
    (cd "$ROOT" && "$prog" "$@") >> "$file" 2>&1 < /dev/null
    rc=$?
    if [ "$rc" -eq 0 ]; then
        status=ran
    elif [ "$rc" -eq 2 ] && grep -qi 'usage' "$file"; then
        status="not measured: $(basename "$prog") has no such mode or option ($*)"
    else
        status="failed (exit $rc)"
        FAILED=1
    fi
    echo "$status, $((EPOCHSECONDS - t0)) s -> ${file#"$OUT"/}"
    printf '%s\t%s\t%s\t%s\n' "$goal" "$name" "$status" "$file" >> "$OUT/steps.tsv"
}

{
    printf 'goals.sh: goals %s%s, build %s, git %s, output in %s\n' "$ONLY" "${QUICK:+ (quick)}" "$BUILD" \
        "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" "$OUT"
    printf 'machine: %s cores, %s, load average at start %s\n' "$(nproc)" \
        "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/summary.txt"

if wanted 1; then
    # The timeline of this run is the throughput plot's data.
    cycles=20; [ -n "$QUICK" ] && cycles=5
    SB_KEEP=1 SB_TIMELINE=1 step 1 e2e "$BENCH/bench.sh" "$cycles"
    kept=$(sed -n 's/^bench: work directory kept: //p' "$OUT/$(printf '%02d' "$STEP")-e2e.txt" | tail -n 1)
    if [ -n "$kept" ] && [ -d "$kept" ]; then
        [ -f "$kept/timeline.txt" ] && cp "$kept/timeline.txt" "$OUT/timeline-e2e.txt"
        case $kept in "${TMPDIR:-/tmp}"/sb-bench.*) rm -rf "$kept" ;; esac
    fi
fi
wanted 2 && step 2 kafka "$BENCH/bench.sh" kafka $QUICK
wanted 3 && step 3 full "$BENCH/bench.sh" full $QUICK
if wanted 4; then
    step 4 realtime-embedded "$BENCH/bench.sh" realtime $QUICK
    SB_KAFKA=1 step 4 realtime-kafka "$BENCH/bench.sh" realtime $QUICK
fi
if wanted 5; then
    step 5 latency-embedded "$BENCH/bench.sh" latency $QUICK
    SB_KAFKA=1 step 5 latency-kafka "$BENCH/bench.sh" latency $QUICK
fi
if wanted 6; then
    step 6 scale "$BENCH/bench_scale.sh" $QUICK --out "$OUT/scale"
    step 6 registry "$BUILD/test/bench_registry"
    step 6 scrape "$BENCH/bench_scrape.sh" $QUICK
fi

# ---------------------------------------------------------------- summary
# goals.tsv: goal, what, figure, target, MET/NOT MET, step.
: > "$OUT/goals.tsv"
while IFS=$'\t' read -r goal name status file; do
    [ -f "$file" ] || continue
    grep '^GOAL ' "$file" | while IFS= read -r line; do
        parsed=$(sed -nE 's/^GOAL ([0-9][0-9a-z]*): (.*) = (.*) \(goal (.*)\) (MET|NOT MET)[[:space:]]*$/\1\t\2\t\3\t\4\t\5/p' <<< "$line")
        if [ -n "$parsed" ]; then
            printf '%s\t%s\n' "$parsed" "$name"
        else
            printf '%s\t%s\t-\t-\tunparsed line\t%s\n' "$goal" "$line" "$name"
        fi
    done >> "$OUT/goals.tsv"
done < "$OUT/steps.tsv"

{
    echo
    echo "steps:"
    awk -F'\t' '{ f = $4; sub(/.*\//, "", f); printf "  goal %-2s %-20s %s (%s)\n", $1, $2, $3, f }' "$OUT/steps.tsv"
    echo
    printf '%-5s %-62s %-16s %-18s %s\n' goal what figure target status
    for g in 1 2 3 4 5 6; do
        wanted "$g" || continue
        if awk -F'\t' -v g="$g" 'index($1, g) == 1 && substr($1, length(g) + 1) !~ /^[0-9]/ { f = 1 } END { exit !f }' "$OUT/goals.tsv"; then
            awk -F'\t' -v g="$g" 'index($1, g) == 1 && substr($1, length(g) + 1) !~ /^[0-9]/ {
                printf "%-5s %-62s %-16s %-18s %s\n", $1, $2, $3, $4, $5 }' "$OUT/goals.tsv"
        else
            why=$(awk -F'\t' -v g="$g" '$1 == g { printf "%s%s: %s%s", (n++ ? "; " : ""), $2, $3,
                ($3 == "ran" ? ", printed no GOAL line" : "") }' "$OUT/steps.tsv")
            printf '%-5s %-62s %-16s %-18s %s\n' "$g" "-" "-" "-" "not measured ($why)"
        fi
    done
} | tee -a "$OUT/summary.txt"

# ---------------------------------------------------------------- plots
args=()
[ -s "$OUT/scale/scale.tsv" ] && args+=(--scale "$OUT/scale/scale.tsv")
[ -s "$OUT/timeline-e2e.txt" ] && args+=(--timeline "$OUT/timeline-e2e.txt")
[ -n "$AGING" ] && args+=(--aging "$AGING")
if [ ${#args[@]} -gt 0 ]; then
    if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
        echo "plots:" | tee -a "$OUT/summary.txt"
        /usr/bin/python3 "$BENCH/plot.py" "${args[@]}" --out "$OUT/plots" 2>&1 | sed 's/^/  /' | tee -a "$OUT/summary.txt"
    else
        echo "plots: not made (python3-matplotlib is not installed; deploy/dev.sh test installs it)" | tee -a "$OUT/summary.txt"
    fi
fi
echo "raw outputs: $OUT"
[ -z "$FAILED" ] || exit 1
exit 0
