#!/bin/bash
# Two sensorbridge instances in one consumer group on a real Kafka, in the
# shared layout (one samples topic of 6 partitions, keyed by sensor):
#   - each owns some partitions, together all; every sample is applied
#     exactly once across them, every sensor on exactly one instance, and
#     only on the one that holds its partition (kcat tells which partition
#     each sensor's key went to);
#   - when a member leaves, the other takes its partitions and keeps its own
#     series, and a second replay lands on it (the other member's former
#     sensors from zero); when a member joins again, the series of the
#     partitions that moved away disappear from the instance that lost them,
#     the others keep their counts, and after a third replay each sensor's
#     count on its one owner is what that owner consumed of it (no stale
#     series, no double counting across instances).
# SB_ASSIGNOR (default range) is the members' partition.assignment.strategy:
# range and roundrobin rebalance with the EAGER protocol (everything is
# revoked, then assigned anew), cooperative-sticky with COOPERATIVE (only
# what moves is revoked; the rest stays put); the suite runs both.
# Only on a real cluster: the group coordinator is the point (the embedded
# broker's is its own, see test_external_broker_split for that one).
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_kafka 1
ds=$(make_dataset)
total=$(samples_in_cycles 2)

common() {
    write_config "$1" "$ds" max
    set_key "$1" kafka brokers "$KAFKA_BROKERS"
    set_key "$1" kafka topic_prefix tg
    set_key "$1" kafka layout shared
    set_key "$1" kafka partitions 6
}
common "$SB_WORK/cons.conf"
set_key "$SB_WORK/cons.conf" producer enabled false
set_key "$SB_WORK/cons.conf" replay enabled false
set_key "$SB_WORK/cons.conf" consumer group_id tg-group
set_key "$SB_WORK/cons.conf" consumer kafka.partition.assignment.strategy "${SB_ASSIGNOR:-range}"
common "$SB_WORK/prod.conf"
set_key "$SB_WORK/prod.conf" consumer enabled false

# holds URL: how many partitions an instance holds now, if it is ready
# (a member in the middle of a rebalance is not).
holds() {
    curl -sf "$1/api/v1/status" | jq -r 'if .ready then (.consumer.partitions | length) else -1 end'
}
# Both consumers start at once and race to create the samples topic.
start_instance "$SB_WORK/cons.conf" "$SB_WORK/a.log"
A_PID=$INST_PID A_URL=$INST_URL
start_instance "$SB_WORK/cons.conf" "$SB_WORK/b.log"
B_PID=$INST_PID B_URL=$INST_URL
halves() { [ "$(holds "$A_URL")" = 3 ] && [ "$(holds "$B_URL")" = 3 ]; }
wait_for 60 "the group to give each member 3 partitions" halves
wait_for 10 "both members ready" curl -sf -o /dev/null "$B_URL/readyz"
curl -sf -o /dev/null "$A_URL/readyz" || fail "member a not ready: $(curl -s "$A_URL/readyz")"
[ "$(grep -c 'msg="topic created" topic=tg-samples' "$SB_WORK/a.log" "$SB_WORK/b.log" |
     awk -F: '{ s += $2 } END { print s }')" = 1 ] || fail "tg-samples was not created exactly once"

# partitions_of URL: the partitions an instance holds (its status API).
partitions_of() {
    curl -sf "$1/api/v1/status" | jq -r '.consumer.partitions[] | select(.topic == "tg-samples") | .partition' |
        sort -n | tr '\n' ' '
}
sum_of() { scrape_url "$1" | metric_sum "$2"; }
both_total() {
    local n=$(($(sum_of "$A_URL" sensorbridge_consumer_messages_total) +
               $(sum_of "$B_URL" sensorbridge_consumer_messages_total)))
    [ "$n" -le "$1" ] || fail "the group consumed $n messages, more than the $1 produced"
    [ "$n" -eq "$1" ]
}
replay_once() {
    start_instance "$SB_WORK/prod.conf" "$SB_WORK/prod$1.log"
    local pid=$INST_PID url=$INST_URL
    delivered() { [ "$(sum_of "$url" sensorbridge_messages_delivered_total)" = "$total" ]; }
    wait_for 120 "replay $1 to be delivered" delivered
    stop_pid "$pid" "producer $1"
}

