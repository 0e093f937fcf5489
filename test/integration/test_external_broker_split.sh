#!/bin/bash
# The two halves on different "hosts": a standalone mock cluster
# (build/test/mockbroker) with the 17 sensor topics, one producer-only daemon
# replaying two cycles, one consumer-only daemon in group sb-one that must
# end with the exact per-sensor counts, and two consumer-only daemons in
# group sb-two that share the partitions: each consumes a share, together
# exactly everything, every sensor on exactly one of them.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

# Only the sensor topics. The mock auto-creates a topic a client asks
# metadata for, and a new topic that matches the consumers' pattern would
# rebalance both groups in the middle of the test: a producer-only daemon
# must not touch the aggregates and alerts topics (it has nothing to write
# there), and the check at the end proves it did not.
start_mockbroker_sensors --sensors-only
all_parts=$((${#SB_TOPICS[@]} * 4))
half_parts=$((all_parts / 2))

ds=$(make_dataset)
total=$(samples_in_cycles 2)

# consumer_config FILE GROUP
consumer_config() {
    write_config "$1" "$SB_WORK/unused" max
    set_key "$1" kafka brokers "$MB_BROKERS"
    set_key "$1" producer enabled false
    set_key "$1" replay enabled false
    set_key "$1" consumer group_id "$2"
}
consumer_config "$SB_WORK/one.conf" sb-one
consumer_config "$SB_WORK/two.conf" sb-two

start_instance "$SB_WORK/one.conf" "$SB_WORK/one.log"
ONE_PID=$INST_PID ONE_URL=$INST_URL
start_instance "$SB_WORK/two.conf" "$SB_WORK/two-a.log"
A_PID=$INST_PID A_URL=$INST_URL
start_instance "$SB_WORK/two.conf" "$SB_WORK/two-b.log"
B_PID=$INST_PID B_URL=$INST_URL

# last_assigned LOG: the partition count of the last assignment, or empty.
last_assigned() {
    sed -n 's/.*msg="partitions assigned" count=\([0-9]*\).*/\1/p' "$1" | tail -n 1
}
# settled: sb-one holds every partition; sb-two has two halves.
settled() {
    [ "$(last_assigned "$SB_WORK/one.log")" = "$all_parts" ] &&
        [ "$(last_assigned "$SB_WORK/two-a.log")" = "$half_parts" ] &&
        [ "$(last_assigned "$SB_WORK/two-b.log")" = "$half_parts" ]
}
# The mock's group joins take seconds, a rebalance up to session.timeout.ms.
wait_for 120 "the consumer groups to settle (sb-one $all_parts partitions, sb-two $half_parts + $half_parts)" settled
echo "[${SECONDS}s] consumer groups settled" >&2
# assignments: how many assignments and revocations the three logs hold.
assignments() {
    cat "$SB_WORK/one.log" "$SB_WORK/two-a.log" "$SB_WORK/two-b.log" | grep -cE 'msg="partitions (assigned|revoked)"'
}
assigned_at_start=$(assignments)
grep -q 'msg="consumer started".* bootstraps='"$MB_BROKERS" "$SB_WORK/one.log" \
    || fail "the consumer does not use the external bootstrap list"

# Only now the producer-only daemon: the groups do not move while data flows.
write_config "$SB_WORK/producer.conf" "$ds" max
set_key "$SB_WORK/producer.conf" kafka brokers "$MB_BROKERS"
set_key "$SB_WORK/producer.conf" consumer enabled false
start_instance "$SB_WORK/producer.conf" "$SB_WORK/producer.log"
P_PID=$INST_PID P_URL=$INST_URL
grep -q 'embedded broker' "$SB_WORK/producer.log" && fail "the producer started an embedded broker"

sum_of() { scrape_url "$1" | metric_sum "$2"; }
# is_total URL NAME: the sum is the total; more fails at once (duplicates).
is_total() {
    local n
    n=$(sum_of "$1" "$2")
    [ "${n:-0}" -le "$total" ] || fail "$2 at $1 is $n, more than the $total produced"
    [ "$n" = "$total" ]
}
wait_for 120 "the producer to have $total deliveries" is_total "$P_URL" sensorbridge_messages_delivered_total
wait_for 120 "sb-one to consume $total messages" is_total "$ONE_URL" sensorbridge_consumer_messages_total
two_total() {
    local n=$(($(sum_of "$A_URL" sensorbridge_consumer_messages_total) +
               $(sum_of "$B_URL" sensorbridge_consumer_messages_total)))
    [ "$n" -le "$total" ] || fail "sb-two consumed $n messages, more than the $total produced"
    [ "$n" -eq "$total" ]
}
wait_for 120 "sb-two to consume $total messages between its two members" two_total

scrape_url "$P_URL" > "$SB_WORK/p.txt"
scrape_url "$ONE_URL" > "$SB_WORK/one.txt"
scrape_url "$A_URL" > "$SB_WORK/a.txt"
scrape_url "$B_URL" > "$SB_WORK/b.txt"
for f in p one a b; do
    promtool check metrics < "$SB_WORK/$f.txt" || fail "promtool check metrics rejected the scrape of $f"
done
# The producer consumes nothing, the consumers produce nothing.
grep -q '^sensorbridge_consumer_messages_total' "$SB_WORK/p.txt" && fail "the producer-only daemon has a consumer"
grep -q '^sensorbridge_messages_produced_total' "$SB_WORK/one.txt" && fail "a consumer-only daemon has a producer"
[ "$(metric_sum sensorbridge_messages_delivery_failed_total < "$SB_WORK/p.txt")" = 0 ] || fail "deliveries failed"

a_sensors=0
b_sensors=0
for s in $SB_SENSORS; do
    want=$((2 * 60 * $(sensor_rate "$s")))
    k="{sensor=\"$s\"}"
    got=$(metric "sensorbridge_messages_produced_total$k" < "$SB_WORK/p.txt")
    [ "$got" = "$want" ] || fail "$s: produced $got, expected $want"
    got=$(metric "sensorbridge_messages_delivered_total$k" < "$SB_WORK/p.txt")
    [ "$got" = "$want" ] || fail "$s: delivered $got, expected $want"
    got=$(metric "sensorbridge_sensor_samples_consumed_total$k" < "$SB_WORK/one.txt")
    [ "$got" = "$want" ] || fail "$s: sb-one consumed $got, expected $want"
    # The last sample of cycle 1, as in test_replay_e2e.
    f=$ds/$s.txt
    [ -f "$f" ] || f=$ds/standin/${s}_1hz.txt
    last=$(sed -n 2p "$f" | tr -d '\r' | awk -F'\t' '{ print $NF }')
    got=$(metric "sensorbridge_sensor_value$k" < "$SB_WORK/one.txt")
    numeq "$got" "$last" || fail "$s: sb-one last value $got, file says $last"
    # sb-two: the sensor's one partition belongs to exactly one member.
    a=$(metric "sensorbridge_sensor_samples_consumed_total$k" < "$SB_WORK/a.txt")
    b=$(metric "sensorbridge_sensor_samples_consumed_total$k" < "$SB_WORK/b.txt")
    a=${a:-0} b=${b:-0}
    [ $((a + b)) -eq "$want" ] || fail "$s: sb-two consumed $a + $b, expected $want in all"
    if [ "$a" -eq "$want" ] && [ "$b" -eq 0 ]; then
        a_sensors=$((a_sensors + 1))
    elif [ "$b" -eq "$want" ] && [ "$a" -eq 0 ]; then
        b_sensors=$((b_sensors + 1))
    else
        fail "$s: split between the members of sb-two ($a + $b)"
    fi
done
# Keys hash to all four partitions, so both members have sensors.
[ "$a_sensors" -gt 0 ] && [ "$b_sensors" -gt 0 ] \
    || fail "sb-two did not share the work: $a_sensors and $b_sensors sensors"
echo "[${SECONDS}s] all consumed; sb-two members have $a_sensors and $b_sensors sensors" >&2
# No rebalance while the data flowed.
[ "$(assignments)" = "$assigned_at_start" ] && settled || fail "a consumer group rebalanced during the test"

stop_pid "$P_PID" "the producer-only daemon"
grep -q 'msg="producer flushed"' "$SB_WORK/producer.log" || fail "no flush on shutdown"
extra=$(kcat -L -b "$MB_BROKERS" -m 10 | sed -n 's/^ *topic "\([^"]*\)".*/\1/p' |
        grep -E '^hydraulic-(aggregates|alerts)$' || true)
[ -z "$extra" ] || fail "the daemons created topics they never write: $extra"
stop_pid "$ONE_PID" "the sb-one consumer"
stop_pid "$A_PID" "the first sb-two consumer"
stop_pid "$B_PID" "the second sb-two consumer"
stop_mockbroker
echo "ok: external broker split"
