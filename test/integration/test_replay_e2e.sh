#!/bin/bash
# Replays two cycles of all 17 sensors at speed max through the embedded
# broker into the consumer, then checks the scrape against the files.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

ds=$(make_dataset)
write_config "$SB_WORK/sb.conf" "$ds" max
start_daemon "$SB_WORK/sb.conf"

# 2 cycles of 43,680 samples.
wait_metric sensorbridge_consumer_messages_total 87360 120
scrape > "$SB_WORK/scrape.txt"
promtool check metrics < "$SB_WORK/scrape.txt" || fail "promtool check metrics rejected the scrape"

for f in "$ds"/*.txt "$ds"/standin/*_1hz.txt; do
    s=$(basename "$f" .txt); s=${s%_1hz}
    [ "$s" = profile ] && continue
    cols=$(head -n 1 "$f" | awk -F'\t' '{ print NF }')
    case $s in PS*|EPS1) rate=100 ;; FS*) rate=10 ;; *) rate=1 ;; esac
    want=$((2 * rate * 60))
    got=$(metric "sensorbridge_sensor_samples_consumed_total{sensor=\"$s\"}" < "$SB_WORK/scrape.txt")
    [ "$got" = "$want" ] || fail "$s: consumed $got samples, the rows hold $want"
    got=$(metric "sensorbridge_messages_delivered_total{sensor=\"$s\"}" < "$SB_WORK/scrape.txt")
    [ "$got" = "$want" ] || fail "$s: $got delivered, expected $want"
    # The last sample of cycle 1: the row's last value (stand-ins hold the
    # last 1-second mean after its centre).
    last=$(sed -n 2p "$f" | tr -d '\r' | awk -F'\t' '{ print $NF }')
    got=$(metric "sensorbridge_sensor_value{sensor=\"$s\"}" < "$SB_WORK/scrape.txt")
    numeq "$got" "$last" || fail "$s: last value $got, file says $last ($cols columns)"
done

grep -q '^sensorbridge_consumer_invalid_messages_total{reason="not_json"} 0$' "$SB_WORK/scrape.txt" \
    || fail "invalid messages were counted"
grep -q '^sensorbridge_hydraulic_cooler_condition_percent 3$' "$SB_WORK/scrape.txt" \
    || fail "profile gauge missing"
# The producer stamps a sensor's first message in each millisecond of its
# loop's clock with sb-produced-us, the first of all among them. The
# latency histogram counts the stamped samples, no_header the others: kcat
# counts both on the topics.
stamped=0
for f in "$ds"/*.txt "$ds"/standin/*_1hz.txt; do
    s=$(basename "$f" .txt); s=${s%_1hz}
    [ "$s" = profile ] && continue
    kcat -b "$SB_BROKERS" -C -t "hydraulic-$s" -o beginning -e -q -f '%h\t%s\n' \
        > "$SB_WORK/h-$s.txt" 2>/dev/null || fail "kcat could not read hydraulic-$s"
    grep '"cycle":0,"sample_idx":0,' "$SB_WORK/h-$s.txt" | grep -q '^sb-produced-us=[0-9]*'$'\t' \
        || fail "$s: the first sample carries no sb-produced-us header"
    stamped=$((stamped + $(grep -c '^sb-produced-us=' "$SB_WORK/h-$s.txt")))
done
[ "$(metric sensorbridge_end_to_end_latency_seconds_count < "$SB_WORK/scrape.txt")" = "$stamped" ] \
    || fail "latency histogram counts $(metric sensorbridge_end_to_end_latency_seconds_count < "$SB_WORK/scrape.txt"), the topics hold $stamped stamped samples"
[ "$(metric 'sensorbridge_end_to_end_latency_unmeasured_samples_total{reason="no_header"}' < "$SB_WORK/scrape.txt")" = $((87360 - stamped)) ] \
    || fail "no_header is not the $((87360 - stamped)) samples without a stamp"

# kcat reads a topic and finds the documented fields.
kcat -b "$SB_BROKERS" -C -t hydraulic-TS1 -o beginning -c 120 -e -q -f '%k\t%T\t%s\n' \
    > "$SB_WORK/ts1.txt" 2>/dev/null || fail "kcat could not read hydraulic-TS1"
[ "$(wc -l < "$SB_WORK/ts1.txt")" -eq 120 ] || fail "kcat read $(wc -l < "$SB_WORK/ts1.txt") TS1 messages, expected 120"
line=$(grep '"sample_idx":0,' "$SB_WORK/ts1.txt" | grep '"cycle":0,' | head -n 1)
[ -n "$line" ] || fail "no TS1 cycle 0 sample 0 on the topic"
key=$(printf '%s' "$line" | cut -f1)
ts=$(printf '%s' "$line" | cut -f2)
json=$(printf '%s' "$line" | cut -f3)
[ "$key" = TS1 ] || fail "message key is '$key'"
first=$(head -n 1 "$ds/TS1.txt" | cut -f1)
want="{\"sensor\":\"TS1\",\"cycle\":0,\"sample_idx\":0,\"value\":$first,\"timestamp\":\"2025-11-08T14:30:00.000000Z\",\"sampling_rate_hz\":1,"
case $json in "$want"*) ;; *) fail "TS1 message is $json, expected it to start with $want" ;; esac
# Kafka timestamp = event time (ms).
[ "$ts" = 1762612200000 ] || fail "Kafka timestamp $ts, expected 1762612200000"

stop_daemon
grep -q 'msg="producer flushed"' "$SB_LOG" || fail "no flush on shutdown"
echo "ok: replay e2e"
