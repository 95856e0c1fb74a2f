#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds a minimal root filesystem for hakari: the binary, the shared libraries it links (as ldd
# resolves them on this build host), the dynamic loader, /etc/passwd with the non-root user, and
# empty mount points for the host's /proc, /sys, / (host/root) and the queue. Usage: mkrootfs.sh BINARY DIR
set -euo pipefail
bin=${1:?binary} dir=${2:?rootfs dir}
mkdir -p "$dir"/{usr/bin,etc,host/proc,host/sys,host/root,proc,sys,tmp,var/lib/hakari}
install -m 0755 "$bin" "$dir/usr/bin/hakari"
ldd "$bin" | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/lib/ {print $1}' | sort -u | while read -r lib; do
    mkdir -p "$dir$(dirname "$lib")"
    cp -L "$lib" "$dir$lib"
done
# Name service and TLS roots for remote-write to HTTPS backends.
[ -d /etc/ssl/certs ] && mkdir -p "$dir/etc/ssl" && cp -rL /etc/ssl/certs "$dir/etc/ssl/" 2>/dev/null || true
printf 'root:x:0:0:root:/:/usr/sbin/nologin\nhakari:x:65532:65532:hakari:/var/lib/hakari:/usr/sbin/nologin\n' > "$dir/etc/passwd"
printf 'root:x:0:\nhakari:x:65532:\n' > "$dir/etc/group"
printf 'hosts: files dns\n' > "$dir/etc/nsswitch.conf"
chmod 1777 "$dir/tmp"
echo "rootfs ready: $dir ($(du -sh "$dir" | cut -f1))"
