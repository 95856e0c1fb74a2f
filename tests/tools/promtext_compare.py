#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Semantic comparison of two Prometheus text expositions (format 0.0.4).

Each side is parsed into family -> (TYPE, HELP, {series -> value}); the order of families, series
and labels does not matter, and a label with an empty value is the same as no label (Prometheus'
data model: node_exporter writes missing labels as "", hakari leaves them out). Values compare
equal within 1e-9 relative (NaN equals NaN).

usage: promtext_compare.py EXPECTED GOT [--ignore REGEX] [--any-value FAMILY]...
  --ignore REGEX      families whose name matches are dropped from both sides (the agents' own)
  --any-value FAMILY  series of FAMILY compare by presence only (node_exporter's textfile test
                      fixes node_textfile_mtime_seconds to 1; real mtimes depend on the checkout)
Exit 0 when equal, 1 with the differences on stdout.
"""
import math
import re
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def unescape(s):
    return re.sub(r'\\(.)', lambda m: '\n' if m.group(1) == 'n' else m.group(1), s)


def parse_labels(text, where):
    if not text:
        return ()
    body, pos, out = text[1:-1], 0, []
    while pos < len(body):
        m = LABEL.match(body, pos)
        if not m:
            sys.exit(f"{where}: cannot parse labels {text!r}")
        if m.group(2) != '':
            out.append((m.group(1), unescape(m.group(2))))
        pos = m.end()
    return tuple(sorted(out))


def load(path, ignore):
    types, helps, samples = {}, {}, []
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line.strip():
                continue
            if line.startswith('#'):
                parts = line.split(None, 3)
                if len(parts) >= 3 and parts[1] == 'TYPE':
                    types[parts[2]] = parts[3] if len(parts) > 3 else ''
                elif len(parts) >= 3 and parts[1] == 'HELP':
                    helps[parts[2]] = unescape(parts[3]) if len(parts) > 3 else ''
                continue
            m = SAMPLE.match(line.strip())
            if not m:
                sys.exit(f"{path}:{n}: cannot parse {line!r}")
            name, labels, value, _ = m.groups()
            samples.append((name, parse_labels(labels, f"{path}:{n}"), float(value)))
    fams = {}
    for name, labels, value in samples:
        fam = name
        if name not in types:
            for suffix, kinds in (('_bucket', ('histogram',)), ('_sum', ('summary', 'histogram')),
                                  ('_count', ('summary', 'histogram'))):
                base = name[:-len(suffix)]
                if name.endswith(suffix) and types.get(base) in kinds:
                    fam = base
                    break
        if ignore and re.match(ignore, fam):
            continue
        entry = fams.setdefault(fam, {'type': types.get(fam, 'untyped'), 'help': helps.get(fam),
                                      'series': {}})
        key = (name, labels)
        if key in entry['series']:
            sys.exit(f"{path}: series {name}{dict(labels)} twice")
        entry['series'][key] = value
    return fams


def same(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def fmt(key):
    name, labels = key
    return name + ('{' + ','.join(f'{k}="{v}"' for k, v in labels) + '}' if labels else '')


def main():
    args = sys.argv[1:]
    ignore, any_value, files = None, set(), []
    while args:
        a = args.pop(0)
        if a == '--ignore':
            ignore = args.pop(0)
        elif a == '--any-value':
            any_value.add(args.pop(0))
        else:
            files.append(a)
    if len(files) != 2:
        sys.exit(__doc__)
    want, got = load(files[0], ignore), load(files[1], ignore)
    diffs = []
    for fam in sorted(set(want) | set(got)):
        if fam not in got:
            diffs.append(f"family {fam} missing")
            continue
        if fam not in want:
            diffs.append(f"family {fam} not expected ({len(got[fam]['series'])} series)")
            continue
        w, g = want[fam], got[fam]
        if w['type'] != g['type']:
            diffs.append(f"{fam}: TYPE {g['type']}, expected {w['type']}")
        if w['help'] != g['help']:
            diffs.append(f"{fam}: HELP {g['help']!r}, expected {w['help']!r}")
        for key in sorted(set(w['series']) | set(g['series'])):
            if key not in g['series']:
                diffs.append(f"missing {fmt(key)} {w['series'][key]}")
            elif key not in w['series']:
                diffs.append(f"unexpected {fmt(key)} {g['series'][key]}")
            elif fam not in any_value and not same(w['series'][key], g['series'][key]):
                diffs.append(f"{fmt(key)} = {g['series'][key]}, expected {w['series'][key]}")
    for d in diffs:
        print("  " + d)
    sys.exit(1 if diffs else 0)


if __name__ == '__main__':
    main()
