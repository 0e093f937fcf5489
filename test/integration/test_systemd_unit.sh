#!/bin/bash
# The systemd unit and the man pages, without systemd as PID 1:
#   - `systemd-analyze verify` is clean on the unit meson generates, here
#     with the build's binary as ExecStart= (SB_TEST_UNIT) and the build's
#     man pages on MANPATH for Documentation=man:...; it does check both on
#     this machine (a unit without its binary, and one without its man
#     pages, fail);
#   - `systemd-analyze security --offline=true` rates its exposure 2.0 or
#     lower (--threshold=20), with each hardening directive of the unit
#     counted as set, and docs/operations.md states the same score;
#   - ProcSubset=pid and ProtectProc=invisible leave the process metrics
#     working: test_procstats passes under a /proc mounted that way (a
#     user namespace, as systemd does it), where /proc/stat is hidden;
#   - the daemon (embedded broker) and --reload make only system calls the
#     unit's SystemCallFilter= allows (strace);
#   - both man pages are clean under `groff -man -ww -z`, and every key of
#     docs/configuration.md's key tables is a tag of sensorbridge.conf(5).
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

unit=${SB_TEST_UNIT:?SB_TEST_UNIT is not set}
man_dir=${SB_MAN_DIR:?SB_MAN_DIR is not set}
procstats=${SB_TEST_PROCSTATS:?SB_TEST_PROCSTATS is not set}
command -v systemd-analyze > /dev/null || fail "systemd-analyze is missing (Debian package systemd)"
command -v groff > /dev/null || fail "groff is missing (Debian package groff-base)"
command -v strace > /dev/null || fail "strace is missing (Debian package strace)"
grep -q "^ExecStart=$SB_BIN " "$unit" || fail "$unit does not start $SB_BIN"

# ---- systemd-analyze verify ----
mkdir -p "$SB_WORK/man/man5" "$SB_WORK/man/man8"
cp "$man_dir/sensorbridge.conf.5" "$SB_WORK/man/man5/"
cp "$man_dir/sensorbridge.8" "$SB_WORK/man/man8/"
# verify UNIT: systemd-analyze verify; its output in VERIFY_OUT, its status
# in VERIFY_RC.
verify() {
    VERIFY_RC=0
    MANPATH=$SB_WORK/man systemd-analyze verify "$1" > "$SB_WORK/verify.out" 2>&1 || VERIFY_RC=$?
    VERIFY_OUT=$(cat "$SB_WORK/verify.out")
}
verify "$unit"
[ "$VERIFY_RC" = 0 ] && [ -z "$VERIFY_OUT" ] ||
    fail "systemd-analyze verify $unit ($VERIFY_RC): $VERIFY_OUT"
mkdir -p "$SB_WORK/nobin"
sed "s|^ExecStart=$SB_BIN |ExecStart=$SB_WORK/no-such-binary |" "$unit" > "$SB_WORK/nobin/sensorbridge.service"
verify "$SB_WORK/nobin/sensorbridge.service"
[ "$VERIFY_RC" != 0 ] || fail "systemd-analyze verify accepted a unit whose ExecStart= does not exist"
rm "$SB_WORK/man/man8/sensorbridge.8"
verify "$unit"
[ "$VERIFY_RC" != 0 ] || fail "systemd-analyze verify accepted the unit without sensorbridge(8)"
cp "$man_dir/sensorbridge.8" "$SB_WORK/man/man8/"

# ---- systemd-analyze security ----
rc=0
sec=$(systemd-analyze security --offline=true --threshold=20 "$unit" 2>&1) || rc=$?
score=$(sed -n 's/^→ Overall exposure level for sensorbridge.service: \([0-9.]*\) .*/\1/p' <<< "$sec")
[ -n "$score" ] || fail "no exposure level from systemd-analyze security: $sec"
[ "$rc" = 0 ] || fail "exposure level $score is above 2.0 (status $rc)"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure level $score is above 2.0"
echo "systemd-analyze security: exposure level $score" >&2
for d in ProtectClock= ProtectKernelLogs= ProtectHostname= ProtectProc= ProcSubset= \
    'SystemCallFilter=~@privileged' 'SystemCallFilter=~@resources' 'CapabilityBoundingSet=~CAP_SYS_ADMIN' \
    AmbientCapabilities= UMask= RestrictRealtime= RestrictSUIDSGID= RemoveIPC= PrivateUsers= \
    PrivateMounts= NoNewPrivileges= MemoryDenyWriteExecute= 'RestrictNamespaces=~user'; do
    grep -qF "✓ $d " <<< "$sec" || fail "systemd-analyze security does not count $d as set"
done
grep -qF "systemd-analyze security --offline=true\` rates it **$score**" "$SB_SOURCE_ROOT/docs/operations.md" ||
    fail "docs/operations.md does not state the exposure level $score"

