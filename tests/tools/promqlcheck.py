#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks hakari's Grafana dashboards and PromQL rules (python3 stdlib only).

  promqlcheck.py lint DASH.json...                 house rules for dashboards (see LINT RULES)
  promqlcheck.py syntax OUT.yml DASH.json...       every panel and variable query, variables
                                                   substituted, as recording rules in OUT.yml
                                                   (then run `promtool check rules OUT.yml`)
  promqlcheck.py names CATALOGUE.md FILE...        every metric name used by dashboards (.json)
                                                   and rules (.yml) exists in the catalogue
  promqlcheck.py coverage RULES_DIR [DASH.json...]               every recording rule is checked by a
                                                   promql_expr_test and every alert has a test
                                                   where it fires, in the *_test.yml files;
                                                   panels and dashboards named in runbooks exist
  promqlcheck.py panels SPEC.json OUT.json DASH...  turn exact-value tests of panel queries
                                                   (SPEC names panels instead of exprs; its
                                                   rule_files are relative to SPEC) into a
                                                   `promtool test rules` file
  promqlcheck.py records URL ALLOWLIST RULES.yml...  every recording rule, evaluated by the
                                                   Prometheus at URL, has series
  promqlcheck.py data URL ALLOWLIST DASH.json...   every variable and panel query returns >= 1
                                                   series from the Prometheus at URL, variables
                                                   resolved from its data as Grafana would
"""
import concurrent.futures
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request

# ------------------------------------------------------------------------------------------
# PromQL lexing: just enough to find metric names, selectors and range functions.

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "atan2", "inf", "nan", "start", "end"}
AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
               "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
TOKEN = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<num>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)(?:[a-zA-Z]+\d*)*)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<var>\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*|\[\[[^\]]*\]\])
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],:@])
""", re.X)


def lex(expr):
    out, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot lex at {pos}: {expr[pos:pos + 20]!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def selectors(expr):
    """Yields (metric name or None, matcher text) for every vector selector in expr."""
    toks = lex(expr)
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if kind == "ident" and text in LIST_KEYWORDS and nxt == "(":
            i = skip_group(toks, i + 1, "(", ")")
            continue
        if kind == "ident" and text not in KEYWORDS and text not in AGGREGATORS and nxt != "(":
            if nxt == "{":
                j = skip_group(toks, i + 1, "{", "}")
                yield text, " ".join(t for _, t in toks[i + 2:j - 1])
                i = j
            else:
                yield text, ""
                i += 1
            continue
        if text == "{":  # selector without a metric name
            j = skip_group(toks, i, "{", "}")
            yield None, " ".join(t for _, t in toks[i + 1:j - 1])
            i = j
            continue
        i += 1


def skip_group(toks, i, open_, close):
    """toks[i] is open_; returns the index after the matching close."""
    depth = 0
    while i < len(toks):
        if toks[i][1] == open_:
            depth += 1
        elif toks[i][1] == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced " + open_)


RANGE_FN = re.compile(r"\b(rate|irate|increase)\s*\(")


def range_fn_windows(expr):
    """Yields (function, window text) for every range vector directly inside rate/irate/increase."""
    for m in RANGE_FN.finditer(expr):
        depth, j = 1, m.end()
        while j < len(expr) and depth:
            depth += {"(": 1, ")": -1}.get(expr[j], 0)
            j += 1
        arg = expr[m.end():j - 1]
        for w in re.findall(r"\[([^\]]*)\]", arg):
            yield m.group(1), w


# ------------------------------------------------------------------------------------------
# Dashboards

def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def all_panels(dash):
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []):
            yield q


def targets(dash):
    """Yields (panel, target) for every query target."""
    for p in all_panels(dash):
        for t in p.get("targets", []):
            if t.get("expr"):
                yield p, t


def var_query(v):
    q = v.get("query", "")
    return q.get("query", "") if isinstance(q, dict) else q


LABEL_VALUES = re.compile(r"^\s*label_values\s*\((.*)\)\s*$", re.S)


def split_label_values(q):
    """label_values(sel, label) -> (sel, label); label_values(label) -> (None, label)."""
    m = LABEL_VALUES.match(q)
    if not m:
        return None
    inner = m.group(1)
    depth = 0
    for i in range(len(inner) - 1, -1, -1):
        c = inner[i]
        if c in ")}]":
            depth += 1
        elif c in "({[":
            depth -= 1
        elif c == "," and depth == 0:
            return inner[:i].strip(), inner[i + 1:].strip()
    return None, inner.strip()


