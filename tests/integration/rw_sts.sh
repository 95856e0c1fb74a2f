#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SigV4 credentials from STS, as on EKS with IRSA (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE →
# AssumeRoleWithWebIdentity) and with sigv4.role_arn on top (AssumeRole signed with the web
# identity keys, session token included). The STS stub in rw_fault_receiver.py checks each call
# (role ARN, the token file's current content, AssumeRole's signature) and issues keys that
# expire after 5-6 s; the receiver accepts only requests signed with a key valid at that moment.
# Remote-write must go on across several renewals with nothing refused, lost or duplicated, and
# the web identity token file is rotated mid-run (as the kubelet does) and re-read.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"
printf 'eyJ-webid-SECRET-1\n' >"$TMP/webid-token"
Q="    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 200ms, max_shards: 1, min_backoff: 100ms, max_backoff: 1s"
WEBID_ROLE=arn:aws:iam::123456789012:role/hakari-irsa
PHASE_ENV=(AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_PROFILE= AWS_REGION=eu-west-1
    AWS_ROLE_ARN=$WEBID_ROLE AWS_WEB_IDENTITY_TOKEN_FILE="$TMP/webid-token"
    AWS_ENDPOINT_URL_STS=http://127.0.0.1:@PORT@/sts)
PHASE_MID="printf 'eyJ-webid-SECRET-2\n' >'$TMP/webid-token.new' && mv '$TMP/webid-token.new' '$TMP/webid-token'"
phase webid "--sts-webid-role $WEBID_ROLE --sts-token-file $TMP/webid-token --sts-life 5 --sigv4-sts eu-west-1" "$Q}
    sigv4: {region: eu-west-1}" 10
PHASE_MID=
phase chain "--sts-webid-role $WEBID_ROLE --sts-token-file $TMP/webid-token --sts-role arn:aws:iam::210987654321:role/amp-writer --sts-region eu-west-1 --sts-life 6 --sigv4-sts eu-west-1" "$Q}
    sigv4: {region: eu-west-1, role_arn: 'arn:aws:iam::210987654321:role/amp-writer'}" 9
# STS down (503) for the two calls of the first renewal: the keys in hand are used until they
# expire, STS is retried with backoff, nothing is dropped; the failure is logged once with STS's
# error body.
phase stsfail "--sts-webid-role $WEBID_ROLE --sts-token-file $TMP/webid-token --sts-life 4 --sts-fail 1:2 --sigv4-sts eu-west-1" "$Q}
    sigv4: {region: eu-west-1}" 9
n=$(grep -c 'STS request failed' "$TMP/hakari-stsfail.log" || true)
[ "$n" = 1 ] || fail "stsfail: STS failure logged $n times, expected once"
grep 'STS request failed' "$TMP/hakari-stsfail.log" | grep -q 'status=503.*ServiceUnavailable' ||
    fail "stsfail: the log line lacks STS's status and error body"
grep -q 'STS credentials obtained' "$TMP/hakari-stsfail.log" || fail "stsfail: recovery not logged"
PHASE_ENV=()
if grep -l -E 'SECRET-[0-9]' "$TMP"/hakari-*.log "$TMP"/check-*.out; then
    fail "a secret appeared in hakari's output"
fi
echo PASS
