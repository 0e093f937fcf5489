#!/bin/bash
# bench.sh - measure sensorbridge; this is a measurement, not a pass/fail test.
#
#   test/bench/bench.sh [CYCLES]            end to end at speed = max, then the
#                                           kcat reference on a standalone mock
#   test/bench/bench.sh realtime [SECONDS]  default real-time replay: CPU and RSS
#
# Environment:
#   SB_BUILD       build directory (default: build), relative to the current
#                  directory if it exists there, else to the repository
#   SB_PARTITIONS  [kafka] partitions of the daemon's embedded cluster (default 4)
#   SB_BROKERS     brokers of the embedded cluster and of mockbroker (default 3)
#   SB_KCAT_PARTITIONS  partitions of the kcat reference topic (default 17)
#   SB_NO_KCAT=1   skip the kcat reference
#   SB_RESULTS     file to append a dated record to
#                  (default test/bench/results/results.txt; "none": do not)
#   SB_KEEP=1      keep the work directory (configs, logs, scrapes)
#   SB_EXTRA_CONF  INI lines appended to the daemon's configuration, e.g.
#                  $'[consumer]\nkafka.fetch.wait.max.ms = 500'
#   SB_SPEED       realtime mode: [replay] speed (default 1); e.g. 10 ages the
#                  embedded broker's partitions ten times faster
#   SB_TIMELINE=1  print produced/delivered/consumed once a second
#   SB_PERF=1      perf record the daemon during the e2e run and print where
#                  the time goes (SB_PERF_CALLGRAPH, default -g; e.g.
#                  "--call-graph dwarf,16384" to see through jansson)
#
# Exit status: 0 when every figure was measured and the counts matched;
# 1 on a LOSS (produced, delivered and consumed counts differ, or the
# consumer stalls short of the total for 30 s), a crash or an unclean exit.
# Needs bash >= 5 ($EPOCHREALTIME), curl, awk, kcat; perf for SB_PERF.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SB_BUILD:-build}
if [ -d "$BUILD" ]; then BUILD=$(cd "$BUILD" && pwd); else BUILD=$ROOT/$BUILD; fi
SB_BIN=$BUILD/sensorbridge
MOCK_BIN=$BUILD/test/mockbroker
BROKERS=${SB_BROKERS:-3}
PARTITIONS=${SB_PARTITIONS:-4}
KCAT_PARTITIONS=${SB_KCAT_PARTITIONS:-17}
RESULTS=${SB_RESULTS:-$ROOT/test/bench/results/results.txt}
DATASET=$ROOT/datasets/uci-hydraulic
PER_CYCLE=43680 # 7 sensors x 6000 + 2 x 600 + 8 x 60 samples per 60-s cycle

MODE=e2e
if [ "${1:-}" = realtime ]; then
    MODE=realtime
    SECONDS_RT=${2:-60}
else
    CYCLES=${1:-20}
fi

