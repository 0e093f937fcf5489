#!/bin/bash
# What systemd hears from the daemon (sd_notify on NOTIFY_SOCKET, here a
# socket of test/tools/notifylisten: no systemd runs as PID 1 here). The
# daemon starts while every broker of a standalone mock cluster is down, so
# readiness comes late: no READY=1 while /readyz answers 503, then exactly
# one; STATUS= says what it waits for, then how it runs. A reload through
# `sensorbridge --reload PID` (the unit's ExecReload) sends RELOADING=1 with
# MONOTONIC_USEC (between CLOCK_MONOTONIC read before and after) in one
# message, then READY=1, and exits 0; a refused one exits 1 with the reason,
# which STATUS= shows until a reload is applied. WATCHDOG=1 comes while
# WATCHDOG_USEC and WATCHDOG_PID are set, never when they are not;
# STOPPING=1 on SIGTERM. Embedded broker only: the late readiness is the
# mock cluster's outage (mockbroker takes every broker down on SIGUSR1).
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

[ -n "${SB_NOTIFYLISTEN:-}" ] && [ -x "$SB_NOTIFYLISTEN" ] || fail "SB_NOTIFYLISTEN is not set"
now_us() { "$SB_NOTIFYLISTEN" --now; }

# listen NAME: a notify socket $SB_WORK/NAME.sock whose messages go to
# $SB_WORK/NAME.notify; sets NOTIFY_LOG.
listen() {
    NOTIFY_SOCK=$SB_WORK/$1.sock
    NOTIFY_LOG=$SB_WORK/$1.notify
    : > "$NOTIFY_LOG"
    "$SB_NOTIFYLISTEN" "$NOTIFY_SOCK" "$NOTIFY_LOG" > "$SB_WORK/$1.listen" 2>&1 &
    track_pid $! "$NOTIFY_LOG"
    wait_log "$SB_WORK/$1.listen" '^listening$' 10
}
# The lines a message field appears on: "<datagram> <µs> FIELD=VALUE".
field() { awk -v f="$1" 'index($3, f "=") == 1' "$NOTIFY_LOG"; }
count() { field "$1" | grep -c "^[0-9]* [0-9]* $1=$2\$" || true; }
readyz_code() { curl -s -o /dev/null -w '%{http_code}' "$INST_URL/readyz"; }
# has TEXT: one of the STATUS= lines holds TEXT (no grep -q in a pipe: its
# early exit can end the writer by SIGPIPE, which pipefail takes for no).
has() { [[ $(field STATUS) == *"$1"* ]]; }
last_status() { field STATUS | tail -n 1; }

start_mockbroker_sensors
kill -USR1 "$MB_PID"
wait_log "$SB_WORK/mockbroker.log" 'brokers down: Success' 30

ds=$(make_dataset)
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds" 1
set_key "$conf" kafka brokers "$MB_BROKERS"
set_key "$conf" replay loop true
cp "$conf" "$SB_WORK/good.conf"

# The daemon as systemd starts it with WatchdogSec= and RuntimeDirectory=:
# WATCHDOG_PID is the daemon's own PID, so the wrapper sets it and execs.
run=$SB_WORK/run
mkdir -p "$run"
cat > "$SB_WORK/as-systemd" <<EOF
#!/bin/sh
WATCHDOG_PID=\$\$
export WATCHDOG_PID
exec "$SB_BIN" "\$@"
EOF
chmod +x "$SB_WORK/as-systemd"
listen first
NOTIFY_SOCKET=$NOTIFY_SOCK RUNTIME_DIRECTORY=$run WATCHDOG_USEC=400000 SB_BIN=$SB_WORK/as-systemd \
    start_instance "$conf" "$SB_WORK/first.log"
pid=$INST_PID
[ "$(cat "$run/reload-status")" = "0 started" ] ||
    fail "reload-status at start: '$(cat "$run/reload-status")'"

