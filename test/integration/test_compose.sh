#!/bin/bash
# deploy/compose, checked as far as a machine without Docker can: Docker
# and the images are not run here (docs/operations.md, Compose, says what
# that leaves unproven). Checked:
#   - docker-compose.yml, both Prometheus configurations and the Grafana
#     provisioning files are YAML (Debian's python3-yaml);
#   - every image has a pinned tag; every bind-mounted path, the build
#     context, the Dockerfile and what it copies or runs from the
#     repository exist; every named volume is declared; the image's build
#     stage installs deploy/dev.sh's build packages and its run-time stage
#     the packages of the libraries the daemon links;
#   - the three Kafka nodes: node ids, the controller quorum, advertised
#     listeners naming their own service, one valid cluster id;
#   - the compose configuration (compose-conf.sh on conf/sensorbridge.conf)
#     passes `sensorbridge --check-config`, names exactly the compose
#     brokers, replicates on no more brokers than there are with fewer in
#     sync than replicas, and listens on
#     every interface on the port compose publishes, the Dockerfile exposes
#     and Prometheus scrapes;
#   - `promtool check config` on the compose Prometheus configuration in a
#     tree laid out as its volumes lay out /etc/prometheus, finding every
#     rule file of deploy/prometheus/rules;
#   - Grafana's data source URL is the compose Prometheus, and its
#     dashboards provider reads where the dashboards are mounted.
# Embedded broker only: it starts no daemon.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"
C=$SB_SOURCE_ROOT/deploy/compose
errors=0
problem() {
    echo "COMPOSE: $*" >&2
    errors=$((errors + 1))
}

