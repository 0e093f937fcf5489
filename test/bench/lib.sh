# lib.sh - what the benchmark scripts of test/bench share; sourced, not run.
#
# The caller sets WORK (its work directory), RESULTS (file to append a dated
# record to, or "none"), MODE (the record's heading), ROOT (the source tree)
# and defines die MESSAGE. start_daemon sets SB_PID, SB_PORT and SB_URL and
# writes the daemon's stderr, each line stamped with the wall clock, to
# $WORK/sb.log; stop_daemon sets STOP_S and EXIT_RC.

CLK_TCK=$(getconf CLK_TCK)

now() { echo "$EPOCHREALTIME"; }
# f A OP B -> floating-point arithmetic with awk, printed with %.6g unless FMT given
calc() { awk "BEGIN { printf \"${2:-%.6g}\", $1 }"; }
# CPU seconds (user + system, all threads) of a live process.
cpu_of() { awk -v t="$CLK_TCK" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"; }
kb_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# CPU seconds by thread of PID, summed over threads of the same name
# (librdkafka names its threads rdk:main, rdk:brokerN, rdk:mock; the loop
# thread keeps the process name), one "name xCOUNT seconds" line each.
threads_cpu() {
    local f
    for f in /proc/"$1"/task/*/stat; do
        awk -v t="$CLK_TCK" '{ n = $0; sub(/^[^(]*\(/, "", n); sub(/\).*/, "", n); r = $0; sub(/.*\) /, "", r)
            split(r, a, " "); print n, (a[12] + a[13]) / t }' "$f" 2>/dev/null || true
    done | awk '{ gsub(/[0-9]+$/, "#", $1); c[$1] += $2; k[$1]++ } END { for (n in c) printf "%s x%d %.2f\n", n, k[n], c[n] }' \
        | sort -k3 -rn
}
threads_line() { awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1 ($2 == "x1" ? "" : " " $2), $3 }' "$1"; }

# Start the daemon with every stderr line stamped with the wall clock, so
# "replay started" has a time without the daemon printing one.
start_daemon() {
    "$SB_BIN" --config "$1" 2> >(while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done > "$WORK/sb.log") &
    SB_PID=$!
    SB_PORT=
    for _ in $(seq 1 300); do
        SB_PORT=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' "$WORK/sb.log" 2>/dev/null | head -n 1) || true
        [ -n "$SB_PORT" ] && break
        kill -0 "$SB_PID" 2>/dev/null || die "daemon exited during start-up"
        sleep 0.1
    done
    [ -n "$SB_PORT" ] || die "daemon did not report its HTTP port within 30 s"
    SB_URL=http://127.0.0.1:$SB_PORT
}

scrape() { curl -sf --max-time 5 "$SB_URL/metrics"; }
metric() { awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print "" }'; }
# Sum of every series of a family (NAME{...} and NAME).
family_sum() { awk -v k="$1" 'index($1, k "{") == 1 || $1 == k { s += $2; n++ } END { printf "%.0f\n", n ? s : -1 }'; }

stop_daemon() {
    local t0 rc=0
    t0=$(now)
    kill -TERM "$SB_PID"
    for _ in $(seq 1 300); do
        kill -0 "$SB_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SB_PID" 2>/dev/null; then
        die "daemon still running 30 s after SIGTERM"
    fi
    wait "$SB_PID" || rc=$?
    SB_PID=
    STOP_S=$(calc "$(now) - $t0" %.2f)
    EXIT_RC=$rc
}

# Upper bound (ms) of the latency histogram bucket holding quantile Q of the
# scrape FILE (buckets are coarse: ... 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 s;
# interpolating inside them would invent digits).
lq() {
    awk -v q="$1" 'index($1, "sensorbridge_end_to_end_latency_seconds_count") == 1 { n = $2 }
        index($1, "sensorbridge_end_to_end_latency_seconds_bucket{") == 1 { le = $1; sub(/.*le="/, "", le)
            sub(/".*/, "", le); b[++nb] = le; c[nb] = $2 }
        END { for (i = 1; i <= nb; i++) if (c[i] >= q * n) { print (b[i] == "+Inf" ? "+Inf" : b[i] * 1000); exit }
              print "?" }' "$2"
}

machine() {
    printf 'machine: %s cores, %s, kernel %s, load average at start %s\n' "$(nproc)" \
        "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(uname -r)" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
}

record() {
    [ "$RESULTS" = none ] && return 0
    mkdir -p "$(dirname "$RESULTS")"
    {
        printf '## %s %s %s git=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$MODE" "$*" \
            "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
        machine
        cat "$WORK/table.txt"
        echo
    } >> "$RESULTS"
    echo "(appended to $RESULTS)"
}
