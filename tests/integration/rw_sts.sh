#!/usr/bin/env bash
# SigV4 credentials from STS, as on EKS with IRSA (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE →
# AssumeRoleWithWebIdentity) and with sigv4.role_arn on top (AssumeRole signed with the web
# identity keys, session token included). The STS stub in rw_fault_receiver.py checks each call
# (role ARN, the token file's current content, AssumeRole's signature) and issues keys that
# expire after 6 s; the receiver accepts only requests signed with a key valid at that moment.
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
phase webid "--sts-webid-role $WEBID_ROLE --sts-token-file $TMP/webid-token --sts-life 6 --sigv4-sts eu-west-1" "$Q}
    sigv4: {region: eu-west-1}" 14
PHASE_MID=
phase chain "--sts-webid-role $WEBID_ROLE --sts-token-file $TMP/webid-token --sts-role arn:aws:iam::210987654321:role/amp-writer --sts-region eu-west-1 --sts-life 6 --sigv4-sts eu-west-1" "$Q}
    sigv4: {region: eu-west-1, role_arn: 'arn:aws:iam::210987654321:role/amp-writer'}" 12
PHASE_ENV=()
if grep -l -E 'SECRET-[0-9]' "$TMP"/hakari-*.log "$TMP"/check-*.out; then
    fail "a secret appeared in hakari's output"
fi
echo PASS
