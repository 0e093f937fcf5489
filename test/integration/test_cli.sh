#!/bin/bash
# The command line: --version, --help, bad options, --check-config on the
# shipped file and on broken ones (errors name FILE:LINE: [section] key),
# and the daemon refusing to start on a broken file.
# No broker involved (the daemon never gets past its configuration).
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

# run_cli OUT ERR ARGS...: runs the binary, bounded, and sets RC.
run_cli() {
    local out=$1 err=$2
    shift 2
    RC=0
    timeout 30 "$SB_BIN" "$@" > "$out" 2> "$err" || RC=$?
    [ "$RC" -ne 124 ] || fail "sensorbridge $* did not exit within 30 s"
}

out=$SB_WORK/out
err=$SB_WORK/err

# --version: the project version from meson.build.
version=$(sed -n "s/^ *version: *'\([0-9][0-9.]*\)'.*/\1/p" "$SB_SOURCE_ROOT/meson.build" | head -n 1)
[ -n "$version" ] || fail "no version in meson.build"
for opt in --version -V; do
    run_cli "$out" "$err" $opt
    [ "$RC" -eq 0 ] || fail "$opt exited with $RC"
    [ "$(cat "$out")" = "sensorbridge $version" ] || fail "$opt printed '$(cat "$out")', expected 'sensorbridge $version'"
done

# --help: exit 0, usage on stdout naming every option.
for opt in --help -h; do
    run_cli "$out" "$err" $opt
    [ "$RC" -eq 0 ] || fail "$opt exited with $RC"
    for word in --check-config --config --reload --version --help SIGHUP; do
        grep -q -- "$word" "$out" || fail "$opt does not mention $word"
    done
    [ ! -s "$err" ] || fail "$opt wrote to stderr: $(cat "$err")"
done

# Usage errors: exit 2 with the usage on stderr, nothing started.
for args in "--no-such-option" "-x" "--config" "stray-argument" "--version=1" "--reload" \
    "--reload 0" "--reload 12x"; do
    # shellcheck disable=SC2086
    run_cli "$out" "$err" $args
    [ "$RC" -eq 2 ] || fail "'$args' exited with $RC, expected 2"
    grep -q 'Usage: sensorbridge' "$err" || fail "'$args' printed no usage on stderr"
    [ ! -s "$out" ] || fail "'$args' wrote to stdout: $(cat "$out")"
done

# --check-config on the shipped configuration.
conf=$SB_SOURCE_ROOT/conf/sensorbridge.conf
run_cli "$out" "$err" --check-config --config "$conf"
[ "$RC" -eq 0 ] || fail "--check-config on $conf exited with $RC: $(cat "$err")"
[ "$(cat "$out")" = "$conf: configuration OK" ] || fail "--check-config printed '$(cat "$out")'"
run_cli "$out" "$err" -t -c "$conf"
[ "$RC" -eq 0 ] || fail "-t -c $conf exited with $RC: $(cat "$err")"

# A valid test configuration (absolute dataset) as the base of broken ones.
ds=$(make_dataset)
good=$SB_WORK/good.conf
write_config "$good" "$ds" max
run_cli "$out" "$err" --check-config --config "$good"
[ "$RC" -eq 0 ] || fail "--check-config on the test configuration exited with $RC: $(cat "$err")"

# line_of FILE REGEX: the number of the first matching line.
line_of() {
    grep -nE -- "$2" "$1" | head -n 1 | cut -d: -f1
}

# check_broken NAME EXPECTED_PREFIX_AFTER_LINE: --check-config must exit 1
# with exactly one line "FILE:LINE: <prefix>..." where LINE is $BAD_LINE.
check_broken() {
    local f=$1 want=$2 line=$3
    run_cli "$out" "$err" --check-config --config "$f"
    [ "$RC" -eq 1 ] || fail "$(basename "$f"): --check-config exited with $RC, expected 1"
    [ ! -s "$out" ] || fail "$(basename "$f"): --check-config wrote to stdout: $(cat "$out")"
    [ "$(wc -l < "$err")" -eq 1 ] || fail "$(basename "$f"): expected one error line, got: $(cat "$err")"
    local prefix="$f:$line: $want"
    case $(cat "$err") in
    "$prefix"*) ;;
    *) fail "$(basename "$f"): error is '$(cat "$err")', expected it to start with '$prefix'" ;;
    esac
}

