#!/bin/bash
# The stop fits the unit's TimeoutStopSec even with every broker down at
# SIGTERM: both producer flushes and the consumer's final drain share one
# budget, [producer] flush_timeout_ms, instead of taking it twice (with
# flush_timeout_ms = 15 s that was 15 + the group leave + 15 s, beyond the
# unit's 30 s, and systemd's SIGKILL would have lost the final commit).
# The daemon replays and consumes through a standalone mock cluster whose
# brokers all go down before the SIGTERM; it must exit 0 within
# TimeoutStopSec, read from deploy/systemd/sensorbridge.service.in.
# Embedded broker only: the outage is the mock cluster's fault injection.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

unit_timeout=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$SB_SOURCE_ROOT/deploy/systemd/sensorbridge.service.in")
[ -n "$unit_timeout" ] || fail "no TimeoutStopSec in the unit"
start_mockbroker_sensors
ds=$(make_dataset)
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds" 1
set_key "$conf" kafka brokers "$MB_BROKERS"
set_key "$conf" replay loop true
set_key "$conf" producer flush_timeout_ms 15000
start_daemon "$conf"
consuming() { [ "$(scrape | metric sensorbridge_consumer_messages_total)" -gt 0 ] 2>/dev/null; }
wait_for 60 "the consumer to apply samples" consuming

kill -USR1 "$MB_PID"
wait_log "$SB_WORK/mockbroker.log" 'brokers down: Success' 30
sleep 2
start=$SECONDS
kill -TERM "$SB_PID"
gone() { ! kill -0 "$SB_PID" 2>/dev/null; }
wait_for $((unit_timeout + 30)) "the daemon to exit" gone
took=$((SECONDS - start))
rc=0
wait "$SB_PID" || rc=$?
SB_PID=
[ "$rc" = 0 ] || fail "the daemon exited with status $rc"
[ "$took" -lt "$unit_timeout" ] ||
    fail "the stop took ${took} s with the brokers down, not within TimeoutStopSec=${unit_timeout}"
grep -q 'msg="producer flush timed out, messages not delivered".* timeout_ms=0$' "$SB_LOG" ||
    fail "the second flush did not get what was left of the budget (nothing)"
echo "[${took}s] stopped with every broker down" >&2
stop_mockbroker
echo "ok: stop budget"
