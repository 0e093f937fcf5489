#!/bin/bash
# Windows across a restart. Daemon A consumes the first half of TS1's
# window [0 s, 60 s) and is stopped; daemon B (same group) starts from the
# offsets A committed, mid-window, and consumes the rest and four more
# windows. Read back from the aggregates and alerts topics with kcat:
#   - A published its open window at the stop: partial, "stopped", 30;
#   - B's first window is partial, "resumed", with the other 30 samples;
#     the two halves hold every sample once;
#   - every window marked complete has all 60 samples;
#   - the z-score baseline is fed by complete windows only. With a
#     baseline of 2 windows, B's window means are 10 (the partial one),
#     11, 50, 30, 1000: 50 against 10 and 11 would be critical; against
#     nothing (11 alone is no baseline) it is not evaluated, 30 against
#     11 and 50 is normal, and 1000 against 50 and 30 is critical. So the
#     only alert is the one at 300 s.
# The samples are written with kcat (one key, so one partition, in order)
# rather than by a replay, so that the stop falls at a chosen offset. The
# shared layout keeps the broker to three topics (one samples topic keyed
# by sensor: a sensor is still on one partition).
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

T0=1762612200 # 2025-11-08T14:30:00Z, a whole minute
if [ "$SB_BROKER" = embedded ]; then
    # A broker that outlives the daemons.
    start_mockbroker hydraulic-samples hydraulic-aggregates hydraulic-alerts
    BROKERS=$MB_BROKERS
else
    use_test_broker
    BROKERS=$KAFKA_BROKERS
fi
conf=$SB_WORK/sb.conf
write_config "$conf" "$SB_WORK/unused" max
set_key "$conf" kafka brokers "$BROKERS"
set_key "$conf" kafka layout shared
set_key "$conf" replay enabled false
set_key "$conf" consumer group_id sb-restart
cat >> "$conf" <<CONF
[windows]
sizes = 60s
watermark = 5s
[alert.TS1]
zscore = 1
zscore_baseline = 2
CONF

# samples FROM TO VALUE: TS1 at T0 + FROM .. TO seconds, one a second.
samples() {
    local t
    for t in $(seq "$1" "$2"); do
        printf '{"sensor":"TS1","value":%s,"timestamp":"%s"}\n' "$3" \
            "$(date -u -d "@$((T0 + t))" +%Y-%m-%dT%H:%M:%SZ)"
    done
}
# produce FILE: its lines, in order (idempotent: a retry, e.g. after a
# real Kafka's "coordinator load in progress", cannot overtake the next
# request and make a sample late, a window short or the stop fall elsewhere).
produce() {
    timeout 60 kcat -P -q -X enable.idempotence=true -b "$BROKERS" -t hydraulic-samples -k TS1 -l "$1" \
        || fail "kcat could not produce $1"
}
# read_topic TOPIC N OUT: the first N messages of TOPIC, or fail with what
# came within 60 s.
read_topic() {
    timeout 60 kcat -C -q -b "$BROKERS" -t "$1" -o beginning -c "$2" -f '%s\n' > "$3" || true
    [ "$(wc -l < "$3")" -eq "$2" ] || {
        cat "$3" >&2
        fail "$(wc -l < "$3") messages on $1, expected $2"
    }
}

# ---- A: the first half of [0 s, 60 s) ----
start_instance "$conf" "$SB_WORK/a.log"
A_PID=$INST_PID A_URL=$INST_URL
wait_for 60 "A's topics on the cluster" topics_exist "$A_URL"
samples 0 29 10 > "$SB_WORK/first.jsonl"
produce "$SB_WORK/first.jsonl"
wait_for 120 "A to apply 30 samples" eval \
    '[ "$(scrape_url "$A_URL" | metric "sensorbridge_sensor_samples_consumed_total{sensor=\"TS1\"}")" = 30 ]'
stop_pid "$A_PID" "daemon A"
grep -q 'msg="open windows published as partial" reason=stopped windows=1' "$SB_WORK/a.log" \
    || fail "A did not publish its open window at the stop"

