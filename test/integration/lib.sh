# lib.sh - helpers for integration tests that drive the real sensorbridge
# binary. Sourced by each test; SB_BIN is the binary, SB_SOURCE_ROOT the
# repository. Every wait is bounded.
set -euo pipefail

SB_WORK=$(mktemp -d "${TMPDIR:-/tmp}/sb-it.XXXXXX")
SB_PID=
SB_LOG=$SB_WORK/sensorbridge.log

# Other processes a test starts (more daemons, the mock broker, prometheus)
# and their logs: killed at exit, shown on failure. See track_pid.
SB_EXTRA_PIDS=()
SB_EXTRA_LOGS=()

# Real Kafka clusters start_kafka started (their directories): stopped at
# exit by test/tools/kafka.sh stop.
SB_KAFKA_DIRS=()

# SB_BROKER: the broker the test runs against: "embedded" (the default:
# each daemon starts its own mock cluster) or "kafka" (one real single-node
# Apache Kafka for the test, started on first use by use_test_broker; the
# meson suite "kafka" runs the Kafka-behaviour tests this way).
SB_BROKER=${SB_BROKER:-embedded}
case $SB_BROKER in embedded|kafka) ;; *) echo "SB_BROKER must be embedded or kafka" >&2; exit 2 ;; esac

# SB_DAEMON_WRAPPER: words put before the daemon's command line, e.g. a
# valgrind invocation (the test "valgrind_daemon" sets it).
read -r -a SB_WRAP <<< "${SB_DAEMON_WRAPPER:-}"

fail() {
    echo "FAIL: $*" >&2
    if [ -s "$SB_WORK/state.txt" ]; then
        echo "---- the last state waited on ----" >&2
        cat "$SB_WORK/state.txt" >&2
    fi
    if [ -f "$SB_LOG" ]; then
        echo "---- last lines of the daemon log ----" >&2
        tail -n 40 "$SB_LOG" >&2
    fi
    local l
    for l in "${SB_EXTRA_LOGS[@]}"; do
        [ -f "$l" ] || continue
        echo "---- last lines of $(basename "$l") ----" >&2
        tail -n 40 "$l" >&2
    done
    exit 1
}

cleanup() {
    if [ -n "$SB_PID" ] && kill -0 "$SB_PID" 2>/dev/null; then
        kill -KILL "$SB_PID" 2>/dev/null || true
    fi
    local p i
    for p in "${SB_EXTRA_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${SB_EXTRA_PIDS[@]}"; do
        for i in $(seq 1 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    local d
    for d in "${SB_KAFKA_DIRS[@]}"; do
        "$SB_SOURCE_ROOT/test/tools/kafka.sh" stop "$d" || true
    done
    rm -rf "$SB_WORK"
}
trap cleanup EXIT

# make_dataset [ROWS]: a dataset directory for tests: the real 1 Hz files
# and profile.txt, the stand-ins, and the real two-cycle excerpts of PS2
# (100 Hz) and FS1 (10 Hz) as if they were the full files. Every sensor
# file then has two rows. With ROWS (more than 2), every file has ROWS
# rows, and PS2 and FS1 are their stand-ins instead of the excerpts.
make_dataset() {
    local d=$SB_WORK/dataset rows=${1:-2} s
    local interpolated="PS1 PS3 PS4 PS5 PS6 EPS1 FS2"
    [ "$rows" = 2 ] || interpolated="$interpolated PS2 FS1"
    mkdir -p "$d/standin"
    for s in TS1 TS2 TS3 TS4 VS1 CE CP SE; do
        head -n "$rows" "$SB_SOURCE_ROOT/datasets/uci-hydraulic/$s.txt" > "$d/$s.txt"
    done
    head -n "$rows" "$SB_SOURCE_ROOT/datasets/uci-hydraulic/profile.txt" > "$d/profile.txt"
    for s in $interpolated; do
        head -n "$rows" "$SB_SOURCE_ROOT/datasets/uci-hydraulic/standin/${s}_1hz.txt" > "$d/standin/${s}_1hz.txt"
    done
    if [ "$rows" = 2 ]; then
        cp "$SB_SOURCE_ROOT/test/fixtures/PS2_cycles_0001-0002.txt" "$d/PS2.txt"
        cp "$SB_SOURCE_ROOT/test/fixtures/FS1_cycles_0001-0002.txt" "$d/FS1.txt"
    fi
    echo "$d"
}

# use_test_broker: sets TEST_BROKERS, the [kafka] brokers value of the
# test's broker: "embedded", or the bootstrap list of the test's real Kafka
# (started here the first time).
use_test_broker() {
    if [ "$SB_BROKER" = embedded ]; then
        TEST_BROKERS=embedded
        return 0
    fi
    [ -n "${KAFKA_BROKERS:-}" ] || start_kafka 1
    TEST_BROKERS=$KAFKA_BROKERS
}

# fresh_broker: for a test that runs the pipeline more than once and
# compares runs, a broker without the earlier runs' topics, data and
# committed offsets. Each embedded broker is new with its daemon; a real
# Kafka is stopped and started anew.
fresh_broker() {
    if [ "$SB_BROKER" = kafka ] && [ -n "${KAFKA_BROKERS:-}" ]; then
        stop_kafka
        KAFKA_BROKERS=
    fi
    use_test_broker
}

# write_config FILE DATASET [SPEED]: a daemon that replays DATASET through
# the test's broker into its consumer.
write_config() {
    local f=$1 dataset=$2 speed=${3:-max}
    use_test_broker
    cat > "$f" <<CONF
[general]
log_level = info
[kafka]
brokers = $TEST_BROKERS
partitions = 4
[producer]
flush_timeout_ms = 10000
[consumer]
group_id = sb-it
[replay]
dataset = $dataset
speed = $speed
cycles = all
loop = false
event_epoch = 2025-11-08T14:30:00Z
[http]
listen = 127.0.0.1:0
CONF
}

# start_daemon CONFIG: starts the binary, waits for its HTTP port.
start_daemon() {
    # Created here, not by the background job's redirection, so the first
    # sed below cannot race it (pipefail + set -e would end the test).
    : > "$SB_LOG"
    "${SB_WRAP[@]}" "$SB_BIN" --config "$1" > "$SB_LOG" 2>&1 &
    SB_PID=$!
    # Up to 60 s: a loaded machine (valgrind, ASan) is slow, and librdkafka
    # 2.0.2's mock cluster can still miss a wake-up and take a second for a
    # topic it creates (see src/broker.c).
    local i
    for i in $(seq 1 600); do
        SB_PORT=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' "$SB_LOG" | head -n 1)
        [ -n "$SB_PORT" ] && break
        kill -0 "$SB_PID" 2>/dev/null || fail "daemon exited during start-up"
        sleep 0.1
    done
    [ -n "$SB_PORT" ] || fail "daemon did not report its HTTP port"
    SB_URL=http://127.0.0.1:$SB_PORT
    # On a real Kafka the daemon creates its topics once it runs; tests
    # that write to them with kcat need them there first.
    wait_for 60 "the daemon's topics on the cluster" topics_exist "$SB_URL"
    SB_BROKERS=$(curl -sf "$SB_URL/api/v1/status" | sed -n 's/.*"brokers": "\([^"]*\)".*/\1/p')
}

# topics_exist URL: the cluster watch of the daemon at URL found every
# topic it needs.
topics_exist() {
    curl -sf "$1/api/v1/status" | jq -e '.topics.checked and (.topics.missing | length) == 0' > /dev/null
}

scrape() {
    curl -sf "$SB_URL/metrics"
}

# metric NAME{labels} from a scrape on stdin (exact series match), or empty.
metric() {
    awk -v k="$1" '$1 == k { print $2 }'
}

# wait_metric SERIES VALUE TIMEOUT_S: until the series equals VALUE.
wait_metric() {
    local series=$1 want=$2 timeout=$3 got= i
    for i in $(seq 1 $((timeout * 5))); do
        got=$(scrape | metric "$series")
        [ "$got" = "$want" ] && return 0
        sleep 0.2
    done
    fail "$series is '$got', expected '$want' after ${timeout}s"
}

# stop_daemon: SIGTERM, then exit status 0 within 30 s.
stop_daemon() {
    kill -TERM "$SB_PID"
    local i
    for i in $(seq 1 300); do
        kill -0 "$SB_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$SB_PID" 2>/dev/null && fail "daemon still running 30 s after SIGTERM"
    local rc=0
    wait "$SB_PID" || rc=$?
    SB_PID=
    [ "$rc" -eq 0 ] || fail "daemon exited with status $rc after SIGTERM"
}

# val SERIES: its value in a scrape of the main daemon now, or empty.
val() { scrape | metric "$1"; }
# is SERIES VALUE, gt SERIES N, ge SERIES N: tests on val for wait_for.
is() { [ "$(val "$1")" = "$2" ]; }
gt() { local v; v=$(val "$1"); [ -n "$v" ] && awk -v a="$v" -v b="$2" 'BEGIN { exit !(a > b) }'; }
ge() { local v; v=$(val "$1"); [ -n "$v" ] && awk -v a="$v" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

numeq() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'
}

# ---- helpers for the tests beyond replay_e2e ----

# The 17 UCI sensors and their rates.
SB_SENSORS="PS1 PS2 PS3 PS4 PS5 PS6 EPS1 FS1 FS2 TS1 TS2 TS3 TS4 VS1 CE CP SE"

sensor_rate() {
    case $1 in PS*|EPS1) echo 100 ;; FS*) echo 10 ;; *) echo 1 ;; esac
}