[ -x "$SB_BIN" ] || { echo "bench: $SB_BIN not found; build first (ninja -C $BUILD)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench.XXXXXX")
SB_PID=
MB_PID=
cleanup() {
    local p
    for p in $SB_PID $MB_PID; do
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done
    if [ -n "${SB_KEEP:-}" ]; then echo "bench: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "bench: unexpected failure at line $LINENO (status $?)" >&2' ERR

die() {
    echo "BENCH FAILED: $*" >&2
    if [ -f "$WORK/sb.log" ]; then
        echo "---- last lines of the daemon log ----" >&2
        tail -n 20 "$WORK/sb.log" >&2
    fi
    exit 1
}

. "$ROOT/test/bench/lib.sh"

# ---------------------------------------------------------------- realtime
if [ "$MODE" = realtime ]; then
    # The shipped configuration, with the dataset made absolute, a free port
    # (9550 may be taken) and notice logging.
    sed -e "s|^dataset = .*|dataset = $DATASET|" -e 's|^listen = .*|listen = 127.0.0.1:0|' \
        -e 's|^log_level = .*|log_level = notice|' -e "s|^speed = .*|speed = ${SB_SPEED:-1}|" \
        "$ROOT/conf/sensorbridge.conf" > "$WORK/sb.conf"
    [ -n "${SB_EXTRA_CONF:-}" ] && printf '%s\n' "$SB_EXTRA_CONF" >> "$WORK/sb.conf"
    machine
    echo "realtime: conf/sensorbridge.conf (speed ${SB_SPEED:-1}, all cycles, loop), ${SECONDS_RT} s"
    start_daemon "$WORK/sb.conf"
    # Skip the first 5 s: the consumer group join (~3 s with the mock).
    sleep 5
    c0=$(cpu_of "$SB_PID"); t0=$(now)
    m0=$(scrape) || die "scrape failed"
    p0=$(family_sum sensorbridge_messages_produced_total <<< "$m0")
    k0=$(metric sensorbridge_consumer_messages_total <<< "$m0")
    mock_cpu() { threads_cpu "$1" | awk '$1 == "rdk:mock" { s += $3 } END { print s + 0 }'; }
    mp=$(mock_cpu "$SB_PID")
    echo "interval  cpu%    rss_MB  (of which the embedded broker's rdk:mock thread, cpu%)"
    step=10; [ "$SECONDS_RT" -gt 300 ] && step=60; [ "$SECONDS_RT" -lt 20 ] && step=$SECONDS_RT
    elapsed=0; cp=$c0; tp=$t0
    while [ "$elapsed" -lt "$SECONDS_RT" ]; do
        s=$step; [ $((elapsed + s)) -gt "$SECONDS_RT" ] && s=$((SECONDS_RT - elapsed))
        sleep "$s"
        elapsed=$((elapsed + s))
        kill -0 "$SB_PID" 2>/dev/null || die "daemon died during the run"
        c=$(cpu_of "$SB_PID"); t=$(now)
        m=$(mock_cpu "$SB_PID")
        printf '%5ds    %-7s %-7s (%s)\n' "$elapsed" "$(calc "100 * ($c - $cp) / ($t - $tp)" %.2f)" \
            "$(calc "$(kb_of "$SB_PID" VmRSS) / 1024" %.1f)" "$(calc "100 * ($m - $mp) / ($t - $tp)" %.2f)"
        cp=$c; tp=$t; mp=$m
    done
    c1=$(cpu_of "$SB_PID"); t1=$(now)
    scrape > "$WORK/scrape.txt" || die "scrape failed"
    m1=$(cat "$WORK/scrape.txt")
    rss=$(kb_of "$SB_PID" VmRSS); hwm=$(kb_of "$SB_PID" VmHWM)
    threads_cpu "$SB_PID" > "$WORK/threads.txt"
    p1=$(family_sum sensorbridge_messages_produced_total <<< "$m1")
    d1=$(family_sum sensorbridge_messages_delivered_total <<< "$m1")
    k1=$(metric sensorbridge_consumer_messages_total <<< "$m1")
    lsum=$(metric sensorbridge_end_to_end_latency_seconds_sum <<< "$m1")
    lcnt=$(metric sensorbridge_end_to_end_latency_seconds_count <<< "$m1")
    stop_daemon
    dt=$(calc "$t1 - $t0")
    {
        printf '%-38s %s\n' "window (s)" "$(calc "$dt" %.1f)"
        printf '%-38s %s\n' "produced msg/s" "$(calc "($p1 - $p0) / $dt" %.0f)"
        printf '%-38s %s\n' "consumed msg/s" "$(calc "($k1 - $k0) / $dt" %.0f)"
        printf '%-38s %s\n' "CPU % of one core" "$(calc "100 * ($c1 - $c0) / $dt" %.2f)"
        printf '%-38s %s\n' "CPU s by thread (whole run)" "$(threads_line "$WORK/threads.txt")"
        printf '%-38s %s\n' "RSS at end (MB)" "$(calc "$rss / 1024" %.1f)"
        printf '%-38s %s\n' "peak RSS, VmHWM (MB)" "$(calc "$hwm / 1024" %.1f)"
        printf '%-38s %s\n' "latency mean (ms); p50, p99 <= (ms)" "$(calc "1000 * $lsum / $lcnt" %.0f); $(lq 0.5 "$WORK/scrape.txt"), $(lq 0.99 "$WORK/scrape.txt") (whole run)"
        printf '%-38s %s\n' "produced-delivered-consumed" "$p1 $d1 $k1 (in flight differ)"
        printf '%-38s %s\n' "SIGTERM to exit (s), status" "$STOP_S, $EXIT_RC"
    } > "$WORK/table.txt"
    echo; cat "$WORK/table.txt"
    record "seconds=$SECONDS_RT speed=${SB_SPEED:-1}"
    [ "$EXIT_RC" -eq 0 ] || die "daemon exited with status $EXIT_RC"
    exit 0
fi

# ---------------------------------------------------------------- end to end
case $CYCLES in '' | *[!0-9]*) echo "usage: $0 [CYCLES] | realtime [SECONDS]" >&2; exit 2 ;; esac
[ "$CYCLES" -ge 1 ] || { echo "bench: CYCLES must be >= 1" >&2; exit 2; }
TOTAL=$((CYCLES * PER_CYCLE))
machine
echo "e2e: $CYCLES cycles = $TOTAL messages, speed = max, embedded broker ($BROKERS brokers, $PARTITIONS partitions/topic)"

