#!/bin/sh
# make-standins.sh - rebuild datasets/uci-hydraulic/standin/ from the
# third-party 1-second means of the nine high-rate UCI sensors.
#
# Usage: make-standins.sh DERIVED_1HZ_DIR [OUT_DIR]
#
# DERIVED_1HZ_DIR holds <SENSOR>_1hz_mean.tsv for PS1..PS6, EPS1, FS1, FS2
# (2205 rows x 60 tab-separated Python float reprs, CRLF line ends).
# OUT_DIR defaults to the standin/ directory next to this script's
# ../uci-hydraulic. Each output <SENSOR>_1hz.txt has LF line ends and every
# value rounded to 3 decimals with trailing zeros dropped ("35.57", "8",
# "0"), the way the original UCI files are written, so the daemon's reader
# and the original files look alike. The rounding is C printf's "%.3f" on
# the parsed double; LC_ALL=C keeps the decimal point a point.
#
# The output is deterministic: same input, same bytes. Any row that is not
# exactly 60 non-negative decimals, or a file that is not 2205 rows, stops
# the script and leaves the previous output in place.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DERIVED_1HZ_DIR [OUT_DIR]" >&2
    exit 2
fi
src=$1
out=${2:-$(dirname "$0")/../uci-hydraulic/standin}
export LC_ALL=C

mkdir -p "$out"
tmp=
trap 'if [ -n "$tmp" ]; then rm -f "$tmp"; fi' EXIT INT TERM

for s in PS1 PS2 PS3 PS4 PS5 PS6 EPS1 FS1 FS2; do
    in=$src/${s}_1hz_mean.tsv
    if [ ! -r "$in" ]; then
        echo "make-standins: $in: not readable" >&2
        exit 1
    fi
    tmp=$out/.${s}_1hz.txt.tmp
    awk -F '\t' -v file="$in" '
    {
        sub(/\r$/, "")
        if (NF != 60) {
            printf "make-standins: %s:%d: expected 60 values, found %d\n", file, NR, NF > "/dev/stderr"
            bad = 1
            exit 1
        }
        line = ""
        for (i = 1; i <= NF; i++) {
            if ($i !~ /^[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/) {
                printf "make-standins: %s:%d: column %d: not a decimal: \"%s\"\n", file, NR, i, $i > "/dev/stderr"
                bad = 1
                exit 1
            }
            v = sprintf("%.3f", $i + 0)
            sub(/0+$/, "", v)
            sub(/\.$/, "", v)
            line = line (i > 1 ? "\t" : "") v
        }
        print line
    }
    END {
        if (bad)
            exit 1
        if (NR != 2205) {
            printf "make-standins: %s: expected 2205 rows, found %d\n", file, NR > "/dev/stderr"
            exit 1
        }
    }' "$in" >"$tmp"
    mv "$tmp" "$out/${s}_1hz.txt"
    tmp=
    echo "make-standins: wrote $out/${s}_1hz.txt" >&2
done
