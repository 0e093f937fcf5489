#!/bin/bash
# Every rule of deploy/prometheus/rules has a promtool unit test in
# deploy/prometheus/tests (run by promtool_test_rules): every rule file is
# loaded by a test file, every alert is expected to fire in some
# alert_rule_test (its exp_alerts not empty), and every recording rule is
# the expr of some promql_expr_test with expected samples. A rule added
# without a test fails here.
# Embedded broker only: it starts no daemon.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"
P=$SB_SOURCE_ROOT/deploy/prometheus
errors=0
problem() {
    echo "RULES: $*" >&2
    errors=$((errors + 1))
}

: > "$SB_WORK/loaded"
: > "$SB_WORK/fired"
: > "$SB_WORK/recorded"
for t in "$P"/tests/*.yml; do
    yaml_json "$t" > "$SB_WORK/test.json"
    jq -r '.rule_files[]' "$SB_WORK/test.json" | while read -r f; do
        realpath -m "$(dirname "$t")/$f"
    done >> "$SB_WORK/loaded"
    jq -r '.tests[].alert_rule_test[]? | select((.exp_alerts // []) | length > 0) | .alertname' \
        "$SB_WORK/test.json" >> "$SB_WORK/fired"
    jq -r '.tests[].promql_expr_test[]? | select((.exp_samples // []) | length > 0) | .expr' \
        "$SB_WORK/test.json" >> "$SB_WORK/recorded"
done
n=0
for f in "$P"/rules/*.yml; do
    grep -qx "$(realpath "$f")" "$SB_WORK/loaded" || problem "$f is loaded by no file in deploy/prometheus/tests"
    yaml_json "$f" > "$SB_WORK/rules.json"
    while read -r a; do
        n=$((n + 1))
        grep -qx "$a" "$SB_WORK/fired" || problem "$(basename "$f"): alert $a never fires in a unit test"
    done < <(jq -r '.groups[].rules[] | .alert // empty' "$SB_WORK/rules.json")
    while read -r r; do
        n=$((n + 1))
        grep -qx "$r" "$SB_WORK/recorded" || problem "$(basename "$f"): recording rule $r is tested by no promql_expr_test"
    done < <(jq -r '.groups[].rules[] | .record // empty' "$SB_WORK/rules.json")
done
[ "$n" -ge 30 ] || fail "read only $n rules from $P/rules"
[ "$errors" = 0 ] || fail "$errors rule(s) without a unit test"
echo "ok: $n rules, each with a unit test"
