#!/bin/bash
# HTTP as Prometheus expects it, against the real binary:
#   - /metrics in the text format 0.0.4 (promtool check metrics clean) and,
#     for Prometheus's Accept header, OpenMetrics 1.0.0 (read by
#     client_python's strict OpenMetrics parser; promtool 2.42 reads only
#     the text format), with the same series plus _created, # EOF last;
#   - gzip through curl --compressed and a raw Accept-Encoding: gzip,
#     identity for gzip;q=0; HEAD with headers only and no render;
#   - a real Prometheus with its default Accept header scrapes OpenMetrics:
#     up == 1 and the series of the text scrape;
#   - a client whose FIN comes with its request gets its answer and the
#     close; the connection limit refuses one more; a silent client is
#     dropped after [http] timeout.
# Embedded broker only: it is about the HTTP side, which does not depend on
# the broker.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

series() { /usr/bin/python3 "$SB_SOURCE_ROOT/test/tools/exposition-series.py" "$@"; }
# header FILE NAME: the value of a response header in a curl -D dump, or empty.
header() { tr -d '\r' < "$1" | awk -v n="$2" 'tolower($0) ~ "^" tolower(n) ":" { sub(/^[^:]*: */, ""); print; exit }'; }
renders() { scrape | metric "sensorbridge_http_metrics_renders_total{format=\"$1\"}"; }

# What Prometheus 2.42 sends (captured from its scrape request).
PROM_ACCEPT='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
TEXT_TYPE='text/plain; version=0.0.4; charset=utf-8'
OM_TYPE='application/openmetrics-text; version=1.0.0; charset=utf-8'

# Two cycles at speed max, so that every per-sensor series and the latency
# histogram have children. The idle timeout is the longest allowed, so a
# connection closed here was closed for another reason.
ds=$(make_dataset)
conf=$SB_WORK/sb.conf
write_config "$conf" "$ds"
set_key "$conf" http timeout 1h
started=$(date +%s)
start_daemon "$conf"
finished() { curl -sf "$SB_URL/api/v1/status" | jq -e '.replay.finished == true' > /dev/null; }
wait_for 120 "the replay to finish" finished
wait_metric sensorbridge_consumer_messages_total "$(samples_in_cycles 2)" 60
W=$SB_WORK

# ---- the text format ----
curl -sf -D "$W/text.h" -o "$W/text.txt" "$SB_URL/metrics" || fail "GET /metrics failed"
[ "$(header "$W/text.h" Content-Type)" = "$TEXT_TYPE" ] || fail "text: Content-Type is '$(header "$W/text.h" Content-Type)'"
[ "$(header "$W/text.h" Vary)" = Accept-Encoding ] || fail "text: no Vary: Accept-Encoding"
[ -z "$(header "$W/text.h" Content-Encoding)" ] || fail "text: encoded without Accept-Encoding"
promtool check metrics < "$W/text.txt" > "$W/promtool.out" 2>&1 || { cat "$W/promtool.out" >&2; fail "promtool check metrics failed on the text format"; }
[ ! -s "$W/promtool.out" ] || { cat "$W/promtool.out" >&2; fail "promtool check metrics complained about the text format"; }
series text "$W/text.txt" > "$W/text.series" || fail "the text parser refused the text format"
grep -q '^# EOF' "$W/text.txt" && fail "the text format has # EOF"
grep -qE '^[a-zA-Z_:][a-zA-Z0-9_:]*_created[{ ]' "$W/text.txt" && fail "the text format has _created samples"

# ---- OpenMetrics for Prometheus's Accept header ----
curl -sf -H "Accept: $PROM_ACCEPT" -D "$W/om.h" -o "$W/om.txt" "$SB_URL/metrics" || fail "GET /metrics (OpenMetrics) failed"
[ "$(header "$W/om.h" Content-Type)" = "$OM_TYPE" ] || fail "OpenMetrics: Content-Type is '$(header "$W/om.h" Content-Type)'"
now=$(date +%s)
series openmetrics "$W/om.txt" > "$W/om.series" || fail "the OpenMetrics parser refused the OpenMetrics scrape"
[ "$(tail -n 1 "$W/om.txt")" = "# EOF" ] || fail "OpenMetrics: the last line is '$(tail -n 1 "$W/om.txt")', not # EOF"
[ "$(grep -c '^# EOF$' "$W/om.txt")" = 1 ] || fail "OpenMetrics: # EOF more than once"
# A counter's family is named without _total, its samples with it and a
# _created; a gauge has none; a histogram has _created too.
for line in '# TYPE sensorbridge_consumer_messages counter' \
            '# TYPE sensorbridge_sensor_samples_consumed counter' \
            '# TYPE sensorbridge_sensor_value gauge' \
            '# TYPE sensorbridge_end_to_end_latency_seconds histogram'; do
    grep -qxF "$line" "$W/om.txt" || fail "OpenMetrics: no line '$line'"
