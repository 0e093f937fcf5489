#!/bin/bash
# bench_scrape.sh - what scraping /metrics costs the pipeline at full speed
# (goal 6c of issue 10: 10 scrapes/s during full-speed ingest cost at most
# 5 % of throughput). A measurement, not a pass/fail test.
#
#   test/bench/bench_scrape.sh [RUNS [CYCLES]]     default 3 runs of 20 cycles
#
# Runs `test/bench/bench.sh CYCLES` (SB_NO_KCAT=1, SB_RESULTS=none) RUNS
# times alone and RUNS times with a scraper, interleaved (alone, scraped,
# alone, ...), and compares the medians of the end-to-end throughput. The
# scraper is one curl process that fetches /metrics SB_SCRAPE_RATE times a
# second (default 10) over one kept-alive connection, with --compressed
# (Accept-Encoding: gzip) and Prometheus 2.42's Accept header (so the daemon
# renders OpenMetrics and gzips it, as for Prometheus), from the moment the
# daemon listens until bench.sh ends. bench.sh itself polls /metrics every
# 50 ms (uncompressed text) in both kinds of run; that is part of both.
#
# Environment: SB_BUILD (as for bench.sh), SB_SCRAPE_RATE (scrapes a second),
# SB_SCRAPE_ACCEPT (the Accept header), SB_KEEP=1 (keep the work directory).
# Exit status 0 when every run completed without a LOSS, else 1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-3}
CYCLES=${2:-20}
RATE=${SB_SCRAPE_RATE:-10}
ACCEPT=${SB_SCRAPE_ACCEPT:-'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'}
MAX_SECONDS=900 # the scraper's list of requests lasts this long at RATE
case "$RUNS$CYCLES$RATE" in '' | *[!0-9]*) echo "usage: $0 [RUNS [CYCLES]]" >&2; exit 2 ;; esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench-scrape.XXXXXX")
CURL_PID=
cleanup() {
    [ -n "$CURL_PID" ] && kill "$CURL_PID" 2>/dev/null
    if [ -n "${SB_KEEP:-}" ]; then echo "bench_scrape: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The port of the daemon that bench.sh started under TMPDIR=$1, from its log.
daemon_port() {
    sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' "$1"/sb-bench.*/sb.log 2>/dev/null | head -n 1
}

# One bench.sh run in $WORK/$1; with $2 = scraped, the scraper beside it.
# Prints the run's figures: throughput end to end, after the join, CPU/msg.
run() {
    local dir=$WORK/$1 port= rc=0 k
    mkdir -p "$dir"
    TMPDIR=$dir SB_NO_KCAT=1 SB_RESULTS=none SB_KEEP=1 bash "$ROOT/test/bench/bench.sh" "$CYCLES" \
        > "$dir/bench.txt" 2>&1 &
    local bench_pid=$!
    if [ "$2" = scraped ]; then
        for _ in $(seq 1 600); do
            port=$(daemon_port "$dir")
            [ -n "$port" ] && break
            kill -0 "$bench_pid" 2>/dev/null || break
            sleep 0.05
        done
        if [ -n "$port" ]; then
            for ((k = 0; k < RATE * MAX_SECONDS; k++)); do
                printf 'url = "http://127.0.0.1:%s/metrics"\noutput = "/dev/null"\n' "$port"
            done > "$dir/curl.conf"
            # One line per scrape, to unbuffered stderr: curl is killed at the end.
            curl -s --compressed --rate "$RATE/s" --max-time 5 -H "Accept: $ACCEPT" \
                -w '%{stderr}%{http_code} %{size_download} %{time_total}\n' -K "$dir/curl.conf" \
                > /dev/null 2> "$dir/scrapes.txt" &
            CURL_PID=$!
        fi
    fi
    wait "$bench_pid" || rc=$?
    if [ -n "$CURL_PID" ]; then
        kill "$CURL_PID" 2>/dev/null || true
        wait "$CURL_PID" 2>/dev/null || true
        CURL_PID=
    fi
    if [ "$rc" -ne 0 ]; then
        echo "bench_scrape: bench.sh failed in run $1 (status $rc):" >&2
        tail -n 30 "$dir/bench.txt" >&2
        exit 1
    fi
    awk '/end-to-end throughput \(msg\/s\)/ { e = $NF } /throughput after the join/ { j = $NF }
        /CPU per message \(us\)/ { c = $5 } END { print e, j, c }' "$dir/bench.txt"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
calc() { awk "BEGIN { printf \"${2:-%.6g}\", $1 }"; }

printf 'machine: %s cores, %s, load average at start %s\n' "$(nproc)" \
    "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench_scrape: $RUNS x bench.sh $CYCLES alone and with $RATE gzip scrapes/s, interleaved"
: > "$WORK/alone.txt"
: > "$WORK/scraped.txt"
for ((i = 1; i <= RUNS; i++)); do
    for kind in alone scraped; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        line=$(run "$kind-$i" "$kind")
        echo "$line" >> "$WORK/$kind.txt"
        extra=
        if [ "$kind" = scraped ]; then
            s=$WORK/$kind-$i/scrapes.txt
            extra=$(awk '$1 == 200 { n++; b += $2; t += $3; if ($3 > m) m = $3 } $1 != 200 { f++ }
                END { printf "; %d scrapes answered (%d failed or after the daemon stopped), %.0f B gzip each, %.1f ms mean, %.1f ms max",
                      n, f, n ? b / n : 0, n ? 1000 * t / n : 0, 1000 * m }' "$s")
        fi
        read -r e j c <<< "$line"
        printf '  run %d %-8s load %-5s  end to end %s msg/s, after the join %s msg/s, CPU %s us/msg%s\n' \
            "$i" "$kind" "$load" "$e" "$j" "$c" "$extra"
    done
done

ea=$(cut -d' ' -f1 "$WORK/alone.txt" | median)
es=$(cut -d' ' -f1 "$WORK/scraped.txt" | median)
ja=$(cut -d' ' -f2 "$WORK/alone.txt" | median)
js=$(cut -d' ' -f2 "$WORK/scraped.txt" | median)
ca=$(cut -d' ' -f3 "$WORK/alone.txt" | median)
cs=$(cut -d' ' -f3 "$WORK/scraped.txt" | median)
echo "medians: alone $ea msg/s end to end ($ja after the join, $ca us/msg);" \
    "scraped $es msg/s ($js after the join, $cs us/msg)"
echo "throughput ratio scraped / alone: end to end $(calc "$es / $ea" %.3f), after the join $(calc "$js / $ja" %.3f)"
cost=$(calc "100 * (1 - $es / $ea)" %.1f)
verdict=$(awk -v c="$cost" 'BEGIN { print (c <= 5 ? "MET" : "NOT MET") }')
echo "GOAL 6c: throughput lost to $RATE gzip scrapes/s during full-speed ingest = $cost % (goal <= 5 %) $verdict"
