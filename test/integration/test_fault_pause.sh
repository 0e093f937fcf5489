#!/bin/bash
# Fault matrix: the broker paused (SIGSTOP) for longer than the clients'
# request timeout. A consumer-only daemon joins the group, then a
# producer-only daemon replays two cycles at speed 10; both run with
# socket.timeout.ms = 3000 (librdkafka's timeout for a request in flight,
# producer and consumer alike). A quarter into the replay every broker
# process is stopped for 6 s: nothing is delivered, requests time out and
# are retried, the consumer's group session runs out. Once the broker runs
# again every sample is on its topic and applied; what the consumer applied
# again after losing its partitions (from its committed offsets) is counted.
# /metrics of both daemons answers throughout.
# Embedded broker: the standalone mock cluster (mockbroker) is stopped;
# SB_BROKER=kafka: the JVM of a single-node Apache Kafka, where the
# idempotent producer must write no sample twice (a request the broker took
# before the pause and answered after the timeout is not written again).
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

pause_s=6
start_mockbroker_sensors
if [ "$SB_BROKER" = kafka ]; then
    mapfile -t broker_pids < "$KAFKA_DIR/pids"
else
    broker_pids=("$MB_PID")
    # librdkafka's mock cluster checks no producer sequence numbers (its
    # Produce handler appends every batch), so a batch retried after a
    # timeout is written again: counted, see the row.
    FAULT_TOPIC_DUPLICATES=counted
fi

ds=$(make_dataset)
total=0
for s in $SB_SENSORS; do total=$((total + $(sensor_samples "$ds" "$s"))); done
pipeline_configs "$ds" 10 "$MB_BROKERS"
set_key "$SB_WORK/producer.conf" producer kafka.socket.timeout.ms 3000
set_key "$SB_WORK/consumer.conf" consumer kafka.socket.timeout.ms 3000
start_pipeline
watch_metrics consumer "$C_URL"
watch_metrics producer "$P_URL"
wait_for 60 "a quarter of the replay delivered" delivered_at_least "$P_URL" $((total / 4))

kill -STOP "${broker_pids[@]}"
echo "[${SECONDS}s] broker paused" >&2
# Responses already on their way are taken in the first second; after that
# nothing can be delivered until the broker runs again.
sleep 1
d1=$(scrape_url "$P_URL" | metric_sum sensorbridge_messages_delivered_total)
sleep $((pause_s - 1))
scrape_url "$P_URL" > "$SB_WORK/paused.txt"
kill -CONT "${broker_pids[@]}"
echo "[${SECONDS}s] broker running again" >&2
d2=$(metric_sum sensorbridge_messages_delivered_total < "$SB_WORK/paused.txt")
queued=$(metric sensorbridge_producer_queue_messages < "$SB_WORK/paused.txt")
[ "$d2" = "$d1" ] || fault_problem "$((d2 - d1)) messages delivered while the broker was stopped"
[ "$d1" -lt "$total" ] || fault_problem "everything was delivered before the pause; nothing tested"
timeouts=$(cat "$C_LOG" "$P_LOG" | grep -c 'request(s) timed out' || true)
[ "$timeouts" -gt 0 ] || fault_problem "no request timed out during the ${pause_s} s pause"

wait_applied 120 "$MB_BROKERS" "$P_URL" "$total" "$C_URL"
unwatch_metrics consumer
scrapes=$WATCH_SCRAPES
unwatch_metrics producer
scrapes=$((scrapes + WATCH_SCRAPES))
fault_account "$MB_BROKERS" "$ds" "$SB_WORK/final-producer.txt" "$SB_WORK/final-consumer1.txt"
lost_assignments=$(grep -c 'msg="partitions revoked".* lost=yes' "$C_LOG" || true)
stop_pid "$P_PID" "the producer"
stop_pid "$C_PID" "the consumer"
stop_mockbroker
fault_report "every broker process stopped (SIGSTOP) for ${pause_s} s a quarter into the replay; clients' socket.timeout.ms 3000" \
    "$d1 of $total delivered before the pause, none during it ($queued queued at its end); $timeouts timed-out request lines in the logs; the consumer lost its partitions $lost_assignments time(s); /metrics answered $scrapes scrapes, none failed"
