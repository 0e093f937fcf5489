#!/bin/bash
# Event-time windows at speed max equal statistics computed independently
# from the dataset rows (awk, a different program), to 1e-9 relative; and a
# replay at speed 20 gives byte-identical aggregates.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

ds=$(make_dataset)
# Sensors replayed from original rows (stand-ins are interpolated, so their
# rows are not the samples).
REAL="PS2 FS1 TS1 TS2 TS3 TS4 VS1 CE CP SE"

run() { # run SPEED OUTFILE, each through a fresh broker
    fresh_broker
    write_config "$SB_WORK/sb.conf" "$ds" "$1"
    cat >> "$SB_WORK/sb.conf" <<CONF
[windows]
sizes = 60s
watermark = 10s
[alerts]
enabled = false
CONF
    start_daemon "$SB_WORK/sb.conf"
    # Cycle 1's samples push every sensor's watermark past 60 s: the window
    # of cycle 0 closes for all 17 sensors; cycle 1's stays open.
    wait_metric 'sensorbridge_windows_closed_total{window="60s"}' 17 120
    wait_metric 'sensorbridge_output_messages_delivered_total{topic="hydraulic-aggregates"}' 17 60
    kcat -b "$SB_BROKERS" -C -t hydraulic-aggregates -o beginning -c 17 -e -q -f '%k\t%s\n' \
        > "$SB_WORK/agg.raw" 2>/dev/null || fail "kcat could not read hydraulic-aggregates"
    [ "$(wc -l < "$SB_WORK/agg.raw")" -eq 17 ] || fail "$(wc -l < "$SB_WORK/agg.raw") aggregates, expected 17"
    sort "$SB_WORK/agg.raw" > "$2"
    curl -sf "$SB_URL/api/v1/windows" > "$SB_WORK/windows.json" || fail "no /api/v1/windows"
    scrape > "$SB_WORK/scrape.txt"
    promtool check metrics < "$SB_WORK/scrape.txt" || fail "promtool check metrics rejected the scrape"
    stop_daemon
}

field() { # field JSON NAME -> the raw value
    printf '%s' "$1" | sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" | tr -d '"'
}

relclose() { # relclose GOT WANT
    awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b;
        exit !(d <= 1e-9 * (m > 1 ? m : 1)) }'
}

run max "$SB_WORK/agg-max.txt"

for s in $REAL; do
    f=$ds/$s.txt
    line=$(grep -P "^$s\t" "$SB_WORK/agg-max.txt" | cut -f2)
    [ -n "$line" ] || fail "no aggregate for $s"
    # Independent statistics of row 1 (cycle 0), two-pass.
    read -r n mean min max sd sum <<<"$(sed -n 1p "$f" | tr -d '\r' | awk -F'\t' '{
        n = NF; s = 0; mn = $1; mx = $1
        for (i = 1; i <= NF; i++) { v = $i + 0; s += v; if (v < mn) mn = v; if (v > mx) mx = v }
        m = s / n; q = 0
        for (i = 1; i <= NF; i++) { d = $i - m; q += d * d }
        printf "%d %.17g %.17g %.17g %.17g %.17g\n", n, m, mn, mx, sqrt(q / n), s }')"
    [ "$(field "$line" count)" = "$n" ] || fail "$s: count $(field "$line" count), row has $n"
    relclose "$(field "$line" mean)" "$mean" || fail "$s: mean $(field "$line" mean), awk says $mean"
    relclose "$(field "$line" min)" "$min" || fail "$s: min $(field "$line" min), awk says $min"
    relclose "$(field "$line" max)" "$max" || fail "$s: max $(field "$line" max), awk says $max"
    relclose "$(field "$line" stddev)" "$sd" || fail "$s: stddev $(field "$line" stddev), awk says $sd"
    relclose "$(field "$line" sum)" "$sum" || fail "$s: sum $(field "$line" sum), awk says $sum"
    [ "$(field "$line" window_start)" = 2025-11-08T14:30:00.000000Z ] || fail "$s: window starts $(field "$line" window_start)"
    [ "$(field "$line" window_end)" = 2025-11-08T14:31:00.000000Z ] || fail "$s: window ends $(field "$line" window_end)"
    [ "$(field "$line" first_event)" = 2025-11-08T14:30:00.000000Z ] || fail "$s: first event $(field "$line" first_event)"
    # The metrics show the same last closed window.
    got=$(metric "sensorbridge_window_mean{sensor=\"$s\",window=\"60s\"}" < "$SB_WORK/scrape.txt")
    relclose "$got" "$mean" || fail "$s: /metrics window mean $got, awk says $mean"
    grep -q "\"sensor\":\"$s\",\"window_seconds\":60" "$SB_WORK/windows.json" || fail "$s missing from /api/v1/windows"
done
# A 100 Hz sensor's last sample of the window is at 59.99 s.
line=$(grep -P '^PS2\t' "$SB_WORK/agg-max.txt" | cut -f2)
[ "$(field "$line" last_event)" = 2025-11-08T14:30:59.990000Z ] || fail "PS2 last event $(field "$line" last_event)"

# Event time, not arrival time: 20x real time (3 s a cycle) gives the same.
run 20 "$SB_WORK/agg-20.txt"
cmp -s "$SB_WORK/agg-max.txt" "$SB_WORK/agg-20.txt" || {
    diff "$SB_WORK/agg-max.txt" "$SB_WORK/agg-20.txt" | head -5 >&2
    fail "aggregates at speed 20 differ from speed max"
}
echo "ok: windows"
