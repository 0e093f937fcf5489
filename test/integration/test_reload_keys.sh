#!/bin/bash
# Every reload step, under load: a replay of all 17 sensors in a loop at
# speed 20 and a synthetic sensor, while each reloadable key is changed by
# SIGHUP and its effect is checked from outside (the scrape, the status
# JSON, the log, kcat). The option table maps every reloadable key to one
# of these steps (config_changes_name_apply_steps in test_config checks
# that mapping key by key); this test checks each step does what it says:
#   log level          [general] log_level
#   consumer           [consumer] strict_sensors, sensor_expiry
#   flow control       [producer] max_consumer_lag
#   speed              [replay] speed
#   coalescing         [producer] coalesce_ms
#   new replay         [replay] enabled, sensors, cycles, loop, dataset, event_epoch
#   new synthetic      [synthetic.<NAME>] base (the value follows), sections
#                      added and removed, then every other key: the source is
#                      rebuilt once per change
#   new rule engine    [alert.<SENSOR>] high_warning (an alert fires), then
#                      every other key: the rules are rebuilt once per change
# Across all of it the counters never go back, the consumer does not rejoin
# its group (until a new synthetic sensor's topic appears, which Kafka
# rebalances the group for; the embedded broker's consumer, which joins no
# group, takes the new topic's partitions at the reload: one assignment
# more, nothing revoked), the HTTP port stays, and windows keep being
# closed and served.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

ds=$(make_dataset)
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds" 20
set_key "$conf" replay loop true
# A second size, so that an alert's zscore_window can change.
set_key "$conf" windows sizes "1m 5m"
cat >> "$conf" <<'CONF'
[synthetic.oven]
kind = temperature
rate_hz = 10
base = 100
noise = 0
[alert.oven]
high_warning = 1000
CONF
start_daemon "$conf"

