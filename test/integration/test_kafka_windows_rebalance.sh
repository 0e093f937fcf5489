#!/bin/bash
# Windows across a partition move. TS1 is on partition 0 and TS2 on
# partition 3 of the samples topic (4 partitions, shared layout). Member A
# holds all four and applies the first half of both sensors' window
# [0 s, 60 s); member B joins the group and, with the range assignor, one
# sensor's partition moves to it while the other stays on A. Read back from
# the aggregates topic with kcat:
#   - A published the moved sensor's open window when the partition went:
#     partial, "revoked", 30 samples; B's first window of it is partial,
#     "resumed", with the other 30;
#   - the sensor that stayed has every window complete, 60 samples each;
#   - each member published its open window at its stop: "stopped".
# Samples are written with kcat to chosen partitions, so that the move
# falls at a chosen offset and exactly one sensor moves.
# Only on a real cluster: the embedded broker's group coordinator refuses
# commits while a rebalance is on ("Group rebalance in progress"), so the
# partitions start over from older offsets and the samples come twice (at
# least once), which no fixed expectation can follow (the windows they go
# into are partial, "resumed", all the same).
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

T0=1762612200 # 2025-11-08T14:30:00Z, a whole minute
start_kafka 1
BROKERS=$KAFKA_BROKERS
conf=$SB_WORK/sb.conf
write_config "$conf" "$SB_WORK/unused" max
set_key "$conf" kafka brokers "$BROKERS"
set_key "$conf" kafka layout shared
set_key "$conf" replay enabled false
set_key "$conf" consumer group_id sb-move
set_key "$conf" consumer kafka.partition.assignment.strategy range
cat >> "$conf" <<CONF
[windows]
sizes = 60s
watermark = 5s
[alerts]
enabled = false
CONF

# produce FROM TO: TS1 (partition 0) and TS2 (partition 3) at T0 + FROM ..
# TO seconds, one a second, value 1.
produce() {
    local s p t
    for s in TS1:0 TS2:3; do
        p=${s#*:}
        s=${s%:*}
        for t in $(seq "$1" "$2"); do
            printf '{"sensor":"%s","value":1,"timestamp":"%s"}\n' "$s" \
                "$(date -u -d "@$((T0 + t))" +%Y-%m-%dT%H:%M:%SZ)"
        done > "$SB_WORK/in.jsonl"
        # In order (idempotent: a retry, e.g. after "coordinator load in
        # progress" from the just-started Kafka, cannot overtake the next
        # request and make a sample late or a window short).
        timeout 60 kcat -P -q -X enable.idempotence=true -b "$BROKERS" -t hydraulic-samples -p "$p" \
            -k "$s" -l "$SB_WORK/in.jsonl" || fail "kcat could not produce $s"
    done
}
consumed() { # consumed URL SENSOR
    scrape_url "$1" | metric "sensorbridge_sensor_samples_consumed_total{sensor=\"$2\"}"
}
# holds URL: the partitions an instance holds, if it is ready.
holds() {
    curl -sf "$1/api/v1/status" |
        jq -r 'select(.ready) | [.consumer.partitions[].partition] | sort | map(tostring) | join(" ")'
}

start_instance "$conf" "$SB_WORK/a.log"
A_PID=$INST_PID A_URL=$INST_URL
wait_for 60 "A's topics on the cluster" topics_exist "$A_URL"
wait_for 120 "A to hold the 4 partitions" eval '[ "$(holds "$A_URL")" = "0 1 2 3" ]'
produce 0 29
wait_for 120 "A to apply 30 samples of each sensor" eval \
    '[ "$(consumed "$A_URL" TS1)" = 30 ] && [ "$(consumed "$A_URL" TS2)" = 30 ]'

start_instance "$conf" "$SB_WORK/b.log"
B_PID=$INST_PID B_URL=$INST_URL
split() {
    local a b
    a=$(holds "$A_URL") b=$(holds "$B_URL")
    { [ "$a" = "0 1" ] && [ "$b" = "2 3" ]; } || { [ "$a" = "2 3" ] && [ "$b" = "0 1" ]; }
}
wait_for 120 "the group to give each member 2 partitions" split
if [ "$(holds "$B_URL")" = "0 1" ]; then MOVED=TS1 STAYED=TS2; else MOVED=TS2 STAYED=TS1; fi
echo "[${SECONDS}s] $MOVED moved to B, $STAYED stayed on A" >&2
[ -z "$(consumed "$A_URL" "$MOVED")" ] || fail "A still shows $MOVED after its partition moved"

produce 30 125 # closes [60 s, 120 s) of both
wait_for 120 "B to apply 96 samples of $MOVED" eval '[ "$(consumed "$B_URL" "$MOVED")" = 96 ]'
wait_for 120 "A to apply 126 samples of $STAYED" eval '[ "$(consumed "$A_URL" "$STAYED")" = 126 ]'
stop_pid "$B_PID" "member B"
stop_pid "$A_PID" "member A"

timeout 60 kcat -C -q -b "$BROKERS" -t hydraulic-aggregates -o beginning -c 7 -f '%s\n' \
    > "$SB_WORK/agg.txt" || true
[ "$(wc -l < "$SB_WORK/agg.txt")" -eq 7 ] || {
    cat "$SB_WORK/agg.txt" >&2
    fail "$(wc -l < "$SB_WORK/agg.txt") aggregates, expected 7"
}
# Per sensor, in the order published (one key, one partition):
# window_start count complete partial_reason.
for s in "$MOVED" "$STAYED"; do
    jq -r --arg s "$s" 'select(.sensor == $s) |
        [.window_start[11:19], .count, .complete, (.partial_reason // "-")] | @tsv' \
        "$SB_WORK/agg.txt" > "$SB_WORK/$s.tsv"
done
printf '%s\t%s\t%s\t%s\n' \
    14:30:00 30 false revoked \
    14:30:00 30 false resumed \
    14:31:00 60 true - \
    14:32:00 6 false stopped > "$SB_WORK/moved.want"
diff "$SB_WORK/moved.want" "$SB_WORK/$MOVED.tsv" >&2 || fail "$MOVED's aggregates are not as expected"
printf '%s\t%s\t%s\t%s\n' \
    14:30:00 60 true - \
    14:31:00 60 true - \
    14:32:00 6 false stopped > "$SB_WORK/stayed.want"
diff "$SB_WORK/stayed.want" "$SB_WORK/$STAYED.tsv" >&2 || fail "$STAYED's aggregates are not as expected"
echo "ok: windows across a partition move"