# ---- B: from A's committed offset to five windows later ----
{
    samples 30 59 10
    samples 60 119 11
    samples 120 179 50
    samples 180 239 30
    samples 240 299 1000
    samples 305 305 0 # watermark 300 s: closes [240 s, 300 s)
} > "$SB_WORK/rest.jsonl"
produce "$SB_WORK/rest.jsonl"
start_instance "$conf" "$SB_WORK/b.log"
B_PID=$INST_PID B_URL=$INST_URL
wait_for 120 "B to apply 271 samples" eval \
    '[ "$(scrape_url "$B_URL" | metric "sensorbridge_sensor_samples_consumed_total{sensor=\"TS1\"}")" = 271 ]'
SB_URL=$B_URL
wait_metric 'sensorbridge_windows_closed_total{window="60s"}' 5 60
wait_metric 'sensorbridge_output_messages_delivered_total{topic="hydraulic-aggregates"}' 5 60
scrape > "$SB_WORK/b.scrape"
promtool check metrics < "$SB_WORK/b.scrape" || fail "promtool check metrics rejected B's scrape"
for series in 'sensorbridge_windows_partial_total{window="60s",reason="resumed"} 1' \
              'sensorbridge_windows_partial_total{window="60s",reason="stopped"} 0' \
              'sensorbridge_window_samples{sensor="TS1",window="60s"} 60' \
              'sensorbridge_window_mean{sensor="TS1",window="60s"} 1000' \
              'sensorbridge_alerts_total{sensor="TS1",level="critical"} 1'; do
    grep -qxF "$series" "$SB_WORK/b.scrape" || fail "expected '$series' on B's /metrics"
done
grep -q 'sensorbridge_alerts_total{sensor="TS1",level="warning"}' "$SB_WORK/b.scrape" \
    && fail "B raised a warning"
curl -sf "$B_URL/api/v1/windows" > "$SB_WORK/windows.json" || fail "no /api/v1/windows"
jq -e '.windows | length == 1 and .[0].complete == true and .[0].count == 60 and
       .[0].window_start == "2025-11-08T14:34:00.000000Z"' "$SB_WORK/windows.json" > /dev/null \
    || fail "/api/v1/windows: $(cat "$SB_WORK/windows.json")"
stop_pid "$B_PID" "daemon B"

# ---- what the topics hold ----
read_topic hydraulic-aggregates 7 "$SB_WORK/agg.txt"
# window_start count complete partial_reason, one line per aggregate
jq -r '[.window_start[11:19], .count, .complete, (.partial_reason // "-")] | @tsv' \
    "$SB_WORK/agg.txt" > "$SB_WORK/agg.tsv"
printf '%s\t%s\t%s\t%s\n' \
    14:30:00 30 false stopped \
    14:30:00 30 false resumed \
    14:31:00 60 true - \
    14:32:00 60 true - \
    14:33:00 60 true - \
    14:34:00 60 true - \
    14:35:00 1 false stopped > "$SB_WORK/agg.want"
diff "$SB_WORK/agg.want" "$SB_WORK/agg.tsv" >&2 || fail "the aggregates are not as expected"
# Every complete window has all its samples (60 at 1 Hz); the two halves
# of the first one have every sample once, 10 each: 30 + 30, sums 300 + 300.
[ "$(jq -s '[.[] | select(.complete) | .count != 60] | any' "$SB_WORK/agg.txt")" = false ] \
    || fail "a window marked complete lacks samples"
[ "$(jq -s '[.[] | select(.window_start == "2025-11-08T14:30:00.000000Z") | .sum] | add' \
    "$SB_WORK/agg.txt")" = 600 ] || fail "the halves of the first window do not add up to 600"
[ "$(jq -rs '[.[0].last_event, .[1].first_event] | join(" ")' "$SB_WORK/agg.txt")" = \
    "2025-11-08T14:30:29.000000Z 2025-11-08T14:30:30.000000Z" ] \
    || fail "the halves of the first window overlap or leave a gap"

read_topic hydraulic-alerts 1 "$SB_WORK/alerts.txt"
jq -e '.timestamp == "2025-11-08T14:35:00.000000Z" and .rule == "zscore" and
       .level == "critical" and .value == 1000' "$SB_WORK/alerts.txt" > /dev/null \
    || fail "the first alert is $(cat "$SB_WORK/alerts.txt"), expected the critical one at 14:35:00 (the partial window fed the baseline?)"
[ "$SB_BROKER" = kafka ] || stop_mockbroker
echo "ok: windows across a restart"
