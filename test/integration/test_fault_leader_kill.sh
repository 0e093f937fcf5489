#!/bin/bash
# Fault matrix: the partition leader killed in a 3-node cluster. Apache
# Kafka with three nodes; sensorbridge creates its topics with replication
# factor 3 and min.insync.replicas = 2 and produces with acks=all. A
# consumer-only daemon joins the group, then a producer-only daemon replays
# two cycles at speed 10; a quarter into the replay the node that leads the
# partition holding PS1 (a 100 Hz sensor) is killed with SIGKILL and stays
# down. Another replica takes over the partition (the metadata names a new
# leader), two replicas stay in sync, so acks=all writes go on;
# every sample is on its topic exactly once and applied (what the consumer
# applied again from its committed offsets, if its group coordinator was on
# the killed node, is counted). /metrics of both daemons answers throughout.
# Real Kafka only: the embedded broker does not replicate.
SB_BIN=$1
SB_SOURCE_ROOT=$2
SB_BROKER=kafka
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_kafka 3
make_sensor_topics replication_factor 3 topic.min.insync.replicas 2
grep -q 'msg="topic created" topic=hydraulic-PS1 partitions=4 replication_factor=3 configs=2' "$SB_WORK/topics.log" ||
    fail "hydraulic-PS1 was not created with 3 replicas and min.insync.replicas"
ds=$(make_dataset)
total=0
for s in $SB_SENSORS; do total=$((total + $(sensor_samples "$ds" "$s"))); done
pipeline_configs "$ds" 10 "$KAFKA_BROKERS"
set_key "$SB_WORK/producer.conf" producer kafka.acks all
start_pipeline
watch_metrics consumer "$C_URL"
watch_metrics producer "$P_URL"
wait_for 60 "a quarter of the replay delivered" delivered_at_least "$P_URL" $((total / 4))

# The partition PS1's key went to and its leader, as kcat sees them.
part=$(timeout 30 kcat -C -q -b "$KAFKA_BROKERS" -t hydraulic-PS1 -o beginning -c 1 -f '%p\n') ||
    fail "kcat could not read hydraulic-PS1"
leader_of() {
    kcat -L -b "$KAFKA_BROKERS" -t hydraulic-PS1 2>/dev/null |
        sed -n "s/^ *partition $part, leader \([0-9-]*\), replicas: .*, isrs: \(.*\)$/\1 \2/p"
}
read -r leader isrs < <(leader_of)
[ -n "$leader" ] && [ "$leader" -ge 1 ] || fail "no leader for hydraulic-PS1 [$part]"
"$SB_SOURCE_ROOT/test/tools/kafka.sh" kill-node "$KAFKA_DIR" "$leader" || fail "could not kill node $leader"
d1=$(scrape_url "$P_URL" | metric_sum sensorbridge_messages_delivered_total)
echo "[${SECONDS}s] node $leader (leader of hydraulic-PS1 [$part], in sync: $isrs) killed" >&2
[ "$d1" -lt "$total" ] || fault_problem "everything was delivered before the kill; nothing tested"
new_leader() {
    read -r NEW_LEADER NEW_ISRS < <(leader_of)
    [ -n "$NEW_LEADER" ] && [ "$NEW_LEADER" -ge 1 ] && [ "$NEW_LEADER" != "$leader" ]
}
wait_for 60 "another leader for hydraulic-PS1 [$part]" new_leader

wait_applied 120 "$KAFKA_BROKERS" "$P_URL" "$total" "$C_URL"
unwatch_metrics consumer
scrapes=$WATCH_SCRAPES
unwatch_metrics producer
scrapes=$((scrapes + WATCH_SCRAPES))
fault_account "$KAFKA_BROKERS" "$ds" "$SB_WORK/final-producer.txt" "$SB_WORK/final-consumer1.txt"
lost_assignments=$(grep -c 'msg="partitions revoked".* lost=yes' "$C_LOG" || true)
stop_pid "$P_PID" "the producer"
stop_pid "$C_PID" "the consumer"
fault_report "node $leader, the leader of hydraulic-PS1 [$part], killed (SIGKILL) a quarter into the replay; replication factor 3, min.insync.replicas 2, acks=all" \
    "$d1 of $total delivered before the kill; node $NEW_LEADER took over the partition (in sync: $NEW_ISRS); the consumer lost its partitions $lost_assignments time(s); /metrics answered $scrapes scrapes, none failed"
