#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the request log of rw_fault_receiver.py for one fault-injection phase.

usage: rw_fault_check.py PHASE LOG --total N --failed N [--min-backoff S] [--max-backoff S]
PHASE: retry | 429 | 413 | 415 | v2nohdr | v2ok | 400 | hang | relabel |
       basic | bearer | oauth2 | sigv4 | sigv4file | mtls | tooold | slow | fast |
       webid | assume | chain | stsfail | basicrot | bearerrot | sigv4rot
--total/--failed: hakari's samples_total / samples_failed from its stop log line.
"""
import argparse
import json
import sys

errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


def key(s):
    return (tuple(tuple(x) for x in s[0]), s[1], s[2])


def sset(r):
    return sorted(key(s) for s in r["samples"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("phase")
    ap.add_argument("log")
    ap.add_argument("--total", type=int, required=True)
    ap.add_argument("--failed", type=int, default=0)
    ap.add_argument("--dropped", type=int, default=0)
    ap.add_argument("--pending", type=int, default=0, help="still queued on disk at stop")
    ap.add_argument("--min-backoff", type=float, default=0.2)
    ap.add_argument("--max-backoff", type=float, default=1.0)
    a = ap.parse_args()
    reqs = sorted((json.loads(line) for line in open(a.log) if line.strip()), key=lambda r: r["t"])
    tokens = [r for r in reqs if r["action"] == "token"]
    sts = [r for r in reqs if r["action"] == "sts"]
    rotated = [r for r in reqs if r["action"] == "rotated"]
    reqs = [r for r in reqs if r["action"] not in ("token", "sts", "rotated")]
    check(len(reqs) >= 2, f"only {len(reqs)} requests")
    if errors:
        return report(a, reqs)
    for i, r in enumerate(reqs):
        check(r["decode_error"] is None, f"request {i}: body does not decode: {r['decode_error']}")
        check(r["encoding"] == "snappy", f"request {i}: Content-Encoding {r['encoding']}")
        check((r["user_agent"] or "").startswith("hakari/"), f"request {i}: User-Agent {r['user_agent']}")
        if r["v2"]:
            check(r["version"] == "2.0.0", f"request {i}: 2.0 body with version {r['version']}")
        else:
            check(r["content_type"] == "application/x-protobuf" and r["version"] == "0.1.0",
                  f"request {i}: 1.0 headers wrong: {r['content_type']} {r['version']}")
        for s in r["samples"]:
            names = [n for n, _ in s[0]]
            check(names == sorted(names) and len(set(names)) == len(names),
                  f"request {i}: labels not sorted/unique: {names}")
            check("__name__" in names, f"request {i}: a series without __name__")
    # A 2.0 request answered 2xx without the Written header counts as not written (a 1.x
    # receiver decoded it as an empty request); hakari resends it as 1.0.
    ok = [r for r in reqs if r["status"] in (200, 204) and not (r["v2"] and r["action"] != "ok2")]
    delivered = [key(s) for r in ok for s in r["samples"]]
    check(len(delivered) == len(set(delivered)), "a sample was delivered twice")
    check(len(delivered) + a.failed + a.dropped + a.pending == a.total,
          f"delivered {len(delivered)} + failed {a.failed} + dropped {a.dropped} + pending "
          f"{a.pending} != taken in {a.total}")
    # Every retry carries Retry-Attempt = number of earlier attempts of the same samples.
    r0, r1 = reqs[0], reqs[1]
    gap = r1["t"] - r0["t"]
    if a.phase == "retry":
        check([r["status"] for r in reqs[:4]] == [500, 503, 500, 204], f"statuses {[r['status'] for r in reqs[:4]]}")
        check([r["retry_attempt"] for r in reqs[:4]] == [None, "1", "2", "3"],
              f"Retry-Attempt {[r['retry_attempt'] for r in reqs[:4]]}")
        check(all(sset(reqs[i]) == sset(r0) for i in range(4)), "a retry carried other samples")
        for i in range(3):
            d = reqs[i + 1]["t"] - reqs[i]["t"]
            check(d >= a.min_backoff * 0.95, f"retry {i + 1} after {d:.3f}s < min_backoff")
            check(d <= a.max_backoff + 5, f"retry {i + 1} after {d:.3f}s >> max_backoff")
        check(reqs[4]["retry_attempt"] is None, "Retry-Attempt on a fresh batch")
    elif a.phase == "429":
        check(r0["status"] == 429 and r1["retry_attempt"] == "1", "429 not retried")
        check(sset(r1) == sset(r0), "429 retry carried other samples")
        check(gap >= 1.9, f"Retry-After: 2 not honoured (retry after {gap:.3f}s)")
    elif a.phase == "ra0":
        # Retry-After: 0 still backs off (at least min_backoff between attempts).
        check([r["status"] for r in reqs[:4]] == [429, 429, 429, 204], f"statuses {[r['status'] for r in reqs[:4]]}")
        for i in range(3):
            d = reqs[i + 1]["t"] - reqs[i]["t"]
            check(d >= a.min_backoff * 0.95, f"Retry-After: 0 retried after {d:.3f}s < min_backoff")
    elif a.phase == "trunc":
        # A 200 with a cut-off body is delivered: not resent (the duplicate check above).
        check(r0["status"] == 200 and r0["action"] == "trunc", f"first request {r0['action']}")
        check(r1["retry_attempt"] is None and sset(r1) != sset(r0), "the truncated 200 was resent")
    elif a.phase == "413":
        big = [r for r in reqs if r["status"] == 413]
        check(len(big) >= 1, "no 413 happened")
        check(all(r["n"] <= 60 for r in ok), "an accepted request is larger than the limit")
        first = set(sset(big[0]))
        got = set(k for r in ok for k in sset(r) if k in first)
        check(got == first, "the samples of a split request did not all arrive")
    elif a.phase == "415":
        check(r0["v2"] and r0["status"] == 415, f"first request: v2={r0['v2']} status={r0['status']}")
        check(not r1["v2"] and sset(r1) == sset(r0), "415 was not followed by the same data as 1.0")
        check(all(not r["v2"] for r in reqs[1:]), "2.0 used again after falling back")
    elif a.phase == "v2nohdr":
        check(r0["v2"] and r0["status"] == 204, "first request not 2.0")
        check(not r1["v2"] and sset(r1) == sset(r0),
              "2xx without Written header was not resent as 1.0")
        check(all(not r["v2"] for r in reqs[1:]), "2.0 used again after falling back")
    elif a.phase == "v2ok":
        check(all(r["v2"] for r in reqs), "a 2.0 receiver got a 1.0 request")
        check(all(r["content_type"] == "application/x-protobuf;proto=io.prometheus.write.v2.Request"
                  for r in reqs), "2.0 Content-Type wrong")
    elif a.phase == "400":
        check(r0["status"] == 400, "first request not 400")
        check(all(r["retry_attempt"] is None for r in reqs), "a request was retried after 400")
        check(set(sset(r1)).isdisjoint(set(sset(r0))), "400 data was sent again")
        check(a.failed == r0["n"], f"failed {a.failed} != samples of the 400 request {r0['n']}")
    elif a.phase == "hang":
        check([r["status"] for r in reqs[:3]] == ["hang", "reset", 204],
              f"actions {[r['action'] for r in reqs[:3]]}")
        check([r["retry_attempt"] for r in reqs[:3]] == [None, "1", "2"],
              f"Retry-Attempt {[r['retry_attempt'] for r in reqs[:3]]}")
        check(all(sset(reqs[i]) == sset(r0) for i in range(3)), "retries carried other samples")
    elif a.phase == "tooold":
        check(a.dropped > 0, "nothing dropped as too old")
        for r in reqs:
            for smp in r["samples"]:
                age = r["t"] - smp[1] / 1000
                check(age < 2 + 1.5, f"a sample {age:.1f}s old was sent (sample_age_limit 2s)")
    elif a.phase == "relabel":
        for r in ok:
            for s in r["samples"]:
                lab = dict(s[0])
                check(lab.get("env") == "test", f"sample without env=test: {lab}")
                check(not lab["__name__"].startswith("hakari_collector_"), f"not dropped: {lab}")
                check("region" not in lab, f"labeldrop did not drop region: {lab}")
                check(lab.get("cluster") == "faults", f"external label missing: {lab}")
    elif a.phase in ("basic", "bearer", "sigv4", "sigv4file", "mtls"):
        bad = [(r["auth_error"], r["status"]) for r in reqs if r.get("auth_error") or r["status"] != 204]
        check(not bad, f"requests refused: {bad[:3]}")
        if a.phase == "bearer":
            check(all(r["tenant"] == "team-a" for r in reqs), "X-Scope-OrgID missing")
        if a.phase == "sigv4":
            check(all(r["amz_token"] == "SESSION-TOKEN" for r in reqs), "session token missing")
    elif a.phase == "oauth2":
        check(len(tokens) >= 2 and all(t["status"] == 200 for t in tokens),
              f"token requests: {[t['status'] for t in tokens]}")
        check(tokens[0]["form"].get("scope") == "https://monitor.azure.com//.default" and
              tokens[0]["form"].get("resource") == "x", f"token form {tokens[0]['form']}")
        check(r1["action"] == "expire" and r1["status"] == 401, "no 401 on the expired token")
        check(reqs[2]["status"] == 204 and sset(reqs[2]) == sset(r1),
              "after 401 the same data was not resent with a new token")
        check(not any(r.get("auth_error") for r in reqs[2:]), "stale token used after refresh")
    elif a.phase == "stsfail":
        # STS down for two calls at the first renewal: the old keys are kept until they expire,
        # STS is retried with backoff, requests refused meanwhile are retried (not dropped) and
        # sent with the new keys once STS answers.
        fails = [t for t in sts if t["status"] == 503]
        check(len(fails) == 2, f"{len(fails)} injected STS failures seen, expected 2")
        if fails:
            later = [t for t in sts if t["t"] > fails[-1]["t"] and t["status"] == 200]
            check(later, "STS not retried after the outage")
            if len(fails) == 2:
                d = fails[1]["t"] - fails[0]["t"]
                check(d >= 0.9, f"STS retried after {d:.2f}s, expected a backoff of at least 1s")
        keys = list(dict.fromkeys(r["akid"] for r in ok))
        check(len(keys) >= 2, f"no new key after the outage: {keys}")
        check(a.failed == 0, f"{a.failed} samples failed during the STS outage")
        other = [r["auth_error"] for r in reqs if r.get("auth_error") and not r["auth_error"].endswith(" expired")]
        check(not other, f"requests refused for another reason than an expired key: {other[:3]}")
    elif a.phase in ("webid", "assume", "chain"):
        # STS stub: every call validated (role ARN, web identity token, AssumeRole's signature)
        # and answered with keys that expire within the test; remote-write goes on across the
        # renewals, each request signed with a key valid at that moment.
        check(all(t["status"] == 200 for t in sts),
              f"STS refused: {[t['sts_error'] for t in sts if t['status'] != 200][:3]}")
        kinds = {t["sts_action"] for t in sts}
        want = {"webid": {"AssumeRoleWithWebIdentity"}, "assume": {"AssumeRole"},
                "chain": {"AssumeRoleWithWebIdentity", "AssumeRole"}}[a.phase]
        check(kinds == want, f"STS actions {kinds}, expected {want}")
        if a.phase == "webid":  # the token file was rotated mid-run: STS got the new one
            check(rotated and any(t["t"] >= rotated[0]["t"] and t["status"] == 200 for t in sts),
                  "no STS call with the rotated web identity token")
        keys = [r["akid"] for r in ok]
        distinct = list(dict.fromkeys(keys))
        check(len(distinct) >= 2, f"credentials never renewed: keys used {distinct}")
        check(keys == sorted(keys), "an older key was used after a newer one")
        # Renewed before expiry: a new key is in use before the one it replaces expires. A
        # request refused for an expired key can only come from a stall longer than the margin
        # (a loaded machine): tolerated twice, and it must have been resent (no loss, checked
        # above); any other refusal (unknown key, bad signature) fails.
        exp = {t["issued"]: t["exp"] for t in sts if t.get("issued")}
        got = {t["issued"]: t["t"] for t in sts if t.get("issued")}
        early = [k for i, k in enumerate(distinct[1:]) if got.get(k, 1e18) < exp.get(distinct[i], 0)]
        check(early, "no key was renewed before the previous one expired")
        bad = [r["auth_error"] for r in reqs if r.get("auth_error")]
        check(len(bad) <= 2 and all(b.endswith(" expired") for b in bad),
              f"requests refused: {bad[:3]}")
        check(a.failed == 0, f"{a.failed} samples failed")
        check(all(r["amz_token"] for r in ok), "session token missing")
    elif a.phase in ("basicrot", "bearerrot", "sigv4rot"):
        # The secret file was rewritten mid-run: requests switch to the new secret, the requests
        # refused with the old one are resent (nothing failed), the new one is in use at once.
        check(len(rotated) == 1, f"{len(rotated)} rotations seen by the receiver")
        if rotated:
            t = rotated[0]["t"]
            before = [r for r in ok if r["t"] < t]
            after = [r for r in ok if r["t"] > t]
            check(before and after, "no accepted request on both sides of the rotation")
            if before and after:
                cred = "akid" if a.phase == "sigv4rot" else "authorization"
                check(before[-1][cred] != after[0][cred],
                      "the same secret before and after the rotation")
                check(after[0]["t"] - t < 3, f"new secret used {after[0]['t'] - t:.1f}s after the rotation")
            late = [r for r in reqs if r["t"] > t + 3 and r.get("auth_error")]
            check(not late, f"old secret still used 3 s after the rotation: {len(late)} requests")
        refused = [r for r in reqs if r.get("auth_error")]
        check(len(refused) <= 2, f"{len(refused)} requests refused (expected at most one per shard)")
        check(a.failed == 0, f"{a.failed} samples failed (a 401 with the old secret was dropped)")
    elif a.phase in ("slow", "fast"):  # rw_shards.sh: only the common delivery checks above
        pass
    else:
        errors.append("unknown phase")
    return report(a, reqs)


def report(a, reqs):
    summary = ", ".join(f"{r['action']}:{r['status']}:{r['n']}{':v2' if r['v2'] else ''}"
                        for r in reqs[:8])
    print(f"{a.phase}: {len(reqs)} requests [{summary} ...]")
    for e in errors:
        print("  FAIL:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