# ---- ProcSubset=pid, ProtectProc=invisible ----
rc=0
out=$(unshare --user --map-root-user --mount --pid --fork --mount-proc sh -c '
    mount -t proc -o subset=pid,hidepid=invisible proc /proc || exit 90
    [ ! -e /proc/stat ] || exit 91
    exec "$1"' sh "$procstats" 2>&1) || rc=$?
[ "$rc" != 90 ] || fail "cannot mount /proc with subset=pid here: $out"
[ "$rc" != 91 ] || fail "/proc/stat is still there with subset=pid: nothing tested"
[ "$rc" = 0 ] || fail "test_procstats fails with ProcSubset=pid ($rc): $out"

# ---- SystemCallFilter=@system-service ~@privileged @resources ----
# The system calls the daemon makes (start, readiness, a scrape, a reload
# through --reload, which runs as ExecReload= under the same filter, the
# sd_notify messages, the watchdog, the reload status file, the stop), as
# strace sees them: each must be in @system-service and none in @privileged
# or @resources, or the filter would fail it with EPERM. LeakSanitizer
# cannot run under ptrace, so an ASan build runs without it here.
# syscalls GROUP...: the system calls of systemd's groups, nested ones expanded.
syscalls() {
    local g s
    for g in "$@"; do
        while read -r s; do
            case $s in @*) syscalls "$s" ;; *) echo "$s" ;; esac
        done < <(systemd-analyze syscall-filter "$g" | awk 'NR > 1 && $1 !~ /^#/ && NF { print $1 }')
    done
}
syscalls @system-service | sort -u > "$SB_WORK/allowed"
syscalls @privileged @resources | sort -u > "$SB_WORK/denied"
grep -qx setrlimit "$SB_WORK/denied" && grep -qx epoll_wait "$SB_WORK/allowed" ||
    fail "systemd-analyze syscall-filter did not list the groups"
ds=$(make_dataset)
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds" 1
mkdir -p "$SB_WORK/run"
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
# -D: strace runs as a detached grandchild, so the started process is the
# daemon itself (signals, the exit status and cleanup reach it).
SB_WRAP=(strace -D -f -q -o "$SB_WORK/strace-daemon.txt")
NOTIFY_SOCKET=$SB_WORK/no-listener.sock WATCHDOG_USEC=200000 RUNTIME_DIRECTORY=$SB_WORK/run \
    start_daemon "$conf"
wait_for 60 "/readyz 200 under strace" curl -sf -o /dev/null "$SB_URL/readyz"
scrape > /dev/null
set_key "$conf" general log_level notice
RUNTIME_DIRECTORY=$SB_WORK/run strace -f -q -o "$SB_WORK/strace-reload.txt" \
    "$SB_BIN" --reload "$SB_PID" > "$SB_WORK/reload.out" 2>&1 ||
    fail "--reload under strace: $(cat "$SB_WORK/reload.out")"
daemon_pid=$SB_PID
stop_daemon
wait_log "$SB_WORK/strace-daemon.txt" "^$daemon_pid +\\+\\+\\+ exited with 0 \\+\\+\\+" 30
sed -n 's/^[0-9]\{1,\} \{1,\}\([a-z0-9_]\{1,\}\)(.*/\1/p; s/^[0-9]\{1,\} \{1,\}<\.\.\. \([a-z0-9_]\{1,\}\) resumed>.*/\1/p' \
    "$SB_WORK/strace-daemon.txt" "$SB_WORK/strace-reload.txt" | sort -u > "$SB_WORK/used"
for s in epoll_wait sendmsg rename kill; do
    grep -qx "$s" "$SB_WORK/used" || fail "strace saw no $s: the run did not cover what it should"
done
outside=$(comm -23 "$SB_WORK/used" "$SB_WORK/allowed" | tr '\n' ' ')
[ -z "$outside" ] || fail "system calls outside @system-service: $outside"
denied=$(comm -12 "$SB_WORK/used" "$SB_WORK/denied" | tr '\n' ' ')
[ -z "$denied" ] || fail "system calls in @privileged or @resources: $denied"
echo "system calls: $(wc -l < "$SB_WORK/used"), all in @system-service, none in ~@privileged @resources" >&2

# ---- man pages ----
for page in "$man_dir/sensorbridge.8" "$man_dir/sensorbridge.conf.5" "$man_dir/sensorbridge-train.1"; do
    out=$(groff -man -ww -z "$page" 2>&1) || fail "groff failed on $page: $out"
    [ -z "$out" ] || fail "groff warns on $(basename "$page"): $out"
done
# The key tables' first cells, as md2man.awk turns them into tags.
keys=$(awk '/^\| Key \| Default \| Values \| Reload \|/ { on = 1; next }
    on && /^\|---/ { next }
    on && /^\| `[^`]+` \|/ { split($0, c, "`"); print c[2]; next }
    { on = 0 }' "$SB_SOURCE_ROOT/docs/configuration.md")
[ "$(wc -l <<< "$keys")" -ge 40 ] || fail "read only $(wc -l <<< "$keys") keys from docs/configuration.md"
tags=$(awk 'prev == ".TP" { print } { prev = $0 }' "$man_dir/sensorbridge.conf.5")
while read -r key; do
    tag="\\fB${key//-/\\-}\\fR"
    grep -qxF "$tag" <<< "$tags" || fail "sensorbridge.conf(5) has no entry for $key"
done <<< "$keys"
echo "ok: verify clean, exposure $score, procstats with ProcSubset=pid, man pages ($(wc -l <<< "$keys") keys)" >&2