replay_once 1
wait_for 120 "the group to consume $total messages" both_total "$total"
scrape_url "$A_URL" > "$SB_WORK/a1.txt"
scrape_url "$B_URL" > "$SB_WORK/b1.txt"
promtool check metrics < "$SB_WORK/a1.txt" || fail "promtool rejected a's scrape"
promtool check metrics < "$SB_WORK/b1.txt" || fail "promtool rejected b's scrape"
pa=" $(partitions_of "$A_URL")" pb=" $(partitions_of "$B_URL")"
[ "$(echo $pa $pb | tr ' ' '\n' | sort -n | tr '\n' ' ')" = "0 1 2 3 4 5 " ] ||
    fail "the members hold partitions$pa and$pb, not 0-5 once each"

# The partition of each sensor, as an independent client sees it.
kcat -C -b "$KAFKA_BROKERS" -t tg-samples -o beginning -e -q -f '%k %p\n' | sort -u > "$SB_WORK/keys.txt"
[ "$(wc -l < "$SB_WORK/keys.txt")" = 17 ] || fail "kcat found $(wc -l < "$SB_WORK/keys.txt") key/partition pairs, not 17"
part_of() { awk -v k="$1" '$1 == k { print $2 }' "$SB_WORK/keys.txt"; }
a_sensors=() b_sensors=()
for s in $SB_SENSORS; do
    want=$((2 * 60 * $(sensor_rate "$s")))
    k="{sensor=\"$s\"}"
    a=$(metric "sensorbridge_sensor_samples_consumed_total$k" < "$SB_WORK/a1.txt")
    b=$(metric "sensorbridge_sensor_samples_consumed_total$k" < "$SB_WORK/b1.txt")
    p=$(part_of "$s")
    if [ "$a" = "$want" ] && [ -z "$b" ]; then
        case $pa in *" $p "*) ;; *) fail "$s (partition $p) is on a, which holds$pa" ;; esac
        a_sensors+=("$s")
    elif [ "$b" = "$want" ] && [ -z "$a" ]; then
        case $pb in *" $p "*) ;; *) fail "$s (partition $p) is on b, which holds$pb" ;; esac
        b_sensors+=("$s")
    else
        fail "$s: a has '${a}', b has '${b}' samples; expected $want on exactly one"
    fi
done
[ ${#a_sensors[@]} -gt 0 ] && [ ${#b_sensors[@]} -gt 0 ] ||
    fail "one member has every sensor: a ${#a_sensors[*]}, b ${#b_sensors[*]}"
echo "[${SECONDS}s] a holds$pa(${a_sensors[*]}), b holds$pb(${b_sensors[*]})" >&2

# ---- b leaves: a takes everything and keeps its own series ----
stop_pid "$B_PID" "member b"
all_on_a() { [ "$(holds "$A_URL")" = 6 ]; }
wait_for 60 "a to hold all 6 partitions" all_on_a
scrape_url "$A_URL" > "$SB_WORK/a2.txt"
declare -A on_a # what a should show for each sensor
for s in $SB_SENSORS; do
    w=$((2 * 60 * $(sensor_rate "$s")))
    got=$(metric "sensorbridge_sensor_samples_consumed_total{sensor=\"$s\"}" < "$SB_WORK/a2.txt")
    if [[ " ${a_sensors[*]} " == *" $s "* ]]; then
        [ "$got" = "$w" ] || fail "$s: a lost its count ($got) when it gained partitions"
        on_a[$s]=$((2 * w)) # with the next replay
    else
        [ -z "$got" ] || fail "$s: a shows $got samples of a sensor it never consumed"
        on_a[$s]=$w
    fi
done
# A second replay, all of it on a: b's former sensors start from zero there.
replay_once 2
want_a=0
for s in $SB_SENSORS; do want_a=$((want_a + on_a[$s])); done
a_total() {
    local n
    n=$(sum_of "$A_URL" sensorbridge_sensor_samples_consumed_total)
    [ "$n" -le "$want_a" ] || fail "a holds $n samples, more than the $want_a expected"
    [ "$n" = "$want_a" ]
}
wait_for 120 "a to consume the second replay" a_total
scrape_url "$A_URL" > "$SB_WORK/a3.txt"
for s in $SB_SENSORS; do
    got=$(metric "sensorbridge_sensor_samples_consumed_total{sensor=\"$s\"}" < "$SB_WORK/a3.txt")
    [ "$got" = "${on_a[$s]}" ] || fail "$s: a shows $got samples after the second replay, expected ${on_a[$s]}"
done

# ---- a member joins again: what moves away disappears from a ----
start_instance "$SB_WORK/cons.conf" "$SB_WORK/c.log"
C_PID=$INST_PID C_URL=$INST_URL
halves2() { [ "$(holds "$A_URL")" = 3 ] && [ "$(holds "$C_URL")" = 3 ]; }
wait_for 60 "the group to split again" halves2
pa=" $(partitions_of "$A_URL")" pc=" $(partitions_of "$C_URL")"
scrape_url "$A_URL" > "$SB_WORK/a4.txt"
promtool check metrics < "$SB_WORK/a4.txt" || fail "promtool rejected a's scrape after the rebalance"
kept=0 moved=0
for s in $SB_SENSORS; do
    got=$(metric "sensorbridge_sensor_samples_consumed_total{sensor=\"$s\"}" < "$SB_WORK/a4.txt")
    val=$(metric "sensorbridge_sensor_value{sensor=\"$s\"}" < "$SB_WORK/a4.txt")
    case $pa in
    *" $(part_of "$s") "*)
        [ "$got" = "${on_a[$s]}" ] || fail "$s stayed on a but its count is '$got', not ${on_a[$s]}"
        kept=$((kept + 1)) ;;
    *)
        [ -z "$got" ] && [ -z "$val" ] ||
            fail "$s moved to the new member but a still shows it ($got samples, value $val)"
        on_a[$s]=0
        moved=$((moved + 1)) ;;
    esac
