#!/bin/bash
# Compression on a real Kafka: for each codec of none, gzip, lz4 and zstd
# ([producer] kafka.compression.codec), a daemon replays two cycles of all
# 17 sensors at speed max into topics of its own (comp-<codec>-<SENSOR>) and
# its consumer applies every sample: produced = delivered = consumed per
# sensor. Then, with the daemon stopped:
#   - the broker's log segments of comp-<codec>-TS1 and -PS2 hold every
#     message, in record batches compressed with that codec (the batch
#     headers are read from the .log files: Kafka stores a producer's
#     batches as they were sent, and no client can tell which codec it
#     decoded);
#   - kcat (librdkafka, but not the daemon's code) reads both topics, and
#     every message is compared, field by field, with one computed here
#     from the dataset files and the dataset's description.txt: the whole
#     JSON document (sensor, cycle, sample_idx, value with the file's own
#     digits, timestamp, sampling_rate_hz, unit, source, and nothing else),
#     the key, the Kafka timestamp (event time in ms), the headers (none,
#     or sb-produced-us with the producer's wall time, so between start and
#     end of the run; always on the sensor's first message) and the order
#     within the sensor's one partition;
#   - for none and gzip, kafkajs (a client with its own protocol and codec
#     code; it has no lz4 or zstd without plugins) reads the same topics
#     from the beginning and the same checks hold for every message.
# Only on a real cluster: the embedded broker keeps no log segments to
# inspect. One Kafka serves all four codecs.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

use_kafkajs
KAFKAJS_READ=$SB_SOURCE_ROOT/test/tools/kafkajs-read.js

start_kafka 1
echo "Kafka $KAFKA_VERSION at $KAFKA_BROKERS; kcat $(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*/\1/p'), kafkajs $KAFKAJS_VERSION"

ds=$(make_dataset)
total=$(samples_in_cycles 2)
epoch=2025-11-08T14:30:00Z
epoch_s=$(date -u -d "$epoch" +%s)
# The sensors whose topics are read back: 1 Hz and 100 Hz, original files.
check_sensors="TS1 PS2"

# expected_messages SENSOR: "key<TAB>Kafka timestamp<TAB>JSON" for every
# sample of SENSOR's file, from the file (values as written there, row =
# cycle, column = sample_idx) and the unit and rate in description.txt
# (ISO-8859-1: TS1's unit is "°C"); event time = epoch + 60 c + k / rate.
expected_messages() {
    local s=$1 f=$ds/$1.txt unit rate
    [ -f "$f" ] || fail "no original file $f for $s"
    read -r unit rate < <(tr -d '\r' < "$SB_SOURCE_ROOT/datasets/uci-hydraulic/description.txt" |
        iconv -f ISO-8859-1 -t UTF-8 | awk -F'\t+' -v s="$s" '$1 == s { sub(/ Hz$/, "", $4); print $3, $4 }')
    [ -n "$rate" ] || fail "description.txt has no line for $s"
    tr -d '\r' < "$f" | awk -F'\t' -v s="$s" -v unit="$unit" -v rate="$rate" \
        -v epoch="$epoch_s" -v day="$(date -u -d "@$epoch_s" +%F)" '
        {
            c = NR - 1
            for (k = 0; k < NF; k++) {
                sec = 60 * c + int(k / rate)
                us = (k % rate) * 1000000 / rate
                tod = epoch % 86400 + sec
                if (tod >= 86400) { print "the expected timestamps cross midnight" > "/dev/stderr"; exit 1 }
                ts = sprintf("%sT%02d:%02d:%02d.%06dZ", day, int(tod / 3600), int(tod / 60) % 60, tod % 60, us)
                printf "%s\t%.0f\t{\"sensor\":\"%s\",\"cycle\":%d,\"sample_idx\":%d,\"value\":%s,\"timestamp\":\"%s\",\"sampling_rate_hz\":%s,\"unit\":\"%s\",\"source\":\"uci-hydraulic\"}\n",
                    s, (epoch + sec) * 1000 + us / 1000, s, c, k, $(k + 1), ts, rate, unit
            }
        }' | LC_ALL=C sort
}

for s in $check_sensors; do
    expected_messages "$s" > "$SB_WORK/expected-$s.txt"
done