# While the brokers are down: not ready, and STATUS= names the brokers.
waiting_brokers() { has "STATUS=waiting for the brokers at $MB_BROKERS: the brokers do not answer"; }
wait_for 30 "STATUS= waiting for the brokers" waiting_brokers
[ "$(readyz_code)" = 503 ] || fail "/readyz answers $(readyz_code) with every broker down"
[ "$(count READY 1)" = 0 ] || fail "READY=1 sent with every broker down"

# Readiness: each 503 of /readyz is remembered with the time read before
# asking; READY=1 must have been received after the last of them.
kill -USR2 "$MB_PID"
wait_log "$SB_WORK/mockbroker.log" 'brokers up: Success' 30
last503=0
for _ in $(seq 1 600); do
    t=$(now_us)
    code=$(readyz_code)
    [ "$code" = 200 ] && break
    last503=$t
    sleep 0.1
done
[ "$code" = 200 ] || fail "/readyz never answered 200 once the brokers were back"
[ "$last503" != 0 ] || fail "/readyz answered 200 at once: the test saw no late readiness"
ready_once() { [ "$(count READY 1)" -ge 1 ]; }
wait_for 30 "READY=1 after /readyz answered 200" ready_once
t_ready=$(field READY | awk '{ print $2; exit }')
[ "$t_ready" -gt "$last503" ] ||
    fail "READY=1 received at ${t_ready} µs, before /readyz answered 503 (at ${last503} µs)"
[ "$(count READY 1)" = 1 ] || fail "$(count READY 1) READY=1 for one start"
# Before READY=1 it waited for the group too (the first join takes seconds).
awk -v t="$t_ready" '$2 <= t && $0 ~ / STATUS=waiting for the group assignment \(group sb-it\)$/ { f = 1 }
    END { exit !f }' "$NOTIFY_LOG" || fail "no STATUS= waiting for the group assignment before READY=1"
running() { [[ $(last_status) =~ \ STATUS=running:\ [0-9]+\ consumed/s,\ lag\ [0-9]+$ ]]; }
wait_for 30 "STATUS= running: N consumed/s, lag N" running

# A good reload: MONOTONIC_USEC between the clock before and after, in the
# message of RELOADING=1, then READY=1; --reload exits 0.
set_key "$conf" general log_level notice
t0=$(now_us)
rc=0
RUNTIME_DIRECTORY=$run "$SB_BIN" --reload "$pid" > "$SB_WORK/reload.out" 2>&1 || rc=$?
t1=$(now_us)
[ "$rc" = 0 ] || fail "--reload of a good file exited $rc: $(cat "$SB_WORK/reload.out")"
grep -q '^sensorbridge: reload applied' "$SB_WORK/reload.out" ||
    fail "--reload printed: $(cat "$SB_WORK/reload.out")"
[ "$(count RELOADING 1)" = 1 ] || fail "$(count RELOADING 1) RELOADING=1 for one reload"
msg=$(field RELOADING | awk '{ print $1 }')
mono=$(awk -v m="$msg" '$1 == m && index($3, "MONOTONIC_USEC=") == 1 { print substr($3, 16) }' "$NOTIFY_LOG")
[ -n "$mono" ] || fail "no MONOTONIC_USEC= in the message of RELOADING=1"
[ "$mono" -ge "$t0" ] && [ "$mono" -le "$t1" ] ||
    fail "MONOTONIC_USEC=$mono is not within [$t0, $t1], the clock around the reload"
reload_ready() { [ "$(awk -v m="$msg" '$1 > m && $3 == "READY=1"' "$NOTIFY_LOG" | wc -l)" -ge "$1" ]; }
wait_for 10 "READY=1 after RELOADING=1" reload_ready 1
[ "$(cat "$run/reload-status")" = "1 applied" ] ||
    fail "reload-status after a good reload: '$(cat "$run/reload-status")'"

# A refused reload: --reload exits 1 naming file, line and key; READY=1
# still ends it; STATUS= keeps saying so until a reload is applied.
printf '[general]\nlog_level = loud\n' > "$conf"
rc=0
RUNTIME_DIRECTORY=$run "$SB_BIN" --reload "$pid" > "$SB_WORK/reload.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "--reload of a bad file exited $rc: $(cat "$SB_WORK/reload.out")"
grep -qF "sensorbridge: reload refused, the running configuration is kept: $conf:2: [general] log_level" \
    "$SB_WORK/reload.out" || fail "--reload of a bad file printed: $(cat "$SB_WORK/reload.out")"
