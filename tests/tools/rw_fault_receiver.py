#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A remote-write receiver that misbehaves on purpose (fault injection for hakari's sender).

usage: rw_fault_receiver.py --port P --log FILE [--script a,b,c] [--max-samples N]
                            [--error-body-hex HEX]
                            [--hang-s S] [--retry-after V] [--delay-s S]

Each request takes the next action of --script (then "ok" forever):
  ok        204 (no Written headers, like a 1.x receiver or VictoriaMetrics)
  ok2       204 with X-Prometheus-Remote-Write-Samples-Written (a 2.0 receiver)
  500 503   server errors             429   rate limited, with Retry-After (--retry-after)
  400       bad request (never to be retried)
  415v2     415 if the request is 2.0, else 204 (ok)
  hang      read the body, then sleep --hang-s before answering 204
  reset     read the body, then close the connection with a TCP reset
  trunc     200 whose body is cut off: Content-Length 100, 9 bytes sent, connection closed
  expire    rotate the OAuth2 token (--oauth2) and answer 401
Auth (--basic, --bearer, --oauth2, --sigv4 with a full signature check) answers 401 when the
request does not carry it; --basic-file/--bearer-file take the secret from a file read at each
request (a "rotated" record is logged when it changed); --sts-* serve an STS stub at /sts
(AssumeRoleWithWebIdentity, AssumeRole with its SigV4 checked, service sts) that issues
short-lived keys, and --sigv4-sts accepts only requests signed with a currently valid one; --tls serves HTTPS, with client certificates required if a CA is given.
--max-samples N: any request with more than N samples gets 413 (does not consume an action).
--delay-s S: every answer waits S seconds (a slow receiver; requests are served concurrently).
Every request is logged as one JSON line: time, action, status, headers of interest, protocol,
and the decoded samples (labels, timestamp, value bits), so tests can check retry counts,
spacing, splitting, fallback and exactly-once delivery. Standard library only: snappy block
decoding and the protobuf walk are done here.
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse


def snappy_decode(b):
    pos, n, shift = 0, 0, 0
    while True:
        c = b[pos]
        pos += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            break
    out = bytearray()
    while pos < len(b):
        tag = b[pos]
        pos += 1
        t = tag & 3
        if t == 0:
            ln = tag >> 2
            if ln >= 60:
                nb = ln - 59
                ln = int.from_bytes(b[pos:pos + nb], "little")
                pos += nb
            ln += 1
            out += b[pos:pos + ln]
            pos += ln
            continue
        if t == 1:
            ln = ((tag >> 2) & 7) + 4
            off = ((tag >> 5) << 8) | b[pos]
            pos += 1
        elif t == 2:
            ln = (tag >> 2) + 1
            off = int.from_bytes(b[pos:pos + 2], "little")
            pos += 2
        else:
            ln = (tag >> 2) + 1
            off = int.from_bytes(b[pos:pos + 4], "little")
            pos += 4
        if off == 0 or off > len(out):
            raise ValueError("bad snappy offset")
        for _ in range(ln):
            out.append(out[-off])
    if len(out) != n:
        raise ValueError("snappy length mismatch")
    return bytes(out)


def varint(b, pos):
    v, shift = 0, 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, pos


def fields(b):
    pos = 0
    while pos < len(b):
        key, pos = varint(b, pos)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, pos = varint(b, pos)
        elif wt == 1:
            v = b[pos:pos + 8]
            pos += 8
        elif wt == 2:
            ln, pos = varint(b, pos)
            v = b[pos:pos + ln]
            pos += ln
        elif wt == 5:
            v = b[pos:pos + 4]
            pos += 4
        else:
            raise ValueError("wire type %d" % wt)
        yield f, wt, v


def sample_of(b):
    val, ts = b"\0" * 8, 0
    for f, wt, v in fields(b):
        if f == 1 and wt == 1:
            val = v
        elif f == 2 and wt == 0:
            ts = v - (1 << 64) if v >= 1 << 63 else v
    return ts, val.hex()


def decode_v1(b):
    out = []
    for f, _, ts_b in fields(b):
        if f != 1:
            continue
        labels, samples = [], []
        for g, _, v in fields(ts_b):
            if g == 1:
                kv = {h: x.decode() for h, _, x in fields(v)}
                labels.append((kv.get(1, ""), kv.get(2, "")))
            elif g == 2:
                samples.append(sample_of(v))
        for ts, val in samples:
            out.append([labels, ts, val])
    return out


