#!/bin/bash
# Messages from other producers (kcat) into the broker: valid ones
# in our own and in the Python producers' format are applied, every kind of
# invalid one is counted under its reason and skipped, a sb-produced-us
# header that is not a usable time is counted instead of measured (and
# never overflows), and the daemon keeps
# running with a scrape promtool accepts. strict_sensors is reloadable; in
# non-strict mode the number of sensor names is bounded.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

make_sensor_topics
conf=$SB_WORK/sb.conf
write_config "$conf" "$SB_WORK/unused" max
set_key "$conf" replay enabled false
set_key "$conf" producer enabled false
set_key "$conf" consumer strict_sensors true
# The bound the end of this test fills: [consumer] max_sensors.
set_key "$conf" consumer max_sensors 4096
start_daemon "$conf"
[ -n "$SB_BROKERS" ] || fail "no bootstrap list in /api/v1/status"

# produce TOPIC KEY FILE: one message per line of FILE, in order. What
# follows depends on that order within TS1's partition (the last valid
# value 36; s1..s4093 accepted into the sensor table and s4094.. refused;
# s7's last value), so the producer is idempotent: a retry (a real Kafka
# that just started answers "coordinator load in progress" at first) cannot
# overtake the next request.
produce() {
    timeout 60 kcat -P -q -X enable.idempotence=true -b "$SB_BROKERS" -t "$1" -k "$2" < "$3" \
        || fail "kcat could not produce $3 to $1"
}

TS='"timestamp": "2025-11-08T14:30:00.000000Z"'
msgs=$SB_WORK/ts1.txt
# Lines are "REASON<TAB>MESSAGE"; REASON "ok" is a valid message. Sent with
# key TS1, so all land in one partition and keep their order.
{
    printf 'ok\t%s\n' '{"sensor":"TS1","cycle":0,"sample_idx":0,"value":35.57,"timestamp":"2025-11-08T14:30:00.000000Z","sampling_rate_hz":1,"unit":"°C","source":"uci-hydraulic"}'
    printf 'not_json\t%s\n' 'not json at all'
    printf 'not_json\t%s\n' '{"sensor": "TS1", "value": 1.0,'
    printf 'not_json\t%s\n' "{\"sensor\": \"TS1\", \"value\": 1, \"value\": 2, $TS}"
    printf 'not_json\t%s\n' "{\"sensor\": \"TS1\", \"value\": 1, $TS, \"pad\": \"$(head -c 4200 /dev/zero | tr '\0' x)\"}"
    printf 'not_object\t%s\n' '[1, 2, 3]'
    printf 'not_object\t%s\n' '"TS1"'
    printf 'missing_field\t%s\n' "{\"sensor\": \"TS1\", $TS}"
    printf 'missing_field\t%s\n' '{"sensor": "TS1", "value": 20.5}'
    printf 'missing_field\t%s\n' "{\"value\": 20.5, $TS}"
    printf 'ok\t%s\n' '{"sensor": "TS1", "cycle": 0, "sample_idx": 1, "value": 35.59, "timestamp": "2025-11-08T14:30:01.000000Z", "sampling_rate_hz": 1}'
    printf 'wrong_type\t%s\n' "{\"sensor\": \"TS1\", \"value\": \"99.5\", $TS}"
    printf 'wrong_type\t%s\n' "{\"sensor\": 1, \"value\": 99.5, $TS}"
    printf 'wrong_type\t%s\n' "{\"sensor\": \"TS1\", \"cycle\": -1, \"value\": 99.5, $TS}"
    printf 'wrong_type\t%s\n' "{\"sensor\": \"TS1\", \"value\": 99.5, \"timestamp\": 1762612200}"
    printf 'non_finite\t%s\n' "{\"sensor\": \"TS1\", \"cycle\": 0, \"sample_idx\": 2, \"value\": NaN, $TS, \"sampling_rate_hz\": 1}"
    printf 'non_finite\t%s\n' "{\"sensor\": \"TS1\", \"value\": Infinity, $TS}"
    printf 'non_finite\t%s\n' "{\"sensor\": \"TS1\", \"value\": -Infinity, $TS}"
    printf 'non_finite\t%s\n' "{\"sensor\": \"TS1\", \"value\": null, $TS}"
    printf 'non_finite\t%s\n' "{\"sensor\": \"TS1\", \"value\": 1e400, $TS}"
    printf 'bad_timestamp\t%s\n' '{"sensor": "TS1", "value": 99.5, "timestamp": "yesterday"}'
    printf 'bad_timestamp\t%s\n' '{"sensor": "TS1", "value": 99.5, "timestamp": "2025-02-29T00:00:00Z"}'
    printf 'bad_timestamp\t%s\n' '{"sensor": "TS1", "value": 99.5, "timestamp": "2025-11-08 14:30:00"}'
    printf 'unknown_sensor\t%s\n' "{\"sensor\": \"XX9\", \"value\": 99.5, $TS}"
    printf 'unknown_sensor\t%s\n' "{\"sensor\": \"ts1\", \"value\": 99.5, $TS}"
    printf 'unknown_sensor\t%s\n' "{\"sensor\": \"\", \"value\": 99.5, $TS}"
    printf 'ok\t%s\n' '{"sensor": "TS1", "cycle": null, "sample_idx": null, "value": 36, "timestamp": "2025-11-08T14:30:02Z", "sampling_rate_hz": null, "extra": [1, {"x": 2}]}'
    # The last message is invalid: the value must stay 36.
    printf 'bad_timestamp\t%s\n' '{"sensor": "TS1", "value": 77.7, "timestamp": "2025-11-08T25:00:00Z"}'
} > "$msgs"
cut -f2- "$msgs" > "$msgs.payloads"
produce hydraulic-TS1 TS1 "$msgs.payloads"

