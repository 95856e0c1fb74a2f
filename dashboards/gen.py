#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generates hakari's Grafana dashboards (dashboards/*.json) and the per-dashboard reference in
dashboards/README.md from one compact description, so uids, variables, links and query
conventions stay identical everywhere. Run `python3 dashboards/gen.py` and commit its output;
`--check` fails if the committed files differ from what this script produces."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_VERSION = 39  # Grafana 10.4, the oldest release we support
RI = "$__rate_interval"
TAG = "hakari"

# ---- selectors (cAdvisor row semantics, docs/metrics.md "Rows") ----
CL = 'cluster=~"$cluster"'
# App containers only: drops root/QoS/pod rows and the containerd sandbox (container="") and the
# docker/CRI-O infra container ("POD"). No image!="" so lost runtime metadata does not blank panels.
CTR = 'container!="", container!="POD"'
NS = 'namespace="$namespace"'
POD = 'pod="$pod"'
NODE = 'node=~"$node"'
ROOT = 'id="/"'  # the node's root cgroup row: node totals
MAJFLT = 'failure_type="pgmajfault", scope="container"'
FAILED = 'result="failed"'
IDLE = 'mode="idle"'
NOT_IDLE = 'mode!="idle"'
NOT_LO = 'device!="lo"'


def s(*parts):
    return ", ".join(p for p in parts if p)


def rate(metric, sel, fn="rate"):
    return f"{fn}({metric}{{{sel}}}[{RI}])"


# ---- latency histograms: native or classic (issue 15) ----
# The eBPF latencies reach a backend either as native histograms (one series per container:
# remote write with send_native_histograms, or a Prometheus scraping the protobuf format) or as
# classic _bucket series (the default). Each query reads both; where one label set has both
# forms, the native result is kept (`or` drops a right-hand element whose labels the left has).
def hquantile(q, by, metric, sel):
    return (f"histogram_quantile({q}, sum by ({by}) ({rate(metric, sel)}))\nor\n"
            f"histogram_quantile({q}, sum by ({by}, le) ({rate(metric + '_bucket', sel)}))")


def hheatmap(metric, sel):
    """Heatmap rows: the native histogram when the backend has it, else the classic buckets by le
    (their labels differ from the native sum's, so `unless on()` drops them explicitly)."""
    native = f"sum({rate(metric, sel)})"
    return f"{native}\nor\n(sum by (le) ({rate(metric + '_bucket', sel)}) unless on() {native})"


def throttle(by, sel):
    return (f"sum by ({by}) ({rate('container_cpu_cfs_throttled_periods_total', sel)})\n"
            f"/\nsum by ({by}) ({rate('container_cpu_cfs_periods_total', sel)})")


# ---- remote-write self metrics (helper "rw"; mirror prometheus_remote_storage_*) ----
RW = "hakari_remote_storage_"
EP = "remote_name, url"


class T:
    """One query target."""

    def __init__(self, expr, legend="", instant=False, fmt=None):
        self.expr, self.legend, self.instant, self.fmt = expr, legend, instant, fmt


