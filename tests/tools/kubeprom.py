#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kube-prometheus drop-in test helper (tests/integration/kube_prometheus.sh); python3 + yaml.

  kubeprom.py fixture SPEC PORT DIR      the fake cluster of SPEC (promql-tests/kube-prometheus/
                                         cluster.json) on this host: a real cgroup per container
                                         and pod sandbox with a process in it, a stand-in kubelet
                                         (GET /pods) and kube-state-metrics (GET /metrics) on
                                         127.0.0.1:PORT; touches DIR/ready when up, removes the
                                         cgroups on SIGTERM
  kubeprom.py rules DIR OUT              the groups of every *-prometheusRule.yaml in DIR as one
                                         Prometheus rule file (group intervals dropped: the test
                                         evaluates every 1s)
  kubeprom.py scrape OUT.yml JSON...     scrape_configs for OUT.yml from ServiceMonitors, the way
                                         prometheus-operator generates them; each JSON argument:
                                         {"files": [...], "target": "host:port", "node", "pod",
                                         "namespace", "only": [names], "unsplit": bool}
  kubeprom.py check SPEC JSON            the coverage check (see check())
"""
import ast
import concurrent.futures
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import http.server

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promqlcheck as pq  # noqa: E402

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=Loader) if d]


# ------------------------------------------------------------------------------------------
# The fake cluster: cgroups, kubelet /pods, kube-state-metrics

V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "blkio")


def hierarchies():
    """(mount point, kind, v1 controllers) of the cgroup hierarchies a kubelet would create pods in: v1
    controllers hakari and cAdvisor read, and the cgroup2 mount (unified or hybrid)."""
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype, _, opts = post.split()[:3]
            mnt = pre.split()[4]
            if fstype == "cgroup2":
                out.append((mnt, "v2", set()))
            elif fstype == "cgroup" and set(opts.split(",")) & set(V1_CONTROLLERS):
                out.append((mnt, "v1", set(opts.split(","))))
    return out


def cid(pod, name):
    """A stable 64-hex container id for (pod, container)."""
    return hashlib.sha256(f"{pod['uid']}/{name}".encode()).hexdigest()


def containers_of(pod):
    """(name, id, image, spec or None) for the sandbox and every container of a pod."""
    yield "", cid(pod, "sandbox"), "registry.k8s.io/pause:3.9", None
    for c in pod["containers"]:
        yield c["name"], cid(pod, c["name"]), c["image"], c


def pod_cgroup(pod):
    return f"kubepods/{pod['qos']}/pod{pod['uid']}"


def kubelet_pods(spec):
    items = []
    for p in spec["pods"]:
        st = [{"name": n, "image": img, "ready": True, "restartCount": 0,
               "containerID": "containerd://" + i} for n, i, img, c in containers_of(p) if c]
        items.append({"metadata": {"name": p["name"], "namespace": p["namespace"], "uid": p["uid"]},
                      "spec": {"nodeName": spec["node"]["name"]},
                      "status": {"phase": "Running", "qosClass": p["qos"].capitalize(),
                                 "containerStatuses": st}})
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}


def ksm_text(spec):
    """kube-state-metrics' series (names and labels as KSM v2 exposes them) for SPEC."""
    node = spec["node"]
    out = []

    def s(name, labels, value=1):
        lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
        out.append(f"{name}{{{lab}}} {value}")
    n = node["name"]
    s("kube_node_info", {"node": n, "internal_ip": node["ip"], "kernel_version": os.uname().release,
                         "os_image": "Debian GNU/Linux", "container_runtime_version": "containerd://1.7.13",
                         "kubelet_version": "v1.30.0", "kubeproxy_version": "deprecated",
                         "provider_id": "", "pod_cidr": "10.244.1.0/24", "system_uuid": ""})
    s("kube_node_role", {"node": n, "role": "control-plane"})
    s("kube_node_spec_unschedulable", {"node": n}, 0)
    for cond in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
        for status in ("true", "false", "unknown"):
            want = "true" if cond == "Ready" else "false"
            s("kube_node_status_condition", {"node": n, "condition": cond, "status": status},
              int(status == want))
    for metric in ("kube_node_status_allocatable", "kube_node_status_capacity"):
        s(metric, {"node": n, "resource": "cpu", "unit": "core"}, node["cpu"])
        s(metric, {"node": n, "resource": "memory", "unit": "byte"}, node["memory"])
        s(metric, {"node": n, "resource": "pods", "unit": "integer"}, node["pods"])
    for ns in sorted({p["namespace"] for p in spec["pods"]}):
        s("kube_namespace_status_phase", {"namespace": ns, "phase": "Active"}, 1)
        s("kube_namespace_status_phase", {"namespace": ns, "phase": "Terminating"}, 0)
    for p in spec["pods"]:
        base = {"namespace": p["namespace"], "pod": p["name"], "uid": p["uid"]}
        kind, owner = p["owner"]
        s("kube_pod_info", {**base, "host_ip": node["ip"], "pod_ip": p["ip"], "node": n,
                            "created_by_kind": kind, "created_by_name": owner,
                            "priority_class": "", "host_network": str(p["ip"] == node["ip"]).lower()})
        s("kube_pod_owner", {**base, "owner_kind": kind, "owner_name": owner,
                             "owner_is_controller": "true"})
        for ph in ("Pending", "Succeeded", "Failed", "Unknown", "Running"):
            s("kube_pod_status_phase", {**base, "phase": ph}, int(ph == "Running"))
        for cond in ("true", "false", "unknown"):
            s("kube_pod_status_ready", {**base, "condition": cond}, int(cond == "true"))
        s("kube_pod_status_qos_class", {**base, "qos_class": p["qos"]})
        if "deployment" in p:
            s("kube_replicaset_owner", {"namespace": p["namespace"], "replicaset": owner,
                                        "owner_kind": "Deployment", "owner_name": p["deployment"],
                                        "owner_is_controller": "true"})
        if "cronjob" in p:
            s("kube_job_owner", {"namespace": p["namespace"], "job_name": owner,
                                 "owner_kind": "CronJob", "owner_name": p["cronjob"],
                                 "owner_is_controller": "true"})
        for name, i, img, c in containers_of(p):
            if not c:
                continue
            cb = {**base, "container": name}
            s("kube_pod_container_info", {**cb, "image_spec": img, "image": img,
                                          "image_id": "", "container_id": "containerd://" + i})
            s("kube_pod_container_status_restarts_total", cb, 0)
            s("kube_pod_container_status_ready", cb, 1)
            s("kube_pod_container_status_running", cb, 1)
            for kind_, vals in (("requests", c["requests"]), ("limits", c["limits"])):
                s(f"kube_pod_container_resource_{kind_}",
                  {**cb, "node": n, "resource": "cpu", "unit": "core"}, vals["cpu"])
                s(f"kube_pod_container_resource_{kind_}",
                  {**cb, "node": n, "resource": "memory", "unit": "byte"}, vals["memory"])
    for ns in sorted({p["namespace"] for p in spec["pods"]}):
        for typ, val in (("hard", 4), ("used", 1)):
            s("kube_resourcequota", {"namespace": ns, "resourcequota": "quota", "resource": "requests.cpu",
                                     "type": typ}, val)
    return "\n".join(out) + "\n"


