#!/bin/bash
# deploy/prometheus and deploy/grafana against a real Prometheus that loads
# the shipped rule files and scrapes a running sensorbridge (the shipped
# configuration: replay, synthetic sensors, windows, alert rules, one of
# which is made to fire, and one late sample):
#   - /api/v1/rules: every group of the rule files is loaded with every
#     rule, and every rule's health is ok;
#   - every PromQL expression of the dashboard (each target's expr, with the
#     dashboard's variables resolved as Grafana would) and of every rule
#     parses and selects series with a value. An alert expression is empty
#     while all is well (`up == 0`), so it is evaluated without its
#     comparisons: the rule files write each one as SELECTION COMPARISON
#     NUMBER, or such terms in parentheses joined by `and`, and the test
#     evaluates each SELECTION (a rule in another form fails the test);
#   - a sensorbridge alert fires in Prometheus, and the dashboard's alert
#     table shows it;
#   - the recording rules give the old stack's hydraulic_<sensor>_value for
#     all 17 sensors, without a cycle label, equal to the daemon's own
#     sensorbridge_sensor_value once the replay has ended.
# Embedded broker only: it is about Prometheus and the dashboard, which do
# not depend on the broker.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"
PROM_DIR=$SB_SOURCE_ROOT/deploy/prometheus
DASHBOARD=$SB_SOURCE_ROOT/deploy/grafana/dashboards/sensorbridge.json
errors=0
problem() {
    echo "PROMETHEUS: $*" >&2
    errors=$((errors + 1))
}

# The shipped configuration on the two-cycle test dataset at 5 times real
# time (24 s, scraped throughout), without looping, so the sensors' last
# values stand still at the end. CE's first two cycles lie between 23.3 and
# 47.4 %: a warning bound of 20 puts its threshold rule at warning.
ds=$(make_dataset)
conf=$SB_WORK/sb.conf
sed -e "s|^dataset = .*|dataset = $ds|" -e 's|^listen = .*|listen = 127.0.0.1:0|' \
    -e "s|^model = .*|model = $SB_SOURCE_ROOT/conf/condition-model.json|" \
    -e 's|^speed = .*|speed = 5|' -e 's|^loop = .*|loop = false|' \
    "$SB_SOURCE_ROOT/conf/sensorbridge.conf" > "$conf"
set_key "$conf" alert.CE high_warning 20
start_daemon "$conf"

# The shipped Prometheus configuration, pointed at this daemon, scraping and
# evaluating every second, with the rule files where they are.
prom_conf=$SB_WORK/prometheus.yml
sed -e "s|'127.0.0.1:9550'|'127.0.0.1:$SB_PORT'|" \
    -e 's|^\(  scrape_interval:\) 15s|\1 1s|' -e 's|^\(  evaluation_interval:\) 15s|\1 1s|' \
    -e 's|^\(    scrape_timeout:\) 10s|\1 1s|' \
    -e "s|^  - rules/\*\.yml|  - $PROM_DIR/rules/*.yml|" "$PROM_DIR/prometheus.yml" > "$prom_conf"
for want in "127.0.0.1:$SB_PORT" 'scrape_interval: 1s' 'evaluation_interval: 1s' \
    'scrape_timeout: 1s' "$PROM_DIR/rules/\*.yml"; do
    grep -q "$want" "$prom_conf" ||
        fail "deploy/prometheus/prometheus.yml changed: could not make '$want' of it for the test"
done
start_prometheus "$prom_conf"

