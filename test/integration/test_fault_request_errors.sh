#!/bin/bash
# Fault matrix: injected request errors and high round-trip times on the
# embedded broker (the standalone mock cluster, 3 brokers). A consumer-only
# daemon joins the group, then a producer-only daemon replays two cycles at
# speed 10. A quarter into the replay every broker answers 1 s late for 3 s;
# then each broker fails its next requests with retriable errors: Produce
# (NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS; a failed
# Produce writes nothing), Fetch (NOT_LEADER_OR_FOLLOWER), OffsetCommit (NOT_COORDINATOR,
# COORDINATOR_LOAD_IN_PROGRESS) and Heartbeat (REBALANCE_IN_PROGRESS: the
# group rebalances). The mock broker says how many of the errors the
# clients met. Every sample is on its topic exactly once and applied,
# /metrics of both daemons answers throughout.
# The producer sends one request at a time here
# (max.in.flight.requests.per.connection = 1): when a Produce fails with a
# retriable error while a later one of the same partition is in flight,
# librdkafka's idempotent producer counts on the broker to refuse the later
# one (out of sequence) and, when it succeeds instead, takes the failed
# batch as written too (rd_kafka_dr_implicit_ack); the mock checks no
# sequence numbers, so that batch is acknowledged and never written. With
# five requests in flight (the default) this test lost one sample of
# 87,360 in four of seven runs (the delivery report said it was delivered;
# it was never on its topic). A real broker cannot do that, and the mock
# makes no Produce errors unless told to.
# Embedded broker only: the faults are the mock cluster's injection.
SB_BIN=$1
SB_SOURCE_ROOT=$2
SB_BROKER=embedded
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_mockbroker_sensors
ds=$(make_dataset)
total=0
for s in $SB_SENSORS; do total=$((total + $(sensor_samples "$ds" "$s"))); done
pipeline_configs "$ds" 10 "$MB_BROKERS"
set_key "$SB_WORK/producer.conf" producer kafka.max.in.flight.requests.per.connection 1
start_pipeline
watch_metrics consumer "$C_URL"
watch_metrics producer "$P_URL"
wait_for 60 "a quarter of the replay delivered" delivered_at_least "$P_URL" $((total / 4))

# ---- round-trip time: 1 s on every broker for 3 s ----
d0=$(scrape_url "$P_URL" | metric_sum sensorbridge_messages_delivered_total)
mockbroker_run "rtt -1 1000"
sleep 3
scrape_url "$P_URL" > "$SB_WORK/rtt-producer.txt"
scrape_url "$C_URL" > "$SB_WORK/rtt-consumer.txt"
mockbroker_run "rtt -1 0"
d1=$(metric_sum sensorbridge_messages_delivered_total < "$SB_WORK/rtt-producer.txt")
rtt_queued=$(metric sensorbridge_producer_queue_messages < "$SB_WORK/rtt-producer.txt")
rtt_lag=$(metric_sum sensorbridge_consumer_lag_messages < "$SB_WORK/rtt-consumer.txt")
echo "[${SECONDS}s] 3 s of 1 s round trips: $((d1 - d0)) delivered, $rtt_queued queued, consumer $rtt_lag behind" >&2

# ---- request errors: each of the 3 brokers gets every list ----
produce_errs=6,7,19,6,7,19,6,7,19,6
fetch_errs=6,6,6,6,6
commit_errs=16,14,16
heartbeat_errs=27
mockbroker_run "errors -1 0 $produce_errs" "errors -1 1 $fetch_errs" \
    "errors -1 8 $commit_errs" "errors -1 12 $heartbeat_errs"
echo "[${SECONDS}s] request errors pushed" >&2
pending() {
    mockbroker_run "pending -1 $1"
    echo "${MB_RESULT##*: }"
}
# Every broker leads partitions, so each meets Produce and Fetch requests;
# OffsetCommit and Heartbeat go to the group coordinator only, one broker.
n_of() { tr ',' '\n' <<< "$1" | wc -l; }
met() { [ "$(pending "$1")" -le "$2" ]; }
wait_for 60 "every broker's Produce errors to be met" met 0 0
wait_for 60 "every broker's Fetch errors to be met" met 1 0
wait_for 60 "the coordinator's OffsetCommit errors to be met" met 8 $((2 * $(n_of $commit_errs)))
wait_for 60 "the coordinator's Heartbeat error to be met" met 12 $((2 * $(n_of $heartbeat_errs)))
met_produce=$((3 * $(n_of $produce_errs)))
met_fetch=$((3 * $(n_of $fetch_errs)))
met_commit=$((3 * $(n_of $commit_errs) - $(pending 8)))
met_heartbeat=$((3 * $(n_of $heartbeat_errs) - $(pending 12)))
echo "[${SECONDS}s] errors met: Produce $met_produce, Fetch $met_fetch, OffsetCommit $met_commit, Heartbeat $met_heartbeat" >&2

wait_applied 120 "$MB_BROKERS" "$P_URL" "$total" "$C_URL"
unwatch_metrics consumer
scrapes=$WATCH_SCRAPES
unwatch_metrics producer
scrapes=$((scrapes + WATCH_SCRAPES))
fault_account "$MB_BROKERS" "$ds" "$SB_WORK/final-producer.txt" "$SB_WORK/final-consumer1.txt"
rebalances=$(grep -c 'msg="partitions assigned"' "$C_LOG" || true)
stop_pid "$P_PID" "the producer"
stop_pid "$C_PID" "the consumer"
stop_mockbroker
fault_report "every broker answered 1 s late for 3 s a quarter into the replay; then retriable errors on the next requests of each broker: Produce ($produce_errs), Fetch ($fetch_errs), OffsetCommit ($commit_errs), Heartbeat ($heartbeat_errs)" \
    "during the 3 s of 1 s round trips $((d1 - d0)) samples were delivered, $rtt_queued queued, the consumer $rtt_lag behind; the clients met $met_produce Produce, $met_fetch Fetch, $met_commit OffsetCommit and $met_heartbeat Heartbeat errors; the consumer was assigned its partitions $rebalances times; /metrics answered $scrapes scrapes, none failed"