# The existing Python producers' format, with spaces, to its own topic.
py='{"sensor": "PS1", "cycle": 0, "sample_idx": 100, "value": 151.19, "timestamp": "2025-11-08T14:30:45.123456Z", "sampling_rate_hz": 100}'
printf '%s\n' "$py" > "$SB_WORK/ps1.txt"
produce hydraulic-PS1 PS1 "$SB_WORK/ps1.txt"

total=$(($(wc -l < "$msgs") + 1))
wait_metric sensorbridge_consumer_messages_total "$total" 120
scrape > "$SB_WORK/scrape.txt"
kill -0 "$SB_PID" 2>/dev/null || fail "the daemon died"
promtool check metrics < "$SB_WORK/scrape.txt" || fail "promtool check metrics rejected the scrape"

for reason in not_json not_object missing_field wrong_type non_finite bad_timestamp unknown_sensor; do
    want=$(awk -F'\t' -v r="$reason" '$1 == r' "$msgs" | wc -l)
    got=$(metric "sensorbridge_consumer_invalid_messages_total{reason=\"$reason\"}" < "$SB_WORK/scrape.txt")
    [ "$got" = "$want" ] || fail "invalid reason=$reason counted $got, sent $want"
done
invalid=$(grep -vc '^ok' "$msgs")
got=$(metric_sum sensorbridge_consumer_invalid_messages_total < "$SB_WORK/scrape.txt")
[ "$got" = "$invalid" ] || fail "$got invalid messages counted in all, sent $invalid"

# Valid ones: three TS1 samples (the last valid value 36 stays, the invalid
# messages after it change nothing) and the Python-format PS1 sample.
m() { metric "$1" < "$SB_WORK/scrape.txt"; }
[ "$(m 'sensorbridge_sensor_samples_consumed_total{sensor="TS1"}')" = 3 ] \
    || fail "TS1 consumed $(m 'sensorbridge_sensor_samples_consumed_total{sensor="TS1"}'), expected 3"
numeq "$(m 'sensorbridge_sensor_value{sensor="TS1"}')" 36 \
    || fail "TS1 value is $(m 'sensorbridge_sensor_value{sensor="TS1"}'), expected 36"
numeq "$(m 'sensorbridge_sensor_last_event_timestamp_seconds{sensor="TS1"}')" 1762612202 \
    || fail "TS1 last event time is $(m 'sensorbridge_sensor_last_event_timestamp_seconds{sensor="TS1"}')"
