#!/bin/bash
# Out-of-order and too-late samples, injected with kcat: which window each
# lands in, and what is counted as late (never folded into another window);
# a timestamp in 9999 is counted and cannot poison the watermark.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

ds=$(make_dataset)
write_config "$SB_WORK/sb.conf" "$ds" max
cat >> "$SB_WORK/sb.conf" <<CONF
[windows]
sizes = 60s
watermark = 10s
[alerts]
enabled = false
CONF
sed -i 's/^\[replay\]$/[replay]\nenabled = false/' "$SB_WORK/sb.conf"
start_daemon "$SB_WORK/sb.conf"

msg() { # msg SECONDS VALUE: a TS1 sample at epoch + SECONDS
    printf '{"sensor":"TS1","value":%s,"timestamp":"%s"}\n' "$2" \
        "$(date -u -d "@$((1762612200 + $1))" +%Y-%m-%dT%H:%M:%SZ)"
}
{
    msg 0 1      # window [0,60)
    msg 30 2     # window [0,60)
    msg 65 3     # window [60,120); watermark 55
    msg 50 4     # out of order but within the watermark: window [0,60)
    msg 75 5     # watermark 65: [0,60) closes with 1, 2, 4
    msg $((253402214399 - 1762612200)) 9 # 9999-12-31T23:59:59Z: far past everything
                 # and the wall clock: counted, kept out of the windows (it
                 # would close them all and make everything below late)
    msg 59 6     # too late: [0,60) is closed; counted, not folded anywhere
    msg 62 7     # window [60,120), still open
    msg 200 8    # watermark 190: [60,120) closes with 3, 5, 7
} > "$SB_WORK/in.jsonl"
# One key: one partition, so the order above is the order consumed; an
# idempotent producer keeps that order when it retries (a real Kafka that
# just started answers "coordinator load in progress" at first, and a
# plain retry can overtake the next request: 50 behind 75 is one more late).
kcat -b "$SB_BROKERS" -P -X enable.idempotence=true -t hydraulic-TS1 -k TS1 -l "$SB_WORK/in.jsonl" 2>/dev/null \
    || fail "kcat could not produce"

wait_metric sensorbridge_consumer_messages_total 9 120
wait_metric 'sensorbridge_windows_closed_total{window="60s"}' 2 60
wait_metric 'sensorbridge_output_messages_delivered_total{topic="hydraulic-aggregates"}' 2 60
scrape > "$SB_WORK/scrape.txt"
got=$(metric 'sensorbridge_window_late_samples_total{sensor="TS1"}' < "$SB_WORK/scrape.txt")
[ "$got" = 1 ] || fail "late samples: $got, expected 1"
got=$(metric 'sensorbridge_sensor_samples_consumed_total{sensor="TS1"}' < "$SB_WORK/scrape.txt")
[ "$got" = 9 ] || fail "consumed $got, expected 9 (late and future samples still count as consumed)"
got=$(metric 'sensorbridge_window_future_samples_total{sensor="TS1"}' < "$SB_WORK/scrape.txt")
[ "$got" = 1 ] || fail "future samples: $got, expected 1"

kcat -b "$SB_BROKERS" -C -t hydraulic-aggregates -o beginning -c 2 -e -q -f '%s\n' \
    > "$SB_WORK/agg.txt" 2>/dev/null || fail "kcat could not read the aggregates"
first=$(sed -n 1p "$SB_WORK/agg.txt")
second=$(sed -n 2p "$SB_WORK/agg.txt")
want1='{"sensor":"TS1","window_seconds":60,"window_start":"2025-11-08T14:30:00.000000Z","window_end":"2025-11-08T14:31:00.000000Z","count":3,"sum":7,"min":1,"max":4,'
want2='{"sensor":"TS1","window_seconds":60,"window_start":"2025-11-08T14:31:00.000000Z","window_end":"2025-11-08T14:32:00.000000Z","count":3,"sum":15,"min":3,"max":7,'
case $first in "$want1"*) ;; *) fail "first window: $first" ;; esac
case $second in "$want2"*) ;; *) fail "second window: $second" ;; esac
case $first in *'"first_event":"2025-11-08T14:30:00.000000Z","last_event":"2025-11-08T14:30:50.000000Z"'*) ;;
    *) fail "first window's event range: $first" ;; esac
case $second in *'"first_event":"2025-11-08T14:31:02.000000Z","last_event":"2025-11-08T14:31:15.000000Z"'*) ;;
    *) fail "second window's event range: $second" ;; esac
# The window [120,180) never saw a sample and [180,240) is still open.
[ "$(wc -l < "$SB_WORK/agg.txt")" -eq 2 ] || fail "unexpected aggregates"
stop_daemon
echo "ok: late data"