done
grep -q '^# TYPE [a-z_:]*_total ' "$W/om.txt" && fail "OpenMetrics: a TYPE line names a family with _total"
grep -qx "sensorbridge_consumer_messages_total $(samples_in_cycles 2)" "$W/om.txt" || fail "OpenMetrics: no sensorbridge_consumer_messages_total sample"
grep -qx 'sensorbridge_sensor_samples_consumed_total{sensor="PS2"} 12000' "$W/om.txt" || fail "OpenMetrics: PS2's counter is not 12000"
grep -q '^sensorbridge_sensor_value_created' "$W/om.txt" && fail "OpenMetrics: a gauge has _created"
grep -qx 'sensorbridge_end_to_end_latency_seconds_bucket{le="1.0"} [0-9]*' "$W/om.txt" || fail "OpenMetrics: no bucket le=\"1.0\""
# Each _created is a time between the daemon's start and the scrape.
for s in 'sensorbridge_consumer_messages_created' 'sensorbridge_sensor_samples_consumed_created{sensor="PS2"}' \
         'sensorbridge_end_to_end_latency_seconds_created'; do
    v=$(metric "$s" < "$W/om.txt")
    [[ $v =~ ^[0-9]+\.[0-9]{6}$ ]] || fail "OpenMetrics: $s is '$v'"
    awk -v v="$v" -v a="$started" -v b="$now" 'BEGIN { exit !(v >= a && v <= b + 1) }' ||
        fail "OpenMetrics: $s = $v is not between the start ($started) and the scrape ($now)"
done
# The same series as the text format, and a _created for each counter and
# histogram series.
grep -v '_created{' "$W/om.series" > "$W/om-created-less.series"
diff "$W/text.series" "$W/om-created-less.series" > "$W/series.diff" ||
    { head -n 20 "$W/series.diff" >&2; fail "OpenMetrics and the text format have different series"; }
want_created=$(awk '$1 == "#" && $2 == "TYPE" && ($4 == "counter" || $4 == "histogram") { print $3 }' "$W/text.txt" |
    while read -r fam; do
        case $fam in *_total) fam=${fam%_total} ;; esac
        awk -v f="$fam" '$1 == f "_total" || index($1, f "_total{") == 1 || $1 == f "_count" || index($1, f "_count{") == 1' "$W/text.txt"
    done | wc -l)
[ "$(grep -c '_created{' "$W/om.series")" = "$want_created" ] ||
    fail "OpenMetrics: $(grep -c '_created{' "$W/om.series") _created series, expected $want_created"
# Accept without OpenMetrics, or none that we write, gets the text format.
for accept in 'text/plain;version=0.0.4' '*/*' 'application/openmetrics-text;version=0.0.1' 'application/openmetrics-text;q=0, text/plain;q=0.1'; do
    curl -sf -H "Accept: $accept" -D "$W/a.h" -o /dev/null "$SB_URL/metrics" || fail "GET with Accept: $accept failed"
    [ "$(header "$W/a.h" Content-Type)" = "$TEXT_TYPE" ] || fail "Accept: $accept gave '$(header "$W/a.h" Content-Type)'"
done

# ---- gzip ----
curl -sf --compressed -D "$W/gz.h" -o "$W/gz-curl.txt" "$SB_URL/metrics" || fail "curl --compressed failed"
[ "$(header "$W/gz.h" Content-Encoding)" = gzip ] || fail "curl --compressed: Content-Encoding is '$(header "$W/gz.h" Content-Encoding)'"
[ "$(header "$W/gz.h" Vary)" = Accept-Encoding ] || fail "gzip: no Vary: Accept-Encoding"
curl -sf -H 'Accept-Encoding: gzip' -D "$W/raw.h" -o "$W/raw.gz" "$SB_URL/metrics" || fail "GET with Accept-Encoding: gzip failed"
[ "$(header "$W/raw.h" Content-Encoding)" = gzip ] || fail "Accept-Encoding: gzip: Content-Encoding is '$(header "$W/raw.h" Content-Encoding)'"
[ "$(header "$W/raw.h" Content-Length)" = "$(stat -c %s "$W/raw.gz")" ] || fail "gzip: Content-Length is not the compressed size"
gunzip -c < "$W/raw.gz" > "$W/raw.txt" || fail "the gzip body does not gunzip"
[ "$(stat -c %s "$W/raw.gz")" -lt "$(($(stat -c %s "$W/raw.txt") / 4))" ] || fail "gzip: the body is not compressed"
for f in gz-curl raw; do
    promtool check metrics < "$W/$f.txt" > "$W/promtool.out" 2>&1 && [ ! -s "$W/promtool.out" ] ||
        { cat "$W/promtool.out" >&2; fail "$f: promtool check metrics failed on the gunzipped scrape"; }
    series text "$W/$f.txt" > "$W/$f.series" || fail "$f: the text parser refused the gunzipped scrape"
    diff -q "$W/text.series" "$W/$f.series" > /dev/null || fail "$f: the gunzipped scrape has other series"