[ "$(m 'sensorbridge_sensor_samples_consumed_total{sensor="PS1"}')" = 1 ] \
    || fail "PS1 (Python format) consumed $(m 'sensorbridge_sensor_samples_consumed_total{sensor="PS1"}'), expected 1"
numeq "$(m 'sensorbridge_sensor_value{sensor="PS1"}')" 151.19 \
    || fail "PS1 value is $(m 'sensorbridge_sensor_value{sensor="PS1"}'), expected 151.19"
numeq "$(m 'sensorbridge_sensor_last_event_timestamp_seconds{sensor="PS1"}')" 1762612245.123456 \
    || fail "PS1 last event time is $(m 'sensorbridge_sensor_last_event_timestamp_seconds{sensor="PS1"}')"
grep -q '^sensorbridge_sensor_info{sensor="PS1",.*} 1$' "$SB_WORK/scrape.txt" || fail "no sensor_info for PS1"
# No series for rejected sensor names.
grep -qE '^sensorbridge_sensor_[a-z_]+\{sensor="(XX9|ts1|)"' "$SB_WORK/scrape.txt" \
    && fail "a rejected sensor name got a series"
# kcat sets no sb-produced-us header: no latency is observed, and each of
# the four valid samples is counted for want of one.
[ "$(m sensorbridge_end_to_end_latency_seconds_count)" = 0 ] \
    || fail "latency observed for messages without the sb-produced-us header"
unmeasured() { m "sensorbridge_end_to_end_latency_unmeasured_samples_total{reason=\"$1\"}"; }
[ "$(unmeasured no_header)" = 4 ] || fail "no_header is $(unmeasured no_header), expected 4"
grep -q 'msg="invalid message skipped" reason=' "$SB_LOG" || fail "no log line for an invalid message"
[ "$(m sensorbridge_consumer_errors_total)" = 0 ] || fail "consumer errors were counted"

# Valid samples with sb-produced-us headers that are not times this host
# can measure from: a value past 2^63 - 1 (the consumer once overflowed a
# signed integer on it, which UBSan stops at), a sign, an empty or a null
# value, a time far in the future; and one real time, which is measured.
# Each is applied and counted under its reason.
produce_header() {
    printf '%s\n' '{"sensor": "TS1", "value": 36, "timestamp": "2025-11-08T14:30:03Z"}' |
        timeout 60 kcat -P -q -b "$SB_BROKERS" -t hydraulic-TS1 -k TS1 -H "$1" \
        || fail "kcat could not produce with header $1"
}
for h in 99999999999999999999 18446744073709551616 9223372036854775808 -1 ''; do
    produce_header "sb-produced-us=$h"
done
produce_header sb-produced-us
produce_header sb-produced-us=9223372036854775807
produce_header "sb-produced-us=$(date +%s%6N)"
total=$((total + 8))
wait_metric sensorbridge_consumer_messages_total "$total" 60
scrape > "$SB_WORK/scrape.txt"
kill -0 "$SB_PID" 2>/dev/null || fail "the daemon died"
[ "$(m 'sensorbridge_sensor_samples_consumed_total{sensor="TS1"}')" = 11 ] \
    || fail "TS1 consumed $(m 'sensorbridge_sensor_samples_consumed_total{sensor="TS1"}'), expected 11"
[ "$(unmeasured malformed_header)" = 6 ] || fail "malformed_header is $(unmeasured malformed_header), expected 6"
[ "$(unmeasured future_header)" = 1 ] || fail "future_header is $(unmeasured future_header), expected 1"
[ "$(unmeasured no_header)" = 4 ] || fail "no_header is $(unmeasured no_header), expected 4"
[ "$(m sensorbridge_end_to_end_latency_seconds_count)" = 1 ] \
    || fail "latency observed $(m sensorbridge_end_to_end_latency_seconds_count) times, expected once"
promtool check metrics < "$SB_WORK/scrape.txt" || fail "promtool check metrics rejected the scrape"

