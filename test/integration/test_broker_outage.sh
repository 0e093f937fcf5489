#!/bin/bash
# A broker outage buffers, it does not drop: a producer-only daemon replays
# two cycles into a standalone mock cluster; mid-way every broker goes down
# (connections closed, new ones refused) for a while. The replay starts at
# the slowest speed (0.001: the two cycles would take 33 hours), so it is
# still producing when the outage begins however slow this machine is;
# only then does a reload set speed = max (the replay keeps its place).
# The producer queue (2,000 messages) fills, the replay pauses, nothing is
# delivered and nothing fails; once the brokers are back, every sample
# arrives exactly once (kcat counts each topic) and the replay finishes.
# Meanwhile /readyz says the brokers do not answer; /healthz stays ok.
# Embedded broker only: the outage is the mock cluster's fault injection
# (mockbroker takes every broker down on SIGUSR1); a real Kafka has none.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_mockbroker_sensors

ds=$(make_dataset)
conf=$SB_WORK/sb.conf
# At 0.001 the first samples (event time 0) go out at once, the rest of
# the replay cannot end before the brokers go down: data is still being
# produced when they do, whatever the load.
write_config "$conf" "$ds" 0.001
set_key "$conf" kafka brokers "$MB_BROKERS"
set_key "$conf" consumer enabled false
set_key "$conf" producer kafka.queue.buffering.max.messages 2000
set_key "$conf" producer kafka.linger.ms 5
start_daemon "$conf"
total=$(samples_in_cycles 2)

delivered() { scrape | metric_sum sensorbridge_messages_delivered_total; }
flowing() { [ "$(delivered)" -gt 0 ]; }
wait_for 60 "the first deliveries" flowing

kill -USR1 "$MB_PID"
wait_log "$SB_WORK/mockbroker.log" 'brokers down: Success' 30
replay_running() {
    curl -sf "$SB_URL/api/v1/status" | jq -e '.replay.finished == false' > /dev/null
}
replay_running || fail "the replay finished before the outage; nothing tested"
# The brokers are down and the replay goes on: now as fast as it can, into
# the outage (a reload that changes only the speed keeps the replay's place).
set_key "$conf" replay speed max
kill -HUP "$SB_PID"
wait_metric sensorbridge_config_reloads_total 1 30
[ "$(val sensorbridge_config_reload_failures_total)" = 0 ] || fail "the reload to speed = max failed"
paused() { is sensorbridge_replay_paused 1; }
wait_for 60 "the replay to pause on a full producer queue" paused
# While the brokers are down: nothing more is delivered, nothing fails, the
# replay stays paused with the queue full.
d1=$(delivered)
[ "$d1" -lt "$total" ] || fail "everything was delivered before the outage; nothing tested"
sleep 5
s=$(scrape)
d2=$(echo "$s" | metric_sum sensorbridge_messages_delivered_total)
[ "$d2" = "$d1" ] || fail "$((d2 - d1)) messages delivered while every broker was down"
[ "$(echo "$s" | metric_sum sensorbridge_messages_delivery_failed_total)" = 0 ] ||
    fail "deliveries failed during the outage"
[ "$(echo "$s" | metric sensorbridge_replay_paused)" = 1 ] || fail "the replay resumed during the outage"
queued=$(echo "$s" | metric sensorbridge_producer_queue_messages)
[ "$queued" -ge 1000 ] && [ "$queued" -le 2000 ] ||
    fail "$queued messages queued during the outage, expected the queue (2000) to be full"
echo "[${SECONDS}s] outage: $d1 of $total delivered, $queued queued, replay paused" >&2
# Not ready while the brokers do not answer; /healthz (liveness) stays ok.
readyz_says() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$SB_URL/readyz")" = "$1" ]; }
wait_for 30 "/readyz to answer 503 during the outage" readyz_says 503
curl -s "$SB_URL/readyz" | grep -q '^not ready: the brokers do not answer: ' ||
    fail "/readyz during the outage: $(curl -s "$SB_URL/readyz")"
[ "$(scrape | metric sensorbridge_kafka_cluster_reachable)" = 0 ] || fail "the cluster counts as reachable"
curl -sf "$SB_URL/healthz" > /dev/null || fail "/healthz failed during the outage"

kill -USR2 "$MB_PID"
wait_log "$SB_WORK/mockbroker.log" 'brokers up: Success' 30
all_delivered() { [ "$(delivered)" = "$total" ]; }
wait_for 120 "all $total messages to be delivered after the outage" all_delivered
echo "[${SECONDS}s] all delivered" >&2
wait_for 30 "/readyz to answer 200 again" readyz_says 200
s=$(scrape)
[ "$(echo "$s" | metric_sum sensorbridge_messages_produced_total)" = "$total" ] ||
    fail "produced $(echo "$s" | metric_sum sensorbridge_messages_produced_total), expected $total"
[ "$(echo "$s" | metric_sum sensorbridge_messages_delivery_failed_total)" = 0 ] ||
    fail "deliveries failed after the outage"
[ "$(echo "$s" | metric sensorbridge_replay_paused)" = 0 ] || fail "the replay is still paused"

# What the broker holds: every sample of every sensor exactly once.
for s in $SB_SENSORS; do
    want=$((2 * 60 * $(sensor_rate "$s")))
    timeout 60 kcat -C -q -b "$MB_BROKERS" -t "hydraulic-$s" -o beginning -e \
        -X fetch.wait.max.ms=10 -f '%s\n' > "$SB_WORK/topic.txt" || fail "kcat could not read hydraulic-$s"
    n=$(wc -l < "$SB_WORK/topic.txt")
    got=$(sort -u "$SB_WORK/topic.txt" | wc -l)
    [ "$n" = "$want" ] || fail "hydraulic-$s holds $n messages, expected $want"
    [ "$got" = "$want" ] || fail "hydraulic-$s holds $got distinct messages of $n"
done

echo "[${SECONDS}s] topics checked" >&2
stop_daemon
stop_pid "$MB_PID" "the mock broker"
echo "ok: broker outage"