def variable_as_promql(q):
    """A variable query as an expression (for syntax and name checks)."""
    lv = split_label_values(q)
    if lv:
        sel, label = lv
        sel = sel or "{%s!=\"\"}" % label
        return f"group by ({label}) ({sel})"
    m = re.match(r"^\s*query_result\s*\((.*)\)\s*$", q, re.S)
    return m.group(1) if m else q


VAR_REF = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)(?::(\w+))?\]\]")


def substitute(expr, values, builtins):
    """values: name -> text already formatted for PromQL (regex for multi variables)."""
    def rep(m):
        name = m.group(1) or m.group(3) or m.group(4)
        if name.isdigit():  # label_replace's "$1": Grafana leaves unknown names as they are
            return m.group(0)
        if name in builtins:
            return builtins[name]
        if name in values:
            return values[name]
        raise KeyError(f"unknown variable ${name}")
    return VAR_REF.sub(rep, expr)


# ------------------------------------------------------------------------------------------
# lint

UNITS = {"short", "none", "percent", "percentunit", "bytes", "decbytes", "bits", "Bps", "bps",
         "binBps", "binbps", "pps", "iops", "ops", "reqps", "s", "ms", "us", "ns", "dtdurations",
         "dateTimeAsIso", "dateTimeFromNow", "hertz", "cps", "wps", "rps"}
UID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
SCHEMA_VERSION = 39
CLUSTER_MATCHER = 'cluster =~ "$cluster"'


def documented_uids(paths):
    """uids promised to users in dashboards/README.md's table (`| `file.json` | `uid` | …`)."""
    readme = os.path.join(os.path.dirname(os.path.abspath(paths[0])), "README.md")
    try:
        text = open(readme, encoding="utf-8").read()
    except OSError:
        return None
    return set(re.findall(r"^\|\s*`[^`]+\.json`\s*\|\s*`([a-z0-9-]+)`\s*\|", text, re.M))


def lint(paths):
    errs, uids = [], {}
    known = {os.path.splitext(os.path.basename(p))[0] for p in paths}
    promised = documented_uids(paths) if paths else None
    if promised is not None:
        # stable: a uid disappears or changes only together with the README table
        for uid in sorted(promised - known):
            errs.append(f"README.md promises uid {uid!r} but no dashboard has it")
        for uid in sorted(known - promised):
            errs.append(f"dashboard uid {uid!r} is not in README.md's table of uids")
    for path in paths:
        d = load(path)
        name = os.path.basename(path)

        def err(msg, panel=None):
            where = f"{name}" + (f" panel {panel.get('id')} '{panel.get('title')}'" if panel else "")
            errs.append(f"{where}: {msg}")
        uid = d.get("uid", "")
        if not UID_RE.match(uid):
            err(f"uid {uid!r} is not lowercase letters, digits and '-' (<= 40)")
        if uid != os.path.splitext(name)[0]:
            err(f"uid {uid!r} differs from the file name (uids must be stable)")
        if uid in uids:
            err(f"uid {uid!r} also used by {uids[uid]}")
        uids[uid] = name
        if d.get("id", 0) is not None:
            err("id must be null")
        if d.get("schemaVersion") != SCHEMA_VERSION:
            err(f"schemaVersion must be pinned to {SCHEMA_VERSION}")
        for k in ("__inputs", "__requires", "__elements"):
            if k in d:
                err(f"{k} present: provisioning would break (no import-time inputs)")
        if d.get("editable") is not False:
            err("editable must be false")
        if not any(l.get("type") == "dashboards" and l.get("includeVars") and l.get("keepTime")
                   for l in d.get("links", [])):
            err("no dashboards link bar carrying variables (includeVars) and time (keepTime)")
        # variables
        tv = d.get("templating", {}).get("list", [])
        names = [v.get("name") for v in tv]
        if not names or names[0] != "datasource" or tv[0].get("type") != "datasource" \
                or tv[0].get("query") != "prometheus":
            err("first variable must be 'datasource' of type datasource (prometheus)")
        cl = next((v for v in tv if v.get("name") == "cluster"), None)
        if not cl:
            err("no cluster variable")
        else:
            if cl.get("hide", 0) != 0:
                err("cluster variable is hidden")
            if not (cl.get("multi") and cl.get("includeAll") and cl.get("allValue") == ".*"):
                err("cluster variable must be multi with All = .*")
        for v in tv:
            if v.get("type") != "query":
                continue
            if (v.get("datasource") or {}).get("uid") != "${datasource}":
                err(f"variable {v['name']} does not use ${{datasource}}")
            if v.get("refresh") != 2:
                err(f"variable {v['name']} must refresh on time range change (2)")
            if v.get("multi") and v.get("allValue") != ".*":
                err(f"multi variable {v['name']} needs allValue .*")
            q = var_query(v)
            if v["name"] != "cluster":
                check_selectors(variable_as_promql(q), lambda m: err(f"variable {v['name']}: {m}"))
        # panels
        ids, titles = set(), set()
        for p in all_panels(d):
            pid = p.get("id")
            if pid in ids:
                err(f"panel id {pid} reused", p)
            ids.add(pid)
            if p.get("type") == "row":
                continue
            if not p.get("title") or not p.get("description"):
                err("title and description required", p)
            if p.get("title") in titles:
                err("panel title used twice in this dashboard (titles identify panels)", p)
            titles.add(p.get("title"))
            if (p.get("datasource") or {}).get("uid") != "${datasource}":
                err("panel datasource is not ${datasource}", p)
            unit = (p.get("fieldConfig", {}).get("defaults", {}) or {}).get("unit")
            if not unit:
                err("no unit", p)
            elif unit not in UNITS:
                err(f"unknown unit {unit!r}", p)
            if not p.get("targets"):
                err("no targets", p)
            for t in p.get("targets", []):
                if (t.get("datasource") or {}).get("uid") not in (None, "${datasource}"):
                    err(f"target {t.get('refId')} datasource is not ${{datasource}}", p)
                expr = t.get("expr", "")
                for fn, w in range_fn_windows(expr):
                    if w != "$__rate_interval":
                        err(f"{t.get('refId')}: {fn}(...[{w}]) must use [$__rate_interval]", p)
                check_selectors(expr, lambda m: err(f"{t.get('refId')}: {m}", p))
            for l in (p.get("fieldConfig", {}).get("defaults", {}).get("links") or []):
                m = re.match(r"^/d/([^?/]+)", l.get("url", ""))
                if m and m.group(1) not in known:
                    err(f"link to unknown dashboard uid {m.group(1)}", p)
    return errs


