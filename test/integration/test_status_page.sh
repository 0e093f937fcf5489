#!/bin/bash
# The status page at / in a real browser: the daemon replays the test
# dataset in a loop at 5x with a synthetic sensor and an alert rule that
# fires on TS1's first sample; Debian's chromium, driven by playwright-core
# (test/tools/status-page.js), loads the page and checks that it loads
# without a console error or a failed request, that every group chart gets
# points and they and the values move on, that the alert shows, and that
# the condition labels do. Before that, curl checks what the browser takes
# on trust: the files come from the binary byte for byte with their
# Content-Type and ETag, a matching If-None-Match gets 304, and
# /api/v1/history honours since=.
#
# SB_SCREENSHOT=FILE keeps a screenshot of the page (`ninja -C build
# status-page-doc` writes docs/status-page.png so).
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"
use_playwright

ds=$(make_dataset)
write_config "$SB_WORK/sb.conf" "$ds" 5
set_key "$SB_WORK/sb.conf" replay loop true
cat >> "$SB_WORK/sb.conf" <<CONF
[synthetic.line1-oven-temp]
kind = temperature
rate_hz = 1
seed = 42
[alert.TS1]
high_warning = 0
CONF
start_daemon "$SB_WORK/sb.conf"

# The files, as served, against the repository's.
www=$SB_SOURCE_ROOT/src/www
check_asset() { # check_asset PATH FILE CONTENT_TYPE
    curl -sf -D "$SB_WORK/headers" -o "$SB_WORK/body" "$SB_URL$1" || fail "GET $1 failed"
    cmp -s "$SB_WORK/body" "$2" || fail "GET $1 is not $2 byte for byte"
    grep -qix "content-type: $3"$'\r' "$SB_WORK/headers" || fail "GET $1: Content-Type is not $3"
    grep -qix 'cache-control: no-cache'$'\r' "$SB_WORK/headers" || fail "GET $1: no Cache-Control: no-cache"
    local etag
    etag=$(sed -n 's/^etag: \(.*\)\r$/\1/Ip' "$SB_WORK/headers")
    [ "$etag" = "W/\"$(sha256sum < "$2" | cut -c1-16)\"" ] || fail "GET $1: ETag $etag is not from the content"
    # The gzip body, inflated, is the same file under the same weak ETag.
    curl -sf --compressed -D "$SB_WORK/gz-headers" -o "$SB_WORK/gz-body" "$SB_URL$1" || fail "GET $1 (gzip) failed"
    grep -qix 'content-encoding: gzip'$'\r' "$SB_WORK/gz-headers" || fail "GET $1: not gzipped for curl --compressed"
    cmp -s "$SB_WORK/gz-body" "$2" || fail "GET $1 (gzip) is not $2 byte for byte"
    grep -qix "etag: $etag"$'\r' "$SB_WORK/gz-headers" || fail "GET $1 (gzip): another ETag than $etag"
    local code
    code=$(curl -s -o "$SB_WORK/body304" -w '%{http_code}' -H "If-None-Match: \"x\", $etag" "$SB_URL$1")
    [ "$code" = 304 ] && [ ! -s "$SB_WORK/body304" ] || fail "GET $1 with If-None-Match $etag: $code, expected 304 without a body"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: ${etag#W/}" "$SB_URL$1")
    [ "$code" = 304 ] || fail "GET $1 with If-None-Match ${etag#W/} (weak comparison): $code, expected 304"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "0000000000000000"' "$SB_URL$1")
    [ "$code" = 200 ] || fail "GET $1 with another ETag: $code, expected 200"
}
check_asset / "$www/index.html" 'text/html; charset=utf-8'
check_asset /static/status.js "$www/status.js" 'text/javascript; charset=utf-8'
check_asset /static/status.css "$www/status.css" 'text/css; charset=utf-8'
check_asset /static/uPlot.iife.min.js "$www/vendor/uplot/uPlot.iife.min.js" 'text/javascript; charset=utf-8'
check_asset /static/uPlot.min.css "$www/vendor/uplot/uPlot.min.css" 'text/css; charset=utf-8'

# since=: only later points; a bad one is refused with 400.
wait_for 30 "a history with two points" sh -c \
    "curl -sf '$SB_URL/api/v1/history' | jq -e '(.t | length) >= 2' > /dev/null"
curl -sf "$SB_URL/api/v1/history" > "$SB_WORK/h1.json"
t1=$(jq '.t[0]' "$SB_WORK/h1.json")
curl -sf "$SB_URL/api/v1/history?since=$t1" > "$SB_WORK/h2.json"
jq -e --argjson s "$t1" --slurpfile all "$SB_WORK/h1.json" \
    '.points == 600 and (.t | length) >= 1 and all(.t[]; . > $s) and .t[0] == $all[0].t[1]' \
    "$SB_WORK/h2.json" > /dev/null ||
    fail "history?since=$t1 does not start at the point after it: $(head -c 300 "$SB_WORK/h2.json")"
jq -e '.t as $t | all(.series[][]; length == ($t | length))' "$SB_WORK/h2.json" > /dev/null ||
    fail "history?since=$t1: a series does not have one value per point"
code=$(curl -s -o "$SB_WORK/bad.json" -w '%{http_code}' "$SB_URL/api/v1/history?since=-5")
[ "$code" = 400 ] || fail "history?since=-5 answered $code, expected 400"

# The page in the browser: the charts of the seven UCI groups, the pipeline's
# three and the synthetic sensor's.
out=$(node "$SB_SOURCE_ROOT/test/tools/status-page.js" "$SB_URL/" \
    pressure flow temperature power vibration cooling efficiency throughput latency lag \
    synthetic-line1-oven-temp) || fail "the status page failed in chromium (above)"
echo "chromium $(/usr/bin/chromium --version 2> /dev/null | awk '{print $2}'), playwright-core $PLAYWRIGHT_VERSION: $out"
case $out in *'"alert":'*TS1*warning*) ;; *) fail "the newest alert shown is not TS1's warning: $out" ;; esac
stop_daemon
echo "ok: status page"