class Dash:
    def __init__(self, uid, title, description, variables, question):
        self.uid, self.title, self.description = uid, title, description
        self.variables, self.question = variables, question
        self.panels, self.next_id, self.x, self.y, self.row_h = [], 1, 0, 0, 0
        self.doc = []  # (row title, [(panel title, description)])

    def _place(self, w, h):
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title):
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        self.panels.append({"collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                            "id": self.next_id, "panels": [], "title": title, "type": "row"})
        self.next_id += 1
        self.y += 1
        self.doc.append((title, []))

    def panel(self, kind, title, description, unit, targets, w=12, h=8, stack=False, links=None,
              decimals=None, minv=None, maxv=None, thresholds=None, columns=None, labels=None,
              options=None, transformations=None):
        ds = {"type": "prometheus", "uid": "${datasource}"}
        tg = []
        for i, t in enumerate(targets):
            d = {"datasource": ds, "editorMode": "code", "expr": t.expr,
                 "legendFormat": t.legend or "__auto", "range": not t.instant,
                 "instant": t.instant, "refId": chr(ord("A") + i)}
            if t.fmt:
                d["format"] = t.fmt
            elif kind == "table":
                d["format"] = "table"
            tg.append(d)
        defaults = {"unit": unit}
        if decimals is not None:
            defaults["decimals"] = decimals
        if minv is not None:
            defaults["min"] = minv
        if maxv is not None:
            defaults["max"] = maxv
        if thresholds:
            defaults["thresholds"] = {"mode": "absolute", "steps": [
                {"color": c, "value": v} for v, c in thresholds]}
        if kind == "timeseries":
            defaults["custom"] = {"drawStyle": "line", "fillOpacity": 10 if not stack else 30,
                                  "lineWidth": 1, "showPoints": "never", "spanNulls": False,
                                  "stacking": {"group": "A", "mode": "normal" if stack else "none"}}
        if links:
            defaults["links"] = links
        p = {"datasource": ds, "description": description,
             "fieldConfig": {"defaults": defaults, "overrides": []},
             "gridPos": self._place(w, h), "id": self.next_id, "targets": tg, "title": title,
             "type": kind}
        if kind == "timeseries":
            p["options"] = {"legend": {"calcs": ["mean", "max"], "displayMode": "table",
                                       "placement": "bottom", "showLegend": True},
                            "tooltip": {"mode": "multi", "sort": "desc"}}
        elif kind == "stat":
            p["options"] = {"colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                              "values": False}, "textMode": "auto"}
        elif kind == "table":
            p["options"] = {"showHeader": True, "cellHeight": "sm",
                            "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
            # One "Value #<refId>" column per query after the merge: name it and give it a unit.
            cols = columns or [None] * len(targets)
            rename, overrides = {}, []
            for i, col in enumerate(cols):
                if not col:
                    continue
                name, cunit = col
                src = "Value" if len(targets) == 1 else f"Value #{chr(ord('A') + i)}"
                rename[src] = name
                overrides.append({"matcher": {"id": "byName", "options": name},
                                  "properties": [{"id": "unit", "value": cunit}]})
            # label columns: shown in the given order under the given names, the rest hidden
            order, exclude = {}, {"Time": True}
            for i, (lab, name) in enumerate(labels or []):
                if name:
                    rename[lab] = name
                    order[lab] = i
                else:
                    exclude[lab] = True
            org = {"excludeByName": exclude, "renameByName": rename}
            if order:
                for i, col in enumerate(cols):
                    src = "Value" if len(targets) == 1 else f"Value #{chr(ord('A') + i)}"
                    order[src] = len(order)
                org["indexByName"] = order
            p["fieldConfig"]["overrides"] = overrides
            p["transformations"] = [{"id": "merge", "options": {}}, {"id": "organize", "options": org}]
        elif kind == "heatmap":
            p["options"] = {"calculate": False, "cellGap": 1, "color": {"mode": "scheme",
                            "scheme": "Oranges", "steps": 64}, "yAxis": {"unit": unit},
                            "rowsFrame": {"layout": "auto"}, "tooltip": {"show": True,
                                                                        "yHistogram": True}}
        elif kind == "bargauge":
            p["options"] = {"displayMode": "gradient", "orientation": "horizontal",
                            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                              "values": False}}
        if options:
            p["options"] = options
        if transformations is not None:
            p["transformations"] = transformations
        self.panels.append(p)
        self.next_id += 1
        self.doc[-1][1].append((title, description))

    def ts(self, title, description, unit, *targets, **kw):
        self.panel("timeseries", title, description, unit, list(targets), **kw)

    def stat(self, title, description, unit, *targets, w=4, h=4, **kw):
        self.panel("stat", title, description, unit, list(targets), w=w, h=h, **kw)

    def table(self, title, description, unit, *targets, w=12, h=8, **kw):
        self.panel("table", title, description, unit, list(targets), w=w, h=h, **kw)

    def heatmap(self, title, description, unit, *targets, **kw):
        self.panel("heatmap", title, description, unit, list(targets), **kw)

    def json(self):
        return {
            "annotations": {"list": [{
                "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts", "type": "dashboard"}]},
            "description": self.description,
            "editable": False,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,
            "id": None,
            "links": [{"asDropdown": True, "icon": "external link", "includeVars": True,
                       "keepTime": True, "tags": [TAG], "targetBlank": False,
                       "title": "hakari dashboards", "tooltip": "", "type": "dashboards",
                       "url": ""}],
            "panels": self.panels,
            "refresh": "30s",
            "schemaVersion": SCHEMA_VERSION,
            "tags": [TAG],
            "templating": {"list": self.variables},
            "time": {"from": "now-1h", "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
            "weekStart": "",
        }


# ---- variables ----
def v_datasource():
    return {"current": {}, "hide": 0, "includeAll": False, "label": "Data source",
            "multi": False, "name": "datasource", "options": [], "query": "prometheus",
            "refresh": 1, "regex": "", "skipUrlSync": False, "type": "datasource"}


def v_query(name, label, query, multi, all_value=".*"):
    v = {"current": {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {},
         "datasource": {"type": "prometheus", "uid": "${datasource}"},
         "definition": query, "hide": 0, "includeAll": multi, "label": label, "multi": multi,
         "name": name, "options": [], "query": {"qryType": 1, "query": query,
                                                "refId": "PrometheusVariableQueryEditor-VariableQuery"},
         "refresh": 2, "regex": "", "skipUrlSync": False, "sort": 1, "type": "query"}
    if multi:
        v["allValue"] = all_value
    return v


def v_cluster():
    # Every agent emits hakari_build_info, whatever collectors run: the list of clusters is never
    # empty while an agent reports, and no kube-state-metrics is needed. Always visible.
    return v_query("cluster", "Cluster", "label_values(hakari_build_info, cluster)", True)


def v_namespace(multi=False):
    return v_query("namespace", "Namespace", 'label_values(container_cpu_usage_seconds_total'
                   f'{{{CL}, namespace!=""}}, namespace)', multi)


def v_pod(multi=False):
    ns = 'namespace=~"$namespace"'
    return v_query("pod", "Pod", f'label_values(container_cpu_usage_seconds_total{{{CL}, {ns}, '
                   'pod!=""}, pod)', multi)


def v_container():
    return v_query("container", "Container", 'label_values(container_cpu_usage_seconds_total'
                   f'{{{CL}, {NS}, {POD}, {CTR}}}, container)', True)


def v_node():
    return v_query("node", "Node", f"label_values(hakari_build_info{{{CL}}}, node)", True)


def pod_link(title="Open pod dashboard"):
    return [{"title": title, "url": "/d/hakari-pod?${datasource:queryparam}&var-cluster="
             "${__data.fields.cluster}&var-namespace=${__data.fields.namespace}&var-pod="
             "${__data.fields.pod}&${__url_time_range}"}]


DASHBOARDS = []


def dashboard(fn):
    DASHBOARDS.append(fn)
    return fn


# ======================================================================================
@dashboard
def clusters():
    d = Dash("hakari-clusters", "hakari / Clusters",
             "Fleet overview: one line per cluster for nodes, pods, containers, CPU and memory "
             "against capacity, throttling, OOM kills and the health of metric delivery.",
             [v_datasource(), v_cluster()],
             "Which cluster needs attention right now?")
    by = "cluster"
    d.row("Clusters")
    d.table("Clusters at a glance",
            "Which cluster is busiest or unhealthy? One row per cluster: agents (nodes) "
            "reporting, pods and app containers seen, CPU cores and memory in use against the "
            "nodes' capacity. Click a cluster to open its dashboard.", "short",
            T(f"count by (cluster) (count by (cluster, node) (hakari_build_info{{{CL}}}))", "nodes", True),
            T(f'count by (cluster) (count by (cluster, namespace, pod) (container_cpu_usage_seconds_total{{{CL}, pod!=""}}))', "pods", True),
            T(f"count by (cluster) (container_cpu_usage_seconds_total{{{s(CL, CTR)}}})", "containers", True),
            T(f"sum by (cluster) ({rate('container_cpu_usage_seconds_total', s(CL, ROOT))})", "CPU cores used", True),
            T(f"sum by (cluster) (machine_cpu_cores{{{CL}}})", "CPU cores", True),
            T(f"sum by (cluster) (container_memory_working_set_bytes{{{s(CL, ROOT)}}})", "memory used", True),
            T(f"sum by (cluster) (machine_memory_bytes{{{CL}}})", "memory", True),
            w=24, h=7,
            links=[{"title": "Open cluster dashboard", "url": "/d/hakari-cluster?"
                    "${datasource:queryparam}&var-cluster=${__data.fields.cluster}&${__url_time_range}"}], columns=[('Nodes', 'short'), ('Pods', 'short'), ('Containers', 'short'), ('CPU used', 'short'), ('CPU cores', 'short'), ('Memory used', 'bytes'), ('Memory', 'bytes')])
    d.row("Capacity")
    d.ts("CPU utilisation by cluster",
         "How full is each cluster's CPU? Cores used by all cgroups (root cgroup rows, one per "
         "node) divided by the logical CPUs of the nodes.", "percentunit",
         T(f"sum by (cluster) ({rate('container_cpu_usage_seconds_total', s(CL, ROOT))})\n/\n"
           f"sum by (cluster) (machine_cpu_cores{{{CL}}})", "{{cluster}}"), minv=0)
    d.ts("Memory utilisation by cluster",
         "How full is each cluster's memory? Working set of the root cgroups divided by the "
         "nodes' physical memory.", "percentunit",
         T(f"sum by (cluster) (container_memory_working_set_bytes{{{s(CL, ROOT)}}})\n/\n"
           f"sum by (cluster) (machine_memory_bytes{{{CL}}})", "{{cluster}}"), minv=0)
    d.ts("CPU cores used vs capacity",
         "How many cores does each cluster use, and how many does it have? 'used': cores "
         "used by app containers; 'capacity': logical CPUs of the nodes.", "short",
         T(f"sum by (cluster) ({rate('container_cpu_usage_seconds_total', s(CL, CTR))})", "{{cluster}} used"),
         T(f"sum by (cluster) (machine_cpu_cores{{{CL}}})", "{{cluster}} capacity"))
    d.ts("Memory used vs capacity",
         "How much memory do app containers hold (working set), against the nodes' total?",
         "bytes",
         T(f"sum by (cluster) (container_memory_working_set_bytes{{{s(CL, CTR)}}})", "{{cluster}} used"),
         T(f"sum by (cluster) (machine_memory_bytes{{{CL}}})", "{{cluster}} capacity"))
    d.row("Problems")
    d.ts("Throttled containers",
         "How many containers with a CPU limit spend more than 25% of their CFS periods "
         "throttled? 0 means no container is throttled hard; containers without a CPU limit "
         "are never throttled and are not counted.", "short",
         T(f"sum by (cluster) (({throttle('cluster, node, namespace, pod, container', s(CL, CTR))}) > bool 0.25)", "{{cluster}}"),
         w=8, decimals=0)
    d.ts("OOM kills",
         "How many containers were OOM killed? Kills per interval from the cgroup memory "
         "events (memory.events oom_kill on v2, memory.oom_control on v1).", "short",
         T(f"sum by (cluster) ({rate('container_oom_events_total', s(CL, CTR), 'increase')})", "{{cluster}}"),
         w=8, decimals=0)
    d.ts("Agents reporting",
         "Are all nodes reporting? Number of hakari agents whose series reach the backend; a "
         "drop means nodes stopped sending.", "short",
         T(f"count by (cluster) (hakari_build_info{{{CL}}})", "{{cluster}}"), w=8, decimals=0)
    d.row("Metric delivery")
    d.ts("Remote-write samples sent",
         "Is every cluster delivering? Samples per second sent successfully by the agents.",
         "short", T(f"sum by (cluster) ({rate(RW + 'samples_sent_total', CL)})", "{{cluster}}"), w=8)
    d.ts("Remote-write failures and drops",
         "Is data being lost? Samples per second that failed for good or were dropped (any "
         "reason); should be 0.", "short",
         T(f"sum by (cluster) ({rate(RW + 'samples_failed_total', CL)})", "{{cluster}} failed"),
         T(f"sum by (cluster) ({rate(RW + 'samples_dropped_total', CL)})", "{{cluster}} dropped"), w=8)
    d.ts("Remote-write lag",
         "How far behind is delivery? Newest sample enqueued minus newest sample sent, worst "
         "agent per cluster.", "s",
         T(f"max by (cluster) ({RW}queue_highest_timestamp_seconds{{{CL}}} - {RW}queue_highest_sent_timestamp_seconds{{{CL}}})", "{{cluster}}"),
         w=8)
    return d


# ======================================================================================
@dashboard
def cluster():
    d = Dash("hakari-cluster", "hakari / Cluster",
             "One cluster (or several): headline utilisation, namespaces by CPU, memory, network "
             "and disk, top pods, and the throttled and OOM-killed containers.",
             [v_datasource(), v_cluster()],
             "Which namespaces and pods drive this cluster's load, and which are in trouble?")
    C = s(CL, CTR)
    d.row("Headlines")
    d.stat("CPU utilisation", "How busy is the cluster's CPU? All cgroups (root rows) / logical "
           "CPUs.", "percentunit",
           T(f"sum({rate('container_cpu_usage_seconds_total', s(CL, ROOT))}) / sum(machine_cpu_cores{{{CL}}})"))
    d.stat("Memory utilisation", "How full is memory? Root working set / physical memory.",
           "percentunit",
           T(f"sum(container_memory_working_set_bytes{{{s(CL, ROOT)}}}) / sum(machine_memory_bytes{{{CL}}})"))
    d.stat("Nodes", "How many nodes report (one hakari agent each)?", "short",
           T(f"count(count by (cluster, node) (hakari_build_info{{{CL}}}))"))
    d.stat("Namespaces", "How many namespaces have running pods?", "short",
           T(f'count(count by (cluster, namespace) (container_cpu_usage_seconds_total{{{CL}, namespace!=""}}))'))
    d.stat("Pods", "How many pods run?", "short",
           T(f'count(count by (cluster, namespace, pod) (container_cpu_usage_seconds_total{{{CL}, pod!=""}}))'))
    d.stat("Containers", "How many app containers run (sandboxes excluded)?", "short",
           T(f"count(container_cpu_usage_seconds_total{{{C}}})"))
    d.row("CPU")
    d.ts("CPU by namespace", "Which namespaces use the CPU? Cores used by app containers, "
         "stacked per namespace (cluster included when several are selected).", "short",
         T(f"sum by (cluster, namespace) ({rate('container_cpu_usage_seconds_total', C)})",
           "{{cluster}}/{{namespace}}"), stack=True)
    d.table("Top pods by CPU", "Which pods use the most CPU now? The 10 largest, in cores. "
            "Click a row to open the pod.", "short",
            T(f"topk(10, sum by (cluster, namespace, pod) ({rate('container_cpu_usage_seconds_total', C)}))",
              instant=True), links=pod_link(), columns=[('CPU cores', 'short')])
    d.row("Memory")
    d.ts("Memory by namespace", "Which namespaces hold memory? Working set (what the OOM "
         "killer and the kubelet's eviction look at) of app containers per namespace.",
         "bytes", T(f"sum by (cluster, namespace) (container_memory_working_set_bytes{{{C}}})",
                    "{{cluster}}/{{namespace}}"), stack=True)
    d.table("Top pods by memory", "Which pods hold the most memory now? The 10 largest "
            "working sets.", "bytes",
            T(f"topk(10, sum by (cluster, namespace, pod) (container_memory_working_set_bytes{{{C}}}))",
              instant=True), links=pod_link(), columns=[('Working set', 'bytes')])
    d.row("Network")
    NET = s(CL, 'namespace!=""')
    d.ts("Receive by namespace", "Which namespaces receive the most traffic? Pod network "
         "counters come from the pod sandbox row only, so no container filter applies and "
         "nothing is counted twice.", "Bps",
         T(f"sum by (cluster, namespace) ({rate('container_network_receive_bytes_total', NET)})",
           "{{cluster}}/{{namespace}}"))
    d.ts("Transmit by namespace", "Which namespaces send the most traffic? (sandbox rows)",
         "Bps", T(f"sum by (cluster, namespace) ({rate('container_network_transmit_bytes_total', NET)})",
                  "{{cluster}}/{{namespace}}"))
    d.row("Storage")
    d.ts("IOPS by namespace", "Which namespaces issue the most block I/O operations? Reads "
         "and writes completed per second, from blkio (v1) / io.stat (v2).", "iops",
         T(f"sum by (cluster, namespace) ({rate('container_fs_reads_total', C)})",
           "{{cluster}}/{{namespace}} reads"),
         T(f"sum by (cluster, namespace) ({rate('container_fs_writes_total', C)})",
           "{{cluster}}/{{namespace}} writes"))
    d.ts("Throughput by namespace", "Which namespaces move the most bytes to and from disk?",
         "Bps",
         T(f"sum by (cluster, namespace) ({rate('container_fs_reads_bytes_total', C)})",
           "{{cluster}}/{{namespace}} read"),
         T(f"sum by (cluster, namespace) ({rate('container_fs_writes_bytes_total', C)})",
           "{{cluster}}/{{namespace}} written"))
    d.row("Throttling and OOM")
    d.table("Most throttled containers", "Which containers hit their CPU limit? Share of CFS "
            "periods throttled, the 10 worst (only containers with a CPU limit have CFS "
            "periods).", "percentunit",
            T(f"topk(10, {throttle('cluster, namespace, pod, container', C)})", instant=True),
            links=pod_link(), columns=[('Throttled', 'percentunit')])
    d.table("OOM kills", "Which containers were OOM killed? OOM kills counted in the current "
            "container incarnation, largest first; 0 rows are containers that were never "
            "killed.", "short",
            T(f"topk(10, sum by (cluster, namespace, pod, container) (container_oom_events_total{{{C}}}))",
              instant=True), links=pod_link(), columns=[('OOM kills', 'short')])
    return d


# ---- shared drill-down rows for namespace / pod / container ----
def workload_rows(d, sel, by, legend):
    """Rows shared by the namespace (by pod), pod and container (by container) dashboards."""
    C = s(CL, sel, CTR)
    NET = s(CL, sel.replace(', container=~"$container"', ""))  # network: pod rows, no ctr filter
    d.row("CPU")
    inner = by if by == "container" else f"{by}, container"
    d.ts("CPU usage", f"How much CPU does each {legend} use? Cores, from cpuacct.usage (v1) "
         "or cpu.stat usage_usec (v2).", "short",
         T(f"sum by ({by}) ({rate('container_cpu_usage_seconds_total', C)})", "{{" + by + "}}"))
    d.ts("CPU usage and limit", f"Is any {legend} close to its CPU limit? Lines: usage and "
         "CPU limit in cores (CFS quota / period; 0 = no limit)"
         + ("" if by == "container" else "; a pod's limit is the sum of its containers' limits")
         + ".", "short",
         T(f"sum by ({by}) ({rate('container_cpu_usage_seconds_total', C)})", "{{" + by + "}} usage"),
         T(f"sum by ({by}) (\n  max by ({inner}) (container_spec_cpu_quota{{{C}}} / container_spec_cpu_period{{{C}}})\n"
           f"  or\n  max by ({inner}) (0 * container_cpu_usage_seconds_total{{{C}}})\n)",
           "{{" + by + "}} limit"))
    d.ts("CPU throttling", f"Is each {legend} throttled by its CPU limit? Share of CFS "
         "periods in which it was throttled (>25% hurts latency); 0 for containers without a "
         "CPU limit, which are never throttled.", "percentunit",
         T(f"(\n{throttle(by, C)}\n)\nor\nsum by ({by}) (0 * {rate('container_cpu_usage_seconds_total', C)})",
           "{{" + by + "}}"), minv=0, maxv=1)
    d.ts("CPU user / system", "Is the time spent in the application or in the kernel?",
         "short",
         T(f"sum by ({by}) ({rate('container_cpu_user_seconds_total', C)})", "{{" + by + "}} user"),
         T(f"sum by ({by}) ({rate('container_cpu_system_seconds_total', C)})", "{{" + by + "}} system"))
    d.row("Memory")
    d.ts("Memory working set", f"How much memory does each {legend} hold that cannot be "
         "reclaimed cheaply? usage minus inactive file cache; this is what limits and the OOM "
         "killer act on.", "bytes",
         T(f"sum by ({by}) (container_memory_working_set_bytes{{{C}}})", "{{" + by + "}}"))
    d.ts("Memory working set and limit", f"How close is each {legend} to its memory limit? "
         "Lines: working set and memory limit (0 = no limit, the cAdvisor convention)"
         + ("" if by == "container" else "; a pod's limit is the sum of its containers' limits")
         + ".", "bytes",
         T(f"sum by ({by}) (container_memory_working_set_bytes{{{C}}})", "{{" + by + "}} working set"),
         T(f"sum by ({by}) (max by ({inner}) (container_spec_memory_limit_bytes{{{C}}}))", "{{" + by + "}} limit"))
    d.ts("Memory RSS, cache, swap", "What kind of memory is it? Anonymous (RSS), page cache "
         "and swap, stacked.", "bytes",
         T(f"sum by ({by}) (container_memory_rss{{{C}}})", "{{" + by + "}} rss"),
         T(f"sum by ({by}) (container_memory_cache{{{C}}})", "{{" + by + "}} cache"),
         T(f"sum by ({by}) (container_memory_swap{{{C}}})", "{{" + by + "}} swap"), stack=True)
    d.ts("Major page faults", "Is memory pressure forcing reads from disk? Major faults per "
         "second (container scope).", "short",
         T(f'sum by ({by}) ({rate("container_memory_failures_total", s(C, MAJFLT))})',
           "{{" + by + "}}"))
    d.row("Network")
    nby = "pod"
    d.ts("Network bandwidth", "How much does the pod send and receive? Counted once per pod "
         "on the sandbox row (no container filter applies: containers share the pod's "
         "network namespace); transmit drawn negative.", "Bps",
         T(f"sum by ({nby}) ({rate('container_network_receive_bytes_total', NET)})", "{{" + nby + "}} rx"),
         T(f"-sum by ({nby}) ({rate('container_network_transmit_bytes_total', NET)})", "{{" + nby + "}} tx"))
    d.ts("Network packets", "How many packets per second does the pod handle?", "pps",
         T(f"sum by ({nby}) ({rate('container_network_receive_packets_total', NET)})", "{{" + nby + "}} rx"),
         T(f"-sum by ({nby}) ({rate('container_network_transmit_packets_total', NET)})", "{{" + nby + "}} tx"))
    d.ts("Network drops and errors", "Is the pod losing packets? Drops and errors per second, "
         "both directions; should be 0.", "pps",
         T(f"sum by ({nby}) ({rate('container_network_receive_packets_dropped_total', NET)} + {rate('container_network_transmit_packets_dropped_total', NET)})", "{{" + nby + "}} dropped"),
         T(f"sum by ({nby}) ({rate('container_network_receive_errors_total', NET)} + {rate('container_network_transmit_errors_total', NET)})", "{{" + nby + "}} errors"),
         w=24)
    d.row("Storage")
    d.ts("Disk IOPS", f"How many block I/O operations does each {legend} issue? Reads and "
         "writes per second (blkio / io.stat).", "iops",
         T(f"sum by ({by}) ({rate('container_fs_reads_total', C)})", "{{" + by + "}} reads"),
         T(f"sum by ({by}) ({rate('container_fs_writes_total', C)})", "{{" + by + "}} writes"))
    d.ts("Disk throughput", f"How many bytes does each {legend} read and write on block "
         "devices?", "Bps",
         T(f"sum by ({by}) ({rate('container_fs_reads_bytes_total', C)})", "{{" + by + "}} read"),
         T(f"sum by ({by}) ({rate('container_fs_writes_bytes_total', C)})", "{{" + by + "}} written"))
    d.row("Processes and pressure")
    d.ts("Processes and threads", f"How many processes and threads run in each {legend}? "
         "Threads are pids.current; a leak shows as steady growth.", "short",
         T(f"sum by ({by}) (container_processes{{{C}}})", "{{" + by + "}} processes"),
         T(f"sum by ({by}) (container_threads{{{C}}})", "{{" + by + "}} threads"))
    d.ts("Pressure stall (PSI)", f"Is each {legend} waiting for CPU, memory or I/O? Share of "
         "time at least one task stalled ('some'), from the cgroup v2 *.pressure files. "
         "cgroup v1 has no per-cgroup PSI: empty there.", "percentunit",
         T(f"sum by ({by}) ({rate('container_pressure_cpu_waiting_seconds_total', C)})", "{{" + by + "}} cpu"),
         T(f"sum by ({by}) ({rate('container_pressure_memory_waiting_seconds_total', C)})", "{{" + by + "}} memory"),
         T(f"sum by ({by}) ({rate('container_pressure_io_waiting_seconds_total', C)})", "{{" + by + "}} io"))
    d.row("Restarts and OOM")
    d.table("Incarnations", f"Did a {legend} restart? One row per container incarnation "
            "(cgroup id) seen in the time range, with its start time; more than one row per "
            "container means it restarted.", "dateTimeAsIso",
            T(f"max by (namespace, pod, container, id) (max_over_time(container_start_time_seconds{{{C}}}[$__range])) * 1000",
              instant=True), columns=[('Started', 'dateTimeAsIso')])
    inc = f"max_over_time(container_start_time_seconds{{{C}}}[$__range])"
    d.panel("bargauge", "Restarts", f"How often did each {legend} restart in the time range? "
            "Container incarnations (distinct cgroup ids) minus the number of containers.",
            "short",
            [T(f"count by ({by}) (max by (namespace, pod, container, id) ({inc}))\n-\n"
               f"count by ({by}) (max by (namespace, pod, container) ({inc}))",
               "{{" + by + "}}", instant=True)], decimals=0)
    d.ts("OOM kills", f"Was a {legend} OOM killed? Kills per interval from the memory cgroup "
         "(memory.events on v2, memory.oom_control on v1).", "short",
         T(f"sum by ({by}) ({rate('container_oom_events_total', C, 'increase')})", "{{" + by + "}}"),
         decimals=0)
    d.row("Kernel (eBPF)")
    d.ts("Run-queue wait", f"Is each {legend} waiting for a CPU? Seconds per second its tasks "
         "were runnable but not running (eBPF sched tracepoints). Empty without the eBPF "
         "collector.", "percentunit",
         T(f"sum by ({by}) ({rate('container_cpu_runqueue_wait_seconds_total', C)})", "{{" + by + "}}"))
    d.ts("TCP retransmits and failed connects", f"Does each {legend} have network trouble? TCP "
         "retransmits and failed connects per second, attributed by socket owner (eBPF).",
         "short",
         T(f"sum by ({by}) ({rate('container_tcp_retransmits_total', C)})", "{{" + by + "}} retransmits"),
         T(f'sum by ({by}) ({rate("container_tcp_connects_total", s(C, FAILED))})', "{{" + by + "}} failed connects"))
    d.ts("Process execs", f"How many programs does each {legend} start? exec() per second "
         "(eBPF sched_process_exec); a surprise here is worth a look.", "short",
         T(f"sum by ({by}) ({rate('container_process_execs_total', C)})", "{{" + by + "}}"))


@dashboard
def namespace():
    d = Dash("hakari-namespace", "hakari / Namespace",
             "One namespace, pod by pod: CPU against limits and throttling, memory against "
             "limits, network, block I/O, processes, pressure, restarts, OOM kills and kernel "
             "signals.",
             [v_datasource(), v_cluster(), v_namespace()],
             "Which pod of this namespace is short of CPU or memory, noisy on the network or disk, "
             "or restarting?")
    workload_rows(d, NS, "pod", "pod")
    return d


@dashboard
def pod():
    d = Dash("hakari-pod", "hakari / Pod",
             "One pod, container by container: CPU against the limit and throttling, memory "
             "against the limit, network of the pod, block I/O, processes, pressure, "
             "restarts, OOM kills and kernel signals.",
             [v_datasource(), v_cluster(), v_namespace(), v_pod()],
             "Which container of this pod is limited, growing, or restarting, and why?")
    workload_rows(d, s(NS, POD), "container", "container")
    return d


@dashboard
def container():
    d = Dash("hakari-container", "hakari / Container",
             "Selected containers of one pod, per container incarnation where it matters: "
             "CPU, throttling, memory against limit, network of the pod, I/O, processes, "
             "pressure, restarts, OOM kills and kernel signals.",
             [v_datasource(), v_cluster(), v_namespace(), v_pod(), v_container()],
             "What exactly is this container doing, and what happened to its previous "
             "incarnations?")
    workload_rows(d, s(NS, POD, 'container=~"$container"'), "container", "container")
    C = s(CL, NS, POD, 'container=~"$container"', CTR)
    d.row("Limits and details")
    d.ts("CPU limit and shares", "What CPU settings does the container run with? Limit in "
         "cores (quota/period, 0 = no limit) and CPU shares (the relative weight under "
         "contention, from cpu.shares or cpu.weight).", "short",
         T(f"max by (container) (container_spec_cpu_quota{{{C}}} / container_spec_cpu_period{{{C}}})\n"
           f"or\nmax by (container) (0 * container_cpu_usage_seconds_total{{{C}}})", "{{container}} limit (cores)"),
         T(f"max by (container) (container_spec_cpu_shares{{{C}}})", "{{container}} shares"))
    d.ts("Memory limit", "What memory limit does each container have (0 = unlimited)?",
         "bytes", T(f"max by (container) (container_spec_memory_limit_bytes{{{C}}})", "{{container}}"))
    d.ts("CPU by incarnation", "Did the usage pattern change after a restart? CPU per "
         "container incarnation (cgroup id).", "short",
         T(f"sum by (container, id) ({rate('container_cpu_usage_seconds_total', C)})", "{{container}} {{id}}"),
         w=24)
    return d


# ======================================================================================
@dashboard
def node():
    d = Dash("hakari-node", "hakari / Node",
             "Nodes: CPU, memory, load, disks, filesystems, network and pressure from the node "
             "collectors (node_exporter names), and the containers using the node.",
             [v_datasource(), v_cluster(), v_node()],
             "Is this node healthy, what is it short of, and which containers use it?")
    N = s(CL, NODE)
    d.row("Overview")
    d.stat("CPU cores", "How many logical CPUs do the selected nodes have?", "short",
           T(f"sum(machine_cpu_cores{{{N}}})"))
    d.stat("Physical memory", "How much physical memory do the selected nodes have?", "bytes",
           T(f"sum(node_memory_MemTotal_bytes{{{N}}})"))
    d.stat("CPU busy", "How busy are the CPUs? Share of non-idle time.", "percentunit",
           T(f'1 - sum({rate("node_cpu_seconds_total", s(N, IDLE))}) / sum({rate("node_cpu_seconds_total", N)})'))
    d.stat("Memory used", "How much memory is in use? 1 - MemAvailable / MemTotal.",
           "percentunit",
           T(f"1 - sum(node_memory_MemAvailable_bytes{{{N}}}) / sum(node_memory_MemTotal_bytes{{{N}}})"))
    d.stat("Load (1m) per CPU", "Is there more runnable work than CPUs? 1m load average "
           "divided by CPU count; above 1 means queuing.", "short",
           T(f"sum(node_load1{{{N}}}) / sum(machine_cpu_cores{{{N}}})"))
    d.stat("Containers", "How many app containers run on the selected nodes?", "short",
           T(f"count(container_cpu_usage_seconds_total{{{s(N, CTR)}}})"))
    d.row("CPU and load")
    d.ts("CPU by mode", "Where does CPU time go? Cores per mode (user, system, iowait, "
         "steal…) summed over CPUs, idle excluded.", "short",
         T(f'sum by (node, mode) ({rate("node_cpu_seconds_total", s(N, NOT_IDLE))})', "{{node}} {{mode}}"),
         stack=True)
    d.ts("Load average", "How much runnable and uninterruptible work is queued? 1, 5 and "
         "15 minute load averages.", "short",
         T(f"node_load1{{{N}}}", "{{node}} 1m"), T(f"node_load5{{{N}}}", "{{node}} 5m"),
         T(f"node_load15{{{N}}}", "{{node}} 15m"))
    d.row("Memory")
    d.ts("Memory usage", "How is memory used? Total, available (what can be given to programs "
         "without swapping), cached and buffers.", "bytes",
         T(f"node_memory_MemTotal_bytes{{{N}}}", "{{node}} total"),
         T(f"node_memory_MemAvailable_bytes{{{N}}}", "{{node}} available"),
         T(f"node_memory_Cached_bytes{{{N}}}", "{{node}} cached"),
         T(f"node_memory_Buffers_bytes{{{N}}}", "{{node}} buffers"))
    d.ts("Swap", "Is the node swapping? Swap in use.", "bytes",
         T(f"node_memory_SwapTotal_bytes{{{N}}} - node_memory_SwapFree_bytes{{{N}}}", "{{node}} used"))
    d.row("Disks and filesystems")
    d.ts("Disk throughput", "How many bytes do the disks read and write?", "Bps",
         T(f"sum by (node, device) ({rate('node_disk_read_bytes_total', N)})", "{{node}} {{device}} read"),
         T(f"-sum by (node, device) ({rate('node_disk_written_bytes_total', N)})", "{{node}} {{device}} written"))
    d.ts("Disk utilisation", "How busy are the disks? Share of time with I/O in flight "
         "(io_time); near 1 means the device is saturated.", "percentunit",
         T(f"sum by (node, device) ({rate('node_disk_io_time_seconds_total', N)})", "{{node}} {{device}}"))
    d.ts("Disk IOPS", "How many operations do the disks complete?", "iops",
         T(f"sum by (node, device) ({rate('node_disk_reads_completed_total', N)})", "{{node}} {{device}} reads"),
         T(f"sum by (node, device) ({rate('node_disk_writes_completed_total', N)})", "{{node}} {{device}} writes"))
    d.ts("Filesystem used", "Which filesystems are filling up? Share of space used "
         "(1 - avail/size), pseudo filesystems excluded.", "percentunit",
         T(f'1 - node_filesystem_avail_bytes{{{N}, fstype!~"tmpfs|overlay|squashfs"}} / node_filesystem_size_bytes{{{N}, fstype!~"tmpfs|overlay|squashfs"}}',
           "{{node}} {{mountpoint}}"), minv=0, maxv=1)
    d.row("Network")
    d.ts("Network bandwidth", "How much traffic do the interfaces carry? Receive positive, "
         "transmit negative.", "Bps",
         T(f'sum by (node, device) ({rate("node_network_receive_bytes_total", s(N, NOT_LO))})', "{{node}} {{device}} rx"),
         T(f'-sum by (node, device) ({rate("node_network_transmit_bytes_total", s(N, NOT_LO))})', "{{node}} {{device}} tx"))
    d.ts("Network errors and drops", "Are interfaces dropping or corrupting packets?", "pps",
         T(f"sum by (node, device) ({rate('node_network_receive_drop_total', N)} + {rate('node_network_transmit_drop_total', N)})", "{{node}} {{device}} drop"),
         T(f"sum by (node, device) ({rate('node_network_receive_errs_total', N)} + {rate('node_network_transmit_errs_total', N)})", "{{node}} {{device}} errs"))
    d.row("Pressure")
    d.ts("Pressure stall (PSI)", "Is the node short of CPU, memory or I/O? Share of time some "
         "task stalled waiting for the resource (/proc/pressure).", "percentunit",
         T(f"{rate('node_pressure_cpu_waiting_seconds_total', N)}", "{{node}} cpu"),
         T(f"{rate('node_pressure_memory_waiting_seconds_total', N)}", "{{node}} memory"),
         T(f"{rate('node_pressure_io_waiting_seconds_total', N)}", "{{node}} io"), w=24)
    d.row("Containers on the node")
    C = s(N, CTR)
    d.table("Top containers by CPU", "Which containers use this node's CPU? The 10 largest, "
            "in cores.", "short",
            T(f"topk(10, sum by (cluster, node, namespace, pod, container) ({rate('container_cpu_usage_seconds_total', C)}))", instant=True),
            links=pod_link(), columns=[('CPU cores', 'short')])
    d.table("Top containers by memory", "Which containers hold this node's memory? The 10 "
            "largest working sets.", "bytes",
            T(f"topk(10, sum by (cluster, node, namespace, pod, container) (container_memory_working_set_bytes{{{C}}}))", instant=True),
            links=pod_link(), columns=[('Working set', 'bytes')])
    d.ts("CPU by pod", "How is the node's CPU shared between pods over time?", "short",
         T(f"sum by (node, namespace, pod) ({rate('container_cpu_usage_seconds_total', C)})", "{{node}} {{namespace}}/{{pod}}"),
         stack=True)
    d.ts("Memory by pod", "How is the node's memory shared between pods over time?", "bytes",
         T(f"sum by (node, namespace, pod) (container_memory_working_set_bytes{{{C}}})", "{{node}} {{namespace}}/{{pod}}"),
         stack=True)
    return d


# ======================================================================================
@dashboard
def ebpf():
    d = Dash("hakari-ebpf", "hakari / Kernel (eBPF)",
             "Per-container kernel signals from hakari's eBPF programs: run-queue latency, "
             "context switches, TCP connects/accepts/retransmits, OOM kills, execs and exits, "
             "block I/O latency, and (opt-in) system calls. Empty where the agent cannot load BPF (see the program "
             "status panel).",
             [v_datasource(), v_cluster(), v_namespace(multi=True), v_pod(multi=True),
              v_query("container", "Container", "label_values(container_cpu_usage_seconds_total"
                      f'{{{CL}, namespace=~"$namespace", pod=~"$pod", {CTR}}}, container)', True)],
             "Why is a container slow: waiting for CPU, retransmitting, or blocked on disk? "
             "And what does it execute?")
    # namespace/pod/container are multi with All = .*, which also matches host cgroups
    # (namespace="", container="").
    C = s(CL, 'namespace=~"$namespace"', 'pod=~"$pod"', 'container=~"$container"')
    d.row("Scheduling")
    d.heatmap("Run-queue latency", "How long do tasks wait for a CPU after waking up? "
              "Distribution of wake-up to run latency over the selected containers: native "
              "histogram buckets (8 per power of two) where the backend has them, else the "
              "classic power-of-two buckets; pick one container to see its own.", "s",
              T(hheatmap('container_cpu_runqueue_latency_seconds', C), "{{le}}", fmt="heatmap"))
    d.ts("Run-queue latency p99", "What is the tail latency to get a CPU, per pod? From the "
         "native histograms where the backend has them, else from the classic buckets.", "s",
         T(hquantile(0.99, "namespace, pod", 'container_cpu_runqueue_latency_seconds', C),
           "{{namespace}}/{{pod}}"))
    d.ts("Run-queue wait", "How much time do each pod's tasks spend runnable but not "
         "running? Seconds per second (1 = one task always waiting).", "percentunit",
         T(f"sum by (namespace, pod) ({rate('container_cpu_runqueue_wait_seconds_total', C)})", "{{namespace}}/{{pod}}"))
    d.ts("Context switches", "How often are tasks switched out? Voluntary (blocking) and "
         "involuntary (preempted; many means CPU contention).", "short",
         T(f"sum by (kind) ({rate('container_context_switches_total', C)})", "{{kind}}"))
    d.row("TCP")
    d.ts("TCP connects", "Do outgoing connections succeed? Connects per second by result, "
         "attributed to the socket's cgroup.", "short",
         T(f"sum by (namespace, pod, result) ({rate('container_tcp_connects_total', C)})", "{{namespace}}/{{pod}} {{result}}"))
    d.ts("TCP accepts and closes", "How many connections are accepted and closed per second?",
         "short",
         T(f"sum by (namespace, pod) ({rate('container_tcp_accepts_total', C)})", "{{namespace}}/{{pod}} accepts"),
         T(f"sum by (namespace, pod) ({rate('container_tcp_closes_total', C)})", "{{namespace}}/{{pod}} closes"))
    d.ts("TCP active connections", "How many TCP connections are established right now?",
         "short", T(f"sum by (namespace, pod) (container_tcp_active_connections{{{C}}})", "{{namespace}}/{{pod}}"))
    d.ts("TCP retransmits", "Is the network losing segments? Retransmits per second.", "short",
         T(f"sum by (namespace, pod) ({rate('container_tcp_retransmits_total', C)})", "{{namespace}}/{{pod}}"))
    d.row("Processes and OOM")
    d.ts("Execs", "What rate of new programs does each pod start (exec)?", "short",
         T(f"sum by (namespace, pod) ({rate('container_process_execs_total', C)})", "{{namespace}}/{{pod}}"))
    d.ts("Process exits", "How do processes end: ok, error exit code, or killed by a signal?",
         "short", T(f"sum by (reason) ({rate('container_process_exits_total', C)})", "{{reason}}"))
    d.ts("OOM kills (kernel)", "Which container did the OOM killer hit? Kills attributed to "
         "the victim's cgroup (mark_victim), per interval.", "short",
         T(f"sum by (namespace, pod, container) ({rate('container_oom_kills_total', C, 'increase')})", "{{namespace}}/{{pod}}/{{container}}"),
         decimals=0)
    d.row("Block I/O")
    d.heatmap("Block I/O latency", "How long do block requests take from issue to "
              "completion? Distribution over the selected containers (owner from the bio's "
              "blkcg); native buckets where the backend has them, else classic.", "s",
              T(hheatmap('container_blkio_latency_seconds', C), "{{le}}", fmt="heatmap"))
    d.ts("Block I/O latency p99", "What is the tail latency per device and operation?", "s",
         T(hquantile(0.99, "device, op", 'container_blkio_latency_seconds', C), "{{device}} {{op}}"))
    d.row("System calls (opt-in)")
    d.ts("System calls", "Which pods make the most system calls? Calls and failed calls per "
         "second. Only with collectors.ebpf.syscalls: true (it adds a cost to every syscall "
         "on the node); empty otherwise.", "short",
         T(f"sum by (namespace, pod) ({rate('container_syscalls_total', C)})", "{{namespace}}/{{pod}} calls"),
         T(f"sum by (namespace, pod) ({rate('container_syscall_errors_total', C)})", "{{namespace}}/{{pod}} errors"))
    d.ts("System call latency p99", "How long do system calls take (entry to exit), 99th "
         "percentile per pod? Only with collectors.ebpf.syscall_latency: true.", "s",
         T(hquantile(0.99, "namespace, pod", 'container_syscall_latency_seconds', C), "{{namespace}}/{{pod}}"))
    d.row("Programs")
    d.table("eBPF programs", "Are the eBPF programs loaded on every node? 1 = attached, 0 = "
            "could not load (no BPF privileges, no BTF, old kernel).", "short",
            T(f"max by (cluster, node, program) (hakari_ebpf_program_up{{{CL}}})", instant=True), columns=[('Up', 'short')])
    d.ts("Lost events", "Is any program losing events (ring buffer full)?", "short",
         T(f"sum by (node, program) ({rate('hakari_ebpf_events_lost_total', CL)})", "{{node}} {{program}}"))
    return d


# ======================================================================================
# Topology: reads the workload_edge:* series of promql-tests/rules/topology.yml (peer IPs already
# resolved to pods and workloads across nodes and clusters); `cluster` on an edge is the client's.
EDGE = ("cluster, client_cluster, client_namespace, client_workload, client_kind, "
        "server_cluster, server_namespace, server_workload, server_kind")
TOPO = "workload_edge:container_tcp_peer"


def topo(stat, agg="sum", by=EDGE):
    """One workload-edge family for the selected clusters, edges touching the selected
    namespaces at either end."""
    m = f"{TOPO}_{stat}"
    return (f'{agg} by ({by}) (\n  {m}{{{CL}, client_namespace=~"$namespace"}}\n'
            f'  or {m}{{{CL}, server_namespace=~"$namespace"}}\n)')


def lrep(expr, *moves):
    """label_replace chains: moves are (dst, replacement, src, regex)."""
    for dst, rep, src, rx in moves:
        expr = f'label_replace({expr}, "{dst}", "{rep}", "{src}", "{rx}")'
    return expr


def end_labels(expr, side):
    """Node-graph fields of one end of an edge: id (cluster/namespace/workload, what edges'
    source/target name), title, subtitle (kind, namespace), and cluster/namespace for links."""
    e = f'label_join({expr}, "id", "/", "{side}_cluster", "{side}_namespace", "{side}_workload")'
    e = f'label_join({e}, "sub", "|", "{side}_kind", "{side}_namespace")'
    return lrep(e, ("title", "$1", f"{side}_workload", "(.*)"),
                ("subtitle", "$1", "sub", "([^|]*)[|]"),
                ("subtitle", "$1 in $2", "sub", "(.*)[|](.+)"),
                ("cluster", "$1", f"{side}_cluster", "(.*)"),
                ("namespace", "$1", f"{side}_namespace", "(.*)"))


def with_label(expr, by, label, value, text=None):
    """expr (one series per `by`) with the number `value` (same series) added as label `label`,
    optionally reformatted by label_replace's replacement `text`."""
    lab = f'count_values by ({by}) ("{label}", {value})'
    if text:
        lab = f'label_replace({lab}, "{label}", "{text}", "{label}", "(.*)")'
    return f"{expr}\n* on ({by}) group_left ({label})\n{lab}"


@dashboard
def topology():
    d = Dash("hakari-topology", "hakari / Topology",
             "Who talks to whom: workload -> workload TCP edges from hakari's per-container peer "
             "counters (eBPF), peer addresses resolved to pods and workloads on any node and in "
             "any cluster. Needs the recording rules of promql-tests/rules/topology.yml.",
             [v_datasource(), v_cluster(), v_namespace(multi=True)],
             "What does this service call, what calls it, and which of those links fails or is slow?")
    # per workload pair (ports summed; pairs that only fail to connect have 0 conn/s), edges
    # touching the selected namespaces at either end
    def pair(m):
        m = f"workload_pair:container_tcp_peer_{m}"
        return (f'({m}{{{CL}, client_namespace=~"$namespace"}}\n'
                f' or {m}{{{CL}, server_namespace=~"$namespace"}})')
    base, trouble = pair("connections:rate5m"), pair("trouble:ratio5m")
    links = [{"title": "Open namespace dashboard", "url": "/d/hakari-namespace?"
              "${datasource:queryparam}&var-cluster=${__data.fields.cluster}&var-namespace="
              "${__data.fields.namespace}&${__url_time_range}"},
             {"title": "Open eBPF dashboard", "url": "/d/hakari-ebpf?${datasource:queryparam}"
              "&var-cluster=${__data.fields.cluster}&var-namespace=${__data.fields.namespace}"
              "&${__url_time_range}"}]
    d.row("Map")
    # nodes: both ends of every edge, connections/s in + out; radius grows with the log of it
    # (count_values turns the computed radius into a label, converted back to a number below)
    ends = (f"sum by (id, title, subtitle, cluster, namespace) (\n"
            f"{end_labels(f'({base})', 'client')}\nor\n{end_labels(f'({base})', 'server')}\n)")
    # The node graph reads its fields by name, and renaming a value column in Grafana only sets a
    # display name: so every field it needs is a label; count_values turns computed numbers into
    # labels (nodeRadius, mainstat, secondarystat), nodeRadius is made a number again below.
    nodes = with_label(ends, "id", "nodeRadius", f"clamp(round(16 + 6 * ln(1 + {ends})), 16, 48)")
    nodes = with_label(nodes, "id", "mainstat", f"round({ends}, 0.001)", "$1 conn/s")
    # edge colour (Grafana 11 draws `color`; 10.3+ draws `highlighted` edges red and thick)
    colours = " or\n".join(
        lrep(f"({base})\n{op} on ({EDGE}) ({trouble} {cmp})", ("color", colour, "", ""),
             *([("highlighted", "true", "", "")] if colour == "red" else []))
        for colour, op, cmp in (("red", "and", ">= 0.1"), ("orange", "and", ">= 0.01 < 0.1"),
                                ("green", "unless", ">= 0.01")))
    e = with_label(f"({colours})", EDGE, "mainstat", f"round({base}, 0.001)", "$1 conn/s")
    e = with_label(e, EDGE, "secondarystat", f"round(100 * {trouble}, 0.1)",
                   "$1% failed or retransmitted")
    e = f'label_join({e}, "source", "/", "client_cluster", "client_namespace", "client_workload")'
    e = f'label_join({e}, "target", "/", "server_cluster", "server_namespace", "server_workload")'
    e = f'label_join({e}, "id", " -> ", "source", "target")'
    edges = lrep(e, ("namespace", "$1", "client_namespace", "(.*)"))
    d.panel("nodeGraph", "Service map",
            "Which workloads talk to which? One circle per workload (Deployment, StatefulSet, "
            "DaemonSet, CronJob, bare Pod), per node for processes outside pods and host-network "
            "addresses, per address for peers that are no known pod (External); its size and "
            "number: connections per second in and out. Arrows point from client to server, "
            "labelled with connections per second; green: fine, orange: >= 1% of connects fail "
            "or >= 0.01 retransmits per connection, red (highlighted): >= 10% / 0.1. Click a "
            "circle for its namespace and eBPF dashboards.", "cps",
            [T(nodes, instant=True, fmt="table"), T(edges, instant=True, fmt="table")],
            w=24, h=18, links=links,
            options={"nodes": {}, "edges": {}},
            transformations=[
                {"id": "convertFieldType", "options": {"conversions": [
                    {"targetField": "nodeRadius", "destinationType": "number"},
                    {"targetField": "highlighted", "destinationType": "boolean"}], "fields": {}}}])
    d.row("Edges")
    port_by = EDGE + ", port"
    d.table("Workload edges",
            "Every edge by server port: client and server workload (or the external address), "
            "connections established per second, connects that failed (refused, timed out, "
            "reset), retransmitted segments (both ends), mean smoothed RTT, and the failed "
            "share of connection attempts. Click a row for the client's namespace.", "short",
            T(topo("connections:rate5m", by=port_by), instant=True),
            T(topo("failed_connects:rate5m", by=port_by), instant=True),
            T(topo("retransmits:rate5m", by=port_by), instant=True),
            T(topo("rtt_seconds:mean5m", "max", by=port_by), instant=True),
            T(topo("failed_connects:ratio5m", "max", by=port_by), instant=True),
            w=24, h=10,
            links=[{"title": "Open the client's namespace dashboard", "url": "/d/hakari-namespace?"
                    "${datasource:queryparam}&var-cluster=${__data.fields.cluster}&var-namespace="
                    "${__data.fields.client_namespace}&${__url_time_range}"}],
            labels=[("cluster", "Cluster"), ("client_namespace", "Client namespace"),
                    ("client_workload", "Client"), ("client_kind", "Client kind"),
                    ("server_cluster", "Server cluster"), ("server_namespace", "Server namespace"),
                    ("server_workload", "Server (workload or address)"),
                    ("server_kind", "Server kind"), ("port", "Port"),
                    ("client_cluster", None)],
            columns=[("Connections/s", "cps"), ("Failed/s", "cps"), ("Retransmits/s", "short"),
                     ("RTT", "s"), ("Failed share", "percentunit")])
    POD = f'{CL}, namespace=~"$namespace"'
    pe = "workload_pod_edge:container_tcp_peer:rate5m"
    pby = "cluster, namespace, pod, direction, peer_namespace, peer_workload, peer_pod, peer_ip, port"
    d.table("Pod connections",
            "Which pod talks to which address? Each pod's own view: direction (client: it "
            "connects; server: it accepts), the peer's address and what it resolves to (pod, "
            "node or nothing), server port, connections, failed connects and retransmits per "
            "second. Processes outside pods show with an empty pod. Click a row for the pod or "
            "its kernel signals.", "short",
            *[T(f'sum by ({pby}) ({pe}{{{POD}, stat="{st}"}})', instant=True)
              for st in ("connections", "failed_connects", "retransmits")],
            w=24, h=10,
            links=pod_link() + [{"title": "Open eBPF dashboard", "url": "/d/hakari-ebpf?"
                                 "${datasource:queryparam}&var-cluster=${__data.fields.cluster}"
                                 "&var-namespace=${__data.fields.namespace}&var-pod="
                                 "${__data.fields.pod}&${__url_time_range}"}],
            labels=[("cluster", "Cluster"), ("namespace", "Namespace"), ("pod", "Pod"),
                    ("direction", "Direction"), ("peer_ip", "Peer address"),
                    ("peer_namespace", "Peer namespace"), ("peer_workload", "Peer workload"),
                    ("peer_pod", "Peer pod"), ("port", "Port")],
            columns=[("Connections/s", "cps"), ("Failed/s", "cps"), ("Retransmits/s", "short")])
    d.row("Over time")
    d.ts("Connections by client", "How many connections does each workload open per second, "
         "to everything it calls?", "cps",
         T(f"sum by (client_namespace, client_workload) ({topo('connections:rate5m', by=EDGE)})",
           "{{client_namespace}}/{{client_workload}}"), w=8)
    d.ts("Failed connects by edge", "Which edges fail to connect (refused, timed out, reset "
         "before established)? Per second, the 10 worst client -> server:port edges (flat 0: "
         "nothing fails).", "cps",
         T(f"topk(10, sum by (client_workload, server_workload, port) ({topo('failed_connects:rate5m', by=port_by)}))",
           "{{client_workload}} -> {{server_workload}}:{{port}}"), w=8)
    d.ts("Retransmits by edge", "Which edges lose segments? Retransmits per second of both "
         "ends, the 10 worst client -> server:port edges (flat 0: no loss).", "short",
         T(f"topk(10, sum by (client_workload, server_workload, port) ({topo('retransmits:rate5m', by=port_by)}))",
           "{{client_workload}} -> {{server_workload}}:{{port}}"), w=8)
    return d


# ======================================================================================
@dashboard
def agent():
    d = Dash("hakari-agent", "hakari / Agent",
             "The hakari agents themselves: versions, collectors' health, cost and series "
             "counts, dropped series, and remote-write delivery per endpoint (throughput, "
             "pending, retries, drops by reason, disk queue, lag).",
             [v_datasource(), v_cluster(), v_node()],
             "Is the agent healthy and cheap, and does every sample reach the backend?")
    N = s(CL, NODE)
    d.row("Agents")
    d.table("Versions", "Which version runs where? hakari_build_info per node.", "short",
            T(f"count by (cluster, node, version, revision) (hakari_build_info{{{N}}})", instant=True), w=8, columns=[('Agents', 'short')])
    d.ts("Collector status", "Does every collector succeed? Failed collectors per node "
         "(hakari_collector_up = 0).", "short",
         T(f"sum by (node, collector) (1 - hakari_collector_up{{{N}}})", "{{node}} {{collector}}"), w=8, decimals=0)
    d.ts("Series per snapshot", "How many series does each agent publish per cycle?",
         "short", T(f"sum by (node) (hakari_snapshot_series{{{N}}})", "{{node}}"), w=8)
    d.row("Collectors")
    d.ts("Collector duration", "How long does each collector take per cycle?", "s",
         T(f"max by (collector) (hakari_collector_duration_seconds{{{N}}})", "{{collector}}"))
    d.ts("Collector errors", "Are collectors failing or skipping malformed input? Errors per "
         "second.", "short",
         T(f"sum by (collector) ({rate('hakari_collector_errors_total', N)})", "{{collector}}"))
    d.ts("Dropped series", "Are series lost to limits.max_series or label caps? Drops per "
         "second by collector; raise the limit or filter families.", "short",
         T(f"sum by (collector) ({rate('hakari_series_dropped_total', N)})", "{{collector}}"))
    d.ts("Agent CPU", "How much CPU does each agent use? Cores.", "short",
         T(f"sum by (node) ({rate('process_cpu_seconds_total', N)})", "{{node}} cpu cores"))
    d.ts("Agent resident memory", "How much memory does each agent hold?", "bytes",
         T(f"sum by (node) (process_resident_memory_bytes{{{N}}})", "{{node}}"))
    d.ts("Agent open files", "How many file descriptors does the agent hold (cgroup dirs are "
         "kept open between cycles)?", "short",
         T(f"sum by (node) (process_open_fds{{{N}}})", "{{node}}"))
    d.row("Remote write")
    d.ts("Samples in and out", "Does delivery keep up? Samples enqueued vs sent per second, "
         "per endpoint.", "short",
         T(f"sum by ({EP}) ({rate(RW + 'samples_total', N)})", "{{remote_name}} in"),
         T(f"sum by ({EP}) ({rate(RW + 'samples_sent_total', N)})", "{{remote_name}} sent"))
    d.ts("Bytes sent", "How much bandwidth does remote-write use (compressed)?", "Bps",
         T(f"sum by ({EP}) ({rate(RW + 'bytes_total', N)})", "{{remote_name}}"))
    d.ts("Retries and failures", "Is the endpoint rejecting or failing? Samples retried "
         "(recoverable: 5xx, 429, network) and failed (non-recoverable 4xx) per second.",
         "short",
         T(f"sum by ({EP}) ({rate(RW + 'samples_retried_total', N)})", "{{remote_name}} retried"),
         T(f"sum by ({EP}) ({rate(RW + 'samples_failed_total', N)})", "{{remote_name}} failed"))
    d.ts("Dropped by reason", "Why are samples dropped (too old, disk queue full, relabel…)?",
         "short", T(f"sum by ({EP}, reason) ({rate(RW + 'samples_dropped_total', N)})", "{{remote_name}} {{reason}}"))
    d.ts("Pending samples", "How much waits to be sent? Samples queued in memory and on disk.",
         "short", T(f"sum by ({EP}) ({RW}samples_pending{{{N}}})", "{{remote_name}}"))
    d.ts("Disk queue", "How full is each agent's durable queue? Bytes on disk against the "
         "configured budget (queue_config.max_disk_bytes; 0 = unlimited).", "bytes",
         T(f"sum by (node, {EP}) ({RW}disk_queue_bytes{{{N}}})", "{{node}} {{remote_name}} used"),
         T(f"max by (node, {EP}) ({RW}disk_queue_max_bytes{{{N}}})", "{{node}} {{remote_name}} budget"))
    d.ts("Oldest pending sample", "How old is the oldest sample still waiting? Grows while an "
         "endpoint is down.", "s",
         T(f"max by ({EP}) ({RW}oldest_pending_sample_age_seconds{{{N}}})", "{{remote_name}}"))
    d.ts("Delivery lag", "How far behind is delivery? Highest timestamp enqueued minus "
         "highest timestamp sent.", "s",
         T(f"max by ({EP}) ({RW}queue_highest_timestamp_seconds{{{N}}} - {RW}queue_highest_sent_timestamp_seconds{{{N}}})", "{{remote_name}}"))
    d.ts("Shards", "How many parallel senders run per endpoint?", "short",
         T(f"sum by ({EP}) ({RW}shards{{{N}}})", "{{remote_name}}"), decimals=0)
    d.ts("Request duration p99", "How long do remote-write requests take (99th percentile)?",
         "s", T(f"histogram_quantile(0.99, sum by ({EP}, le) ({rate(RW + 'sent_batch_duration_seconds_bucket', N)}))", "{{remote_name}}"))
    return d


# ======================================================================================
def readme_section(dashes):
    out = []
    for d in dashes:
        out.append(f"### {d.title} (`{d.uid}`)\n")
        out.append(f"{d.description}\n")
        out.append(f"**Question it answers:** {d.question}\n")
        vs = ", ".join(f"`{v['name']}`" + (" (multi, All)" if v.get("multi") else "")
                       for v in d.variables)
        out.append(f"Variables: {vs}.\n")
        for row, panels in d.doc:
            out.append(f"- **{row}**")
            for title, desc in panels:
                out.append(f"  - *{title}* — {desc}")
        out.append("")
    return "\n".join(out) + "\n"


BEGIN = "<!-- BEGIN GENERATED BY dashboards/gen.py: do not edit -->\n"
END = "<!-- END GENERATED -->\n"


def render():
    files = {}
    dashes = [fn() for fn in DASHBOARDS]
    for d in dashes:
        files[os.path.join(HERE, d.uid + ".json")] = json.dumps(d.json(), indent=2,
                                                               sort_keys=True) + "\n"
    readme = os.path.join(HERE, "README.md")
    try:
        with open(readme, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = "# hakari dashboards\n\n" + BEGIN + END
    if BEGIN not in text or END not in text:
        text += "\n" + BEGIN + END
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    files[readme] = head + BEGIN + readme_section(dashes) + END + tail
    return files


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in render().items():
        try:
            with open(path, encoding="utf-8") as f:
                old = f.read()
        except FileNotFoundError:
            old = None
        if old == text:
            continue
        if check:
            stale.append(os.path.relpath(path))
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        print("out of date (run python3 dashboards/gen.py): " + " ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