def check_selectors(expr, err):
    """Every selector must filter on the cluster variable (mixed clusters otherwise)."""
    try:
        for metric, matchers in selectors(expr):
            if CLUSTER_MATCHER not in matchers:
                err(f"selector {metric or '{…}'} lacks cluster=~\"$cluster\"")
    except ValueError as e:
        err(str(e))


# ------------------------------------------------------------------------------------------
# syntax: emit every query as a recording rule (promtool check rules parses them)

SYNTAX_BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h",
                   "__range_s": "3600", "__interval_ms": "15000"}


def syntax(out, paths):
    rules = []
    for path in paths:
        d = load(path)
        vals = {}
        for v in d.get("templating", {}).get("list", []):
            # A realistic value: multi variables as the regex Grafana builds for two values.
            vals[v["name"]] = "(a|b)" if v.get("multi") else "x"
            if v.get("type") == "query":
                rules.append((f"{d['uid']}:var:{v['name']}",
                              substitute(variable_as_promql(var_query(v)), vals, SYNTAX_BUILTINS)))
        for p, t in targets(d):
            rules.append((f"{d['uid']}:{p['id']}:{t['refId']}",
                          substitute(t["expr"], vals, SYNTAX_BUILTINS)))
    with open(out, "w", encoding="utf-8") as f:
        f.write("# generated by tests/tools/promqlcheck.py syntax: every dashboard query\n")
        f.write("groups:\n  - name: dashboards\n    rules:\n")
        for name, expr in rules:
            rec = "dash:" + re.sub(r"[^a-zA-Z0-9_:]", "_", name)
            f.write(f"      - record: {rec}\n        expr: {json.dumps(expr)}\n")
    print(f"{len(rules)} queries written to {out}")
    return []


# ------------------------------------------------------------------------------------------
# names

CAT_ROW = re.compile(r"^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(\w+)\s*\|")


def catalogue(path):
    fams = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = CAT_ROW.match(line)
            if m:
                fams[m.group(1)] = m.group(2)
    return fams


