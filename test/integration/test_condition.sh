#!/usr/bin/env bash
# test_condition.sh BIN SOURCE_ROOT (SB_TRAIN: sensorbridge-train) - the
# condition monitor in the stream, as a user meets it:
#  1. held-out cycles 100-105 (not trained on: the shipped model learnt the
#     even blocks) replayed at speed max through the embedded broker: every
#     cycle is diagnosed, and the diagnoses on the diagnosis topic (read
#     with kcat) equal, cycle by cycle, what sensorbridge-train predicts
#     offline from the dataset files; gauges (every class's probability
#     too), true states, accuracy, /api/v1/diagnosis and promtool agree;
#  2. a cycle with a malformed TS1 row (the replay skips that sensor's
#     cycle) is not diagnosed and is counted missing_samples, the others
#     are;
#  3. a reload with a broken model file is refused and keeps the running
#     model; a good one is applied.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"
: "${SB_TRAIN:?SB_TRAIN must name sensorbridge-train}"
MODEL=$SB_SOURCE_ROOT/conf/condition-model.json
DATA=$SB_SOURCE_ROOT/datasets/uci-hydraulic

condition_config() { # FILE DATASET CYCLES
    write_config "$1" "$2"
    set_key "$1" replay cycles "$3"
    cat >> "$1" <<CONF
[condition]
model = $MODEL
[alert.condition_cooler]
low_warning = 20
low_critical = 3
CONF
}

# ---- 1. stream = offline, cycle by cycle ----
conf=$SB_WORK/sb.conf
condition_config "$conf" "$DATA" 100-105
start_daemon "$conf"
wait_metric sensorbridge_condition_cycles_diagnosed_total 6 180
# The producer lingers before it sends: read until all six are there.
six_diagnoses() {
    kcat -b "$SB_BROKERS" -C -t hydraulic-diagnosis -o beginning -c 6 -e -q -f '%k\t%s\n' \
        > "$SB_WORK/diag.raw" 2> /dev/null && [ "$(wc -l < "$SB_WORK/diag.raw")" = 6 ]
}
wait_for 30 "six diagnoses on hydraulic-diagnosis" six_diagnoses
[ "$(wc -l < "$SB_WORK/diag.raw")" = 6 ] || fail "$(wc -l < "$SB_WORK/diag.raw") diagnoses on the topic, expected 6"
# key = cycle; then the same columns as sensorbridge-train predict.
cut -f2- "$SB_WORK/diag.raw" | jq -r '[.cycle,
    (.components | .cooler, .valve, .pump_leakage, .accumulator | .state, .probability)] | @tsv' \
    | sort -n > "$SB_WORK/stream.tsv"
awk -F'\t' '$1 != $2 { print "key " $1 " for cycle " $2; exit 1 }' \
    <(paste <(cut -f1 "$SB_WORK/diag.raw") <(cut -f2- "$SB_WORK/diag.raw" | jq -r .cycle)) ||
    fail "a diagnosis is not keyed by its cycle"
"$SB_TRAIN" predict --dataset "$DATA" --model "$MODEL" --cycles 100-105 | tail -n +2 \
    > "$SB_WORK/offline.tsv" || fail "sensorbridge-train predict failed"
[ "$(wc -l < "$SB_WORK/offline.tsv")" = 6 ] || fail "the offline tool predicted $(wc -l < "$SB_WORK/offline.tsv") cycles"
# States equal; probabilities equal to 1e-12 (JSON and %.17g print the
# same double; only the spelling of integral values differs).
paste "$SB_WORK/stream.tsv" "$SB_WORK/offline.tsv" | awk -F'\t' '
    { for (i = 1; i <= 9; i++) {
          a = $i + 0; b = $(i + 9) + 0; d = a - b; if (d < 0) d = -d
          if ((i % 2 == 1 && a != b) || d > 1e-12) { print "cycle " $1 " column " i ": stream " $i ", offline " $(i + 9); bad = 1 } } }
    END { exit bad }' || fail "the stream's diagnoses differ from the offline predictions"