# Unknown key.
f=$SB_WORK/unknown_key.conf
cp "$good" "$f"
set_key "$f" replay sped 10
check_broken "$f" "[replay] sped: unknown key" "$(line_of "$f" '^sped =')"

# Bad value.
f=$SB_WORK/bad_value.conf
cp "$good" "$f"
set_key "$f" replay speed fast
check_broken "$f" '[replay] speed: expected a number' "$(line_of "$f" '^speed =')"
grep -q '"fast"' "$err" || fail "bad value: the error does not quote the value: $(cat "$err")"

# Bad value of another type (a boolean) in another section.
f=$SB_WORK/bad_bool.conf
cp "$good" "$f"
set_key "$f" consumer strict_sensors maybe
check_broken "$f" '[consumer] strict_sensors: ' "$(line_of "$f" '^strict_sensors =')"

# Unknown section.
f=$SB_WORK/unknown_section.conf
cp "$good" "$f"
printf '[kafak]\nbrokers = embedded\n' >> "$f"
check_broken "$f" '[kafak]: unknown section' "$(line_of "$f" '^\[kafak\]')"

# Duplicate key (the second occurrence is named, with the first's line).
f=$SB_WORK/duplicate.conf
cp "$good" "$f"
printf '[replay]\nspeed = 10\n' >> "$f"
first=$(line_of "$f" '^speed =')
second=$(grep -n '^speed =' "$f" | tail -n 1 | cut -d: -f1)
[ "$first" != "$second" ] || fail "duplicate.conf was not set up with two speed lines"
check_broken "$f" "[replay] speed: duplicate key (first set on line $first)" "$second"

# Indented key (libinih would glue it to the previous value).
f=$SB_WORK/indented.conf
cp "$good" "$f"
printf '[general]\n  log_level = debug\n' >> "$f"
check_broken "$f" 'indented line' "$(line_of "$f" '^  log_level')"

# A pass-through property sensorbridge owns.
f=$SB_WORK/bootstrap.conf
cp "$good" "$f"
printf '[producer]\nkafka.bootstrap.servers = localhost:9092\n' >> "$f"
check_broken "$f" '[producer] kafka.bootstrap.servers: use [kafka] brokers' \
    "$(line_of "$f" '^kafka.bootstrap.servers')"

# Missing file: no line number.
f=$SB_WORK/does-not-exist.conf
run_cli "$out" "$err" --check-config --config "$f"
[ "$RC" -eq 1 ] || fail "missing file: --check-config exited with $RC, expected 1"
[ "$(cat "$err")" = "$f: cannot open: No such file or directory" ] \
    || fail "missing file: error is '$(cat "$err")'"

# Missing dataset directory: names the key and its line.
f=$SB_WORK/no_dataset.conf
cp "$good" "$f"
set_key "$f" replay dataset "$SB_WORK/no-such-dir"
check_broken "$f" "[replay] dataset: \"$SB_WORK/no-such-dir\": No such file or directory" \
    "$(line_of "$f" '^dataset =')"

# The daemon itself refuses a broken file: exit 1 at once, the log names
# FILE:LINE and the key, nothing listens.
f=$SB_WORK/bad_value.conf
start=$(date +%s)
run_cli "$out" "$SB_LOG" --config "$f"
[ "$RC" -eq 1 ] || fail "the daemon exited with $RC on a broken configuration, expected 1"
[ $(($(date +%s) - start)) -le 10 ] || fail "the daemon took more than 10 s to refuse a broken configuration"
line=$(line_of "$f" '^speed =')
grep -qF "invalid configuration" "$SB_LOG" || fail "no 'invalid configuration' log line"
grep -qF "$f:$line: [replay] speed: " "$SB_LOG" || fail "the log does not name $f:$line: [replay] speed"
grep -q '^<3>' "$SB_LOG" || fail "the error is not logged at priority err (<3>)"
grep -q 'http listening' "$SB_LOG" && fail "the daemon started HTTP with a broken configuration"

# ... and a missing file.
run_cli "$out" "$SB_LOG" --config "$SB_WORK/does-not-exist.conf"
[ "$RC" -eq 1 ] || fail "the daemon exited with $RC on a missing configuration file, expected 1"
grep -qF "$SB_WORK/does-not-exist.conf: cannot open" "$SB_LOG" || fail "the log does not name the missing file"

echo "ok: cli"
