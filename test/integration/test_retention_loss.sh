#!/bin/bash
# Messages deleted by the broker before the consumer read them are counted,
# not silently lost, whichever way the position is reset. The mock cluster
# keeps 5 MiB per partition, so writing ~9 MB with kcat deletes unread data:
# 1. within an assignment: the daemon consumes a few messages, is stopped
#    (SIGSTOP) while kcat writes, and resumes. Its fetch position is now
#    below the partition's first offset and librdkafka resets it;
# 2. at the start of an assignment: the daemon is stopped (SIGTERM, so its
#    offsets are committed) while kcat writes; a new daemon of the same
#    group finds its committed offset deleted;
# 3. a new group: a daemon with another group.id starts on the trimmed
#    partition with no committed offset (auto.offset.reset = earliest).
# Each time: consumed + skipped = every offset written since the group's
# position (all of them for the new group), skipped > 0, and
# sensorbridge_consumer_offset_resets_total >= 1 where a position was lost.
# Embedded broker only: it relies on the mock cluster's fixed 5 MiB per
# partition to delete unread data on cue.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_mockbroker hydraulic-TS1
conf=$SB_WORK/sb.conf
write_config "$conf" "$SB_WORK/unused" max
set_key "$conf" kafka brokers "$MB_BROKERS"
set_key "$conf" replay enabled false
set_key "$conf" producer enabled false
start_daemon "$conf"

# messages FROM COUNT: valid TS1 samples, ~150 bytes each.
messages() {
    awk -v from="$1" -v n="$2" 'BEGIN {
        for (i = from; i < from + n; i++)
            printf "{\"sensor\":\"TS1\",\"cycle\":%d,\"sample_idx\":%d,\"value\":35.%03d,\"timestamp\":\"2025-11-08T14:30:00.000000Z\",\"sampling_rate_hz\":1,\"pad\":\"%s\"}\n",
                int(i / 60), i % 60, i % 1000, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    }'
}
produce() {
    timeout 60 kcat -P -q -b "$MB_BROKERS" -t hydraulic-TS1 -k TS1 -z none \
        -X linger.ms=5 -l "$1" || fail "kcat could not produce $1"
}
first=10
big=60000
messages 0 "$first" > "$SB_WORK/first.txt"
messages "$first" "$big" > "$SB_WORK/big.txt"
size=$(wc -c < "$SB_WORK/big.txt")
[ "$size" -gt $((7 * 1024 * 1024)) ] || fail "the batch is only $size bytes, less than 7 MiB"
total=$((first + big))

produce "$SB_WORK/first.txt"
wait_metric sensorbridge_consumer_messages_total "$first" 120
# One partition holds everything (key TS1): find it and its first offset.
low_offset() {
    timeout 30 kcat -C -q -b "$MB_BROKERS" -t hydraulic-TS1 -o beginning -c 1 -e -f '%p %o\n'
}
read -r part low < <(low_offset)
[ "$low" = 0 ] || fail "partition $part starts at $low before any trimming"

kill -STOP "$SB_PID"
produce "$SB_WORK/big.txt"
read -r part2 low < <(low_offset)
kill -CONT "$SB_PID"
[ "$part2" = "$part" ] || fail "the messages went to partitions $part and $part2"
[ "$low" -gt "$first" ] || fail "the broker kept everything (first offset $low): nothing to lose"
echo "partition $part now starts at offset $low of $total" >&2

accounted() {
    local s consumed skipped
    s=$(scrape)
    consumed=$(echo "$s" | metric_sum sensorbridge_consumer_messages_total)
    skipped=$(echo "$s" | metric 'sensorbridge_consumer_skipped_messages_total{topic="hydraulic-TS1"}')
    [ "$((consumed + ${skipped:-0}))" -eq "$total" ]
}
wait_for 120 "consumed + skipped = $total" accounted
s=$(scrape)
consumed=$(echo "$s" | metric_sum sensorbridge_consumer_messages_total)
skipped=$(echo "$s" | metric 'sensorbridge_consumer_skipped_messages_total{topic="hydraulic-TS1"}')
resets=$(echo "$s" | metric sensorbridge_consumer_offset_resets_total)
echo "consumed $consumed, skipped $skipped, resets $resets" >&2
# The daemon had read up to offset first - 1 at least, and may have read a
# few batches more before the broker trimmed them: never more than low.
[ "$skipped" -gt 0 ] && [ "$skipped" -le $((low - first)) ] ||
    fail "skipped $skipped, expected 1..$((low - first))"
[ "${resets:-0}" -ge 1 ] || fail "no offset reset counted"
grep -q 'msg="messages skipped: gone from the broker before they were read" topic=hydraulic-TS1' \
    "$SB_LOG" || fail "no log line for the skipped messages"
[ "$(echo "$s" | metric 'sensorbridge_sensor_samples_consumed_total{sensor="TS1"}')" = "$consumed" ] ||
    fail "not every consumed message was applied"
echo "$s" | promtool check metrics || fail "promtool rejects the scrape"


# 2. Stopped with its offsets committed; the next daemon's committed offset
# is gone from the broker by the time it starts.
stop_daemon
messages "$total" "$big" > "$SB_WORK/big2.txt"
produce "$SB_WORK/big2.txt"
read -r part3 low < <(low_offset)
[ "$part3" = "$part" ] || fail "the messages went to partitions $part and $part3"
[ "$low" -gt "$total" ] || fail "the broker kept offset $total (first offset $low): nothing to lose"
committed=$total
total=$((total + big))
echo "partition $part now starts at offset $low of $total; committed $committed" >&2
start_daemon "$conf"
# This daemon's counters start at 0: it owes the offsets after the commit.
since_commit() {
    local s consumed skipped
    s=$(scrape)
    consumed=$(echo "$s" | metric_sum sensorbridge_consumer_messages_total)
    skipped=$(echo "$s" | metric 'sensorbridge_consumer_skipped_messages_total{topic="hydraulic-TS1"}')
    [ "$((consumed + ${skipped:-0}))" -eq "$((total - committed))" ]
}
wait_for 120 "consumed + skipped = $((total - committed)) after the restart" since_commit
s=$(scrape)
skipped=$(echo "$s" | metric 'sensorbridge_consumer_skipped_messages_total{topic="hydraulic-TS1"}')
resets=$(echo "$s" | metric sensorbridge_consumer_offset_resets_total)
echo "after the restart: skipped $skipped, resets $resets" >&2
[ "$skipped" -eq $((low - committed)) ] ||
    fail "skipped $skipped after the restart, expected $((low - committed)) (first offset $low - committed $committed)"
[ "${resets:-0}" -ge 1 ] || fail "no offset reset counted after the restart"
stop_daemon

# 3. A new group starts at offset 0, of which the broker kept only $low on.
set_key "$conf" consumer group_id retention-loss-new-group
start_daemon "$conf"
wait_for 120 "consumed + skipped = $total for a new group" accounted
skipped=$(scrape | metric 'sensorbridge_consumer_skipped_messages_total{topic="hydraulic-TS1"}')
[ "$skipped" -eq "$low" ] || fail "the new group skipped $skipped, expected $low (the first offset kept)"

stop_daemon
stop_pid "$MB_PID" "the mock broker"
echo "ok: retention loss counted within an assignment, after a restart and for a new group"