cat > "$WORK/sb.conf" <<CONF
[general]
log_level = notice
[kafka]
brokers = embedded
embedded_brokers = $BROKERS
partitions = $PARTITIONS
[consumer]
group_id = sb-bench
[replay]
dataset = $DATASET
speed = max
cycles = 0-$((CYCLES - 1))
loop = false
event_epoch = 2025-01-01T00:00:00Z
[http]
listen = 127.0.0.1:0
CONF
[ -n "${SB_EXTRA_CONF:-}" ] && printf '%s\n' "$SB_EXTRA_CONF" >> "$WORK/sb.conf"

start_daemon "$WORK/sb.conf"
PERF_PID=
if [ -n "${SB_PERF:-}" ]; then
    perf record -F 999 ${SB_PERF_CALLGRAPH:--g} -p "$SB_PID" -o "$WORK/perf.data" > "$WORK/perf.log" 2>&1 &
    PERF_PID=$!
fi
# CPU at "http listening", logged in the same loop turn as "replay started".
cpu_start=$(cpu_of "$SB_PID")
for _ in $(seq 1 100); do
    t_start=$(awk '/msg="replay started"/ { print $1; exit }' "$WORK/sb.log")
    [ -n "$t_start" ] && break
    sleep 0.05
done
[ -n "$t_start" ] || die "no \"replay started\" line"

