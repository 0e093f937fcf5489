#!/bin/bash
# Messages deleted by the broker before the consumer read them are counted,
# not silently lost. The mock cluster keeps 5 MiB per partition: the daemon
# consumes a few messages, is stopped (SIGSTOP) while kcat writes ~9 MB to
# the same partition, and resumes. Its position is now below the partition's
# first offset, librdkafka resets it (auto.offset.reset = earliest), and
#   consumed + skipped = every offset ever written,
#   skipped = the offsets the broker deleted after the daemon's last read,
#   sensorbridge_consumer_offset_resets_total >= 1.
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

stop_daemon
stop_pid "$MB_PID" "the mock broker"
echo "ok: retention loss counted"
