#!/bin/bash
# A real Prometheus scrapes the daemon every second while it replays two
# cycles; its query API must return the exact consumed counts, and the
# counters as they grew.
# Embedded broker only: it is about Prometheus scraping the daemon, which
# does not depend on the broker.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

# The daemon starts idle (replay off), so Prometheus can be pointed at its
# port first; a SIGHUP then starts the replay at 30 times real time (two
# cycles in 4 s), which Prometheus scrapes while it runs.
ds=$(make_dataset)
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds" 30
set_key "$conf" replay enabled false
start_daemon "$conf"

job=sensorbridge-it
start_prometheus_job "$job" "127.0.0.1:$SB_PORT"

total=$(samples_in_cycles 2)
wait_query "up{job=\"$job\"}" 1 60
wait_query "sensorbridge_consumer_messages_total{job=\"$job\"}" 0 60
set_key "$conf" replay enabled true
kill -HUP "$SB_PID"
wait_metric sensorbridge_config_reloads_total 1 30
wait_query "sensorbridge_sensor_samples_consumed_total{job=\"$job\",sensor=\"TS1\"}" 120 120
wait_query "sensorbridge_sensor_samples_consumed_total{job=\"$job\",sensor=\"PS2\"}" 12000 60
wait_query "sum(sensorbridge_sensor_samples_consumed_total{job=\"$job\"})" "$total" 60
wait_query "sensorbridge_consumer_messages_total{job=\"$job\"}" "$total" 60
wait_query "count(sensorbridge_sensor_info{job=\"$job\"})" 17 60
# The other series of the last scrape agree.
[ "$(prom_value "sensorbridge_consumer_invalid_messages_total{job=\"$job\",reason=\"not_json\"}")" = 0 ] \
    || fail "prometheus has invalid messages"
# The histogram counts the stamped samples, no_header the others.
[ "$(prom_value "sum(sensorbridge_end_to_end_latency_seconds_count{job=\"$job\"}) + sum(sensorbridge_end_to_end_latency_unmeasured_samples_total{job=\"$job\"})")" = "$total" ] \
    || fail "prometheus: latency count plus unmeasured is not $total"
[ "$(prom_value "sensorbridge_end_to_end_latency_seconds_count{job=\"$job\"} > 0")" != "" ] \
    || fail "prometheus: no latency was measured"
# Prometheus saw the counter go from 0 to the total without a reset.
ch=$(prom_value "changes(sensorbridge_consumer_messages_total{job=\"$job\"}[5m])")
[ -n "$ch" ] && [ "$ch" -ge 1 ] || fail "prometheus saw $ch changes of sensorbridge_consumer_messages_total"
[ "$(prom_value "resets(sensorbridge_consumer_messages_total{job=\"$job\"}[5m])")" = 0 ] \
    || fail "prometheus saw sensorbridge_consumer_messages_total reset"
echo "sensorbridge_consumer_messages_total changed $ch times between scrapes" >&2
# Not asserted: that every scrape succeeded. The scrape timeout is 1 s, and
# while the consumer drains a backlog in 10,000-message batches a /metrics
# request can take longer (measured at speed max: up to 1.5 s on a loaded
# 2-core machine, 3.5 s under ASan).
echo "scrapes succeeded/attempted: $(prom_value "sum_over_time(up{job=\"$job\"}[5m])")/$(prom_value "count_over_time(up{job=\"$job\"}[5m])")" >&2
# Prometheus ingested every exposed sample without complaint (duplicate
# series, bad timestamps and the like are logged by its scrape loop).
got=$(prom_value "scrape_samples_scraped{job=\"$job\"}")
[ -n "$got" ] && [ "$got" -gt 100 ] || fail "prometheus scraped '$got' samples"
grep -E 'level=(warn|error)' "$PROM_LOG" | grep -iE 'scrape|ingest|sample' \
    && fail "prometheus complained about the scrape"

stop_pid "$PROM_PID" prometheus 30
stop_daemon
echo "ok: prometheus scrape"
