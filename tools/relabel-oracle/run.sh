#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Differential check of hakari's relabel regexes and templates against Go's regexp (what
# Prometheus runs): random cases from gen_cases.py through oracle.go and through cdriver.c
# (exporter/relabel.c, exporter/relabel_regex.c), then every disagreement is printed decoded.
#   tools/relabel-oracle/run.sh [SEEDS] [COUNT]      e.g. run.sh "1 2 3" 5000
#   RECORD=1 ... also rewrites tests/unit/relabel_go_cases.txt from seeds 1 and 3.
# Needs Go (Debian golang-go); not part of `make test`, whose unit test replays the recording.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=${1:-"1 2 3"}
count=${2:-5000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=${HOME:-$work} GOCACHE=$work/gocache GO111MODULE=off
go build -o "$work/oracle" tools/relabel-oracle/oracle.go
# shellcheck disable=SC2046
cc -O1 -g -I. -D_GNU_SOURCE -std=gnu11 -o "$work/cdriver" tools/relabel-oracle/cdriver.c \
    exporter/relabel.c exporter/relabel_regex.c core/yaml.c core/labels.c core/buf.c \
    core/log.c core/fsread.c \
    $(pkg-config --cflags --libs libpcre2-8 yaml-0.1 gnutls)
total=0
for s in $seeds; do
    python3 tools/relabel-oracle/gen_cases.py "$s" "$count" >"$work/cases"
    "$work/oracle" <"$work/cases" >"$work/go.$s"
    "$work/cdriver" <"$work/cases" >"$work/c.$s"
    paste -d' ' "$work/go.$s" "$work/c.$s" | awk '$4 != $8 {print $1, $2, $3, $4, $8}' >"$work/diff.$s"
    n=$(wc -l <"$work/diff.$s")
    m=$(awk 'substr($4,1,1)=="M"' "$work/go.$s" | wc -l)
    echo "seed $s: $(wc -l <"$work/cases") cases, $m expansions compared, $n disagreements"
    total=$((total + n))
    python3 - "$work/diff.$s" <<'PY'
import sys
dec = lambda h: '' if h == '-' else bytes.fromhex(h).decode(errors='replace')
show = lambda r: r if r in ('E', 'N') else 'M' + repr(dec(r[1:]))
for line in open(sys.argv[1]):
    r, v, t, g, c = line.split()
    print('  /%s/ on %r template %r: go %s, hakari %s' % (dec(r), dec(v), dec(t), show(g), show(c)))
PY
done
if [ "${RECORD:-0}" = 1 ]; then
    out=tests/unit/relabel_go_cases.txt
    head -n 3 "$out" >"$work/header"
    cat "$work/header" >"$out"
    cat "$work/go.1" "$work/go.3" | awk 'substr($4,1,1)=="M" {print; next}
        $4=="E" {if (e++ < 350) print; next} {if (n++ < 350) print}' >>"$out"
    echo "recorded $(grep -vc '^#' "$out") cases in $out"
fi
[ "$total" -eq 0 ]