# ---- the rules Prometheus loaded ----
loaded() {
    curl -sf --max-time 10 "$PROM_URL/api/v1/rules" > "$SB_WORK/rules.json" &&
        jq -e '[.data.groups[].rules[] | select(.lastEvaluation | startswith("0001"))] | length == 0' \
            "$SB_WORK/rules.json" > /dev/null
}
wait_for 60 "prometheus to evaluate every rule once" loaded
for f in "$PROM_DIR"/rules/*.yml; do
    yaml_json "$f" | jq -r '.groups[] | "\(.name) \(.rules | length)"'
done | sort > "$SB_WORK/groups.want"
jq -r '.data.groups[] | "\(.name) \(.rules | length)"' "$SB_WORK/rules.json" | sort > "$SB_WORK/groups.got"
diff "$SB_WORK/groups.want" "$SB_WORK/groups.got" >&2 ||
    problem "the groups and rule counts Prometheus loaded (>) differ from deploy/prometheus/rules (<)"
[ -s "$SB_WORK/groups.got" ] || fail "prometheus loaded no rule groups"
jq -r '.data.groups[] | .name as $g | .rules[] | select(.health != "ok")
       | "rule \(.name) of group \($g): health \(.health): \(.lastError // "")"' "$SB_WORK/rules.json" \
    > "$SB_WORK/unhealthy"
while read -r line; do problem "$line"; done < "$SB_WORK/unhealthy"

# ---- the dashboard's variables, resolved as Grafana would ----
# Each query variable is label_values(SELECTOR, LABEL); its values come from
# the series SELECTOR matches, with the variables before it substituted. A
# multi-value variable with "All" takes its allValue, another its first
# value. Grafana's $__rate_interval is max(4 x scrape interval, interval):
# 1m with the shipped 15 s scrape interval.
jq -e . "$DASHBOARD" > /dev/null || fail "$DASHBOARD is not JSON"
declare -A var
substitute() {
    local e=$1 k
    for k in "${!var[@]}"; do
        e=${e//\$\{$k\}/${var[$k]}}
        e=${e//\$$k/${var[$k]}}
    done
    e=${e//\$__rate_interval/1m}
    printf '%s' "$e"
}
label_values() {
    curl -sf --max-time 10 -G "$PROM_URL/api/v1/series" --data-urlencode "match[]=$1" |
        jq -r --arg l "$2" '[.data[][$l] // empty] | unique[]'
}
has_label_values() { [ -n "$(label_values "$1" "$2")" ]; }
while IFS=$'\t' read -r name query multi all_value; do
    [[ $query =~ ^label_values\((.*),\ *([a-zA-Z_][a-zA-Z0-9_]*)\)$ ]] ||
        fail "dashboard variable $name: '$query' is not label_values(SELECTOR, LABEL)"
    sel=$(substitute "${BASH_REMATCH[1]}")
    label=${BASH_REMATCH[2]}
    wait_for 60 "dashboard variable $name: values of $label in $sel" \
        has_label_values "$sel" "$label"
    if [ "$multi" = true ] && [ -n "$all_value" ]; then
        var[$name]=$all_value
    else
        var[$name]=$(label_values "$sel" "$label" | head -n 1)
    fi
    echo "dashboard variable $name = ${var[$name]} (from $query)" >&2
done < <(jq -r '.templating.list[] | select(.type == "query")
                | [.name, (.query | if type == "object" then .query else . end), .multi, (.allValue // "")]
                | @tsv' "$DASHBOARD")
[ -n "${var[job]:-}" ] || fail "the dashboard has no job variable"

# ---- every expression returns data ----
# has_data EXPR: EXPR parses and gives at least one series (or a scalar)
# with a value that is a number; else says why in $SB_WORK/why.
has_data() {
    prom_query "$1" > "$SB_WORK/answer.json"
    jq -e '.status == "success" and
           (if .data.resultType == "scalar" then .data.result[1] != "NaN"
            else [.data.result[] | (.value[1] // empty) | select(. != "NaN")] | length > 0 end)' \
        "$SB_WORK/answer.json" > /dev/null && return 0
    jq -r 'if .status != "success" then "\(.errorType): \(.error)"
           else "\(.data.result | length) series, none with a value" end' \
        "$SB_WORK/answer.json" > "$SB_WORK/why" 2> /dev/null || echo "no answer" > "$SB_WORK/why"
    return 1
}
# Every target of every panel, also those of rows' collapsed panels.
jq -r '.. | objects | select(has("targets")) | .title as $t | .targets[]
       | select(.expr != null) | [$t, .refId, .expr] | @tsv' "$DASHBOARD" > "$SB_WORK/targets.tsv"
n_targets=$(wc -l < "$SB_WORK/targets.tsv")
[ "$n_targets" -ge 40 ] || fail "read only $n_targets targets from $DASHBOARD"

# The replay must have run and the windows closed before every series is
# there: each window gauge and each alert comes from the data.
finished() { curl -sf "$SB_URL/api/v1/status" | jq -e '.replay.finished == true' > /dev/null; }
wait_for 120 "the replay to finish" finished
# sensorbridge_window_late_samples_total has a sensor's series from its
# first late sample on: one TS1 sample from long before the replay's event
# times (which start now), on the shipped file's samples topic, is one.
echo '{"sensor":"TS1","value":35.5,"timestamp":"2020-01-01T00:00:00Z"}' |
    kcat -P -b "$SB_BROKERS" -t hydraulic-samples -k TS1 2> "$SB_WORK/kcat.err" ||
    fail "kcat could not produce to hydraulic-samples: $(cat "$SB_WORK/kcat.err")"
wait_metric 'sensorbridge_window_late_samples_total{sensor="TS1"}' 1 30
firing() {
    has_data 'ALERTS{alertname="SensorbridgeSensorWarning",alertstate="firing",sensor="CE",rule="threshold"}'
}
wait_for 60 "SensorbridgeSensorWarning to fire for CE in prometheus" firing

while IFS=$'\t' read -r title ref expr; do
    e=$(substitute "$expr")
    [[ $e != *\$* ]] || { problem "dashboard panel '$title' $ref: unresolved variable in $e"; continue; }
    # Rates need two scrapes in their range: wait for them rather than
    # failing on the first evaluation.
    for _ in $(seq 1 50); do has_data "$e" && break; sleep 0.2; done
    has_data "$e" || problem "dashboard panel '$title' $ref: $e: $(cat "$SB_WORK/why")"
done < "$SB_WORK/targets.tsv"

jq -r '.data.groups[] | .name as $g | .rules[] | [$g, .type, .name, .query] | @tsv' \
    "$SB_WORK/rules.json" > "$SB_WORK/rules.tsv"
n_rules=0
while IFS=$'\t' read -r group type name query; do
    n_rules=$((n_rules + 1))
    if [ "$type" = recording ]; then
        has_data "$query" || problem "recording rule $name: $query: $(cat "$SB_WORK/why")"
        has_data "$name" || problem "recording rule $name gives no series: $(cat "$SB_WORK/why")"
        continue
    fi
    # The terms of an `and`, each without its outer parentheses.
    if [[ $query == \(*\)\ and\ \(*\) ]]; then
        terms=$(sed -e 's/^(//' -e 's/)$//' -e 's/) and (/\n/g' <<< "$query")
    else
        terms=$query
    fi
    while read -r term; do
        sel=$(sed -E 's/[[:space:]]*(==|!=|>=|<=|>|<)[[:space:]]*-?[0-9][0-9.e+]*$//' <<< "$term")
        if [ "$sel" = "$term" ]; then
            problem "alert $name of group $group: '$term' is not SELECTION COMPARISON NUMBER"
            continue
        fi
        has_data "$sel" || problem "alert $name: $sel: $(cat "$SB_WORK/why")"
    done <<< "$terms"
done < "$SB_WORK/rules.tsv"
echo "evaluated $n_targets dashboard targets and $n_rules rules" >&2

# ---- the old stack's names ----
# Prometheus's value of the recorded series (one, without a cycle label)
# against the daemon's own gauge, both still once the replay has ended;
# bounded waits cover the rule evaluation after the last scrape.
old_name_agrees() {
    local s=$1 l want got
    l=$(tr 'A-Z' 'a-z' <<< "$s")
    want=$(scrape | metric "sensorbridge_sensor_value{sensor=\"$s\"}")
    prom_query "hydraulic_${l}_value" > "$SB_WORK/old.json"
    got=$(jq -r 'if (.data.result | length) == 1 then .data.result[0].value[1] else empty end' "$SB_WORK/old.json")
    echo "hydraulic_${l}_value: prometheus '$got' ($(jq -c '[.data.result[].metric]' "$SB_WORK/old.json")), daemon '$want'" \
        > "$SB_WORK/state.txt"
    [ -n "$want" ] && [ -n "$got" ] && numeq "$got" "$want" &&
        jq -e --arg s "$s" '.data.result[0].metric | .sensor == $s and (has("cycle") | not)' "$SB_WORK/old.json" > /dev/null
}
for s in $SB_SENSORS; do
    wait_for 30 "hydraulic_$(tr 'A-Z' 'a-z' <<< "$s")_value to equal the daemon's $s" old_name_agrees "$s"
done
: > "$SB_WORK/state.txt"
has_data hydraulic_messages_total || problem "hydraulic_messages_total: $(cat "$SB_WORK/why")"

[ "$errors" = 0 ] || fail "$errors problem(s) with deploy/prometheus and the dashboard"
stop_pid "$PROM_PID" prometheus 30
stop_daemon
echo "ok: prometheus rules and dashboard"
