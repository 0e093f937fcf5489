#!/bin/bash
# The sources never outrun the consumer of the same process by more than the
# broker holds (flow.h).
# 1. The shipped configuration with only speed = max changed (loop = true):
#    after 30 s of replay and synthetic sensors the sources are stopped by a
#    reload, and once the consumer has caught up every sample delivered has
#    been applied, and no position was reset nor message skipped. On the
#    embedded broker (5 MiB per partition) the old daemon had by then lost
#    most of every 100 Hz sensor (the consumer's positions reset again and
#    again).
# 2. 10 cycles with a bound of 500 messages per partition: the sources wait
#    for the consumer again and again (sensorbridge_flow_control_pauses_total
#    grows past the wait for the first assignment), and still every sample
#    is applied.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

use_test_broker

# The shipped configuration at speed max, pointed at the test's broker.
conf=$SB_WORK/shipped.conf
cp "$SB_SOURCE_ROOT/conf/sensorbridge.conf" "$conf"
set_key "$conf" kafka brokers "$TEST_BROKERS"
set_key "$conf" replay dataset "$SB_SOURCE_ROOT/datasets/uci-hydraulic"
set_key "$conf" condition model "$SB_SOURCE_ROOT/conf/condition-model.json"
set_key "$conf" replay speed max
set_key "$conf" http listen 127.0.0.1:0
start_daemon "$conf"
for i in $(seq 1 30); do
    scrape > /dev/null || fail "/metrics did not answer after $i s"
    sleep 1
done
# Stop every source: no replay, no synthetic sensors (and so no alert rules
# for them: the UCI sensors' names have no lower-case letter); the samples
# of the synthetic sensors still to be consumed stay valid without strict
# sensor names.
awk '/^\[/ { skip = $0 ~ /^\[synthetic\./ || $0 ~ /^\[alert\.[^]]*[a-z]/ } !skip' "$conf" > "$conf.new"
set_key "$conf.new" replay enabled false
set_key "$conf.new" consumer strict_sensors false
mv "$conf.new" "$conf"
kill -HUP "$SB_PID"
wait_metric sensorbridge_config_reloads_total 1 30
# caught_up N [TOTAL]: N sensors, each with every produced sample delivered
# and applied (and TOTAL applied in all, if given; otherwise some are
# still in flight, or the consumer is still behind). What it
# saw last is in state.txt, printed if the wait fails: each sensor's
# produced, delivered and applied counts, then the producer's queue and
# whether the flow is closed. The waits leave the test's 300 s to report
# (on the embedded broker, lingering 500 ms, the 10 cycles of part 2 take
# about two minutes).
caught_up() {
    local s
    s=$(scrape) || return 1
    echo "$s" | awk '
        /^sensorbridge_messages_produced_total\{/ { p[$1] = $2 }
        /^sensorbridge_messages_delivered_total\{/ { d[$1] = $2 }
        /^sensorbridge_sensor_samples_consumed_total\{/ { c[$1] = $2 }
        /^sensorbridge_producer_queue_messages / { q = $2 }
        /^sensorbridge_flow_control_paused / { f = $2 }
        END {
            n = 0
            ok = 1
            for (k in p) {
                n++
                a = k; sub(/messages_produced_total/, "messages_delivered_total", a)
                b = k; sub(/messages_produced_total/, "sensor_samples_consumed_total", b)
                s = k; sub(/.*sensor="/, "", s); sub(/".*/, "", s)
                printf "%s produced %s delivered %s applied %s\n", s, p[k], d[a], c[b] > state
                if (d[a] != p[k] || c[b] != p[k]) ok = 0
                sum += c[b]
            }
            printf "producer queue %s, flow paused %s\n", q, f > state
            exit ok && n == want && (total == "" || sum == total) ? 0 : 1
        }' state="$SB_WORK/state.txt" want="$1" total="${2:-}"
}
wait_for 45 "every produced sample delivered and applied" caught_up 22
rm -f "$SB_WORK/state.txt"
scrape > "$SB_WORK/scrape.txt"
for s in $SB_SENSORS; do
    produced=$(metric "sensorbridge_messages_produced_total{sensor=\"$s\"}" < "$SB_WORK/scrape.txt")
    got=$(metric "sensorbridge_sensor_samples_consumed_total{sensor=\"$s\"}" < "$SB_WORK/scrape.txt")
    [ "$got" = "$produced" ] || fail "$s: $produced produced, $got applied"
done
resets=$(metric sensorbridge_consumer_offset_resets_total < "$SB_WORK/scrape.txt")
[ "$resets" = 0 ] || fail "$resets positions reset: the broker deleted unread messages"
skipped=$(metric_sum sensorbridge_consumer_skipped_messages_total < "$SB_WORK/scrape.txt")
[ "$skipped" = 0 ] || fail "$skipped messages skipped"
ps1=$(metric 'sensorbridge_sensor_samples_consumed_total{sensor="PS1"}' < "$SB_WORK/scrape.txt")
echo "shipped configuration at speed max: PS1 $ps1 samples, all applied" >&2
promtool check metrics < "$SB_WORK/scrape.txt" || fail "promtool rejects the scrape"
stop_daemon

# 2. A bounded replay with a small bound: 500 messages behind at most, plus
# at most the 2,000 the producer may have in flight when the flow closes.
conf=$SB_WORK/sb.conf
write_config "$conf" "$SB_SOURCE_ROOT/datasets/uci-hydraulic" max
set_key "$conf" replay cycles 0-9
set_key "$conf" producer max_consumer_lag 500
set_key "$conf" producer kafka.queue.buffering.max.messages 2000
fresh_broker
set_key "$conf" kafka brokers "$TEST_BROKERS"
start_daemon "$conf"
wait_for 200 "every sample of 10 cycles delivered and applied" caught_up 17 "$(samples_in_cycles 10)"
rm -f "$SB_WORK/state.txt"
scrape > "$SB_WORK/scrape.txt"
for s in $SB_SENSORS; do
    want=$((10 * 60 * $(sensor_rate "$s")))
    got=$(metric "sensorbridge_sensor_samples_consumed_total{sensor=\"$s\"}" < "$SB_WORK/scrape.txt")
    [ "$got" = "$want" ] || fail "$s: $got applied, expected $want"
done
[ "$(metric sensorbridge_flow_control_paused < "$SB_WORK/scrape.txt")" = 0 ] ||
    fail "the sources still wait for the consumer after it applied everything"
pauses=$(metric sensorbridge_flow_control_pauses_total < "$SB_WORK/scrape.txt")
echo "bound 500: 10 cycles applied, $pauses pauses" >&2
[ "$pauses" -ge 2 ] || fail "the sources paused $pauses time(s) with a bound of 500: never for lag"
stop_daemon
echo "ok: flow control"
