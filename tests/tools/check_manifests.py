#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Validates deploy/kubernetes: every file parses, each kustomization (base and overlays) renders
(own strategic-merge resolver; compared with `kubectl kustomize` when kubectl exists), required
fields and cross-references hold, the container's capabilities equal the set docs/operations.md
documents, and every rendered hakari.yml plus the container args pass `hakari --config.check`."""
import base64
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

# libyaml's parser: the rendered sets hold every dashboard, pure Python would be slow.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TOP = os.environ.get("TOP") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HAKARI = os.environ.get("HAKARI") or os.path.join(TOP, os.environ.get("O", "build"), "hakari")
KDIR = os.path.join(TOP, "deploy", "kubernetes")
NAMESPACE = "hakari"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
# exporter/http.c's exposition endpoints.
SERVED_PATHS = {"/metrics", "/metrics/node", "/metrics/cadvisor", "/metrics/self"}
FAKE_FIELDS = {"spec.nodeName": "node-1", "status.hostIP": "10.0.0.1",
               "metadata.name": "hakari-abcde", "metadata.namespace": NAMESPACE}


def field_value(path, pod_labels):
    """The downward API's value of fieldRef.fieldPath: a pod label (metadata.labels['k']) from the
    template, the rest faked. KeyError for a label the template lacks (the kubelet refuses it)."""
    m = re.fullmatch(r"metadata\.labels\['([^']+)'\]", path)
    return pod_labels[m.group(1)] if m else FAKE_FIELDS[path]
# Paths collectors only fall back to; the DaemonSet does not need to mount them.
OPTIONAL_ROOTFS = {"var/lib/dbus/machine-id": "machine collector: fallback for etc/machine-id"}
errors = []
checks = 0


def err(where, msg):
    errors.append(f"{where}: {msg}")


def ok(cond, where, msg):
    global checks
    checks += 1
    if not cond:
        err(where, msg)
    return cond


# ---- a small kustomize: resources, strategic-merge patches (lists merged by name), deletes ----

def load_docs(path):
    with open(path, encoding="utf-8") as fh:
        docs = [d for d in yaml.load_all(fh, Loader=Loader) if d is not None]
    out = []
    for d in docs:
        if d.get("kind") == "List" and d.get("apiVersion") == "v1":
            out.extend(d.get("items") or [])
        else:
            out.append(d)
    return out


def obj_id(o):
    md = o.get("metadata") or {}
    return (o.get("kind"), md.get("namespace"), md.get("name"))


def merge(dst, patch):
    if not isinstance(dst, dict) or not isinstance(patch, dict):
        return patch
    out = dict(dst)
    for k, v in patch.items():
        if k == "$patch":
            continue
        if k in out and isinstance(out[k], dict) and isinstance(v, dict):
            out[k] = merge(out[k], v)
        elif (k in out and isinstance(out[k], list) and isinstance(v, list) and v and
              all(isinstance(x, dict) and "name" in x for x in v + out[k])):
            items = list(out[k])
            for pv in v:
                idx = next((i for i, x in enumerate(items) if x["name"] == pv["name"]), None)
                if idx is None:
                    items.append(pv)
                else:
                    items[idx] = merge(items[idx], pv)
            out[k] = items
        else:
            out[k] = v
    return out


def render(kdir):
    with open(os.path.join(kdir, "kustomization.yaml"), encoding="utf-8") as fh:
        k = yaml.safe_load(fh)
    objs = []
    for r in k.get("resources") or []:
        p = os.path.normpath(os.path.join(kdir, r))
        if os.path.isdir(p):
            objs.extend(render(p))
        else:
            objs.extend(load_docs(p))
    # `labels:` (kustomize's label transformer), default form only: metadata.labels of every
    # object, neither selectors nor templates.
    for spec in k.get("labels") or []:
        if spec.get("includeSelectors") or spec.get("includeTemplates") or spec.get("fields"):
            raise SystemExit(f"{kdir}: labels: only plain pairs are understood here")
        for o in objs:
            o.setdefault("metadata", {}).setdefault("labels", {}).update(spec["pairs"])
    for p in k.get("patches") or []:
        for patch in load_docs(os.path.join(kdir, p["path"])):
            pid = obj_id(patch)
            idx = [i for i, o in enumerate(objs) if obj_id(o) == pid]
            if len(idx) != 1:
                raise SystemExit(f"{kdir}: patch {p['path']} matches {len(idx)} objects {pid}")
            if patch.get("$patch") == "delete":
                del objs[idx[0]]
            else:
                objs[idx[0]] = merge(objs[idx[0]], patch)
    return objs


def kubectl_start(kdir):
    return subprocess.Popen(["kubectl", "kustomize", kdir], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def kubectl_result(proc):
    out, errout = proc.communicate(timeout=120)
    if proc.returncode != 0:
        return None, errout.strip()[-400:]
    return [d for d in yaml.load_all(out, Loader=Loader) if d], None


def _sorted_lists(x):
    # Strategic merge prepends new list items where we append; order of name-keyed lists (env,
    # volumes, mounts) carries no meaning here, so compare them sorted by name.
    if isinstance(x, dict):
        return {k: _sorted_lists(v) for k, v in x.items()}
    if isinstance(x, list):
        items = [_sorted_lists(v) for v in x]
        if items and all(isinstance(v, dict) and "name" in v for v in items):
            items.sort(key=lambda v: str(v["name"]))
        return items
    return x


def canon(objs):
    return sorted(json.dumps(_sorted_lists(o), sort_keys=True) for o in objs)


# ---- checks ----

def documented_caps():
    """CAP_* names of the privileges table in docs/operations.md, minus the row for ports < 1024
    (the DaemonSet listens on 9810)."""
    caps = set()
    with open(os.path.join(TOP, "docs", "operations.md"), encoding="utf-8") as fh:
        text = fh.read()
    sec = text.split("## Privileges", 1)[1].split("\n## ", 1)[0]
    for line in sec.splitlines():
        if line.startswith("|") and "1024" not in line:
            caps.update(re.findall(r"CAP_([A-Z_]+)", line))
    return caps


def rootfs_paths():
    out = set()
    cdir = os.path.join(TOP, "collector")
    for name in sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []:
        if name.endswith(".c"):
            with open(os.path.join(cdir, name), encoding="utf-8") as fh:
                for m in re.finditer(r'"((?:etc|run|var)/[^"%]*)', fh.read()):
                    out.add(m.group(1).rstrip("/"))
    return sorted(out - set(OPTIONAL_ROOTFS))


def subset(a, b):
    return all(b.get(k) == v for k, v in (a or {}).items())


def check_set(name, objs, caps):
    where = name
    by = {}
    for o in objs:
        for f in ("apiVersion", "kind"):
            ok(o.get(f), where, f"object without {f}: {str(o)[:80]}")
        md = o.get("metadata") or {}
        ok(md.get("name"), where, f"{o.get('kind')} without metadata.name")
        if o.get("kind") not in CLUSTER_SCOPED:
            ok(md.get("namespace") == NAMESPACE, where,
               f"{o.get('kind')}/{md.get('name')} not in namespace {NAMESPACE}")
        ok(obj_id(o) not in by, where, f"duplicate {obj_id(o)}")
        by[obj_id(o)] = o

    def get(kind, nm, ns=NAMESPACE):
        return by.get((kind, None if kind in CLUSTER_SCOPED else ns, nm))

    dss = [o for o in objs if o["kind"] == "DaemonSet"]
    if not ok(len(dss) == 1, where, "expected exactly one DaemonSet"):
        return
    ds = dss[0]
    w = f"{where}: DaemonSet/{ds['metadata']['name']}"
    spec = ds["spec"]
    tmpl = spec["template"]
    tlabels = tmpl["metadata"].get("labels") or {}
    ok(spec["selector"].get("matchLabels") and subset(spec["selector"]["matchLabels"], tlabels),
       w, "selector.matchLabels do not match the template labels")
    ps = tmpl["spec"]
    # The node's view, as node_exporter's DaemonSet in kube-prometheus has it: its processes and
    # its network interfaces (node_network_* of a pod's own namespace describe the pod).
    ok(ps.get("hostPID") is True, w, "hostPID must be true")
    ok(ps.get("hostNetwork") is True, w, "hostNetwork must be true (node_network_* of the node)")
    ok(ps.get("dnsPolicy") == "ClusterFirstWithHostNet", w,
       "dnsPolicy must be ClusterFirstWithHostNet (cluster DNS on the host's network)")
    sa = ps.get("serviceAccountName")
    ok(sa and get("ServiceAccount", sa), w, f"ServiceAccount {sa} missing")
    vols = {v["name"]: v for v in ps.get("volumes") or []}
    cs = ps.get("containers") or []
    ok(len(cs) == 1, w, "one container expected")
    c = cs[0]
    cw = f"{w} container {c.get('name')}"
    ok(isinstance(c.get("image"), str) and ":" in c["image"], cw, "image with a tag required")
    args = c.get("args") or []
    ok(any(a.startswith("--config.file=") for a in args), cw, "--config.file missing")
    ok("--path.rootfs=/host/root" in args, cw, "--path.rootfs=/host/root missing")
    ok("--path.sysfs=/host/sys" in args, cw, "--path.sysfs=/host/sys missing")
    ports = {p["name"]: p for p in c.get("ports") or []}
    ok(ports.get("http-metrics", {}).get("containerPort") == 9810, cw, "port http-metrics 9810")
    for probe, path in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
        hg = (c.get(probe) or {}).get("httpGet") or {}
        ok(hg.get("path") == path, cw, f"{probe} must GET {path}")
        ok(hg.get("port") in ports or hg.get("port") == 9810, cw, f"{probe} port unknown")
    res = c.get("resources") or {}
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            ok((res.get(kind) or {}).get(r), cw, f"resources.{kind}.{r} missing")
    sc = c.get("securityContext") or {}
    capsc = sc.get("capabilities") or {}
    ok(capsc.get("drop") == ["ALL"], cw, "capabilities.drop must be [ALL]")
    ok(set(capsc.get("add") or []) == caps and len(capsc.get("add")) == len(caps), cw,
       f"capabilities.add {capsc.get('add')} != documented {sorted(caps)}")
    ok(sc.get("readOnlyRootFilesystem") is True, cw, "readOnlyRootFilesystem must be true")
    ok(sc.get("allowPrivilegeEscalation") is False, cw, "allowPrivilegeEscalation must be false")
    ok(not sc.get("privileged"), cw, "must not be privileged")
    # Host mounts: read-only under /host; the queue is the only writable host path.
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
    for m in mounts.values():
        ok(m["name"] in vols, cw, f"volumeMount {m['name']} has no volume")
    # The host's / and /sys, read-only, with the node's later mounts propagated in.
    for mp, host in (("/host/root", "/"), ("/host/sys", "/sys")):
        m = mounts.get(mp)
        if ok(m, cw, f"{mp} not mounted"):
            v = vols.get(m["name"], {})
            ok((v.get("hostPath") or {}).get("path") == host, cw, f"{mp} is not {host}")
            ok(m.get("readOnly") is True, cw, f"{mp} must be readOnly")
            ok(m.get("mountPropagation") == "HostToContainer", cw,
               f"{mp} must have mountPropagation HostToContainer")
    for m in mounts.values():
        v = vols.get(m["name"], {})
        if "hostPath" in v and not m.get("readOnly"):
            ok(v["hostPath"]["path"].startswith("/var/lib/hakari"), cw,
               f"writable hostPath {v['hostPath']['path']} outside /var/lib/hakari")
    ok(any("hostPath" in vols.get(m["name"], {}) and
           vols[m["name"]]["hostPath"]["path"] == "/var/lib/hakari" for m in mounts.values()),
       cw, "no hostPath for the durable queue (/var/lib/hakari)")
    # Every host path a collector reads relative to the rootfs ("etc/…", "run/…", "var/…" literals
    # in collector/*.c) lies under a host mount.
    rootfs = next((a.split("=", 1)[1] for a in args if a.startswith("--path.rootfs=")), "/host")
    for rel in rootfs_paths():
        ok(any((rootfs + "/" + rel + "/").startswith(mp.rstrip("/") + "/") for mp in mounts
               if "hostPath" in vols.get(mounts[mp]["name"], {})), cw,
           f"collectors read <rootfs>/{rel}: not mounted")
    env = {e["name"]: e for e in c.get("env") or []}
    ok(((env.get("NODE_NAME") or {}).get("valueFrom") or {}).get("fieldRef", {}).get(
        "fieldPath") == "spec.nodeName", cw, "NODE_NAME must come from spec.nodeName")
    # Remote write's target labels (global.target_labels: kube-prometheus) name this pod.
    for name, field in (("POD_NAMESPACE", "metadata.namespace"), ("POD_NAME", "metadata.name")):
        ok(((env.get(name) or {}).get("valueFrom") or {}).get("fieldRef", {}).get(
            "fieldPath") == field, cw, f"{name} must come from {field}")
    # One source for the cluster's name: the pod label, which the env and the monitors' target
    # label both read.
    ok(((env.get("CLUSTER_NAME") or {}).get("valueFrom") or {}).get("fieldRef", {}).get(
        "fieldPath") == "metadata.labels['cluster']" and tlabels.get("cluster"), cw,
       "CLUSTER_NAME must come from the pod label cluster")
    # References: ConfigMaps, Secrets, keys.
    for v in vols.values():
        if "configMap" in v:
            ok(get("ConfigMap", v["configMap"]["name"]) or v["configMap"].get("optional"), cw,
               f"ConfigMap {v['configMap']['name']} missing")
        if "secret" in v:
            ok(get("Secret", v["secret"]["secretName"]) or v["secret"].get("optional") or
               v["secret"]["secretName"] in certificate_secrets(objs), cw,
               f"Secret {v['secret']['secretName']} missing and not optional")
    for e in env.values():
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            s = get("Secret", ref["name"])
            data = dict((s or {}).get("stringData") or {}, **((s or {}).get("data") or {}))
            ok(ref.get("optional") or ref["key"] in data, cw, f"secret key {ref['key']} missing")
    # Service / ServiceMonitor / PodMonitor selectors.
    svc = None
    scraped = []
    for o in objs:
        if o["kind"] == "Service":
            svc = o
            ok(subset(o["spec"]["selector"], tlabels), where, "Service selector misses the pods")
            for p in o["spec"]["ports"]:
                ok(p.get("targetPort") in ports or p.get("targetPort") == 9810, where,
                   f"Service targetPort {p.get('targetPort')} unknown")
        if o["kind"] == "ServiceMonitor":
            ok(svc is not None or get("Service", "hakari"), where, "ServiceMonitor without Service")
            s = svc or get("Service", "hakari")
            ok(subset(o["spec"]["selector"]["matchLabels"], s["metadata"]["labels"]), where,
               "ServiceMonitor selector misses the Service")
            sp = {p["name"] for p in s["spec"]["ports"]}
            for ep in o["spec"]["endpoints"]:
                ok(ep["port"] in sp, where, f"ServiceMonitor port {ep['port']} not in Service")
                scraped.append((o["metadata"]["name"], ep.get("path", "/metrics")))
        if o["kind"] == "PodMonitor":
            ok(subset(o["spec"]["selector"]["matchLabels"], tlabels), where,
               "PodMonitor selector misses the pods")
            for ep in o["spec"]["podMetricsEndpoints"]:
                ok(ep["port"] in ports, where, f"PodMonitor port {ep['port']} not in container")
                scraped.append((o["metadata"]["name"], ep.get("path", "/metrics")))
        if o["kind"] in ("ServiceMonitor", "PodMonitor"):
            for lbl in o["spec"].get("podTargetLabels") or []:
                ok(lbl in tlabels, where, f"{o['kind']}/{o['metadata']['name']}: podTargetLabels "
                   f"{lbl} is not a pod label")
    # Every scraped path is one hakari serves, and no series is scraped twice: /metrics (all of
    # them) alone, or each per-target path at most once.
    paths = [p for _, p in scraped]
    for name, p in scraped:
        ok(p in SERVED_PATHS, where, f"monitor {name} scrapes {p}, which hakari does not serve")
    ok(len(paths) == len(set(paths)) and ("/metrics" not in paths or len(paths) == 1), where,
       f"monitors scrape overlapping paths {paths}: series would be ingested twice")
    kinds = {o["kind"] for o in objs}
    ok(not ({"ServiceMonitor", "PodMonitor"} <= kinds), where,
       "ServiceMonitor and PodMonitor together scrape every node twice")
    # RBAC: only the kubelet's pod endpoints, read-only; bindings point at real objects.
    for o in objs:
        if o["kind"] == "ClusterRole":
            for rule in o["rules"]:
                ok(set(rule["resources"]) <= {"nodes/proxy", "nodes/pods"} and
                   set(rule["verbs"]) <= {"get"} and rule["apiGroups"] == [""], where,
                   f"ClusterRole grants more than get nodes/proxy, nodes/pods: {rule}")
        if o["kind"] == "ClusterRoleBinding":
            ok(get("ClusterRole", o["roleRef"]["name"]), where, "binding to a missing ClusterRole")
            for s in o["subjects"]:
                ok(get("ServiceAccount", s["name"], s.get("namespace")), where,
                   f"binding subject {s['name']} missing")
    if "ClusterRole" in kinds:
        ok(ps.get("automountServiceAccountToken") is not False, where,
           "a ClusterRole is useless without the token mounted")
    # API access exactly when the configuration asks the kubelet.
    cmv = next((v["configMap"]["name"] for v in vols.values() if "configMap" in v), None)
    cfg_text = ((get("ConfigMap", cmv) or {}).get("data") or {}).get("hakari.yml", "")
    kube = (yaml.load(cfg_text, Loader=Loader) or {}).get("kubernetes") or {}
    ok(("ClusterRole" in kinds) == bool(kube.get("kubelet_url")), where,
       "a ClusterRole must come with kubernetes.kubelet_url and only with it")
    for o in objs:
        if o["kind"] == "PrometheusRule":
            check_rules(where, o)
        if o["kind"] == "ConfigMap" and (o["metadata"].get("labels") or {}).get(
                "grafana_dashboard") is not None:
            for fname, body in (o.get("data") or {}).items():
                d = json.loads(body)
                ok(d.get("title") and d.get("uid") and d.get("panels"), where,
                   f"dashboard {fname}: title, uid, panels required")
    # Client-side `kubectl apply` stores the whole object in the last-applied-configuration
    # annotation, and an object's annotations together may not exceed 256 KiB: every object
    # (each dashboard has its own ConfigMap) must fit, with its own annotations.
    # (4 KiB left for the other annotations kubectl and controllers add.)
    for o in objs:
        ok(len(json.dumps(o, separators=(",", ":")).encode()) < 256 * 1024 - 4096, where,
           f"{o['kind']}/{o['metadata']['name']} too large for client-side kubectl apply "
           "(last-applied-configuration annotation over 256 KiB)")
    config_check(where, ds, c, by)


_rules_checked = set()


def check_rules(where, o):
    groups = o["spec"].get("groups") or []
    ok(groups, where, "PrometheusRule without groups")
    promtool = shutil.which("promtool")
    key = json.dumps(groups, sort_keys=True)
    if not promtool or key in _rules_checked:
        return  # the overlays share one PrometheusRule: check each distinct one once
    _rules_checked.add(key)
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
        yaml.safe_dump({"groups": groups}, fh)
    try:
        r = subprocess.run([promtool, "check", "rules", fh.name], capture_output=True, text=True,
                           timeout=60)
        ok(r.returncode == 0, where, f"promtool check rules: {r.stdout[-300:]} {r.stderr[-300:]}")
    finally:
        os.unlink(fh.name)


def certificate_secrets(objs):
    """Secrets that cert-manager Certificates of the set fill (tls.crt, tls.key, ca.crt)."""
    return {o["spec"]["secretName"] for o in objs
            if o.get("kind") == "Certificate" and o.get("apiVersion", "").startswith("cert-manager.io/")}


def make_certificate(dst, cert):
    """What cert-manager puts in a Certificate's Secret, made with openssl: a self-signed
    certificate for the Certificate's DNS names (ca.crt is the certificate itself)."""
    names = (cert["spec"].get("dnsNames") or []) + ["localhost"]
    san = ",".join(f"DNS:{n}" for n in names) + ",IP:127.0.0.1"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=" + cert["spec"].get("commonName", names[0]),
                    "-addext", "subjectAltName=" + san,
                    "-keyout", os.path.join(dst, "tls.key"), "-out", os.path.join(dst, "tls.crt")],
                   check=True, capture_output=True, timeout=30)
    shutil.copy(os.path.join(dst, "tls.crt"), os.path.join(dst, "ca.crt"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe_check(where, ds, c, args, envp, by):
    """With --web.config.file: the probes' scheme matches the web config (HTTPS with
    tls_server_config), the scrape configs (ServiceMonitor/PodMonitor) use its scheme and send
    basic auth when users are set, and a hakari started with the container's args answers the
    probes as the kubelet sends them (no credentials, certificate not verified) while /metrics
    refuses a client without credentials."""
    wcf = next((a.split("=", 1)[1] for a in args if a.startswith("--web.config.file=")), None)
    tls, users = False, False
    if wcf:
        with open(wcf, encoding="utf-8") as fh:
            wc = yaml.load(fh, Loader=Loader) or {}
        tls = bool((wc.get("tls_server_config") or {}).get("cert_file"))
        users = bool(wc.get("basic_auth_users"))
    scheme = "HTTPS" if tls else "HTTP"
    probes = {}
    for probe in ("livenessProbe", "readinessProbe"):
        hg = (c.get(probe) or {}).get("httpGet") or {}
        ok(hg.get("scheme", "HTTP") == scheme, where,
           f"{probe} scheme {hg.get('scheme', 'HTTP')}, the web config serves {scheme}")
        ok(not hg.get("httpHeaders"), where, f"{probe}: the probe paths need no headers")
        probes[probe] = (hg.get("path"), hg.get("scheme", "HTTP"))
    for o in by.values():
        if o.get("kind") not in ("ServiceMonitor", "PodMonitor"):
            continue
        for ep in (o["spec"].get("endpoints") or o["spec"].get("podMetricsEndpoints") or []):
            ew = f"{where}: {o['kind']}/{o['metadata']['name']} endpoint {ep.get('path')}"
            ok(ep.get("scheme", "http").lower() == scheme.lower(), ew,
               f"scheme {ep.get('scheme', 'http')}, the agent serves {scheme}")
            ok(bool(ep.get("basicAuth")) == users, ew,
               "basicAuth must be set exactly when basic_auth_users is")
            for ref in [((ep.get("basicAuth") or {}).get(k) or {}) for k in ("username", "password")]:
                if ref:
                    s = by.get(("Secret", NAMESPACE, ref.get("name"))) or {}
                    ok(ref.get("key") in (s.get("stringData") or {}) or
                       ref.get("key") in (s.get("data") or {}), ew,
                       f"basicAuth secret {ref.get('name')}/{ref.get('key')} missing")
    if not wcf:
        return
    port = free_port()
    run = [a for a in args if not a.startswith("--web.listen-address=")]
    run += [f"--web.listen-address=127.0.0.1:{port}", "--collection.interval=1s"]
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen([HAKARI] + run, env=envp, stdout=devnull, stderr=subprocess.PIPE)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # as the kubelet does for HTTPS probes

    def get(path, sch=scheme, auth=None):
        req = urllib.request.Request(f"{sch.lower()}://127.0.0.1:{port}{path}")
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
        try:
            with urllib.request.urlopen(req, timeout=5, context=ctx if sch == "HTTPS" else None) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except (OSError, http.client.HTTPException):
            return None
    try:
        got = {}
        deadline = time.time() + 30
        while time.time() < deadline:
            got = {p: get(path, sch) for p, (path, sch) in probes.items()}
            if all(v == 200 for v in got.values()) or proc.poll() is not None:
                break
            time.sleep(0.3)
        ok(all(v == 200 for v in got.values()), where,
           f"the rendered probes as the kubelet sends them: {got}; hakari: "
           f"{proc.stderr.read().decode()[-300:] if proc.poll() is not None else 'running'}")
        if users:
            ok(get("/metrics") == 401, where, "/metrics answers without credentials")
        print(f"{where}: probes over {scheme} without credentials: {got}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def config_check(where, ds, c, by):
    """Materialise the container's view (ConfigMap and Secret volumes as files, the queue
    hostPath as a directory, env from the downward API with fake values) in a temp dir and run
    hakari --config.check with the container's args."""
    tmp = tempfile.mkdtemp(prefix="hakari-manifests.")
    try:
        vols = {v["name"]: v for v in ds["spec"]["template"]["spec"].get("volumes") or []}
        remap = {}
        for m in c.get("volumeMounts") or []:
            v = vols[m["name"]]
            dst = os.path.join(tmp, m["name"])
            os.makedirs(dst, exist_ok=True)
            if "configMap" in v:
                cm = by.get(("ConfigMap", NAMESPACE, v["configMap"]["name"])) or {}
                for k, val in (cm.get("data") or {}).items():
                    with open(os.path.join(dst, k), "w", encoding="utf-8") as fh:
                        fh.write(val)
            elif "secret" in v:
                s = by.get(("Secret", NAMESPACE, v["secret"]["secretName"])) or {}
                cert = next((o for o in by.values() if o.get("kind") == "Certificate" and
                             o["spec"].get("secretName") == v["secret"]["secretName"]), None)
                if cert and not s:
                    make_certificate(dst, cert)
                for k, val in (s.get("stringData") or {}).items():
                    with open(os.path.join(dst, k), "w", encoding="utf-8") as fh:
                        fh.write(str(val))
            elif m["mountPath"].startswith("/host"):
                continue  # host views: the args that name them are dropped below
            remap[m["mountPath"]] = dst

        def rewrite(text):
            for mp in sorted(remap, key=len, reverse=True):
                text = re.sub(re.escape(mp) + r"(?=/|\b|$)", remap[mp], text)
            return text

        # Rewrite paths inside every mounted config file too (secret *_file, disk_path).
        for mp, dst in remap.items():
            for f in os.listdir(dst):
                p = os.path.join(dst, f)
                if f.endswith((".yml", ".yaml")):
                    with open(p, encoding="utf-8") as fh:
                        t = fh.read()
                    with open(p, "w", encoding="utf-8") as fh:
                        fh.write(rewrite(t))
        envp = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for e in c.get("env") or []:
            if "value" in e:
                envp[e["name"]] = str(e["value"])
            else:
                vf = e["valueFrom"]
                if "fieldRef" in vf:
                    envp[e["name"]] = field_value(vf["fieldRef"]["fieldPath"],
                                                  ds["spec"]["template"]["metadata"].get("labels") or {})
                elif "secretKeyRef" in vf:
                    s = by.get(("Secret", NAMESPACE, vf["secretKeyRef"]["name"])) or {}
                    val = (s.get("stringData") or {}).get(vf["secretKeyRef"]["key"])
                    if val is not None:
                        envp[e["name"]] = str(val)
        args = []
        for a in c.get("args") or []:
            a2 = rewrite(a)
            val = a2.split("=", 1)[1] if "=" in a2 else ""
            if val.startswith("/") and not os.path.exists(val):
                continue  # e.g. --path.rootfs=/host: a path only the node has
            args.append(a2)
        cmd = [HAKARI, "--config.check"] + args
        r = subprocess.run(cmd, capture_output=True, text=True, env=envp, timeout=30)
        ok(r.returncode == 0, where,
           f"hakari --config.check {' '.join(args)} failed: {r.stdout[-500:]} {r.stderr[-500:]}")
        # The check is a real check: the same config with a misspelt key is refused.
        cf = next(a.split("=", 1)[1] for a in args if a.startswith("--config.file="))
        with open(cf, encoding="utf-8") as fh:
            good = fh.read()
        with open(cf, "a", encoding="utf-8") as fh:
            fh.write("\ncolection_interval: 10s\n")
        r = subprocess.run(cmd, capture_output=True, text=True, env=envp, timeout=30)
        ok(r.returncode != 0 and "colection_interval" in (r.stdout + r.stderr), where,
           "--config.check accepted an unknown top-level key")
        with open(cf, "w", encoding="utf-8") as fh:
            fh.write(good)
        probe_check(where, ds, c, args, envp, by)
        # ${NODE_NAME} really reaches external_labels.node.
        cfg = yaml.load(good, Loader=Loader)
        ok(((cfg.get("global") or {}).get("external_labels") or {}).get("node") == "${NODE_NAME}",
           where, "global.external_labels.node must be ${NODE_NAME}")
    finally:
        shutil.rmtree(tmp)


def readme_examples():
    """Every YAML example of README.md's "Pointing at a managed backend" passes --config.check
    (secret files it names are created with dummy content)."""
    with open(os.path.join(TOP, "README.md"), encoding="utf-8") as fh:
        text = fh.read()
    if "## Pointing at a managed backend" not in text:
        err("README.md", "no section \"Pointing at a managed backend\"")
        return 0
    sec = text.split("## Pointing at a managed backend", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", sec, re.S)
    tmp = tempfile.mkdtemp(prefix="hakari-readme.")
    try:
        for i, b in enumerate(blocks):
            ok(yaml.load(b, Loader=Loader).get("remote_write"), "README.md", f"example {i + 1}: no remote_write")
            for path in set(re.findall(r"/run/secrets/hakari/\w+", b)):
                with open(os.path.join(tmp, os.path.basename(path)), "w") as fh:
                    fh.write("dummy\n")
            cf = os.path.join(tmp, f"example{i}.yml")
            with open(cf, "w", encoding="utf-8") as fh:
                fh.write(b.replace("/run/secrets/hakari", tmp))
            r = subprocess.run([HAKARI, "--config.check", "--config.file=" + cf],
                               capture_output=True, text=True, timeout=30,
                               env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
            ok(r.returncode == 0, "README.md",
               f"example {i + 1} fails --config.check: {r.stdout[-300:]} {r.stderr[-300:]}")
    finally:
        shutil.rmtree(tmp)
    return len(blocks)


def main():
    subprocess.run([sys.executable, os.path.join(TOP, "deploy", "gen-kube.py"), "--check"],
                   check=True)
    caps = documented_caps()
    if not ok(caps == {"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE", "DAC_READ_SEARCH"},
              "docs/operations.md", f"unexpected documented capability set {sorted(caps)}"):
        pass
    files = []
    for root, _, names in os.walk(KDIR):
        files += [os.path.join(root, n) for n in names if n.endswith((".yaml", ".yml"))]
    for f in sorted(files):
        try:
            docs = load_docs(f)
        except yaml.YAMLError as e:
            err(f, f"does not parse: {e}")
            continue
        # The generated files are an empty List while nothing exists to generate them from.
        ok(docs or os.path.basename(f) in ("prometheusrule.yaml", "grafana-dashboards.yaml"),
           f, "empty file")
    dirs = sorted({os.path.dirname(f) for f in files if f.endswith("/kustomization.yaml")})
    have_kubectl = shutil.which("kubectl") is not None
    rendered = 0
    # kubectl takes about a second per render: start them all at once.
    procs = {d: kubectl_start(d) for d in dirs} if have_kubectl else {}
    for d in dirs:
        name = os.path.relpath(d, TOP)
        objs = render(d)
        if not any(o.get("kind") == "DaemonSet" for o in objs):
            if d in procs:
                procs.pop(d).communicate(timeout=120)
            continue  # a fragment (podmonitor/) used by overlays
        rendered += 1
        if have_kubectl:
            kobjs, kerr = kubectl_result(procs.pop(d))
            ok(kobjs is not None, name, f"kubectl kustomize failed: {kerr}")
            if kobjs is not None:
                ok(canon(kobjs) == canon(objs), name,
                   "kubectl kustomize renders differently from the test's resolver")
        check_set(name, objs, caps)
    ok(rendered >= 7, KDIR, f"only {rendered} renderable kustomizations")
    # The plain-host default config as well.
    r = subprocess.run([HAKARI, "--config.check",
                        "--config.file=" + os.path.join(TOP, "deploy", "hakari.yml")],
                       capture_output=True, text=True, timeout=30)
    ok(r.returncode == 0, "deploy/hakari.yml", f"--config.check failed: {r.stderr[-400:]}")
    n_readme = readme_examples()
    ok(n_readme >= 6, "README.md", f"only {n_readme} backend examples")
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    print(f"{len(files)} files, {rendered} kustomizations, {checks} checks, "
          f"kubectl {'compared' if have_kubectl else 'absent (own resolver only)'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