def decode_v2(b):
    symbols, series = [], []
    for f, _, v in fields(b):
        if f == 4:
            symbols.append(v.decode())
        elif f == 5:
            series.append(v)
    out = []
    for ts_b in series:
        refs, samples = [], []
        for g, wt, v in fields(ts_b):
            if g == 1 and wt == 2:
                p = 0
                while p < len(v):
                    x, p = varint(v, p)
                    refs.append(x)
            elif g == 1 and wt == 0:
                refs.append(v)
            elif g == 2:
                samples.append(sample_of(v))
        labels = [(symbols[refs[i]], symbols[refs[i + 1]]) for i in range(0, len(refs), 2)]
        for ts, val in samples:
            out.append([labels, ts, val])
    return out


def sigv4_akid(h):
    """The access key ID a SigV4 request claims (None if not SigV4)."""
    auth = h.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return None
    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    return parts.get("Credential", "").split("/")[0]


def sigv4_ok(h, method, path, body, akid, secret, region, token, service="aps"):
    """Recomputes the AWS SigV4 signature of a request; returns an error or None."""
    auth = h.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no AWS4-HMAC-SHA256 Authorization"
    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    cred = parts["Credential"].split("/")
    if cred[0] != akid or cred[2] != region or cred[3] != service or cred[4] != "aws4_request":
        return "credential scope " + parts["Credential"]
    amzdate = h.get("X-Amz-Date", "")
    if token and h.get("X-Amz-Security-Token") != token:
        return "session token missing"
    signed = parts["SignedHeaders"].split(";")
    if token and "x-amz-security-token" not in signed:
        return "session token not signed"
    canon_h = "".join(f"{k}:{' '.join(h.get(k, '').split())}\n" for k in signed)
    creq = "\n".join([method, path, "", canon_h, parts["SignedHeaders"],
                      hashlib.sha256(body).hexdigest()])
    scope = "/".join(cred[1:])
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for m in (cred[1], region, service, "aws4_request"):
        k = hmac.new(k, m.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(want, parts["Signature"]) else "signature mismatch"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def token(self, body):
        srv = self.server
        form = dict(x.split("=", 1) for x in body.decode().split("&") if "=" in x)
        form = {k: urllib.parse.unquote_plus(v) for k, v in form.items()}
        want_id, want_secret = srv.oauth2.split(":", 1)
        good = (form.get("grant_type") == "client_credentials" and form.get("client_id") == want_id
                and form.get("client_secret") == want_secret)
        with srv.lock:
            tok = f"tok-{srv.token_gen}"
        srv.write({"t": time.time(), "action": "token", "status": 200 if good else 401,
                   "form": {k: v for k, v in form.items() if k != "client_secret"}, "n": 0,
                   "samples": [], "v2": False, "decode_error": None})
        msg = json.dumps({"access_token": tok, "token_type": "bearer", "expires_in": 3600}
                         if good else {"error": "invalid_client"}).encode()
        self.send_response(200 if good else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(msg)))
        self.end_headers()
        self.wfile.write(msg)

    def file_secret(self, path):
        """The secret in path now (the test rewrites it); logs a "rotated" record on change."""
        srv = self.server
        with open(path) as f:
            v = f.read().strip()
        with srv.lock:
            old = srv.file_seen.get(path)
            srv.file_seen[path] = v
        if old is not None and old != v:
            srv.write({"t": time.time(), "action": "rotated", "status": 0, "n": 0, "samples": [],
                       "v2": False, "decode_error": None})
        return v

    def sts(self, body):
        """STS stub: AssumeRoleWithWebIdentity (token = content of --sts-token-file) and
        AssumeRole (signed, service sts, with --sts-base keys or keys issued here); answers
        credentials that expire after --sts-life seconds."""
        srv = self.server
        form = dict(x.split("=", 1) for x in body.decode().split("&") if "=" in x)
        form = {k: urllib.parse.unquote_plus(v) for k, v in form.items()}
        act = form.get("Action")
        err = None
        with srv.lock:
            srv.sts_calls += 1
            failing = srv.sts_fail and srv.sts_fail[0] < srv.sts_calls <= srv.sts_fail[0] + srv.sts_fail[1]
        if failing:  # injected outage: 503 with an STS-style error body
            msg = (b"<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>"
                   b"<Message>stub outage</Message></Error></ErrorResponse>")
            srv.write({"t": time.time(), "action": "sts", "status": 503, "n": 0, "samples": [],
                       "v2": False, "decode_error": None, "sts_action": act, "issued": None,
                       "sts_error": "injected outage"})
            self.send_response(503)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        if form.get("Version") != "2011-06-15":
            err = "Version"
        elif not form.get("RoleSessionName"):
            err = "RoleSessionName missing"
        elif act == "AssumeRoleWithWebIdentity":
            if form.get("RoleArn") != srv.sts_webid_role:
                err = "RoleArn " + str(form.get("RoleArn"))
            elif form.get("WebIdentityToken") != self.file_secret(srv.sts_token_file):
                err = "WebIdentityToken"
            elif self.headers.get("Authorization"):
                err = "AssumeRoleWithWebIdentity must not be signed"
        elif act == "AssumeRole":
            akid = sigv4_akid(self.headers)
            with srv.lock:
                keys = dict(srv.issued)
            if srv.sts_base and akid == srv.sts_base.split(":")[0]:
                f = srv.sts_base.split(":")
                sk, tok, exp = f[1], (f[2] if len(f) > 2 else ""), None
            elif akid in keys and keys[akid]["action"] == "AssumeRoleWithWebIdentity":
                sk, tok, exp = keys[akid]["sk"], keys[akid]["tok"], keys[akid]["exp"]
            else:
                sk = None
            if form.get("RoleArn") != srv.sts_role:
                err = "RoleArn " + str(form.get("RoleArn"))
            elif sk is None:
                err = f"AssumeRole signed by unknown key {akid}"
            elif exp is not None and time.time() >= exp:
                err = f"AssumeRole signed by expired key {akid}"
            else:
                err = sigv4_ok(self.headers, "POST", self.path, body, akid, sk, srv.sts_region,
                               tok, "sts")
        else:
            err = f"Action {act}"
        with srv.lock:
            srv.sts_gen += 1
            n = srv.sts_gen
        exp = int(time.time()) + srv.sts_life
        akid, sk, tok = f"ASIASTUB{n:04d}", f"sts-SECRET-{n}", f"FQoG/tok+{n}&={n}"
        rec = {"t": time.time(), "action": "sts", "status": 403 if err else 200, "n": 0,
               "samples": [], "v2": False, "decode_error": None, "sts_action": act,
               "role": form.get("RoleArn"), "session": form.get("RoleSessionName"),
               "signer": sigv4_akid(self.headers), "issued": None if err else akid, "exp": exp,
               "sts_error": err}
        if err:
            msg = ("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>"
                   f"stub refused: {err}</Message></Error></ErrorResponse>").encode()
        else:
            with srv.lock:
                srv.issued[akid] = {"sk": sk, "tok": tok, "exp": exp, "action": act}
            iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))
            tx = tok.replace("&", "&amp;")
            msg = (f'<{act}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                   f"<{act}Result>\n  <Credentials>\n    <AccessKeyId>{akid}</AccessKeyId>\n"
                   f"    <SecretAccessKey>{sk}</SecretAccessKey>\n"
                   f"    <SessionToken>{tx}</SessionToken>\n"
                   f"    <Expiration>{iso}</Expiration>\n  </Credentials>\n"
                   f"</{act}Result></{act}Response>\n").encode()
        srv.write(rec)
        self.send_response(403 if err else 200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(msg)))
        self.end_headers()
        self.wfile.write(msg)

    def auth_error(self, body):
        srv = self.server
        h = self.headers
        if srv.basic_file:
            user, path = srv.basic_file.split(":", 1)
            want = "Basic " + base64.b64encode(f"{user}:{self.file_secret(path)}".encode()).decode()
            if h.get("Authorization") != want:
                return "basic auth (file)"
        if srv.bearer_file and h.get("Authorization") != "Bearer " + self.file_secret(srv.bearer_file):
            return "bearer (file)"
        if srv.sigv4_file:
            path, profile, region = srv.sigv4_file.split(":")
            sect, keys = None, {}
            for line in self.file_secret(path).splitlines():
                line = line.strip()
                if line.startswith("["):
                    sect = line.strip("[]")
                elif "=" in line and sect == profile:
                    k, v = line.split("=", 1)
                    keys[k.strip()] = v.strip()
            return sigv4_ok(h, "POST", self.path, body, keys.get("aws_access_key_id"),
                            keys.get("aws_secret_access_key", ""), region,
                            keys.get("aws_session_token", ""))
        if srv.sigv4_sts:
            akid = sigv4_akid(h)
            with srv.lock:
                k = srv.issued.get(akid)
            want = srv.sts_role and "AssumeRole" or "AssumeRoleWithWebIdentity"
            if not k or k["action"] != want:
                return f"sigv4 key {akid} not issued by {want}"
            if time.time() >= k["exp"]:
                return f"sigv4 key {akid} expired"
            return sigv4_ok(h, "POST", self.path, body, akid, k["sk"], srv.sigv4_sts, k["tok"])
        if srv.basic and h.get("Authorization") != "Basic " + base64.b64encode(srv.basic.encode()).decode():
            return "basic auth"
        if srv.bearer and h.get("Authorization") != "Bearer " + srv.bearer:
            return "bearer"
        if srv.oauth2:
            with srv.lock:
                want = f"Bearer tok-{srv.token_gen}"
            if h.get("Authorization") != want:
                return "oauth2 token"
        if srv.sigv4:
            f = srv.sigv4.split(":")
            return sigv4_ok(h, "POST", self.path, body, f[0], f[1], f[2], f[3] if len(f) > 3 else "")
        return None

    def do_POST(self):
        srv = self.server
        ln = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(ln)
        if self.path == "/token":
            return self.token(body)
        if self.path.startswith("/sts"):
            return self.sts(body)
        ctype = self.headers.get("Content-Type", "")
        v2 = ctype == "application/x-protobuf;proto=io.prometheus.write.v2.Request"
        try:
            raw = snappy_decode(body)
            samples = decode_v2(raw) if v2 else decode_v1(raw)
            err = None
        except Exception as e:  # noqa: BLE001 - report it in the log
            samples, err = [], str(e)
        autherr = self.auth_error(body)
        with srv.lock:
            if autherr:
                action = "401"
            elif srv.max_samples and len(samples) > srv.max_samples:
                action = "413"
            else:
                action = srv.script.pop(0) if srv.script else srv.default
        rec = {"t": time.time(), "action": action, "v2": v2, "content_type": ctype,
               "version": self.headers.get("X-Prometheus-Remote-Write-Version"),
               "encoding": self.headers.get("Content-Encoding"),
               "user_agent": self.headers.get("User-Agent"),
               "retry_attempt": self.headers.get("Retry-Attempt"),
               "authorization": self.headers.get("Authorization"),
               "tenant": self.headers.get("X-Scope-OrgID"),
               "n": len(samples), "decode_error": err, "samples": samples, "auth_error": autherr,
               "amz_token": self.headers.get("X-Amz-Security-Token"),
               "akid": sigv4_akid(self.headers)}
        if srv.delay_s > 0:
            time.sleep(srv.delay_s)
        status, hdrs = 204, {}
        if action == "ok2":
            hdrs["X-Prometheus-Remote-Write-Samples-Written"] = str(len(samples))
        elif action in ("500", "503", "400", "413", "401"):
            status = int(action)
        elif action == "expire":  # rotate the OAuth2 token: this request's token is now stale
            with srv.lock:
                srv.token_gen += 1
            status = 401
        elif action == "429":
            status = 429
            hdrs["Retry-After"] = srv.retry_after
        elif action == "415v2":
            status = 415 if v2 else 204
        elif action == "hang":
            time.sleep(srv.hang_s)
            rec["status"] = "hang"  # the client gave up long ago; not counted as delivered
            srv.write(rec)
            try:
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass
            self.close_connection = True
            return
        elif action == "trunc":
            rec["status"] = 200
            srv.write(rec)
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"truncated")
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        elif action == "reset":
            rec["status"] = "reset"
            srv.write(rec)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        rec["status"] = status
        srv.write(rec)
        msg = b"" if status == 204 else (srv.error_body or (b"injected %d\n" % status))
        self.send_response(status)
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(msg)))
        self.end_headers()
        self.wfile.write(msg)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def write(self, rec):
        with self.lock:
            self.logf.write(json.dumps(rec) + "\n")
            self.logf.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--script", default="")
    ap.add_argument("--max-samples", type=int, default=0)
    ap.add_argument("--hang-s", type=float, default=3)
    ap.add_argument("--delay-s", type=float, default=0)
    ap.add_argument("--retry-after", default="2")
    ap.add_argument("--default", default="ok", help="action once the script is used up")
    ap.add_argument("--error-body-hex", default="",
                    help="body of every non-2xx answer as hex bytes (e.g. invalid UTF-8: ff)")
    ap.add_argument("--basic", default="", help="require basic auth USER:PASS")
    ap.add_argument("--bearer", default="", help="require Authorization: Bearer TOKEN")
    ap.add_argument("--oauth2", default="", help="serve POST /token for client ID:SECRET and "
                    "require its current token")
    ap.add_argument("--sigv4", default="", help="verify SigV4 (service aps): AKID:SECRET:REGION[:TOKEN]")
    ap.add_argument("--basic-file", default="", help="require basic auth USER:<content of PATH>, "
                    "given as USER:PATH (the file is read at each request)")
    ap.add_argument("--bearer-file", default="", help="require Bearer <content of PATH>")
    ap.add_argument("--sigv4-file", default="", help="PATH:PROFILE:REGION: verify SigV4 with the "
                    "keys of an AWS shared credentials file, read at each request")
    ap.add_argument("--sts-webid-role", default="", help="serve STS AssumeRoleWithWebIdentity at "
                    "/sts for this role ARN")
    ap.add_argument("--sts-token-file", default="", help="the web identity token STS expects")
    ap.add_argument("--sts-role", default="", help="serve STS AssumeRole at /sts for this role ARN")
    ap.add_argument("--sts-base", default="", help="AKID:SECRET[:TOKEN] allowed to sign AssumeRole "
                    "(keys issued by AssumeRoleWithWebIdentity are allowed too)")
    ap.add_argument("--sts-region", default="us-east-1")
    ap.add_argument("--sts-fail", default="", help="K:N: STS calls K+1..K+N answer 503")
    ap.add_argument("--sts-life", type=int, default=10, help="lifetime of issued credentials (s)")
    ap.add_argument("--sigv4-sts", default="", help="REGION: verify SigV4 (service aps) with a "
                    "valid, unexpired key issued by the STS stub (AssumeRole's when --sts-role)")
    ap.add_argument("--tls", default="", help="CERT:KEY[:CLIENT_CA] (client certificate required "
                    "when CLIENT_CA is given)")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.lock = threading.Lock()
    srv.script = [x for x in a.script.split(",") if x]
    srv.max_samples = a.max_samples
    srv.hang_s = a.hang_s
    srv.delay_s = a.delay_s
    srv.retry_after = a.retry_after
    srv.error_body = bytes.fromhex(a.error_body_hex)
    srv.default = a.default
    srv.logf = open(a.log, "a")
    srv.basic, srv.bearer, srv.oauth2, srv.sigv4 = a.basic, a.bearer, a.oauth2, a.sigv4
    srv.token_gen = 1
    srv.basic_file, srv.bearer_file, srv.file_seen = a.basic_file, a.bearer_file, {}
    srv.sts_webid_role, srv.sts_token_file, srv.sts_role = a.sts_webid_role, a.sts_token_file, a.sts_role
    srv.sts_base, srv.sts_region, srv.sts_life = a.sts_base, a.sts_region, a.sts_life
    srv.sigv4_sts, srv.issued, srv.sts_gen = a.sigv4_sts, {}, 0
    srv.sigv4_file = a.sigv4_file
    srv.sts_calls = 0
    srv.sts_fail = [int(x) for x in a.sts_fail.split(":")] if a.sts_fail else None
    if a.tls:
        f = a.tls.split(":")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f[0], f[1])
        if len(f) > 2:
            ctx.load_verify_locations(f[2])
            ctx.verify_mode = ssl.CERT_REQUIRED
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(f"listening on 127.0.0.1:{a.port}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
