#!/bin/bash
# The real-Kafka harness itself (test/tools/kafka.sh through start_kafka):
# a 1-node and then a 3-node KRaft cluster start, every broker answers
# metadata listing all of them, 100 messages go through a topic and back
# (on 3 nodes replicated 3 times, acks=all with min.insync.replicas=2),
# and stop leaves no JVM and no listening port behind; kafka.sh stop does
# not signal a PID that is not one of its brokers. Prints the broker
# version, so CI's output shows which Kafka ran.
#
# The topics here are created by the broker on first use
# (-o auto.create.topics.enable=true, in this test only): kcat cannot
# create topics and nothing else here speaks the Admin API, while the
# harness keeps auto-creation off everywhere else because creating topics
# is sensorbridge's job. Producing right after start_kafka returns also
# checks that a cluster kafka.sh calls ready accepts topic creation (the
# broker forwards it to the controller quorum).
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"
KAFKA_SH=$SB_SOURCE_ROOT/test/tools/kafka.sh

# kafka.sh stop leaves alone a PID in DIR/pids that is not its JVM.
sleep 300 &
decoy=$!
track_pid "$decoy"
mkdir -p "$SB_WORK/decoy"
echo "$decoy" > "$SB_WORK/decoy/pids"
"$KAFKA_SH" stop "$SB_WORK/decoy" || fail "kafka.sh stop on a foreign PID failed"
kill -0 "$decoy" 2> /dev/null || fail "kafka.sh stop killed PID $decoy, which it did not start"

# check_cluster NODES: every broker in KAFKA_BROKERS answers with all NODES.
check_cluster() {
    local n=$1 b brokers
    IFS=, read -r -a brokers <<< "$KAFKA_BROKERS"
    [ ${#brokers[@]} -eq "$n" ] || fail "bootstrap list '$KAFKA_BROKERS' has ${#brokers[@]} entries, expected $n"
    [ "$(cat "$KAFKA_DIR/bootstrap")" = "$KAFKA_BROKERS" ] || fail "$KAFKA_DIR/bootstrap differs from kafka.sh's output"
    for b in "${brokers[@]}"; do
        kcat -L -b "$b" -m 10 > "$SB_WORK/metadata" 2>&1 || fail "kcat -L -b $b: $(cat "$SB_WORK/metadata")"
        grep -q "^ $n brokers:" "$SB_WORK/metadata" ||
            fail "broker $b lists $(sed -n 's/^ \([0-9]*\) brokers:/\1/p' "$SB_WORK/metadata") brokers, expected $n"
    done
    [ "$(wc -l < "$KAFKA_DIR/pids")" -eq "$n" ] || fail "$KAFKA_DIR/pids does not have $n PIDs"
    # The broker's own word for its version, not only kafka.sh's.
    for b in $(seq 1 "$n"); do
        grep -q "INFO Kafka version: $KAFKA_VERSION " "$KAFKA_DIR/node$b/server.log" ||
            fail "node $b's log does not say Kafka version $KAFKA_VERSION"
    done
    echo "kafka version $KAFKA_VERSION, $n nodes"
}

# roundtrip TOPIC PARTITIONS REPLICAS: 100 messages produced with acks=all
# to TOPIC (auto-created) come back, each once; the topic has PARTITIONS
# partitions of REPLICAS replicas, all in sync.
roundtrip() {
    local topic=$1 parts=$2 replicas=$3 md
    seq 1 100 | sed 's/^/message-/' > "$SB_WORK/$topic.sent"
    timeout 60 kcat -P -b "$KAFKA_BROKERS" -t "$topic" -X acks=all -X enable.idempotence=true \
        < "$SB_WORK/$topic.sent" 2> "$SB_WORK/$topic.produce" ||
        fail "kcat -P to $topic: $(cat "$SB_WORK/$topic.produce")"
    timeout 60 kcat -C -b "$KAFKA_BROKERS" -t "$topic" -o beginning -e -q -f '%s\n' \
        > "$SB_WORK/$topic.got" 2> "$SB_WORK/$topic.consume" ||
        fail "kcat -C from $topic: $(cat "$SB_WORK/$topic.consume")"
    sort "$SB_WORK/$topic.sent" > "$SB_WORK/$topic.sent.sorted"
    sort "$SB_WORK/$topic.got" > "$SB_WORK/$topic.got.sorted"
    cmp -s "$SB_WORK/$topic.sent.sorted" "$SB_WORK/$topic.got.sorted" ||
        fail "$topic: consumed $(wc -l < "$SB_WORK/$topic.got") messages, not the 100 produced: $(
            diff "$SB_WORK/$topic.sent.sorted" "$SB_WORK/$topic.got.sorted" | head -n 5)"
    md=$(kcat -L -b "$KAFKA_BROKERS" -t "$topic" -m 10)
    grep -q "topic \"$topic\" with $parts partitions:" <<< "$md" ||
        fail "$topic does not have $parts partitions: $md"
    [ "$(grep -c "replicas: \([0-9]*,\)\{$((replicas - 1))\}[0-9]*, isrs: \([0-9]*,\)\{$((replicas - 1))\}[0-9]*\$" <<< "$md")" -eq "$parts" ] ||
        fail "$topic: not every partition has $replicas replicas all in sync: $md"
    echo "$topic: 100 messages produced and consumed ($parts partitions, $replicas replicas)"
}

start_kafka 1 -o auto.create.topics.enable=true
check_cluster 1
roundtrip harness-1 1 1
stop_kafka

start_kafka 3 -o auto.create.topics.enable=true -o num.partitions=3 \
    -o default.replication.factor=3 -o min.insync.replicas=2
check_cluster 3
grep -q '^min.insync.replicas=2$' "$KAFKA_DIR/node2/server.properties" || fail "-o did not reach node 2"
roundtrip harness-3 3 3
stop_kafka

echo "ok: Kafka $KAFKA_VERSION harness, 1 and 3 nodes"