# strict_sensors = false by SIGHUP: a name outside the catalogue is now a
# sensor of its own; a name with characters outside [A-Za-z0-9_.:-] is not.
set_key "$conf" consumer strict_sensors false
kill -HUP "$SB_PID"
wait_metric sensorbridge_config_reloads_total 1 30
printf '%s\n' "{\"sensor\": \"XX9\", \"value\": 12.5, $TS}" "{\"sensor\": \"X X\", \"value\": 1, $TS}" \
    > "$SB_WORK/xx9.txt"
produce hydraulic-TS1 TS1 "$SB_WORK/xx9.txt"
wait_metric sensorbridge_consumer_messages_total $((total + 2)) 60
scrape > "$SB_WORK/scrape.txt"
[ "$(m 'sensorbridge_sensor_samples_consumed_total{sensor="XX9"}')" = 1 ] || fail "XX9 not consumed with strict_sensors = false"
numeq "$(m 'sensorbridge_sensor_value{sensor="XX9"}')" 12.5 || fail "XX9 value is $(m 'sensorbridge_sensor_value{sensor="XX9"}')"
want=$(($(awk -F'\t' '$1 == "unknown_sensor"' "$msgs" | wc -l) + 1))
[ "$(m 'sensorbridge_consumer_invalid_messages_total{reason="unknown_sensor"}')" = "$want" ] \
    || fail "unknown_sensor is $(m 'sensorbridge_consumer_invalid_messages_total{reason="unknown_sensor"}'), expected $want"
grep -q '^sensorbridge_sensor_info{sensor="XX9"' "$SB_WORK/scrape.txt" && fail "sensor_info for a sensor outside the catalogue"
promtool check metrics < "$SB_WORK/scrape.txt" || fail "promtool check metrics rejected the scrape"

# The number of sensor names is bounded ([consumer] max_sensors = 4096):
# with TS1, PS1 and XX9 known, 4093 of 4100 new names are accepted, the
# rest are unknown_sensor, and a known name still works when the table is
# full.
unknown=$(m 'sensorbridge_consumer_invalid_messages_total{reason="unknown_sensor"}')
for i in $(seq 1 4100); do
    printf '{"sensor": "s%d", "value": %d, "timestamp": "2025-11-08T14:30:00Z"}\n' "$i" "$i"
done > "$SB_WORK/many.txt"
printf '%s\n' '{"sensor": "s7", "value": 0.5, "timestamp": "2025-11-08T14:30:01Z"}' >> "$SB_WORK/many.txt"
produce hydraulic-TS1 TS1 "$SB_WORK/many.txt"
wait_metric sensorbridge_consumer_messages_total $((total + 2 + 4101)) 120
scrape > "$SB_WORK/scrape.txt"
n=$(grep -c '^sensorbridge_sensor_samples_consumed_total{' "$SB_WORK/scrape.txt")
[ "$n" -eq 4096 ] || fail "$n sensors have a series, expected the 4096 maximum"
[ "$(m 'sensorbridge_consumer_invalid_messages_total{reason="unknown_sensor"}')" = $((unknown + 7)) ] \
    || fail "unknown_sensor is $(m 'sensorbridge_consumer_invalid_messages_total{reason="unknown_sensor"}'), expected $((unknown + 7))"
[ "$(m 'sensorbridge_sensor_samples_consumed_total{sensor="s4093"}')" = 1 ] || fail "s4093 was not accepted"
[ -z "$(m 'sensorbridge_sensor_samples_consumed_total{sensor="s4094"}')" ] || fail "s4094 was accepted beyond the maximum"
[ "$(m 'sensorbridge_sensor_samples_consumed_total{sensor="s7"}')" = 2 ] || fail "a known sensor was refused once the table was full"
numeq "$(m 'sensorbridge_sensor_value{sensor="s7"}')" 0.5 || fail "s7 value is $(m 'sensorbridge_sensor_value{sensor="s7"}')"
promtool check metrics < "$SB_WORK/scrape.txt" || fail "promtool check metrics rejected the scrape"

stop_daemon
echo "ok: invalid messages"
