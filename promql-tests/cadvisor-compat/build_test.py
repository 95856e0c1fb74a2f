#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds a `promtool test rules` file for rules.yml from hakari's output on a fixture node root
at successive minutes (tick-<T>.prom files written by tests/integration/cgroup_promql.sh).

Input series: hakari's container_* samples as Prometheus would have scraped them from the kubelet
job (job, metrics_path, instance added), plus one kube_pod_info per pod (a kube-state-metrics
fixture series). Expected values come from the fixture generator's model (tests/fixtures/gen.py:
rates, memory sizes, throttled fractions), not from hakari's output.

  build_test.py --layout L --ticks N --dir DIR --out FILE"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tests/fixtures"))
import gen  # noqa: E402

FAMILIES = ["container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
            "container_memory_rss", "container_memory_cache", "container_memory_swap",
            "container_cpu_cfs_periods_total", "container_cpu_cfs_throttled_periods_total"]
SCRAPE = 'job="kubelet",metrics_path="/metrics/cadvisor",instance="10.0.0.7:10250"'
NODE = "node-7"
LINE = re.compile(r'^([a-z_]+)\{(.*)\} (\S+)$')


def q(s):
    return "'" + s.replace("'", "''") + "'"


def labelset(d):
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(d.items()) if v != "") + "}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layout", required=True)
    ap.add_argument("--ticks", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    series = {}
    for t in range(a.ticks):
        with open(os.path.join(a.dir, f"tick-{t}.prom")) as f:
            for line in f:
                m = LINE.match(line.strip())
                if not m or m.group(1) not in FAMILIES:
                    continue
                key = f"{m.group(1)}{{{m.group(2)},{SCRAPE}}}"
                series.setdefault(key, ["_"] * a.ticks)[t] = m.group(3)
    if not series:
        sys.exit("no container series in hakari's output")

    pods = gen.pods_spec(argparse.Namespace(pods=None, containers=2))
    sandbox_container = "" if "containerd" in a.layout else "POD"
    out = ["rule_files: [rules.yml]", "evaluation_interval: 1m", "tests:", "  - interval: 1m",
           "    input_series:"]
    for key, vals in sorted(series.items()):
        out += [f"      - series: {q(key)}", f"        values: {q(' '.join(vals))}"]
    for p in pods:
        uid = gen.uid(a.layout, p["name"])
        ksm = labelset({"namespace": p["ns"], "pod": p["name"], "node": NODE, "uid": uid,
                        "job": "kube-state-metrics", "host_ip": "10.0.0.7",
                        "created_by_kind": "ReplicaSet"})
        out += [f"      - series: {q('kube_pod_info' + ksm)}", f"        values: '1x{a.ticks}'"]

    cpu, mem = [], {"ws": [], "rss": [], "cache": [], "swap": []}
    alerts = []
    for pi, p in enumerate(pods):
        rows = [(sandbox_container, gen.SANDBOX_RATE, gen.SANDBOX_MEM, 0.0, False)]
        for ci, (cname, _image) in enumerate(p["ctrs"]):
            idx = (pi + ci) % len(gen.RATES)
            rows.append((cname, gen.RATES[idx], gen.container_mem(ci), gen.THROTTLE[idx],
                         p["qos"] == "guaranteed"))
        for cname, rate, m, throttle, quota in rows:
            lab = {"namespace": p["ns"], "pod": p["name"], "container": cname, "node": NODE}
            cpu.append((labelset(lab), rate))
            inactive, active = m // 5, m // 10
            mem["ws"].append((labelset(lab), m - inactive))
            mem["rss"].append((labelset(lab), m - inactive - active))
            mem["cache"].append((labelset(lab), inactive + active))
            mem["swap"].append((labelset(lab), 0))
            if quota and throttle > 0.25:
                alerts.append(({"severity": "info", "namespace": p["ns"], "pod": p["name"],
                                "container": cname, "instance": "10.0.0.7:10250"},
                               f"{throttle * 100:g}%"))

    def samples(items):
        r = []
        for labels, v in items:
            r += [f"          - labels: {q(labels)}", f"            value: {v!r}"]
        return r

    eval_t = f"{a.ticks - 6}m"
    out.append("    promql_expr_test:")
    for rule in ("sum_rate5m", "sum_irate"):
        out += [f"      - expr: round(node_namespace_pod_container:container_cpu_usage_seconds_total:{rule} * 1e9) / 1e9",
                f"        eval_time: {eval_t}", "        exp_samples:"] + samples(cpu)
    for short, fam in (("ws", "working_set_bytes"), ("rss", "rss"), ("cache", "cache"),
                       ("swap", "swap")):
        out += [f"      - expr: sum by (namespace, pod, container, node) "
                f"(node_namespace_pod_container:container_memory_{fam})",
                f"        eval_time: {eval_t}", "        exp_samples:"] + samples(mem[short])
    out += ["    alert_rule_test:", f"      - eval_time: {a.ticks - 1}m", "        alertname: CPUThrottlingHigh",
            "        exp_alerts:" + ("" if alerts else " []")]
    for labels, pct in alerts:
        out.append("          - exp_labels:")
        out += [f"              {k}: {q(v)}" for k, v in sorted(labels.items())]
        out += ["            exp_annotations:",
                f"              description: {q(pct + ' throttling of CPU in namespace ' + labels['namespace'] + ' for container ' + labels['container'] + ' in pod ' + labels['pod'] + '.')}",
                "              summary: 'Processes experience elevated CPU throttling.'"]
    # Before the `for` duration has passed the alert is only pending: nothing fires at 10m.
    out += ["      - eval_time: 10m", "        alertname: CPUThrottlingHigh", "        exp_alerts: []"]
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
