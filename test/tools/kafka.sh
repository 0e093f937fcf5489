#!/bin/bash
# kafka.sh - a real Apache Kafka (KRaft, one pinned version) on loopback
# ports, owned by a directory: for the test suite, and for trying
# sensorbridge against a real broker by hand.
#
#   kafka.sh fetch
#       Makes sure Apache Kafka $KAFKA_VERSION is in the cache and prints its
#       lib directory (the broker's classpath). The cache is
#         ${SB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sensorbridge}/kafka-4.4.0/
#           pom.xml     org.apache.kafka:kafka_2.13 and log4j-slf4j-impl (the
#                       broker logs through slf4j 1.7; this binds it to log4j2)
#           lib/        their runtime dependencies, ~45 MB
#           .complete   written last: the cache is reused only when it exists
#           cds/        a class-data archive per Java build (see below)
#       Maven fetches it from Maven Central (~/.m2 and its settings.xml
#       apply) into a temporary directory that is then renamed into place,
#       under flock, so concurrent callers wait for one download (3-11 s).
#       Needs mvn (only to download) and Java 17 or later.
#
#   kafka.sh start DIR [-n 1|3] [-o key=value]...
#       Starts 1 (default) or 3 nodes, each one JVM running a combined KRaft
#       broker and controller (a static quorum of every node), on free
#       127.0.0.1 ports; fetches first if needed. Each -o line is appended to
#       every node's server.properties (the last of a key wins). Once every
#       broker is in kcat's metadata (from then on topics can be created:
#       the test kafka_harness does so right away) it prints the bootstrap
#       list on stdout and exits 0; the nodes keep running.
#         DIR/nodeK/server.properties  node K's configuration
#         DIR/nodeK/server.log         its log (log4j2, INFO; format.log beside)
#         DIR/nodeK/data               its log.dirs
#         DIR/pids                     one PID a line, node 1 first
#         DIR/version                  the Kafka version, 4.4.0
#         DIR/bootstrap                127.0.0.1:PORT[,...]; renamed into place
#                                      only once the cluster is ready
#       If a node exits or the cluster is not ready within
#       KAFKA_START_TIMEOUT seconds (default 120), it stops what it started,
#       prints the end of every node's log on stderr and exits 1. A port lost
#       to a race (a bind error in a node's log) is retried twice with new
#       ports.
#
#   kafka.sh kill-node DIR K
#       SIGKILL to node K of the cluster in DIR (a crash: no clean shutdown,
#       the log is recovered at the next start) and waits until it is gone.
#       Its line in DIR/pids stays; stop skips it.
#
#   kafka.sh start-node DIR K
#       Starts node K of the cluster in DIR again, with its configuration,
#       data and ports, and the JVM options start would use now; replaces
#       its PID in DIR/pids and exits 0 once every node of DIR is in kcat's
#       metadata again (within KAFKA_START_TIMEOUT seconds, else 1 with the
#       end of the node's log). Node K must not be running.
#
#   kafka.sh stop DIR
#       SIGTERM to every PID in DIR/pids that is a kafka.Kafka JVM of DIR
#       (/proc/PID/cmdline must name DIR/nodeK/server.properties; any other
#       PID is left alone), up to 30 s each to exit, then SIGKILL. Removes
#       DIR/pids. Nothing to stop is not an error.
#
# The cluster: 1 node gives the internal topics (__consumer_offsets,
# transaction and share-group state) replication factor 1 and min ISR 1;
# 3 nodes give them offsets.topic.replication.factor=3,
# transaction.state.log.replication.factor=3 and
# transaction.state.log.min.isr=2 (share-group state likewise).
# min.insync.replicas, default.replication.factor and num.partitions stay
# at the broker defaults (1) unless -o sets them. Always
# auto.create.topics.enable=false (creating topics is the daemon's job),
# group.initial.rebalance.delay.ms=0 and log.retention.ms=-1: the tests
# replay with event times in 2025, and time-based retention counts from a
# message's timestamp, so the default 7 days would delete their data at the
# broker's first retention check (30 s after start).
#
# JVM options, from the environment as in Apache's kafka-run-class.sh:
#   KAFKA_HEAP_OPTS             default -Xms256m -Xmx512m
#   KAFKA_JVM_PERFORMANCE_OPTS  default -XX:+UseSerialGC -XX:TieredStopAtLevel=1
#                               -Djava.awt.headless=true
#   KAFKA_OPTS                  appended last (so it wins), default empty
# The defaults are for start-up on a 2-core CI machine, not for
# throughput: with TieredStopAtLevel=1 (C1 JIT only) no C2 compiler
# threads compete for the two cores while three brokers start, and the
# serial collector needs no GC threads for a 512 MB heap. That matters
# for 3 nodes, little for 1 (see the figures below). Both lower the
# broker's peak throughput, so a benchmark of sensorbridge against this
# broker must say so, or run it with Apache's defaults:
#   KAFKA_JVM_PERFORMANCE_OPTS='-XX:+UseG1GC -XX:MaxGCPauseMillis=20
#     -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
#     -Djava.awt.headless=true'
# and a bigger KAFKA_HEAP_OPTS. The third measure only affects start-up
# and is kept in every case: AppCDS. fetch records the classes a broker
# loads (it runs one node once with -XX:ArchiveClassesAtExit, ~10 s) into
# cds/<java build>.jsa, and every JVM here maps it with
# -XX:SharedArchiveFile instead of loading and verifying those classes from
# the jars (-Xshare:off in KAFKA_OPTS turns it off). A new Java build gets
# its own archive; if one cannot be made, cds/<java build>.failed records
# that and the brokers start without it.
#
# Measured on the development machine (Debian 12, 2 cores, OpenJDK 17.0.15,
# warm cache; other people's builds and tests ran beside it, hence the
# spread), from `kafka.sh start` to the bootstrap list on stdout:
#   1 node:   3.0-3.3 s on a quiet machine, 4-6 s on a busy one
#             (storage 0.7-0.9 s, then 2.3 s from JVM start to metadata)
#   3 nodes:  6.2-7.8 s quiet, 9-11.5 s busy (storage 2.0-2.5 s)
# Interleaved on the busy machine, with the class-data archive in both
# cases, Apache's G1/C2 options took 9-18 s for 3 nodes where these took
# 7.6-11.4 s (1 node: about the same); without the archive the defaults
# take about 1 s more per node (1 node 4.0 s quiet, 3 nodes 8.3-11.2 s).
# The first fetch on a new cache adds 3-11 s of download and about 10 s to
# record the archive. `stop` takes 0.3-0.6 s for 1 node and 5.5-6 s for 3:
# all are signalled at once, and the last KRaft leader waits out its 5 s
# graceful-resignation timeout because no voter is left to take over.
set -euo pipefail
shopt -s inherit_errexit

