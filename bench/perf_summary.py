# SPDX-License-Identifier: Apache-2.0
"""Summarise `perf script -F comm,tid,ip,sym,dso` output (samples with call chains) for
bench/profile.sh: the user/kernel split, the split by thread name, the kernel time by how it was
entered (system call or fault), and the top N functions by self time and by time with children
(a function counts once per sample however often it is on the stack).

usage: perf script ... | python3 perf_summary.py TITLE [TOP_N]
"""
import collections
import re
import sys

ENTRY = re.compile(r"^(__x64_sys_\w+|__ia32_sys_\w+|asm_exc_page_fault|asm_sysvec_\w+|"
                   r"asm_common_interrupt|ret_from_fork\w*)$")


def samples(stream):
    head, frames = None, []
    for line in stream:
        line = line.rstrip("\n")
        if not line:
            if head is not None:
                yield head, frames
            head, frames = None, []
        elif line[0] in " \t":
            parts = line.strip().split(None, 1)
            if len(parts) < 2:
                continue
            addr, rest = parts
            m = re.match(r"^(.*) \((.*)\)$", rest)
            sym, dso = (m.group(1), m.group(2)) if m else (rest, "")
            sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
            kernel = dso.startswith("[kernel") or (len(addr) == 16 and addr.startswith("ffff"))
            if sym == "[unknown]":
                sym = "[unknown %s]" % (dso.rsplit("/", 1)[-1] or "?")
            frames.append((sym, kernel))
        else:
            if head is not None:
                yield head, frames
            head, frames = line.split()[0] if line.split() else "?", []
    if head is not None:
        yield head, frames


def main():
    title = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    n = 0
    kern = 0
    threads = collections.Counter()
    thread_kern = collections.Counter()
    entries = collections.Counter()
    self_c = collections.Counter()
    child_c = collections.Counter()
    self_kind = {}
    for comm, frames in samples(sys.stdin):
        if not frames:
            continue
        n += 1
        k = frames[0][1]
        kern += k
        threads[comm] += 1
        thread_kern[comm] += k
        if k:
            e = next((s for s, kk in reversed(frames) if kk and ENTRY.match(s)), "other")
            entries[e.replace("__x64_sys_", "sys_")] += 1
        sym = frames[0][0]
        self_c[sym] += 1
        self_kind[sym] = "k" if k else "u"
        for s in {s for s, _ in frames}:
            child_c[s] += 1
        for s, kk in frames:
            self_kind.setdefault(s, "k" if kk else "u")
    if not n:
        print("%s: no samples" % title)
        return
    pct = lambda c: 100.0 * c / n
    print("-- %s: %d samples; user %.1f%%, kernel %.1f%%" % (title, n, pct(n - kern), pct(kern)))
    print("   by thread (share of samples, kernel share within the thread):")
    for t, c in threads.most_common(8):
        print("     %-18s %5.1f%%  (kernel %4.1f%%)" % (t, pct(c), 100.0 * thread_kern[t] / c))
    if kern:
        print("   kernel time by entry (share of all samples):")
        for e, c in entries.most_common(8):
            print("     %-30s %5.1f%%" % (e, pct(c)))
    print("   top %d functions by self time ([u]ser / [k]ernel):" % top)
    for s, c in self_c.most_common(top):
        print("     %5.1f%%  [%s] %s" % (pct(c), self_kind[s], s))
    print("   top %d functions with children (on the stack of %% of samples):" % top)
    shown = 0
    for s, c in child_c.most_common():
        if s.startswith("[unknown") or s in ("_start", "__libc_start_main", "__libc_start_call_main",
                                              "__libc_start_main_impl", "main", "start_thread",
                                              "clone3", "__clone3", "clone", "__GI___clone3"):
            continue
        print("     %5.1f%%  [%s] %s" % (pct(c), self_kind.get(s, "u"), s))
        shown += 1
        if shown == top:
            break


if __name__ == "__main__":
    main()
