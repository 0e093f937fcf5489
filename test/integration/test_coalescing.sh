#!/bin/bash
# Source tick coalescing ([producer] coalesce_ms) changes only when the
# sources hand their samples to the producer. The same bounded replay (one
# cycle of all 17 sensors at speed 10: 6 s of schedule) and synthetic
# sensor run twice, with coalesce_ms = 0 and = 100, each into a fresh
# embedded broker; every topic is then read back with kcat and the two runs
# must hold the same messages (key, Kafka timestamp = event time, payload)
# at the same partitions and offsets. The coalesced run must also wake the
# sources at most once per 100-ms period and rate group: a bound from the
# schedule alone (a slow machine wakes less often, never more), no timing.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

ds=$(make_dataset)
# 1 cycle of the 17 sensors + 3000 synthetic samples.
total=$(($(samples_in_cycles 1) + 3000))

# run COALESCE_MS: one daemon; leaves the topics' contents in
# $SB_WORK/topics-COALESCE_MS.txt and the wake-ups in WAKE_REPLAY and
# WAKE_SYNTH.
run() {
    local conf=$SB_WORK/sb-$1.conf t
    write_config "$conf" "$ds" 10
    set_key "$conf" replay cycles 0
    set_key "$conf" producer coalesce_ms "$1"
    cat >> "$conf" <<'CONF'
[synthetic.mixer]
kind = vibration
rate_hz = 50
samples = 3000
seed = 7
CONF
    start_daemon "$conf"
    wait_metric sensorbridge_consumer_messages_total "$total" 120
    grep -q "msg=\"replay finished\"" "$SB_LOG" || fail "the replay did not finish"
    WAKE_REPLAY=$(val 'sensorbridge_source_wakeups_total{source="replay"}')
    WAKE_SYNTH=$(val 'sensorbridge_source_wakeups_total{source="synthetic"}')
    : > "$SB_WORK/topics-$1.txt"
    for t in $SB_SENSORS mixer; do
        timeout 60 kcat -b "$SB_BROKERS" -C -t "hydraulic-$t" -o beginning -e -q \
            -f "$t\t%p\t%o\t%k\t%T\t%s\n" >> "$SB_WORK/topics-$1.txt" ||
            fail "kcat could not read hydraulic-$t"
    done
    [ "$(wc -l < "$SB_WORK/topics-$1.txt")" = "$total" ] ||
        fail "coalesce_ms = $1: $(wc -l < "$SB_WORK/topics-$1.txt") messages on the topics, expected $total"
    stop_daemon
    mv "$SB_LOG" "$SB_WORK/sensorbridge-$1.log"
}

run 0
wake0_replay=$WAKE_REPLAY
run 100
if ! cmp -s "$SB_WORK/topics-0.txt" "$SB_WORK/topics-100.txt"; then
    diff "$SB_WORK/topics-0.txt" "$SB_WORK/topics-100.txt" | head -n 20 >&2
    fail "the topics differ between coalesce_ms = 0 and 100"
fi
# Three replay rate groups (100, 10, 1 Hz), each due last at 59.99 s,
# 59.9 s and 59 s of event time, 6 s or less at speed 10: 60 periods of
# 100 ms each. The synthetic sensor's 3000 samples at 50 Hz take 6 s: 60.
[ "$WAKE_REPLAY" -ge 1 ] && [ "$WAKE_REPLAY" -le $((3 * 60)) ] ||
    fail "replay: $WAKE_REPLAY wake-ups with coalesce_ms = 100, expected 1 to 180"
[ "$WAKE_SYNTH" -le 60 ] || fail "synthetic: $WAKE_SYNTH wake-ups with coalesce_ms = 100, expected at most 60"
echo "ok: coalescing: the same $total messages; replay wake-ups $wake0_replay (0 ms) -> $WAKE_REPLAY (100 ms), synthetic $WAKE_SYNTH"
