#!/bin/bash
# Fault matrix: reload (SIGHUP) under full load. One daemon replays eight
# cycles (PS2 and FS1 from their stand-ins) at speed max and consumes them
# (producer queue 10,000 messages); the replay is switched on by a reload
# once the consumer holds its partitions. While it produces, it is reloaded again and again: speed
# max -> 50 -> max, log level notice -> info, and a file with an invalid
# speed (refused, the running configuration kept). Every reload is applied
# or refused as it should be, the replay is never restarted (each stream
# keeps its place), every sample of the dataset is produced, on its topic
# exactly once and applied exactly once, and /metrics answers throughout.
# Embedded broker: the standalone mock cluster; SB_BROKER=kafka: a
# single-node Apache Kafka.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_mockbroker_sensors
ds=$(make_dataset 8)
total=0
for s in $SB_SENSORS; do total=$((total + $(sensor_samples "$ds" "$s"))); done
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds" max
set_key "$conf" kafka brokers "$MB_BROKERS"
set_key "$conf" producer kafka.queue.buffering.max.messages 10000
set_key "$conf" replay enabled false
start_daemon "$conf"
watch_metrics daemon "$SB_URL"
replay_when_ready "$conf" "$SB_PID" "$SB_URL"

counter() { scrape | metric "$1"; }
running() { curl -sf "$SB_URL/api/v1/status" | jq -e '.replay.finished == false' > /dev/null; }
# reload SECTION KEY VALUE COUNTER: changes one key, sends SIGHUP and waits
# for COUNTER (applied or refused reloads) to go up; counts the reloads
# that came while the replay was still producing.
during=0
reload() {
    local n
    n=$(counter "$4")
    set_key "$conf" "$1" "$2" "$3"
    running && during=$((during + 1))
    kill -HUP "$SB_PID"
    wait_metric "$4" $((n + 1)) 30
}
reload replay speed 50 sensorbridge_config_reloads_total
reload general log_level notice sensorbridge_config_reloads_total
reload replay speed fast sensorbridge_config_reload_failures_total
reload replay speed 50 sensorbridge_config_reloads_total
reload general log_level info sensorbridge_config_reloads_total
reload replay speed max sensorbridge_config_reloads_total
[ "$during" = 6 ] || fault_problem "only $during of the 6 reloads came while the replay produced"
echo "[${SECONDS}s] $during of 6 reloads while the replay was producing" >&2

wait_applied 120 "$MB_BROKERS" "$SB_URL" "$total" "$SB_URL"
unwatch_metrics daemon
fault_account "$MB_BROKERS" "$ds" "$SB_WORK/final-producer.txt" "$SB_WORK/final-consumer1.txt"
reloads=$(metric sensorbridge_config_reloads_total < "$SB_WORK/final-producer.txt")
refused=$(metric sensorbridge_config_reload_failures_total < "$SB_WORK/final-producer.txt")
[ "$reloads" = 6 ] || fault_problem "$reloads reloads applied, expected 6 (one to start the replay, five changes)"
[ "$refused" = 1 ] || fault_problem "$refused reloads refused, expected 1 (speed = fast)"
starts=$(grep -c 'msg="replay started"' "$SB_LOG" || true)
[ "$starts" = 1 ] || fault_problem "the replay was started $starts times: a speed change restarted it"
queue_full=$(metric sensorbridge_producer_queue_full_total < "$SB_WORK/final-producer.txt")
stop_daemon
stop_mockbroker
fault_report "SIGHUP seven times while a daemon replays at speed max (producer queue 10,000) and consumes: speed max -> 50, log level notice, an invalid speed (refused), log level info, speed max" \
    "$during of the 6 reloads came while the replay produced; $reloads applied and $refused refused (reload counters), the replay started once and kept its place; the producer queue was full $queue_full times; /metrics answered $WATCH_SCRAPES scrapes, none failed"
