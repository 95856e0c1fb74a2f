#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages a make goal needs, skipping those already installed.
# Usage: mk/deps.sh run|test|bench|fuzz|cross   (package lists: mk/packages-<goal>.txt; test, bench,
# fuzz and cross include run's). Needs root (or sudo) only when something is missing.
set -euo pipefail
cd "$(dirname "$0")"
goal=${1:?usage: deps.sh run|test|bench|fuzz|cross}
lists=(packages-build.txt)
case "$goal" in
run) ;;
test) lists+=(packages-test.txt packages-cross.txt) ;; # cross: tests/integration/cross_arm64.sh
bench) lists+=(packages-test.txt packages-bench.txt) ;;
fuzz) lists+=(packages-test.txt packages-fuzz.txt) ;;
cross) lists+=(packages-cross.txt) ;;
*) echo "deps.sh: unknown goal $goal" >&2; exit 2 ;;
esac
want=$(cat "${lists[@]}" 2>/dev/null | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Daemons from these packages (prometheus, node_exporter) must not start system-wide: the
# tests start their own on free loopback ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
