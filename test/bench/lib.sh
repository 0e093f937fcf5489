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
# CPU seconds (user + system) of a live process, all threads; of one thread
# with PID/task/TID (the loop thread: PID/task/PID).
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
# CPU seconds of the embedded broker's rdk:mock thread of PID.
mock_cpu() { threads_cpu "$1" | awk '$1 == "rdk:mock" { s += $3 } END { print s + 0 }'; }
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

# ---------------------------------------------------------------- goals
# goal N LETTER WHAT FIGURE UNIT OP TARGET: the line test/bench/goals.sh
# collects, "GOAL <n><letter>: <what> = <figure> <unit> (goal <op>
# <target>) MET|NOT MET"; OP is <=, >= or =, TARGET a number in UNIT.
# A figure that could not be measured (empty, "?") is NOT MET.
goal() {
    local verdict
    verdict=$(awk -v f="$4" -v op="$6" -v t="$7" 'BEGIN {
        if (f !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) { print "NOT MET"; exit }
        ok = (op == "<=") ? (f + 0 <= t + 0) : (op == ">=") ? (f + 0 >= t + 0) : (f + 0 == t + 0)
        print ok ? "MET" : "NOT MET" }')
    printf 'GOAL %s%s: %s = %s %s (goal %s %s) %s\n' "$1" "$2" "$3" "${4:-?}" "$5" "$6" "$7" "$verdict"
}

# ---------------------------------------------------------------- histograms
# hist_delta BEFORE AFTER: the buckets of sensorbridge_end_to_end_latency_seconds
# observed between two scrapes (files), one "le count" line each, in the
# order of the exposition, cumulative as exposed, +Inf last.
hist_delta() {
    awk 'FNR == 1 { f++ }
        index($1, "sensorbridge_end_to_end_latency_seconds_bucket{") == 1 {
            le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
            if (f == 1) a[le] = $2; else { o[++n] = le; b[le] = $2 } }
        END { for (i = 1; i <= n; i++) print o[i], b[o[i]] - a[o[i]] }' "$1" "$2"
}
# hist_quantile Q: quantile Q of the "le count" lines on stdin (hist_delta)
# as PromQL's histogram_quantile estimates it: the bucket that holds rank
# Q x count, linear interpolation between its lower and upper bound (lower
# bound 0 for the first bucket); in the +Inf bucket, the largest finite
# bound. In the unit of le (seconds); "?" without observations.
hist_quantile() {
    awk -v q="$1" '{ le[NR] = $1; c[NR] = $2 } END {
        n = c[NR]; if (NR == 0 || n <= 0) { print "?"; exit }
        r = q * n
        for (i = 1; i <= NR; i++) if (c[i] >= r) break
        if (le[i] == "+Inf") { printf "%.6g\n", le[i - 1]; exit }
        lo = i > 1 ? le[i - 1] : 0; below = i > 1 ? c[i - 1] : 0
        printf "%.6g\n", lo + (le[i] - lo) * (r - below) / (c[i] - below) }'
}

# pctl Q: exact quantile Q (nearest rank: the ceil(Q x n)-th smallest) of
# the numbers on stdin, one a line; "?" if there are none.
pctl() {
    sort -g | awk -v q="$1" '{ v[NR] = $1 } END {
        if (NR == 0) { print "?"; exit }
        k = int(q * NR); if (k < q * NR) k++; if (k < 1) k = 1
        print v[k] }'
}

# slope_last_third FILE COL: least-squares slope of column COL against
# column 1 (elapsed seconds) over the samples of the last third of FILE's
# time span (lines starting with # are skipped), then the mean of COL over
# those samples and their count: "slope_per_s mean n".
slope_last_third() {
    awk -v col="$2" '!/^#/ && NF { x[++n] = $1; y[n] = $col } END {
        if (n < 2) { print "? ? " n; exit }
        from = x[1] + 2 * (x[n] - x[1]) / 3
        for (i = 1; i <= n; i++) if (x[i] >= from) { k++; sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i] }
        d = k * sxx - sx * sx
        if (k < 2 || d == 0) { print "? ? " k; exit }
        printf "%.6g %.6g %d\n", (k * sxy - sx * sy) / d, sy / k, k }' "$1"
}

