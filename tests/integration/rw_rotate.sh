#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Secret files rotated while hakari runs: basic_auth.password_file,
# authorization.credentials_file and the AWS shared credentials file (SigV4, a session token
# added) are rewritten mid-run (atomically, as a Kubernetes Secret
# volume does); the receiver reads the same file at each request, so from then on only the new
# secret is accepted. Requests must switch within a few seconds, and the requests refused with
# the old secret must be resent, not dropped (nothing failed, lost or duplicated).
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"
printf 'pw-SECRET-1\n' >"$TMP/pw"
printf 'bearer-SECRET-2' >"$TMP/tok"
Q="    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 200ms, max_shards: 1, min_backoff: 100ms, max_backoff: 1s"
PHASE_MID="printf 'pw-SECRET-3\n' >'$TMP/pw.new' && mv '$TMP/pw.new' '$TMP/pw'"
phase basicrot "--basic-file hk:$TMP/pw" "$Q}
    basic_auth: {username: hk, password_file: $TMP/pw}" 8
PHASE_MID="printf 'bearer-SECRET-4' >'$TMP/tok.new' && mv '$TMP/tok.new' '$TMP/tok'"
phase bearerrot "--bearer-file $TMP/tok" "$Q}
    authorization: {credentials_file: $TMP/tok}" 8
printf '[hk]\naws_access_key_id = AKIDROT1\naws_secret_access_key = aws-SECRET-5\n' >"$TMP/aws-credentials"
PHASE_ENV=(AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_ROLE_ARN= AWS_SHARED_CREDENTIALS_FILE="$TMP/aws-credentials")
PHASE_MID="printf '[hk]\naws_access_key_id = AKIDROT2\naws_secret_access_key = aws-SECRET-6\naws_session_token = SESSION-7\n' >'$TMP/aws.new' && mv '$TMP/aws.new' '$TMP/aws-credentials'"
phase sigv4rot "--sigv4-file $TMP/aws-credentials:hk:us-east-2" "$Q}
    sigv4: {region: us-east-2, profile: hk}" 8
PHASE_MID=
PHASE_ENV=()
if grep -l -E 'SECRET-[0-9]' "$TMP"/hakari-*.log "$TMP"/check-*.out; then
    fail "a secret appeared in hakari's output"
fi
echo PASS