done
[ "$kept" -gt 0 ] && [ "$moved" -gt 0 ] || fail "a kept $kept sensors and lost $moved: expected some of each"
echo "[${SECONDS}s] after the rejoin a holds$pa, c holds$pc; a kept $kept sensors, lost $moved" >&2

# ---- a third replay: each sensor's count on its one owner ----
replay_once 3
# What the owners hold then: on a, what it kept plus the replay; on c, the
# replay.
want_held=0
for s in $SB_SENSORS; do
    w=$((2 * 60 * $(sensor_rate "$s")))
    case $pa in
    *" $(part_of "$s") "*) on_a[$s]=$((on_a[$s] + w)) want_held=$((want_held + on_a[$s])) ;;
    *) want_held=$((want_held + w)) ;;
    esac
done
held() {
    local n=$(($(sum_of "$A_URL" sensorbridge_sensor_samples_consumed_total) +
               $(sum_of "$C_URL" sensorbridge_sensor_samples_consumed_total)))
    [ "$n" -le "$want_held" ] || fail "a and c hold $n samples, more than the $want_held expected"
    [ "$n" -eq "$want_held" ]
}
wait_for 120 "the third replay to be consumed" held
scrape_url "$A_URL" > "$SB_WORK/a5.txt"
scrape_url "$C_URL" > "$SB_WORK/c5.txt"
for s in $SB_SENSORS; do
    w=$((2 * 60 * $(sensor_rate "$s")))
    k="{sensor=\"$s\"}"
    a=$(metric "sensorbridge_sensor_samples_consumed_total$k" < "$SB_WORK/a5.txt")
    c=$(metric "sensorbridge_sensor_samples_consumed_total$k" < "$SB_WORK/c5.txt")
    case $pa in
    *" $(part_of "$s") "*) owner=a got=$a other=$c want=${on_a[$s]} ;;
    *) owner=c got=$c other=$a want=$w ;;
    esac
    [ "$got" = "$want" ] && [ -z "$other" ] ||
        fail "$s: its owner $owner shows '$got' samples (expected $want), the other '${other}'"
done
stop_pid "$A_PID" "member a"
stop_pid "$C_PID" "member c"
proto=$(sed -n 's/.*msg="partitions assigned" count=[0-9]* protocol=\([a-z]*\).*/\1/p' "$SB_WORK/a.log" | sort -u)
case ${SB_ASSIGNOR:-range} in
cooperative-sticky) [ "$proto" = cooperative ] || fail "the members rebalanced with '$proto', not cooperative" ;;
*) [ "$proto" = eager ] || fail "the members rebalanced with '$proto', not eager" ;;
esac
echo "ok: kafka group, ${SB_ASSIGNOR:-range} ($proto), Kafka $KAFKA_VERSION"
