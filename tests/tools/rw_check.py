#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compares what remote-write receivers stored with what hakari produced.

usage: rw_check.py --cluster C [--prom URL]... [--vm URL]... [--min-cycles N] [--allow-gaps]

Fetches every raw sample carrying external label cluster=C from each Prometheus (range-vector
query) and VictoriaMetrics (/api/v1/export), then asserts:
  * hakari_collection_cycles_total holds exactly 0, 1, ..., N-1 (one sample per cycle, none
    missing, none twice, timestamps increasing) with N >= --min-cycles;
  * every series' timestamps are a contiguous run of those cycle timestamps (no holes) unless
    --allow-gaps;
  * all receivers hold the same series, timestamps and values (bit for bit between
    Prometheus instances; VictoriaMetrics stores ~15 significant digits, compared to 1e-12);
  * no series lacks the external label (counted against an unfiltered selector).
Prints a one-line summary; exits 1 with the first mismatches otherwise.
"""
import argparse
import json
import math
import struct
import sys
import time
import urllib.parse
import urllib.request


def get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def key(metric):
    return tuple(sorted(metric.items()))


def fbits(v):
    return struct.pack("<d", float(v)).hex()


def unb(h):
    return struct.unpack("<d", bytes.fromhex(h))[0]


def prom_series(base, selector):
    q = urllib.parse.urlencode({"query": selector + "[1d]", "time": f"{time.time() + 1:.3f}"})
    d = json.loads(get(f"{base}/api/v1/query?{q}"))
    if d["status"] != "success":
        raise SystemExit(f"prometheus query failed: {d}")
    out = {}
    for s in d["data"]["result"]:
        out[key(s["metric"])] = [(int(round(float(t) * 1000)), fbits(v)) for t, v in s["values"]]
    return out


def vm_series(base, selector):
    q = urllib.parse.urlencode({"match[]": selector})
    out = {}
    for line in get(f"{base}/api/v1/export?{q}").splitlines():
        if not line.strip():
            continue
        s = json.loads(line)
        pts = [(int(t), fbits(v)) for t, v in zip(s["timestamps"], s["values"])
               if not (isinstance(v, float) and math.isnan(v)) and v is not None]
        if pts:
            out[key(s["metric"])] = sorted(pts)
    return out


def vm_series_all(base, selector):
    q = urllib.parse.urlencode({"match[]": selector})
    n = 0
    for line in get(f"{base}/api/v1/export?{q}").splitlines():
        if line.strip():
            n += len(json.loads(line)["timestamps"])
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--prom", action="append", default=[])
    ap.add_argument("--vm", action="append", default=[])
    ap.add_argument("--min-cycles", type=int, default=3)
    ap.add_argument("--allow-gaps", action="store_true")
    ap.add_argument("--restarts", action="store_true",
                    help="the cycle counter may restart at 0 (agent restarted); each run must be "
                         "0..k without holes")
    ap.add_argument("--min-first-run", type=int, default=-1,
                    help="with --restarts: the first run must reach at least this cycle value")
    ap.add_argument("--suffix", action="store_true",
                    help="cycles may be missing (dropped by a disk budget): only order and "
                         "uniqueness are checked")
    ap.add_argument("--expect-samples", type=int, default=-1,
                    help="each receiver must hold exactly this many points (VictoriaMetrics: "
                         "stale markers included; Prometheus: without them)")
    a = ap.parse_args()
    sel = '{cluster="%s"}' % a.cluster
    stores = [("prom " + u, prom_series(u, sel)) for u in a.prom]
    stores += [("vm " + u, vm_series(u, sel)) for u in a.vm]
    errors = []
    for name, data in stores:
        allsel = '{__name__=~".+"}'
        total = prom_series(name[5:], allsel) if name.startswith("prom") else vm_series(name[3:], allsel)
        if len(total) != len(data):
            errors.append(f"{name}: {len(total) - len(data)} series without cluster={a.cluster}")
        cyc = [v for k, v in data.items() if dict(k).get("__name__") == "hakari_collection_cycles_total"]
        if len(cyc) != 1:
            errors.append(f"{name}: expected one hakari_collection_cycles_total series, got {len(cyc)}")
            continue
        pts = cyc[0]
        vals = [struct.unpack("<d", bytes.fromhex(b))[0] for _, b in pts]
        n = len(pts)
        runs = [[]]
        for v in vals:
            if v == 0 and runs[-1]:
                runs.append([])
            runs[-1].append(v)
        if a.suffix:
            if any(r != sorted(set(r)) for r in runs):
                errors.append(f"{name}: cycle counter repeats or goes backwards: {vals[:40]}")
        elif not a.restarts and len(runs) > 1:
            errors.append(f"{name}: cycle counter restarted: {vals[:40]}")
        else:
            for r in runs:
                if r != [float(i) for i in range(len(r))]:
                    errors.append(f"{name}: cycle counter run is not 0..{len(r) - 1}: {r[:40]}")
        if a.min_first_run >= 0 and (not runs[0] or runs[0][-1] < a.min_first_run):
            errors.append(f"{name}: first run ends at {runs[0][-1] if runs[0] else None}, "
                          f"want >= {a.min_first_run} (samples queued before the kill lost)")
        if n < a.min_cycles:
            errors.append(f"{name}: only {n} cycles arrived, want >= {a.min_cycles}")
        ts = [t for t, _ in pts]
        if ts != sorted(set(ts)):
            errors.append(f"{name}: cycle timestamps not strictly increasing")
        pos = {t: i for i, t in enumerate(ts)}
        for k, p in data.items():
            idx = [pos.get(t) for t, _ in p]
            if None in idx:
                # Under a disk budget the oldest segments are dropped whole, and a segment
                # boundary can fall inside a cycle: that cycle's counter sample may be gone while
                # others of the same cycle survive. --expect-samples still checks the exact count.
                if not a.suffix:
                    errors.append(f"{name}: {dict(k)} has a sample at a non-cycle timestamp")
                continue
            if not a.allow_gaps and not a.suffix and idx != list(range(idx[0], idx[0] + len(idx))):
                errors.append(f"{name}: {dict(k)} has holes: cycles {idx}")
        if a.expect_samples >= 0:
            raw = vm_series_all(name[3:], sel) if name.startswith("vm") else \
                sum(len(v) for v in data.values())
            if raw != a.expect_samples:
                errors.append(f"{name}: holds {raw} points, want exactly {a.expect_samples}")
        print(f"{name}: {len(data)} series, {sum(len(v) for v in data.values())} samples, "
              f"{n} cycles")
    if len(stores) > 1:
        ref_name, ref = stores[0]
        for name, data in stores[1:]:
            if set(ref) != set(data):
                only_a = [dict(k) for k in set(ref) - set(data)][:3]
                only_b = [dict(k) for k in set(data) - set(ref)][:3]
                errors.append(f"{ref_name} vs {name}: series differ; only first {only_a}, "
                              f"only second {only_b}")
                continue
            lossy = name.startswith("vm")  # VictoriaMetrics stores values as decimals (~15 digits)
            for k in ref:
                if lossy:
                    same = [t for t, _ in ref[k]] == [t for t, _ in data[k]] and all(
                        math.isclose(unb(a), unb(b), rel_tol=1e-12, abs_tol=1e-300)
                        for (_, a), (_, b) in zip(ref[k], data[k]))
                else:
                    same = ref[k] == data[k]
                if not same:
                    errors.append(f"{ref_name} vs {name}: {dict(k)} samples differ: "
                                  f"{ref[k][:4]} vs {data[k][:4]}")
                    break
    if errors:
        for e in errors[:20]:
            print("MISMATCH:", e)
        sys.exit(1)
    print("all receivers hold identical, complete data")


if __name__ == "__main__":
    main()
