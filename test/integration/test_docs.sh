#!/bin/bash
# The documentation is in step with the code:
#   - every metric family a fully configured daemon exposes (replay with
#     profile.txt, synthetic sensors, windows, alerts) has exactly one row
#     in docs/metrics.md, and every row there is a family it exposes;
#   - every configuration key in src/config.c's option table has exactly
#     one row in its section of docs/configuration.md, with the same
#     default where the code has a literal one, and every row there is a
#     key; every key appears in its section of conf/sensorbridge.conf.
# Embedded broker only: it checks the documents against what the daemon
# exposes, which does not depend on the broker.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"
DOCS=$SB_SOURCE_ROOT/docs
CONF=$SB_SOURCE_ROOT/conf/sensorbridge.conf
errors=0
problem() {
    echo "DOCS: $*" >&2
    errors=$((errors + 1))
}

# ---- metrics ----
# The shipped configuration (all sources, windows, alert rules for every
# sensor) on the test dataset, two cycles at speed max.
ds=$(make_dataset)
conf=$SB_WORK/sb.conf
sed -e "s|^dataset = .*|dataset = $ds|" -e 's|^listen = .*|listen = 127.0.0.1:0|' \
    -e "s|^model = .*|model = $SB_SOURCE_ROOT/conf/condition-model.json|" \
    -e 's|^speed = .*|speed = max|' -e 's|^loop = .*|loop = false|' "$CONF" > "$conf"
start_daemon "$conf"
# Families are registered up front; the finished replay also gives the
# per-sensor ones their children.
finished() { curl -sf "$SB_URL/api/v1/status" | jq -e '.replay.finished == true' > /dev/null; }
wait_for 120 "the replay to finish" finished
scrape > "$SB_WORK/scrape.txt"
awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$SB_WORK/scrape.txt" | sort > "$SB_WORK/exposed"
[ -s "$SB_WORK/exposed" ] || fail "no metric families in the scrape"
sed -n 's/^| `\([a-z_:][a-z0-9_:]*\)` | \(counter\|gauge\|histogram\|summary\|untyped\)[ |].*/\1/p' \
    "$DOCS/metrics.md" | sort > "$SB_WORK/documented"
while read -r name; do
    n=$(grep -cx "$name" "$SB_WORK/documented" || true)
    [ "$n" = 1 ] || problem "metric $name is exposed and documented $n times in docs/metrics.md"
done < "$SB_WORK/exposed"
while read -r name; do
    grep -qx "$name" "$SB_WORK/exposed" ||
        problem "docs/metrics.md documents $name, which the daemon does not expose"
done < <(sort -u "$SB_WORK/documented")
echo "metrics: $(wc -l < "$SB_WORK/exposed") families exposed, $(wc -l < "$SB_WORK/documented") rows" >&2
stop_daemon

