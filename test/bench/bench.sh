#!/bin/bash
# bench.sh - measure sensorbridge; this is a measurement, not a pass/fail test.
#
#   test/bench/bench.sh [CYCLES]            end to end at speed = max on the
#                                           embedded broker, then the kcat
#                                           reference on a standalone mock
#                                           (goal 1; ~1 min for 20 cycles)
#   test/bench/bench.sh kafka [CYCLES]      the same against a real single-node
#                                           Apache Kafka (test/tools/kafka.sh),
#                                           kcat on the same broker (goal 2;
#                                           ~1.5 min for 20 cycles)
#   test/bench/bench.sh full                the whole UCI dataset (2205 cycles,
#                                           96.3 M messages) at speed = max,
#                                           embedded broker, no kcat (goal 3;
#                                           ~3 min at ~500k msg/s on a quiet
#                                           machine)
#   test/bench/bench.sh realtime [SECONDS]  shipped configuration in real time:
#                                           CPU and RSS (default 60 s); with
#                                           SB_KAFKA=1, or as realtime-kafka,
#                                           against a real Kafka (goal 4a/4b)
#   test/bench/bench.sh aging [SPEED]       realtime on the embedded broker at
#                                           SB_SPEED = SPEED (default 60) for
#                                           one simulated day, 86400/SPEED s
#                                           (24 min at 60): CPU and RSS series
#                                           and their slope (goal 4c/4d)
#   test/bench/bench.sh latency             shipped configuration in real time:
#                                           sample produced -> on /metrics, from
#                                           the daemon's histogram and from
#                                           outside (test/tools/latprobe.c);
#                                           SB_KAFKA=1, or latency-kafka, for a
#                                           real Kafka (goal 5; ~2.5 min)
#
# Every mode prints the figures of its goals of issue 10 as lines
#   GOAL <n><letter>: <what> = <figure> <unit> (goal <op> <target>) MET|NOT MET
# (the target in the figure's unit): e2e 1a-1c, kafka 2a, full 3a-3b,
# realtime-kafka 4a-4b, aging 4c-4d (only for a simulated span of at least
# 24 h), latency 5a-5b, latency-kafka 5c-5d.
#
# Environment:
#   SB_BUILD       build directory (default: build), relative to the current
#                  directory if it exists there, else to the repository
#   SB_PARTITIONS  [kafka] partitions of the daemon's topics (default 4)
#   SB_LAYOUT      e2e, kafka and full: [kafka] layout (default per_sensor,
#                  the daemon's; the shipped file's is shared, with
#                  SB_PARTITIONS=1)
#   SB_BROKERS     brokers of the embedded cluster and of mockbroker (default 3)
#   SB_KCAT_PARTITIONS  partitions of the kcat reference topic (default 17)
#   SB_NO_KCAT=1   skip the kcat reference
#   SB_KAFKA=1     realtime and latency against a real Kafka
#   SB_KAFKA_DIR   use the Kafka that test/tools/kafka.sh runs in this
#                  directory (left running) instead of starting one in the
#                  work directory (started and stopped by the run)
#   SB_RESULTS     file to append a dated record to
#                  (default test/bench/results/results.txt; "none": do not)
#   SB_SERIES      realtime and aging: file for the CPU/RSS time series, one
#                  line per sample "elapsed_s cpu_pct rss_mb mock_cpu_pct"
#                  (+ jvm_cpu_pct against Kafka); default
#                  <results dir>/series-<mode>-speed<S>.txt (none if
#                  SB_RESULTS=none)
#   SB_KEEP=1      keep the work directory (configs, logs, scrapes)
#   SB_SET         realtime, aging, latency: keys of the shipped file to
#                  change, "section.key=value" separated by spaces, e.g.
#                  "producer.coalesce_ms=0 kafka.layout=shared kafka.partitions=1"
#                  (a key the file does not set cannot be appended twice)
#   SB_EXTRA_CONF  INI lines appended to the daemon's configuration, e.g.
#                  $'[consumer]\nkafka.fetch.wait.max.ms = 500'
#   SB_SPEED       realtime mode: [replay] speed (default 1); e.g. 10 ages the
#                  embedded broker's partitions ten times faster
#   SB_STEP        realtime and aging: seconds between samples (default 10,
#                  or SECONDS/120 for runs over 20 min)
#   SB_WARMUP      realtime and latency: seconds skipped after the first
#                  consumed message (default 5 and 10)
#   SB_LAT_SECONDS latency: seconds between the two histogram scrapes (60)
#   SB_PROBES, SB_PROBE_SECONDS  latency: probes, over how long (300, 60)
#   SB_TIMELINE=1  print produced/delivered/consumed once a second
#   SB_PERF=1      perf record the daemon during the e2e run and print where
#                  the time goes (SB_PERF_CALLGRAPH, default -g; e.g.
#                  "--call-graph dwarf,16384" to see through jansson)
#
# Exit status: 0 when every figure was measured and the counts matched (a
# goal NOT MET is a measurement, not a failure); 1 on a LOSS (produced,
# delivered and consumed counts differ, the consumer stalls short of the
# total for 30 s, a latency probe never shows), a crash or an unclean exit.
# Needs bash >= 5 ($EPOCHREALTIME), curl, awk, kcat; perf for SB_PERF;
# Java 17 (and once Maven, to fetch Kafka) for the real-Kafka modes.
set -euo pipefail
# The whole script is one brace group, which bash parses before running
# any of it: a run (the full one takes minutes) is then immune to edits of
# this file while it goes on.
{

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SB_BUILD:-build}
if [ -d "$BUILD" ]; then BUILD=$(cd "$BUILD" && pwd); else BUILD=$ROOT/$BUILD; fi
SB_BIN=$BUILD/sensorbridge
MOCK_BIN=$BUILD/test/mockbroker
BROKERS=${SB_BROKERS:-3}
PARTITIONS=${SB_PARTITIONS:-4}
LAYOUT=${SB_LAYOUT:-per_sensor}
KCAT_PARTITIONS=${SB_KCAT_PARTITIONS:-17}
RESULTS=${SB_RESULTS:-$ROOT/test/bench/results/results.txt}
DATASET=$ROOT/datasets/uci-hydraulic
PER_CYCLE=43680 # 7 sensors x 6000 + 2 x 600 + 8 x 60 samples per 60-s cycle

