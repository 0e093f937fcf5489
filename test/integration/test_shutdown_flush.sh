#!/bin/bash
# SIGTERM during a replay at speed max: the producer flushes its queue
# before the daemon exits 0. A standalone mock cluster keeps the topics
# after the daemon is gone, so kcat can count what really arrived:
#   A. loop = true, SIGTERM while producing: what is on the broker is, for
#      every sensor, a gap-free prefix of its samples, at least everything
#      produced before the last scrape;
#   B. a finished replay whose last messages linger (linger.ms = 30 s) in
#      the queue at SIGTERM: exactly every sample arrives;
#   C. the same with flush_timeout_ms = 0: the flush times out and samples
#      are missing, so B's checks can tell a flush from none.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

# One set of topics for all three runs (the mock creates topics slowly):
# each run replays from sample 0, so its messages are counted as the growth
# of the high watermarks.
start_mockbroker_sensors
ds=$(make_dataset)
total=$(samples_in_cycles 2)
epoch_ms=1762612200000 # event_epoch of write_config

# producer_config FILE: a producer-only daemon on the mock cluster.
producer_config() {
    write_config "$1" "$ds" max
    set_key "$1" kafka brokers "$MB_BROKERS"
    set_key "$1" consumer enabled false
}

# broker_counts FILE: "SENSOR PARTITION HIGH_WATERMARK" for the one
# partition of each sensor's topic that holds messages (the key puts them
# all in one), "SENSOR - 0" for an empty topic.
broker_counts() {
    local args=() s p
    for s in $SB_SENSORS; do
        for p in 0 1 2 3; do args+=(-t "hydraulic-$s:$p:-1"); done
    done
    timeout 60 kcat -Q -b "$MB_BROKERS" "${args[@]}" > "$SB_WORK/offsets.txt" \
        || fail "kcat could not query the offsets of the topics"
    for s in $SB_SENSORS; do
        awk -v t="hydraulic-$s" '
            $1 == t && $3 == "offset" { gsub(/[][]/, "", $2); n++; if ($4 > 0) { p = $2; c = $4; m++ } }
            END {
                if (n != 4) { print "bad"; exit }
                if (m > 1) { print "split"; exit }
                print (m ? p " " c : "- 0")
            }' "$SB_WORK/offsets.txt" | sed "s/^/$s /"
    done > "$1"
}

# check_run BEFORE AFTER MIN_TOTAL EXACT: the run between the two
# broker_counts files added, for every sensor, samples 0..N-1 without a gap
# (its last message's Kafka timestamp is sample N-1's event time), at least
# MIN_TOTAL in all, and if EXACT exactly two cycles per sensor. Sets
# RUN_TOTAL.
check_run() {
    local before=$1 after=$2 min=$3 exact=$4 s p n b sum=0 rate ts want
    while read -r s p n; do
        case $p in bad|split) fail "hydraulic-$s: unexpected partitions ($p)" ;; esac
        b=$(awk -v s="$s" '$1 == s { print $3 }' "$before")
        n=$((n - ${b:-0}))
        rate=$(sensor_rate "$s")
        [ "$n" -gt 0 ] || fail "hydraulic-$s: no new messages on the broker"
        if [ "$exact" = exact ]; then
            [ "$n" -eq $((2 * 60 * rate)) ] || fail "hydraulic-$s: $n new messages on the broker, expected $((2 * 60 * rate))"
        fi
        ts=$(timeout 60 kcat -C -b "$MB_BROKERS" -t "hydraulic-$s" -p "$p" -o -1 -c 1 -e -q -f '%T\n') \
            || fail "kcat could not read the last message of hydraulic-$s"
        want=$((epoch_ms + (n - 1) * 1000 / rate))
        [ "$ts" = "$want" ] || fail "hydraulic-$s: the last of $n new messages has event time $ts, sample $((n - 1)) has $want: a gap or a duplicate"
        sum=$((sum + n))
    done < "$after"
    [ "$sum" -ge "$min" ] || fail "$sum new messages on the broker, fewer than the $min produced before the last scrape"
    RUN_TOTAL=$sum
}

# check_clean_stop LOG: the flush completed and nothing was lost on the way.
check_clean_stop() {
    grep -q 'msg="producer flushed"' "$1" || fail "$(basename "$1"): no 'producer flushed' line"
    grep -q 'flush timed out' "$1" && fail "$(basename "$1"): the flush timed out"
    grep -q 'still in queue' "$1" && fail "$(basename "$1"): librdkafka was destroyed with messages queued"
    grep -qE 'delivery failed|produce failed' "$1" && fail "$(basename "$1"): deliveries failed"
    grep -q 'msg="stopped"' "$1" || fail "$(basename "$1"): no 'stopped' line"
}

