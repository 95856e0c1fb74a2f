#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# --web.config.file: TLS (server cert, client certs verified against a CA, minimum version),
# basic auth with bcrypt hashes, extra headers; promtool accepts our example file; plain HTTP to
# the TLS port fails cleanly and does not disturb the server. Certificates are made with openssl.
source "$(dirname "$0")/../lib.sh"

cd "$TMP"
mkcert() { # name CN ca-prefix eku
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
        -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=%s\n' "$4" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
for ca in ca otherca; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=hakari test $ca" -keyout "$ca.key" -out "$ca.crt" 2>/dev/null
done
mkcert hakari 127.0.0.1 ca serverAuth
mkcert client scraper ca clientAuth
mkcert rogue scraper otherca clientAuth
[ -s hakari.crt ] && [ -s client.crt ] && [ -s rogue.crt ] || fail "openssl did not make the certificates"

log "the example file: promtool and hakari accept it"
cp "$TOP/docs/web-config.example.yml" example.yml
promtool check web-config example.yml || fail "promtool rejects docs/web-config.example.yml"
"$HAKARI" --config.check --web.config.file="$TMP/example.yml" >out 2>&1 ||
    fail "hakari rejects docs/web-config.example.yml: $(cat out)"

log "bad web configs are rejected with file:line:col"
badweb() { # name expected-fragment <<< yaml
    cat >"$1.yml"
    if "$HAKARI" --config.check --web.config.file="$TMP/$1.yml" >out 2>&1; then fail "$1: accepted"; fi
    grep -qF -- "$TMP/$1.yml:$2" out || fail "$1: want \"$1.yml:$2\", got: $(cat out)"
    if promtool check web-config "$1.yml" >/dev/null 2>&1; then fail "$1: promtool accepts it; so should we"; fi
}
badweb unknown_key '2:3: unknown key "certfile"' <<'YML'
tls_server_config:
  certfile: hakari.crt
  key_file: hakari.key
YML
badweb bad_hash '2:10: basic_auth_users.alice: expected a bcrypt hash' <<'YML'
basic_auth_users:
  alice: plaintext-password
YML
badweb mismatch '2:14: certificate "hakari.crt" with key "client.key"' <<'YML'
tls_server_config:
  cert_file: hakari.crt
  key_file: client.key
YML
badweb bad_auth_type '4:21: invalid client_auth_type "Sometimes"' <<'YML'
tls_server_config:
  cert_file: hakari.crt
  key_file: hakari.key
  client_auth_type: Sometimes
YML
badweb ca_without_policy '4:19: client_ca_file is set but client_auth_type is NoClientCert' <<'YML'
tls_server_config:
  cert_file: hakari.crt
  key_file: hakari.key
  client_ca_file: ca.crt
YML
badweb missing_file '2:14: cannot read "nope.crt"' <<'YML'
tls_server_config:
  cert_file: nope.crt
  key_file: hakari.key
YML
badweb bad_version '4:16: unknown TLS version "TLS14"' <<'YML'
tls_server_config:
  cert_file: hakari.crt
  key_file: hakari.key
  min_version: TLS14
YML

hash=$(/usr/bin/python3 -W ignore -c 'import crypt; print(crypt.crypt("s3cret pass", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))')
case $hash in '$2b$'*) ;; *) fail "could not make a bcrypt hash: $hash" ;; esac

log "TLS + basic auth"
port=$(free_port)
url="https://127.0.0.1:$port"
cat >web1.yml <<YML
tls_server_config:
  cert_file: hakari.crt
  key_file: hakari.key
  min_version: TLS13
http_server_config:
  headers:
    X-Frame-Options: deny
basic_auth_users:
  alice: $hash
  bob: $hash