# The labels: the true states of cycle 105 (profile.txt row 106) and the
# accuracy the predictions earn against profile.txt, computed here.
read -r cooler valve pump acc _ < <(sed -n 106p "$DATA/profile.txt")
s=$(scrape)
for pair in "cooler $cooler" "valve $valve" "pump_leakage $pump" "accumulator $acc"; do
    set -- $pair
    [ "$(metric "sensorbridge_condition_true_state{component=\"$1\"}" <<< "$s")" = "$2" ] ||
        fail "true state of $1 is not $2"
done
col=1
for comp in cooler valve pump_leakage accumulator; do
    want=$(awk -F'\t' -v c=$col 'NR == FNR { truth[NR - 1] = $c; next }
        { n++; if ($(2 * c) == truth[$1]) ok++ } END { printf "%d %d", ok, n - ok }' \
        "$DATA/profile.txt" "$SB_WORK/offline.tsv")
    got="$(metric "sensorbridge_condition_predictions_total{component=\"$comp\",outcome=\"correct\"}" <<< "$s") $(metric "sensorbridge_condition_predictions_total{component=\"$comp\",outcome=\"wrong\"}" <<< "$s")"
    [ "$got" = "$want" ] || fail "$comp: predictions correct/wrong $got, expected $want"
    col=$((col + 1))
done
[ "$(metric sensorbridge_condition_cycle <<< "$s")" = 105 ] || fail "last diagnosed cycle is not 105"
# Every class's probability gauge is the last diagnosis's (cycle 105), and
# the predicted state's is the offline tool's probability for cycle 105.
last=$(cut -f2- "$SB_WORK/diag.raw" | jq -c 'select(.cycle == 105)')
col=2
for comp in cooler valve pump_leakage accumulator; do
    for st in $(jq -r ".components.$comp.probabilities | keys[]" <<< "$last"); do
        want=$(jq -r ".components.$comp.probabilities[\"$st\"]" <<< "$last")
        got=$(metric "sensorbridge_condition_class_probability{component=\"$comp\",state=\"$st\"}" <<< "$s")
        awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-12) }' ||
            fail "$comp state $st: class probability gauge $got, diagnosis $want"
    done
    read -r state prob < <(awk -F'\t' -v c=$col '$1 == 105 { print $c, $(c + 1) }' "$SB_WORK/offline.tsv")
    got=$(metric "sensorbridge_condition_class_probability{component=\"$comp\",state=\"$state\"}" <<< "$s")
    awk -v a="$got" -v b="$prob" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-12) }' ||
        fail "$comp: probability of state $state is $got, offline $prob"
    [ "$(grep -c "^sensorbridge_condition_class_probability{component=\"$comp\"" <<< "$s")" = \
      "$(jq ".components.$comp.probabilities | length" <<< "$last")" ] || fail "$comp: not one gauge per class"
    col=$((col + 2))
done
[ "$(metric sensorbridge_condition_inference_seconds_count <<< "$s")" = 6 ] ||
    fail "inference timed $(metric sensorbridge_condition_inference_seconds_count <<< "$s") times, not 6"
[ "$(metric 'sensorbridge_condition_cycles_not_diagnosed_total{reason="missing_samples"}' <<< "$s")" = 0 ] ||
    fail "a complete cycle was not diagnosed"
promtool check metrics <<< "$s" || fail "promtool check metrics refuses the scrape"
api=$(curl -sf "$SB_URL/api/v1/diagnosis") || fail "/api/v1/diagnosis did not answer"
[ "$(jq -c '[.recent[].cycle]' <<< "$api")" = "[100,101,102,103,104,105]" ] ||
    fail "/api/v1/diagnosis recent is $(jq -c '[.recent[].cycle]' <<< "$api")"
[ "$(jq .diagnosed <<< "$api")" = 6 ] || fail "/api/v1/diagnosis diagnosed is not 6"
# The status page's live JSON shows the last diagnosis, cycle 105.
live=$(curl -sf "$SB_URL/api/v1/live") || fail "/api/v1/live did not answer"
[ "$(jq -c '.diagnosis | [.cycle, (.components | keys)]' <<< "$live")" = '[105,["accumulator","cooler","pump_leakage","valve"]]' ] ||
    fail "/api/v1/live diagnosis is $(jq -c .diagnosis <<< "$live")"
[ "$(jq -c '[.diagnosis.components.cooler | .state, .true_state]' <<< "$live")" = "[$(awk -F'\t' '$1 == 105 { print $2 }' "$SB_WORK/offline.tsv"),$cooler]" ] ||
    fail "/api/v1/live cooler is $(jq -c .diagnosis.components.cooler <<< "$live")"
# The cooler of cycles 100-105 is at 3 %: the shipped rule is critical.
[ "$(metric 'sensorbridge_alert_level{sensor="condition_cooler",rule="threshold"}' <<< "$s")" = 2 ] ||
    fail "condition_cooler is not critical for a cooler at 3 %"

# ---- 3. reload: a broken model is refused, a good one applied ----
before=$(jq -r .model <<< "$api")
head -c 1000 "$MODEL" > "$SB_WORK/broken.json"
set_key "$conf" condition model "$SB_WORK/broken.json"
kill -HUP "$SB_PID"
wait_metric sensorbridge_config_reload_failures_total 1 30
wait_log "$SB_LOG" 'reload refused: the condition model' 10
[ "$(curl -sf "$SB_URL/api/v1/diagnosis" | jq -r .model)" = "$before" ] || fail "the refused reload changed the model"
sed 's/"trained": "/"trained": "copy: /' "$MODEL" > "$SB_WORK/good.json"
set_key "$conf" condition model "$SB_WORK/good.json"
kill -HUP "$SB_PID"
wait_metric sensorbridge_config_reloads_total 1 30
[ "$(curl -sf "$SB_URL/api/v1/diagnosis" | jq -r .model)" = "copy: $before" ] || fail "the reload did not swap the model"
# The same components: their running accuracy goes on across the swap.
[ "$(val 'sensorbridge_condition_predictions_total{component="cooler",outcome="correct"}')" = 6 ] ||
    fail "the reload reset the cooler's running accuracy"
stop_daemon

# ---- 2. a cycle with samples missing ----
ds=$SB_WORK/dataset
cp -r "$DATA" "$ds"
chmod -R u+w "$ds"
# Row 102 (line 103) of TS1 gets a field that is not a number.
awk 'NR == 103 { sub(/^[^\t]*/, "x") } { print }' "$DATA/TS1.txt" > "$ds/TS1.txt"
conf2=$SB_WORK/missing.conf
condition_config "$conf2" "$ds" 100-103
start_daemon "$conf2"
wait_metric sensorbridge_condition_cycles_diagnosed_total 3 180
wait_metric 'sensorbridge_condition_cycles_not_diagnosed_total{reason="missing_samples"}' 1 30
[ "$(curl -sf "$SB_URL/api/v1/diagnosis" | jq -c '[.recent[].cycle]')" = "[100,101,103]" ] ||
    fail "cycles diagnosed are not 100, 101 and 103"
stop_daemon
echo "PASS: condition"
