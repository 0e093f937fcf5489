#!/bin/bash
# SIGHUP: valid changes are applied (speed, log level, replay settings), an
# invalid file, a restart-only key or replay settings that do not work are
# refused with a log line and the running configuration is kept (the
# series on /metrics and the topics on the cluster too); the daemon keeps
# serving throughout, speed changes during a replay neither
# skip nor repeat a sample, and it exits 0 on SIGTERM.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

ds=$(make_dataset)
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds" 1
set_key "$conf" replay loop true
start_daemon "$conf"

reloads() { val sensorbridge_config_reloads_total; }
failures() { val sensorbridge_config_reload_failures_total; }
consumed() { val sensorbridge_consumer_messages_total; }
produced() { val "sensorbridge_messages_produced_total{sensor=\"$1\"}"; }
status_speed() { curl -sf "$SB_URL/api/v1/status" | jq -r '.replay.speed'; }
# hup: send SIGHUP; the caller waits for a counter.
hup() { kill -HUP "$SB_PID"; }
alive() { kill -0 "$SB_PID" 2>/dev/null || fail "the daemon died: $*"; }
# serving: the consumer count grows past its current value.
serving() {
    local c
    c=$(consumed)
    [ -n "$c" ] || fail "no sensorbridge_consumer_messages_total in the scrape"
    wait_for 60 "sensorbridge_consumer_messages_total to grow past $c ($1)" \
        gt sensorbridge_consumer_messages_total "$c"
}

# The replay runs in real time and the consumer has joined.
wait_for 90 "the first consumed messages" gt sensorbridge_consumer_messages_total 0
# Only the loop thread may take SIGHUP, SIGINT and SIGTERM: every other
# thread (librdkafka's, the embedded cluster's) blocks them. A signal
# delivered to the mock cluster's thread ends its poll() with EINTR and
# shuts the embedded broker down for good.
threads=0
for task in /proc/"$SB_PID"/task/*; do
    tid=${task##*/}
    [ "$tid" = "$SB_PID" ] && continue
    blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' "$task/status" 2>/dev/null) || continue
    [ -n "$blk" ] || continue
    threads=$((threads + 1))
    # Bits 0, 1 and 14: SIGHUP, SIGINT, SIGTERM.
    [ $((0x$blk & 0x4003)) = $((0x4003)) ] ||
        fail "thread $tid ($(cat "$task/comm")) does not block SIGHUP, SIGINT and SIGTERM (SigBlk $blk)"
done
[ "$threads" -ge 5 ] || fail "only $threads threads besides the loop thread"
[ "$(reloads)" = 0 ] || fail "reloads_total is $(reloads) before any SIGHUP"
[ "$(failures)" = 0 ] || fail "reload_failures_total is $(failures) before any SIGHUP"
[ "$(status_speed)" = 1 ] || fail "status speed is $(status_speed), expected 1"

# 1. A valid change: speed 1 -> 5 is applied in place.
set_key "$conf" replay speed 5
hup
wait_metric sensorbridge_config_reloads_total 1 30
[ "$(failures)" = 0 ] || fail "a valid reload counted a failure"
grep -q 'msg="configuration reloaded"' "$SB_LOG" || fail "no 'configuration reloaded' log line"
grep -q 'msg="replay speed changed" speed=5' "$SB_LOG" || fail "no 'replay speed changed speed=5' log line"
[ "$(status_speed)" = 5 ] || fail "status speed is $(status_speed) after the reload, expected 5"
[ "$(grep -c 'msg="replay started"' "$SB_LOG")" -eq 1 ] || fail "a speed change restarted the replay"
serving "after the speed change"

# 2. log_level = warning: applied, so this reload's own notice line is not
#    written; back to info, the next one is.
set_key "$conf" general log_level warning
hup
wait_metric sensorbridge_config_reloads_total 2 30
[ "$(grep -c 'msg="configuration reloaded"' "$SB_LOG")" -eq 1 ] \
    || fail "log_level = warning was not applied: a notice line was still written"
