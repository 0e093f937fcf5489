#!/bin/bash
# Fault matrix: SIGTERM under full load. One daemon replays sixteen cycles
# (PS2 and FS1 from their stand-ins) at speed max and consumes them
# (producer queue 10,000 messages; the replay is switched on by a reload
# once the consumer holds its partitions; no flow control, which would
# hold the sources with the queue empty whenever the consumer falls
# behind, so SIGTERM could find nothing queued). SIGTERM comes while the replay is
# going, with samples queued in the producer and the consumer behind. It
# must stop within the unit's stop budget (TimeoutStopSec, 30 s) with exit
# status 0: sources stopped, the queue flushed, what the consumer fetched
# applied and committed. Its last counts come from its log ("final count"
# lines). Then a consumer-only daemon of the same group resumes from the
# committed offsets and applies the rest: every sample the replay produced
# before the stop is on its topic and applied, none lost; what the second
# applied again (after a failed final commit) would be counted. /metrics
# answers on both throughout (on the first until its stop).
# Embedded broker: the standalone mock cluster, which outlives the daemons;
# SB_BROKER=kafka: a single-node Apache Kafka.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_mockbroker_sensors
ds=$(make_dataset 16)
expected=0
for s in $SB_SENSORS; do expected=$((expected + $(sensor_samples "$ds" "$s"))); done
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds" max
set_key "$conf" kafka brokers "$MB_BROKERS"
set_key "$conf" producer kafka.queue.buffering.max.messages 10000
set_key "$conf" producer max_consumer_lag 0
set_key "$conf" replay enabled false
pipeline_configs "$ds" max "$MB_BROKERS"
start_instance "$conf" "$SB_WORK/first.log"
FIRST_PID=$INST_PID FIRST_URL=$INST_URL
watch_metrics first "$FIRST_URL"
replay_when_ready "$conf" "$FIRST_PID" "$FIRST_URL"

# busy: a third delivered, the replay not finished, samples queued in the
# producer and the consumer behind: fewer samples applied than delivered.
# (Not the consumer's lag gauge: it is measured against the high watermark
# of the last fetch, so it reads 0 whenever the consumer has applied what
# it fetched, however far behind the broker's log end.) A replay that
# finishes first fails the test at once.
busy() {
    scrape_url "$FIRST_URL" > "$SB_WORK/busy.txt" || return 1
    local finished
    finished=$(curl -sf "$FIRST_URL/api/v1/status" | jq -r '.replay.finished') || return 1
    [ "$finished" = false ] || fail "the replay finished before the daemon was seen busy"
    local delivered
    delivered=$(metric_sum sensorbridge_messages_delivered_total < "$SB_WORK/busy.txt")
    behind=$((delivered - $(metric_sum sensorbridge_sensor_samples_consumed_total < "$SB_WORK/busy.txt")))
    [ "$delivered" -ge $((expected / 3)) ] &&
        [ "$(metric sensorbridge_producer_queue_messages < "$SB_WORK/busy.txt")" -gt 0 ] &&
        [ "$behind" -gt 0 ]
}
wait_for 60 "the replay to be a third delivered and still going, the consumer behind" busy
queued=$(metric sensorbridge_producer_queue_messages < "$SB_WORK/busy.txt")
lag=$behind
unwatch_metrics first
scrapes=$WATCH_SCRAPES
t0=$(date +%s.%N)
stop_pid "$FIRST_PID" "the daemon under load" 30
stop_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "[${SECONDS}s] stopped in $stop_s s with $queued queued and the consumer $lag behind" >&2
grep -q 'msg="producer flushed"' "$SB_WORK/first.log" || fault_problem "no 'producer flushed' line"
! grep -q 'flush timed out' "$SB_WORK/first.log" || fault_problem "the flush timed out"
! grep -qE 'delivery failed|produce failed' "$SB_WORK/first.log" || fault_problem "deliveries failed"
commit=ok
grep -q 'final commit failed' "$SB_WORK/first.log" && commit=failed
final_counts "$SB_WORK/first.log" > "$SB_WORK/first-final.txt"
produced=$(metric_sum sensorbridge_messages_produced_total < "$SB_WORK/first-final.txt")
applied1=$(metric_sum sensorbridge_sensor_samples_consumed_total < "$SB_WORK/first-final.txt")
[ "$produced" -gt 0 ] || fail "no final counts in the log of the stopped daemon"
[ "$produced" -lt "$expected" ] || fault_problem "the replay had finished at SIGTERM; nothing tested"

start_instance "$SB_WORK/consumer.conf" "$SB_WORK/second.log"
SECOND_PID=$INST_PID SECOND_URL=$INST_URL
watch_metrics second "$SECOND_URL"
wait_applied 120 "$MB_BROKERS" "$SB_WORK/first-final.txt" "$produced" \
    "$SB_WORK/first-final.txt" "$SECOND_URL"
unwatch_metrics second
scrapes=$((scrapes + WATCH_SCRAPES))
FAULT_PARTIAL=1 fault_account "$MB_BROKERS" "$ds" "$SB_WORK/first-final.txt" \
    "$SB_WORK/final-consumer1.txt $SB_WORK/final-consumer2.txt"
applied2=$(metric_sum sensorbridge_sensor_samples_consumed_total < "$SB_WORK/final-consumer2.txt")
stop_pid "$SECOND_PID" "the second daemon"
# A third member of the group finds every offset committed at the end of its
# partition: it reads nothing (so librdkafka has no position for any), and
# shows no lag (it showed each whole partition).
start_instance "$SB_WORK/consumer.conf" "$SB_WORK/third.log"
THIRD_PID=$INST_PID THIRD_URL=$INST_URL
lag_known() {
    [ "$(scrape_url "$THIRD_URL" | grep -c '^sensorbridge_consumer_lag_messages{topic="hydraulic-[A-Z]')" -ge 68 ]
}
wait_for 60 "the third daemon's lag of all 68 sample partitions" lag_known
lag3=$(scrape_url "$THIRD_URL" | metric_sum sensorbridge_consumer_lag_messages)
[ "$lag3" = 0 ] || fail "a consumer with every offset committed reports $lag3 messages of lag"
stop_pid "$THIRD_PID" "the third daemon"
stop_mockbroker
fault_report "SIGTERM to a daemon replaying at speed max (producer queue 10,000) and consuming, with $queued samples queued and its consumer $lag messages behind" \
    "exit 0 after $stop_s s (budget: TimeoutStopSec 30 s); the replay had produced $produced of $expected, all delivered by the flush; the first daemon applied $applied1 (final commit $commit), a second one of the group resumed from the committed offsets and applied $applied2; /metrics answered $scrapes scrapes, none failed"
