#!/bin/bash
# Fault matrix: one of two group members killed with SIGKILL. Two
# consumer-only daemons share the group's partitions (auto.commit.interval.ms
# 5000, so a member's applied samples wait up to 5 s to be committed), then a
# producer-only daemon replays two cycles at speed 10. A third into the
# replay member b is killed: for b's count to be exact, the producer is
# stopped (SIGSTOP) just before, b applies what is on its partitions, its
# last scrape is taken, it is killed, and the producer goes on (SIGCONT).
# Member a takes b's partitions once the group notices (session.timeout.ms
# 6000) and resumes from b's committed offsets: every sample is applied, none
# is lost; what b applied after its last commit is applied again by a, and
# so is what a applied of its own partitions after its last commit if its
# commit before the rebalance fails (the mock refuses commits during a
# rebalance): both counted. /metrics answers throughout on a, on b until the
# kill and on the producer except while it is stopped.
# Embedded broker: the standalone mock cluster (its group coordinator);
# SB_BROKER=kafka: a single-node Apache Kafka.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_mockbroker_sensors
ds=$(make_dataset)
total=0
for s in $SB_SENSORS; do total=$((total + $(sensor_samples "$ds" "$s"))); done
pipeline_configs "$ds" 10 "$MB_BROKERS"
set_key "$SB_WORK/consumer.conf" consumer kafka.auto.commit.interval.ms 5000

# holds URL: the partitions a member holds now, -1 while it is not ready.
holds() {
    curl -sf "$1/api/v1/status" | jq -r 'if .ready then (.consumer.partitions | length) else -1 end'
}
# The partitions the members' pattern (^hydraulic-.*) matches.
parts=$(kcat -L -b "$MB_BROKERS" 2>/dev/null |
    sed -n 's/^ *topic "hydraulic-[^"]*" with \([0-9]*\) partitions:$/\1/p' | awk '{ s += $1 } END { print s + 0 }')
[ "$parts" -gt 0 ] || fail "no hydraulic-* partitions on the broker"
start_instance "$SB_WORK/consumer.conf" "$SB_WORK/a.log"
A_PID=$INST_PID A_URL=$INST_URL
start_instance "$SB_WORK/consumer.conf" "$SB_WORK/b.log"
B_PID=$INST_PID B_URL=$INST_URL
shared() {
    local a b
    a=$(holds "$A_URL") b=$(holds "$B_URL")
    [ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ $((a + b)) = "$parts" ]
}
wait_for 120 "the two members to share the $parts partitions" shared
b_parts=$(holds "$B_URL")
P_LOG=$SB_WORK/producer.log
start_instance "$SB_WORK/producer.conf" "$P_LOG"
P_PID=$INST_PID P_URL=$INST_URL
watch_metrics a "$A_URL"
watch_metrics b "$B_URL"
watch_metrics producer "$P_URL"
wait_for 60 "a third of the replay delivered" delivered_at_least "$P_URL" $((total / 3))

# b's last count: nothing new arrives while the producer is stopped, so once
# b is at the end of its partitions its scrape is final.
unwatch_metrics producer
scrapes=$WATCH_SCRAPES
kill -STOP "$P_PID"
b_done() {
    scrape_url "$B_URL" > "$SB_WORK/b-last.txt" &&
        [ "$(metric_sum sensorbridge_consumer_lag_messages < "$SB_WORK/b-last.txt")" = 0 ] &&
        [ "$(metric sensorbridge_ready < "$SB_WORK/b-last.txt")" = 1 ]
}
wait_for 30 "member b to apply what is on its partitions" b_done
unwatch_metrics b
scrapes=$((scrapes + WATCH_SCRAPES))
kill -KILL "$B_PID"
wait "$B_PID" 2>/dev/null || true
untrack_pid "$B_PID"
kill -CONT "$P_PID"
watch_metrics producer "$P_URL"
b_applied=$(metric_sum sensorbridge_sensor_samples_consumed_total < "$SB_WORK/b-last.txt")
d1=$(scrape_url "$P_URL" | metric_sum sensorbridge_messages_delivered_total)
echo "[${SECONDS}s] member b ($b_parts partitions, $b_applied samples applied) killed; $d1 of $total delivered" >&2

all_on_a() { [ "$(holds "$A_URL")" = "$parts" ]; }
wait_for 60 "member a to take all $parts partitions" all_on_a
wait_applied 120 "$MB_BROKERS" "$P_URL" "$total" "$A_URL" "$SB_WORK/b-last.txt"
unwatch_metrics a
scrapes=$((scrapes + WATCH_SCRAPES))
unwatch_metrics producer
scrapes=$((scrapes + WATCH_SCRAPES))
fault_account "$MB_BROKERS" "$ds" "$SB_WORK/final-producer.txt" \
    "$SB_WORK/final-consumer1.txt $SB_WORK/final-consumer2.txt"
# What a applied again, of b's former sensors (b's series) and of its own
# (a's commit at the rebalance can fail: the mock refuses commits during a
# rebalance).
b_sensors=" $(sed -n 's/^sensorbridge_sensor_samples_consumed_total{sensor="\([A-Z0-9]*\)"} .*/\1/p' "$SB_WORK/b-last.txt" | tr '\n' ' ')"
again_b=$(awk -F'\t' -v b="$b_sensors" 'index(b, " " $1 " ") { s += $9 } END { print s + 0 }' "$SB_WORK/fault-sensors.tsv")
again_a=$(awk -F'\t' -v b="$b_sensors" '!index(b, " " $1 " ") { s += $9 } END { print s + 0 }' "$SB_WORK/fault-sensors.tsv")
commit_failed=$(grep -c 'msg="commit before revocation failed"' "$SB_WORK/a.log" || true)
stop_pid "$P_PID" "the producer"
stop_pid "$A_PID" "member a"
stop_mockbroker
fault_report "member b of two killed (SIGKILL) a third into the replay (the producer stopped for the moment of b's last scrape); auto.commit.interval.ms 5000" \
    "b held $b_parts of $parts partitions and had applied $b_applied samples; a took all $parts and applied again $again_b samples of b's sensors (applied by b after its last commit) and $again_a of its own (its commit before giving up its partitions failed $commit_failed time(s)); /metrics answered $scrapes scrapes, none failed"