def fixture(spec_path, port, state_dir):
    spec = json.load(open(spec_path, encoding="utf-8"))
    created, children = [], []

    def cleanup(*_):
        for ch in children:
            try:
                ch.kill()
                ch.wait(5)
            except Exception:  # noqa: BLE001 - clean up as much as possible
                pass
        for d in reversed(created):
            for _ in range(25):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.2)
        sys.exit(0)
    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)
    hier = hierarchies()
    app_leafs = []
    try:
        for p in spec["pods"]:
            for name, i, _, c in containers_of(p):
                rel = f"{pod_cgroup(p)}/{i}"
                leafs = []
                for mnt, kind, ctrls in hier:
                    cur = mnt
                    for part in rel.split("/"):
                        if kind == "v2":  # controllers for the children, as the kubelet does
                            try:
                                with open(os.path.join(cur, "cgroup.subtree_control"), "w") as f:
                                    f.write("+cpu +memory +pids +io")
                            except OSError:
                                pass
                        cur = os.path.join(cur, part)
                        if not os.path.isdir(cur):
                            os.mkdir(cur)
                            created.append(cur)
                    leafs.append((cur, kind))
                    if c and ((kind == "v1" and "cpu" in ctrls) or
                              (kind == "v2" and os.path.exists(os.path.join(cur, "cpu.max")))):
                        quota = int(c["limits"]["cpu"] * 100000)
                        f, v = (("cpu.max", f"{quota} 100000") if kind == "v2" else
                                ("cpu.cfs_quota_us", str(quota)))
                        with open(os.path.join(cur, f), "w") as fh:
                            fh.write(v)
                    if c and ((kind == "v1" and "memory" in ctrls) or
                              (kind == "v2" and os.path.exists(os.path.join(cur, "memory.max")))):
                        f = "memory.max" if kind == "v2" else "memory.limit_in_bytes"
                        with open(os.path.join(cur, f), "w") as fh:
                            fh.write(str(c["limits"]["memory"]))
                # The process joins its cgroups before it runs: a little direct I/O (blkio and
                # container_fs_* series), then it sleeps. The sandbox only sleeps.
                procs = [os.path.join(d, "cgroup.procs") for d, _ in leafs]
                io = (f"dd if=/dev/zero of={state_dir}/io-{i[:12]} bs=64k count=8 oflag=direct "
                      f"2>/dev/null; rm -f {state_dir}/io-{i[:12]}; " if c else "")

                def join(procs=procs):
                    for pf in procs:
                        with open(pf, "w") as f:
                            f.write("0")
                children.append(subprocess.Popen(["sh", "-c", io + "exec sleep 3600"],
                                                 preexec_fn=join))
                if c:
                    app_leafs.append((leafs, children[-1].pid))
        # What the kernel accounts to these cgroups (cAdvisor reads the same files): block I/O
        # per device, once the processes are past their direct I/O.
        blkio = False
        for leafs, pid in app_leafs:
            for _ in range(100):
                try:
                    if open(f"/proc/{pid}/comm", encoding="utf-8").read().strip() == "sleep":
                        break
                except OSError:
                    break
                time.sleep(0.1)
            for d, kind in leafs:
                f = os.path.join(d, "io.stat" if kind == "v2" else "blkio.throttle.io_service_bytes_recursive")
                try:
                    lines = open(f, encoding="utf-8").read().splitlines()
                except OSError:
                    continue
                blkio |= any(re.match(r"^\d+:\d+ ", l) and not l.endswith(" 0") for l in lines)
        with open(os.path.join(state_dir, "host.json"), "w", encoding="utf-8") as f:
            json.dump({"blkio": blkio}, f)
        pods = json.dumps(kubelet_pods(spec)).encode()
        ksm = ksm_text(spec).encode()

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body, ctype = {"/pods": (pods, "application/json"),
                               "/metrics": (ksm, "text/plain; version=0.0.4")}.get(self.path, (None, None))
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass
        srv = http.server.HTTPServer(("127.0.0.1", int(port)), H)
        open(os.path.join(state_dir, "ready"), "w").close()
        srv.serve_forever()
    finally:
        cleanup()


