#!/bin/bash
# dev.sh - set-up and the two everyday jobs on a Debian 12 machine.
#   deploy/dev.sh run    install build dependencies if missing, build, and run
#                        the main job with conf/sensorbridge.conf until Ctrl-C
#   deploy/dev.sh test   install dependencies if missing, build, and run the whole
#                        test suite: plain (with the daemon under valgrind in the
#                        valgrind-daemon suite), the unit tests under valgrind, and
#                        all but valgrind-daemon under ASan/UBSan
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

build_pkgs=(meson ninja-build pkg-config gcc librdkafka-dev libuv1-dev libmicrohttpd-dev
            libjansson-dev libinih-dev libsystemd-dev)
test_pkgs=(libcmocka-dev kcat prometheus valgrind curl jq iproute2)

install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "dev.sh: installing ${missing[*]}" >&2
    local sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    # --no-install-recommends keeps prometheus from pulling in systemd services.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

setup() {
    local dir=$1
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@"
    fi
    ninja -C "$dir"
}

case "${1:-}" in
run)
    install_missing "${build_pkgs[@]}"
    setup build -Dtests=false
    exec build/sensorbridge --config conf/sensorbridge.conf
    ;;
test)
    install_missing "${build_pkgs[@]}" "${test_pkgs[@]}"
    status=0
    setup build
    meson test -C build --print-errorlogs || status=1
    meson test -C build --setup valgrind --suite unit --print-errorlogs || status=1
    setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-asan --no-suite valgrind-daemon --print-errorlogs || status=1
    exit $status
    ;;
*)
    echo "usage: deploy/dev.sh run|test" >&2
    exit 2
    ;;
esac