[ "$(count RELOADING 1)" = 2 ] || fail "$(count RELOADING 1) RELOADING=1 for two reloads"
msg=$(field RELOADING | awk 'END { print $1 }')
wait_for 10 "READY=1 after the refused reload" reload_ready 1
refused_status() {
    [[ $(awk -v m="$msg" '$1 >= m' "$NOTIFY_LOG") == *"STATUS=reload refused, running configuration kept: $conf:2: [general] log_level"* ]]
}
wait_for 10 "STATUS= reload refused" refused_status
[ "$(scrape_url "$INST_URL" | metric sensorbridge_config_reload_failures_total)" = 1 ] ||
    fail "the refused reload is not counted"
# The refusal stays in front of the running line.
refused_running() {
    [[ $(last_status) =~ STATUS=reload\ refused,\ running\ configuration\ kept:\ .*\;\ running:\ [0-9]+\ consumed/s ]]
}
wait_for 10 "STATUS= running with the refusal in front" refused_running
cp "$SB_WORK/good.conf" "$conf"
RUNTIME_DIRECTORY=$run "$SB_BIN" --reload "$pid" > "$SB_WORK/reload.out" 2>&1 ||
    fail "--reload of the good file again failed: $(cat "$SB_WORK/reload.out")"
not_refused() { [[ $(last_status) != *"reload refused"* ]]; }
wait_for 10 "STATUS= to drop the refusal once a reload is applied" not_refused
# Without RUNTIME_DIRECTORY there is no outcome to wait for: no signal.
rc=0
env -u RUNTIME_DIRECTORY "$SB_BIN" --reload "$pid" > "$SB_WORK/reload.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'RUNTIME_DIRECTORY is not set' "$SB_WORK/reload.out" ||
    fail "--reload without RUNTIME_DIRECTORY exited $rc: $(cat "$SB_WORK/reload.out")"
[ "$(count RELOADING 1)" = 3 ] || fail "--reload without RUNTIME_DIRECTORY signalled the daemon"

# WATCHDOG_USEC=400000: a ping every 200 ms from the loop.
pings() { [ "$(count WATCHDOG 1)" -ge "$1" ]; }
wait_for 30 "10 WATCHDOG=1" pings 10
grep -q 'msg="systemd watchdog enabled" ping_interval_ms=200' "$SB_WORK/first.log" ||
    fail "the daemon did not log the watchdog's ping interval"

stop_pid "$pid" "the daemon"
[ "$(count STOPPING 1)" = 1 ] || fail "no STOPPING=1 on SIGTERM"
[[ $(last_status) == *" STATUS=stopping" ]] || fail "the last STATUS= is not 'stopping': $(last_status)"

# No WATCHDOG_USEC: no pings, the rest as before.
listen second
NOTIFY_SOCKET=$NOTIFY_SOCK start_instance "$SB_WORK/good.conf" "$SB_WORK/second.log"
wait_for 60 "READY=1 from the daemon without a watchdog" ready_once
wait_for 30 "STATUS= running (no watchdog)" running
[ "$(count WATCHDOG 1)" = 0 ] || fail "WATCHDOG=1 sent without WATCHDOG_USEC"
stop_pid "$INST_PID" "the daemon without a watchdog"
[ "$(count STOPPING 1)" = 1 ] || fail "no STOPPING=1 on SIGTERM (no watchdog)"
[ "$(count WATCHDOG 1)" = 0 ] || fail "WATCHDOG=1 sent without WATCHDOG_USEC"
! grep -q 'watchdog' "$SB_WORK/second.log" ||
    fail "the daemon without WATCHDOG_USEC logged a watchdog"
stop_mockbroker
echo "ok: READY=1 after the last 503 of /readyz, reloads, watchdog, STOPPING=1" >&2
