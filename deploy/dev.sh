#!/bin/bash
# dev.sh - set-up and the two everyday jobs on a Debian 12 machine.
#   deploy/dev.sh run    install build dependencies if missing, build, and run
#                        the main job with conf/sensorbridge.conf until Ctrl-C
#   deploy/dev.sh test   install dependencies if missing (and the pinned Apache
#                        Kafka, into ~/.cache/sensorbridge), build, and run the whole
#                        test suite: plain (with the daemon under valgrind in the
#                        valgrind-daemon suite), the unit tests under valgrind,
#                        all but valgrind-daemon under ASan/UBSan, and the fuzz
#                        harnesses under libFuzzer (clang), each for a bounded time
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

build_pkgs=(meson ninja-build pkg-config gcc librdkafka-dev libuv1-dev libmicrohttpd-dev
            libjansson-dev libinih-dev libsystemd-dev libisal-dev libyaml-dev libcrypt-dev)
# default-jre-headless and maven: the real Apache Kafka of the kafka suite
# (test/tools/kafka.sh fetches it with Maven; the broker runs on Java 17).
test_pkgs=(libcmocka-dev kcat prometheus valgrind curl jq iproute2 default-jre-headless maven)
# clang: libFuzzer and its sanitizers for the fuzz suite (build-fuzz/);
# libclang-rt-14-dev: their run-time libraries, only a recommendation of
# clang's, which --no-install-recommends leaves out (the harnesses do not
# link without it).
test_pkgs+=(clang libclang-rt-14-dev)
# chromium: the real browser that test_status_page drives through Playwright.
test_pkgs+=(chromium)
# systemd (systemd-analyze verify, security, syscall-filter), man-db (verify
# runs man for Documentation=), groff-base (the man page lint) and strace (the
# system calls against SystemCallFilter=): the test systemd_unit.
test_pkgs+=(systemd man-db groff-base strace)
# python3-prometheus-client: its strict OpenMetrics parser reads the
# OpenMetrics scrape in test_http_exposition (promtool 2.42 reads only the
# text format).
test_pkgs+=(python3-prometheus-client)
# openssl and apache2-utils (htpasswd): the certificate and the bcrypt hash
# of test_http_tls.
test_pkgs+=(openssl apache2-utils)
# python3-yaml: test_compose and the Prometheus tests read YAML with it.
test_pkgs+=(python3-yaml)
# zlib1g-dev: the unit tests read the server's gzip streams back with zlib's
# inflate (the daemon compresses with ISA-L, libisal-dev above).
test_pkgs+=(zlib1g-dev)
# python3-matplotlib: test/bench/plot.py draws the performance plots
# (docs/performance-*.png) from the benchmarks' own data.
test_pkgs+=(python3-matplotlib)

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

# npm packages the tests use, pinned, into a cache outside the clone; the
# tests look for them in the same place. Node and npm come from Debian when
# there is no node at all.
#   kafkajs: the second independent client that reads sensorbridge's
#     messages in the real-Kafka tests (test_kafka_compression);
#   playwright-core: drives Debian's chromium in test_status_page; the
#     library alone, it never downloads a browser of its own (the test sets
#     executablePath to /usr/bin/chromium);
#   @grafana/schema and typescript: the dashboard's schema check
#     (test_grafana_dashboard): Grafana's published dashboard schema, which
#     @grafana/schema carries as TypeScript types only, and the compiler
#     that checks the JSON against them.
npm_pkgs=(kafkajs@2.2.4 playwright-core@1.65.1 @grafana/schema@13.2.3 typescript@5.9.3)
node_dir=${SB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sensorbridge}/node

install_npm_pkgs() {
    if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
        install_missing nodejs npm
    fi
    local p name have
    for p in "$@"; do
        name=${p%@*}
        have=$(node -p "require('$node_dir/node_modules/$name/package.json').version" 2> /dev/null || true)
        [ "$have" = "${p##*@}" ] && continue
        echo "dev.sh: installing $p into $node_dir" >&2
        mkdir -p "$node_dir"
        npm install --prefix "$node_dir" --save-exact --no-audit --no-fund --loglevel=error \
            "$p" > /dev/null
    done
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
    # The pinned Kafka into its cache now, so that no test downloads it
    # within its timeout.
    kafka_lib=$(test/tools/kafka.sh fetch)
    echo "dev.sh: the kafka suite runs Apache Kafka from $kafka_lib" >&2
    install_npm_pkgs "${npm_pkgs[@]}"
    status=0
    setup build
    meson test -C build --print-errorlogs || status=1
    meson test -C build --setup valgrind --suite unit --print-errorlogs || status=1
    setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-asan --no-suite valgrind-daemon --print-errorlogs || status=1
    # The fuzz harnesses under libFuzzer, fuzz_seconds (30) each, two at a
    # time: under two minutes with the build. Only the harnesses:
    # the build with tests already replays their corpora.
    CC=clang setup build-fuzz -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
        -Db_lundef=false
    meson test -C build-fuzz --suite fuzz --print-errorlogs || status=1
    exit $status
    ;;
*)
    echo "usage: deploy/dev.sh run|test" >&2
    exit 2
    ;;
esac