def rule_exprs(path):
    """(name, expr) of every rule in a rules file, and the recorded names (tiny YAML reader for
    the shape we write: '- record:/alert:' then 'expr:' scalars, '|' / '>' blocks allowed)."""
    exprs, records = [], set()
    lines = open(path, encoding="utf-8").read().split("\n")
    i, cur = 0, None
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^\s*-?\s*(record|alert):\s*(\S+)", line)
        if m:
            cur = m.group(2)
            if m.group(1) == "record":
                records.add(cur)
        m = re.match(r"^(\s*)-?\s*expr:\s*(.*)$", line)
        if m:
            val = m.group(2).strip()
            if val in ("|", ">", "|-", ">-", "|+", ">+"):
                ind, block = None, []
                i += 1
                while i < len(lines):
                    l2 = lines[i]
                    if l2.strip() and ind is None:
                        ind = len(l2) - len(l2.lstrip())
                    if l2.strip() and len(l2) - len(l2.lstrip()) < (ind or 0):
                        break
                    block.append(l2.strip())
                    i += 1
                exprs.append((cur, " ".join(block)))
                continue
            if val[:1] in "'\"":
                val = json.loads(val) if val[0] == '"' else val[1:-1].replace("''", "'")
            exprs.append((cur, val))
        i += 1
    return exprs, records


def names(cat_path, paths):
    fams = catalogue(cat_path)
    if not fams:
        return [f"{cat_path}: no metric families found"]
    errs, exprs, records = [], [], set()
    for path in paths:
        base = os.path.basename(path)
        if path.endswith(".json"):
            d = load(path)
            for v in d.get("templating", {}).get("list", []):
                if v.get("type") == "query":
                    exprs.append((f"{base} variable {v['name']}", variable_as_promql(var_query(v))))
            for p, t in targets(d):
                exprs.append((f"{base} panel '{p['title']}' {t['refId']}", t["expr"]))
        else:
            ex, rec = rule_exprs(path)
            records |= rec
            exprs += [(f"{base} rule {n}", e) for n, e in ex]
    used = set()
    for where, expr in exprs:
        try:
            sels = list(selectors(expr))
        except ValueError as e:
            errs.append(f"{where}: {e}")
            continue
        for metric, _ in sels:
            if metric is None:
                continue
            used.add(metric)
            if ":" in metric:
                if metric not in records:
                    errs.append(f"{where}: recording rule {metric} is not defined")
                continue
            if metric in fams:
                continue
            base_name = re.sub(r"_(bucket|sum|count)$", "", metric)
            if base_name != metric and fams.get(base_name) in ("histogram", "summary"):
                continue
            errs.append(f"{where}: metric {metric} is not in {cat_path}")
    print(f"{len(used)} distinct names used, {len(fams)} families in the catalogue")
    return errs


# ------------------------------------------------------------------------------------------
# coverage: every rule has a unit test

def coverage(rules_dir, dashboards=()):
    errs, n = [], 0
    titles, dash_titles = set(), set()
    for path in dashboards:
        d = load(path)
        dash_titles.add(d["title"])
        titles |= {p.get("title") for p in all_panels(d)}
    for name in sorted(os.listdir(rules_dir)):
        if not name.endswith(".yml") or name.endswith("_test.yml"):
            continue
        test = os.path.join(rules_dir, name[:-4] + "_test.yml")
        if not os.path.exists(test):
            errs.append(f"{name}: no {os.path.basename(test)}")
            continue
        ttext = open(test, encoding="utf-8").read()
        if not re.search(r"^rule_files:.*\b" + re.escape(name) + r"\b", ttext, re.M):
            errs.append(f"{os.path.basename(test)} does not load {name}")
        # the rule names a test asserts: record names in promql_expr_test exprs, alert names in
        # alert_rule_test entries that expect at least one alert
        tested_exprs = re.findall(r"^\s*- expr:\s*(\S.*)$", ttext, re.M)
        fired = set()
        for m in re.finditer(r"alertname:\s*(\S+)\s*\n(\s*)exp_alerts:\s*\n\s*- exp_labels", ttext):
            fired.add(m.group(1))
        text = open(os.path.join(rules_dir, name), encoding="utf-8").read()
        if dashboards:
            # runbooks point at dashboards and panels by name: those names must exist
            for ref in re.findall(r'hakari / (?:Kernel \(eBPF\)|[A-Z]\w*)', text):
                if ref not in dash_titles:
                    errs.append(f"{name}: runbook names dashboard '{ref}', which does not exist")
            for m in re.finditer(r"runbook: >-\n((?:\s{12,}.*\n)+)", text):
                for ref in re.findall(r'"([^"]+)"', " ".join(m.group(1).split())):
                    if ref not in titles:
                        errs.append(f"{name}: runbook names panel '{ref}', which no dashboard has")
        for kind, rule in re.findall(r"^\s*- (record|alert):\s*(\S+)", text, re.M):
            n += 1
            if kind == "record" and not any(re.search(r"(^|[^\w:])" + re.escape(rule) + r"($|[^\w:])", e)
                                            for e in tested_exprs):
                errs.append(f"{name}: recording rule {rule} has no promql_expr_test")
            if kind == "alert" and rule not in fired:
                errs.append(f"{name}: alert {rule} has no test in which it fires")
    print(f"{n} rules checked for tests")
    return errs


