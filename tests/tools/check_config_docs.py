#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""docs/configuration.md documents exactly the configuration keys the parsers accept.

The allowed-key lists are read from the source: every call hk_yaml_check_keys(node, ARRAY, …) in
agent/, collector/ and exporter/ names a `static const char *const ARRAY[] = {…}` (local to the
calling function or file-level; HK_COLLECTOR_COMMON_KEYS expanded from core/collector.h). Each
section of the docs carries a marker `<!-- keys: FILE FUNCTION ARRAY -->` followed by a table whose
first column lists the keys. Checked both ways: every call site has a documented section with the
same key set, every marker names a real call site, every collector in the table has a
`collectors.<name>` section. A marker whose FILE is not in this tree (a module documented ahead of
its merge) is reported and skipped. `--dump [ROOT]` prints the extracted tables."""
import os
import re
import sys

TOP = os.environ.get("TOP") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DIRS = ("agent", "collector", "exporter", "core")


def strip_comments(src):
    # Keep offsets stable: comments become spaces (strings are left alone).
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\])*"',
                  lambda m: m.group(0) if m.group(0).startswith('"') else blank(m), src,
                  flags=re.S)


def macros(root):
    out = {}
    for hdr in ("core/collector.h",):
        p = os.path.join(root, hdr)
        if not os.path.exists(p):
            continue
        text = open(p, encoding="utf-8").read().replace("\\\n", " ")
        for m in re.finditer(r"#define\s+(HK_\w+_KEYS)\s+(.+)", text):
            out[m.group(1)] = re.findall(r'"((?:\\.|[^"\\])*)"', m.group(2))
    return out


FUNC_RE = re.compile(r"^(?!static\s+const\s+char)(?:[A-Za-z_][\w\s\*]*?)\b([A-Za-z_]\w*)\s*\(([^;{}]*)\)\s*\{",
                     re.M)
ARRAY_RE = re.compile(r"(?:static\s+)?const\s+char\s*\*\s*const\s+(\w+)\s*\[\s*\w*\s*\]\s*=\s*\{(.*?)\}\s*;",
                      re.S)


def array_keys(body, mac):
    keys = []
    for tok in re.finditer(r'"((?:\\.|[^"\\])*)"|\b(HK_\w+_KEYS)\b|\bNULL\b', body):
        if tok.group(1) is not None:
            keys.append(tok.group(1))
        elif tok.group(2):
            keys.extend(mac.get(tok.group(2), ["<" + tok.group(2) + ">"]))
    return keys


def call_sites(root):
    """{(file, function, array): [keys]}"""
    mac = macros(root)
    sites = {}
    for d in DIRS:
        base = os.path.join(root, d)
        if not os.path.isdir(base):
            continue
        for name in sorted(os.listdir(base)):
            if not name.endswith(".c"):
                continue
            rel = f"{d}/{name}"
            src = strip_comments(open(os.path.join(base, name), encoding="utf-8").read())
            funcs = [(m.start(), m.group(1)) for m in FUNC_RE.finditer(src)
                     if m.group(1) not in ("if", "for", "while", "switch", "return", "sizeof")]
            arrays = [(m.start(), m.group(1), m.group(2)) for m in ARRAY_RE.finditer(src)]
            for m in re.finditer(r"\bhk_yaml_check_keys\s*\(\s*[^,]+,\s*(\w+)\s*,", src):
                if re.match(r"\s*const\b", src[m.end():]) or "int hk_yaml_check_keys" in \
                        src[max(0, m.start() - 4):m.end()]:
                    continue  # the definition itself
                pos, ident = m.start(), m.group(1)
                fstart, fname = max(((s, n) for s, n in funcs if s < pos), default=(0, "<file>"))
                # Innermost definition: one inside this function, else the last one before it.
                cands = [a for a in arrays if a[1] == ident and a[0] < pos]
                local = [a for a in cands if a[0] > fstart]
                pick = (local or cands or [None])[-1]
                if pick is None:
                    sites[(rel, fname, ident)] = None
                    continue
                sites[(rel, fname, ident)] = array_keys(pick[2], mac)
    return sites


def collectors(root):
    """{collector name: (file, check function or None)}"""
    out = {}
    cdir = os.path.join(root, "collector")
    for name in sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []:
        if not name.endswith(".c"):
            continue
        src = strip_comments(open(os.path.join(cdir, name), encoding="utf-8").read())
        for m in re.finditer(r"const\s+struct\s+hk_collector_ops\s+\w+\s*=\s*\{(.*?)\}\s*;", src,
                             re.S):
            body = m.group(1)
            n = re.search(r'\.name\s*=\s*"([^"]+)"', body)
            c = re.search(r"\.check\s*=\s*(\w+)", body)
            if n:
                out[n.group(1)] = (f"collector/{name}", c.group(1) if c else None)
    return out


def doc_sections(path):
    """[(heading, marker (file, func, array) or None, [keys], line)]"""
    secs = []
    cur = None
    for i, line in enumerate(open(path, encoding="utf-8"), 1):
        h = re.match(r"^#{2,4}\s+(.*)", line)
        if h:
            cur = {"heading": h.group(1).strip(), "markers": [], "keys": [], "line": i}
            secs.append(cur)
            continue
        if cur is None:
            continue
        m = re.match(r"^<!--\s*keys:\s*(\S+)\s+(\S+)\s+(\S+)\s*-->", line)
        if m:
            cur["markers"].append((m.group(1), m.group(2), m.group(3)))
            continue
        t = re.match(r"^\|\s*`([^`]+)`\s*\|", line)
        if t and cur["markers"]:
            cur["keys"].append(t.group(1))
    return secs


def check_examples(doc, hakari, errors, pending):
    """Every ```yaml example of the docs passes `hakari --config.check`, except that a collector
    not built into this tree is reported as pending (documented ahead of its merge)."""
    import subprocess
    import tempfile
    text = open(doc, encoding="utf-8").read()
    for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, re.S), 1):
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
            fh.write(block)
        try:
            r = subprocess.run([hakari, "--config.check", "--config.file=" + fh.name],
                               capture_output=True, text=True, timeout=30,
                               env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                    "NODE_NAME": "node-1"})
        finally:
            os.unlink(fh.name)
        msg = (r.stdout + r.stderr).strip().replace(fh.name, "example")
        if r.returncode == 0:
            continue
        if "unknown collector" in msg:
            pending.append(f"docs/configuration.md example {i}: {msg[-160:]}")
        else:
            errors.append(f"docs/configuration.md example {i} fails --config.check: {msg[-300:]}")


def main(argv):
    if argv[1:2] == ["--dump"]:
        root = argv[2] if len(argv) > 2 else TOP
        for k, v in sorted(call_sites(root).items()):
            print(" ".join(k), "=", v)
        for k, v in sorted(collectors(root).items()):
            print("collector", k, v)
        return 0
    doc = os.path.join(TOP, "docs", "configuration.md")
    sites = call_sites(TOP)
    secs = doc_sections(doc)
    errors, pending, matched = [], [], set()
    for s in secs:
        for mk in s["markers"]:
            where = f"docs/configuration.md:{s['line']} ({s['heading']})"
            if not os.path.exists(os.path.join(TOP, mk[0])):
                pending.append(f"{where}: {mk[0]} not in this tree")
                continue
            if mk not in sites:
                errors.append(f"{where}: no hk_yaml_check_keys call with {mk[2]} in {mk[0]} "
                              f"{mk[1]}() (stale marker)")
                continue
            matched.add(mk)
            src = sites[mk]
            if src is None:
                errors.append(f"{where}: cannot resolve the array {mk[2]} in {mk[0]}")
                continue
            doc_keys = s["keys"]
            missing = [k for k in src if k not in doc_keys]
            extra = [k for k in doc_keys if k not in src]
            dup = sorted({k for k in doc_keys if doc_keys.count(k) > 1})
            if missing:
                errors.append(f"{where}: keys accepted by {mk[0]} {mk[1]}() but not documented: "
                              f"{', '.join(missing)}")
            if extra:
                errors.append(f"{where}: documented keys {mk[0]} {mk[1]}() does not accept: "
                              f"{', '.join(extra)}")
            if dup:
                errors.append(f"{where}: keys documented twice: {', '.join(dup)}")
    for mk in sorted(set(sites) - matched):
        errors.append(f"{mk[0]} {mk[1]}(): allowed keys {mk[2]} = {sites[mk]} not documented "
                      f"(add a section with <!-- keys: {' '.join(mk)} -->)")
    headings = {s["heading"].strip("`").split(" ")[0].strip("`") for s in secs}
    for name, (f, check) in sorted(collectors(TOP).items()):
        if f"collectors.{name}" not in headings:
            errors.append(f"collector {name} ({f}) has no `collectors.{name}` section")
    hakari = os.environ.get("HAKARI")
    if hakari:
        check_examples(doc, hakari, errors, pending)
    for p in pending:
        print("pending:", p)
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    print(f"{len(sites)} key tables in the source, {len(matched)} matched, {len(pending)} "
          f"documented ahead of their source, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
