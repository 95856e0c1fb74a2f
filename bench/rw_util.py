#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Helpers of bench/rw.sh (standard library only).

  rw_util.py gen OUT [--series N] [--names M]   the synthetic 100k-series file: M gauge names x
                                                 N/M label sets {host, shard, idx}, deterministic
  rw_util.py serve FILE PORT                     static target: /metrics (gzip when asked, like
                                                 an exporter), /stats (scrape count)
  rw_util.py cpu PID                             user+sys CPU seconds of PID and its descendants
  rw_util.py rss PID | hwm PID                   VmRSS / VmHWM in KiB
  rw_util.py msum URL NAME [LABEL_SUBSTRING]     sum of the samples of metric NAME on a /metrics page
  rw_util.py grepsum URL REGEX                   sum of the samples whose name matches REGEX
  rw_util.py query BASE PROMQL TIME              scalar result of an instant query (0 if
                                                 nothing matched, nan if it failed)
  rw_util.py snap AGENT_PID RECV_PID RECV_URL [AGENT_METRICS_URL]
                                                 one consistent reading: "epoch agent_cpu_s
                                                 recv_cpu_s rows_inserted tcp_bytes_read
                                                 write_requests agent_cycles" (victoria-metrics
                                                 counters; hakari_collection_cycles_total)
"""
import time
import gzip
import http.server
import json
import os
import re
import sys
import threading
import urllib.parse
import urllib.request


def gen(argv):
    out = argv[0]
    series = int(argv[argv.index("--series") + 1]) if "--series" in argv else 100000
    names = int(argv[argv.index("--names") + 1]) if "--names" in argv else 100
    per = (series + names - 1) // names
    x = 20261127
    n = 0
    lines = []
    for m in range(names):
        if n >= series:
            break
        name = "synth_metric_%03d" % m
        lines.append("# HELP %s Synthetic gauge %d.\n# TYPE %s gauge\n" % (name, m, name))
        for i in range(per):
            if n >= series:
                break
            x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
            value = (x >> 11) / float(1 << 53) * 1e6
            lines.append('%s{host="host-%02d",shard="%d",idx="%06d"} %.3f\n'
                         % (name, i % 50, i % 7, n, value))
            n += 1
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join(lines))
    os.rename(tmp, out)
    print("%s: %d series" % (out, n))


def serve(argv):
    body = open(argv[0], "rb").read()
    gz = gzip.compress(body, compresslevel=1)
    port = int(argv[1])
    lock = threading.Lock()
    stats = {"scrapes": 0}

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path.startswith("/stats"):
                data = json.dumps(stats).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
            elif self.path.startswith("/metrics"):
                with lock:
                    stats["scrapes"] += 1
                use_gz = "gzip" in self.headers.get("Accept-Encoding", "")
                data = gz if use_gz else body
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                if use_gz:
                    self.send_header("Content-Encoding", "gzip")
            else:
                data = b"not found\n"
                self.send_response(404)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    http.server.ThreadingHTTPServer.daemon_threads = True
    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


def tree(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu(argv):
    hz = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(int(argv[0])):
        try:
            st = open("/proc/%d/stat" % p).read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    print("%.2f" % (total / hz))


def status_field(pid, field):
    for line in open("/proc/%d/status" % int(pid)):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def fetch(url, timeout=60):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    return urllib.request.urlopen(req, timeout=timeout).read().decode("utf-8", "replace")


def cpu_s(pid):
    hz = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree(pid):
        try:
            st = open("/proc/%d/stat" % p).read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / hz


def sum_lines(text, name, sub=""):
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        n = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        if n == name and sub in line:
            rest = line.rsplit("}", 1)[1] if "}" in line else line[len(n):]
            total += float(rest.split()[0])
    return total


def snap(argv):
    apid, rpid, url = int(argv[0]), int(argv[1]), argv[2]
    text = fetch(url + "/metrics")
    cycles = 0.0
    if len(argv) > 3:  # hakari: its collection counter, read next to the timestamp
        try:
            cycles = sum_lines(fetch(argv[3], timeout=10), "hakari_collection_cycles_total")
        except Exception:
            cycles = float("nan")
    t = time.time()
    a, r = cpu_s(apid), cpu_s(rpid)
    print("%.3f %.2f %.2f %.0f %.0f %.0f %.0f" % (
        t, a, r, sum_lines(text, "vm_rows_inserted_total", "promremotewrite"),
        sum_lines(text, "vm_tcplistener_read_bytes_total"),
        sum_lines(text, "vm_http_requests_total", "/api/v1/write"), cycles))


def msum(argv):
    url, name = argv[0], argv[1]
    sub = argv[2] if len(argv) > 2 else ""
    total = 0.0
    try:
        text = fetch(url)
    except Exception:
        print(0)
        return
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        n = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        if n == name and sub in line:
            total += float(line.rsplit(" ", 1)[1] if "}" not in line else line.rsplit("}", 1)[1].split()[0])
    print("%.0f" % total)


def grepsum(argv):
    url, rx = argv[0], re.compile(argv[1])
    total = 0.0
    try:
        text = fetch(url)
    except Exception:
        print(0)
        return
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        n = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
        if n and rx.fullmatch(n.group(0)):
            rest = line.rsplit("}", 1)[1] if "}" in line else line[n.end():]
            total += float(rest.split()[0])
    print("%.0f" % total)


def query(argv):
    base, q, t = argv
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": t})
    for attempt in range(3):
        try:
            d = json.loads(fetch(url, timeout=120))
            r = d["data"]["result"]
            print(r[0]["value"][1] if r else "0")  # no series matched: none stored
            return
        except Exception as e:
            body = e.read()[:300] if hasattr(e, "read") else b""
            sys.stderr.write("query %s failed: %s %s\n" % (q, e, body))
            time.sleep(2)
    print("nan")


def main():
    cmd, argv = sys.argv[1], sys.argv[2:]
    if cmd == "gen":
        gen(argv)
    elif cmd == "serve":
        serve(argv)
    elif cmd == "cpu":
        cpu(argv)
    elif cmd == "rss":
        print(status_field(argv[0], "VmRSS"))
    elif cmd == "hwm":
        print(status_field(argv[0], "VmHWM"))
    elif cmd == "msum":
        msum(argv)
    elif cmd == "grepsum":
        grepsum(argv)
    elif cmd == "query":
        query(argv)
    elif cmd == "snap":
        snap(argv)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
