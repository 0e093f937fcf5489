#!/bin/bash
# Topics on a real Kafka (broker auto-creation off): sensorbridge never
# relies on the broker to create them.
#   1. A daemon with create_topics = false and its topics missing names each
#      one with the command that creates it, answers /readyz 503 with the
#      reason, exports sensorbridge_ready 0 and replays nothing.
#   2. A daemon whose creation the broker refuses (replication factor 3 on
#      one broker) logs the broker's reason and is not ready either.
#   3. A daemon with create_topics = true creates them with the configured
#      partitions and topic configs (the broker's own log says so), once.
#   4. The first daemon then becomes ready by itself, replays, and its
#      consumer applies every sample exactly once.
# Only on a real cluster: the embedded broker cannot serve CreateTopics.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_kafka 1
ds=$(make_dataset)
total=$(samples_in_cycles 2)

# The shared layout: three topics for a daemon that produces and consumes.
base_config() {
    write_config "$1" "$ds" max
    set_key "$1" kafka brokers "$KAFKA_BROKERS"
    set_key "$1" kafka topic_prefix tt
    set_key "$1" kafka layout shared
    set_key "$1" kafka partitions 3
}
topics_expected="tt-samples tt-aggregates tt-alerts"

# ---- 1. create_topics = false ----
base_config "$SB_WORK/waiting.conf"
set_key "$SB_WORK/waiting.conf" kafka create_topics false
start_instance "$SB_WORK/waiting.conf" "$SB_WORK/waiting.log"
W_PID=$INST_PID W_URL=$INST_URL
for t in $topics_expected; do
    wait_log "$SB_WORK/waiting.log" \
        "msg=\"topic missing and create_topics = false.*topic=$t create_with=\"kafka-topics.sh --bootstrap-server $KAFKA_BROKERS --create --topic $t --partitions 3 --config message.timestamp.after.max.ms=9223372036854775807\"" 30
done
code=$(curl -s -o "$SB_WORK/readyz.txt" -w '%{http_code}' "$W_URL/readyz")
[ "$code" = 503 ] || fail "/readyz answered $code with the topics missing"
grep -q '^not ready: 3 topic(s) missing: tt-samples tt-aggregates tt-alerts (create_topics = false' \
    "$SB_WORK/readyz.txt" || fail "/readyz says: $(cat "$SB_WORK/readyz.txt")"
scrape_url "$W_URL" > "$SB_WORK/w1.txt"
promtool check metrics < "$SB_WORK/w1.txt" || fail "promtool rejected the scrape"
[ "$(metric sensorbridge_ready < "$SB_WORK/w1.txt")" = 0 ] || fail "sensorbridge_ready is not 0"
[ "$(metric sensorbridge_kafka_topics_missing < "$SB_WORK/w1.txt")" = 3 ] || fail "topics_missing is not 3"
[ "$(metric sensorbridge_kafka_cluster_reachable < "$SB_WORK/w1.txt")" = 1 ] || fail "cluster not reachable"
[ "$(metric_sum sensorbridge_messages_produced_total < "$SB_WORK/w1.txt")" = 0 ] ||
    fail "the replay ran although its topic is missing"
curl -sf "$W_URL/api/v1/status" | jq -e '.ready == false and (.topics.missing | length) == 3' \
    > /dev/null || fail "/api/v1/status does not report the missing topics"
# Still not there, nothing auto-created by the metadata requests.
kcat -L -b "$KAFKA_BROKERS" -m 10 | grep -q 'topic "tt-' && fail "a tt- topic exists already"

# ---- 2. a creation the broker refuses ----
base_config "$SB_WORK/refused.conf"
set_key "$SB_WORK/refused.conf" kafka replication_factor 3
set_key "$SB_WORK/refused.conf" consumer group_id refused
set_key "$SB_WORK/refused.conf" replay enabled false
start_instance "$SB_WORK/refused.conf" "$SB_WORK/refused.log"
R_PID=$INST_PID R_URL=$INST_URL
wait_log "$SB_WORK/refused.log" 'msg="cannot create topic; not ready until it exists" topic=tt-samples error="[^"]*[Rr]eplication factor' 30
code=$(curl -s -o "$SB_WORK/readyz.txt" -w '%{http_code}' "$R_URL/readyz")
[ "$code" = 503 ] || fail "/readyz answered $code although the topics could not be created"
stop_pid "$R_PID" "the daemon whose creations were refused"

