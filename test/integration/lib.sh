# lib.sh - helpers for integration tests that drive the real sensorbridge
# binary. Sourced by each test; SB_BIN is the binary, SB_SOURCE_ROOT the
# repository. Every wait is bounded.
set -euo pipefail

SB_WORK=$(mktemp -d "${TMPDIR:-/tmp}/sb-it.XXXXXX")
SB_PID=
SB_LOG=$SB_WORK/sensorbridge.log

fail() {
    echo "FAIL: $*" >&2
    if [ -f "$SB_LOG" ]; then
        echo "---- last lines of the daemon log ----" >&2
        tail -n 40 "$SB_LOG" >&2
    fi
    exit 1
}

cleanup() {
    if [ -n "$SB_PID" ] && kill -0 "$SB_PID" 2>/dev/null; then
        kill -KILL "$SB_PID" 2>/dev/null || true
    fi
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

# write_config FILE [extra INI lines appended to named sections via here-doc on stdin]
write_config() {
    local f=$1 dataset=$2 speed=${3:-max}
    cat > "$f" <<CONF
[general]
log_level = info
[kafka]
brokers = embedded
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
    "$SB_BIN" --config "$1" > "$SB_LOG" 2>&1 &
    SB_PID=$!
    local i
    for i in $(seq 1 200); do
        SB_PORT=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' "$SB_LOG" | head -n 1)
        [ -n "$SB_PORT" ] && break
        kill -0 "$SB_PID" 2>/dev/null || fail "daemon exited during start-up"
        sleep 0.1
    done
    [ -n "$SB_PORT" ] || fail "daemon did not report its HTTP port"
    SB_URL=http://127.0.0.1:$SB_PORT
    SB_BROKERS=$(curl -sf "$SB_URL/api/v1/status" | sed -n 's/.*"brokers": "\([^"]*\)".*/\1/p')
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