# Samples of all 17 sensors in N cycles (43,680 per two cycles).
samples_in_cycles() {
    local n=$1 s total=0
    for s in $SB_SENSORS; do
        total=$((total + n * 60 * $(sensor_rate "$s")))
    done
    echo "$total"
}

# track_pid PID [LOG]: cleanup stops PID at exit; fail shows LOG.
track_pid() {
    SB_EXTRA_PIDS+=("$1")
    [ $# -lt 2 ] || SB_EXTRA_LOGS+=("$2")
}

untrack_pid() {
    local keep=() p
    for p in "${SB_EXTRA_PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    SB_EXTRA_PIDS=("${keep[@]}")
}

# wait_for TIMEOUT_S WHAT CMD...: runs CMD every 0.2 s until it succeeds.
wait_for() {
    local timeout=$1 what=$2 i
    shift 2
    for i in $(seq 1 $((timeout * 5))); do
        "$@" && return 0
        sleep 0.2
    done
    fail "timed out after ${timeout}s waiting for $what"
}

# wait_log FILE REGEX TIMEOUT_S: until a line of FILE matches (grep -E).
wait_log() {
    wait_for "$3" "/$2/ in $(basename "$1")" grep -qE -- "$2" "$1"
}

# set_key FILE SECTION KEY VALUE: replaces KEY in [SECTION] (the first such
# line) or appends it in a new [SECTION] block.
set_key() {
    local f=$1
    awk -v sec="$2" -v key="$3" -v val="$4" '
        /^\[/ { cur = substr($0, 2, index($0, "]") - 2) }
        !done && cur == sec && $0 ~ "^" key "[ \t]*[=:]" { print key " = " val; done = 1; next }
        { print }
        END { if (!done) { print "[" sec "]"; print key " = " val } }' "$f" > "$f.new"
    mv "$f.new" "$f"
}

scrape_url() {
    curl -sf --max-time 10 "$1/metrics"
}

# metric_sum NAME: sum over every series of the family NAME (no suffixes)
# in a scrape on stdin; 0 if there is none.
metric_sum() {
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.17g\n", s + 0 }'
}

# start_instance CONFIG LOG: starts one more daemon (start_daemon keeps
# working for the main one) and sets INST_PID, INST_PORT, INST_URL. It is
# stopped at exit; its log is shown on failure.
start_instance() {
    : > "$2"
    "${SB_WRAP[@]}" "$SB_BIN" --config "$1" > "$2" 2>&1 &
    INST_PID=$!
    track_pid "$INST_PID" "$2"
    INST_PORT=
    local i
    for i in $(seq 1 600); do
        INST_PORT=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' "$2" | head -n 1)
        [ -n "$INST_PORT" ] && break
        kill -0 "$INST_PID" 2>/dev/null || fail "$(basename "$2"): daemon exited during start-up"
        sleep 0.1
    done
    [ -n "$INST_PORT" ] || fail "$(basename "$2"): daemon did not report its HTTP port"
    INST_URL=http://127.0.0.1:$INST_PORT
}

# stop_pid PID WHAT [TIMEOUT_S]: SIGTERM, then exit status 0 within the
# timeout (default 30 s).
stop_pid() {
    local pid=$1 what=$2 timeout=${3:-30} i rc=0
    kill -TERM "$pid" 2>/dev/null || fail "$what is not running"
    for i in $(seq 1 $((timeout * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && fail "$what still running ${timeout} s after SIGTERM"
    wait "$pid" || rc=$?
    untrack_pid "$pid"
    [ "$rc" -eq 0 ] || fail "$what exited with status $rc after SIGTERM"
}

# start_mockbroker [TOPIC...]: the standalone mock cluster from
# build/test/mockbroker with the given topics; sets MB_PID and MB_BROKERS.
start_mockbroker() {
    local bf=$SB_WORK/mockbroker.bootstraps
    [ -n "${SB_MOCKBROKER:-}" ] && [ -x "$SB_MOCKBROKER" ] || fail "SB_MOCKBROKER is not set"
    rm -f "$bf"
    "$SB_MOCKBROKER" -f "$bf" -c "$SB_WORK/mockbroker.cmd" "$@" > "$SB_WORK/mockbroker.log" 2>&1 &
    MB_PID=$!
    track_pid "$MB_PID" "$SB_WORK/mockbroker.log"
    # Topic creation in the mock can still wait a second per topic.
    wait_for 120 "the mock broker's bootstrap file" test -s "$bf"
    MB_BROKERS=$(head -n 1 "$bf")
    [ -n "$MB_BROKERS" ] || fail "empty bootstrap list from the mock broker"
}

# mockbroker_run COMMAND...: runs each COMMAND line in the mock broker of
# start_mockbroker (errors, pending, rtt: see test/tools/mockbroker.c) and
# waits for their result lines; sets MB_RESULT to the last one.
mockbroker_run() {
    local log=$SB_WORK/mockbroker.log want
    want=$(($(grep -c '^mockbroker: ' "$log" || true) + $#))
    printf '%s\n' "$@" > "$SB_WORK/mockbroker.cmd"
    kill -HUP "$MB_PID"
    wait_for 30 "the mock broker to run: $*" mockbroker_answered "$want"
    ! grep '^mockbroker: ' "$log" | tail -n $# | grep -q 'not understood' ||
        fail "the mock broker did not understand: $*"
    MB_RESULT=$(grep '^mockbroker: ' "$log" | tail -n 1)
}

mockbroker_answered() {
    [ "$(grep -c '^mockbroker: ' "$SB_WORK/mockbroker.log" || true)" -ge "$1" ]
}

# start_mockbroker_sensors [--sensors-only]: a broker that outlives the
# daemons, with the 17 sensor topics (hydraulic-<SENSOR>, 4 partitions),
# which it also leaves in SB_TOPICS; sets MB_BROKERS. With SB_BROKER=kafka
# it is the test's real Kafka, whose topics a producer-only sensorbridge
# with nothing to replay creates (the broker does not auto-create them);
# else start_mockbroker, with the daemons' output topics too unless
# --sensors-only: librdkafka 2.0.2's mock cluster answers no CreateTopics,
# and a daemon does not become ready until the topics it writes exist (its
# producer asks about a topic only once it has a message for it).
start_mockbroker_sensors() {
    local s outputs=(hydraulic-aggregates hydraulic-alerts hydraulic-diagnosis)
    [ "${1:-}" = --sensors-only ] && outputs=()
    SB_TOPICS=()
    for s in $SB_SENSORS; do SB_TOPICS+=("hydraulic-$s"); done
    if [ "$SB_BROKER" = embedded ]; then
        start_mockbroker "${SB_TOPICS[@]}" "${outputs[@]}"
        return 0
    fi
    make_sensor_topics
    MB_BROKERS=$KAFKA_BROKERS
    MB_PID=
}

# make_sensor_topics [KEY VALUE]...: the 17 sensor topics on the test's
# broker, for tests whose only daemon is a consumer and that write with
# kcat. The embedded broker creates a topic on first use; on a real Kafka
# (no broker-side auto-creation) a producer-only sensorbridge with nothing
# to replay does, with each KEY = VALUE in its [kafka] section (e.g.
# replication_factor 3).
make_sensor_topics() {
    use_test_broker
    [ "$SB_BROKER" = kafka ] || return 0
    write_config "$SB_WORK/topics.conf" "$SB_WORK/unused" max
    set_key "$SB_WORK/topics.conf" consumer enabled false
    set_key "$SB_WORK/topics.conf" replay enabled false
    while [ $# -ge 2 ]; do
        set_key "$SB_WORK/topics.conf" kafka "$1" "$2"
        shift 2
    done
    start_instance "$SB_WORK/topics.conf" "$SB_WORK/topics.log"
    wait_for 60 "a daemon to create the sensor topics" topics_exist "$INST_URL"
    stop_pid "$INST_PID" "the daemon that created the topics"
}

# stop_mockbroker: stops the broker of start_mockbroker_sensors (exit 0).
stop_mockbroker() {
    if [ -n "${MB_PID:-}" ]; then
        stop_pid "$MB_PID" "the mock broker"
    else
        stop_kafka
    fi
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now (the caller
# still has to cope with losing a race for it).
free_port() {
    local p _
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        if [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then
            echo "$p"
            return 0
        fi
    done
    fail "no free TCP port found"
}

# ---- a real Prometheus (Debian's prometheus) ----

# start_prometheus CONFIG: a Prometheus with CONFIG on a free loopback port
# (retried on a lost race for it), its TSDB in $SB_WORK; sets PROM_URL,
# PROM_PID and PROM_LOG. Stopped at exit; fail shows its log.
start_prometheus() {
    local port _
    command -v prometheus > /dev/null || fail "prometheus is not installed (deploy/dev.sh test installs it)"
    PROM_LOG=$SB_WORK/prometheus.log
    PROM_URL=
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        prometheus --config.file="$1" --storage.tsdb.path="$SB_WORK/tsdb" \
            --web.listen-address="127.0.0.1:$port" > "$PROM_LOG" 2>&1 &
        PROM_PID=$!
        track_pid "$PROM_PID" "$PROM_LOG"
        for _ in $(seq 1 300); do
            if curl -sf --max-time 5 "http://127.0.0.1:$port/-/ready" > /dev/null; then
                PROM_URL=http://127.0.0.1:$port
                return 0
            fi
            kill -0 "$PROM_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -TERM "$PROM_PID" 2>/dev/null || true
        wait "$PROM_PID" 2>/dev/null || true
        untrack_pid "$PROM_PID"
        grep -q 'address already in use' "$PROM_LOG" || fail "prometheus did not become ready on port $port"
    done
    fail "prometheus could not get a free port in 5 attempts"
}

# prom_query EXPR: the answer of the Prometheus of start_prometheus to the
# instant query EXPR (the JSON of /api/v1/query), or nothing if it failed.
prom_query() {
    curl -s --max-time 10 "$PROM_URL/api/v1/query" --data-urlencode "query=$1"
}

# yaml_json FILE: FILE's YAML as JSON (Debian's python3-yaml, safe loader).
yaml_json() {
    python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)' "$1" ||
        fail "$1 is not valid YAML"
}

# ---- a real Apache Kafka (test/tools/kafka.sh) ----

# start_kafka [NODES] [-o key=value]...: a real Apache Kafka of NODES (1,
# the default, or 3) combined KRaft broker/controller nodes on free loopback
# ports, in $SB_WORK/kafka ($SB_WORK/kafka-2, -3 ... for more clusters in one
# test); each -o line goes into every node's server.properties. Sets
# KAFKA_BROKERS (the bootstrap list), KAFKA_VERSION and KAFKA_DIR. Stopped at
# exit; fail shows the end of every node's log.
start_kafka() {
    local nodes=1 dir k=1
    if [ $# -gt 0 ] && [[ $1 != -* ]]; then
        nodes=$1
        shift
    fi
    dir=$SB_WORK/kafka
    while [ -e "$dir" ]; do
        k=$((k + 1))
        dir=$SB_WORK/kafka-$k
    done
    mkdir -p "$dir"
    SB_KAFKA_DIRS+=("$dir")
    # kafka.sh prints the end of each node's log itself when it fails.
    KAFKA_BROKERS=$("$SB_SOURCE_ROOT/test/tools/kafka.sh" start "$dir" -n "$nodes" "$@") ||
        fail "test/tools/kafka.sh could not start $nodes Kafka node(s)"
    KAFKA_VERSION=$(cat "$dir/version")
    KAFKA_DIR=$dir
    # fail names a log by its file name: kafka-node1.log, kafka-2-node3.log ...
    for k in $(seq 1 "$nodes"); do
        ln -s "node$k/server.log" "$dir/$(basename "$dir")-node$k.log"
        SB_EXTRA_LOGS+=("$dir/$(basename "$dir")-node$k.log")
    done
}

# stop_kafka [DIR]: stops the cluster in DIR (default: the last one
# start_kafka started) and checks that none of its JVMs is left and none of
# its ports is still listening.
stop_kafka() {
    local dir=${1:-$KAFKA_DIR} pids=() ports=() p
    [ -f "$dir/pids" ] || fail "no Kafka cluster running in $dir"
    mapfile -t pids < "$dir/pids"
    mapfile -t ports < <(sed -n 's/^listeners=//p' "$dir"/node*/server.properties |
        tr ',' '\n' | sed 's/.*://')
    "$SB_SOURCE_ROOT/test/tools/kafka.sh" stop "$dir" || fail "kafka.sh stop $dir failed"
    for p in "${pids[@]}"; do
        if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' 2> /dev/null < "/proc/$p/cmdline" | grep -q 'kafka\.Kafka'; then
            fail "Kafka JVM $p still running after kafka.sh stop"
        fi
    done
    for p in "${ports[@]}"; do
        [ -z "$(ss -Htln "sport = :$p")" ] || fail "port $p still listening after kafka.sh stop"
    done
}

# ---- the fault matrix (test_fault_*.sh; docs/reliability.md) ----
# Each scenario replays a bounded dataset (loop = false), injects its fault
# while /metrics is scraped in the background, and accounts for every
# sample of every sensor: fault_account computes the figures, fault_report
# writes them as one JSON row to $SB_RESULTS_DIR/$SB_TEST_NAME.json (meson
# sets both) and fails the test if any check failed.
# test/tools/reliability-report.sh makes docs/reliability.md from the rows.

FAULT_PROBLEMS=()

# fault_problem MESSAGE: a failed check; the row is still written, then
# fault_report fails the test with every problem.
fault_problem() {
    echo "FAULT: $*" >&2
    FAULT_PROBLEMS+=("$*")
}

# sensor_samples DATASET SENSOR: the samples a replay of DATASET (cycles =
# all, loop = false) makes of SENSOR: the rows of its file (or of its 1 Hz
# stand-in) times 60 s times the sensor's rate.
sensor_samples() {
    local f=$1/$2.txt
    [ -f "$f" ] || f=$1/standin/${2}_1hz.txt
    [ -f "$f" ] || fail "no file for $2 in $1"
    # awk counts a last row without a newline too (the fixtures have one).
    echo $(($(awk 'END { print NR }' "$f") * 60 * $(sensor_rate "$2")))
}

# watch_metrics NAME URL: scrapes URL/metrics every 0.2 s in the background
# until unwatch_metrics NAME. A scrape counts as failed when it is not
# answered 200 within SB_SCRAPE_TIMEOUT seconds (default 5).
watch_metrics() {
    local d=$SB_WORK/watch-$1 url=$2 timeout=${SB_SCRAPE_TIMEOUT:-5}
    mkdir -p "$d"
    : > "$d/ok"
    : > "$d/failed"
    (
        while :; do
            if curl -sf --max-time "$timeout" -o /dev/null "$url/metrics"; then
                echo >> "$d/ok"
            else
                echo "$(date +%T.%N) $url/metrics: curl exit status $?" >> "$d/failed"
            fi
            sleep 0.2
        done
    ) &
    echo $! > "$d/pid"
    track_pid "$(cat "$d/pid")"
}

# unwatch_metrics NAME: stops the watch; sets WATCH_SCRAPES (answered) and
# records a problem for each scrape that failed. /metrics must answer
# throughout a fault: at least one scrape, and none failed.
unwatch_metrics() {
    local d=$SB_WORK/watch-$1 pid
    pid=$(cat "$d/pid")
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    untrack_pid "$pid"
    WATCH_SCRAPES=$(wc -l < "$d/ok")
    [ "$WATCH_SCRAPES" -gt 0 ] || fault_problem "$1: no scrape of /metrics answered"
    local l
    while read -r l; do fault_problem "$1: a scrape failed: $l"; done < "$d/failed"
}

# pipeline_configs DATASET SPEED BROKERS: the two halves of a pipeline on
# BROKERS, for start_pipeline: $SB_WORK/consumer.conf, a consumer-only
# daemon (group sb-it), and $SB_WORK/producer.conf, a producer-only daemon
# replaying DATASET at SPEED. Tests add their keys with set_key.
pipeline_configs() {
    local c=$SB_WORK/consumer.conf p=$SB_WORK/producer.conf
    write_config "$c" "$SB_WORK/unused" max
    set_key "$c" kafka brokers "$3"
    set_key "$c" producer enabled false
    set_key "$c" replay enabled false
    write_config "$p" "$1" "$2"
    set_key "$p" kafka brokers "$3"
    set_key "$p" consumer enabled false
}

# start_pipeline: the consumer of pipeline_configs, and once it holds its
# partitions (/readyz 200) the producer, so the replay never outruns a
# group join. Sets C_PID, C_URL, C_LOG and P_PID, P_URL, P_LOG.
start_pipeline() {
    C_LOG=$SB_WORK/consumer.log
    start_instance "$SB_WORK/consumer.conf" "$C_LOG"
    C_PID=$INST_PID C_URL=$INST_URL
    wait_for 90 "the consumer to hold its partitions" curl -sf -o /dev/null "$C_URL/readyz"
    P_LOG=$SB_WORK/producer.log
    start_instance "$SB_WORK/producer.conf" "$P_LOG"
    P_PID=$INST_PID P_URL=$INST_URL
}

# replay_when_ready CONFIG PID URL: for a daemon started with [replay]
# enabled = false: once its consumer holds its partitions (/readyz 200),
# switches the replay on by a reload (SIGHUP), so a fast replay cannot end
# before the consumer joined its group.
replay_when_ready() {
    wait_for 90 "the daemon's consumer to hold its partitions" curl -sf -o /dev/null "$3/readyz"
    local n
    n=$(scrape_url "$3" | metric sensorbridge_config_reloads_total)
    set_key "$1" replay enabled true
    kill -HUP "$2"
    reloaded() { [ "$(scrape_url "$1" | metric sensorbridge_config_reloads_total)" -gt "$2" ]; }
    wait_for 30 "the reload that starts the replay" reloaded "$3" "$n"
}

# delivered_at_least URL N: the producer at URL had N samples acknowledged.
delivered_at_least() {
    [ "$(scrape_url "$1" | metric_sum sensorbridge_messages_delivered_total)" -ge "$2" ]
}

# use_node_cache: node, and NODE_PATH on the npm packages deploy/dev.sh
# test pins into the cache outside the clone.
use_node_cache() {
    export NODE_PATH=${SB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sensorbridge}/node/node_modules${NODE_PATH:+:$NODE_PATH}
    command -v node > /dev/null || fail "node not found (deploy/dev.sh test installs it)"
}

# use_kafkajs: kafkajs, the independent Kafka client of the tests, where
# deploy/dev.sh test installs it (or anywhere on NODE_PATH); sets
# KAFKAJS_VERSION.
use_kafkajs() {
    use_node_cache
    KAFKAJS_VERSION=$(node -p 'require("kafkajs/package.json").version' 2> /dev/null) ||
        fail "kafkajs not found on NODE_PATH=$NODE_PATH (deploy/dev.sh test installs kafkajs@2.2.4 there)"
}

# use_playwright: playwright-core from the node cache and Debian's chromium,
# which test/tools/status-page.js drives (it never downloads a browser).
use_playwright() {
    use_node_cache
    PLAYWRIGHT_VERSION=$(node -p 'require("playwright-core/package.json").version' 2> /dev/null) ||
        fail "playwright-core not found on NODE_PATH=$NODE_PATH (deploy/dev.sh test installs playwright-core@1.65.1 there)"
    [ -x /usr/bin/chromium ] || fail "/usr/bin/chromium not found (deploy/dev.sh test installs Debian's chromium)"
}

# use_grafana_schema: @grafana/schema and typescript from the node cache,
# for test/tools/grafana-schema-check.js; sets GRAFANA_SCHEMA_VERSION.
use_grafana_schema() {
    use_node_cache
    GRAFANA_SCHEMA_VERSION=$(node -p 'require("@grafana/schema/package.json").version' 2> /dev/null) ||
        fail "@grafana/schema not found on NODE_PATH=$NODE_PATH (deploy/dev.sh test installs @grafana/schema@13.2.3 there)"
    node -e 'require.resolve("typescript")' 2> /dev/null ||
        fail "typescript not found on NODE_PATH=$NODE_PATH (deploy/dev.sh test installs typescript@5.9.3 there)"
}

# group_at_end BROKERS TOPIC...: consumer group sb-it has committed, for
# every partition of each TOPIC that holds messages, its high watermark:
# it applied everything there is (offsets are committed only once their
# samples were applied). Asked of the coordinator with kafkajs, so neither
# the daemon's client nor its lag gauge is the judge (the gauge cannot
# tell where a consumer that resumed at the end of a partition is).
group_at_end() {
    local brokers=$1
    shift
    [ -n "${KAFKAJS_VERSION:-}" ] || use_kafkajs
    topic_offsets "$brokers" -1 "$@" > "$SB_WORK/at-end-high.txt"
    timeout 60 node "$SB_SOURCE_ROOT/test/tools/kafkajs-committed.js" "$brokers" sb-it "$@" \
        > "$SB_WORK/at-end-committed.txt" 2> "$SB_WORK/at-end.err" || return 1
    awk 'NR == FNR { high[$1 " " $2] = $3; next }
         high[$1 " " $2] > 0 && $3 != high[$1 " " $2] { n++; s = s " " $1 "[" $2 "] " $3 "/" high[$1 " " $2] }
         END { if (n) { print n " partitions not committed to their end:" s; exit 1 } }' \
        "$SB_WORK/at-end-high.txt" "$SB_WORK/at-end-committed.txt" > "$SB_WORK/at-end.txt"
}

# all_applied BROKERS PRODUCER TOTAL CONSUMER...: 0 when every one of TOTAL
# samples was delivered by PRODUCER (a daemon's URL, or the last counts of
# one that is gone: a file), the group committed every sample topic to its
# end (group_at_end) and at least TOTAL were applied across the consumers;
# 2 when all that holds but fewer were applied (nothing more is coming);
# else 1. Each CONSUMER is the URL of a running daemon, which must be
# ready (holding its partitions), or the last scrape (a file) of one that
# is gone. The last scrapes are left in $SB_WORK/final-producer.txt and
# $SB_WORK/final-consumerK.txt (K from 1, in the order of the arguments);
# $SB_WORK/state.txt says what was seen.
all_applied() {
    local brokers=$1 p=$2 total=$3 u k=0 applied=0 f state=$SB_WORK/state.txt topics=() s
    shift 3
    for s in $SB_SENSORS; do topics+=("${SB_TOPIC_PREFIX:-hydraulic}-$s"); done
    echo "all_applied: no answer from the producer $p" > "$state"
    if [ -f "$p" ]; then
        cp "$p" "$SB_WORK/final-producer.txt"
    else
        scrape_url "$p" > "$SB_WORK/final-producer.txt" || return 1
    fi
    echo "all_applied: $(metric_sum sensorbridge_messages_delivered_total < "$SB_WORK/final-producer.txt") of $total delivered" > "$state"
    [ "$(metric_sum sensorbridge_messages_delivered_total < "$SB_WORK/final-producer.txt")" = "$total" ] ||
        return 1
    if ! group_at_end "$brokers" "${topics[@]}"; then
        echo "all_applied: $(cat "$SB_WORK/at-end.txt" "$SB_WORK/at-end.err")" >> "$state"
        return 1
    fi
    for u in "$@"; do
        k=$((k + 1))
        f=$SB_WORK/final-consumer$k.txt
        if [ -f "$u" ]; then
            cp "$u" "$f"
        else
            scrape_url "$u" > "$f" || { echo "all_applied: no answer from $u" >> "$state"; return 1; }
            [ "$(metric sensorbridge_ready < "$f")" = 1 ] || { echo "all_applied: $u not ready" >> "$state"; return 1; }
        fi
        applied=$((applied + $(metric_sum sensorbridge_sensor_samples_consumed_total < "$f")))
    done
    echo "all_applied: committed to the end, $applied applied" >> "$state"
    [ "$applied" -ge "$total" ] || return 2
}

# wait_applied TIMEOUT_S BROKERS PRODUCER TOTAL CONSUMER...: all_applied
# within TIMEOUT_S. If not, or if it answered 2 (fewer applied, nothing
# more coming) for 10 s, a problem for the row with the last state seen,
# and the test goes on to its accounting, which says per sensor what is
# missing.
wait_applied() {
    local timeout=$1 i rc settled=0
    shift
    for i in $(seq 1 $((timeout * 5))); do
        rc=0
        all_applied "$@" || rc=$?
        [ $rc != 0 ] || return 0
        if [ $rc = 2 ]; then settled=$((settled + 1)); else settled=0; fi
        [ $settled -lt 50 ] || break
        sleep 0.2
    done
    fault_problem "not every sample delivered and applied: $(tr '\n' ';' < "$SB_WORK/state.txt")"
}

# final_counts LOG: the counters a daemon logged at the end of its stop
# ("final count" lines, docs/operations.md), in the exposition format of a
# scrape, for the accounting of a daemon that is gone.
final_counts() {
    sed -n 's/.*msg="final count" metric=\([a-z_]*\) \(.*\) value=\([0-9.e+]*\)$/\1{\2} \3/p' "$1" |
        sed 's/" \([a-z_]*\)="/",\1="/g'
    sed -n 's/.*msg="final count" metric=\([a-z_]*\) value=\([0-9.e+]*\)$/\1 \2/p' "$1"
}

# topic_offsets BROKERS WHICH TOPIC...: "TOPIC PARTITION OFFSET" of every
# partition (SB_PARTITIONS, default 4) of each TOPIC: WHICH is -2 for the
# first offset, -1 for the high watermark (kcat -Q answers one of the two
# per partition in one call).
topic_offsets() {
    local brokers=$1 which=$2 args=() t p
    shift 2
    for t in "$@"; do
        for p in $(seq 0 $((${SB_PARTITIONS:-4} - 1))); do args+=(-t "$t:$p:$which"); done
    done
    timeout 60 kcat -Q -b "$brokers" "${args[@]}" > "$SB_WORK/offsets.txt" 2> "$SB_WORK/kcat.err" ||
        fail "kcat could not query the offsets of $*: $(tail -n 3 "$SB_WORK/kcat.err")"
    awk '$3 == "offset" { gsub(/[][]/, "", $2); print $1, $2, $4 }' "$SB_WORK/offsets.txt" > "$SB_WORK/offsets.out"
    [ "$(wc -l < "$SB_WORK/offsets.out")" = $((${#args[@]} / 2)) ] ||
        fail "kcat -Q answered $(wc -l < "$SB_WORK/offsets.out") of $((${#args[@]} / 2)) partitions"
    cat "$SB_WORK/offsets.out"
}

# topic_identities BROKERS TOPIC COUNT OUT: the COUNT messages of TOPIC (all
# its partitions from their first offsets; read with -c, never -e) as
# "cycle sample_idx" lines in OUT, "?" for a message that has neither.
topic_identities() {
    local brokers=$1 topic=$2 n=$3 out=$4
    : > "$out"
    [ "$n" -gt 0 ] || return 0
    timeout 120 kcat -C -q -b "$brokers" -t "$topic" -o beginning -c "$n" -f '%s\n' \
        -X fetch.wait.max.ms=10 > "$SB_WORK/messages.txt" 2> "$SB_WORK/kcat.err" ||
        fail "kcat could not read $n messages of $topic: $(tail -n 3 "$SB_WORK/kcat.err")"
    [ "$(wc -l < "$SB_WORK/messages.txt")" = "$n" ] ||
        fail "kcat read $(wc -l < "$SB_WORK/messages.txt") messages of $topic, not $n"
    sed -e 's/.*"cycle":\([0-9]*\),"sample_idx":\([0-9]*\),.*/\1 \2/' -e t -e 's/.*/?/' \
        "$SB_WORK/messages.txt" > "$out"
}

# fault_account BROKERS DATASET "PRODUCER_SCRAPES" "CONSUMER_SCRAPES": the
# per-sensor figures of a replay of DATASET onto <prefix>-<SENSOR> topics
# (SB_TOPIC_PREFIX, default hydraulic), from the last scrapes of every
# producer and every consumer (files in the exposition format; their
# counters are summed) and from the topics as kcat reads them:
#   expected   rows x 60 x rate of the dataset files (sensor_samples)
#   produced   sensorbridge_messages_produced_total
#   failed     sensorbridge_messages_delivery_failed_total
#   on_topic   messages on the topic; distinct: distinct (cycle, sample_idx)
#   applied    sensorbridge_sensor_samples_consumed_total
#   skipped    sensorbridge_consumer_skipped_messages_total of the topic
#   reapplied  applied + skipped - on_topic: offsets applied more than once
#              (a consumer resuming from committed offsets below what it had
#              applied); each consumer applies a partition's offsets in order
#              from where it starts, so a negative value is offsets nobody
#              applied
#   duplicated (on_topic - distinct) + reapplied, when reapplied >= 0
#   lost       (produced - distinct) + offsets nobody applied: must be 0
# Checks (fault_problem): lost = 0, failed = 0, no message without an
# identity or outside the dataset, produced = expected unless
# FAULT_PARTIAL=1 (a replay stopped on purpose), and no duplicate on the
# topic unless FAULT_TOPIC_DUPLICATES=counted (the idempotent producer
# promises none where the broker checks its sequence numbers; see
# docs/operations.md, Broker outage, for where that promise fails). Leaves one
# TSV line per sensor in $SB_WORK/fault-sensors.tsv for fault_report.
fault_account() {
    local brokers=$1 ds=$2 prod=() cons=() s f
    read -r -a prod <<< "$3"
    read -r -a cons <<< "$4"
    local prefix=${SB_TOPIC_PREFIX:-hydraulic} topics=()
    for s in $SB_SENSORS; do topics+=("$prefix-$s"); done
    topic_offsets "$brokers" -2 "${topics[@]}" > "$SB_WORK/low.txt"
    topic_offsets "$brokers" -1 "${topics[@]}" > "$SB_WORK/high.txt"
    # The topics are the test's own, so every partition starts at offset 0;
    # one that no longer does lost messages to retention, which this
    # accounting cannot tell apart (test_retention_loss is about that).
    awk '$3 != 0 { print "FAULT: " $1 " [" $2 "] starts at offset " $3 ": the broker deleted messages"; bad = 1 }
         END { exit bad }' "$SB_WORK/low.txt" >&2 || fail "messages deleted by the broker; the figures would not be exact"
    : > "$SB_WORK/fault-sensors.tsv"
    sum_series() {
        local series=$1 f t=0 v
        shift
        for f in "$@"; do
            v=$(metric "$series" < "$f")
            t=$((t + ${v:-0}))
        done
        echo "$t"
    }
    for s in $SB_SENSORS; do
        local e p fl a k t d bad r lost dup rate rows
        e=$(sensor_samples "$ds" "$s")
        rate=$(sensor_rate "$s")
        rows=$((e / 60 / rate))
        p=$(sum_series "sensorbridge_messages_produced_total{sensor=\"$s\"}" "${prod[@]}")
        fl=$(sum_series "sensorbridge_messages_delivery_failed_total{sensor=\"$s\"}" "${prod[@]}")
        a=$(sum_series "sensorbridge_sensor_samples_consumed_total{sensor=\"$s\"}" "${cons[@]}")
        k=$(sum_series "sensorbridge_consumer_skipped_messages_total{topic=\"$prefix-$s\"}" "${cons[@]}")
        t=$(cat "$SB_WORK/low.txt" "$SB_WORK/high.txt" |
            awk -v t="$prefix-$s" '$1 == t { n[$2]++; if (n[$2] == 1) lo[$2] = $3; else s += $3 - lo[$2] }
                                  END { print s + 0 }')
        topic_identities "$brokers" "$prefix-$s" "$t" "$SB_WORK/ids-$s.txt"
        d=$(awk -v rows="$rows" -v per=$((60 * rate)) \
            '$1 != "?" && $1 < rows && $2 < per { print }' "$SB_WORK/ids-$s.txt" | sort -u | wc -l)
        bad=$(awk -v rows="$rows" -v per=$((60 * rate)) \
            '$1 == "?" || $1 >= rows || $2 >= per' "$SB_WORK/ids-$s.txt" | wc -l)
        r=$((a + k - t))
        lost=$((p - d + (r < 0 ? -r : 0)))
        dup=$((t - bad - d + (r > 0 ? r : 0)))
        printf '%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n' \
            "$s" "$e" "$p" "$fl" "$t" "$d" "$a" "$k" "$r" "$dup" "$lost" >> "$SB_WORK/fault-sensors.tsv"
        [ "$lost" = 0 ] || fault_problem "$s: $lost samples lost (produced $p, distinct on the topic $d, applied $a, skipped $k, on the topic $t)"
        [ "$r" -ge 0 ] || fault_problem "$s: $((-r)) offsets on the topic were never applied nor counted as skipped"
        [ "$fl" = 0 ] || fault_problem "$s: $fl deliveries failed"
        [ "$bad" = 0 ] || fault_problem "$s: $bad messages on the topic are not samples of the dataset"
        [ "${FAULT_PARTIAL:-0}" = 1 ] || [ "$p" = "$e" ] ||
            fault_problem "$s: produced $p samples, the dataset has $e"
        [ "${FAULT_TOPIC_DUPLICATES:-none}" = counted ] || [ "$t" = "$d" ] ||
            fault_problem "$s: $((t - d)) duplicates on the topic from an idempotent producer"
    done
    {
        printf 'sensor\texpected\tproduced\tfailed\ton_topic\tdistinct\tapplied\tskipped\treapplied\tduplicated\tlost\n'
        cat "$SB_WORK/fault-sensors.tsv"
    } | column -t >&2
}

# fault_broker: what the test ran against, for its row.
fault_broker() {
    if [ -n "${KAFKA_DIR:-}" ]; then
        echo "Apache Kafka $KAFKA_VERSION, $(ls -d "$KAFKA_DIR"/node* | wc -l) node(s)"
    else
        echo "mock cluster (librdkafka $(pkg-config --modversion rdkafka))"
    fi
}

# fault_report INJECTED OBSERVED: writes the test's row (the figures of the
# last fault_account, what was injected, what was observed, the problems)
# and fails the test if there was a problem.
fault_report() {
    local name=${SB_TEST_NAME:-$(basename "$0" .sh | sed 's/^test_//')} dir commit
    dir=${SB_RESULTS_DIR:-$SB_WORK/results}
    mkdir -p "$dir"
    commit=$(git -C "$SB_SOURCE_ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    [ -z "$(git -C "$SB_SOURCE_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] ||
        commit="$commit+changes"
    jq -cn --arg test "$name" --arg broker "$(fault_broker)" --arg injected "$1" \
        --arg observed "$2" --arg commit "$commit" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        --argjson seconds "$SECONDS" \
        --rawfile sensors "$SB_WORK/fault-sensors.tsv" \
        --args '{
            test: $test, broker: $broker, injected: $injected, observed: $observed,
            commit: $commit, date: $date, seconds: $seconds,
            sensors: [$sensors | split("\n")[] | select(. != "") | split("\t")
                      | {sensor: .[0], expected: (.[1] | tonumber), produced: (.[2] | tonumber),
                         failed: (.[3] | tonumber), on_topic: (.[4] | tonumber),
                         distinct: (.[5] | tonumber), applied: (.[6] | tonumber),
                         skipped: (.[7] | tonumber), reapplied: (.[8] | tonumber),
                         duplicated: (.[9] | tonumber), lost: (.[10] | tonumber)}],
            problems: $ARGS.positional
        } | .totals = (reduce .sensors[] as $s ({}; reduce ($s | to_entries[] | select(.key != "sensor")) as $e (.; .[$e.key] += $e.value)))
          | .status = (if (.problems | length) == 0 then "pass" else "fail" end)' \
        "${FAULT_PROBLEMS[@]}" > "$dir/$name.json"
    echo "result: $(jq -c '{test, status, totals}' "$dir/$name.json")" >&2
    [ ${#FAULT_PROBLEMS[@]} = 0 ] || fail "${#FAULT_PROBLEMS[@]} problem(s): ${FAULT_PROBLEMS[*]}"
}

# ---- a real Prometheus: one job ----

# start_prometheus_job JOB TARGET [JOB_YAML]: start_prometheus with a
# config that scrapes TARGET (host:port) every second as job JOB. JOB_YAML
# is more of the job's scrape config (scheme, tls_config, basic_auth), each
# line indented by four spaces.
start_prometheus_job() {
    cat > "$SB_WORK/prometheus.yml" <<PROM
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: $1
    static_configs:
      - targets: ['$2']
${3:-}
PROM
    start_prometheus "$SB_WORK/prometheus.yml"
}

# prom_value EXPR: the value of the single series EXPR returns, or empty.
prom_value() {
    prom_query "$1" | jq -r 'if .status == "success" and (.data.result | length) == 1
                             then .data.result[0].value[1] else empty end'
}

# wait_query EXPR VALUE TIMEOUT_S: until prom_value EXPR gives VALUE.
wait_query() {
    local got='' _
    for _ in $(seq 1 $(($3 * 2))); do
        got=$(prom_value "$1")
        [ "$got" = "$2" ] && return 0
        sleep 0.5
    done
    fail "prometheus: $1 is '$got', expected '$2' after ${3}s"
}