# ------------------------------------------------------------------------------------------
# data: evaluate against a real Prometheus

class Prom:
    def __init__(self, url):
        self.url = url.rstrip("/")
        self.calls = 0

    def get(self, path, params):
        self.calls += 1  # (an int bump; exactness under threads does not matter)
        q = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.url}{path}?{q}", timeout=30) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise RuntimeError(f"{path}: {body}")
        return body["data"]


def regex_escape(v):
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\1", v)


def resolve(prom, dash, pinned, start, end, builtins):
    """Variable values in dependency order, as Grafana does on load: multi variables with
    current All take allValue, others the first value of the sorted list. Returns (values for
    substitution, problems)."""
    vals, probs = {}, []
    for v in dash.get("templating", {}).get("list", []):
        name = v["name"]
        if v["type"] == "datasource":
            vals[name] = "prometheus"
            continue
        q = substitute(var_query(v), vals, builtins)
        lv = split_label_values(q)
        if lv:
            sel, label = lv
            params = {"start": start, "end": end}
            if sel:
                params["match[]"] = sel
            options = prom.get(f"/api/v1/label/{label}/values", params)
        else:
            res = prom.get("/api/v1/query", {"query": variable_as_promql(q), "time": end})
            options = sorted({str(r["metric"]) for r in res["result"]})
        options = sorted(o for o in options if o != "")
        if not options:
            probs.append(f"variable {name}: query {q!r} returned no values")
        if name in pinned:
            vals[name] = regex_escape(pinned[name]) if v.get("multi") else pinned[name]
        elif v.get("multi"):
            vals[name] = v.get("allValue") or ".*"
        else:
            vals[name] = options[0] if options else ""
    return vals, probs