YML
bg hakari1 "$HAKARI" --web.listen-address="127.0.0.1:$port" --web.config.file="$TMP/web1.yml" --collection.interval=1s
c() { curl -sS --cacert ca.crt -o body -D headers -w '%{http_code}' "$@"; }
until_true 30 eval '[ "$(c -u "alice:s3cret pass" "$url/-/ready" 2>/dev/null)" = 200 ]' || fail "TLS server did not come up: $(cat "$TMP/hakari1.log")"
[ "$(c "$url/metrics")" = 401 ] || fail "no credentials: not 401"
# The probes answer without credentials (they disclose nothing); every other path needs them.
[ "$(c "$url/-/healthy")" = 200 ] || fail "/-/healthy without credentials: not 200"
[ "$(c "$url/-/ready")" = 200 ] || fail "/-/ready without credentials: not 200"
[ "$(c -u 'alice:wrong' "$url/-/healthy")" = 200 ] || fail "/-/healthy with wrong credentials: not 200"
for path in / /metrics/node /metrics/cadvisor /metrics/self /nope; do
    [ "$(c "$url$path")" = 401 ] || fail "$path without credentials: not 401"
done
grep -qi '^www-authenticate: Basic realm="hakari"' headers || fail "401 without WWW-Authenticate: $(cat headers)"
grep -qi '^x-frame-options: deny' headers || fail "configured header missing on 401"
[ "$(c -u 'alice:wrong' "$url/metrics")" = 401 ] || fail "wrong password: not 401"
[ "$(c -u 'mallory:s3cret pass' "$url/metrics")" = 401 ] || fail "unknown user: not 401"
[ "$(c -u 'alice:s3cret pas' "$url/metrics")" = 401 ] || fail "password prefix: not 401"
[ "$(c -u 'alice:s3cret pass' "$url/metrics")" = 200 ] || fail "right credentials: not 200"
grep -q '^hakari_build_info' body || fail "no metrics over TLS"
grep -qi '^x-frame-options: deny' headers || fail "configured header missing"
[ "$(c -u 'bob:s3cret pass' "$url/metrics/self")" = 200 ] || fail "second user refused"
[ "$(c -u 'alice:s3cret pass' -X POST "$url/metrics")" = 405 ] || fail "POST with auth: not 405"
# The verification cache: many scrapes, few bcrypt runs (each costs tens of ms by design).
for _ in $(seq 20); do c -u 'alice:s3cret pass' "$url/metrics/self" >/dev/null; done
sleep 1.5
c -u 'alice:s3cret pass' "$url/metrics" >/dev/null
unauth=$(sed -n 's/^hakari_http_unauthorized_total //p' body)
[ "${unauth:-0}" -ge 9 ] || fail "hakari_http_unauthorized_total=$unauth, want >= 9"
# 3 wrong attempts that reached bcrypt (unknown user included, against a dummy hash) + 1 per
# user that succeeded; the 20+ other successful requests were answered from the cache.
bcrypts=$(sed -n 's/^hakari_http_auth_bcrypt_total //p' body)
echo "requests with credentials: 26, bcrypt runs: $bcrypts"
[ "${bcrypts:-99}" -le 6 ] || fail "hakari_http_auth_bcrypt_total=$bcrypts: the cache is not used"
[ "${bcrypts:-0}" -ge 4 ] || fail "hakari_http_auth_bcrypt_total=$bcrypts: wrong passwords skipped bcrypt?"
# TLS 1.3 minimum: a TLS 1.2-only client is refused in the handshake.
if curl -sS --cacert ca.crt --tls-max 1.2 -u 'alice:s3cret pass' -o /dev/null "$url/-/healthy" 2>err; then
    fail "TLS 1.2 client accepted although min_version is TLS13"
fi
# Plain HTTP to the TLS port fails (no HTTP answer), and the server keeps serving.
if out=$(curl -sS --max-time 10 "http://127.0.0.1:$port/metrics" 2>&1); then
    fail "plain HTTP on the TLS port got an answer: $out"
fi
echo "plain HTTP on the TLS port: $out"
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 10 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
s.sendall(sys.stdin.buffer.read())
data = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
except (ConnectionResetError, socket.timeout):
    pass