# Poll every 50 ms until the consumer count reaches TOTAL. A loss shows as
# a count that stops short: give up after 30 s without progress. Each poll
# adds a line to timeline.txt: seconds since replay start, produced,
# delivered, consumed, producer queue, replay paused, RSS MB.
t_end='' last=-1 t_progress=$(now)
: > "$WORK/timeline.txt"
while :; do
    kill -0 "$SB_PID" 2>/dev/null || die "daemon died during the run"
    line=$(scrape | awk -v t="$(calc "$(now) - $t_start" %.3f)" '
        index($1, "sensorbridge_messages_produced_total{") == 1 { p += $2 }
        index($1, "sensorbridge_messages_delivered_total{") == 1 { d += $2 }
        $1 == "sensorbridge_consumer_messages_total" { c = $2 }
        $1 == "sensorbridge_producer_queue_messages" { q = $2 }
        $1 == "sensorbridge_replay_paused" { z = $2 }
        $1 == "process_resident_memory_bytes" { r = $2 / 1048576 }
        END { if (c != "") printf "%s %d %d %d %d %d %.1f\n", t, p, d, c, q, z, r }') || line=
    t=$(now)
    got=
    if [ -n "$line" ]; then
        echo "$line" >> "$WORK/timeline.txt"
        got=$(echo "$line" | cut -d' ' -f4)
        if [ "$got" -ge "$TOTAL" ]; then t_end=$t; break; fi
    fi
    if [ "${got:-0}" != "$last" ]; then last=${got:-0}; t_progress=$t; fi
    if [ "$(calc "($t - $t_progress > 30)" %d)" = 1 ]; then
        echo "BENCH: consumer stalled at $last of $TOTAL messages for 30 s" >&2
        break
    fi
    sleep 0.05
done
cpu_end=$(cpu_of "$SB_PID")
[ -n "$PERF_PID" ] && { kill -INT "$PERF_PID"; wait "$PERF_PID" || true; PERF_PID=; }
threads_cpu "$SB_PID" > "$WORK/threads.txt"
t_finished=$(awk '/msg="replay finished"/ { print $1; exit }' "$WORK/sb.log")
scrape > "$WORK/scrape.txt" || die "final scrape failed"
# Retention check on the fullest topic (PS1: 6000 samples a cycle, one key so
# one partition): the first offset still held. Above 0, the mock dropped the
# oldest message sets (after they were consumed, if the counts match).
ps1_low='?'
if command -v kcat >/dev/null; then
    bs=$(curl -sf "$SB_URL/api/v1/status" | sed -n 's/.*"brokers": *"\([^"]*\)".*/\1/p')
    [ -n "$bs" ] && ps1_low=$(timeout 20 kcat -C -b "$bs" -t hydraulic-PS1 -o beginning -c 1 -e -q -f '%o\n' 2>/dev/null) || true
    [ -n "$ps1_low" ] || ps1_low='?'
fi
hwm=$(kb_of "$SB_PID" VmHWM)
stop_daemon
# Warnings and errors; a consumer that fell more than the retention behind
# is reset to the oldest retained offset with only a librdkafka warning
# ("offset reset ... Offset out of range"), no metric.
errs=$(grep -c '^[0-9.]* <[0-4]>' "$WORK/sb.log" || true)

S=$WORK/scrape.txt
produced=$(family_sum sensorbridge_messages_produced_total < "$S")
delivered=$(family_sum sensorbridge_messages_delivered_total < "$S")
failed=$(family_sum sensorbridge_messages_delivery_failed_total < "$S")
consumed=$(metric sensorbridge_consumer_messages_total < "$S")
applied=$(family_sum sensorbridge_sensor_samples_consumed_total < "$S")
invalid=$(family_sum sensorbridge_consumer_invalid_messages_total < "$S")
cpu_total=$(metric process_cpu_seconds_total < "$S")
rss=$(metric process_resident_memory_bytes < "$S")
lsum=$(metric sensorbridge_end_to_end_latency_seconds_sum < "$S")
lcnt=$(metric sensorbridge_end_to_end_latency_seconds_count < "$S")
loss=
for v in "$produced" "$delivered" "$consumed" "$applied" "$lcnt"; do
    [ "$v" = "$TOTAL" ] || loss=1
done
[ "$failed" = 0 ] && [ "$invalid" = 0 ] || loss=1
[ -n "$t_end" ] || loss=1
if [ -n "$loss" ]; then
    # Say it loudly and measure nothing else: the figures would be wrong.
    {
        echo
        echo "************************************************************************"
        echo "LOSS: $CYCLES cycles = $TOTAL messages expected at every stage, got"
        echo "  produced=$produced delivered=$delivered delivery_failed=$failed"
        echo "  consumed=$consumed applied=$applied invalid=$invalid latency_count=$lcnt"
        echo "  hydraulic-PS1 first retained offset: $ps1_low (above 0: the mock's 5 MiB"
        echo "  retention dropped message sets; a consumer behind them lost data)"
        echo "  daemon exit status $EXIT_RC; warning and error lines in the log:"
        grep '^[0-9.]* <[0-4]>' "$WORK/sb.log" | head -n 5 || true
        echo "************************************************************************"
    } >&2
    exit 1
fi

# ---------------------------------------------------------------- kcat reference
kcat_ok=skipped
if [ -z "${SB_NO_KCAT:-}" ]; then
    command -v kcat >/dev/null || die "kcat not found (apt-get install kcat), or set SB_NO_KCAT=1"
    [ -x "$MOCK_BIN" ] || die "$MOCK_BIN not found; build the tests (meson -Dtests=true)"
    # Messages shaped like the daemon's: same fields, sensors and rates,
    # values with the dataset's kind of digits (~150-170 bytes).
    awk -v cycles="$CYCLES" 'BEGIN {
        split("PS1 PS2 PS3 PS4 PS5 PS6 EPS1 FS1 FS2 TS1 TS2 TS3 TS4 VS1 CE CP SE", s, " ")
        split("bar bar bar bar bar bar W l/min l/min C C C C mm/s % kW %", u, " ")
        srand(1)
        for (c = 0; c < cycles; c++)
            for (i = 1; i <= 17; i++) {
                r = i <= 7 ? 100 : (i <= 9 ? 10 : 1); n = 60 * r
                for (k = 0; k < n; k++) {
                    t = c * 60 + k / r
                    printf "{\"sensor\":\"%s\",\"cycle\":%d,\"sample_idx\":%d,\"value\":%.2f,\"timestamp\":\"2025-01-01T%02d:%02d:%09.6fZ\",\"sampling_rate_hz\":%d,\"unit\":\"%s\",\"source\":\"uci-hydraulic\"}\n",
                        s[i], c, k, 100 + 60 * rand(), int(t / 3600), int(t / 60) % 60, t - 60 * int(t / 60), r, u[i]
                }
            }
    }' > "$WORK/msgs.txt"
    nmsg=$(wc -l < "$WORK/msgs.txt")
    msgbytes=$(calc "$(wc -c < "$WORK/msgs.txt") / $nmsg - 1" %.0f)
    "$MOCK_BIN" -b "$BROKERS" -p "$KCAT_PARTITIONS" -f "$WORK/bootstrap" bench > "$WORK/mock.log" 2>&1 &
    MB_PID=$!
    for _ in $(seq 1 100); do [ -s "$WORK/bootstrap" ] && break; sleep 0.05; done
    [ -s "$WORK/bootstrap" ] || die "mockbroker wrote no bootstrap file"
    B=$(cat "$WORK/bootstrap")
    mc0=$(cpu_of "$MB_PID")
    TIMEFORMAT='%R %U %S'
    { time kcat -P -b "$B" -t bench -X linger.ms=5 -X batch.num.messages=10000 \
        -X compression.codec=lz4 -l "$WORK/msgs.txt" 2> "$WORK/kcat-p.err"; } 2> "$WORK/time-p" \
        || die "kcat produce failed: $(tail -n 3 "$WORK/kcat-p.err")"
    { time kcat -C -b "$B" -t bench -o beginning -e -q -c "$nmsg" \
        -X queued.min.messages=1000000 > "$WORK/consumed.txt" 2> "$WORK/kcat-c.err"; } 2> "$WORK/time-c" \
        || die "kcat consume failed: $(tail -n 3 "$WORK/kcat-c.err")"
    mc2=$(cpu_of "$MB_PID")
    kill -TERM "$MB_PID"; wait "$MB_PID" || true; MB_PID=
    kgot=$(wc -l < "$WORK/consumed.txt")
    read -r kp_real kp_user kp_sys < "$WORK/time-p"
    read -r kc_real kc_user kc_sys < "$WORK/time-c"
    kcat_ok=ok
    if [ "$kgot" -ne "$nmsg" ]; then
        kcat_ok="LOSS: consumed $kgot of $nmsg"
    fi