LATPROBE_BIN=$BUILD/test/latprobe
. "$ROOT/test/bench/lib.sh"

usage() {
    echo "usage: $0 [CYCLES] | kafka [CYCLES] | full | realtime [SECONDS] | realtime-kafka [SECONDS]" \
        "| aging [SPEED] | latency | latency-kafka" >&2
    exit 2
}
is_count() { case $1 in '' | *[!0-9]*) return 1 ;; esac; [ "$1" -ge 1 ]; }

SPEED=${SB_SPEED:-1}
case ${1:-} in
realtime | realtime-kafka)
    MODE=$1
    SECONDS_RT=${2:-60}
    is_count "$SECONDS_RT" || usage
    ;;
aging)
    MODE=aging
    SPEED=${2:-${SB_SPEED:-60}}
    awk -v s="$SPEED" 'BEGIN { exit !(s + 0 >= 1 && s + 0 <= 100000) }' || usage
    SECONDS_RT=$(calc "86400 / $SPEED + 0.999" %d)
    ;;
latency | latency-kafka) MODE=$1 ;;
kafka)
    MODE=kafka
    CYCLES=${2:-20}
    is_count "$CYCLES" || usage
    ;;
full) MODE=full ;;
*)
    MODE=e2e
    CYCLES=${1:-20}
    is_count "$CYCLES" || usage
    ;;
esac
if [ -n "${SB_KAFKA:-}" ]; then
    case $MODE in realtime | latency) MODE=$MODE-kafka ;; esac
fi
BROKER=embedded BROKER_NAME="embedded broker"
case $MODE in kafka | *-kafka) BROKER=kafka BROKER_NAME="real Kafka" ;; esac

