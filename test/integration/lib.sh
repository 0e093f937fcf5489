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

# A dataset directory for tests: the real 1 Hz files and profile.txt, the
# stand-ins, and the real two-cycle excerpts of PS2 (100 Hz) and FS1 (10 Hz)
# as if they were the full files. Every sensor file then has two rows.
make_dataset() {
    local d=$SB_WORK/dataset
    mkdir -p "$d/standin"
    for s in TS1 TS2 TS3 TS4 VS1 CE CP SE; do
        head -n 2 "$SB_SOURCE_ROOT/datasets/uci-hydraulic/$s.txt" > "$d/$s.txt"
    done
    head -n 2 "$SB_SOURCE_ROOT/datasets/uci-hydraulic/profile.txt" > "$d/profile.txt"
    for s in PS1 PS3 PS4 PS5 PS6 EPS1 FS2; do
        head -n 2 "$SB_SOURCE_ROOT/datasets/uci-hydraulic/standin/${s}_1hz.txt" > "$d/standin/${s}_1hz.txt"
    done
    cp "$SB_SOURCE_ROOT/test/fixtures/PS2_cycles_0001-0002.txt" "$d/PS2.txt"
    cp "$SB_SOURCE_ROOT/test/fixtures/FS1_cycles_0001-0002.txt" "$d/FS1.txt"
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
    "$SB_MOCKBROKER" -f "$bf" "$@" > "$SB_WORK/mockbroker.log" 2>&1 &
    MB_PID=$!
    track_pid "$MB_PID" "$SB_WORK/mockbroker.log"
    # Topic creation in the mock can still wait a second per topic.
    wait_for 120 "the mock broker's bootstrap file" test -s "$bf"
    MB_BROKERS=$(head -n 1 "$bf")
    [ -n "$MB_BROKERS" ] || fail "empty bootstrap list from the mock broker"
}

# start_mockbroker_sensors: a broker that outlives the daemons, with the 17
# sensor topics (hydraulic-<SENSOR>, 4 partitions), which it also leaves in
# SB_TOPICS; sets MB_BROKERS. With SB_BROKER=kafka it is the test's real
# Kafka, whose topics a producer-only sensorbridge with nothing to replay
# creates (the broker does not auto-create them); else start_mockbroker.
start_mockbroker_sensors() {
    local s
    SB_TOPICS=()
    for s in $SB_SENSORS; do SB_TOPICS+=("hydraulic-$s"); done
    if [ "$SB_BROKER" = embedded ]; then
        start_mockbroker "${SB_TOPICS[@]}"
        return 0
    fi
    make_sensor_topics
    MB_BROKERS=$KAFKA_BROKERS
    MB_PID=
}

# make_sensor_topics: the 17 sensor topics on the test's broker, for tests
# whose only daemon is a consumer and that write with kcat. The embedded
# broker creates a topic on first use; on a real Kafka (no broker-side
# auto-creation) a producer-only sensorbridge with nothing to replay does.
make_sensor_topics() {
    use_test_broker
    [ "$SB_BROKER" = kafka ] || return 0
    write_config "$SB_WORK/topics.conf" "$SB_WORK/unused" max
    set_key "$SB_WORK/topics.conf" consumer enabled false
    set_key "$SB_WORK/topics.conf" replay enabled false
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
