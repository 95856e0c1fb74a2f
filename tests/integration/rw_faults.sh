#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Response classification against a fault-injecting receiver (tests/tools/rw_fault_receiver.py):
# 5xx retried with Retry-Attempt and backoff spacing, 429 honouring Retry-After, 413 split until
# it fits, 415 and "2xx without Written headers" falling back to 1.0 with the same data, a 2.0
# receiver kept on 2.0, 400 never retried (dropped and counted), a hang past remote_timeout and
# a connection reset retried, "Retry-After: 0" still backing off, a 200 with a cut-off body
# taken as delivered (not resent), the 415 and 400 bodies logged, samples older than sample_age_limit dropped while retrying.
# Every phase also checks headers, label order, and that each sample
# was delivered at most once and delivered + failed = taken in; write_relabel_configs (drop,
# replace, labeldrop) apply after the external labels.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/tools/rw_lib.sh"

Q="    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 200ms, min_shards: 1, max_shards: 1, min_backoff: 200ms, max_backoff: 1s"
phase retry "--script 500,503,500" "$Q}" 5
phase 429 "--script 429 --retry-after 2" "$Q}" 4
phase ra0 "--script 429,429,429 --retry-after 0" "$Q}" 4
phase trunc "--script trunc,trunc" "$Q}" 3
phase 413 "--max-samples 60" "$Q, max_samples_per_send: 200}" 3
phase 415 "--script 415v2" "$Q}
    protobuf_message: io.prometheus.write.v2.Request" 3
phase v2nohdr "" "$Q}
    protobuf_message: io.prometheus.write.v2.Request" 3
phase v2ok "--default ok2" "$Q}
    protobuf_message: io.prometheus.write.v2.Request" 3
phase 400 "--script 400" "$Q}" 3
phase hang "--script hang,reset --hang-s 3" "$Q}" 5
phase tooold "--script 500,500,500,500,500" "    queue_config: {disk_path: $TMP/queue, batch_send_deadline: 200ms, max_shards: 1, min_backoff: 1s, max_backoff: 1s, sample_age_limit: 2s}" 6
phase relabel "" "$Q}
    write_relabel_configs:
      - {source_labels: [__name__], regex: 'hakari_collector_.*', action: drop}
      - {target_label: env, replacement: test}
      - {regex: region, action: labeldrop}" 3
grep -h 'remote-write request failed' "$TMP"/hakari-400.log | head -1 | grep -q 'body="injected 400' ||
    fail "the 400 response body was not logged"
grep -h 'remote-write request failed' "$TMP"/hakari-415.log | grep 'status=415' | head -1 | grep -q 'body="injected 415' ||
    fail "the 415 response status and body were not logged"
echo PASS
