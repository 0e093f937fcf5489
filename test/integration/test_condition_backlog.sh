#!/usr/bin/env bash
# test_condition_backlog.sh BIN SOURCE_ROOT (SB_TRAIN: sensorbridge-train) -
# the condition monitor catching up on a backlog, as after a restart: a
# producer-only sensorbridge replays cycles 100-129 into a broker that
# outlives it (the standalone mock cluster, or a real Kafka with
# SB_BROKER=kafka), then a consumer-only one with [condition]
# max_open_cycles = 16 reads them all from the start. A fetch brings a 1 Hz
# partition a hundred times further in event time than a 100 Hz one, so
# without the consumer pausing the sensors that run ahead every cycle would
# close by overflow. Every cycle must be diagnosed, none overflow, no
# sample be late, the pauses be counted, and the diagnoses equal
# sensorbridge-train's offline predictions cycle by cycle.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"
: "${SB_TRAIN:?SB_TRAIN must name sensorbridge-train}"
MODEL=$SB_SOURCE_ROOT/conf/condition-model.json
DATA=$SB_SOURCE_ROOT/datasets/uci-hydraulic
CYCLES=30
TOTAL=$((CYCLES * 43680))

start_mockbroker_sensors
pipeline_configs "$DATA" max "$MB_BROKERS"
set_key "$SB_WORK/producer.conf" replay cycles 100-129
# Message sets of up to 5 s of the replay: a 1 Hz partition's first set
# holds all of its cycles (about 3 s at speed max here), a 100 Hz
# partition's at most batch.size (1 MB, about a cycle), so the consumer's
# first fetches bring the 1 Hz sensors far ahead whatever the machine's
# speed. With librdkafka's 5-ms linger the sets were cut by time, as long
# for every sensor, and one run in nine needed no pause.
set_key "$SB_WORK/producer.conf" producer kafka.linger.ms 5000
# The consumer's producer publishes the diagnoses; it replays nothing.
set_key "$SB_WORK/consumer.conf" producer enabled true
cat >> "$SB_WORK/consumer.conf" <<CONF
[condition]
model = $MODEL
labels = $DATA/profile.txt
max_open_cycles = 16
CONF

# ---- the backlog: every sample delivered before any consumer runs ----
start_instance "$SB_WORK/producer.conf" "$SB_WORK/producer.log"
P_PID=$INST_PID P_URL=$INST_URL
wait_for 240 "the producer to deliver the $TOTAL samples" delivered_at_least "$P_URL" "$TOTAL"
[ "$(scrape_url "$P_URL" | metric_sum sensorbridge_messages_delivered_total)" = "$TOTAL" ] ||
    fail "the producer delivered more than the $TOTAL samples of cycles 100-129"
stop_pid "$P_PID" "the producer"

# ---- the consumer reads it from the start ----
start_instance "$SB_WORK/consumer.conf" "$SB_WORK/consumer.log"
C_URL=$INST_URL
# Done: every message consumed and no cycle left open (the last one is
# complete, so it closes as soon as its last sample is in).
caught_up() {
    [ "$(scrape_url "$C_URL" | metric sensorbridge_consumer_messages_total)" = "$TOTAL" ] &&
        [ "$(curl -sf "$C_URL/api/v1/diagnosis" | jq .open_cycles)" = 0 ]
}
wait_for 300 "the consumer to read the $TOTAL samples and close every cycle" caught_up
s=$(scrape_url "$C_URL")
[ "$(metric sensorbridge_condition_cycles_diagnosed_total <<< "$s")" = "$CYCLES" ] ||
    fail "$(metric sensorbridge_condition_cycles_diagnosed_total <<< "$s") of the $CYCLES cycles diagnosed"
for reason in overflow missing_samples; do
    [ "$(metric "sensorbridge_condition_cycles_not_diagnosed_total{reason=\"$reason\"}" <<< "$s")" = 0 ] ||
        fail "cycles not diagnosed for $reason: $(metric "sensorbridge_condition_cycles_not_diagnosed_total{reason=\"$reason\"}" <<< "$s")"
done
for reason in late duplicate; do
    [ "$(metric "sensorbridge_condition_samples_ignored_total{reason=\"$reason\"}" <<< "$s")" = 0 ] ||
        fail "samples ignored as $reason: $(metric "sensorbridge_condition_samples_ignored_total{reason=\"$reason\"}" <<< "$s")"
done
pauses=$(metric sensorbridge_consumer_partition_pauses_total <<< "$s")
[ "${pauses:-0}" -gt 0 ] || fail "no partition was paused: the backlog did not exercise the alignment"
promtool check metrics <<< "$s" || fail "promtool check metrics refuses the scrape"

# The diagnoses on the topic, once per cycle, equal the offline ones.
all_diagnoses() {
    kcat -b "$MB_BROKERS" -C -t hydraulic-diagnosis -o beginning -c "$CYCLES" -e -q -f '%s\n' \
        > "$SB_WORK/diag.json" 2> /dev/null && [ "$(wc -l < "$SB_WORK/diag.json")" = "$CYCLES" ]
}
wait_for 60 "$CYCLES diagnoses on hydraulic-diagnosis" all_diagnoses
jq -r '[.cycle, (.components | .cooler, .valve, .pump_leakage, .accumulator | .state)] | @tsv' \
    "$SB_WORK/diag.json" | sort -n > "$SB_WORK/stream.tsv"
"$SB_TRAIN" predict --dataset "$DATA" --model "$MODEL" --cycles 100-129 | tail -n +2 |
    awk -F'\t' -v OFS='\t' '{ print $1, $2, $4, $6, $8 }' > "$SB_WORK/offline.tsv" ||
    fail "sensorbridge-train predict failed"
[ "$(cut -f1 "$SB_WORK/stream.tsv" | tr '\n' ' ')" = "$(seq 100 129 | tr '\n' ' ')" ] ||
    fail "the diagnosed cycles are not 100-129 once each: $(cut -f1 "$SB_WORK/stream.tsv" | tr '\n' ' ')"
paste "$SB_WORK/stream.tsv" "$SB_WORK/offline.tsv" |
    awk -F'\t' '{ for (i = 1; i <= 5; i++) if ($i + 0 != $(i + 5) + 0) { print "cycle " $1 ": " $0; bad = 1 } }
        END { exit bad }' || fail "the diagnoses of the backlog differ from the offline predictions"
stop_pid "$INST_PID" "the consumer"
stop_mockbroker
echo "PASS: condition_backlog ($CYCLES cycles, $pauses pauses)"
