#!/bin/bash
# Replication factor 3 on a 3-node Apache Kafka with acks=all: sensorbridge
# creates its topics with [kafka] replication_factor = 3 and the topic config
# min.insync.replicas = 2 (kcat's metadata shows three replicas, all in
# sync), produces with acks=all, and when one of the three brokers is
# stopped in the middle of the replay every sample is still delivered and
# applied exactly once: produced = delivered = consumed, per sensor.
# Only on a real cluster: the embedded broker does not replicate.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_kafka 3
ds=$(make_dataset)
total=$(samples_in_cycles 2)
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds" 20
set_key "$conf" kafka brokers "$KAFKA_BROKERS"
set_key "$conf" kafka replication_factor 3
set_key "$conf" kafka topic.min.insync.replicas 2
set_key "$conf" producer kafka.acks all
start_daemon "$conf"

wait_log "$SB_LOG" 'msg="topic created" topic=hydraulic-TS1 partitions=4 replication_factor=3 configs=2' 30
replicated() {
    kcat -L -b "$KAFKA_BROKERS" -t hydraulic-TS1 > "$SB_WORK/md.txt" 2>/dev/null || return 1
    [ "$(grep -cE 'partition [0-3], leader [1-3], replicas: [1-3],[1-3],[1-3], isrs: [1-3],[1-3],[1-3]$' "$SB_WORK/md.txt")" = 4 ]
}
wait_for 30 "hydraulic-TS1's 4 partitions with 3 replicas in sync" replicated

# At speed 20 two cycles take 6 s: stop broker 2 once the replay is going.
producing() { [ "$(scrape | metric_sum sensorbridge_messages_delivered_total)" -gt 1000 ] 2>/dev/null; }
wait_for 60 "the first deliveries" producing
node2=$(sed -n 2p "$KAFKA_DIR/pids")
kill -TERM "$node2" || fail "cannot stop broker 2 (pid $node2)"
echo "[${SECONDS}s] broker 2 stopped mid-replay" >&2

is_total() {
    local n
    n=$(scrape | metric_sum sensorbridge_consumer_messages_total)
    [ "$n" -le "$total" ] || fail "consumed $n messages, more than the $total produced"
    [ "$n" = "$total" ]
}
wait_for 180 "$total samples consumed with one broker down" is_total
scrape > "$SB_WORK/scrape.txt"
promtool check metrics < "$SB_WORK/scrape.txt" || fail "promtool rejected the scrape"
for s in $SB_SENSORS; do
    want=$((2 * 60 * $(sensor_rate "$s")))
    for m in messages_produced_total messages_delivered_total sensor_samples_consumed_total; do
        got=$(metric "sensorbridge_$m{sensor=\"$s\"}" < "$SB_WORK/scrape.txt")
        [ "$got" = "$want" ] || fail "$s: $m is $got, expected $want"
    done
done
[ "$(metric_sum sensorbridge_messages_delivery_failed_total < "$SB_WORK/scrape.txt")" = 0 ] ||
    fail "deliveries failed"
# The survivors hold every message: kcat reads TS1's 120 from them.
kcat -C -b "$KAFKA_BROKERS" -t hydraulic-TS1 -o beginning -e -q -f '%s\n' > "$SB_WORK/ts1.txt" ||
    fail "kcat could not read hydraulic-TS1 from the surviving brokers"
[ "$(wc -l < "$SB_WORK/ts1.txt")" = 120 ] || fail "kcat read $(wc -l < "$SB_WORK/ts1.txt") TS1 messages, not 120"
stop_daemon
echo "ok: kafka replication (Kafka $KAFKA_VERSION, 3 nodes, one stopped)"