set_key "$conf" general log_level info
hup
wait_metric sensorbridge_config_reloads_total 3 30
[ "$(grep -c 'msg="configuration reloaded"' "$SB_LOG")" -eq 2 ] \
    || fail "log_level = info was not applied: no notice line for the reload"

# 3. An invalid file: refused, the error names the key, speed stays 5.
set_key "$conf" replay speed fast
line=$(grep -n '^speed =' "$conf" | cut -d: -f1)
hup
wait_metric sensorbridge_config_reload_failures_total 1 30
[ "$(reloads)" = 3 ] || fail "an invalid file counted as a reload"
grep 'msg="reload refused, keeping the running configuration"' "$SB_LOG" \
    | grep -qF "$conf:$line: [replay] speed: " \
    || fail "no refusal log line naming $conf:$line: [replay] speed"
alive "after an invalid reload"
[ "$(status_speed)" = 5 ] || fail "status speed is $(status_speed) after a refused reload, expected 5"
serving "after an invalid reload"
set_key "$conf" replay speed 5

# A configuration file that is gone: refused the same way.
mv "$conf" "$conf.away"
hup
wait_metric sensorbridge_config_reload_failures_total 2 30
grep 'msg="reload refused, keeping the running configuration"' "$SB_LOG" \
    | grep -qF "$conf: cannot open" || fail "no refusal log line for a missing file"
mv "$conf.away" "$conf"
serving "after a reload of a missing file"

# 4. Restart-only keys: refused, the log names each key.
n=2
for change in "http listen 127.0.0.1:1" "kafka topic_prefix other" \
              "consumer group_id other" "producer kafka.linger.ms 7"; do
    # shellcheck disable=SC2086
    set -- $change
    cp "$conf" "$conf.keep"
    set_key "$conf" "$1" "$2" "$3"
    case $2 in kafka.*) id="$1.kafka.*" ;; *) id="$1.$2" ;; esac
    hup
    n=$((n + 1))
    wait_metric sensorbridge_config_reload_failures_total $n 30
    grep 'reload refused: key needs a restart' "$SB_LOG" | grep -qF "key=$id" \
        || fail "no refusal log line naming key=$id"
    alive "after a refused change of $id"
    mv "$conf.keep" "$conf"
done
[ "$(reloads)" = 3 ] || fail "a refused restart-key change counted as a reload"
# Still the same port and prefix.
scrape > /dev/null || fail "the daemon no longer serves on port $SB_PORT"
[ "$(curl -sf "$SB_URL/api/v1/status" | jq -r .topic_prefix)" = hydraulic ] || fail "topic prefix changed"
serving "after refused restart-key changes"

# 5. Replay settings that parse but do not work (a dataset directory
#    without sensor files): refused, the old replay keeps running.
mkdir "$SB_WORK/empty"
set_key "$conf" replay dataset "$SB_WORK/empty"
hup
n=$((n + 1))
wait_metric sensorbridge_config_reload_failures_total $n 30
grep -q 'reload refused: new replay settings do not work' "$SB_LOG" \
    || fail "no refusal log line for a dataset without sensor files"
set_key "$conf" replay dataset "$ds"
p=$(produced PS1)
wait_for 60 "PS1 to keep being produced after a refused replay change" gt \
    "sensorbridge_messages_produced_total{sensor=\"PS1\"}" "$p"

# 6. A new replay (sensors = TS1 TS2): the old streams stop, the new run,
#    and their event time goes on from where the old replay was (the same
#    event_epoch would start it over, behind the watermark: every sample
#    late, and event times already on the topics again).
ts1_event=$(val 'sensorbridge_sensor_last_event_timestamp_seconds{sensor="TS1"}')
ts1_late=$(val 'sensorbridge_window_late_samples_total{sensor="TS1"}')
set_key "$conf" replay sensors "TS1 TS2"
hup
wait_metric sensorbridge_config_reloads_total 4 30
[ "$(grep -c 'msg="replay started"' "$SB_LOG")" -eq 2 ] || fail "the replay was not restarted"
grep 'msg="replay started"' "$SB_LOG" | tail -n 1 | grep -q 'streams=2 ' \
    || fail "the new replay does not have 2 streams"
