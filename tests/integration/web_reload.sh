#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# --web.config.file without a restart: SIGHUP applies a changed bcrypt hash (old password 401, new
# one 200, same pid); an invalid new web config keeps the old one and the log says why; the
# certificate and key files rotated on disk (openssl, a new serial) are served at the next
# handshake without a signal, a half-done rotation (new certificate, old key) keeps the old pair.
# A client scrapes over new TLS connections the whole time: not one scrape may fail. Then mutual
# TLS on by SIGHUP, and the client CA file rotated on disk is used without a signal.
source "$(dirname "$0")/../lib.sh"

cd "$TMP"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=hakari test ca" -keyout ca.key -out ca.crt 2>/dev/null
mkcert() { # name serial
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -set_serial "$2" -days 2 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
mkcert first 0x1001
mkcert second 0x2002
[ -s first.crt ] && [ -s second.crt ] || fail "openssl did not make the certificates"
cp first.crt hakari.crt
cp first.key hakari.key

bcrypt() { "$PY" -W ignore -c 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' "$1"; }
h_old=$(bcrypt 'old pass')
h_new=$(bcrypt 'new pass')
h_prom=$(bcrypt 'prom pass')
case $h_old$h_new$h_prom in *'$2b$'*'$2b$'*'$2b$'*) ;; *) fail "no bcrypt hashes: $h_old" ;; esac
webcfg() { # alice's hash
    cat >web.yml.new <<YML
tls_server_config:
  cert_file: hakari.crt
  key_file: hakari.key
basic_auth_users:
  alice: $1
  prom: $h_prom
YML
    mv web.yml.new web.yml
}
webcfg "$h_old"

port=$(free_port)
url="https://127.0.0.1:$port"
bg hakari "$HAKARI" --web.listen-address="127.0.0.1:$port" --web.config.file="$TMP/web.yml" \
    --collection.interval=1s
pid=$BG_PID
code() { curl -sS --cacert ca.crt -o body -w '%{http_code}' "$@"; }
until_true 30 eval '[ "$(code "$url/-/ready" 2>/dev/null)" = 200 ]' || fail "no TLS server: $(cat hakari.log)"
serial() {
    openssl s_client -connect "127.0.0.1:$port" -CAfile ca.crt </dev/null 2>/dev/null |
        openssl x509 -noout -serial | sed 's/^serial=//'
}
[ "$(serial)" = 1001 ] || fail "initial serial: $(serial)"

# The scraper: a new TLS connection per scrape (each one a handshake), as prom, until stopped.
cat >scraper.py <<'PY'
import base64, http.client, os, ssl, sys, time
ctx = ssl.create_default_context(cafile="ca.crt")
auth = "Basic " + base64.b64encode(b"prom:prom pass").decode()
ok = bad = 0
while not os.path.exists("stop"):
    try:
        c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=5)
        c.request("GET", "/metrics/self", headers={"Authorization": auth})
        r = c.getresponse()
        r.read()
        c.close()
        if r.status == 200:
            ok += 1
        else:
            bad += 1
            print("scrape answered", r.status, flush=True)
    except Exception as e:
        bad += 1
        print("scrape failed:", e, flush=True)
    time.sleep(0.02)
with open("scrapes", "w") as f:
    f.write("%d %d\n" % (ok, bad))
PY
bg scraper "$PY" scraper.py "$port"
scraper=$BG_PID

log "SIGHUP with a changed hash: the new password works, the old one is refused"
[ "$(code -u 'alice:old pass' "$url/metrics")" = 200 ] || fail "old password before the reload"
webcfg "$h_new"
kill -HUP "$pid"
until_true 10 eval '[ "$(code -u "alice:new pass" "$url/metrics")" = 200 ]' ||
    fail "new password refused after SIGHUP: $(cat hakari.log)"
[ "$(code -u 'alice:old pass' "$url/metrics")" = 401 ] || fail "old password still accepted"
grep -q 'web config reloaded' hakari.log || fail "reload not logged"
kill -0 "$pid" || fail "hakari died"

log "an invalid web config on SIGHUP keeps the previous one"
cat >web.yml <<YML
basic_auth_users:
  alice: not-a-hash