# ------------------------------------------------------------------------------------------
# Rules

def rule_groups(paths):
    groups = []
    for path in paths:
        for doc in load_yaml_docs(path):
            for g in doc["spec"]["groups"]:
                g = dict(g)
                g.pop("interval", None)
                g["name"] = f"{os.path.basename(path)}/{g['name']}"
                groups.append(g)
    return groups


def write_rules(src_dir, out):
    paths = sorted(os.path.join(src_dir, f) for f in os.listdir(src_dir)
                   if f.endswith("-prometheusRule.yaml"))
    with open(out, "w", encoding="utf-8") as f:
        yaml.safe_dump({"groups": rule_groups(paths)}, f, sort_keys=False, width=10000)


# ------------------------------------------------------------------------------------------
# ServiceMonitor -> scrape config, as prometheus-operator renders it

def meta(name):
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


RELABEL_KEYS = {"sourceLabels": "source_labels", "targetLabel": "target_label"}


def relabels(rules):
    return [{RELABEL_KEYS.get(k, k): v for k, v in r.items()} for r in rules or []]


def scrape_jobs(src):
    """Scrape configs for every ServiceMonitor endpoint in src['files'] (restricted to
    src['only'] names), the target being one pod of the DaemonSet on node src['node']."""
    objs = [o for f in src["files"] for o in load_yaml_docs(f)]
    services = [o for o in objs if o.get("kind") == "Service"]
    jobs = []
    for sm in objs:
        if sm.get("kind") != "ServiceMonitor" or sm["metadata"]["name"] not in src.get("only", [sm["metadata"]["name"]]):
            continue
        sel = sm["spec"].get("selector", {}).get("matchLabels", {})
        svc = next((s for s in services
                    if all(s["metadata"].get("labels", {}).get(k) == v for k, v in sel.items())), None)
        svc_name = svc["metadata"]["name"] if svc else sm["metadata"]["name"]
        svc_labels = svc["metadata"].get("labels", {}) if svc else sel
        labels = {"__meta_kubernetes_namespace": src["namespace"],
                  "__meta_kubernetes_service_name": svc_name,
                  "__meta_kubernetes_pod_name": src["pod"],
                  "__meta_kubernetes_pod_node_name": src["node"],
                  "__meta_kubernetes_pod_container_name": src.get("container", svc_name)}
        for k, v in svc_labels.items():
            labels[f"__meta_kubernetes_service_label_{meta(k)}"] = v
        for i, ep in enumerate(sm["spec"]["endpoints"]):
            path = ep.get("path", "/metrics")
            rc = [{"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                  {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
                  {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                  {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
                  {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job"}]
            if sm["spec"].get("jobLabel"):
                rc.append({"source_labels": [f"__meta_kubernetes_service_label_{meta(sm['spec']['jobLabel'])}"],
                           "regex": "(.+)", "target_label": "job"})
            rc.append({"target_label": "endpoint", "replacement": str(ep.get("port", ep.get("targetPort", "")))})
            rc += relabels(ep.get("relabelings"))
            mrc = relabels(ep.get("metricRelabelings"))
            if src.get("unsplit") and path in UNSPLIT:
                # TEMPORARY (see SPLIT_ENDPOINTS in kube_prometheus.sh): hakari has only /metrics;
                # keep this endpoint's families and restore the label the real path would give.
                keep, path = UNSPLIT[path], "/metrics"
                mrc.insert(0, {"source_labels": ["__name__"], "regex": keep, "action": "keep"})
                if any(r.get("target_label") == "metrics_path" for r in rc):
                    rc.append({"target_label": "metrics_path", "replacement": ep["path"]})
            jobs.append({"job_name": f"serviceMonitor/{sm['metadata']['namespace']}/{sm['metadata']['name']}/{i}",
                         "honor_labels": bool(ep.get("honorLabels", False)),
                         "honor_timestamps": bool(ep.get("honorTimestamps", True)),
                         "scrape_interval": "1s", "scrape_timeout": "1s", "metrics_path": path,
                         "static_configs": [{"targets": [src["target"]], "labels": labels}],
                         "relabel_configs": rc, "metric_relabel_configs": mrc})
    if not jobs:
        raise SystemExit(f"no ServiceMonitor endpoints in {src['files']} (only {src.get('only')})")
    return jobs


UNSPLIT = {"/metrics/node": "node_.*", "/metrics/cadvisor": "(container|machine)_.*"}


def write_scrape(out, sources):
    jobs = []
    for s in sources:
        src = json.loads(s)
        if src.get("static"):  # a plain job (kube-state-metrics)
            jobs.append({"job_name": src["job"], "honor_labels": True, "scrape_interval": "1s",
                         "scrape_timeout": "1s",
                         "static_configs": [{"targets": [src["target"]], "labels": {"job": src["job"]}}]})
        else:
            jobs.extend(scrape_jobs(src))
    with open(out, "a", encoding="utf-8") as f:
        yaml.safe_dump({"scrape_configs": jobs}, f, sort_keys=False, width=10000)


# ------------------------------------------------------------------------------------------
# The coverage check
#
# Every recording rule, alert and dashboard target of the kube-prometheus copy is a query. The
# baseline Prometheus (node_exporter 1.5 on this host + the kube-state-metrics file, both as
# kube-prometheus scrapes them) decides which queries "node_exporter + cAdvisor answer here":
#   * a query that needs no cAdvisor series is answerable when the baseline returns data for it;
#   * a query that needs container_*/machine_* (directly or through recorded series) cannot be run
#     there (no kubelet on this host): it is answerable when every such family is one the
#     kubelet's cAdvisor exposes (CADVISOR file, minus kube-prometheus' unconditional drops), a
#     container_fs_* device matcher matches a block device node_exporter sees here, and every
#     other selector in it has data on the baseline.
# Alerts and panels are evaluated without their thresholds: every comparison becomes a `bool`
# comparison, so an alert answers when its expression yields series (firing or not), and a
# panel's `!= 0` does not make the answer depend on an idle host's values.
# Queries count for coverage when they use node_exporter's or cAdvisor's series (directly or
# through recorded rules); those built only on kube-state-metrics or on other components are
# listed as not counted. hakari must return data for every answerable counted query on both the
# scrape and the remote-write Prometheus.

# Families other helpers of issue 13 are adding (misses caused only by their absence are
# "pending", expected to vanish when those branches are merged).
PENDING = [
    (r"node_vmstat_.*", "collector vmstat"), (r"node_netstat_.*", "collector netstat"),
    (r"node_sockstat_.*", "collector sockstat"), (r"node_softnet_.*", "collector softnet"),
    (r"node_filefd_.*", "collector filefd"), (r"node_nf_conntrack_.*", "collector conntrack"),
    (r"node_entropy_.*", "collector entropy"),
    (r"node_network_(up|info|mtu_bytes|speed_bytes|carrier.*|address_assign_type|device_id|dormant|flags|"
     r"iface_id|iface_link|iface_link_mode|name_assign_type|net_dev_group|protocol_type|"
     r"transmit_queue_length)", "collector netclass"),
    (r"node_timex_.*", "collector timex"), (r"node_time_(seconds|zone_offset_seconds)", "collector time"),
    (r"node_uname_info", "collector uname"), (r"node_os_.*", "collector os"),
    (r"node_(boot_time_seconds|context_switches_total|forks_total|intr_total|procs_blocked|procs_running)",
     "stat leftovers"),
    (r"node_textfile_scrape_error", "textfile parity"),
]


def pending_piece(name):
    return next((why for rx, why in PENDING if re.fullmatch(rx, name)), None)


CMP = {"==", "!=", ">", "<", ">=", "<="}


def without_thresholds(expr):
    """expr with every comparison made a `bool` comparison (outside label matchers)."""
    toks = pq.lex(expr)
    out, depth = [], 0
    for i, (kind, text) in enumerate(toks):
        out.append(text)
        if text == "{":
            depth += 1
        elif text == "}":
            depth -= 1
        elif kind == "op" and text in CMP and depth == 0:
            if not (i + 1 < len(toks) and toks[i + 1][1] == "bool"):
                out.append("bool")
    return " ".join(out)


def source_of(name, matchers, records):
    if name.startswith(("container_", "machine_")):
        return {"cadvisor"}
    if name.startswith("node_") and ":" not in name:
        return {"node"}
    if name.startswith("kube_"):
        return {"ksm"}
    if name == "up":
        if "node-exporter" in matchers:
            return {"node"}
        if "/metrics/cadvisor" in matchers:
            return {"cadvisor"}
    if name in records:
        return records[name]["sources"]
    return {"other"}


class Query:
    def __init__(self, kind, qid, expr, dash=None, target=None):
        self.kind, self.id, self.expr, self.dash, self.target = kind, qid, expr, dash, target
        self.sources = set()
        self.res = {}        # prom name -> (series count, substituted expr, error)
        self.answerable, self.why = False, ""


def check(spec_path, cfg):
    """cfg: {baseline, scrape, rw: URLs; rules: rule file; dashboards: ConfigMapList; cadvisor:
    family list; kubelet_sm: kube-prometheus' kubelet ServiceMonitor; pending_ok: bool}"""
    proms = {"baseline": pq.Prom(cfg["baseline"]), "scrape": pq.Prom(cfg["scrape"]),
             "remote-write": pq.Prom(cfg["rw"])}
    # cAdvisor families as the kubelet exposes them, less what kube-prometheus always drops
    fams = {l.split()[0] for l in open(cfg["cadvisor"], encoding="utf-8")
            if l.strip() and not l.startswith("#")}
    for sm in load_yaml_docs(cfg["kubelet_sm"]):
        for ep in sm["spec"]["endpoints"]:
            if ep.get("path") != "/metrics/cadvisor":
                continue
            for r in ep.get("metricRelabelings", []):
                if r.get("action") == "drop" and r.get("sourceLabels") == ["__name__"]:
                    fams = {f for f in fams if not re.fullmatch(r["regex"], f)}
    # queries
    groups = yaml.safe_load(open(cfg["rules"], encoding="utf-8"))["groups"]
    queries, records = [], {}
    for g in groups:
        for r in g["rules"]:
            if "record" in r:
                q = Query("rules", f"{g['name']}: {r['record']}", r["expr"])
                records.setdefault(r["record"], {"rules": [], "sources": set()})["rules"].append(q)
            else:
                q = Query("alerts", f"{g['name']}: {r['alert']}", without_thresholds(r["expr"]))
            queries.append(q)
    cms = load_yaml_docs(cfg["dashboards"])[0]["items"]
    dashes = []
    for cm in cms:
        for fname, text in cm["data"].items():
            d = json.loads(text)
            dashes.append((fname, d))
            for p, t in pq.targets(d):
                queries.append(Query("panels", f"{fname}: {p.get('title') or '(untitled)'} {t.get('refId', '')}",
                                     without_thresholds(t["expr"]), dash=fname, target=t))
    # sources, records first (in order: rules build on earlier ones)
    for _ in range(5):
        for q in queries:
            q.sources = set()
            for name, m in pq.selectors(q.expr):
                if name:
                    q.sources |= source_of(name, m, records)
        for rec in records.values():
            rec["sources"] = set().union(*(q.sources for q in rec["rules"]))
    # evaluate everywhere
    now = time.time()
    window, step = 30, 5
    builtins = {"__rate_interval": "20s", "__interval": f"{step}s", "__range": f"{window}s",
                "__range_s": str(window), "__interval_ms": str(step * 1000), "__auto_interval_interval": "5s"}
    vals, empty_vars = {}, {}
    spec = json.load(open(spec_path, encoding="utf-8"))
    for pname, prom in proms.items():
        for fname, d in dashes:
            pinned = {}
            if pname == "baseline":
                # variables listed from cAdvisor series: the baseline has none, cAdvisor would
                # list the fake pods (each has cgroups and a sandbox with network), first value
                # as Grafana picks it
                for v in d.get("templating", {}).get("list", []):
                    names = [n for n, _ in pq.selectors(pq.variable_as_promql(pq.var_query(v))) if n]
                    if not any(n.startswith(("container_", "machine_")) for n in names):
                        continue
                    if v["name"] == "namespace":
                        pinned["namespace"] = min(p["namespace"] for p in spec["pods"])
                    elif v["name"] == "pod" and "namespace" in pinned:
                        pinned["pod"] = min(p["name"] for p in spec["pods"]
                                            if p["namespace"] == pinned["namespace"])
            try:
                vals[(pname, fname)], probs = pq.resolve(prom, d, pinned, now - window, now, builtins)
            except Exception as e:  # noqa: BLE001 - variables of other components may not resolve
                vals[(pname, fname)], probs = None, []
                print(f"note: {fname} variables on {pname}: {e}")
            # (variable, its query) that found no values
            empty_vars[(pname, fname)] = [
                (m.group(1), ast.literal_eval(m.group(2))) for m in
                (re.match(r"variable (\w+): query (.*) returned no values$", p) for p in probs) if m]

    def run(job):
        pname, q = job
        prom = proms[pname]
        expr = q.expr
        try:
            if q.kind == "panels":
                v = vals[(pname, q.dash)]
                if v is None:
                    return job, (0, expr, "variables unresolved")
                expr = pq.substitute(expr, v, builtins)
                if q.target.get("instant"):
                    n = len(prom.get("/api/v1/query", {"query": expr, "time": now})["result"])
                else:
                    n = len(prom.get("/api/v1/query_range", {"query": expr, "start": now - window,
                                                              "end": now, "step": step})["result"])
            else:
                n = len(prom.get("/api/v1/query", {"query": expr, "time": now})["result"])
            return job, (n, expr, None)
        except Exception as e:  # noqa: BLE001 - a failing query is a result too
            return job, (0, expr, str(e)[:200])
    jobs = [(p, q) for p in proms for q in queries]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        for (pname, q), res in pool.map(run, jobs):
            q.res[pname] = res
    base = proms["baseline"]
    with open(os.path.join(cfg["fixture_dir"], "host.json"), encoding="utf-8") as f:
        facts = json.load(f)
    print(f"host facts from the fake pods' cgroups: {facts}")
    sel_cache = {}

    def has_data(prom, sel):
        key = (prom.url, sel)
        if key not in sel_cache:
            try:
                sel_cache[key] = bool(prom.get("/api/v1/query", {"query": f"count({sel})", "time": now})["result"])
            except Exception:  # noqa: BLE001
                sel_cache[key] = False
        return sel_cache[key]
    disk_ok = {}

    def device_ok(m):
        dm = re.search(r'device\s*(=~|=|!~|!=)\s*("(?:\\.|[^"\\])*")', m)
        if not dm:
            return True
        if m not in disk_ok:
            disk_ok[m] = has_data(base, f"node_disk_read_bytes_total{{device{dm.group(1)}{dm.group(2)}}}")
        return disk_ok[m]

    def by_name(q, seen=()):
        """Answerable by names (for queries that need cAdvisor): reason or None."""
        n, expr, _ = q.res["baseline"]
        for name, m in pq.selectors(expr):
            if not name:
                continue
            src = source_of(name, m, records)
            if name.startswith(("container_", "machine_")):
                if name not in fams:
                    return f"{name} is not a family the kubelet's cAdvisor exposes"
                if re.fullmatch(r"container_fs_(reads|writes)(_bytes)?_total", name) and not facts.get("blkio"):
                    return (f"{name}: the kernel accounts no block I/O to the pods' cgroups here "
                            "(blkio.throttle.io_service_bytes / io.stat list no device after direct I/O)")
                if name.startswith("container_fs_") and not device_ok(m):
                    return f"{name}{{{m}}}: no such block device on this host"
            elif name in records and "cadvisor" in src:
                if name in seen or not any(by_name(r, seen + (name,)) is None for r in records[name]["rules"]):
                    return f"recorded {name} is not answerable"
            elif not has_data(base, f"{name}{{{m}}}" if m else name):
                return f"no data for {name}{{{m}}} on the baseline"
        return None
    for q in queries:
        n, _, err = q.res["baseline"]
        if "cadvisor" in q.sources:
            why = by_name(q)
            q.answerable, q.why = why is None, why or "by names (cAdvisor)"
        else:
            q.answerable, q.why = n > 0, ("baseline data" if n else f"baseline: no data {err or ''}")
    return report(queries, proms, records, has_data, cfg.get("pending_ok"), empty_vars)


def diagnose(q, pname, prom, records, has_data, empty_vars, seen=()):
    """Why q returns nothing on prom: list of (text, pending piece or None)."""
    _, expr, err = q.res[pname]
    out = []
    if q.kind == "panels":
        # a dashboard variable that finds values on the baseline but not here empties the panel
        base = {v for v, _ in empty_vars[("baseline", q.dash)]}
        for var, vq in empty_vars[(pname, q.dash)]:
            if var in base:
                continue
            for name, m in pq.selectors(pq.variable_as_promql(vq)):
                if name and not has_data(prom, name):
                    out.append((f"variable ${var}: no {name}", pending_piece(name)))
                elif name:
                    out.append((f"variable ${var}: {name}{{{m}}} matches nothing (labels)", None))
        if out:
            return out
    if err:
        return [(f"error: {err}", None)]
    for name, m in pq.selectors(expr):
        if not name:
            continue
        sel = f"{name}{{{m}}}" if m else name
        if has_data(prom, sel):
            continue
        if name in records and name not in seen and not has_data(prom, name):
            sub = []
            for r in records[name]["rules"]:
                sub += diagnose(r, pname, prom, records, has_data, empty_vars, seen + (name,))
            out += sub or [(f"recorded {name} empty", None)]
        elif not has_data(prom, name):
            out.append((f"no {name}", pending_piece(name)))
        else:
            out.append((f"{sel} matches nothing (labels)", None))
    if not out:
        out.append(("every selector has data: the join/aggregation returns nothing", None))
    # a miss is pending only when every cause is
    return out


def report(queries, proms, records, has_data, pending_ok, empty_vars):
    counted = [q for q in queries if q.sources & {"node", "cadvisor"}]
    rows, misses = {}, []
    for q in counted:
        half = "k8s" if "cadvisor" in q.sources else "node"
        for pname in ("scrape", "remote-write"):
            key = (q.kind, half, pname)
            r = rows.setdefault(key, [0, 0])
            if not q.answerable:
                continue
            r[1] += 1
            if q.res[pname][0] > 0:
                r[0] += 1
            else:
                causes = diagnose(q, pname, proms[pname], records, has_data, empty_vars)
                pend = sorted({p for _, p in causes if p}) if all(p for _, p in causes) else []
                misses.append((q, pname, causes, pend))
    print("\n== coverage: queries node_exporter + cAdvisor answer on this host, answered by hakari ==")
    print(f"{'source':8} {'half':5} {'scrape':>14} {'remote-write':>14}")
    tot = {"scrape": [0, 0], "remote-write": [0, 0]}
    for kind in ("rules", "alerts", "panels"):
        for half in ("node", "k8s"):
            cells = []
            for pname in ("scrape", "remote-write"):
                a, b = rows.get((kind, half, pname), [0, 0])
                tot[pname][0] += a
                tot[pname][1] += b
                cells.append(f"{a}/{b} {100 * a / b:5.1f}%" if b else "-")
            print(f"{kind:8} {half:5} {cells[0]:>14} {cells[1]:>14}")
    print(f"{'total':14} " + " ".join(f"{a}/{b} {100 * a / b if b else 100:5.1f}%".rjust(14)
                                      for a, b in tot.values()))
    n_ans = sum(q.answerable for q in counted)
    print(f"{len(queries)} queries: {len(counted)} use node_exporter/cAdvisor series, "
          f"{n_ans} of them answerable here; not counted: "
          f"{sum(1 for q in queries if q not in counted)} (kube-state-metrics only or other components)")
    by_name_n = sum(1 for q in counted if q.answerable and "cadvisor" in q.sources)
    print(f"answerable by cAdvisor family names (no kubelet here): {by_name_n}")
    errored = [q for q in queries if q.res["baseline"][2]]
    print(f"queries the baseline rejects (errors): {len(errored)}")
    for q in errored[:10]:
        print(f"  {q.kind} {q.id}: {q.res['baseline'][2]}")
    reasons = {}
    for q in counted:
        if not q.answerable:
            r = re.sub(r"\{.*\}", "{…}", q.why.strip())
            reasons.setdefault(r, []).append(q.id)
    print("not answerable here by node_exporter + cAdvisor (so not required of hakari):")
    for r, ids in sorted(reasons.items(), key=lambda x: -len(x[1])):
        more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
        print(f"  {len(ids):3} {r[:160]}: " + "; ".join(ids[:3]) + more)
    real = [m for m in misses if not m[3]]
    pend = [m for m in misses if m[3]]
    for title, lst in (("PENDING (families other issue-13 branches add)", pend), ("REAL GAPS", real)):
        print(f"\n== {title}: {len(lst)} ==")
        for q, pname, causes, pieces in lst:
            print(f"- [{pname}] {q.kind} {q.id}")
            for text, p in causes:
                print(f"    {text}" + (f"  (pending: {p})" if p else ""))
    pieces = {}
    for _, _, _, ps in pend:
        for p in ps:
            pieces[p] = pieces.get(p, 0) + 1
    if pieces:
        print("\npending pieces and the misses they cause: " +
              ", ".join(f"{p} {n}" for p, n in sorted(pieces.items())))
    errs = []
    if real:
        errs.append(f"{len(real)} answerable queries return nothing from hakari (REAL GAPS above)")
    if pend and not pending_ok:
        errs.append(f"{len(pend)} answerable queries wait for pending collectors (PENDING above)")
    if n_ans == 0:
        errs.append("the baseline answers nothing: the test measures nothing")
    return errs


COMMANDS = {
    "fixture": lambda a: fixture(a[0], a[1], a[2]) or [],
    "rules": lambda a: write_rules(a[0], a[1]) or [],
    "scrape": lambda a: write_scrape(a[0], a[1:]) or [],
    "check": lambda a: check(a[0], json.loads(a[1])),
}


def main(argv):
    run = COMMANDS.get(argv[1]) if len(argv) > 1 else None
    if run is None:
        print(__doc__)
        return 2
    errs = run(argv[2:])
    for e in errs:
        print("ERROR " + e)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