for f in "$C/docker-compose.yml" "$C/prometheus.yml" "$SB_SOURCE_ROOT/deploy/prometheus/prometheus.yml" \
    "$SB_SOURCE_ROOT"/deploy/grafana/provisioning/*/*.yml; do
    yaml_json "$f" > "$SB_WORK/$(basename "$(dirname "$f")")-$(basename "$f").json"
done
compose=$SB_WORK/compose-docker-compose.yml.json
jq -e '.services | length >= 6' "$compose" > /dev/null || fail "docker-compose.yml has no services"
svc() { jq -r --arg s "$1" ".services[\$s]$2" "$compose"; }

# ---- images, paths, volumes ----
while IFS=$'\t' read -r s image; do
    [[ $image =~ ^[a-z0-9./_-]+:[A-Za-z0-9._-]+$ ]] && [[ $image != *:latest ]] ||
        problem "service $s: image '$image' has no pinned tag"
done < <(jq -r '.services | to_entries[] | select(.value.image) | [.key, .value.image] | @tsv' "$compose")
while IFS=$'\t' read -r s context dockerfile; do
    [ -d "$C/$context" ] || { problem "service $s: build context $context does not exist"; continue; }
    df=$C/$context/$dockerfile
    [ -f "$df" ] || { problem "service $s: Dockerfile $dockerfile is not in $context"; continue; }
    # COPY sources from the context (not --from a stage), and repository
    # paths its RUN lines use.
    while read -r src; do
        [ -e "$C/$context/$src" ] || problem "$dockerfile: COPY $src: not in the build context"
    done < <(awk '$1 == "COPY" && $2 !~ /^--from/ { for (i = 2; i < NF; i++) print $i }' "$df")
    while read -r p; do
        [ -e "$C/$context/$p" ] || problem "$dockerfile: $p: not in the build context"
    done < <(grep -o 'deploy/[A-Za-z0-9_./-]*' "$df" | sort -u)
done < <(jq -r '.services | to_entries[] | select(.value.build)
                | [.key, .value.build.context, (.value.build.dockerfile // "Dockerfile")] | @tsv' "$compose")
[ "$(svc sensorbridge .build.dockerfile)" = deploy/compose/Dockerfile ] ||
    problem "service sensorbridge is not built from deploy/compose/Dockerfile"
# The image's build stage installs what deploy/dev.sh builds with, and its
# run-time stage the package of every library the daemon links directly
# (apt brings what those need). libc6 is in every Debian image; a sanitizer
# build's runtimes are its own, not the image's.
df=$C/Dockerfile
eval "$(sed -n '/^build_pkgs=(/,/)/p' "$SB_SOURCE_ROOT/deploy/dev.sh")"
[ ${#build_pkgs[@]} -gt 0 ] || fail "no build_pkgs in deploy/dev.sh"
awk '/^FROM/ { n++ } n == 1' "$df" > "$SB_WORK/stage1"
awk '/^FROM/ { n++ } n == 2' "$df" > "$SB_WORK/stage2"
for p in "${build_pkgs[@]}"; do
    grep -qw -- "$p" "$SB_WORK/stage1" || problem "the Dockerfile's build stage does not install $p (deploy/dev.sh build_pkgs)"
done
# owner PATH: the Debian package that holds the library at PATH, whichever
# of its names (ldd's, the real file's, the real file's without the /usr of
# a merged /usr) dpkg recorded; empty if none.
owner() {
    local real f
    real=$(realpath "$1")
    for f in "$1" "$real" "${real#/usr}"; do
        dpkg -S "$f" 2> /dev/null | head -n 1 | cut -d: -f1 && return 0
    done
    return 0
}
while read -r so path; do
    case $so in libc.so.* | libm.so.* | libasan.so.* | libubsan.so.*) continue ;; esac
    p=$(owner "$path")
    [ -n "$p" ] || { problem "no Debian package holds $path ($so)"; continue; }
    grep -qw -- "$p" "$SB_WORK/stage2" ||
        problem "the Dockerfile's run-time stage does not install $p, which has $so that sensorbridge links"
done < <(readelf -d "$SB_BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r so; do
    echo "$so $(ldd "$SB_BIN" | awk -v s="$so" '$1 == s { print $3 }')"
done)
while IFS=$'\t' read -r s src dst; do
    case $src in
    .* | /*) [ -e "$C/$src" ] || problem "service $s: volume $src (for $dst) does not exist" ;;
    *) jq -e --arg v "$src" '.volumes | has($v)' "$compose" > /dev/null ||
        problem "service $s: named volume $src is not declared" ;;
    esac
done < <(jq -r '.services | to_entries[] | .key as $s | (.value.volumes // [])[]
                | split(":") | [$s, .[0], .[1]] | @tsv' "$compose")

# ---- Kafka ----
mapfile -t kafka < <(jq -r '.services | keys[] | select(test("^kafka[0-9]+$"))' "$compose")
[ ${#kafka[@]} = 3 ] || problem "${#kafka[@]} Kafka services, not 3"
voters=$(svc "${kafka[0]}" .environment.KAFKA_CONTROLLER_QUORUM_VOTERS)
cluster_id=$(svc "${kafka[0]}" .environment.CLUSTER_ID)
want_voters=() advertised=()
for s in "${kafka[@]}"; do
    id=$(svc "$s" .environment.KAFKA_NODE_ID)
    [ "$(svc "$s" .environment.KAFKA_PROCESS_ROLES)" = broker,controller ] ||
        problem "$s: not a combined broker and controller"
    [ "$(svc "$s" .environment.KAFKA_CONTROLLER_QUORUM_VOTERS)" = "$voters" ] ||
        problem "$s: another controller quorum than ${kafka[0]}"
    [ "$(svc "$s" .environment.CLUSTER_ID)" = "$cluster_id" ] || problem "$s: another cluster id"
    listeners=$(svc "$s" .environment.KAFKA_LISTENERS)
    pport=$(sed -n 's/.*PLAINTEXT:\/\/[^:]*:\([0-9]*\).*/\1/p' <<< "$listeners")
    cport=$(sed -n 's/.*CONTROLLER:\/\/[^:]*:\([0-9]*\).*/\1/p' <<< "$listeners")
    want_voters+=("$id@$s:$cport")
    adv=$(svc "$s" .environment.KAFKA_ADVERTISED_LISTENERS)
    [ "$adv" = "PLAINTEXT://$s:$pport" ] ||
        problem "$s: advertises '$adv', not its service and PLAINTEXT port ($s:$pport)"
    advertised+=("$s:$pport")
done
[ "$voters" = "$(IFS=,; echo "${want_voters[*]}")" ] ||
    problem "controller quorum '$voters', the nodes are ${want_voters[*]}"