YML
kill -HUP "$pid"
until_true 10 grep -q 'web config reload failed' hakari.log || fail "failed reload not logged"
grep 'web config reload failed' hakari.log | grep -q 'web.yml:2:10: basic_auth_users.alice' ||
    fail "the log does not say why: $(grep 'reload failed' hakari.log)"
[ "$(code -u 'alice:new pass' "$url/metrics")" = 200 ] || fail "previous web config lost"
[ "$(code "$url/metrics")" = 401 ] || fail "auth off after a failed reload"
# Self-metrics are sampled each collection (1 s).
until_true 10 eval 'code -u "alice:new pass" "$url/metrics/self" >/dev/null &&
    grep -q "^hakari_http_web_config_reloads_total{result=\"failure\"} 1$" body' ||
    fail "failed reload not counted: $(grep reloads body)"
grep -q '^hakari_http_web_config_reloads_total{result="success"} 1$' body || fail "reload not counted"
# Switching HTTPS off is refused too (the listener's protocol is fixed).
printf 'basic_auth_users:\n  alice: %s\n' "$h_new" >web.yml
kill -HUP "$pid"
until_true 10 grep -q 'switching between HTTP and HTTPS needs a restart' hakari.log ||
    fail "TLS removal not refused: $(tail -3 hakari.log)"
webcfg "$h_new"

log "rotated certificate files: the new serial without a signal"
cp second.crt hakari.crt # the key is still the first one's: does not match, keep the old pair
until_true 10 eval 'code -u "alice:new pass" "$url/metrics/self" >/dev/null &&
    grep -q "^hakari_http_tls_credentials_reloads_total{result=\"failure\"} [1-9]" body' ||
    fail "mismatched key not noticed: $(grep tls_cred body)"
[ "$(serial)" = 1001 ] || fail "a half-rotated pair was used"
grep -q 'TLS files changed but cannot be used' hakari.log || fail "mismatch not logged"
cp second.key hakari.key
until_true 10 eval '[ "$(serial)" = 2002 ]' || fail "rotated certificate not served: $(serial)"
grep -q 'new credentials in use' hakari.log || fail "rotation not logged"
# cert-manager style: both files replaced by rename at once.
cp first.crt new.crt && cp first.key new.key && mv new.key hakari.key && mv new.crt hakari.crt
until_true 10 eval '[ "$(serial)" = 1001 ]' || fail "second rotation not served: $(serial)"
[ "$(code -u 'alice:new pass' "$url/-/healthy")" = 200 ] || fail "unhealthy after rotations"

touch stop
until_true 10 test -s scrapes || fail "scraper did not finish: $(cat scraper.log)"
read -r ok bad <scrapes
echo "scrapes during reloads and rotations: $ok ok, $bad failed"
[ "$bad" = 0 ] || fail "$bad scrapes failed: $(cat scraper.log)"
[ "$ok" -ge 20 ] || fail "only $ok scrapes"

log "client CA: on by SIGHUP, then its file rotated on disk (no signal)"
for n in 1 2; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=client ca $n" -keyout "clientca$n.key" -out "clientca$n.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=scraper $n" \
        -keyout "client$n.key" -out "client$n.csr" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in "client$n.csr" -CA "clientca$n.crt" -CAkey "clientca$n.key" \
        -set_serial 7 -days 2 -extfile client.ext -out "client$n.crt" 2>/dev/null
done
cp clientca1.crt clientca.crt
cat >web.yml <<YML
tls_server_config:
  cert_file: hakari.crt
  key_file: hakari.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: clientca.crt
YML
kill -HUP "$pid"
mtls() { code --cert "client$1.crt" --key "client$1.key" "$url/metrics/self" 2>/dev/null; }
until_true 10 eval '[ "$(mtls 1)" = 200 ]' || fail "client certificate of CA 1 refused: $(tail -2 hakari.log)"
[ "$(mtls 2)" = 200 ] && fail "client certificate of CA 2 accepted while CA 1 is configured"
cp clientca2.crt clientca.crt
until_true 10 eval '[ "$(mtls 2)" = 200 ]' || fail "rotated client CA not used"
[ "$(mtls 1)" = 200 ] && fail "client certificate of the old CA still accepted"
kill -0 "$pid" || fail "hakari died"
[ "$(pgrep -f "web.config.file=$TMP/web.yml" | head -1)" = "$pid" ] || fail "not the same process"
