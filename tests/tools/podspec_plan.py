#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Turns the rendered DaemonSet of a kustomization into a shell script that starts the agent the
way a container runtime would: volumes bind-mounted into a copy of the image's rootfs (host paths
from the node, ConfigMap/Secret data as files, missing DirectoryOrCreate paths and the writable
queue as stand-ins under a scratch dir), read-only mounts and root file system remounted
read-only, the pod's environment (downward API values faked), the bounding set reduced to the
capabilities the spec adds, no_new_privs, the pod's args (the listen address moved to a loopback
port). Host paths are bound recursively (rbind, as container runtimes do, so the host's / brings
its submounts), made slaves of the host's for mountPropagation HostToContainer; only the top of a
readOnly mount is read-only, as with Kubernetes' readOnly before recursiveReadOnly.
Usage: podspec_plan.py KUSTOMIZATION_DIR ROOTFS SCRATCH PORT [RW_URL] [--arg=ARG ...] > script;
each --arg=ARG is appended to the agent's args (e.g. --arg=--once). It also writes SCRATCH/probes
(liveness and readiness paths), SCRATCH/caps (the added capabilities), SCRATCH/queue (the stand-in
directory of the writable /var/lib/hakari mount), SCRATCH/hostnetwork ("true" or "false": the
caller runs the script in a network namespace of its own for a pod without hostNetwork) and
SCRATCH/args (the agent's args, one a line). With RW_URL every remote_write url of hakari.yml is
replaced by it (a local receiver)."""
import os
import shlex
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_manifests as cm  # noqa: E402


def main():
    extra = [a[len("--arg="):] for a in sys.argv[1:] if a.startswith("--arg=")]
    pos = [a for a in sys.argv[1:] if not a.startswith("--arg=")]
    kdir, rootfs, scratch, port = pos[:4]
    rw_url = pos[4] if len(pos) > 4 else None
    objs = cm.render(kdir)
    by = {cm.obj_id(o): o for o in objs}
    ds = next(o for o in objs if o["kind"] == "DaemonSet")
    ps = ds["spec"]["template"]["spec"]
    c = ps["containers"][0]
    vols = {v["name"]: v for v in ps.get("volumes") or []}
    q = shlex.quote
    R = rootfs
    out = ["set -euo pipefail", f"R={q(R)}", 'mount --bind "$R" "$R"',
           # What the runtime gives every container: proc (host PID namespace: hostPID), sysfs
           # read-only, /dev/null.
           'mount --bind /proc "$R/proc"',
           'mount --bind /sys "$R/sys" && mount -o remount,bind,ro "$R/sys"',
           'mkdir -p "$R/dev" && touch "$R/dev/null" && mount --bind /dev/null "$R/dev/null"']
    for i, m in enumerate(c.get("volumeMounts") or []):
        v = vols[m["name"]]
        mp = R + m["mountPath"]
        src = None
        is_file = False
        if "hostPath" in v:
            hp = v["hostPath"]["path"]
            htype = v["hostPath"].get("type", "")
            if m.get("readOnly") and os.path.exists(hp):
                src, is_file = hp, os.path.isfile(hp)
            elif htype == "File":
                print(f"host file {hp} missing", file=sys.stderr)
                return 77
            else:
                # Writable (the queue) or absent on this machine: a stand-in, never the host's.
                src = os.path.join(scratch, "vol", str(i))
                os.makedirs(src, exist_ok=True)
                if m["mountPath"] == "/var/lib/hakari":
                    with open(os.path.join(scratch, "queue"), "w") as fh:
                        fh.write(src + "\n")
        else:
            src = os.path.join(scratch, "vol", str(i))
            os.makedirs(src, exist_ok=True)
            if "configMap" in v:
                data = (by.get(("ConfigMap", cm.NAMESPACE, v["configMap"]["name"])) or {}).get(
                    "data") or {}
            elif "secret" in v:
                s = by.get(("Secret", cm.NAMESPACE, v["secret"]["secretName"])) or {}
                data = {k: str(x) for k, x in (s.get("stringData") or {}).items()}
            else:
                data = {}
            if rw_url and "hakari.yml" in data:
                cfg = cm.yaml.load(data["hakari.yml"], Loader=cm.Loader)
                for item in cfg.get("remote_write") or []:
                    item["url"] = rw_url
                data = dict(data, **{"hakari.yml": cm.yaml.safe_dump(cfg, sort_keys=False)})
            for k, val in data.items():
                with open(os.path.join(src, k), "w", encoding="utf-8") as fh:
                    fh.write(val)
                if "secret" in v:
                    os.chmod(os.path.join(src, k), v["secret"].get("defaultMode", 0o644))
        make = f'touch {q(mp)}' if is_file else f'mkdir -p {q(mp)}'
        bind = "--rbind" if "hostPath" in v and src == v["hostPath"]["path"] else "--bind"
        out.append(f'mkdir -p {q(os.path.dirname(mp))} && {make} && mount {bind} {q(src)} {q(mp)}')
        if m.get("mountPropagation") == "HostToContainer" and bind == "--rbind":
            out.append(f"mount --make-rslave {q(mp)}")
        if m.get("readOnly"):
            out.append(f"mount -o remount,bind,ro {q(mp)}")
    sc = c.get("securityContext") or {}
    if sc.get("readOnlyRootFilesystem"):
        out.append('mount -o remount,bind,ro "$R"')
    env = []
    for e in c.get("env") or []:
        if "value" in e:
            env.append(f"{e['name']}={e['value']}")
        elif "fieldRef" in e.get("valueFrom", {}):
            value = cm.field_value(e["valueFrom"]["fieldRef"]["fieldPath"],
                                   ds["spec"]["template"]["metadata"].get("labels") or {})
            env.append(f"{e['name']}={value}")
    args = []
    for a in c.get("args") or []:
        if a.startswith("--web.listen-address="):
            a = f"--web.listen-address=127.0.0.1:{port}"
        args.append(a)
    args += extra
    caps = [x.lower() for x in (sc.get("capabilities") or {}).get("add") or []]
    capspec = ",".join(["-all"] + ["+" + x for x in caps])
    setpriv = ["/usr/bin/setpriv", "--inh-caps=-all", f"--bounding-set={capspec}"]
    if sc.get("allowPrivilegeEscalation") is False:
        setpriv.append("--no-new-privs")
    uid = sc.get("runAsUser")
    if uid not in (None, 0):
        setpriv += [f"--reuid={uid}", f"--regid={sc.get('runAsGroup', uid)}", "--clear-groups"]
    cmd = ["env", "-i", "PATH=/usr/bin"] + env + [shutil.which("chroot") or "/usr/sbin/chroot", R] + setpriv + ["/usr/bin/hakari"] + args
    out.append("exec " + " ".join(q(x) for x in cmd))
    with open(os.path.join(scratch, "probes"), "w") as fh:
        for p in ("livenessProbe", "readinessProbe"):
            fh.write(c[p]["httpGet"]["path"] + "\n")
    with open(os.path.join(scratch, "hostnetwork"), "w") as fh:
        fh.write("true\n" if ps.get("hostNetwork") else "false\n")
    with open(os.path.join(scratch, "args"), "w") as fh:
        fh.write("".join(a + "\n" for a in args))
    with open(os.path.join(scratch, "caps"), "w") as fh:
        fh.write(" ".join(caps) + "\n")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
