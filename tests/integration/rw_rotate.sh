#!/usr/bin/env bash
# Secret files rotated while hakari runs: basic_auth.password_file and
# authorization.credentials_file are rewritten mid-run (atomically, as a Kubernetes Secret
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
PHASE_MID=
if grep -l -E 'SECRET-[0-9]' "$TMP"/hakari-*.log "$TMP"/check-*.out; then
    fail "a secret appeared in hakari's output"
fi
echo PASS
