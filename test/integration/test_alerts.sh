#!/bin/bash
# Alert transitions and hysteresis from crafted input: each transition is
# published once to the alerts topic (read with kcat) and shows on /metrics
# and /api/v1/alerts; a value hovering at a threshold raises no storm.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

ds=$(make_dataset)
write_config "$SB_WORK/sb.conf" "$ds" max
sed -i 's/^\[replay\]$/[replay]\nenabled = false/' "$SB_WORK/sb.conf"
cat >> "$SB_WORK/sb.conf" <<CONF
[windows]
enabled = false
[alert.TS1]
high_warning = 50
high_critical = 60
hysteresis = 2
CONF
start_daemon "$SB_WORK/sb.conf"

i=0
{
    for v in 40 49.5 50.5 49.9 50.2 48.5 47.9 61 58.5 57 40; do
        printf '{"sensor":"TS1","value":%s,"timestamp":"%s"}\n' "$v" \
            "$(date -u -d "@$((1762612200 + i))" +%Y-%m-%dT%H:%M:%SZ)"
        i=$((i + 1))
    done
} > "$SB_WORK/in.jsonl"
# One key: one partition, consumed in this order, which is what the
# transitions and the hysteresis follow; an idempotent producer keeps that
# order when it retries (a real Kafka that just started answers
# "coordinator load in progress" at first, and a plain retry can overtake
# the next request: 61 behind 58.5 is another sequence of alerts).
kcat -b "$SB_BROKERS" -P -X enable.idempotence=true -t hydraulic-TS1 -k TS1 -l "$SB_WORK/in.jsonl" 2>/dev/null \
    || fail "kcat could not produce"

wait_metric sensorbridge_consumer_messages_total 11 120
wait_metric 'sensorbridge_output_messages_delivered_total{topic="hydraulic-alerts"}' 5 60
scrape > "$SB_WORK/scrape.txt"
promtool check metrics < "$SB_WORK/scrape.txt" || fail "promtool check metrics rejected the scrape"
for series in 'sensorbridge_alerts_total{sensor="TS1",level="warning"} 1' \
              'sensorbridge_alerts_total{sensor="TS1",level="critical"} 1' \
              'sensorbridge_alert_level{sensor="TS1",rule="threshold"} 0'; do
    grep -qxF "$series" "$SB_WORK/scrape.txt" || fail "expected '$series' on /metrics"
done

kcat -b "$SB_BROKERS" -C -t hydraulic-alerts -o beginning -e -q -f '%k\t%s\n' \
    > "$SB_WORK/alerts.txt" 2>/dev/null || fail "kcat could not read the alerts"
[ "$(wc -l < "$SB_WORK/alerts.txt")" -eq 5 ] || {
    cat "$SB_WORK/alerts.txt" >&2
    fail "$(wc -l < "$SB_WORK/alerts.txt") alerts, expected exactly 5 (one per transition)"
}
expect() { # expect N KEY LEVEL PREVIOUS VALUE SECOND
    local line
    line=$(sed -n "$1p" "$SB_WORK/alerts.txt")
    case $line in
    "TS1	{\"timestamp\":\"2025-11-08T14:30:0$6.000000Z\",\"sensor\":\"TS1\",\"rule\":\"threshold\",\"level\":\"$3\",\"previous_level\":\"$4\",\"value\":$5,"*) ;;
    *) fail "alert $1 is $line; expected $3 from $4 at value $5" ;;
    esac
}
expect 1 TS1 warning normal 50.5 2
expect 2 TS1 normal warning 47.9 6
expect 3 TS1 critical normal 61 7
expect 4 TS1 warning critical 57 9
line=$(sed -n 5p "$SB_WORK/alerts.txt")
case $line in *'"timestamp":"2025-11-08T14:30:10.000000Z"'*'"level":"normal","previous_level":"warning","value":40,'*) ;;
    *) fail "alert 5 is $line" ;; esac

api=$(curl -sf "$SB_URL/api/v1/alerts") || fail "no /api/v1/alerts"
case $api in '{"alerts":[{"timestamp":"2025-11-08T14:30:10.000000Z","sensor":"TS1","rule":"threshold","level":"normal"'*) ;;
    *) fail "/api/v1/alerts is not newest first: ${api:0:200}" ;; esac
[ "$(printf '%s' "$api" | grep -o '"rule":' | wc -l)" -eq 5 ] || fail "/api/v1/alerts does not hold the 5 alerts"
stop_daemon
echo "ok: alerts"