def load_allowlist(path):
    """Lines: uid | panel title | family that must be absent ('-': always) | reason."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) != 4 or not parts[3]:
                raise SystemExit(f"{path}:{n}: want 'uid | panel | family|- | reason'")
            out.append(parts)
    return out


def data(url, allow_path, paths, window=60, step=5, rate_interval="20s"):
    prom = Prom(url)
    allow = load_allowlist(allow_path)
    end = time.time()
    start = end - window
    builtins = {"__rate_interval": rate_interval, "__interval": f"{step}s",
                "__range": f"{window}s", "__range_s": str(window), "__interval_ms": str(step * 1000)}
    clusters = prom.get("/api/v1/label/cluster/values",
                        {"match[]": "hakari_build_info", "start": start, "end": end})
    if len(clusters) < 2:
        return [f"want at least two clusters in hakari_build_info, got {clusters}"]
    absent_cache = {}

    def family_absent(fam):
        if fam not in absent_cache:
            r = prom.get("/api/v1/series", {"match[]": f"{{__name__=~\"{fam}(_bucket)?\"}}",
                                            "start": start, "end": end})
            absent_cache[fam] = not r
        return absent_cache[fam]

    errs, used_allow, stats = [], set(), {"queries": 0, "empty_allowed": 0}
    scenarios = [("All", {})] + [(c, {"cluster": c}) for c in clusters]
    jobs = []  # (uid, panel, target, scenario, expr)
    for path in paths:
        d = load(path)
        for scen, pinned in scenarios:
            vals, probs = resolve(prom, d, pinned, start, end, builtins)
            errs += [f"{d['uid']} [cluster={scen}] {p}" for p in probs]
            for p, t in targets(d):
                jobs.append((d["uid"], p, t, scen, substitute(t["expr"], vals, builtins)))

    def run(job):
        _, _, t, _, expr = job
        try:
            if t.get("instant") or not t.get("range", True):
                return len(prom.get("/api/v1/query", {"query": expr, "time": end})["result"]), None
            return len(prom.get("/api/v1/query_range", {"query": expr, "start": start, "end": end,
                                                         "step": step})["result"]), None
        except Exception as e:  # noqa: BLE001 - report every failing query
            return 0, e

    # A few queries in flight: the test waits on HTTP round trips more than on Prometheus.
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, jobs))
    for (uid, p, t, scen, expr), (n, exc) in zip(jobs, results):
        stats["queries"] += 1
        if exc is not None:
            errs.append(f"{uid} '{p['title']}' {t['refId']} [cluster={scen}]: {exc}")
            continue
        if n:
            continue
        entry = next((a for a in allow if a[0] == uid and a[1] == p["title"]
                      and (a[2] == "-" or family_absent(a[2]))), None)
        if entry:
            used_allow.add(tuple(entry))
            stats["empty_allowed"] += 1
            continue
        errs.append(f"{uid} '{p['title']}' {t['refId']} [cluster={scen}] returned "
                    f"no series: {' '.join(expr.split())}")
    for a in allow:
        state = "used" if tuple(a) in used_allow else "not needed"
        print(f"allowlist {state}: {a[0]} '{a[1]}' ({a[3]})")
    print(f"{stats['queries']} queries evaluated over {len(scenarios)} cluster choices, "
          f"{stats['empty_allowed']} empty but allowlisted, {prom.calls} API calls")
    return errs


PANEL_TEST_BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h",
                       "__range_s": "3600", "__interval_ms": "60000"}


def panels(spec_path, out, paths):
    spec = load(spec_path)
    exprs = {}
    for path in paths:
        d = load(path)
        for p, t in targets(d):
            exprs[f"{d['uid']}/{p['title']}/{t['refId']}"] = t["expr"]
    errs, n = [], 0
    spec.pop("_comment", None)
    # rule files named relative to the spec (the output is written elsewhere): panels that read
    # recorded series are tested through the rules, from the raw series hakari emits
    here = os.path.dirname(os.path.abspath(spec_path))
    if "rule_files" in spec:
        spec["rule_files"] = [os.path.join(here, f) for f in spec["rule_files"]]
    for group in spec.get("tests", []):
        for case in group.get("promql_expr_test", []):
            ref = case.pop("panel", None)
            vars_ = case.pop("vars", {})
            if ref not in exprs:
                errs.append(f"{spec_path}: no panel target {ref!r}")
                continue
            try:
                case["expr"] = substitute(exprs[ref], vars_, PANEL_TEST_BUILTINS)
            except KeyError as e:
                errs.append(f"{spec_path}: {ref}: {e}")
            n += 1
    with open(out, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)
    print(f"{n} panel queries written to {out}")
    return errs


def records(url, allow_path, paths):
    """The Prometheus at URL loads the rule files: each recorded series must exist. Allowlist
    entries use the uid 'rules' and the record name as the panel title."""
    prom = Prom(url)
    allow = [a for a in load_allowlist(allow_path) if a[0] == "rules"]
    errs, n, allowed = [], 0, 0
    end = time.time()
    for path in paths:
        _, recs = rule_exprs(path)
        for rec in sorted(recs):
            n += 1
            res = prom.get("/api/v1/query", {"query": f"count by (cluster) ({rec})", "time": end})
            got = {r["metric"].get("cluster", "") for r in res["result"]}
            if got:
                print(f"{rec}: series in clusters {sorted(got)}")
                continue
            entry = next((a for a in allow if a[1] == rec), None)
            if entry and (entry[2] == "-" or not prom.get(
                    "/api/v1/series", {"match[]": f"{{__name__=~\"{entry[2]}(_bucket)?\"}}",
                                       "start": end - 120, "end": end})):
                print(f"{rec}: empty, allowlisted ({entry[3]})")
                allowed += 1
                continue
            errs.append(f"recording rule {rec} ({os.path.basename(path)}) has no series")
    print(f"{n} recording rules evaluated by Prometheus, {allowed} empty but allowlisted")
    return errs


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd = argv[1]
    if cmd == "lint":
        errs = lint(argv[2:])
    elif cmd == "syntax":
        errs = syntax(argv[2], argv[3:])
    elif cmd == "names":
        errs = names(argv[2], argv[3:])
    elif cmd == "coverage":
        errs = coverage(argv[2], argv[3:])
    elif cmd == "panels":
        errs = panels(argv[2], argv[3], argv[4:])
    elif cmd == "records":
        errs = records(argv[2], argv[3], argv[4:])
    elif cmd == "data":
        errs = data(argv[2], argv[3], argv[4:])
    else:
        print(__doc__)
        return 2
    for e in errs:
        print("ERROR " + e)
    print(f"{cmd}: {len(errs)} problem(s)")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