done
# OpenMetrics gzipped too: the same code path.
curl -sf -H "Accept: $PROM_ACCEPT" -H 'Accept-Encoding: gzip' -o "$W/om.gz" "$SB_URL/metrics" || fail "gzipped OpenMetrics failed"
gunzip -c < "$W/om.gz" > "$W/om-gz.txt" || fail "the gzipped OpenMetrics does not gunzip"
series openmetrics "$W/om-gz.txt" | diff -q "$W/om.series" - > /dev/null || fail "gzipped OpenMetrics has other series"
# gzip;q=0 refuses gzip: identity. And the JSON endpoints share the path.
curl -sf -H 'Accept-Encoding: gzip;q=0, deflate' -D "$W/q0.h" -o "$W/q0.txt" "$SB_URL/metrics" || fail "GET with gzip;q=0 failed"
[ -z "$(header "$W/q0.h" Content-Encoding)" ] || fail "gzip;q=0: Content-Encoding is '$(header "$W/q0.h" Content-Encoding)'"
[ "$(head -c 7 "$W/q0.txt")" = '# HELP ' ] || fail "gzip;q=0: the body is not the plain exposition"
curl -sf --compressed -D "$W/js.h" -o "$W/status.json" "$SB_URL/api/v1/status" || fail "gzipped /api/v1/status failed"
[ "$(header "$W/js.h" Content-Encoding)" = gzip ] || fail "/api/v1/status is not gzipped"
jq -e '.replay.finished == true' "$W/status.json" > /dev/null || fail "/api/v1/status gunzipped is not the status"

# ---- HEAD: headers only, no render ----
scrape > "$W/before.txt"
before=$(metric 'sensorbridge_http_metrics_renders_total{format="text"}' < "$W/before.txt")
before_om=$(metric 'sensorbridge_http_metrics_renders_total{format="openmetrics"}' < "$W/before.txt")
# (curl -I writes the headers as its output: size_download counts the body.)
got=$(curl -sf -I -H 'Accept-Encoding: gzip' -D "$W/head.h" -o /dev/null -w '%{size_download}' "$SB_URL/metrics") ||
    fail "curl -I failed"
[ "$(head -n 1 "$W/head.h" | tr -d '\r')" = 'HTTP/1.1 200 OK' ] || fail "HEAD: $(head -n 1 "$W/head.h")"
[ "$(header "$W/head.h" Content-Type)" = "$TEXT_TYPE" ] || fail "HEAD: Content-Type is '$(header "$W/head.h" Content-Type)'"
[ "$(header "$W/head.h" Content-Encoding)" = gzip ] || fail "HEAD: no Content-Encoding: gzip"
[ -z "$(header "$W/head.h" Content-Length)" ] || fail "HEAD: Content-Length '$(header "$W/head.h" Content-Length)' for a body never built"
[ "$got" = 0 ] || fail "HEAD: $got bytes of body came"
curl -sf -I -H "Accept: $PROM_ACCEPT" -D "$W/head-om.h" -o /dev/null "$SB_URL/metrics" || fail "curl -I (OpenMetrics) failed"
[ "$(header "$W/head-om.h" Content-Type)" = "$OM_TYPE" ] || fail "HEAD: OpenMetrics Content-Type is '$(header "$W/head-om.h" Content-Type)'"
# Each GET counts itself; the HEADs between the two built nothing.
scrape > "$W/after.txt"
after=$(metric 'sensorbridge_http_metrics_renders_total{format="text"}' < "$W/after.txt")
after_om=$(metric 'sensorbridge_http_metrics_renders_total{format="openmetrics"}' < "$W/after.txt")
[ "$after" = "$((before + 1))" ] || fail "HEAD rendered the registry (text renders $before, then $after)"
[ "$after_om" = "$before_om" ] || fail "HEAD rendered OpenMetrics ($before_om, then $after_om)"

