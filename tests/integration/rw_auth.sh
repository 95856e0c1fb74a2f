#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Authentication for managed backends against rw_fault_receiver.py: basic auth (password_file),
# bearer credentials_file plus a tenant header (X-Scope-OrgID), OAuth2 client credentials (token
# fetched, cached, refreshed on 401 and the same data resent), SigV4 for AMP (service aps,
# signature recomputed by the receiver) from the environment with a session token and from a
# shared credentials file, and mTLS with tls_config.server_name. Secrets must not appear in
# hakari's logs or in --config.check output.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"
command -v openssl >/dev/null || fail "openssl needed to make test certificates"
printf 'pw-SECRET-1\n' >"$TMP/pw"
printf 'bearer-SECRET-2' >"$TMP/tok"
printf 'oauth-SECRET-3\n' >"$TMP/client-secret"
Q="    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 200ms, max_shards: 1, min_backoff: 100ms, max_backoff: 1s"

phase basic "--basic hk:pw-SECRET-1" "$Q}
    basic_auth: {username: hk, password_file: $TMP/pw}" 3
phase bearer "--bearer bearer-SECRET-2" "$Q}
    headers: {X-Scope-OrgID: team-a}
    authorization: {credentials_file: $TMP/tok}" 3
phase oauth2 "--oauth2 hk-client:oauth-SECRET-3 --script ok,expire" "$Q}
    oauth2:
      client_id: hk-client
      client_secret_file: $TMP/client-secret
      token_url: http://127.0.0.1:@PORT@/token
      scopes: ['https://monitor.azure.com//.default']
      endpoint_params: {resource: x}" 4
PHASE_ENV=(AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=aws-SECRET-4 AWS_SESSION_TOKEN=SESSION-TOKEN)
phase sigv4 "--sigv4 AKIDTEST:aws-SECRET-4:eu-west-1:SESSION-TOKEN" "$Q}
    sigv4: {region: eu-west-1}" 3
printf '[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n\n[hk]\naws_access_key_id = AKIDFILE\naws_secret_access_key = aws-SECRET-5\n' >"$TMP/aws-credentials"
PHASE_ENV=(AWS_SHARED_CREDENTIALS_FILE="$TMP/aws-credentials")
phase sigv4file "--sigv4 AKIDFILE:aws-SECRET-5:us-east-2" "$Q}
    sigv4: {region: us-east-2, profile: hk}" 3
PHASE_ENV=()

# mTLS: a CA, a server certificate for the name hk-test (the URL says 127.0.0.1, so only
# server_name makes verification pass) and a client certificate.
cd "$TMP"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=hk-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=hk-test 2>/dev/null
printf 'subjectAltName=DNS:hk-test\n' >srv.ext
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile srv.ext 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj /CN=hakari 2>/dev/null
openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 2 2>/dev/null
cd - >/dev/null
PHASE_SCHEME=https
phase mtls "--tls $TMP/srv.crt:$TMP/srv.key:$TMP/ca.crt" "$Q}
    tls_config: {ca_file: $TMP/ca.crt, cert_file: $TMP/cli.crt, key_file: $TMP/cli.key, server_name: hk-test, min_version: TLS12}" 3
PHASE_SCHEME=http

if grep -l -E 'SECRET-[0-9]' "$TMP"/hakari-*.log "$TMP"/check-*.out; then
    fail "a secret appeared in hakari's output"
fi
echo PASS