ps1=$(produced PS1)
ts1=$(produced TS1)
# At speed 5, TS1 makes 5 samples/s; 10 more take 2 s, in which PS1 would
# have made 1000 if its stream were still running.
wait_for 60 "TS1 to be produced by the new replay" gt \
    "sensorbridge_messages_produced_total{sensor=\"TS1\"}" $((ts1 + 10))
[ "$(produced PS1)" = "$ps1" ] || fail "PS1 is still produced ($ps1 -> $(produced PS1)) after sensors = TS1 TS2"
serving "after a new replay"
wait_for 60 "TS1's event time to go on past $ts1_event" gt \
    'sensorbridge_sensor_last_event_timestamp_seconds{sensor="TS1"}' "$ts1_event"
# No event time twice on the topic: both replays' TS1 samples, as kcat reads
# them (Kafka timestamp = event time). The replay goes on, so a real broker
# never reports the end of the partition: read what was delivered so far.
n=$(val 'sensorbridge_messages_delivered_total{sensor="TS1"}')
timeout 60 kcat -C -b "$SB_BROKERS" -t hydraulic-TS1 -o beginning -c "$n" -q -f '%T\n' \
    > "$SB_WORK/ts1-times.txt" || fail "kcat could not read $n messages of hydraulic-TS1"
[ "$(wc -l < "$SB_WORK/ts1-times.txt")" = "$n" ] || fail "kcat read $(wc -l < "$SB_WORK/ts1-times.txt") TS1 messages, not $n"
dups=$(sort "$SB_WORK/ts1-times.txt" | uniq -d | wc -l)
[ "$dups" = 0 ] || fail "$dups event times of TS1 are on its topic twice: the new replay started over"
late_now=$(val 'sensorbridge_window_late_samples_total{sensor="TS1"}')
[ "${late_now:-0}" = "${ts1_late:-0}" ] ||
    fail "the new replay's TS1 samples were late (${ts1_late:-0} -> $late_now): its event time went back"

# 7. Speed changes keep each stream's place: a new finite replay of all
#    sensors (loop = false), switched between speeds while it runs, produces
#    and delivers exactly its two cycles, no sample skipped or repeated.
#    First the running replay is switched off and everything it sent is
#    consumed, so the counters can be compared before and after.
set_key "$conf" replay enabled false
hup
wait_metric sensorbridge_config_reloads_total 5 30
caught_up() {
    scrape > "$SB_WORK/before.txt" || return 1
    local p d c
    p=$(metric_sum sensorbridge_messages_produced_total < "$SB_WORK/before.txt")
    d=$(metric_sum sensorbridge_messages_delivered_total < "$SB_WORK/before.txt")
    c=$(metric sensorbridge_consumer_messages_total < "$SB_WORK/before.txt")
    [ "$p" = "$d" ] && [ "$d" = "$c" ]
}
wait_for 60 "the consumer to catch up with the stopped replay" caught_up
[ "$(curl -sf "$SB_URL/api/v1/status" | jq -r .replay.enabled)" = false ] || fail "the replay is still enabled"

