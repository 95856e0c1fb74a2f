#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compares hakari's node_* output on node_exporter's own fixture tree with node_exporter's
expected output for it (collector/fixtures/e2e-output.txt), family by family and series by
series: name, labels, value, TYPE and HELP.

usage: node_upstream.py HAKARI_OUTPUT E2E_OUTPUT

Fails when
- hakari emits a node_* family that e2e-output lacks (unless listed in HAKARI_ONLY),
- a family both have differs in TYPE or HELP, or a series differs in labels or value,
- e2e-output has a family that an enabled hakari collector owns (OWNERS) but hakari does not
  emit it (unless listed in NOT_EMITTED, with the reason).
Families of node_exporter collectors hakari does not implement are counted and ignored.
"""
import re
import sys

# Which hakari collector answers for a node_exporter family (regex on the family name). A
# family is required from hakari when one of its owners ran (hakari_collector_up{collector} in
# hakari's output); a collector that is not built in or not enabled requires nothing.
OWNERS = [
    (r'node_cpu_(seconds|guest_seconds)_total', ('cpu',)),
    (r'node_(boot_time_seconds|context_switches_total|forks_total|intr_total|procs_running|'
     r'procs_blocked)', ('cpu', 'stat')),
    (r'node_memory_(?!numa_).*', ('meminfo',)),
    (r'node_load(1|5|15)', ('loadavg',)),
    (r'node_pressure_.*', ('pressure',)),
    (r'node_network_(receive|transmit)_[a-z]+_total', ('netdev',)),
    (r'node_disk_.*', ('diskstats',)),
    (r'node_vmstat_.*', ('vmstat',)),
    (r'node_netstat_.*', ('netstat',)),
    (r'node_sockstat_.*', ('sockstat',)),
    (r'node_softnet_.*', ('softnet',)),
    (r'node_filefd_.*', ('filefd',)),
    (r'node_nf_conntrack_.*', ('conntrack',)),
    (r'node_entropy_.*', ('entropy',)),
    # sysfs and syscall collectors (issue 13, item 1, the other half)
    (r'node_network_.*', ('netclass',)),
    (r'node_time_.*', ('time',)),
    (r'node_timex_.*', ('timex',)),
    (r'node_uname_info', ('uname',)),
    (r'node_os_.*', ('os',)),
    (r'node_textfile_.*', ('textfile',)),
]

# e2e families an enabled hakari collector owns but deliberately does not emit here, with why.
NOT_EMITTED = {
    r'node_network_(receive|transmit)_[a-z]+_total':
        'e2e took netdev from netlink on the machine that generated it (device lo), not from the '
        'fixture; the fixture has no proc/net/dev (netdev parity: node_parity.sh, node_host.sh)',
    r'node_pressure_irq_.*':
        'irq pressure (Linux 6.1+) is newer than the pressure collector hakari mirrors (cpu, '
        'memory, io)',
    r'node_disk_(info|ata_.*|device_mapper_info|filesystem_info)':
        'udev/sysfs device properties: hakari reads /proc/diskstats only (docs/node-collectors.md)',
    r'node_textfile_.*':
        'e2e ran the textfile collector on its two_metric_files directory; textfile parity with '
        "node_exporter's fixtures is tests/integration/textfile.sh",
}

# hakari families e2e-output does not have, with why.
HAKARI_ONLY = {}

# Families whose values depend on the clock or host of the run: end-to-end-test.sh strips their
# samples from e2e-output (it keeps HELP and TYPE). TYPE and HELP are compared; labels too when
# e2e-output has samples; values never.
VALUE_SKIP = r'node_time_(zone_offset_seconds|seconds)|node_textfile_mtime_seconds|' \
             r'node_network_(receive|transmit)_(bytes|packets)_total'


def unescape(s):
    return re.sub(r'\\(.)', lambda m: '\n' if m.group(1) == 'n' else m.group(1), s)


def load(path):
    fams = {}  # name -> {'type', 'help', 'series': {labels: value}}
    def fam(name):
        return fams.setdefault(name, {'type': None, 'help': None, 'series': {}})
    for lineno, line in enumerate(open(path, encoding='utf-8'), 1):
        line = line.rstrip('\n')
        if not line.strip():
            continue
        m = re.match(r'^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$', line)
        if m:
            kind, name, rest = m.groups()
            fam(name)['help' if kind == 'HELP' else 'type'] = unescape(rest) if kind == 'HELP' else rest
            continue
        if line.startswith('#'):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( \S+)?$', line)
        if not m:
            sys.exit(f'{path}:{lineno}: unparsable line {line!r}')
        name, labels, value, _ = m.groups()
        labels = tuple(sorted((k, unescape(v)) for k, v in
                              re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels or '')))
        # series of a histogram/summary belong to their family
        base = name
        for suffix in ('_bucket', '_sum', '_count'):
            if name.endswith(suffix) and name[:-len(suffix)] in fams:
                base = name[:-len(suffix)]
        fam(base)['series'][(name, labels)] = float(value)
    # node_exporter_build_info describes each program's own build (end-to-end-test.sh strips it
    # too); hakari's carries hakari's version.
    return {k: v for k, v in fams.items()
            if k.startswith('node_') and k != 'node_exporter_build_info'}, path


def full(regex, name):
    return re.fullmatch(regex, name) is not None


def main():
    (hk, _), (e2e, _) = load(sys.argv[1]), load(sys.argv[2])
    up = set(re.findall(r'^hakari_collector_up\{collector="([a-z0-9_]+)"\} 1$',
                        open(sys.argv[1], encoding='utf-8').read(), re.M))
    bad = []
    matched_f = matched_s = 0
    for name in sorted(hk):
        if name not in e2e:
            if not any(full(r, name) for r in HAKARI_ONLY):
                bad.append(f'only in hakari: family {name}')
            continue
        h, e = hk[name], e2e[name]
        ok = True
        if h['type'] != e['type']:
            bad.append(f'{name}: TYPE hakari {h["type"]!r}, e2e {e["type"]!r}')
            ok = False
        if h['help'] != e['help']:
            bad.append(f'{name}: HELP hakari {h["help"]!r}, e2e {e["help"]!r}')
            ok = False
        skip_values = full(VALUE_SKIP, name)
        if skip_values and not e['series']:
            matched_f += ok
            continue
        for key, v in sorted(h['series'].items()):
            if key not in e['series']:
                bad.append(f'only in hakari: series {key}')
                ok = False
            elif not skip_values and abs(v - e['series'][key]) > 1e-9 * max(1.0, abs(e['series'][key])):
                bad.append(f'value differs: {key} hakari {v!r} e2e {e["series"][key]!r}')
                ok = False
            else:
                matched_s += 1
        for key in sorted(set(e['series']) - set(h['series'])):
            bad.append(f'only in e2e: series {key}')
            ok = False
        matched_f += ok
    required = not_emitted = uncovered = 0
    for name in sorted(set(e2e) - set(hk)):
        owners = next((o for r, o in OWNERS if full(r, name)), None)
        if owners is None or not up.intersection(owners):
            uncovered += 1
            continue
        required += 1
        if any(full(r, name) for r in NOT_EMITTED):
            not_emitted += 1
            continue
        bad.append(f'missing: family {name} (owner {"/".join(owners)} is enabled)')
    for line in bad:
        print(line)
    print(f'node_upstream: {matched_f} families / {matched_s} series equal to e2e-output '
          f'(of {len(hk)} hakari node_* families); {not_emitted} e2e families deliberately not '
          f'emitted; {uncovered} e2e families belong to node_exporter collectors hakari lacks or '
          f'has off; {len(bad)} problems', file=sys.stderr)
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