fi

# ---------------------------------------------------------------- report
e2e_s=$(calc "$t_end - $t_start")
# First poll that saw a consumed message: the consumer group join with the
# mock takes ~3 s, during which the producer runs alone.
t_first=$(awk '$4 > 0 { print $1; exit }' "$WORK/timeline.txt")
after_join_s=$(calc "$e2e_s - $t_first")
{
    echo "sensorbridge end to end ($TOTAL msgs, $CYCLES cycles, speed max, embedded $BROKERS brokers x $PARTITIONS partitions)"
    printf '  %-40s %s\n' "replay started -> last consumed (s)" "$(calc "$e2e_s" %.2f) (poll 50 ms)"
    printf '  %-40s %s\n' "replay started -> replay finished (s)" "$(calc "$t_finished - $t_start" %.2f)"
    printf '  %-40s %s\n' "end-to-end throughput (msg/s)" "$(calc "$TOTAL / $e2e_s" %.0f)"
    printf '  %-40s %s\n' "first message consumed at (s)" "$(calc "$t_first" %.2f) (group join)"
    printf '  %-40s %s\n' "throughput after the join (msg/s)" "$(calc "$TOTAL / $after_join_s" %.0f)"
    printf '  %-40s %s\n' "process CPU total (s)" "$(calc "$cpu_total" %.2f) (incl. start-up $(calc "$cpu_start" %.2f))"
    printf '  %-40s %s\n' "CPU during the run (s), % of one core" "$(calc "$cpu_end - $cpu_start" %.2f), $(calc "100 * ($cpu_end - $cpu_start) / $e2e_s" %.0f)"
    printf '  %-40s %s\n' "CPU per message (us)" "$(calc "1e6 * $cpu_total / $TOTAL" %.2f) (run only $(calc "1e6 * ($cpu_end - $cpu_start) / $TOTAL" %.2f))"
    printf '  %-40s %s\n' "peak RSS, VmHWM (MB)" "$(calc "$hwm / 1024" %.1f) (RSS at end $(calc "$rss / 1048576" %.1f))"
    printf '  %-40s %s\n' "latency mean (ms); p50, p99 <= (ms)" "$(calc "1000 * $lsum / $lcnt" %.0f); $(lq 0.5 "$S"), $(lq 0.99 "$S")"
    printf '  %-40s %s\n' "CPU s by thread" "$(threads_line "$WORK/threads.txt")"
    printf '  %-40s %s\n' "produced delivered consumed applied" "$produced $delivered $consumed $applied"
    printf '  %-40s %s\n' "hydraulic-PS1 first retained offset" "$ps1_low of $((CYCLES * 6000))"
    printf '  %-40s %s\n' "delivery failed, invalid, warn+err lines" "$failed, $invalid, $errs"
    printf '  %-40s %s\n' "SIGTERM to exit (s), status" "$STOP_S, $EXIT_RC"
    if [ "$kcat_ok" != skipped ]; then
        kp_rate=$(calc "$nmsg / $kp_real" %.0f)
        kc_rate=$(calc "$nmsg / $kc_real" %.0f)
        k_e2e=$(calc "$nmsg / ($kp_real + $kc_real)" %.0f)
        echo "kcat reference ($nmsg msgs of ~$msgbytes B, standalone mockbroker $BROKERS brokers x $KCAT_PARTITIONS partitions, lz4)"
        printf '  %-40s %s\n' "produce (s), msg/s" "$(calc "$kp_real" %.2f), $kp_rate"
        printf '  %-40s %s\n' "consume (s), msg/s" "$(calc "$kc_real" %.2f), $kc_rate (simple consumer, all partitions)"
        printf '  %-40s %s\n' "sequential produce + consume msg/s" "$k_e2e"
        printf '  %-40s %s\n' "CPU s: kcat -P, kcat -C, mockbroker" "$(calc "$kp_user + $kp_sys" %.2f), $(calc "$kc_user + $kc_sys" %.2f), $(calc "$mc2 - $mc0" %.2f)"
        printf '  %-40s %s\n' "kcat+mock CPU per message (us)" "$(calc "1e6 * ($kp_user + $kp_sys + $kc_user + $kc_sys + $mc2 - $mc0) / $nmsg" %.2f)"
        printf '  %-40s %s\n' "counts" "$kcat_ok ($kgot of $nmsg)"
        printf '  %-40s %s\n' "RATIO sensorbridge / kcat end to end" "$(calc "($TOTAL / $e2e_s) / $k_e2e" %.3f) (after the join: $(calc "($TOTAL / $after_join_s) / $k_e2e" %.3f))"
    fi
} > "$WORK/table.txt"
echo
cat "$WORK/table.txt"
if [ -n "${SB_TIMELINE:-}" ]; then
    echo "timeline (one line a second): s produced delivered consumed queue paused rss_MB"
    awk '$1 >= next_t { print; next_t = int($1) + 1 }' "$WORK/timeline.txt"
fi
if [ -f "$WORK/perf.data" ]; then
    echo "perf: samples by thread, by library, top symbols (perf report --no-children)"
    for sort in pid dso dso,sym; do
        perf report -i "$WORK/perf.data" --no-children --sort "$sort" --stdio -g none 2>/dev/null \
            | grep -v '^#' | grep -v "^$" | head -n 15 || true
    done
fi
record "cycles=$CYCLES partitions=$PARTITIONS"

case $kcat_ok in ok | skipped) ;; *) echo "kcat reference: $kcat_ok" >&2; exit 1 ;; esac
[ "$EXIT_RC" -eq 0 ] || die "daemon exited with status $EXIT_RC after SIGTERM"
exit 0