[ -x "$SB_BIN" ] || { echo "bench: $SB_BIN not found; build first (ninja -C $BUILD)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench.XXXXXX")
SB_PID=
MB_PID=
PROBE_PID=
cleanup() {
    local p
    for p in $PROBE_PID $SB_PID $MB_PID; do
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done
    kafka_down
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

TOPIC_PREFIX=hydraulic
if [ "$BROKER" = kafka ]; then
    command -v kcat >/dev/null || die "kcat not found (apt-get install kcat)"
    kafka_up
    TOPIC_PREFIX=$KAFKA_PREFIX
fi

# The shipped configuration, with the dataset and the condition model made
# absolute (the copy is elsewhere), a free port
# (9550 may be taken), notice logging and SPEED; against Kafka its brokers,
# and a topic prefix and group of this run. Then SB_EXTRA_CONF.
shipped_conf() {
    sed -e "s|^dataset = .*|dataset = $DATASET|" -e 's|^listen = .*|listen = 127.0.0.1:0|' \
        -e 's|^log_level = .*|log_level = notice|' -e "s|^speed = .*|speed = $SPEED|" \
        -e "s|^model = \([^/].*\)|model = $ROOT/conf/\1|" \
        "$ROOT/conf/sensorbridge.conf" > "$1"
    if [ "$BROKER" = kafka ]; then
        sed -i -e "s|^brokers = .*|brokers = $KAFKA_BROKERS|" -e "s|^topic_prefix = .*|topic_prefix = $KAFKA_PREFIX|" \
            -e "s|^group_id = .*|group_id = $KAFKA_PREFIX|" "$1"
    fi
    local kv sec key
    for kv in ${SB_SET:-}; do
        sec=${kv%%.*} key=${kv#*.} key=${key%%=*}
        awk -v sec="$sec" -v key="$key" -v val="${kv#*=}" '
            /^\[/ { cur = substr($0, 2, index($0, "]") - 2) }
            cur == sec && $0 ~ "^" key "[ \t]*=" { print key " = " val; done = 1; next }
            { print }
            END { exit !done }' "$1" > "$1.new" || die "SB_SET: no $key in [$sec] of the shipped file"
        mv "$1.new" "$1"
    done
    if [ -n "${SB_EXTRA_CONF:-}" ]; then printf '%s\n' "$SB_EXTRA_CONF" >> "$1"; fi
}
broker_line() {
    if [ "$BROKER" = kafka ]; then
        echo "real Apache Kafka $(cat "$KAFKA_DIR/version" 2>/dev/null || echo '?'), 1 node at $KAFKA_BROKERS (JVM: $(kafka_jvm)), topic prefix $KAFKA_PREFIX"
    else
        echo "embedded broker"
    fi
}
# Waits up to 60 s for the daemon's first consumed message.
wait_first_consumed() {
    local n
    for _ in $(seq 1 600); do
        n=$(scrape | metric sensorbridge_consumer_messages_total) || n=
        [ -n "$n" ] && [ "$n" != 0 ] && return 0
        kill -0 "$SB_PID" 2>/dev/null || die "daemon died during start-up"
        sleep 0.1
    done
    die "nothing consumed within 60 s"
}
# The newest event time (s) consumed of any sensor, of a scrape on stdin.
last_event() {
    awk 'index($1, "sensorbridge_sensor_last_event_timestamp_seconds{") == 1 && $2 > m { m = $2 } END { printf "%.3f\n", m }'
}

# ---------------------------------------------------------------- realtime, aging
if [ "$MODE" = realtime ] || [ "$MODE" = realtime-kafka ] || [ "$MODE" = aging ]; then
    shipped_conf "$WORK/sb.conf"
    machine
    echo "$MODE: conf/sensorbridge.conf (speed $SPEED, all cycles, loop${SB_SET:+; $SB_SET}), $(broker_line), ${SECONDS_RT} s" \
        "($(calc "$SECONDS_RT * $SPEED / 3600" %.1f) simulated hours)"
    start_daemon "$WORK/sb.conf"
    wait_first_consumed
    # Start-up excluded: topic creation and the group join (none with the
    # embedded broker, whose consumer assigns itself its partitions).
    sleep "${SB_WARMUP:-5}"
    c0=$(cpu_of "$SB_PID"); t0=$(now)
    m0=$(scrape) || die "scrape failed"
    p0=$(family_sum sensorbridge_messages_produced_total <<< "$m0")
    k0=$(metric sensorbridge_consumer_messages_total <<< "$m0")
    w0=$(metric 'sensorbridge_source_wakeups_total{source="replay"}' <<< "$m0")
    e0=$(last_event <<< "$m0")
    mp=$(mock_cpu "$SB_PID")
    jp=0; [ "$BROKER" = kafka ] && jp=$(jvm_cpu)
    j0=$jp
    step=${SB_STEP:-10}
    [ -z "${SB_STEP:-}" ] && [ "$SECONDS_RT" -gt 1200 ] && step=$((SECONDS_RT / 120))
    [ "$SECONDS_RT" -lt 20 ] && step=$SECONDS_RT
    SERIES=${SB_SERIES:-}
    if [ -z "$SERIES" ] && [ "$RESULTS" != none ]; then SERIES=$(dirname "$RESULTS")/series-$MODE-speed$SPEED.txt; fi
    : > "$WORK/series.txt"
    {
        echo "# $MODE speed=$SPEED $(broker_line); git=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "# elapsed_s cpu_pct rss_mb mock_cpu_pct$([ "$BROKER" = kafka ] && echo ' jvm_cpu_pct')  (each over the interval ending at elapsed_s; RSS then)"
    } > "$WORK/series.txt"
    echo "interval  cpu%    rss_MB  (embedded broker's rdk:mock thread cpu%)$([ "$BROKER" = kafka ] && echo ' [broker JVM cpu%]')"
    # Samples on an absolute schedule, t0 + k x step, so that the readings'
    # own cost does not stretch the run.
    elapsed=0; cp=$c0; tp=$t0; rss_max=0
    while [ "$elapsed" -lt "$SECONDS_RT" ]; do
        elapsed=$((elapsed + step)); [ "$elapsed" -gt "$SECONDS_RT" ] && elapsed=$SECONDS_RT
        sleep "$(calc "($t0 + $elapsed - $(now) > 0) ? $t0 + $elapsed - $(now) : 0" %.3f)"
        kill -0 "$SB_PID" 2>/dev/null || die "daemon died during the run"
        c=$(cpu_of "$SB_PID"); t=$(now)
        m=$(mock_cpu "$SB_PID")
        r=$(kb_of "$SB_PID" VmRSS); [ "$r" -gt "$rss_max" ] && rss_max=$r
        cpu=$(calc "100 * ($c - $cp) / ($t - $tp)" %.2f)
        rss=$(calc "$r / 1024" %.1f)
        mcpu=$(calc "100 * ($m - $mp) / ($t - $tp)" %.2f)
        if [ "$BROKER" = kafka ]; then
            j=$(jvm_cpu)
            jcpu=$(calc "100 * ($j - $jp) / ($t - $tp)" %.2f)
            printf '%5ds    %-7s %-7s (%s) [%s]\n' "$elapsed" "$cpu" "$rss" "$mcpu" "$jcpu"
            echo "$(calc "$t - $t0" %.1f) $cpu $rss $mcpu $jcpu" >> "$WORK/series.txt"
            jp=$j
        else
            printf '%5ds    %-7s %-7s (%s)\n' "$elapsed" "$cpu" "$rss" "$mcpu"
            echo "$(calc "$t - $t0" %.1f) $cpu $rss $mcpu" >> "$WORK/series.txt"
        fi
        cp=$c; tp=$t; mp=$m
    done
    c1=$(cpu_of "$SB_PID"); t1=$(now)
    j1=0; jrss=0
    if [ "$BROKER" = kafka ]; then j1=$(jvm_cpu); jrss=$(jvm_rss_kb); fi
    scrape > "$WORK/scrape.txt" || die "scrape failed"
    m1=$(cat "$WORK/scrape.txt")
    rss=$(kb_of "$SB_PID" VmRSS); hwm=$(kb_of "$SB_PID" VmHWM)
    threads_cpu "$SB_PID" > "$WORK/threads.txt"
    p1=$(family_sum sensorbridge_messages_produced_total <<< "$m1")
    d1=$(family_sum sensorbridge_messages_delivered_total <<< "$m1")
    k1=$(metric sensorbridge_consumer_messages_total <<< "$m1")
    w1=$(metric 'sensorbridge_source_wakeups_total{source="replay"}' <<< "$m1")
    lag_max=$(awk 'index($1, "sensorbridge_replay_schedule_lag_seconds{") == 1 && $2 > m { m = $2 } END { printf "%.1f\n", 1000 * m }' <<< "$m1")
    e1=$(last_event <<< "$m1")
    lsum=$(metric sensorbridge_end_to_end_latency_seconds_sum <<< "$m1")
    lcnt=$(metric sensorbridge_end_to_end_latency_seconds_count <<< "$m1")
    stop_daemon
    dt=$(calc "$t1 - $t0")
    # Simulated time: the event time consumed over the window (a replay
    # that cannot keep up with SPEED simulates less than dt x SPEED).
    sim_h=$(calc "($e1 - $e0) / 3600" %.2f)
    eff_speed=$(calc "($e1 - $e0) / $dt")
    cpu_pct=$(calc "100 * ($c1 - $c0) / $dt" %.2f)
    # Slope over the last third of the run, per simulated hour, and how
    # much that moves the level (the mean of the last third) across it.
    span3=$(calc "$dt / 3")
    slope() {
        local sl mean n
        read -r sl mean n < <(slope_last_third "$WORK/series.txt" "$1")
        if [ "$sl" = '?' ]; then echo "? ? ?"; return; fi
        echo "$(calc "($eff_speed > 0) ? $sl * 3600 / $eff_speed : 0" %.3f) $(calc "$mean" %.2f) $(calc "($mean > 0) ? 100 * $sl * $span3 / $mean : 0" %.1f)"
    }
    read -r cpu_sl cpu_mean cpu_gr < <(slope 2)
    read -r rss_sl rss_mean rss_gr < <(slope 3)
    read -r mock_sl mock_mean mock_gr < <(slope 4)
    {
        printf '%-38s %s\n' "window (s)" "$(calc "$dt" %.1f) ($sim_h simulated hours of event time consumed)"
        printf '%-38s %s\n' "produced msg/s" "$(calc "($p1 - $p0) / $dt" %.0f)"
        printf '%-38s %s\n' "consumed msg/s" "$(calc "($k1 - $k0) / $dt" %.0f)"
        printf '%-38s %s\n' "replay timer wake-ups/s" "$(calc "(${w1:-0} - ${w0:-0}) / $dt" %.1f) (schedule lag at the end, max over sensors: $lag_max ms)"
        printf '%-38s %s\n' "CPU % of one core" "$cpu_pct"
        printf '%-38s %s\n' "CPU s by thread (whole run)" "$(threads_line "$WORK/threads.txt")"
        printf '%-38s %s\n' "RSS at end (MB)" "$(calc "$rss / 1024" %.1f)"
        printf '%-38s %s\n' "peak RSS, VmHWM (MB)" "$(calc "$hwm / 1024" %.1f) (largest sample $(calc "$rss_max / 1024" %.1f))"
        if [ "$BROKER" = kafka ]; then
            printf '%-38s %s\n' "broker JVM CPU % of one core, RSS (MB)" "$(calc "100 * ($j1 - $j0) / $dt" %.2f), $(calc "$jrss / 1024" %.0f) (not sensorbridge's)"
        fi
        # Slopes per simulated hour mean something only over hours of it.
        if [ "$(calc "($sim_h >= 1)" %d)" = 1 ]; then
            printf '%-38s %s\n' "last third: CPU (pct-points/sim. h)" "$cpu_sl (level $cpu_mean %, growth over the third $cpu_gr %)"
            printf '%-38s %s\n' "last third: RSS (MB/sim. h)" "$rss_sl (level $rss_mean MB, growth over the third $rss_gr %)"
            if [ "$BROKER" = embedded ]; then
                printf '%-38s %s\n' "last third: mock thread (pct-pts/sim. h)" "$mock_sl (level $mock_mean %, growth over the third $mock_gr %)"
            fi
        fi
        printf '%-38s %s\n' "latency mean (ms); p50, p99 <= (ms)" "$(calc "1000 * $lsum / $lcnt" %.0f); $(lq 0.5 "$WORK/scrape.txt"), $(lq 0.99 "$WORK/scrape.txt") (whole run)"
        printf '%-38s %s\n' "produced-delivered-consumed" "$p1 $d1 $k1 (in flight differ)"
        printf '%-38s %s\n' "SIGTERM to exit (s), status" "$STOP_S, $EXIT_RC"
        if [ "$MODE" = realtime-kafka ]; then
            goal 4 a "sensorbridge CPU in real time, shipped configuration, real Kafka" "$cpu_pct" "% of one core" "<=" 1
            goal 4 b "sensorbridge peak RSS (VmHWM) in real time, shipped configuration, real Kafka" "$(calc "$hwm / 1024" %.1f)" MB "<=" 25
        elif [ "$BROKER" = embedded ]; then
            if [ "$(calc "($sim_h >= 24 * 0.99)" %d)" = 1 ]; then
                goal 4 c "CPU growth over the last third of a simulated day (speed $SPEED), embedded broker" "$cpu_gr" "% of its level" "<=" 10
                goal 4 d "RSS growth over the last third of a simulated day (speed $SPEED), embedded broker" "$rss_gr" "% of its level" "<=" 10
            else
                echo "(no GOAL 4c/4d: $sim_h simulated hours, less than a day; see bench.sh aging)"
            fi
        fi
    } > "$WORK/table.txt"
    echo; cat "$WORK/table.txt"
    if [ -n "$SERIES" ]; then
        mkdir -p "$(dirname "$SERIES")"
        cp "$WORK/series.txt" "$SERIES"
        echo "(series written to $SERIES)"
    fi
    record "seconds=$SECONDS_RT speed=$SPEED broker=$BROKER"
    [ "$EXIT_RC" -eq 0 ] || die "daemon exited with status $EXIT_RC"
    exit 0
fi

# ---------------------------------------------------------------- latency
if [ "$MODE" = latency ] || [ "$MODE" = latency-kafka ]; then
    [ -x "$LATPROBE_BIN" ] || die "$LATPROBE_BIN not found; build the tests (meson -Dtests=true)"
    # The shipped configuration but for strict_sensors: the probe's sensor
    # is not in the UCI catalogue, and under a real sensor's name it would
    # mix with that sensor's data.
    shipped_conf "$WORK/sb.conf"
    sed -i 's|^strict_sensors = .*|strict_sensors = false|' "$WORK/sb.conf"
    grep -q '^strict_sensors = false' "$WORK/sb.conf" || die "no strict_sensors line in conf/sensorbridge.conf"
    LAT_S=${SB_LAT_SECONDS:-60}
    PROBES=${SB_PROBES:-300}
    PROBE_S=${SB_PROBE_SECONDS:-60}
    machine
    echo "$MODE: conf/sensorbridge.conf (speed 1; strict_sensors = false for the probe${SB_SET:+; $SB_SET}), $(broker_line)"
    start_daemon "$WORK/sb.conf"
    wait_first_consumed
    # (a) The daemon's own histogram, start-up excluded: the buckets that
    # filled between two scrapes after a warm-up.
    sleep "${SB_WARMUP:-10}"
    scrape > "$WORK/scrape-a.txt" || die "scrape failed"
    sleep "$LAT_S"
    scrape > "$WORK/scrape-b.txt" || die "scrape failed"
    hist_delta "$WORK/scrape-a.txt" "$WORK/scrape-b.txt" > "$WORK/hist.txt"
    h_n=$(tail -n 1 "$WORK/hist.txt" | cut -d' ' -f2)
    [ -n "$h_n" ] && [ "$h_n" -gt 0 ] || die "no latency observations between the two scrapes"
    ms() { local v; v=$(hist_quantile "$1" < "$WORK/hist.txt"); [ "$v" = '?' ] && echo '?' || calc "1000 * $v" %.1f; }
    h_p50=$(ms 0.5); h_p99=$(ms 0.99)
    h_mean=$(calc "1000 * ($(metric sensorbridge_end_to_end_latency_seconds_sum < "$WORK/scrape-b.txt") - $(metric sensorbridge_end_to_end_latency_seconds_sum < "$WORK/scrape-a.txt")) / $h_n" %.1f)
    # (b) From outside: latprobe produces a sample and polls /metrics.
    if [ "$BROKER" = kafka ]; then
        pb=$KAFKA_BROKERS
    else
        pb=$(curl -sf "$SB_URL/api/v1/status" | sed -n 's/.*"brokers": *"\([^"]*\)".*/\1/p')
        [ -n "$pb" ] || die "no bootstrap list in /api/v1/status"
    fi
    probe_rc=0
    # The shared layout's consumer reads the samples topic only.
    probe_topic=$TOPIC_PREFIX-CE
    if grep -q '^layout = shared' "$WORK/sb.conf"; then
        probe_topic=$(sed -n 's/^samples_topic = \(..*\)/\1/p' "$WORK/sb.conf")
        probe_topic=${probe_topic:-$TOPIC_PREFIX-samples}
    fi
    "$LATPROBE_BIN" -b "$pb" -t "$probe_topic" -p "$SB_PORT" -n "$PROBES" -d "$PROBE_S" \
        > "$WORK/probes.txt" 2> "$WORK/latprobe.err" &
    PROBE_PID=$!
    wait "$PROBE_PID" || probe_rc=$?
    PROBE_PID=
    scrape > "$WORK/scrape-c.txt" || die "scrape failed"
    seen=$(metric 'sensorbridge_sensor_samples_consumed_total{sensor="probe"}' < "$WORK/scrape-c.txt")
    stop_daemon
    got=$(grep -vc '^#' "$WORK/probes.txt" || true)
    if [ "$probe_rc" -ne 0 ] || [ "$got" -ne "$PROBES" ] || [ "${seen:-0}" != $((PROBES + 1)) ]; then
        {
            echo "LOSS: latprobe status $probe_rc, $got of $PROBES probes measured, the daemon applied ${seen:-0} probe samples of $((PROBES + 1))"
            cat "$WORK/latprobe.err"
        } >&2
        exit 1
    fi
    col() { grep -v '^#' "$WORK/probes.txt" | awk -v c="$1" '{ print $c / 1000 }'; }
    o_p50=$(calc "$(col 2 | pctl 0.5)" %.1f); o_p99=$(calc "$(col 2 | pctl 0.99)" %.1f); o_max=$(calc "$(col 2 | pctl 1)" %.1f)
    o_unc=$(calc "$(col 3 | pctl 0.5)" %.1f); o_unc_max=$(calc "$(col 3 | pctl 1)" %.1f)
    o_req=$(grep -v '^#' "$WORK/probes.txt" | awk '{ s += $4 } END { printf "%.1f", s / NR }')
    target=100; letters="a b"
    [ "$BROKER" = kafka ] && { target=20; letters="c d"; }
    read -r la lb <<< "$letters"
    {
        echo "(a) sensorbridge_end_to_end_latency_seconds, ${LAT_S} s after a warm-up of ${SB_WARMUP:-10} s: $h_n samples"
        printf '  %-40s %s\n' "p50, p99 (ms)" "$h_p50, $h_p99 (linear interpolation within the bucket, as histogram_quantile)"
        printf '  %-40s %s\n' "mean (ms)" "$h_mean"
        printf '  %-40s %s\n' "buckets (le: count in the window)" "$(awk '{ printf "%s%s:%d", (NR > 1 ? " " : ""), $1, $2 }' "$WORK/hist.txt")"
        echo "(b) latprobe: $PROBES probes over $PROBE_S s to $probe_topic, produced (linger.ms 0) -> on /metrics"
        printf '  %-40s %s\n' "p50, p99, max (ms)" "$o_p50, $o_p99, $o_max (exact, nearest rank)"
        printf '  %-40s %s\n' "poll uncertainty median, max (ms)" "$o_unc, $o_unc_max (requests per probe: $o_req)"
        printf '  %-40s %s\n' "probe samples applied" "$seen of $((PROBES + 1)) (one warm-up probe)"
        printf '  %-40s %s\n' "SIGTERM to exit (s), status" "$STOP_S, $EXIT_RC"
        goal 5 "$la" "p99 produced -> applied, daemon histogram, real time, $BROKER_NAME" "$h_p99" ms "<=" "$target"
        goal 5 "$lb" "p99 produced -> visible on /metrics, latprobe, real time, $BROKER_NAME" "$o_p99" ms "<=" "$target"
    } > "$WORK/table.txt"
    echo; cat "$WORK/table.txt"
    record "broker=$BROKER probes=$PROBES"
    [ "$EXIT_RC" -eq 0 ] || die "daemon exited with status $EXIT_RC"
    exit 0
fi

# ---------------------------------------------------------------- end to end
POLL=0.05
if [ "$MODE" = full ]; then
    CYCLES=$(dataset_cycles "$DATASET") || die "cannot count the cycles of $DATASET"
    POLL=0.5
fi
TOTAL=$((CYCLES * PER_CYCLE))
machine
if [ "$BROKER" = kafka ]; then
    echo "$MODE: $CYCLES cycles = $TOTAL messages, speed = max, $(broker_line), $PARTITIONS partitions/topic"
else
    echo "$MODE: $CYCLES cycles = $TOTAL messages, speed = max, embedded broker ($BROKERS brokers, $PARTITIONS partitions/topic)"
fi

{
    echo "[general]"
    echo "log_level = notice"
    echo "[kafka]"
    if [ "$BROKER" = kafka ]; then
        echo "brokers = $KAFKA_BROKERS"
        echo "topic_prefix = $KAFKA_PREFIX"
    else
        echo "brokers = embedded"
        echo "embedded_brokers = $BROKERS"
    fi
    echo "partitions = $PARTITIONS"
    echo "layout = $LAYOUT"
    echo "[consumer]"
    echo "group_id = ${KAFKA_PREFIX:-sb-bench}"
    echo "[replay]"
    echo "dataset = $DATASET"
    echo "speed = max"
    echo "cycles = 0-$((CYCLES - 1))"
    echo "loop = false"
    echo "event_epoch = 2025-01-01T00:00:00Z"
    echo "[http]"
    echo "listen = 127.0.0.1:0"
} > "$WORK/sb.conf"
if [ -n "${SB_EXTRA_CONF:-}" ]; then printf '%s\n' "$SB_EXTRA_CONF" >> "$WORK/sb.conf"; fi

jvm0=0; [ "$BROKER" = kafka ] && jvm0=$(jvm_cpu)
start_daemon "$WORK/sb.conf"
PERF_PID=
if [ -n "${SB_PERF:-}" ]; then
    perf record -F 999 ${SB_PERF_CALLGRAPH:--g} -p "$SB_PID" -o "$WORK/perf.data" > "$WORK/perf.log" 2>&1 &
    PERF_PID=$!
fi
# CPU at "http listening", logged in the same loop turn as "replay started".
cpu_start=$(cpu_of "$SB_PID")
for _ in $(seq 1 600); do
    t_start=$(awk '/msg="replay started"/ { print $1; exit }' "$WORK/sb.log")
    [ -n "$t_start" ] && break
    sleep 0.05
done
[ -n "$t_start" ] || die "no \"replay started\" line"

# Poll every POLL s until the consumer count reaches TOTAL. A loss shows as
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
    sleep "$POLL"
done
cpu_end=$(cpu_of "$SB_PID")
jvm1=0; [ "$BROKER" = kafka ] && jvm1=$(jvm_cpu)
[ -n "$PERF_PID" ] && { kill -INT "$PERF_PID"; wait "$PERF_PID" || true; PERF_PID=; }
threads_cpu "$SB_PID" > "$WORK/threads.txt"
t_finished=$(awk '/msg="replay finished"/ { print $1; exit }' "$WORK/sb.log")
scrape > "$WORK/scrape.txt" || die "final scrape failed"
# Retention check on the fullest topic (PS1: 6000 samples a cycle, one key so
# one partition): the first offset still held. Above 0, the mock dropped the
# oldest message sets (after they were consumed, if the counts match). A
# real Kafka here keeps everything (log.retention.ms = -1).
# In the shared layout the samples topic's partition 0 (with one partition,
# every message).
ret_topic=$TOPIC_PREFIX-PS1 ret_of=$((CYCLES * 6000))
if [ "$LAYOUT" = shared ]; then
    ret_topic=$TOPIC_PREFIX-samples ret_of='?'
    [ "$PARTITIONS" = 1 ] && ret_of=$TOTAL
fi
ps1_low='?'
if command -v kcat >/dev/null; then
    bs=$(curl -sf "$SB_URL/api/v1/status" | sed -n 's/.*"brokers": *"\([^"]*\)".*/\1/p')
    [ -n "$bs" ] && ps1_low=$(timeout 20 kcat -C -b "$bs" -t "$ret_topic" -o beginning -c 1 -e -q -f '%o\n' 2>/dev/null) || true
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
# The producer stamps a sensor's first sample per loop millisecond; the
# histogram's _count plus the unmeasured ones is every applied sample.
unmeasured=$(family_sum sensorbridge_end_to_end_latency_unmeasured_samples_total < "$S")
lseen=$(( ${lcnt:-0} + ${unmeasured:-0} ))
loss=
mismatch=0
for v in "$produced" "$delivered" "$consumed" "$applied" "$lseen"; do
    [ "$v" = "$TOTAL" ] || loss=1
    d=$(( ${v:-0} > TOTAL ? ${v:-0} - TOTAL : TOTAL - ${v:-0} )); [ "$d" -gt "$mismatch" ] && mismatch=$d
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
        echo "  consumed=$consumed applied=$applied invalid=$invalid latency_count=$lcnt+$unmeasured unmeasured"
        echo "  $ret_topic first retained offset: $ps1_low (above 0: the mock's 5 MiB"
        echo "  retention dropped message sets; a consumer behind them lost data)"
        echo "  daemon exit status $EXIT_RC; warning and error lines in the log:"
        grep '^[0-9.]* <[0-4]>' "$WORK/sb.log" | head -n 5 || true
        echo "************************************************************************"
    } >&2
    [ "$MODE" = full ] && goal 3 a "whole UCI dataset ($TOTAL msgs) at speed max, replay start -> all consumed" "?" s "<=" 180
    [ "$MODE" = full ] && goal 3 b "largest count mismatch of any stage, whole dataset" "$((mismatch > 0 ? mismatch : 1))" msgs "=" 0
    exit 1
fi

# ---------------------------------------------------------------- kcat reference
# Messages shaped like the daemon's: same fields, sensors and rates, values
# with the dataset's kind of digits (~150-170 bytes), CYCLES cycles.
gen_msgs() {
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
    }' > "$1"
}
kcat_ok=skipped
[ "$MODE" = full ] && SB_NO_KCAT=1
if [ -z "${SB_NO_KCAT:-}" ]; then
    command -v kcat >/dev/null || die "kcat not found (apt-get install kcat), or set SB_NO_KCAT=1"
    gen_msgs "$WORK/msgs.txt"
    nmsg=$(wc -l < "$WORK/msgs.txt")
    msgbytes=$(calc "$(wc -c < "$WORK/msgs.txt") / $nmsg - 1" %.0f)
    if [ "$BROKER" = kafka ]; then
        KT=sbk${KAFKA_PREFIX#sbb} # outside the prefix the daemon subscribes to
        kafka_create_topic "$KT" "$KCAT_PARTITIONS"
        B=$KAFKA_BROKERS
        mc0=$(jvm_cpu)
    else
        [ -x "$MOCK_BIN" ] || die "$MOCK_BIN not found; build the tests (meson -Dtests=true)"
        KT=bench
        "$MOCK_BIN" -b "$BROKERS" -p "$KCAT_PARTITIONS" -f "$WORK/bootstrap" "$KT" > "$WORK/mock.log" 2>&1 &
        MB_PID=$!
        for _ in $(seq 1 100); do [ -s "$WORK/bootstrap" ] && break; sleep 0.05; done
        [ -s "$WORK/bootstrap" ] || die "mockbroker wrote no bootstrap file"
        B=$(cat "$WORK/bootstrap")
        mc0=$(cpu_of "$MB_PID")
    fi
    TIMEFORMAT='%R %U %S'
    { time kcat -P -b "$B" -t "$KT" -X linger.ms=5 -X batch.num.messages=10000 \
        -X compression.codec=lz4 -l "$WORK/msgs.txt" 2> "$WORK/kcat-p.err"; } 2> "$WORK/time-p" \
        || die "kcat produce failed: $(tail -n 3 "$WORK/kcat-p.err")"
    if [ "$BROKER" = kafka ]; then
        mc1=$(jvm_cpu)
        # No -e: on a real partition that is being written kcat never sees
        # the end (FIELD-NOTES); -c stops it, timeout catches a loss.
        { time timeout 600 kcat -C -b "$B" -t "$KT" -o beginning -q -c "$nmsg" \
            -X queued.min.messages=1000000 > "$WORK/consumed.txt" 2> "$WORK/kcat-c.err"; } 2> "$WORK/time-c" \
            || die "kcat consume failed or timed out: $(tail -n 3 "$WORK/kcat-c.err")"
        mc2=$(jvm_cpu)
    else
        { time kcat -C -b "$B" -t "$KT" -o beginning -e -q -c "$nmsg" \
            -X queued.min.messages=1000000 > "$WORK/consumed.txt" 2> "$WORK/kcat-c.err"; } 2> "$WORK/time-c" \
            || die "kcat consume failed: $(tail -n 3 "$WORK/kcat-c.err")"
        mc2=$(cpu_of "$MB_PID")
        kill -TERM "$MB_PID"; wait "$MB_PID" || true; MB_PID=
    fi
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
# First poll that saw a consumed message: against a real Kafka, after the
# consumer group join (~1.2 s), during which the producer runs alone; the
# embedded broker's consumer joins nothing (it assigns itself).
t_first=$(awk '$4 > 0 { print $1; exit }' "$WORK/timeline.txt")
after_join_s=$(calc "$e2e_s - $t_first")
where="embedded $BROKERS brokers x $PARTITIONS partitions, layout $LAYOUT"
[ "$BROKER" = kafka ] && where="real Kafka, 1 node, $PARTITIONS partitions, layout $LAYOUT"
sb_us=$(calc "1e6 * $cpu_total / $TOTAL" %.2f)
{
    echo "sensorbridge end to end ($TOTAL msgs, $CYCLES cycles, speed max, $where)"
    printf '  %-40s %s\n' "replay started -> last consumed (s)" "$(calc "$e2e_s" %.2f) (poll $(calc "1000 * $POLL" %.0f) ms)"
    printf '  %-40s %s\n' "replay started -> replay finished (s)" "$(calc "$t_finished - $t_start" %.2f)"
    printf '  %-40s %s\n' "end-to-end throughput (msg/s)" "$(calc "$TOTAL / $e2e_s" %.0f)"
    printf '  %-40s %s\n' "first message consumed at (s)" "$(calc "$t_first" %.2f) (after the join or assignment)"
    printf '  %-40s %s\n' "throughput after the join (msg/s)" "$(calc "$TOTAL / $after_join_s" %.0f)"
    printf '  %-40s %s\n' "process CPU total (s)" "$(calc "$cpu_total" %.2f) (incl. start-up $(calc "$cpu_start" %.2f))"
    printf '  %-40s %s\n' "CPU during the run (s), % of one core" "$(calc "$cpu_end - $cpu_start" %.2f), $(calc "100 * ($cpu_end - $cpu_start) / $e2e_s" %.0f)"
    printf '  %-40s %s\n' "CPU per message (us)" "$sb_us (run only $(calc "1e6 * ($cpu_end - $cpu_start) / $TOTAL" %.2f))"
    if [ "$BROKER" = kafka ]; then
        printf '  %-40s %s\n' "broker JVM CPU (s), per message (us)" "$(calc "$jvm1 - $jvm0" %.2f), $(calc "1e6 * ($jvm1 - $jvm0) / $TOTAL" %.2f) (not in the daemon's figures)"
    fi
    printf '  %-40s %s\n' "peak RSS, VmHWM (MB)" "$(calc "$hwm / 1024" %.1f) (RSS at end $(calc "$rss / 1048576" %.1f))"
    printf '  %-40s %s\n' "latency mean (ms); p50, p99 <= (ms)" "$(calc "1000 * $lsum / $lcnt" %.0f); $(lq 0.5 "$S"), $(lq 0.99 "$S") ($lcnt stamped samples)"
    printf '  %-40s %s\n' "CPU s by thread" "$(threads_line "$WORK/threads.txt")"
    printf '  %-40s %s\n' "produced delivered consumed applied" "$produced $delivered $consumed $applied"
    printf '  %-40s %s\n' "$ret_topic first retained offset" "$ps1_low of $ret_of"
    printf '  %-40s %s\n' "delivery failed, invalid, warn+err lines" "$failed, $invalid, $errs"
    printf '  %-40s %s\n' "SIGTERM to exit (s), status" "$STOP_S, $EXIT_RC"
    if [ "$kcat_ok" != skipped ]; then
        kp_rate=$(calc "$nmsg / $kp_real" %.0f)
        kc_rate=$(calc "$nmsg / $kc_real" %.0f)
        k_e2e=$(calc "$nmsg / ($kp_real + $kc_real)" %.0f)
        k_us=$(calc "1e6 * ($kp_user + $kp_sys + $kc_user + $kc_sys) / $nmsg" %.2f)
        b_us=$(calc "1e6 * ($mc2 - $mc0) / $nmsg" %.2f)
        ratio=$(calc "($TOTAL / $e2e_s) / $k_e2e" %.3f)
        ratio_join=$(calc "($TOTAL / $after_join_s) / $k_e2e" %.3f)
        if [ "$BROKER" = kafka ]; then
            echo "kcat reference ($nmsg msgs of ~$msgbytes B, the same Kafka, topic of $KCAT_PARTITIONS partitions, lz4)"
        else
            echo "kcat reference ($nmsg msgs of ~$msgbytes B, standalone mockbroker $BROKERS brokers x $KCAT_PARTITIONS partitions, lz4)"
        fi
        printf '  %-40s %s\n' "produce (s), msg/s" "$(calc "$kp_real" %.2f), $kp_rate"
        printf '  %-40s %s\n' "consume (s), msg/s" "$(calc "$kc_real" %.2f), $kc_rate (simple consumer, all partitions)"
        printf '  %-40s %s\n' "sequential produce + consume msg/s" "$k_e2e"
        if [ "$BROKER" = kafka ]; then
            printf '  %-40s %s\n' "CPU s: kcat -P, kcat -C; broker JVM" "$(calc "$kp_user + $kp_sys" %.2f), $(calc "$kc_user + $kc_sys" %.2f); $(calc "$mc1 - $mc0" %.2f) + $(calc "$mc2 - $mc1" %.2f)"
            printf '  %-40s %s\n' "kcat CPU per message (us)" "$k_us (broker JVM $b_us, not included)"
            printf '  %-40s %s\n' "CPU per message sensorbridge / kcat" "$(calc "$sb_us / $k_us" %.2f) (broker JVM for sensorbridge / for kcat: $(calc "(1e6 * ($jvm1 - $jvm0) / $TOTAL) / $b_us" %.2f))"
        else
            printf '  %-40s %s\n' "CPU s: kcat -P, kcat -C, mockbroker" "$(calc "$kp_user + $kp_sys" %.2f), $(calc "$kc_user + $kc_sys" %.2f), $(calc "$mc2 - $mc0" %.2f)"
            printf '  %-40s %s\n' "kcat+mock CPU per message (us)" "$(calc "$k_us + $b_us" %.2f)"
        fi
        printf '  %-40s %s\n' "counts" "$kcat_ok ($kgot of $nmsg)"
        printf '  %-40s %s\n' "RATIO sensorbridge / kcat end to end" "$ratio (after the join: $ratio_join)"
        if [ "$BROKER" = kafka ]; then
            goal 2 a "end-to-end throughput sensorbridge / kcat, real Kafka" "$ratio" x ">=" 0.6
        else
            goal 1 a "end-to-end throughput sensorbridge / kcat, embedded broker" "$ratio" x ">=" 0.6
            goal 1 b "throughput after the join sensorbridge / kcat, embedded broker" "$ratio_join" x ">=" 0.9
            goal 1 c "CPU per message sensorbridge (all threads, incl. broker) / kcat + broker" "$(calc "$sb_us / ($k_us + $b_us)" %.2f)" x "<=" 1.2
        fi
    fi
    if [ "$MODE" = full ]; then
        goal 3 a "whole UCI dataset ($TOTAL msgs) at speed max, replay start -> all consumed" "$(calc "$e2e_s" %.1f)" s "<=" 180
        goal 3 b "largest count mismatch of any stage, whole dataset" "$mismatch" msgs "=" 0
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
record "cycles=$CYCLES partitions=$PARTITIONS layout=$LAYOUT broker=$BROKER"

case $kcat_ok in ok | skipped) ;; *) echo "kcat reference: $kcat_ok" >&2; exit 1 ;; esac
[ "$EXIT_RC" -eq 0 ] || die "daemon exited with status $EXIT_RC after SIGTERM"
exit 0
}