assert not data.startswith(b"HTTP/"), data[:80]
print("raw plain request: %d bytes back, no HTTP response" % len(data))' "$port" || fail "raw plain HTTP"
[ "$(c -u 'alice:s3cret pass' "$url/-/healthy")" = 200 ] || fail "server unhealthy after plain-HTTP attempts"
kill -0 "$BG_PID" || fail "hakari died"

log "mutual TLS: RequireAndVerifyClientCert"
port2=$(free_port)
url2="https://127.0.0.1:$port2"
cat >web2.yml <<YML
tls_server_config:
  cert_file: hakari.crt
  key_file: hakari.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
YML
bg hakari2 "$HAKARI" --web.listen-address="127.0.0.1:$port2" --web.config.file="$TMP/web2.yml" --collection.interval=1s
mc() { curl -sS --cacert ca.crt -o body -w '%{http_code}' "$@"; }
until_true 30 eval '[ "$(mc --cert client.crt --key client.key "$url2/-/ready" 2>/dev/null)" = 200 ]' ||
    fail "mTLS server did not accept the trusted client: $(cat "$TMP/hakari2.log")"
[ "$(mc --cert client.crt --key client.key "$url2/metrics")" = 200 ] || fail "trusted client cert refused"
if mc "$url2/metrics" 2>err; then fail "no client certificate accepted"; fi
echo "no client cert: $(cat err)"
if mc --cert rogue.crt --key rogue.key "$url2/metrics" 2>err; then fail "client cert from another CA accepted"; fi
echo "untrusted client cert: $(cat err)"
# A server certificate used as a client certificate has the wrong key purpose.
if mc --cert hakari.crt --key hakari.key "$url2/metrics" 2>err; then fail "serverAuth-only cert accepted as client"; fi
[ "$(mc --cert client.crt --key client.key "$url2/metrics")" = 200 ] || fail "server unhealthy after refused handshakes"
rejected_counted() {
    mc --cert client.crt --key client.key "$url2/metrics" >/dev/null &&
        grep -q '^hakari_http_tls_client_cert_rejected_total [2-9]' body
}
until_true 10 rejected_counted || fail "refused certificates not counted: $(grep tls_client body)"

log "VerifyClientCertIfGiven: no certificate is fine, a bad one is not"
port3=$(free_port)
url3="https://127.0.0.1:$port3"
sed 's/RequireAndVerifyClientCert/VerifyClientCertIfGiven/' web2.yml >web3.yml
bg hakari3 "$HAKARI" --web.listen-address="127.0.0.1:$port3" --web.config.file="$TMP/web3.yml"
until_true 30 eval '[ "$(mc "$url3/-/ready" 2>/dev/null)" = 200 ]' || fail "VerifyClientCertIfGiven refused a client without cert"
[ "$(mc --cert client.crt --key client.key "$url3/-/healthy")" = 200 ] || fail "trusted cert refused"
if mc --cert rogue.crt --key rogue.key "$url3/-/healthy" 2>err; then fail "untrusted cert accepted"; fi

log "a real Prometheus scrapes over mTLS with basic auth"
port4=$(free_port)
cat >web4.yml <<YML
tls_server_config:
  cert_file: hakari.crt
  key_file: hakari.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
basic_auth_users:
  prometheus: $hash
YML
bg hakari4 "$HAKARI" --web.listen-address="127.0.0.1:$port4" --web.config.file="$TMP/web4.yml" --collection.interval=1s
cat >prometheus.yml <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: hakari-tls
    scheme: https
    basic_auth:
      username: prometheus
      password: "s3cret pass"
    tls_config:
      ca_file: $TMP/ca.crt
      cert_file: $TMP/client.crt
      key_file: $TMP/client.key
    static_configs:
      - targets: ["127.0.0.1:$port4"]
YML
start_prometheus "$TMP/prometheus.yml"
up_is_1() { prom_query "$PROM_URL" 'up{job="hakari-tls"}' | grep -q '"1"\]'; }
until_true 60 up_is_1 || fail "Prometheus could not scrape over mTLS + basic auth: $(curl -s "$PROM_URL/api/v1/targets" | head -c 800)"
echo "PASS webconfig"
