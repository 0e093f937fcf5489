#!/bin/bash
# sensorbridge-train against the shipped model: re-training with the
# model's own date reproduces conf/condition-model.json byte for byte, and
# `predict` with it on the held-out block 100-199 (an odd block, not
# trained on) matches profile.txt as docs/condition.md reports: every
# label right there; `evaluate` prints exactly the block-wise report that
# docs/condition.md shows. Also the features header and bad options. No
# broker, no daemon: $1 is sensorbridge-train.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

model=$SB_SOURCE_ROOT/conf/condition-model.json
dataset=$SB_SOURCE_ROOT/datasets/uci-hydraulic

# The date is the free text's third comma-separated field.
date=$(jq -r .trained "$model" | awk -F', ' '{ print $2 }')
[[ $date =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || fail "no date in the model's trained member: $date"
timeout 120 "$SB_BIN" train --dataset "$dataset" --out "$SB_WORK/model.json" --date "$date" \
    || fail "train failed"
cmp "$model" "$SB_WORK/model.json" || fail "re-training does not reproduce $model"
jq -e '.training_cycles == [[0,99],[200,299],[400,499],[600,699],[800,899],[1000,1099],
       [1200,1299],[1400,1499],[1600,1699],[1800,1899],[2000,2099],[2200,2204]]' "$model" \
    > /dev/null || fail "the shipped model is not trained on the even blocks"

timeout 60 "$SB_BIN" predict --dataset "$dataset" --model "$model" --cycles 100-199 \
    > "$SB_WORK/pred.tsv" || fail "predict failed"
head -1 "$SB_WORK/pred.tsv" | grep -qx $'cycle\tcooler\tcooler_prob\tvalve\tvalve_prob\tpump_leakage\tpump_leakage_prob\taccumulator\taccumulator_prob' \
    || fail "predict header: $(head -1 "$SB_WORK/pred.tsv")"
# Row r of profile.txt is cycle r - 1; count the right labels per component.
awk -F'\t' 'NR == FNR { if (FNR >= 101 && FNR <= 200) lab[FNR - 1] = $0; next }
    FNR > 1 { n++; split(lab[$1], l, "\t")
              for (c = 1; c <= 4; c++) if ($(2 * c) + 0 == l[c] + 0) ok[c]++
              for (c = 1; c <= 4; c++) if (!($(2 * c + 1) > 0 && $(2 * c + 1) <= 1)) bad++ }
    END { printf "%d %d %d %d %d %d\n", n, ok[1], ok[2], ok[3], ok[4], bad }' \
    "$dataset/profile.txt" "$SB_WORK/pred.tsv" > "$SB_WORK/acc"
read -r n cooler valve pump acc bad < "$SB_WORK/acc"
[ "$n" = 100 ] || fail "predict wrote $n rows for cycles 100-199"
[ "$bad" = 0 ] || fail "$bad probabilities outside (0, 1]"
[ "$cooler" = 100 ] && [ "$valve" = 100 ] && [ "$pump" = 100 ] \
    || fail "cycles 100-199: cooler $cooler, valve $valve, pump $pump of 100 right"
[ "$acc" = 100 ] || fail "cycles 100-199: accumulator $acc of 100 right"

timeout 30 "$SB_BIN" features --dataset "$dataset" --cycles 5-6 > "$SB_WORK/feat.tsv" \
    || fail "features failed"
[ "$(wc -l < "$SB_WORK/feat.tsv")" = 3 ] || fail "features --cycles 5-6: not a header and 2 rows"
[ "$(head -1 "$SB_WORK/feat.tsv" | awk -F'\t' '{ print NF, $1, $2, $NF }')" = "1021 cycle PS1_mean SE_seg11_std_per_K" ] \
    || fail "features header"
rc=0
"$SB_BIN" train --dataset "$dataset" 2> "$SB_WORK/err" || rc=$?
[ "$rc" = 2 ] && grep -q usage "$SB_WORK/err" || fail "train without --out: rc $rc"
for opt in "--shrinkage heater=0.1" "--shrinkage cooler=0" "--quadratic accumulator=-1" \
    "--quadratic accumulator"; do
    rc=0
    # shellcheck disable=SC2086 # the option and its value are two words
    "$SB_BIN" evaluate --dataset "$dataset" $opt > /dev/null 2> "$SB_WORK/err" || rc=$?
    [ "$rc" != 0 ] && grep -q -e '--shrinkage\|--quadratic\|usage' "$SB_WORK/err" \
        || fail "evaluate $opt: rc $rc, $(cat "$SB_WORK/err")"
done

# sensorbridge-train(1): clean under groff, and every command and option
# of the usage text has its entry.
page=${SB_MAN_DIR:?SB_MAN_DIR is not set}/sensorbridge-train.1
out=$(groff -man -ww -z "$page" 2>&1) || fail "groff failed on $page: $out"
[ -z "$out" ] || fail "groff warns on sensorbridge-train.1: $out"
"$SB_BIN" 2> "$SB_WORK/usage" && fail "no arguments: exit 0"
words=$(grep -o -e '--[a-z-]*' -e '^usage: sensorbridge-train [a-z]*' -e '^ *sensorbridge-train [a-z]*' \
    "$SB_WORK/usage" | awk '{ print $NF }' | sort -u)
[ "$(wc -l <<< "$words")" -ge 12 ] || fail "read only $(wc -l <<< "$words") words of the usage"
tags=$(awk 'prev == ".TP" { print } { prev = $0 }' "$page")
while read -r w; do
    grep -qF -- "${w//-/\\-}" <<< "$tags" || fail "sensorbridge-train(1) has no entry for $w"
done <<< "$words"

# The report in the docs is this tool's output for the shipped recipes: the
# lines from its parameters to the comparison with the targets.
timeout 300 "$SB_BIN" evaluate --dataset "$dataset" --report "$SB_WORK/eval.md" \
    || fail "evaluate failed"
awk '/^sensorbridge-train evaluate, cycles/ { on = 1 } /^### Against the targets/ { on = 0 }
     on' "$SB_SOURCE_ROOT/docs/condition.md" > "$SB_WORK/doc-eval.md"
tail -n +3 "$SB_WORK/eval.md" | cmp - "$SB_WORK/doc-eval.md" \
    || fail "docs/condition.md's evaluation is not what evaluate reports: $(tail -n +3 "$SB_WORK/eval.md" | diff - "$SB_WORK/doc-eval.md" | head -5)"
echo ok
