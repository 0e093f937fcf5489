#!/bin/bash
# A fatal librdkafka error stops the daemon with exit status 1 (so systemd
# restarts it with new clients) instead of leaving it running with a
# producer whose every later produce fails while /healthz says ok. The
# standalone mock cluster refuses the idempotent producer its producer id
# (CLUSTER_AUTHORIZATION_FAILED, what a real cluster answers a principal
# without the IdempotentWrite ACL): fatal for an idempotent producer.
# Embedded broker only: the error is the mock cluster's fault injection.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

start_mockbroker -i 31 hydraulic-TS1
ds=$(make_dataset)
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds" 1
set_key "$conf" kafka brokers "$MB_BROKERS"
set_key "$conf" consumer enabled false
set_key "$conf" replay sensors TS1
start_instance "$conf" "$SB_WORK/daemon.log"
pid=$INST_PID
gone() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 60 "the daemon to stop after the fatal error" gone
rc=0
wait "$pid" || rc=$?
untrack_pid "$pid"
[ "$rc" = 1 ] || fail "the daemon exited with status $rc, expected 1"
grep -q 'msg="fatal Kafka error: the client cannot go on, stopping with exit status 1" client=producer error="CLUSTER_AUTHORIZATION_FAILED: ' \
    "$SB_WORK/daemon.log" || fail "no fatal error line in the log"
grep -q 'msg="stopping" signal=fatal Kafka error' "$SB_WORK/daemon.log" || fail "no stopping line"
grep -q 'msg="stopped"' "$SB_WORK/daemon.log" && fail "a fatal error was logged as a clean stop"
stop_mockbroker
echo "ok: fatal error"