# check_read WHO FILE SENSOR T0_US T1_US: FILE holds what client WHO read
# from SENSOR's topic, one message a line as kcat -f '%p\t%o\t%k\t%T\t%h\t%s\n'
# prints it (kafkajs-read.js likewise); every field of every message is
# checked against expected-SENSOR.txt, a header against [T0_US, T1_US].
check_read() {
    local who=$1 f=$2 s=$3 t0=$4 t1=$5 n want bad
    n=$(wc -l < "$f")
    want=$(wc -l < "$SB_WORK/expected-$s.txt")
    [ "$n" -eq "$want" ] || fail "$who read $n messages from $topic_prefix-$s, the file has $want samples"
    cut -f3,4,6 "$f" | LC_ALL=C sort > "$f.got"
    if ! cmp -s "$SB_WORK/expected-$s.txt" "$f.got"; then
        echo "---- expected, not read by $who (first 3) ----" >&2
        LC_ALL=C comm -23 "$SB_WORK/expected-$s.txt" "$f.got" | head -n 3 >&2 || true
        echo "---- read by $who, not expected (first 3) ----" >&2
        LC_ALL=C comm -13 "$SB_WORK/expected-$s.txt" "$f.got" | head -n 3 >&2 || true
        fail "$who: the messages of $topic_prefix-$s differ from the dataset (key, Kafka timestamp or JSON)"
    fi
    # The producer stamps a sensor's first message in each millisecond of
    # its loop's clock, the first of all among them.
    bad=$(awk -F'\t' -v t0="$t0" -v t1="$t1" '
        $5 == "" && $2 == 0 { print "offset 0, the first message, has no sb-produced-us header"; exit }
        $5 == "" { next }
        $5 !~ /^sb-produced-us=[0-9]+$/ { print "offset " $2 ": headers \"" $5 "\""; exit }
        { v = substr($5, 16); if (v + 0 < t0 + 0 || v + 0 > t1 + 0) { print "offset " $2 ": sb-produced-us " v " outside the run [" t0 ", " t1 "]"; exit } }' "$f")
    [ -z "$bad" ] || fail "$who, $topic_prefix-$s: $bad"
    # One partition (the key), offsets 0..n-1 in event-time order.
    [ "$(cut -f1 "$f" | sort -u | wc -l)" -eq 1 ] || fail "$who: $topic_prefix-$s is spread over partitions $(cut -f1 "$f" | sort -u | tr '\n' ' ')"
    sort -t "$(printf '\t')" -k2,2n "$f" > "$f.by-offset"
    bad=$(awk -F'\t' '
        $2 != NR - 1 { print "offset " $2 " where " NR - 1 " was expected"; exit }
        NR > 1 && $4 + 0 <= prev { print "offset " $2 " has Kafka timestamp " $4 " after " prev; exit }
        { prev = $4 + 0 }' "$f.by-offset")
    [ -z "$bad" ] || fail "$who, $topic_prefix-$s out of order: $bad"
}

# log_batches FILE...: one line per record batch in Kafka log segment
# files, "magic codec records" (codec = attributes & 7: 0 none, 1 gzip,
# 2 snappy, 3 lz4, 4 zstd), from each batch header: baseOffset 8 bytes,
# batchLength 4, partitionLeaderEpoch 4, magic 1, crc 4, attributes 2,
# lastOffsetDelta 4, baseTimestamp, maxTimestamp, producerId 8 each,
# producerEpoch 2, baseSequence 4, recordsCount 4 (bytes 57-60). The next
# batch starts 12 + batchLength bytes on. "truncated" for a batch cut short.
log_batches() {
    local f
    for f in "$@"; do
        od -An -v -tu1 "$f" | awk '
            BEGIN { next_start = -1 }
            {
                for (i = 1; i <= NF; i++) {
                    if (pos == next_start) { start = pos; next_start = -1 }
                    d = pos - start
                    if (d == 8) len = $i
                    else if (d > 8 && d < 12) len = len * 256 + $i
                    if (d == 11) next_start = start + 12 + len
                    if (d == 16) magic = $i + 0
                    if (d == 22) codec = $i % 8
                    if (d == 57) n = $i + 0
                    else if (d > 57 && d < 61) n = n * 256 + $i
                    if (d == 60) print magic, codec, n
                    pos++
                }
            }
            END { if (pos > 0 && pos != next_start) print "truncated" }'
    done
}

codec_id() {
    case $1 in none) echo 0 ;; gzip) echo 1 ;; snappy) echo 2 ;; lz4) echo 3 ;; zstd) echo 4 ;; esac
}

