#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Textfile parser and collector on the 100k-series file of bench/rw_peers.sh (100 gauge names x 1,000
# label sets): parse alone, parse+decode+emit into a snapshot builder, and the real collector
# reading the file from a directory; samples per CPU second.
set -euo pipefail
cd "$(dirname "$0")/.."
O=${O:-build}
[ -x "$O/bench/textfile_parse" ] || { echo "no $O/bench/textfile_parse (make O=$O bench)"; exit 1; }
"$O/bench/textfile_parse"