# A Kafka cluster id: 16 bytes in URL-safe base64 without padding.
[ "$(tr -- '-_' '+/' <<< "$cluster_id==" | base64 -d 2> /dev/null | wc -c)" = 16 ] &&
    [ ${#cluster_id} = 22 ] || problem "CLUSTER_ID '$cluster_id' is not 16 bytes of URL-safe base64"

# ---- sensorbridge ----
conf=$SB_WORK/compose.conf
sh "$C/compose-conf.sh" < "$SB_SOURCE_ROOT/conf/sensorbridge.conf" > "$conf" ||
    fail "compose-conf.sh did not adapt conf/sensorbridge.conf"
# key SECTION KEY: its value in the compose configuration.
key() {
    awk -v sec="$1" -v k="$2" '/^\[/ { cur = substr($0, 2, index($0, "]") - 2) }
        cur == sec && $1 == k && $2 == "=" { sub(/^[^=]*=[ \t]*/, ""); print; exit }' "$conf"
}
brokers=$(key kafka brokers)
[ "$(tr , '\n' <<< "$brokers" | sort)" = "$(printf '%s\n' "${advertised[@]}" | sort)" ] ||
    problem "[kafka] brokers = $brokers, the compose brokers are ${advertised[*]}"
rf=$(key kafka replication_factor)
[[ $rf =~ ^[0-9]+$ ]] && [ "$rf" -le ${#kafka[@]} ] ||
    problem "[kafka] replication_factor = $rf with ${#kafka[@]} brokers"
isr=$(key kafka topic.min.insync.replicas)
[[ $isr =~ ^[0-9]+$ ]] && [ "$isr" -lt "$rf" ] ||
    problem "[kafka] topic.min.insync.replicas = $isr: not fewer than the $rf replicas, so one broker down stops writes"
listen=$(key http listen)
port=${listen##*:}
[ "${listen%:*}" = 0.0.0.0 ] || problem "[http] listen = $listen: Prometheus's container cannot reach it"
svc sensorbridge '.ports[]' | grep -qx "[0-9]*:$port" ||
    problem "service sensorbridge publishes $(svc sensorbridge '.ports | join(" ")'), not the daemon's port $port"
grep -qx "EXPOSE $port" "$C/Dockerfile" || problem "the Dockerfile does not EXPOSE $port"
# The image's dataset is the repository's, installed by meson; here the
# repository's copy stands in for it.
sed -e "s|^dataset = .*|dataset = $SB_SOURCE_ROOT/datasets/uci-hydraulic|" \
    -e "s|^model = .*|model = $SB_SOURCE_ROOT/conf/condition-model.json|" "$conf" > "$SB_WORK/check.conf"
"$SB_BIN" --check-config --config "$SB_WORK/check.conf" > "$SB_WORK/check.log" 2>&1 ||
    problem "sensorbridge --check-config refuses the compose configuration: $(cat "$SB_WORK/check.log")"

# ---- Prometheus ----
prom=$SB_WORK/compose-prometheus.yml.json
[ "$(jq -r '[.scrape_configs[] | select(.job_name == "sensorbridge") | .static_configs[].targets[]] | join(" ")' "$prom")" = \
    "sensorbridge:$port" ] || problem "compose Prometheus does not scrape sensorbridge:$port (job sensorbridge)"
# /etc/prometheus as the volumes lay it out, then promtool on the file the
# command names.
root=$SB_WORK/prometheus-root
while IFS=$'\t' read -r src dst; do
    mkdir -p "$root$(dirname "$dst")"
    cp -r "$C/$src" "$root$dst"
done < <(svc prometheus '.volumes[] | split(":") | select(.[0] | startswith(".")) | [.[0], .[1]] | @tsv')
config=$(svc prometheus '.command[]' | sed -n 's/^--config\.file=//p')
[ -n "$config" ] || problem "the prometheus service's command names no --config.file"
promtool check config "$root$config" > "$SB_WORK/promtool.log" 2>&1 ||
    problem "promtool check config $config: $(cat "$SB_WORK/promtool.log")"
n=$(ls "$SB_SOURCE_ROOT"/deploy/prometheus/rules/*.yml | wc -l)
grep -q "SUCCESS: $n rule files found" "$SB_WORK/promtool.log" ||
    problem "promtool did not find the $n rule files of deploy/prometheus/rules through the compose mounts: $(cat "$SB_WORK/promtool.log")"
svc prometheus '.ports[]' | grep -qx '[0-9]*:9090' || problem "service prometheus does not publish 9090"

# ---- Grafana ----
url=$(svc grafana .environment.SB_PROMETHEUS_URL)
[ "$url" = http://prometheus:9090 ] || problem "Grafana's SB_PROMETHEUS_URL is '$url', not http://prometheus:9090"
[ "$(jq -r '.datasources[0].url' "$SB_WORK/datasources-prometheus.yml.json")" = '${SB_PROMETHEUS_URL}' ] ||
    problem "the provisioned data source does not take its URL from SB_PROMETHEUS_URL"
dash_path=$(jq -r '.providers[0].options.path' "$SB_WORK/dashboards-sensorbridge.yml.json")
svc grafana '.volumes[]' | grep -qx "../grafana/dashboards:$dash_path:ro" ||
    problem "the dashboards provider reads $dash_path, where compose does not mount deploy/grafana/dashboards"
svc grafana '.volumes[]' | grep -qx '../grafana/provisioning:/etc/grafana/provisioning:ro' ||
    problem "compose does not mount deploy/grafana/provisioning as Grafana's provisioning"

[ "$errors" = 0 ] || fail "$errors problem(s) in deploy/compose"
echo "ok: compose: ${#kafka[@]} brokers ($brokers), sensorbridge :$port, prometheus, grafana"