KAFKA_VERSION=4.4.0
SCALA_VERSION=2.13
LOG4J_VERSION=2.24.3
DEFAULT_HEAP_OPTS="-Xms256m -Xmx512m"
DEFAULT_PERF_OPTS="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true"

die() {
    echo "kafka.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: kafka.sh fetch | start DIR [-n 1|3] [-o key=value]... | kill-node DIR K |" \
        "start-node DIR K | stop DIR" >&2
    exit 2
}

now() {
    date +%s.%N
}

# since T: seconds from T (a now) until now, one decimal.
since() {
    awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

cache_dir() {
    echo "${SB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sensorbridge}/kafka-$KAFKA_VERSION"
}

# need_java: Java 17 or later; sets java_build (names the CDS archive).
java_build=
need_java() {
    command -v java > /dev/null ||
        die "java not found: Kafka $KAFKA_VERSION needs Java 17 or later (Debian: apt-get install default-jre-headless)"
    local props spec
    props=$(java -XshowSettings:properties -version 2>&1 || true)
    spec=$(sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' <<< "$props")
    [ -n "$spec" ] && [ "$spec" -ge 17 ] ||
        die "java is version ${spec:-unknown} ($(command -v java)); Kafka $KAFKA_VERSION needs 17 or later"
    java_build=$(sed -n 's/^ *java\.vm\.version = //p' <<< "$props" | tr -c 'A-Za-z0-9._+\n-' _)
    java_build=${java_build:-unknown}
}

write_pom() {
    cat > "$1" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by test/tools/kafka.sh: the runtime classpath of an Apache Kafka broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.sensorbridge</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
}

# fetch_lib: the jars into the cache. The lock lives in a subshell, so no
# broker started later inherits its descriptor.
fetch_lib() {
    local dest
    dest=$(cache_dir)
    [ ! -f "$dest/.complete" ] || return 0
    command -v mvn > /dev/null ||
        die "mvn not found: it fetches Kafka $KAFKA_VERSION from Maven Central (Debian: apt-get install maven)"
    mkdir -p "$(dirname "$dest")"
    (
        flock -w 900 9 || die "waited 900 s for another kafka.sh fetch (lock $dest.lock)"
        [ -f "$dest/.complete" ] && exit 0
        tmp=$(mktemp -d "$dest.tmp.XXXXXX")
        trap 'rm -rf "$tmp"' EXIT
        write_pom "$tmp/pom.xml"
        echo "kafka.sh: fetching Apache Kafka $KAFKA_VERSION with Maven into $dest" >&2
        if ! (cd "$tmp" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
            -DoutputDirectory="$tmp/lib") > "$tmp/mvn.log" 2>&1; then
            cat "$tmp/mvn.log" >&2
            die "mvn could not fetch org.apache.kafka:kafka_$SCALA_VERSION:$KAFKA_VERSION (see above)"
        fi
        rm -f "$tmp/mvn.log"
        [ -f "$tmp/lib/kafka_$SCALA_VERSION-$KAFKA_VERSION.jar" ] ||
            die "mvn left no kafka_$SCALA_VERSION-$KAFKA_VERSION.jar in $tmp/lib"
        chmod 755 "$tmp"
        echo "kafka_$SCALA_VERSION $KAFKA_VERSION, log4j-slf4j-impl $LOG4J_VERSION, $(ls "$tmp/lib" | wc -l) jars" \
            > "$tmp/.complete"
        rm -rf "$dest"
        mv "$tmp" "$dest"
        trap - EXIT
    ) 9> "$dest.lock"
}

cds_archive() {
    echo "$(cache_dir)/cds/$java_build.jsa"
}

# build_cds: the class-data archive for this Java build, from one node
# started and stopped cleanly (the JVM writes it as it exits). Failing
# here only costs start-up time, so it warns and records the failure.
build_cds() {
    local jsa
    jsa=$(cds_archive)
    [ ! -f "$jsa" ] && [ ! -f "${jsa%.jsa}.failed" ] || return 0
    if ! command -v kcat > /dev/null || ! command -v ss > /dev/null; then
        echo "kafka.sh: no kcat or ss: not building the class-data archive" >&2
        return 0
    fi
    mkdir -p "$(dirname "$jsa")"
    (
        flock -w 300 8 || die "waited 300 s for another kafka.sh building $jsa"
        [ ! -f "$jsa" ] && [ ! -f "${jsa%.jsa}.failed" ] || exit 0
        tmp=$(mktemp -d "${jsa%.jsa}.tmp.XXXXXX")
        trap 'stop_dir "$tmp/c" || true; rm -rf "$tmp"' EXIT
        echo "kafka.sh: recording a class-data archive for Java $java_build (once)" >&2
        rc=0
        # With the default JVM options: the caller's are for their own run.
        (
            unset KAFKA_HEAP_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_OPTS
            start_cluster "$tmp/c" 1 "-XX:ArchiveClassesAtExit=$tmp/kafka.jsa"
        ) > /dev/null 2> "$tmp/build.log" || rc=$?
        [ $rc != 0 ] || stop_dir "$tmp/c" 2> /dev/null || rc=$?
        if [ $rc = 0 ] && [ -s "$tmp/kafka.jsa" ] &&
            java -Xshare:on -XX:SharedArchiveFile="$tmp/kafka.jsa" -cp "$(cache_dir)/lib/*" \
                -version > /dev/null 2>&1; then
            mv "$tmp/kafka.jsa" "$jsa"
        else
            {
                cat "$tmp/build.log"
                echo "---- node1/server.log ----"
                cat "$tmp/c/node1/server.log" 2> /dev/null || true
            } > "${jsa%.jsa}.failed"
            echo "kafka.sh: could not record a class-data archive; brokers start without it" \
                "(why: ${jsa%.jsa}.failed; delete it to try again)" >&2
        fi
    ) 8> "${jsa%.jsa}.lock"
}

cmd_fetch() {
    need_java
    fetch_lib
    build_cds
    echo "$(cache_dir)/lib"
}

# A Kafka Uuid (16 random bytes, URL-safe base64 without padding) as
# StorageTool random-uuid makes it, without starting a JVM for it; like
# Uuid.randomUuid it does not start with '-'.
new_cluster_id() {
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
        [ "${id:0:1}" != - ] && [ ${#id} -eq 22 ] && break
    done
    echo "$id"
}

# free_ports N: N distinct loopback ports nobody listens on, below the
# ephemeral range when there is room (outgoing connections take those).
free_ports() {
    local n=$1 lo=20000 hi=59999 eph p tries=0 got=()
    eph=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2> /dev/null || echo 0)
    [ "$eph" -gt $((lo + 2000)) ] && hi=$((eph - 1))
    while [ ${#got[@]} -lt "$n" ]; do
        tries=$((tries + 1))
        [ $tries -le 1000 ] || die "no free loopback ports found"
        p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
        [[ " ${got[*]} " == *" $p "* ]] && continue
        [ -z "$(ss -Htln "sport = :$p" 2> /dev/null)" ] || continue
        got+=("$p")
    done
    echo "${got[@]}"
}

# is_ours PID DIR: PID is a kafka.Kafka JVM of a node of DIR.
is_ours() {
    local cmd
    [ -r "/proc/$1/cmdline" ] || return 1
    cmd=$(tr '\0' ' ' 2> /dev/null < "/proc/$1/cmdline") || return 1
    [[ $cmd == *" kafka.Kafka $2/node"* ]]
}

# reaped PID: PID has exited and closed its files (it is gone or a zombie;
# an exiting process's cmdline reads empty a moment before that).
reaped() {
    [ ! -e "/proc/$1" ] && return 0
    grep -q "^State:[[:space:]]*Z" "/proc/$1/status" 2> /dev/null && return 0
    [ ! -e "/proc/$1" ]
}

# alive PID: a child of this shell that has not exited (children cannot
# be reused PIDs until this shell reaps them).
alive() {
    kill -0 "$1" 2> /dev/null && ! reaped "$1"
}

# wait_gone PID DIR TENTHS: until PID is no longer a JVM of DIR and has
# exited; 1 if it still is after TENTHS tenths of a second.
wait_gone() {
    local i j
    for i in $(seq 1 "$3"); do
        if ! is_ours "$1" "$2"; then
            for j in $(seq 1 20); do
                reaped "$1" && break
                sleep 0.05
            done
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# stop_dir DIR: 0 when every node stopped on SIGTERM, 3 when one needed
# SIGKILL.
stop_dir() {
    local dir=$1 pids=() ours=() p t0 rc=0
    t0=$(now)
    [ -f "$dir/pids" ] || return 0
    mapfile -t pids < "$dir/pids"
    for p in "${pids[@]}"; do
        [[ $p =~ ^[0-9]+$ ]] || continue
        if is_ours "$p" "$dir"; then
            kill -TERM "$p" 2> /dev/null || true
            ours+=("$p")
        fi
    done
    for p in "${ours[@]}"; do
        wait_gone "$p" "$dir" 300 && continue
        echo "kafka.sh: PID $p still running 30 s after SIGTERM: SIGKILL" >&2
        kill -KILL "$p" 2> /dev/null || true
        rc=3
        wait_gone "$p" "$dir" 50 || die "PID $p survived SIGKILL"
    done
    rm -f "$dir/pids"
    [ ${#ours[@]} -eq 0 ] || echo "kafka.sh: stopped ${#ours[@]} node(s) of $dir in $(since "$t0") s" >&2
    return $rc
}

# node_dir DIR K: DIR's absolute path, once DIR holds a cluster with a node K.
node_dir() {
    [ -f "$1/pids" ] && [ -f "$1/node$2/server.properties" ] || die "no node $2 of a cluster in $1"
    cd "$1" && pwd -P
}

cmd_kill_node() {
    [ $# -eq 2 ] || usage
    local dir k=$2 p
    dir=$(node_dir "$1" "$2")
    p=$(sed -n "${k}p" "$dir/pids")
    is_ours "$p" "$dir" || die "node $k of $dir (PID $p) is not running"
    kill -KILL "$p"
    wait_gone "$p" "$dir" 100 || die "node $k (PID $p) survived SIGKILL"
    echo "kafka.sh: killed node $k of $dir (PID $p)" >&2
}

cmd_start_node() {
    [ $# -eq 2 ] || usage
    local dir k=$2 p t0 cds=() rc=0
    dir=$(node_dir "$1" "$2")
    p=$(sed -n "${k}p" "$dir/pids")
    ! is_ours "$p" "$dir" || die "node $k of $dir is running (PID $p)"
    need_java
    [ ! -f "$(cds_archive)" ] || cds=(-XX:SharedArchiveFile="$(cds_archive)")
    t0=$(now)
    start_node "$dir" "$k" "$(cache_dir)/lib" "${cds[@]}"
    sed -i "${k}s/.*/$node_pid/" "$dir/pids"
    bootstrap=$(cat "$dir/bootstrap")
    wait_ready "$dir" "$(wc -l < "$dir/pids")" || rc=$?
    if [ $rc != 0 ]; then
        show_logs "$dir"
        die "node $k of $dir did not come back"
    fi
    echo "kafka.sh: node $k of $dir is back (PID $node_pid) in $(since "$t0") s" >&2
}

cmd_stop() {
    [ $# -eq 1 ] || usage
    [ -d "$1" ] || return 0
    stop_dir "$(cd "$1" && pwd -P)" || [ $? = 3 ]
}

show_logs() {
    local f
    for f in "$1"/node*/server.log; do
        [ -f "$f" ] || continue
        echo "---- last lines of ${f#"$1"/} ----" >&2
        tail -n 30 "$f" >&2
    done
}

# write_node_config FILE ID NODES VOTERS: node ID's server.properties from
# port_p, port_c and overrides.
write_node_config() {
    local f=$1 id=$2 nodes=$3 voters=$4 o rf=1 isr=1
    [ "$nodes" -eq 1 ] || { rf=3; isr=2; }
    cat > "$f" <<PROPS
# Written by test/tools/kafka.sh: node $id of $nodes.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${port_p[$id]},CONTROLLER://127.0.0.1:${port_c[$id]}
advertised.listeners=PLAINTEXT://127.0.0.1:${port_p[$id]}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$(dirname "$f")/data
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.ms=-1
PROPS
    [ ${#overrides[@]} -eq 0 ] || printf '%s\n' "# -o" "${overrides[@]}" >> "$f"
}

# Set while start_cluster runs, for abort.
start_dir=

abort() {
    trap - INT TERM HUP
    local p
    # Our children, JVMs or not yet: safe to signal by PID.
    for p in $(jobs -p); do kill -TERM "$p" 2> /dev/null || true; done
    [ -z "$start_dir" ] || stop_dir "$start_dir" || true
    exit 1
}

# launch DIR NODES LIB JVMOPT...: configures, formats and starts every
# node; sets bootstrap. 0 when all were started (not yet ready).
launch() {
    local dir=$1 nodes=$2 lib=$3 k ports voters= cid fmt_pids=() rc=0
    shift 3
    read -r -a ports <<< "$(free_ports $((2 * nodes)))"
    [ ${#ports[@]} -eq $((2 * nodes)) ] || return 1
    port_p=()
    port_c=()
    bootstrap=
    for k in $(seq 1 "$nodes"); do
        port_p[$k]=${ports[$((2 * k - 2))]}
        port_c[$k]=${ports[$((2 * k - 1))]}
        voters+=${voters:+,}$k@127.0.0.1:${port_c[$k]}
        bootstrap+=${bootstrap:+,}127.0.0.1:${port_p[$k]}
    done
    rm -rf "$dir"/node*
    t_launch=$(now)
    cid=$(new_cluster_id)
    for k in $(seq 1 "$nodes"); do
        mkdir -p "$dir/node$k"
        write_node_config "$dir/node$k/server.properties" "$k" "$nodes" "$voters"
        java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${cds[@]}" -cp "$lib/*" \
            -Dlog4j2.configurationFile="$dir/log4j2.properties" \
            kafka.tools.StorageTool format -t "$cid" -c "$dir/node$k/server.properties" \
            < /dev/null > "$dir/node$k/format.log" 2>&1 &
        fmt_pids+=($!)
    done
    for k in $(seq 1 "$nodes"); do
        if ! wait "${fmt_pids[$((k - 1))]}"; then
            echo "kafka.sh: formatting the storage of node $k failed:" >&2
            tail -n 20 "$dir/node$k/format.log" >&2
            rc=1
        fi
    done
    [ $rc = 0 ] || return 1
    t_storage=$(since "$t_launch")
    : > "$dir/pids"
    t_jvm=$(now)
    for k in $(seq 1 "$nodes"); do
        start_node "$dir" "$k" "$lib" "$@"
        echo "$node_pid" >> "$dir/pids"
    done
}

# start_node DIR K LIB JVMOPT...: starts the JVM of node K (appending to its
# log); sets node_pid once /proc shows it as a node of DIR.
start_node() {
    local dir=$1 k=$2 lib=$3 heap perf extra i
    shift 3
    read -r -a heap <<< "${KAFKA_HEAP_OPTS:-$DEFAULT_HEAP_OPTS}"
    read -r -a perf <<< "${KAFKA_JVM_PERFORMANCE_OPTS:-$DEFAULT_PERF_OPTS}"
    read -r -a extra <<< "${KAFKA_OPTS:-}"
    java "${heap[@]}" "${perf[@]}" "$@" "${extra[@]}" \
        -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$lib/*" \
        kafka.Kafka "$dir/node$k/server.properties" < /dev/null >> "$dir/node$k/server.log" 2>&1 &
    node_pid=$!
    # Until the background shell has exec'd java, /proc/PID/cmdline is
    # this script's and stop would not recognise the PID.
    for i in $(seq 1 200); do
        is_ours "$node_pid" "$dir" || ! alive "$node_pid" && break
        sleep 0.01
    done
}

# wait_ready DIR NODES: 0 ready, 1 lost a port race (retry), 2 failed.
wait_ready() {
    local dir=$1 nodes=$2 timeout=${KAFKA_START_TIMEOUT:-120} deadline p k
    deadline=$((SECONDS + timeout))
    while [ $SECONDS -lt $deadline ]; do
        k=0
        while read -r p; do
            k=$((k + 1))
            alive "$p" && continue
            if grep -qE 'Address already in use|[Ff]ailed to bind' "$dir/node$k/server.log"; then
                echo "kafka.sh: node $k lost a port to another process" >&2
                return 1
            fi
            echo "kafka.sh: node $k (PID $p) exited during start-up" >&2
            return 2
        done < "$dir/pids"
        # Every broker in the metadata: each registered with the
        # controller quorum and was unfenced, so the quorum has a leader
        # and topics can be created.
        kcat -L -b "$bootstrap" -m 2 2> /dev/null | grep -q "^ $nodes brokers:" && return 0
        sleep 0.2
    done
    echo "kafka.sh: $nodes node(s) not ready after $timeout s" >&2
    return 2
}

# start_cluster DIR NODES [JVMOPT...]: start's work after fetch; uses
# overrides. Prints the bootstrap list.
start_cluster() {
    local dir=$1 nodes=$2 lib attempt rc t0 p
    shift 2
    lib=$(cache_dir)/lib
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    if [ -f "$dir/pids" ]; then
        while read -r p; do
            is_ours "$p" "$dir" && die "a cluster is already running in $dir: kafka.sh stop $dir"
        done < "$dir/pids"
    fi
    cds=()
    [ ! -f "$(cds_archive)" ] || cds=(-XX:SharedArchiveFile="$(cds_archive)")
    t0=$(now)
    rm -f "$dir/bootstrap" "$dir/pids"
    echo "$KAFKA_VERSION" > "$dir/version"
    cat > "$dir/log4j2.properties" <<'LOG'
# Written by test/tools/kafka.sh: everything at INFO to stdout (server.log).
status = warn
# Logging stays on through the broker's own shutdown hook.
shutdownHook = disable
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.target = SYSTEM_OUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
LOG
    start_dir=$dir
    trap abort INT TERM HUP
    for attempt in 1 2 3; do
        rc=0
        if launch "$dir" "$nodes" "$lib" "${cds[@]}" "$@"; then
            wait_ready "$dir" "$nodes" || rc=$?
        else
            rc=2
        fi
        [ $rc != 0 ] || break
        if [ $rc = 1 ] && [ $attempt -lt 3 ]; then
            stop_dir "$dir" || true
            echo "kafka.sh: retrying with new ports" >&2
            continue
        fi
        show_logs "$dir"
        stop_dir "$dir" || true
        start_dir=
        die "could not start $nodes node(s) in $dir"
    done
    trap - INT TERM HUP
    start_dir=
    echo "$bootstrap" > "$dir/bootstrap.tmp"
    mv "$dir/bootstrap.tmp" "$dir/bootstrap"
    echo "kafka.sh: Kafka $KAFKA_VERSION, $nodes node(s) ready at $bootstrap in $(since "$t0") s" \
        "(storage $t_storage s, JVMs to metadata $(since "$t_jvm") s$([ ${#cds[@]} -gt 0 ] || echo ', no CDS'))" >&2
    echo "$bootstrap"
}

cmd_start() {
    [ $# -ge 1 ] || usage
    local dir=$1 nodes=1
    shift
    overrides=()
    while [ $# -gt 0 ]; do
        case $1 in
        -n)
            [ $# -ge 2 ] || usage
            nodes=$2
            shift 2
            ;;
        -o)
            [ $# -ge 2 ] || usage
            [[ $2 == [A-Za-z]*=* ]] || die "-o wants key=value, got '$2'"
            overrides+=("$2")
            shift 2
            ;;
        *) usage ;;
        esac
    done
    [ "$nodes" = 1 ] || [ "$nodes" = 3 ] || die "-n must be 1 or 3, got '$nodes'"
    command -v kcat > /dev/null || die "kcat not found: it checks the cluster (Debian: apt-get install kcat)"
    command -v ss > /dev/null || die "ss not found: it finds free ports (Debian: apt-get install iproute2)"
    cmd_fetch > /dev/null
    start_cluster "$dir" "$nodes"
}

overrides=()
case "${1:-}" in
fetch)
    [ $# -eq 1 ] || usage
    cmd_fetch
    ;;
start)
    shift
    cmd_start "$@"
    ;;
kill-node)
    shift
    cmd_kill_node "$@"
    ;;
start-node)
    shift
    cmd_start_node "$@"
    ;;
stop)
    shift
    cmd_stop "$@"
    ;;
*) usage ;;
esac