# ---- configuration keys ----
# "section key default" from the option table; default "-" when the code
# has none (NULL) or a computed one (a macro).
awk '
    /^static const struct opt opts\[\] = \{/ { on = 1; next }
    on && /^\};/ { on = 0 }
    !on { next }
    match($0, /OPT(_FN|_DUR)?\("[^"]*", "[^"]*", ("[^"]*"|[A-Z_]+)/) {
        split(substr($0, RSTART, RLENGTH), a, /\(|, /)
        sec = a[2]; key = a[3]; def = a[4]
        gsub(/"/, "", sec); gsub(/"/, "", key)
        if (def ~ /^"/) { gsub(/"/, "", def); if (def == "") def = "empty" } else def = "-"
        print sec, key, def; next
    }
    match($0, /OPT_(ALERT|SYNTH)\("[^"]*", ("[^"]*"|NULL)/) {
        sec = ($0 ~ /OPT_ALERT/) ? "alert.<SENSOR>" : "synthetic.<NAME>"
        split(substr($0, RSTART, RLENGTH), a, /\(|, /)
        key = a[2]; def = a[3]; gsub(/"/, "", key)
        if (def ~ /^"/) { gsub(/"/, "", def); if (def == "") def = "empty" } else def = "-"
        print sec, key, def; next
    }
    match($0, /OPT_KAFKA\("[^"]*"/) {
        sec = substr($0, RSTART + 11, RLENGTH - 12)
        print sec, "kafka.<property>", "-"
    }
    match($0, /OPT_TOPIC_CONFIG\("[^"]*"/) {
        sec = substr($0, RSTART + 18, RLENGTH - 19)
        print sec, "topic.<config>", "-"
    }' "$SB_SOURCE_ROOT/src/config.c" > "$SB_WORK/keys"
[ "$(wc -l < "$SB_WORK/keys")" -ge 40 ] || fail "read only $(wc -l < "$SB_WORK/keys") keys from src/config.c"

# "section key default" rows of docs/configuration.md's key tables (those
# with the header "| Key | Default | Values | Reload |").
awk '
    /^## / { sec = "" }
    /^### \[/ { sec = $2; gsub(/\[|\]/, "", sec); gsub(/&lt;/, "<", sec); gsub(/&gt;/, ">", sec); next }
    /^$/ { keys = 0 }
    /^\|---/ { keys = (prev ~ /^\| Key \| Default \| Values \| Reload \|/) }
    { prev = $0 }
    sec != "" && keys && /^\| `[^`]+` \| / {
        split($0, c, /\|/)
        key = c[2]; def = c[3]
        gsub(/^ *`|` *$/, "", key)
        gsub(/^ +| +$/, "", def)
        if (def ~ /^`[^`]*`$/) { gsub(/`/, "", def) }
        print sec, key, def
    }' "$DOCS/configuration.md" > "$SB_WORK/doc_keys"

while read -r sec key def; do
    rows=$(awk -v s="$sec" -v k="$key" '$1 == s && $2 == k' "$SB_WORK/doc_keys")
    n=$(printf '%s' "$rows" | grep -c . || true)
    if [ "$n" != 1 ]; then
        problem "[$sec] $key is documented $n times in docs/configuration.md"
        continue
    fi
    doc_def=$(printf '%s\n' "$rows" | cut -d' ' -f3-)
    if [ "$def" != - ] && [ "$doc_def" != "$def" ]; then
        problem "[$sec] $key: the code's default is '$def', docs/configuration.md says '$doc_def'"
    fi
done < "$SB_WORK/keys"
while read -r sec key _; do
    awk -v s="$sec" -v k="$key" '$1 == s && $2 == k { f = 1 } END { exit !f }' "$SB_WORK/keys" ||
        problem "docs/configuration.md documents [$sec] $key, which src/config.c does not have"
done < "$SB_WORK/doc_keys"

# conf/sensorbridge.conf: each key of a plain section is set in that section
# (kafka.<property> is explained in a comment); each [alert.<SENSOR>] and
# [synthetic.<NAME>] key is named in the comment that introduces the section.
while read -r sec key _; do
    case $sec in
    alert.*|synthetic.*)
        intro=$(awk -v s="# [$sec] -" 'index($0, s) == 1 { on = 1 } on && /^\[/ { exit } on' "$CONF")
        grep -qE "^#( |.*, )$key( |,|$)" <<< "$intro" ||
            problem "conf/sensorbridge.conf does not describe [$sec] $key"
        ;;
    *)
        # The section's text first: grep -q in a pipeline could end awk by
        # SIGPIPE, and pipefail would take that for a missing key.
        body=$(awk -v s="[$sec]" '$0 == s { on = 1; next } /^\[/ { on = 0 } on' "$CONF")
        if [ "$key" = "kafka.<property>" ] || [ "$key" = "topic.<config>" ]; then
            grep -q "^#${key%%.*}\." <<< "$body" || problem "conf/sensorbridge.conf [$sec] does not explain $key"
        else
            grep -qE "^$key =" <<< "$body" || problem "conf/sensorbridge.conf [$sec] does not set $key"
        fi
        ;;
    esac
done < "$SB_WORK/keys"
echo "config: $(wc -l < "$SB_WORK/keys") keys in the code, $(wc -l < "$SB_WORK/doc_keys") documented" >&2

[ "$errors" = 0 ] || fail "$errors differences between the code and docs/ or conf/"
echo "ok: docs in step with the code"