reloads() { val sensorbridge_config_reloads_total; }
produced() { val "sensorbridge_messages_produced_total{sensor=\"$1\"}"; }
n_reloads=0
# reload SECTION KEY VALUE: sets the key and waits for the reload to count.
reload() {
    set_key "$conf" "$1" "$2" "$3"
    kill -HUP "$SB_PID"
    n_reloads=$((n_reloads + 1))
    wait_metric sensorbridge_config_reloads_total "$n_reloads" 30
}
# gone SENSOR: no series of the sensor on /metrics.
gone() { ! scrape | grep -q "sensor=\"$1\""; }
# ts1_window: /api/v1/windows serves a closed window of TS1.
ts1_window() {
    curl -sf "$SB_URL/api/v1/windows" | jq -e '[.windows[] | select(.sensor == "TS1")] | length > 0' > /dev/null
}
# grows SERIES: it goes above its current value.
grows() {
    local v
    v=$(val "$1")
    wait_for 60 "$1 to grow past ${v:-nothing}" gt "$1" "${v:-0}"
}
# settled SERIES: the same value in two scrapes 2 s apart; prints it.
settled() {
    local a b i
    for i in $(seq 1 30); do
        a=$(val "$1")
        sleep 2
        b=$(val "$1")
        [ "$a" = "$b" ] && { echo "$b"; return 0; }
    done
    fail "$1 still moves after 60 s"
}
# The pipeline's counters (produced, consumed, windows closed), summed,
# must never fall between checks.
last_total=0
monotonic() {
    local t
    t=$(scrape | awk '$1 == "sensorbridge_consumer_messages_total" ||
                      index($1, "sensorbridge_messages_produced_total{") == 1 ||
                      index($1, "sensorbridge_windows_closed_total{") == 1 { s += $2 }
                      END { printf "%.0f\n", s }')
    awk -v a="$t" -v b="$last_total" 'BEGIN { exit !(a >= b) }' ||
        fail "the counters went back from $last_total to $t ($1)"
    last_total=$t
}

wait_for 90 "the first consumed messages" gt sensorbridge_consumer_messages_total 0
wait_for 90 "a closed window of TS1" ts1_window
rebalances=$(val sensorbridge_consumer_rebalances_total)
port=$SB_PORT
monotonic start

# log level: at warning the reload's own notice is not written.
reload general log_level warning
reload general log_level info
[ "$(grep -c 'msg="configuration reloaded"' "$SB_LOG")" = 1 ] ||
    fail "expected one 'configuration reloaded' line (the one at info), got $(grep -c 'msg="configuration reloaded"' "$SB_LOG")"
monotonic log_level

# consumer: a sensor outside the catalogue is invalid while strict_sensors
# is true, and applied once a reload turns it off.
msg='{"sensor":"XYZ1","value":42.5,"timestamp":"2025-11-08T14:30:00Z"}'
kcat_one() {
    printf '%s\n' "$msg" | timeout 60 kcat -P -q -b "$SB_BROKERS" -t hydraulic-TS1 -k XYZ1 ||
        fail "kcat could not produce to hydraulic-TS1"
}
unknown_before=$(val 'sensorbridge_consumer_invalid_messages_total{reason="unknown_sensor"}')
kcat_one
wait_metric 'sensorbridge_consumer_invalid_messages_total{reason="unknown_sensor"}' \
    $((unknown_before + 1)) 30
reload consumer strict_sensors false
kcat_one
wait_metric 'sensorbridge_sensor_value{sensor="XYZ1"}' 42.5 30
# sensor_expiry 1h keeps XYZ1, silent since; 3 s removes it.
sleep 4
[ "$(val 'sensorbridge_sensor_value{sensor="XYZ1"}')" = 42.5 ] || fail "XYZ1 expired under sensor_expiry = 1h"
reload consumer sensor_expiry 3s
wait_for 30 "XYZ1 to expire" gone XYZ1
reload consumer sensor_expiry 1h
reload consumer strict_sensors true
monotonic consumer

# flow control: with a bound of 1 message the sources wait again and again.
pauses=$(val sensorbridge_flow_control_pauses_total)
reload producer max_consumer_lag 1
wait_for 60 "flow control to pause the sources again" gt sensorbridge_flow_control_pauses_total $((pauses + 1))
reload producer max_consumer_lag 20000
monotonic max_consumer_lag

# speed: applied in place, the replay keeps going.
reload replay speed 40
[ "$(curl -sf "$SB_URL/api/v1/status" | jq -r '.replay.speed')" = 40 ] || fail "status does not show speed 40"
grows 'sensorbridge_messages_produced_total{sensor="PS1"}'
monotonic speed

# coalescing: applied in place to both sources; with 200 ms each rate group
# (the replay's 100, 10 and 1 Hz, the oven's) wakes at most once per 200 ms
# of the interval between two scrapes (a bound, however slow the machine),
# where at speed 40 the 100 Hz group alone wakes about every millisecond.
reload producer coalesce_ms 200
grep -q 'msg="replay coalescing changed" coalesce_ms=200' "$SB_LOG" || fail "the replay did not apply coalesce_ms"
grep -q 'msg="synthetic coalescing changed" coalesce_ms=200' "$SB_LOG" || fail "the synthetic source did not apply coalesce_ms"
t0=$(date +%s%N)
w0=$(val 'sensorbridge_source_wakeups_total{source="replay"}')
s0=$(val 'sensorbridge_source_wakeups_total{source="synthetic"}')
sleep 2
w1=$(val 'sensorbridge_source_wakeups_total{source="replay"}')
s1=$(val 'sensorbridge_source_wakeups_total{source="synthetic"}')
t1=$(date +%s%N)
periods=$(((t1 - t0) / 200000000 + 1))
[ $((w1 - w0)) -le $((3 * periods)) ] ||
    fail "replay: $((w1 - w0)) wake-ups in $(((t1 - t0) / 1000000)) ms with coalesce_ms = 200, at most $((3 * periods)) expected"
[ $((s1 - s0)) -le "$periods" ] ||
    fail "synthetic: $((s1 - s0)) wake-ups in $(((t1 - t0) / 1000000)) ms with coalesce_ms = 200, at most $periods expected"
grows 'sensorbridge_messages_produced_total{sensor="PS1"}'
grows 'sensorbridge_messages_produced_total{sensor="oven"}'
reload producer coalesce_ms 0
grep -q 'msg="replay coalescing changed" coalesce_ms=0' "$SB_LOG" || fail "the replay did not apply coalesce_ms = 0"
monotonic coalesce_ms

# new replay, enabled: off stops every stream, on starts them again.
reload replay enabled false
ps1=$(settled 'sensorbridge_messages_produced_total{sensor="PS1"}')
sleep 2
[ "$(produced PS1)" = "$ps1" ] || fail "PS1 still produced with the replay disabled"
reload replay enabled true
grows 'sensorbridge_messages_produced_total{sensor="PS1"}'
monotonic enabled

# new replay, sensors + cycles + loop: from a stopped replay, TS1 alone,
# cycle 1, once: exactly 60 more TS1 samples (1 Hz, 60 s) and no PS1.
reload replay enabled false
ts1=$(settled 'sensorbridge_messages_produced_total{sensor="TS1"}')
ps1=$(produced PS1)
set_key "$conf" replay sensors TS1
set_key "$conf" replay cycles 1
set_key "$conf" replay loop false
reload replay enabled true
wait_for 60 "60 more TS1 samples from cycle 1" is 'sensorbridge_messages_produced_total{sensor="TS1"}' $((ts1 + 60))
[ "$(settled 'sensorbridge_messages_produced_total{sensor="TS1"}')" = $((ts1 + 60)) ] ||
    fail "cycles = 1 with loop = false made more than 60 TS1 samples"
[ "$(produced PS1)" = "$ps1" ] || fail "PS1 produced with sensors = TS1"
ts1=$((ts1 + 60))
monotonic sensors

# new replay, dataset: a copy of the dataset with one cycle per file; all
# of it, once: exactly 60 TS1 samples more.
ds1=$SB_WORK/dataset1
cp -r "$ds" "$ds1"
find "$ds1" -name '*.txt' -exec sed -i '2,$d' {} +
set_key "$conf" replay cycles all
reload replay dataset "$ds1"
wait_for 60 "60 more TS1 samples from the one-cycle dataset" \
    is 'sensorbridge_messages_produced_total{sensor="TS1"}' $((ts1 + 60))
[ "$(settled 'sensorbridge_messages_produced_total{sensor="TS1"}')" = $((ts1 + 60)) ] ||
    fail "the one-cycle dataset made more than 60 TS1 samples"
monotonic dataset

# new replay, event_epoch: a later epoch moves the event time of the new
# samples there (the replay continues from the old one's minute otherwise).
set_key "$conf" replay loop true
reload replay event_epoch 2026-01-01T00:00:00Z
# 2026-01-01T00:00:00Z is 1767225600.
wait_for 60 "TS1's event time at the new epoch" \
    ge 'sensorbridge_sensor_last_event_timestamp_seconds{sensor="TS1"}' 1767225600
monotonic event_epoch

# new synthetic source: base 100 -> 200 with noise 0 shows as the value;
# a new section starts a sensor, removing it stops the sensor.
wait_metric 'sensorbridge_sensor_value{sensor="oven"}' 100 60
reload synthetic.oven base 200
wait_metric 'sensorbridge_sensor_value{sensor="oven"}' 200 60
# No reload so far made the consumer rejoin its group. A new synthetic
# sensor does, by design: its new topic matches the consumer's
# subscription, and Kafka rebalances the group for it.
[ "$(val sensorbridge_consumer_rebalances_total)" = "$rebalances" ] ||
    fail "the consumer rebalanced during the reloads: $rebalances -> $(val sensorbridge_consumer_rebalances_total)"
cat >> "$conf" <<'CONF'
[synthetic.fan]
kind = vibration
noise = 0
base = 3
CONF
kill -HUP "$SB_PID"
n_reloads=$((n_reloads + 1))
wait_metric sensorbridge_config_reloads_total "$n_reloads" 30
wait_metric 'sensorbridge_sensor_value{sensor="fan"}' 3 60
if [ "$SB_BROKER" = embedded ]; then
    [ "$(val sensorbridge_consumer_rebalances_total)" = $((rebalances + 1)) ] ||
        fail "the new topic took $rebalances -> $(val sensorbridge_consumer_rebalances_total) assignments, not one more"
    [ "$(grep -c 'msg="partitions assigned" count=4 protocol=manual' "$SB_LOG")" = 1 ] ||
        fail "the fan topic's 4 partitions were not assigned once, manually"
    ! grep -q 'msg="partitions revoked"' "$SB_LOG" || fail "partitions were revoked"
fi
sed -i '/^\[synthetic.fan\]/,$d' "$conf"
kill -HUP "$SB_PID"
n_reloads=$((n_reloads + 1))
wait_metric sensorbridge_config_reloads_total "$n_reloads" 30
fan=$(settled 'sensorbridge_messages_produced_total{sensor="fan"}')
sleep 2
[ "$(produced fan)" = "$fan" ] || fail "fan still produced after its section was removed"
monotonic synthetic

# new rule engine: the oven at 200 is above a high_warning of 150.
reload alert.oven high_warning 150
wait_metric 'sensorbridge_alerts_total{sensor="oven",level="warning"}' 1 60
monotonic alert

# Every other key of [synthetic.oven] and [alert.oven], one reload each:
# the step it needs runs, seen as one more "synthetic sensors started" or
# "alert rules loaded" line in the log (what each key does to the values
# and levels is test_synth's and test_alerts'). The section's other keys
# stay as they are, so each reload changes exactly one.
lines() { grep -c "msg=\"$1\"" "$SB_LOG" || true; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
# one_step SECTION MESSAGE KEY=VALUE...: a reload per key, each followed by
# exactly one more MESSAGE line.
one_step() {
    local sec=$1 what=$2 kv n
    shift 2
    for kv in "$@"; do
        n=$(lines "$what")
        reload "$sec" "${kv%%=*}" "${kv#*=}"
        # A new source starts once flow control lets the sources go on.
        wait_for 30 "'$what' after [$sec] ${kv%%=*} = ${kv#*=}" has_lines "$what" $((n + 1))
        [ "$(lines "$what")" = $((n + 1)) ] ||
            fail "[$sec] ${kv%%=*} = ${kv#*=}: $(($(lines "$what") - n)) '$what' lines, expected 1"
    done
}
one_step synthetic.oven "synthetic sensors started" kind=humidity unit=K rate_hz=5 noise=0.5 \
    drift_per_hour=1 daily_amplitude=1 anomaly_probability=0.01 anomaly_magnitude=5 \
    anomaly_duration=1m seed=2 samples=1000000 factory_section=A machine=M zone=Z
one_step alert.oven "alert rules loaded" low_critical=-1000 low_warning=-999 high_critical=2000 \
    hysteresis=1 min_duration=1s zscore=50 zscore_baseline=11 zscore_window=5m zscore_on=value
# A reload of the same file runs neither step.
n_synth=$(lines "synthetic sensors started")
n_rules=$(lines "alert rules loaded")
kill -HUP "$SB_PID"
n_reloads=$((n_reloads + 1))
wait_metric sensorbridge_config_reloads_total "$n_reloads" 30
[ "$(lines "synthetic sensors started")" = "$n_synth" ] || fail "an unchanged file restarted the synthetic source"
[ "$(lines "alert rules loaded")" = "$n_rules" ] || fail "an unchanged file rebuilt the alert rules"
monotonic keys

# What survived every reload: the same port, the windows.
[ "$(val sensorbridge_config_reload_failures_total)" = 0 ] || fail "a reload was refused"
[ "$SB_PORT" = "$port" ] && curl -sf "$SB_URL/healthz" > /dev/null || fail "the HTTP port changed"
ts1_window || fail "no TS1 window served after the reloads"
stop_daemon
