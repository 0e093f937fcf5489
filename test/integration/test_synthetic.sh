#!/bin/bash
# Two synthetic sensors with fixed seeds and a fixed event epoch, run twice
# at speed max, each time through a fresh broker: both runs must
# put the same bytes on the topics (a seed reproduces its data), and the
# consumer must count every sample.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

N=2000
SENSORS="oven-1 line2.press"
ds=$(make_dataset)

# [replay] is off; its speed and event_epoch also drive the synthetic
# sensors. strict_sensors = true: configured synthetic names are known.
# The brokers line is set for each run (fresh_broker).
cat > "$SB_WORK/sb.conf" <<CONF
[general]
log_level = info
[kafka]
brokers = embedded
partitions = 4
[producer]
flush_timeout_ms = 10000
[consumer]
enabled = true
group_id = sb-it-synthetic
strict_sensors = true
[replay]
enabled = false
dataset = $ds
speed = max
event_epoch = 2025-11-08T14:30:00Z
[http]
listen = 127.0.0.1:0
[synthetic.oven-1]
kind = temperature
rate_hz = 10
seed = 42
samples = $N
noise = 0.5
drift_per_hour = 2
daily_amplitude = 3
anomaly_probability = 0.01
anomaly_magnitude = 15
anomaly_duration = 5s
factory_section = Hall B
machine = Oven 1
zone = north
[synthetic.line2.press]
kind = pressure
rate_hz = 0.5
seed = 7
samples = $N
factory_section = Line 2
machine = Press "P2"
zone = south
CONF

# run_once DIR: one daemon with a fresh broker; reads each topic
# fully into DIR/<sensor>.txt, one "key<TAB>Kafka timestamp<TAB>JSON" line
# per message, in sample_idx order.
run_once() {
    local out=$1 s got
    mkdir -p "$out"
    fresh_broker
    set_key "$SB_WORK/sb.conf" kafka brokers "$TEST_BROKERS"
    start_daemon "$SB_WORK/sb.conf"
    for s in $SENSORS; do
        wait_metric "sensorbridge_synthetic_samples_total{sensor=\"$s\"}" "$N" 120
        wait_metric "sensorbridge_sensor_samples_consumed_total{sensor=\"$s\"}" "$N" 120
    done
    scrape > "$out/scrape.txt"
    promtool check metrics < "$out/scrape.txt" || fail "promtool check metrics rejected the scrape"
    got=$(metric_sum sensorbridge_consumer_invalid_messages_total < "$out/scrape.txt")
    numeq "$got" 0 || fail "$got invalid messages were counted"
    grep -q '^sensorbridge_synthetic_info{sensor="oven-1",kind="temperature",factory_section="Hall B",machine="Oven 1",zone="north"} 1$' \
        "$out/scrape.txt" || fail "no sensorbridge_synthetic_info for oven-1"

    for s in $SENSORS; do
        # The key is the sensor, so one partition holds the whole topic in
        # order; sorting by sample_idx anyway keeps the comparison about
        # content, not about how partitions interleave.
        kcat -b "$SB_BROKERS" -C -t "hydraulic-$s" -o beginning -c "$N" -e -q -f '%k\t%T\t%s\n' \
            > "$out/$s.raw" 2>"$out/$s.kcat.err" || fail "kcat could not read hydraulic-$s"
        got=$(wc -l < "$out/$s.raw")
        [ "$got" -eq "$N" ] || fail "kcat read $got $s messages, expected $N"
        awk -F'\t' '{ match($3, /"sample_idx":[0-9]+/); print substr($3, RSTART + 13, RLENGTH - 13) "\t" $0 }' \
            "$out/$s.raw" | sort -s -n -k1,1 | cut -f2- > "$out/$s.txt"
        # Every sample exactly once: sample_idx 0..N-1.
        awk -F'\t' -v n="$N" -v s="$s" '
            { match($3, /"sample_idx":[0-9]+/); i = substr($3, RSTART + 13, RLENGTH - 13) + 0
              if (i != NR - 1) { printf "%s: line %d has sample_idx %d\n", s, NR, i; exit 1 }
              if ($1 != s) { printf "%s: message key is \"%s\"\n", s, $1; exit 1 } }
            END { if (NR != n) { printf "%s: %d messages\n", s, NR; exit 1 } }' "$out/$s.txt" \
            || fail "hydraulic-$s does not hold samples 0..$((N - 1)) once each"
    done
    stop_daemon
}

run_once "$SB_WORK/run1"
mv "$SB_LOG" "$SB_WORK/run1/sensorbridge.log"
run_once "$SB_WORK/run2"

for s in $SENSORS; do
    cmp -s "$SB_WORK/run1/$s.txt" "$SB_WORK/run2/$s.txt" || {
        diff "$SB_WORK/run1/$s.txt" "$SB_WORK/run2/$s.txt" | head -n 6 >&2
        fail "hydraulic-$s differs between two runs with the same seed"
    }
done

# The documented shape, first and last sample (event time = epoch +
# sample_idx / rate_hz; the Kafka timestamp is the event time in ms).
f=$SB_WORK/run1/oven-1.txt
want='oven-1	1762612200000	{"sensor":"oven-1","sample_idx":0,"value":'
case $(head -n 1 "$f") in "$want"*) ;; *) fail "first oven-1 message: $(head -n 1 "$f")" ;; esac
tail='"timestamp":"2025-11-08T14:30:00.000000Z","sampling_rate_hz":10,"unit":"°C","source":"synthetic","factory_section":"Hall B","machine":"Oven 1","zone":"north","anomaly":'
case $(head -n 1 "$f") in *"$tail"*) ;; *) fail "first oven-1 message lacks $tail" ;; esac
case $(tail -n 1 "$f") in
    *'"sample_idx":1999,'*'"timestamp":"2025-11-08T14:33:19.900000Z"'*) ;;
    *) fail "last oven-1 message: $(tail -n 1 "$f")" ;;
esac
grep -q '"anomaly":true}$' "$f" || fail "no oven-1 sample carries an anomaly"
grep -q '"anomaly":false}$' "$f" || fail "every oven-1 sample carries an anomaly"
f=$SB_WORK/run1/line2.press.txt
case $(tail -n 1 "$f") in
    *'"sample_idx":1999,'*'"timestamp":"2025-11-08T15:36:38.000000Z","sampling_rate_hz":0.5,"unit":"bar","source":"synthetic","factory_section":"Line 2","machine":"Press \"P2\"","zone":"south","anomaly":false}') ;;
    *) fail "last line2.press message: $(tail -n 1 "$f")" ;;
esac
# Pressure noise 0.05 around 6 bar: every value has at most 3 decimals.
# (mawk has no {m,n} intervals; awk exits by itself so no pipe breaks.)
bad=$(awk -F'"value":' '{ split($2, a, ","); v = a[1]; d = index(v, ".")
    if (v !~ /^-?[0-9]+(\.[0-9]+)?$/ || (d && length(v) - d > 3)) { print v; exit } }' "$f")
[ -z "$bad" ] || fail "line2.press value $bad has more than 3 decimals"

echo "ok: synthetic sensors reproduce byte for byte"
