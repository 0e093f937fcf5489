#!/bin/bash
# A producer queue of 500 messages at speed max: the queue fills, the
# sources pause instead of dropping, and every count is still exact.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

ds=$(make_dataset)
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds" max
set_key "$conf" producer kafka.queue.buffering.max.messages 500
# The embedded default linger of 100 ms would make each refill of so small a
# queue wait 100 ms (about 25 s in all); 5 ms keeps the test short.
set_key "$conf" producer kafka.linger.ms 5
start_daemon "$conf"
grep -q 'msg="producer started".* queue_max=500$' "$SB_LOG" || fail "the producer queue is not 500 messages"

total=$(samples_in_cycles 2)
wait_metric sensorbridge_consumer_messages_total "$total" 120
finished() { curl -sf "$SB_URL/api/v1/status" | jq -e '.replay.finished == true' > /dev/null; }
wait_for 30 "the replay to finish" finished
scrape > "$SB_WORK/scrape.txt"
m() { metric "$1" < "$SB_WORK/scrape.txt"; }

qf=$(m sensorbridge_producer_queue_full_total)
[ -n "$qf" ] && [ "$qf" -gt 0 ] || fail "the queue was never full (queue_full_total '$qf')"
[ "$(m sensorbridge_replay_paused)" = 0 ] || fail "the replay is still paused"
[ "$(m sensorbridge_producer_queue_messages)" = 0 ] || fail "messages left in the producer queue"
for name in sensorbridge_messages_produced_total sensorbridge_messages_delivered_total \
            sensorbridge_sensor_samples_consumed_total; do
    got=$(metric_sum "$name" < "$SB_WORK/scrape.txt")
    [ "$got" = "$total" ] || fail "$name sums to $got, expected $total"
done
[ "$(metric_sum sensorbridge_messages_delivery_failed_total < "$SB_WORK/scrape.txt")" = 0 ] \
    || fail "deliveries failed"
for s in $SB_SENSORS; do
    want=$((2 * 60 * $(sensor_rate "$s")))
    for name in sensorbridge_messages_produced_total sensorbridge_messages_delivered_total \
                sensorbridge_sensor_samples_consumed_total; do
        got=$(m "$name{sensor=\"$s\"}")
        [ "$got" = "$want" ] || fail "$s: $name is $got, expected $want"
    done
done
[ "$(metric_sum sensorbridge_consumer_invalid_messages_total < "$SB_WORK/scrape.txt")" = 0 ] \
    || fail "invalid messages were counted"
# The queue was full and the replay paused more than once: it resumed
# each time (else the counts above could not be complete).
echo "queue full $qf times" >&2

stop_daemon
grep -q 'flush timed out' "$SB_LOG" && fail "the shutdown flush timed out"
echo "ok: backpressure"
