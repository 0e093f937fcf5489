#!/bin/bash
# Fault matrix: the broker killed with SIGKILL in the middle of a replay and
# started again. A consumer-only daemon joins the group on a single-node
# Apache Kafka, then a producer-only daemon replays two cycles at speed 10.
# A quarter into the replay the broker's JVM is killed (no clean shutdown:
# Kafka recovers its log at the next start); the producer buffers, /readyz
# of both daemons says the brokers do not answer; the node is started again
# with its data. Then every sample is on its topic and applied; what the
# consumer applied again after the restart (from its committed offsets) is
# counted, and so are samples on the topic twice: in 4 of 10 runs the
# restarted broker wrote a batch again that it had written before the kill
# (librdkafka resent it with the same producer id, epoch and sequence after
# the connection broke; the partition had come back through an unclean
# leader election, its only replica having left the ISR when the killed
# broker's session expired), so the idempotent producer's promise of no
# duplicate does not hold for this fault (docs/operations.md, Broker
# outage). /metrics of both daemons answers
# throughout.
# Real Kafka only: the embedded broker is in memory, a killed one is gone
# with its data (its outage without loss is test_broker_outage).
SB_BIN=$1
SB_SOURCE_ROOT=$2
SB_BROKER=kafka
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_mockbroker_sensors
FAULT_TOPIC_DUPLICATES=counted
ds=$(make_dataset)
total=0
for s in $SB_SENSORS; do total=$((total + $(sensor_samples "$ds" "$s"))); done
pipeline_configs "$ds" 10 "$KAFKA_BROKERS"
start_pipeline
watch_metrics consumer "$C_URL"
watch_metrics producer "$P_URL"
wait_for 60 "a quarter of the replay delivered" delivered_at_least "$P_URL" $((total / 4))

"$SB_SOURCE_ROOT/test/tools/kafka.sh" kill-node "$KAFKA_DIR" 1 || fail "could not kill the broker"
echo "[${SECONDS}s] broker killed" >&2
readyz_says() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/readyz")" = "$2" ]; }
wait_for 30 "the producer's /readyz to answer 503 with the broker gone" readyz_says "$P_URL" 503
wait_for 30 "the consumer's /readyz to answer 503 with the broker gone" readyz_says "$C_URL" 503
d1=$(scrape_url "$P_URL" | metric_sum sensorbridge_messages_delivered_total)
"$SB_SOURCE_ROOT/test/tools/kafka.sh" start-node "$KAFKA_DIR" 1 || fail "could not start the broker again"
echo "[${SECONDS}s] broker back" >&2
scrape_url "$P_URL" > "$SB_WORK/back.txt"
queued=$(metric sensorbridge_producer_queue_messages < "$SB_WORK/back.txt")
[ "$d1" -lt "$total" ] || fault_problem "everything was delivered before the kill; nothing tested"

wait_applied 120 "$KAFKA_BROKERS" "$P_URL" "$total" "$C_URL"
wait_for 30 "the producer's /readyz to answer 200 again" readyz_says "$P_URL" 200
unwatch_metrics consumer
scrapes=$WATCH_SCRAPES
unwatch_metrics producer
scrapes=$((scrapes + WATCH_SCRAPES))
fault_account "$KAFKA_BROKERS" "$ds" "$SB_WORK/final-producer.txt" "$SB_WORK/final-consumer1.txt"
lost_assignments=$(grep -c 'msg="partitions revoked".* lost=yes' "$C_LOG" || true)
stop_pid "$P_PID" "the producer"
stop_pid "$C_PID" "the consumer"
fault_report "the broker's JVM killed (SIGKILL) a quarter into the replay, then started again with its data" \
    "$d1 of $total delivered before the kill, $queued queued when the broker was back; /readyz 503 on both daemons while it was gone, 200 after; the consumer lost its partitions $lost_assignments time(s); /metrics answered $scrapes scrapes, none failed"
