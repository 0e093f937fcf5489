#!/bin/bash
# [consumer] sensor_expiry: a sensor that sends nothing for that long loses
# every series (no last value shown for ever), counted as expired, while a
# sensor that keeps sending stays; a new sample brings it back from zero;
# sensor_expiry = 0, applied by a reload, keeps silent sensors.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

make_sensor_topics
conf=$SB_WORK/sb.conf
write_config "$conf" "$SB_WORK/unused" max
set_key "$conf" replay enabled false
set_key "$conf" producer enabled false
set_key "$conf" consumer sensor_expiry 3s
start_daemon "$conf"

# sample SENSOR IDX: one valid message of a 1 Hz sensor on its topic.
sample() {
    printf '{"sensor":"%s","cycle":0,"sample_idx":%d,"value":%d.5,"timestamp":"2025-11-08T14:30:%02d.000000Z","sampling_rate_hz":1}\n' \
        "$1" "$2" "$2" "$2" |
        timeout 30 kcat -P -q -b "$SB_BROKERS" -t "hydraulic-$1" -k "$1" || fail "kcat could not produce"
}
series() { scrape | grep -c "^sensorbridge_sensor_[a-z_]*{sensor=\"$1\"" || true; }

sample TS1 0
sample TS2 0
wait_metric 'sensorbridge_sensor_samples_consumed_total{sensor="TS1"}' 1 60
wait_metric 'sensorbridge_sensor_samples_consumed_total{sensor="TS2"}' 1 60
[ "$(series TS1)" -ge 5 ] || fail "TS1 has only $(series TS1) series"
# TS2 keeps sending once a second; TS1 falls silent.
for i in 1 2 3 4 5 6; do
    sample TS2 "$i"
    sleep 1
done
wait_metric 'sensorbridge_sensor_series_removed_total{reason="expired"}' 1 10
[ "$(series TS1)" = 0 ] || fail "TS1 still has $(series TS1) series after falling silent"
scrape > "$SB_WORK/s1.txt"
promtool check metrics < "$SB_WORK/s1.txt" || fail "promtool rejected the scrape"
[ "$(metric 'sensorbridge_sensor_samples_consumed_total{sensor="TS2"}' < "$SB_WORK/s1.txt")" = 7 ] ||
    fail "TS2, which kept sending, lost its series"
grep -q 'msg="silent sensors removed" sensors=1 silent_for_s=3' "$SB_LOG" || fail "no log line for the expiry"

# sensor_expiry = 0 by reload, right after TS2's latest sample (its 3 s
# cannot run out first): from now on nothing expires.
sample TS2 7
set_key "$conf" consumer sensor_expiry 0
kill -HUP "$SB_PID"
wait_metric sensorbridge_config_reloads_total 1 30
wait_metric 'sensorbridge_sensor_samples_consumed_total{sensor="TS2"}' 8 30

# TS1 is back with its next sample, counted from zero.
sample TS1 8
wait_metric 'sensorbridge_sensor_samples_consumed_total{sensor="TS1"}' 1 60
[ "$(scrape | metric 'sensorbridge_sensor_value{sensor="TS1"}')" = 8.5 ] || fail "TS1's value is not 8.5"
sleep 5
scrape > "$SB_WORK/s2.txt"
[ "$(metric 'sensorbridge_sensor_samples_consumed_total{sensor="TS1"}' < "$SB_WORK/s2.txt")" = 1 ] &&
    [ "$(metric 'sensorbridge_sensor_samples_consumed_total{sensor="TS2"}' < "$SB_WORK/s2.txt")" = 8 ] ||
    fail "a sensor expired with sensor_expiry = 0"
[ "$(metric 'sensorbridge_sensor_series_removed_total{reason="expired"}' < "$SB_WORK/s2.txt")" = 1 ] ||
    fail "expected exactly one expiry (TS1's)"
stop_daemon
echo "ok: sensor expiry"