#    While nothing is produced the series on /metrics stay as they are,
#    so this is where a refused reload is seen to change nothing: a file
#    whose replay settings do not work (a dataset without sensor files)
#    and that adds a synthetic sensor with an alert rule and a new replay
#    sensor list besides leaves the same series (names and labels) on
#    /metrics and the same topics on the cluster.
series() { scrape | grep -v '^#' | sed 's/ [^ ]*$//' | sort; }
topic_list() {
    timeout 60 kcat -L -J -b "$SB_BROKERS" | jq -r '.topics[].topic' | sort
}
series > "$SB_WORK/series-before.txt"
topic_list > "$SB_WORK/topics-before.txt" || fail "kcat -L failed"
grep -q '^hydraulic-TS1$' "$SB_WORK/topics-before.txt" || fail "kcat -L does not list hydraulic-TS1"
cp "$conf" "$conf.keep"
set_key "$conf" replay enabled true
set_key "$conf" replay dataset "$SB_WORK/empty"
set_key "$conf" replay sensors "TS1 TS2"
printf '[synthetic.oven]\nkind = temperature\n[alert.oven]\nhigh_warning = 300\n' >> "$conf"
hup
wait_metric sensorbridge_config_reload_failures_total 8 30
grep 'reload refused: new replay settings do not work' "$SB_LOG" | tail -n 1 | grep -qF "$SB_WORK/empty" \
    || fail "no refusal log line for the dataset without sensor files"
mv "$conf.keep" "$conf"
series | diff "$SB_WORK/series-before.txt" - > "$SB_WORK/series.diff" \
    || fail "a refused reload changed the series on /metrics: $(cat "$SB_WORK/series.diff")"
topic_list | diff "$SB_WORK/topics-before.txt" - > "$SB_WORK/topics.diff" \
    || fail "a refused reload changed the topics on the cluster: $(cat "$SB_WORK/topics.diff")"
[ "$(curl -sf "$SB_URL/api/v1/status" | jq -r .replay.enabled)" = false ] || fail "a refused reload enabled the replay"
consumed0=$(metric sensorbridge_consumer_messages_total < "$SB_WORK/before.txt")
set_key "$conf" replay enabled true
set_key "$conf" replay sensors all
set_key "$conf" replay loop false
hup
wait_metric sensorbridge_config_reloads_total 6 30
[ "$(grep -c 'msg="replay started"' "$SB_LOG")" -eq 3 ] || fail "the finite replay did not start"
ps1=$(metric 'sensorbridge_messages_produced_total{sensor="PS1"}' < "$SB_WORK/before.txt")
wait_for 60 "PS1 to be produced by the finite replay" gt \
    "sensorbridge_messages_produced_total{sensor=\"PS1\"}" $((ps1 + 500))
n=6
for speed in max 3 max; do
    set_key "$conf" replay speed $speed
    hup
    n=$((n + 1))
    wait_metric sensorbridge_config_reloads_total $n 30
done
[ "$(grep -c 'msg="replay started"' "$SB_LOG")" -eq 3 ] || fail "a speed change restarted the replay"
finished() { curl -sf "$SB_URL/api/v1/status" | jq -e '.replay.finished == true' > /dev/null; }
wait_for 120 "the finite replay to finish" finished
total=$(samples_in_cycles 2)
wait_metric sensorbridge_consumer_messages_total $((consumed0 + total)) 120
scrape > "$SB_WORK/after.txt"
for s in $SB_SENSORS; do
    want=$((2 * 60 * $(sensor_rate "$s")))
    for name in sensorbridge_messages_produced_total sensorbridge_messages_delivered_total \
                sensorbridge_sensor_samples_consumed_total; do
        a=$(metric "$name{sensor=\"$s\"}" < "$SB_WORK/before.txt")
        b=$(metric "$name{sensor=\"$s\"}" < "$SB_WORK/after.txt")
        [ $((b - ${a:-0})) -eq "$want" ] || fail "$s: the finite replay added $((b - ${a:-0})) to $name, expected $want"
    done
done
[ "$(failures)" = 8 ] || fail "reload_failures_total is $(failures), expected the 8 refusals above"

# SIGTERM: a clean exit.
stop_daemon
grep -q 'msg="producer flushed"' "$SB_LOG" || fail "no flush on shutdown"
echo "ok: reload"