# ---- 3. create_topics = true (no replay: it only creates) ----
base_config "$SB_WORK/creator.conf"
set_key "$SB_WORK/creator.conf" kafka topic.retention.ms 3600000
set_key "$SB_WORK/creator.conf" kafka replication_factor 1
set_key "$SB_WORK/creator.conf" consumer group_id creator
set_key "$SB_WORK/creator.conf" replay enabled false
start_instance "$SB_WORK/creator.conf" "$SB_WORK/creator.log"
C_PID=$INST_PID C_URL=$INST_URL
for t in $topics_expected; do
    wait_log "$SB_WORK/creator.log" "msg=\"topic created\" topic=$t partitions=3 replication_factor=1 configs=2" 30
done
# The broker's metadata catches up with the creation within moments.
three_partitions() {
    kcat -L -b "$KAFKA_BROKERS" -t tt-samples 2>/dev/null | grep -q 'topic "tt-samples" with 3 partitions'
}
wait_for 30 "kcat to see tt-samples with 3 partitions" three_partitions
# The broker applied the topic config to each partition's log.
wait_for 30 "the broker's log to show retention.ms=3600000 for tt-samples" \
    grep -qE "Created log for partition tt-samples-0 .*retention.ms=3600000" "$SB_WORK/kafka/node1/server.log"
# And sensorbridge's default: any future event time is accepted.
grep -qE "Created log for partition tt-samples-0 .*message.timestamp.after.max.ms=9223372036854775807" \
    "$SB_WORK/kafka/node1/server.log" || fail "tt-samples was created without message.timestamp.after.max.ms"
wait_for 30 "the creator to be ready" curl -sf -o /dev/null "$C_URL/readyz"
scrape_url "$C_URL" > "$SB_WORK/c.txt"
[ "$(metric sensorbridge_kafka_topics_created_total < "$SB_WORK/c.txt")" = 3 ] ||
    fail "the creator counted $(metric sensorbridge_kafka_topics_created_total < "$SB_WORK/c.txt") creations"

# ---- 4. the waiting daemon goes on by itself ----
wait_for 30 "the waiting daemon to be ready" curl -sf -o /dev/null "$W_URL/readyz"
grep -q 'msg="kafka cluster ready: every topic exists"' "$SB_WORK/waiting.log" || fail "no ready line"
grep -q 'msg="topic created"' "$SB_WORK/waiting.log" && fail "the create_topics = false daemon created a topic"
is_total() {
    local n
    n=$(scrape_url "$W_URL" | metric_sum sensorbridge_consumer_messages_total)
    [ "$n" -le "$total" ] || fail "consumed $n, more than the $total produced"
    [ "$n" = "$total" ]
}
wait_for 120 "the waiting daemon to consume $total samples" is_total
scrape_url "$W_URL" > "$SB_WORK/w2.txt"
promtool check metrics < "$SB_WORK/w2.txt" || fail "promtool rejected the scrape"
for s in $SB_SENSORS; do
    want=$((2 * 60 * $(sensor_rate "$s")))
    for m in messages_produced_total messages_delivered_total sensor_samples_consumed_total; do
        got=$(metric "sensorbridge_$m{sensor=\"$s\"}" < "$SB_WORK/w2.txt")
        [ "$got" = "$want" ] || fail "$s: $m is $got, expected $want"
    done
done
[ "$(metric sensorbridge_ready < "$SB_WORK/w2.txt")" = 1 ] || fail "sensorbridge_ready is not 1"
stop_pid "$W_PID" "the waiting daemon"
stop_pid "$C_PID" "the creator"
echo "ok: kafka topics (Kafka $KAFKA_VERSION)"
