#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every YAML example in README.md and docs/*.md must work when followed: hakari configuration
examples pass `hakari --config.check`, web-config examples pass it as --web.config.file,
Prometheus configuration examples pass `promtool check config`. Files the examples name
(password_file, cert_file, ...) are replaced by placeholders made here (a self-signed certificate
for the TLS ones), and every ${VAR} gets a placeholder value. Examples of other kinds (kustomize
fragments, which tests/integration/manifests.sh renders) are listed as not checked, by kind.

usage: docs_yaml.py HAKARI TOP TMPDIR
"""
import glob
import os
import re
import subprocess
import sys

import yaml

HAKARI_KEYS = {"global", "limits", "collectors", "remote_write", "kubernetes"}
WEB_KEYS = {"tls_server_config", "http_server_config", "basic_auth_users"}
PROM_KEYS = {"scrape_configs", "rule_files", "alerting"}
KUSTOMIZE_KEYS = {"patches", "labels", "resources", "images", "namePrefix"}
SECRET_KEYS = {"username_file", "password_file", "credentials_file", "bearer_token_file", "client_secret_file"}
TLS_KEYS = {"cert_file": "cert", "key_file": "key", "ca_file": "cert", "client_ca_file": "cert"}


def examples(top):
    for path in [os.path.join(top, "README.md")] + sorted(glob.glob(os.path.join(top, "docs", "*.md"))):
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r"```ya?ml\n(.*?)```", text, re.S):
            yield os.path.relpath(path, top), text[:m.start()].count("\n") + 2, m.group(1)


def placeholders(node, tmp, pem):
    """Points every file the example names at a placeholder; returns the rewritten node."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in SECRET_KEYS and isinstance(v, str):
                p = os.path.join(tmp, "secret")
                with open(p, "w") as f:
                    f.write("placeholder-secret\n")
                out[k] = p
            elif k in TLS_KEYS and isinstance(v, str):
                out[k] = pem[TLS_KEYS[k]]
            else:
                out[k] = placeholders(v, tmp, pem)
        return out
    if isinstance(node, list):
        return [placeholders(v, tmp, pem) for v in node]
    return node


def main():
    hakari, top, tmp = sys.argv[1:4]
    pem = {"cert": os.path.join(tmp, "tls.crt"), "key": os.path.join(tmp, "tls.key")}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", pem["key"], "-out", pem["cert"]],
                   check=True, capture_output=True)
    env = dict(os.environ)
    bad, checked, skipped = [], 0, {}
    for n, (doc, line, body) in enumerate(examples(top)):
        where = f"{doc}:{line}"
        for var in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", body):
            env.setdefault(var, f"placeholder-{var.lower().replace('_', '-')}")
        try:
            data = yaml.safe_load(body)
        except yaml.YAMLError as e:
            bad.append(f"{where}: not valid YAML: {e}")
            continue
        keys = set(data) if isinstance(data, dict) else set()
        if not keys:
            bad.append(f"{where}: an example that is not a YAML mapping")
            continue
        if keys & KUSTOMIZE_KEYS:
            skipped.setdefault("kustomize fragment (rendered by manifests.sh)", []).append(where)
            continue
        data = placeholders(data, tmp, pem)
        path = os.path.join(tmp, f"example-{n}.yml")
        # The rewritten example keeps the ${VAR} references: hakari expands them itself.
        with open(path, "w") as f:
            yaml.safe_dump(data, f, sort_keys=False)
        if keys <= HAKARI_KEYS:
            cmd = [hakari, "--config.check", f"--config.file={path}"]
        elif keys <= WEB_KEYS:
            cmd = [hakari, "--config.check", f"--web.config.file={path}"]
        elif keys & PROM_KEYS:
            if "kubernetes_sd_configs" in body:
                # Debian's Prometheus 2.42 is built without Kubernetes service discovery.
                skipped.setdefault("Prometheus config with kubernetes_sd_configs (not in Debian's promtool)", []).append(where)
                continue
            cmd = ["promtool", "check", "config", "--syntax-only", path]
        else:
            bad.append(f"{where}: example of unknown kind (top-level keys {sorted(keys)})")
            continue
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
        checked += 1
        if r.returncode != 0:
            bad.append(f"{where}: {' '.join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd))} "
                       f"failed:\n    " + (r.stderr + r.stdout).strip().replace("\n", "\n    "))
    for why, places in skipped.items():
        print(f"not checked ({why}): {', '.join(places)}")
    for b in bad:
        print("FAIL " + b)
    print(f"docs YAML examples: {checked} checked, {sum(map(len, skipped.values()))} not checked, {len(bad)} failed")
    return 1 if bad or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
