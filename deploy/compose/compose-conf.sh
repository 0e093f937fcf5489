#!/bin/sh
# compose-conf.sh < sensorbridge.conf > compose.conf: the shipped
# configuration adapted for deploy/compose: the three compose brokers
# instead of the embedded one; topics on all three, two of them in sync for
# a write (with the producer's default acks = all, an acknowledged sample
# survives the loss of a broker: docs/operations.md, Scaling out); /metrics
# on every interface of the container, so Prometheus reaches it from its
# own. The Dockerfile runs it on the installed configuration; test_compose
# on conf/sensorbridge.conf. Fails, naming the key, if a line to replace is
# missing.
set -eu
awk '
    BEGIN {
        want["kafka", "brokers"] = "kafka1:9092,kafka2:9092,kafka3:9092"
        want["kafka", "replication_factor"] = "3"
        want["http", "listen"] = "0.0.0.0:9550"
        after["kafka", "replication_factor"] = "topic.min.insync.replicas = 2"
    }
    /^\[/ { sec = substr($0, 2, index($0, "]") - 2) }
    {
        key = $0
        sub(/[ \t]*[=:].*/, "", key)
        if ((sec, key) in want && !((sec, key) in done)) {
            print key " = " want[sec, key]
            if ((sec, key) in after)
                print after[sec, key]
            done[sec, key] = 1
            next
        }
        print
    }
    END {
        bad = 0
        for (k in want) if (!(k in done)) {
            split(k, p, SUBSEP)
            printf "compose-conf.sh: no \"%s = \" line in [%s] to replace\n", p[2], p[1] > "/dev/stderr"
            bad = 1
        }
        exit bad
    }'