# ---------------------------------------------------------------- real Kafka
# kafka_up: a real single-node Apache Kafka for the daemon and kcat. With
# SB_KAFKA_DIR, the cluster test/tools/kafka.sh already runs in that
# directory (left running); otherwise one started in $WORK/kafka and
# stopped by kafka_down. Sets KAFKA_DIR, KAFKA_BROKERS and KAFKA_PREFIX, a
# topic prefix (and group id stem) of this run only, so that runs on one
# cluster never read each other's topics.
KAFKA_OWN=
kafka_up() {
    if [ -n "${SB_KAFKA_DIR:-}" ]; then
        KAFKA_DIR=$SB_KAFKA_DIR
        KAFKA_BROKERS=$(cat "$KAFKA_DIR/bootstrap") || die "no running Kafka in $KAFKA_DIR"
    else
        KAFKA_DIR=$WORK/kafka
        KAFKA_OWN=1
        KAFKA_BROKERS=$("$ROOT/test/tools/kafka.sh" start "$KAFKA_DIR") ||
            die "test/tools/kafka.sh could not start Kafka"
    fi
    KAFKA_PREFIX=sbb-$(date +%s)-$$
    kafka_warm_groups
}
# kafka_warm_groups: one kcat group member reads one message, so that the
# cluster has its __consumer_offsets topic and group coordinator: a fresh
# cluster creates them at the first group join (~5 s here), a running one
# has them, and a benchmark should not count that once-only cost.
# The topic is outside KAFKA_PREFIX, which the daemon subscribes to.
kafka_warm_groups() {
    local t=sbw${KAFKA_PREFIX#sbb}
    kafka_create_topic "$t" 1
    echo warmup | kcat -P -b "$KAFKA_BROKERS" -t "$t" 2> "$WORK/warmup.err" ||
        die "kcat could not produce to $t: $(tail -n 3 "$WORK/warmup.err")"
    timeout 60 kcat -b "$KAFKA_BROKERS" -G "$t" -X auto.offset.reset=earliest -c 1 -q "$t" \
        > /dev/null 2>> "$WORK/warmup.err" ||
        die "a kcat group member read nothing from $t: $(tail -n 3 "$WORK/warmup.err")"
}
kafka_down() {
    [ -n "$KAFKA_OWN" ] || return 0
    KAFKA_OWN=
    "$ROOT/test/tools/kafka.sh" stop "$KAFKA_DIR" >&2 || true
}
# The JVM options the broker runs with (kafka.sh's defaults unless set).
kafka_jvm() {
    echo "${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1}"
}
# CPU seconds of the broker JVMs (the PIDs in $KAFKA_DIR/pids), and their RSS in kB.
jvm_cpu() {
    local p s=0
    for p in $(cat "$KAFKA_DIR/pids" 2>/dev/null); do
        [ -r "/proc/$p/stat" ] && s=$(calc "$s + $(cpu_of "$p")")
    done
    echo "$s"
}
jvm_rss_kb() {
    local p s=0
    for p in $(cat "$KAFKA_DIR/pids" 2>/dev/null); do
        [ -r "/proc/$p/status" ] && s=$((s + $(kb_of "$p" VmRSS)))
    done
    echo "$s"
}
# kafka_create_topic NAME PARTITIONS: with the broker's own Admin client
# (kafka-clients from the harness's cache; kcat cannot create topics and
# the broker does not auto-create them), replication factor 1.
kafka_create_topic() {
    local lib
    lib=$("$ROOT/test/tools/kafka.sh" fetch) || die "kafka.sh fetch failed"
    cat > "$WORK/CreateTopic.java" <<'JAVA'
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

public class CreateTopic {
    public static void main(String[] a) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", a[0]);
        try (Admin admin = Admin.create(p)) {
            admin.createTopics(List.of(new NewTopic(a[1], Integer.parseInt(a[2]), (short) 1))).all().get();
        }
    }
}
JAVA
    java -cp "$lib/*" "$WORK/CreateTopic.java" "$KAFKA_BROKERS" "$1" "$2" > "$WORK/create-topic.log" 2>&1 ||
        die "creating topic $1 failed: $(tail -n 5 "$WORK/create-topic.log")"
}

# dataset_cycles DIR: the cycles (lines) of the UCI files the replay reads,
# the 8 original 1 Hz files and the 9 stand-ins; fails unless all agree.
dataset_cycles() {
    local n
    n=$(for f in CE CP SE TS1 TS2 TS3 TS4 VS1; do wc -l < "$1/$f.txt"; done
        for f in PS1 PS2 PS3 PS4 PS5 PS6 EPS1 FS1 FS2; do wc -l < "$1/standin/${f}_1hz.txt"; done) || return 1
    [ "$(sort -u <<< "$n" | wc -l)" = 1 ] || { echo "dataset_cycles: files of $1 differ in length: $(echo $n)" >&2; return 1; }
    head -n 1 <<< "$n"
}
