#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates bpf/arch/<arch>/vmlinux.h, the kernel types the eBPF probes are compiled against
# (one per architecture: struct pt_regs and the syscall ABI differ). Not part of the build: the
# headers are committed, so building needs neither a network nor a kernel of that architecture.
#
#   mk/gen-vmlinux-h.sh arm64   BTF of Debian bookworm's arm64 kernel (linux-image-arm64)
#   mk/gen-vmlinux-h.sh x86     BTF of the running x86_64 kernel (/sys/kernel/btf/vmlinux)
#   BTF=<file> mk/gen-vmlinux-h.sh <arch>   any raw BTF file or ELF vmlinux with a .BTF section
#
# arm64: the kernel package is downloaded with a private apt state (as mk/cross-arm64.sh does;
# nothing is installed) into $XO (default build-arm64/kernel). Its /boot/vmlinuz is the arm64
# Image (gzip-compressed in some packages); the kernel's .BTF section is in it as is, so the
# blob is found by its header — magic 0xeB9F, version 1, hdr_len 24, types then strings — and
# handed to `bpftool btf dump file <raw BTF> format c`, which writes the header.
# Needs bpftool and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?usage: gen-vmlinux-h.sh arm64|x86}
out=bpf/arch/$arch/vmlinux.h
command -v bpftool >/dev/null || { echo "gen-vmlinux-h: bpftool missing" >&2; exit 1; }
btf=${BTF:-}
if [ -z "$btf" ]; then
    case "$arch" in
    x86)
        [ "$(uname -m)" = x86_64 ] || { echo "gen-vmlinux-h: not an x86_64 host; pass BTF=<file>" >&2; exit 1; }
        btf=/sys/kernel/btf/vmlinux
        echo "gen-vmlinux-h: x86 from the running kernel $(uname -r)"
        ;;
    arm64)
        XO=${XO:-build-arm64/kernel}
        mkdir -p "$XO"
        XO=$(cd "$XO" && pwd)
        D=$XO/apt
        mkdir -p "$D/state" "$D/lists/partial" "$D/cache/archives/partial"
        APT=(-o APT::Architecture=arm64 -o APT::Architectures=arm64 -o Dir::State="$D/state"
            -o Dir::State::Lists="$D/lists" -o Dir::Cache="$D/cache" -o Dir::State::status=/dev/null
            -o Debug::NoLocking=1 -o APT::Sandbox::User=root -q)
        apt-get "${APT[@]}" update >/dev/null
        # linux-image-arm64 depends on exactly one linux-image-<abi>-arm64.
        pkg=$(apt-cache "${APT[@]}" depends linux-image-arm64 |
            sed -n 's/^ *Depends: \(linux-image-[0-9].*-arm64\)$/\1/p' | head -n 1)
        [ -n "$pkg" ] || { echo "gen-vmlinux-h: no linux-image-*-arm64 in the index" >&2; exit 1; }
        ver=$(apt-cache "${APT[@]}" show "$pkg" | sed -n 's/^Version: //p' | head -n 1)
        echo "gen-vmlinux-h: arm64 from Debian's $pkg $ver"
        rm -rf "$XO/pkg" "$XO/boot"
        mkdir -p "$XO/pkg"
        (cd "$XO/pkg" && apt-get "${APT[@]}" download "$pkg=$ver" >/dev/null)
        dpkg-deb --fsys-tarfile "$XO"/pkg/*.deb | tar -x -C "$XO" --wildcards './boot/vmlinuz-*'
        image=$(ls "$XO"/boot/vmlinuz-*)
        btf=$XO/vmlinux.btf
        python3 - "$image" "$btf" <<'EOF'
import gzip, struct, sys
data = open(sys.argv[1], 'rb').read()
if data[:2] == b'\x1f\x8b':
    data = gzip.decompress(data)
magic = b'\x9f\xeb\x01\x00'  # 0xeB9F little-endian, version 1, flags 0
best = None
i = data.find(magic)
while i >= 0:
    if i + 24 <= len(data):
        hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from('<5I', data, i + 4)
        end = i + hdr_len + str_off + str_len
        if (hdr_len == 24 and type_off == 0 and str_off == type_len and type_len and str_len
                and end <= len(data) and data[end - 1] == 0
                and (best is None or end - i > best[1] - best[0])):
            best = (i, end)
    i = data.find(magic, i + 1)
if best is None:
    sys.exit('gen-vmlinux-h: no BTF blob in ' + sys.argv[1])
open(sys.argv[2], 'wb').write(data[best[0]:best[1]])
print('gen-vmlinux-h: BTF blob of %d bytes at offset %d' % (best[1] - best[0], best[0]))
EOF
        ;;
    *) echo "gen-vmlinux-h: unknown arch $arch (arm64, x86)" >&2; exit 2 ;;
    esac
fi
mkdir -p "$(dirname "$out")"
bpftool btf dump file "$btf" format c >"$out.tmp"
mv "$out.tmp" "$out"
echo "gen-vmlinux-h: wrote $out ($(wc -l <"$out") lines)"