# ---- a FIN that arrives with the request ----
# The request and the FIN in one segment (TCP_CORK): the answer must come,
# and the close with it, long before the 1 h idle timeout.
timeout 30 /usr/bin/python3 - "$SB_PORT" > "$W/fin.out" <<'PY' || fail "the server did not close a connection whose FIN came with its request"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
sys.stdout.write(data.decode())
PY
head -n 1 "$W/fin.out" | grep -q '^HTTP/1.1 200' || fail "FIN with the request: no answer ($(head -c 80 "$W/fin.out"))"
tail -n 1 "$W/fin.out" | grep -qx 'ok' || fail "FIN with the request: the body did not arrive whole"

# ---- a real Prometheus, with its own Accept header ----
job=sensorbridge-http
start_prometheus_job "$job" "127.0.0.1:$SB_PORT"
wait_query "up{job=\"$job\"}" 1 60
wait_query "sensorbridge_consumer_messages_total{job=\"$job\"}" "$(samples_in_cycles 2)" 60
# It asked for OpenMetrics: those renders grow.
om_renders_reach() { [ "$(renders openmetrics)" -ge "$1" ]; }
wait_for 30 "prometheus to scrape OpenMetrics" om_renders_reach $((before_om + 2))
curl -sf --max-time 10 "$PROM_URL/api/v1/series" --data-urlencode "match[]={job=\"$job\"}" > "$W/prom-series.json" ||
    fail "prometheus: /api/v1/series failed"
series prometheus "$W/prom-series.json" > "$W/prom.series" || fail "prometheus: cannot read its series"
# Prometheus adds series of its own per target.
grep -vE '^(up|scrape_[a-z_]+)\{' "$W/prom.series" > "$W/prom-own-less.series"
diff "$W/om.series" "$W/prom-own-less.series" > "$W/prom.diff" ||
    { head -n 20 "$W/prom.diff" >&2; fail "prometheus has other series than the OpenMetrics scrape"; }
grep -v '_created{' "$W/prom-own-less.series" | diff -q "$W/text.series" - > /dev/null ||
    fail "prometheus has other series than the text scrape (less _created)"
grep -E 'level=(warn|error)' "$PROM_LOG" | grep -iE 'scrape|ingest|sample' && fail "prometheus complained about the scrape"
stop_pid "$PROM_PID" prometheus 30
stop_daemon

# ---- the connection limit ----
# A second daemon, idle, with room for two connections that have never
# been used: two silent ones take them, the third is accepted and closed
# without an answer; when one goes, there is room again.
conf2=$SB_WORK/limit.conf
write_config "$conf2" "$ds"
set_key "$conf2" replay enabled false
set_key "$conf2" http max_connections 2
set_key "$conf2" http timeout 1h
start_instance "$conf2" "$SB_WORK/limit.log"
exec {c1}<> "/dev/tcp/127.0.0.1/$INST_PORT"
exec {c2}<> "/dev/tcp/127.0.0.1/$INST_PORT"
rc=0
curl -s --max-time 30 -o "$W/refused.body" "$INST_URL/healthz" || rc=$?
[ "$rc" = 52 ] || [ "$rc" = 56 ] || fail "a third connection over max_connections = 2: curl exit status $rc, expected 52 or 56 (no answer)"
[ ! -s "$W/refused.body" ] || fail "the connection over the limit got an answer"
exec {c1}>&-
answers() { curl -sf --max-time 5 "$INST_URL/healthz" > /dev/null; }
wait_for 30 "a connection slot after one closed" answers
exec {c2}>&-
stop_pid "$INST_PID" "the limited daemon" 30

# ---- a silent client is dropped after the timeout ----
conf3=$SB_WORK/timeout.conf
write_config "$conf3" "$ds"
set_key "$conf3" replay enabled false
set_key "$conf3" http timeout 1s
start_instance "$conf3" "$SB_WORK/timeout.log"
exec {c3}<> "/dev/tcp/127.0.0.1/$INST_PORT"
# cat ends only at the server's close (read end of stream); it reads nothing.
timeout 60 cat <&"$c3" > "$W/silent.out" || fail "a silent connection was not closed after [http] timeout = 1s"
[ ! -s "$W/silent.out" ] || fail "the silent connection got bytes: $(head -c 80 "$W/silent.out")"
exec {c3}>&-
# A talking client on the same server is still answered.
curl -sf "$INST_URL/healthz" | grep -qx ok || fail "the daemon with timeout = 1s does not answer"
stop_pid "$INST_PID" "the daemon with a short timeout" 30
echo "ok: http exposition"
