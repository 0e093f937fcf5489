#!/bin/bash
# TLS and basic auth from a web config file in exporter-toolkit's format
# ([http] web_config_file): a certificate made here with openssl, a user's
# bcrypt hash made with htpasswd. curl with the right password gets
# /metrics over HTTPS; no, a wrong or an unknown user's password gets 401
# with WWW-Authenticate; plain HTTP gets no answer; a real Prometheus
# scrapes it with its own TLS and basic auth; an unknown key in the file is
# refused with the file, line and key.
# Embedded broker only: it is about the HTTP side.
SB_BIN=$1
SB_SOURCE_ROOT=$2
. "$SB_SOURCE_ROOT/test/integration/lib.sh"

command -v openssl > /dev/null || fail "openssl is not installed"
command -v htpasswd > /dev/null || fail "htpasswd (apache2-utils) is not installed"
W=$SB_WORK
# header FILE NAME: the value of a response header in a curl -D dump, or empty.
header() { tr -d '\r' < "$1" | awk -v n="$2" 'tolower($0) ~ "^" tolower(n) ":" { sub(/^[^:]*: */, ""); print; exit }'; }

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$W/server.key" -out "$W/server.crt" 2> "$W/openssl.log" || fail "openssl req failed: $(cat "$W/openssl.log")"
hash=$(htpasswd -nbBC 10 prometheus 's3cret pass' | cut -d: -f2-)
cat > "$W/web.yml" <<YAML
# exporter-toolkit's web config
tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  prometheus: $hash
YAML

ds=$(make_dataset)
conf=$W/sb.conf
write_config "$conf" "$ds"
set_key "$conf" http web_config_file web.yml

# An unknown key is refused by --check-config with the file, line and key.
cp "$W/web.yml" "$W/web.good"
printf 'tls_server_config_typo:\n  cert_file: server.crt\n' >> "$W/web.yml"
rc=0
"$SB_BIN" --check-config --config "$conf" > "$W/check.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "--check-config accepted an unknown key in the web config"
grep -qF "$W/web.yml:7: unknown key \"tls_server_config_typo\"" "$W/check.out" ||
    fail "--check-config did not name the web config's file, line and key: $(cat "$W/check.out")"
grep -qF "$conf:" "$W/check.out" || fail "--check-config did not name the configuration file: $(cat "$W/check.out")"
cp "$W/web.good" "$W/web.yml"
"$SB_BIN" --check-config --config "$conf" > "$W/check.out" 2>&1 || fail "--check-config refused the web config: $(cat "$W/check.out")"

start_instance "$conf" "$W/sb-tls.log"
grep -q 'msg="http listening".* tls=true basic_auth_users=1' "$W/sb-tls.log" || fail "the daemon does not say it serves TLS with one user"
URL=https://127.0.0.1:$INST_PORT
TLS=(--cacert "$W/server.crt")
authorized() { curl -sf --max-time 10 "${TLS[@]}" -u 'prometheus:s3cret pass' "$URL/healthz" > /dev/null; }
wait_for 60 "the daemon to answer over HTTPS" authorized

# The right password: the certificate verifies and /metrics comes.
curl -sf --max-time 10 "${TLS[@]}" -u 'prometheus:s3cret pass' -D "$W/ok.h" -o "$W/ok.txt" "$URL/metrics" ||
    fail "HTTPS with the right password failed"
promtool check metrics < "$W/ok.txt" > "$W/promtool.out" 2>&1 && [ ! -s "$W/promtool.out" ] ||
    { cat "$W/promtool.out" >&2; fail "promtool check metrics failed on the HTTPS scrape"; }
grep -q '^sensorbridge_build_info{' "$W/ok.txt" || fail "the HTTPS scrape has no sensorbridge_build_info"

# No credentials, a wrong password, an unknown user, and a path that does
# not exist: 401 with the challenge, and nothing else.
for cred in '' 'prometheus:s3cret' 'prometheus:s3cret pass ' 'grafana:s3cret pass'; do
    args=()
    [ -z "$cred" ] || args=(-u "$cred")
    for path in /metrics /nothing-here; do
        code=$(curl -s --max-time 10 "${TLS[@]}" "${args[@]}" -D "$W/no.h" -o "$W/no.body" -w '%{http_code}' "$URL$path")
        [ "$code" = 401 ] || fail "credentials '$cred' on $path: status $code, expected 401"
        [ "$(header "$W/no.h" WWW-Authenticate)" = 'Basic realm="sensorbridge"' ] ||
            fail "credentials '$cred': WWW-Authenticate is '$(header "$W/no.h" WWW-Authenticate)'"
        grep -q sensorbridge_ "$W/no.body" && fail "credentials '$cred': the 401 carries metrics"
    done
done
grep -q 'msg="http request refused: wrong user or password"' "$W/sb-tls.log" || fail "a wrong password is not logged"

# Plain HTTP on the TLS port gets no HTTP answer.
rc=0
code=$(curl -s --max-time 10 -o "$W/plain.body" -w '%{http_code}' "http://127.0.0.1:$INST_PORT/metrics") || rc=$?
[ "$rc" != 0 ] && [ "$code" = 000 ] || fail "plain HTTP on the TLS port: curl exit $rc, status $code"
grep -q sensorbridge_ "$W/plain.body" 2>/dev/null && fail "plain HTTP got metrics"

# A real Prometheus, with its own TLS and basic auth.
job=sensorbridge-tls
start_prometheus_job "$job" "127.0.0.1:$INST_PORT" "    scheme: https
    tls_config:
      ca_file: $W/server.crt
    basic_auth:
      username: prometheus
      password: 's3cret pass'"
wait_query "up{job=\"$job\"}" 1 60
wait_query "sensorbridge_build_info{job=\"$job\"}" 1 30
stop_pid "$PROM_PID" prometheus 30
stop_pid "$INST_PID" "the TLS daemon" 30
echo "ok: http tls and basic auth"