# check_segments CODEC SENSOR: the topic's log holds every sample, and its
# batches are compressed with CODEC.
check_segments() {
    local codec=$1 s=$2 topic=$topic_prefix-$2 want id summary
    want=$(wc -l < "$SB_WORK/expected-$s.txt")
    id=$(codec_id "$codec")
    compgen -G "$KAFKA_DIR/node1/data/$topic-*/*.log" > /dev/null || fail "no log segments of $topic in $KAFKA_DIR/node1/data"
    log_batches "$KAFKA_DIR"/node1/data/"$topic"-*/*.log > "$SB_WORK/batches-$topic.txt"
    summary=$(awk -v want="$want" -v id="$id" '
        BEGIN { split("none gzip snappy lz4 zstd", name); for (c = 0; c < 5; c++) nm[c] = name[c + 1] }
        $1 == "truncated" { print "a batch is cut short"; exit }
        $1 != 2 { print "a batch has magic " $1 ", not 2"; exit }
        { records += $3; batches++; by[$2] += $3 }
        END {
            if (batches == 0) { print "no record batches in the log segments"; exit }
            if (records != want) { print records " records in " batches " batches, expected " want; exit }
            for (c in by) if (c != id && c != 0) { print by[c] " records in batches with codec " c " (" nm[c] "), expected " id " (" nm[id] ")"; exit }
            # librdkafka sends a batch uncompressed when compressing does not
            # make it smaller (a batch of one short message); nearly every
            # record must be in a compressed batch all the same.
            if (id != 0 && by[id] < 0.9 * want) { print "only " by[id] + 0 " of " want " records in batches with codec " id " (" nm[id] "), " by[0] + 0 " uncompressed"; exit }
        }' "$SB_WORK/batches-$topic.txt")
    [ -z "$summary" ] || fail "$topic ($codec): $summary (batches: magic codec records in $SB_WORK/batches-$topic.txt: $(sort "$SB_WORK/batches-$topic.txt" | uniq -c | head -n 5 | tr '\n' ';'))"
    echo "  $topic: $(wc -l < "$SB_WORK/batches-$topic.txt") batches, $(awk -v id="$id" '$2 == id { n += $3 } END { print n + 0 }' "$SB_WORK/batches-$topic.txt") of $want records in batches with codec $id ($codec)"
}

for codec in none gzip lz4 zstd; do
    topic_prefix=comp-$codec
    conf=$SB_WORK/$codec.conf
    write_config "$conf" "$ds" max
    set_key "$conf" kafka brokers "$KAFKA_BROKERS"
    set_key "$conf" kafka topic_prefix "$topic_prefix"
    set_key "$conf" consumer group_id "$topic_prefix"
    set_key "$conf" producer kafka.compression.codec "$codec"
    # The event times are from 2025-11-08: with the broker's default 7-day
    # retention, counted from the record timestamps, Kafka deletes the
    # segments within a minute (its first retention check).
    set_key "$conf" kafka topic.retention.ms -1
    grep -q "^kafka.compression.codec = $codec$" "$conf" || fail "set_key did not write the codec into $conf"

    t0_us=$(date +%s%6N)
    start_daemon "$conf"
    wait_metric sensorbridge_consumer_messages_total "$total" 180
    scrape > "$SB_WORK/scrape-$codec.txt"
    t1_us=$(date +%s%6N)
    promtool check metrics < "$SB_WORK/scrape-$codec.txt" || fail "$codec: promtool check metrics rejected the scrape"
    for s in $SB_SENSORS; do
        want=$((2 * 60 * $(sensor_rate "$s")))
        for m in messages_produced_total messages_delivered_total sensor_samples_consumed_total; do
            got=$(metric "sensorbridge_$m{sensor=\"$s\"}" < "$SB_WORK/scrape-$codec.txt")
            [ "$got" = "$want" ] || fail "$codec, $s: sensorbridge_$m is '$got', the rows hold $want"
        done
        got=$(metric "sensorbridge_messages_delivery_failed_total{sensor=\"$s\"}" < "$SB_WORK/scrape-$codec.txt")
        [ "${got:-0}" = 0 ] || fail "$codec, $s: $got deliveries failed"
    done
    got=$(metric_sum sensorbridge_consumer_invalid_messages_total < "$SB_WORK/scrape-$codec.txt")
    [ "$got" = 0 ] || fail "$codec: $got invalid messages"
    stop_daemon
    grep -q 'msg="producer flushed"' "$SB_LOG" || fail "$codec: no flush on shutdown"
    cp "$SB_LOG" "$SB_WORK/sensorbridge-$codec.log"
    echo "$codec: $total samples produced, delivered and consumed"

    for s in $check_sensors; do
        topic=$topic_prefix-$s
        check_segments "$codec" "$s"
        timeout 60 kcat -b "$KAFKA_BROKERS" -C -t "$topic" -o beginning -e -q \
            -f '%p\t%o\t%k\t%T\t%h\t%s\n' > "$SB_WORK/kcat-$topic.txt" 2> "$SB_WORK/kcat-$topic.err" ||
            fail "kcat could not read $topic: $(tail -n 3 "$SB_WORK/kcat-$topic.err")"
        check_read kcat "$SB_WORK/kcat-$topic.txt" "$s" "$t0_us" "$t1_us"
        echo "  $topic: kcat read all $(wc -l < "$SB_WORK/kcat-$topic.txt") messages, every field as in the dataset"
        case $codec in none|gzip) ;; *) continue ;; esac
        timeout 90 node "$KAFKAJS_READ" "$KAFKA_BROKERS" "$topic" 60 \
            > "$SB_WORK/kafkajs-$topic.txt" 2> "$SB_WORK/kafkajs-$topic.err" ||
            fail "kafkajs could not read $topic: $(tail -n 3 "$SB_WORK/kafkajs-$topic.err")"
        check_read kafkajs "$SB_WORK/kafkajs-$topic.txt" "$s" "$t0_us" "$t1_us"
        echo "  $topic: kafkajs read all $(wc -l < "$SB_WORK/kafkajs-$topic.txt") messages, every field as in the dataset"
    done
done
echo "ok: kafka compression (none, gzip, lz4, zstd) on Kafka $KAFKA_VERSION"