queued() { scrape_url "$1" | metric sensorbridge_producer_queue_messages; }
produced() { scrape_url "$1" | metric_sum sensorbridge_messages_produced_total; }

# ---- A. SIGTERM while a looping replay produces ----
: > "$SB_WORK/counts0.txt"
producer_config "$SB_WORK/a.conf"
set_key "$SB_WORK/a.conf" replay loop true
start_instance "$SB_WORK/a.conf" "$SB_WORK/a.log"
A_PID=$INST_PID A_URL=$INST_URL
# Well into the second pass, with messages in the queue.
busy() {
    scrape_url "$A_URL" > "$SB_WORK/a.scrape" || return 1
    local p q
    p=$(metric_sum sensorbridge_messages_produced_total < "$SB_WORK/a.scrape")
    q=$(metric sensorbridge_producer_queue_messages < "$SB_WORK/a.scrape")
    [ "$p" -gt $((total + total / 2)) ] && [ "${q:-0}" -gt 0 ]
}
wait_for 120 "the looping replay to be busy in its second pass" busy
before=$(metric_sum sensorbridge_messages_produced_total < "$SB_WORK/a.scrape")
t0=$(date +%s)
stop_pid "$A_PID" "the looping producer" 30
echo "[${SECONDS}s] A: stopped in $(($(date +%s) - t0)) s; $before produced at the last scrape" >&2
check_clean_stop "$SB_WORK/a.log"
broker_counts "$SB_WORK/counts1.txt"
check_run "$SB_WORK/counts0.txt" "$SB_WORK/counts1.txt" "$before" prefix
echo "[${SECONDS}s] A: $RUN_TOTAL messages on the broker" >&2

# ---- B. A finished replay with lingering messages: exactly all arrive ----
producer_config "$SB_WORK/b.conf"
set_key "$SB_WORK/b.conf" producer kafka.linger.ms 30000
start_instance "$SB_WORK/b.conf" "$SB_WORK/b.log"
B_PID=$INST_PID B_URL=$INST_URL
finished() { curl -sf "$1/api/v1/status" | jq -e '.replay.finished == true' > /dev/null; }
wait_for 120 "replay B to finish" finished "$B_URL"
[ "$(produced "$B_URL")" = "$total" ] || fail "B: produced $(produced "$B_URL"), expected $total"
q=$(queued "$B_URL")
[ "${q:-0}" -gt 0 ] || fail "B: the queue is empty before SIGTERM ($q): the test proves nothing"
t0=$(date +%s)
stop_pid "$B_PID" "the finished producer" 30
echo "[${SECONDS}s] B: $q messages queued at SIGTERM; stopped in $(($(date +%s) - t0)) s" >&2
check_clean_stop "$SB_WORK/b.log"
broker_counts "$SB_WORK/counts2.txt"
check_run "$SB_WORK/counts1.txt" "$SB_WORK/counts2.txt" "$total" exact
[ "$RUN_TOTAL" -eq "$total" ] || fail "B: $RUN_TOTAL messages on the broker, expected $total"

# ---- C. No time to flush: the loss shows ----
producer_config "$SB_WORK/c.conf"
set_key "$SB_WORK/c.conf" producer kafka.linger.ms 30000
set_key "$SB_WORK/c.conf" producer flush_timeout_ms 0
start_instance "$SB_WORK/c.conf" "$SB_WORK/c.log"
C_PID=$INST_PID C_URL=$INST_URL
wait_for 120 "replay C to finish" finished "$C_URL"
q=$(queued "$C_URL")
[ "${q:-0}" -gt 0 ] || fail "C: the queue is empty before SIGTERM ($q)"
stop_pid "$C_PID" "the producer without flush time" 30
grep -q "flush timed out, messages not delivered\" left=[1-9]" "$SB_WORK/c.log" \
    || fail "C: no 'flush timed out' line with flush_timeout_ms = 0"
broker_counts "$SB_WORK/counts3.txt"
c_total=$(($(awk '{ s += $3 } END { print s + 0 }' "$SB_WORK/counts3.txt") -
           $(awk '{ s += $3 } END { print s + 0 }' "$SB_WORK/counts2.txt")))
[ "$c_total" -lt "$total" ] || fail "C: all $c_total messages arrived without a flush: B's check cannot fail"
echo "[${SECONDS}s] C: $c_total of $total arrived without a flush" >&2

stop_mockbroker
echo "ok: shutdown flush"
