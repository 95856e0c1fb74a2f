#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Native vs classic histograms (issue 15) on a synthetic 200-container node: series and bytes per
# scrape and per remote-written cycle, and the protobuf render cost per sample (targets: >= 10x
# fewer latency series, <= 0.1 us per sample). Env: NHIST_CONTAINERS (200).
set -euo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
[ -x "$O/bench/nhist_bench" ] || { echo "no $O/bench/nhist_bench (make O=$O bench)"; exit 1; }
"$O/bench/nhist_bench" "${NHIST_CONTAINERS:-200}" 2
