#!/bin/bash
# deploy/grafana/dashboards/sensorbridge.json against the dashboard schema
# Grafana publishes on npm. @grafana/schema (pinned by deploy/dev.sh)
# carries it as TypeScript types generated from Grafana's CUE kinds, with
# no JSON schema file, so test/tools/grafana-schema-check.js has the
# TypeScript compiler check the JSON against the Dashboard type. Two broken
# copies (a panel without its type, a row whose `collapsed` is a string)
# must be refused with their line, so a checker that accepts anything
# fails here. Also checked: unique panel ids, every panel within the
# 24-column grid, every query on the dashboard's data source variable.
# Grafana itself is not run (docs/operations.md, Grafana).
# Embedded broker only: it starts no daemon.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"
use_grafana_schema
CHECK=$SB_SOURCE_ROOT/test/tools/grafana-schema-check.js
D=$SB_SOURCE_ROOT/deploy/grafana/dashboards/sensorbridge.json

node "$CHECK" "$D" >&2 || fail "$D does not satisfy Grafana's dashboard schema"

# refused FILE LINE: the checker refuses FILE and names FILE:LINE.
refused() {
    if node "$CHECK" "$1" > "$SB_WORK/out" 2>&1; then
        fail "the schema check accepted $(basename "$1"): $(cat "$SB_WORK/out")"
    fi
    grep -q "^$1:$2:" "$SB_WORK/out" || fail "the schema check did not name $1:$2: $(cat "$SB_WORK/out")"
}
jq 'del(.panels[1].type)' "$D" > "$SB_WORK/no-type.json"
line=$(grep -n '"id": 2,' "$SB_WORK/no-type.json" | head -n 1 | cut -d: -f1)
refused "$SB_WORK/no-type.json" "$((line - 1))"
jq '.panels[0].collapsed = "no"' "$D" > "$SB_WORK/bad-row.json"
line=$(grep -n '"collapsed": "no"' "$SB_WORK/bad-row.json" | cut -d: -f1)
refused "$SB_WORK/bad-row.json" "$line"

dup=$(jq -r '[.. | objects | select(has("gridPos")) | .id] | group_by(.) | map(select(length > 1)[0]) | join(" ")' "$D")
[ -z "$dup" ] || fail "panel ids used more than once: $dup"
wide=$(jq -r '.. | objects | select(has("gridPos")) | select(.gridPos.x + .gridPos.w > 24) | .title' "$D")
[ -z "$wide" ] || fail "panels beyond the 24-column grid: $wide"
other=$(jq -r '.. | objects | select(has("targets")) | .targets[] | select(.datasource.uid != "${datasource}") | .expr' "$D")
[ -z "$other" ] || fail "queries not on the \${datasource} variable: $other"
echo "ok: grafana dashboard: $(jq '[.. | objects | select(has("gridPos"))] | length' "$D") panels, @grafana/schema $GRAFANA_SCHEMA_VERSION"
