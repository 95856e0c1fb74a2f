#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Compares a protobuf exposition (delimited io.prometheus.client.MetricFamily) with the text
0.0.4 exposition of the same snapshot, semantically: the python protobuf package decodes the
bytes with the message types of proto/metrics.proto (a descriptor set protoc-c wrote), expands
every Metric into samples the way Prometheus' protobuf parser does (_count, _sum, _bucket with le
and the +Inf bucket from sample_count when absent, quantile), and parses the text with its own
small parser. Every family (name, type, help) and every sample (name, labels, value,
timestamp) must match; le and quantile are compared as numbers (the protobuf format carries
them as doubles). Text 0.0.4 has no _created series, so created timestamps are only counted.
A Histogram with native fields (schema set) must be a whole integer native histogram: zero
threshold and count, positive spans whose lengths add up to the deltas, buckets that never go
negative, sample_count = zero count + the buckets, and each classic bucket's le an exact native
bucket boundary whose cumulative count is the zero count plus the native buckets up to it.

usage: protofmt_check.py DESCRIPTOR_SET BODY.pb BODY.txt [--require-type=histogram ...]
                         [--require-native=FAMILY ...]
Prints a one-line summary; exits 1 with the differences on a mismatch."""
import math
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

TYPES = {0: "counter", 1: "gauge", 2: "summary", 3: "untyped", 4: "histogram",
         5: "gaugehistogram"}


def load_family_class(desc_path):
    with open(desc_path, "rb") as f:
        fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    d = pool.FindMessageTypeByName("io.prometheus.client.MetricFamily")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(d)
    return message_factory.MessageFactory(pool).GetPrototype(d)


def read_delimited(data):
    pos = 0
    while pos < len(data):
        n, shift = 0, 0
        while True:
            if pos >= len(data) or shift > 63:
                raise ValueError("truncated length varint at byte %d" % pos)
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if pos + n > len(data):
            raise ValueError("message of %d bytes at %d runs past the end (%d)" % (n, pos, len(data)))
        yield data[pos:pos + n]
        pos += n


def key(name, labels, extra=None):
    items = [(k, v) for k, v in labels]
    if extra:
        items.append((extra[0], repr(float(extra[1]))))
    return (name, tuple(sorted(items)))


def native_buckets(name, h):
    """Checks the native fields of Histogram h; returns {bucket index: count}."""
    if not (h.HasField("zero_threshold") and h.HasField("zero_count")):
        raise ValueError("%s: schema without zero_threshold/zero_count" % name)
    if h.negative_span or h.negative_delta or h.negative_count or h.positive_count:
        raise ValueError("%s: negative or float buckets" % name)
    if not -4 <= h.schema <= 8:
        raise ValueError("%s: schema %d" % (name, h.schema))
    if sum(sp.length for sp in h.positive_span) != len(h.positive_delta):
        raise ValueError("%s: span lengths %r for %d deltas" % (
            name, [sp.length for sp in h.positive_span], len(h.positive_delta)))
    buckets, idx, cnt, d = {}, 0, 0, 0
    for n, sp in enumerate(h.positive_span):
        if n and sp.offset < 0:
            raise ValueError("%s: span %d goes backwards" % (name, n))
        idx += sp.offset
        for _ in range(sp.length):
            cnt += h.positive_delta[d]
            d += 1
            if cnt < 0:
                raise ValueError("%s: bucket %d count %d" % (name, idx, cnt))
            buckets[idx] = cnt
            idx += 1
    if h.zero_count + sum(buckets.values()) != h.sample_count:
        raise ValueError("%s: zero %d + buckets %d != sample_count %d" % (
            name, h.zero_count, sum(buckets.values()), h.sample_count))
    for b in h.bucket:
        le = b.upper_bound
        if math.isinf(le):
            continue
        # an exact native boundary 2^(i/2^schema): a power of two is one for any schema >= 0
        m, e = math.frexp(le)
        if m != 0.5 or h.schema < 0:
            raise ValueError("%s: classic le=%r is no exact native bucket boundary" % (name, le))
        top = (e - 1) << h.schema
        want = (h.zero_count if le >= h.zero_threshold else 0) + \
            sum(c for i, c in buckets.items() if i <= top)
        if b.cumulative_count != want:
            raise ValueError("%s: classic le=%r has %d, the native buckets say %d" % (
                name, le, b.cumulative_count, want))
    return buckets


NATIVE = {}  # family -> number of native histograms decoded


def decode_pb(desc, body):
    cls = load_family_class(desc)
    fams, samples, created = {}, {}, 0
    for raw in read_delimited(body):
        mf = cls()
        mf.ParseFromString(raw)
        if not mf.metric:
            raise ValueError("family %s without metrics" % mf.name)
        t = TYPES[mf.type]
        if mf.name in fams:
            # Only a stray (untyped, of a series that fits no Metric of its family) may share
            # its family's name; the family keeps its type.
            if t != "untyped":
                raise ValueError("family %s twice" % mf.name)
        else:
            fams[mf.name] = (t, mf.help)
        for m in mf.metric:
            labels = [(lp.name, lp.value) for lp in m.label]
            ts = m.timestamp_ms if m.HasField("timestamp_ms") else None

            def add(name, value, extra=None):
                k = key(name, labels, extra)
                if k in samples:
                    raise ValueError("sample %r twice" % (k,))
                samples[k] = (value, ts)

            if t == "counter":
                add(mf.name, m.counter.value)
                created += m.counter.HasField("created_timestamp")
            elif t == "gauge":
                add(mf.name, m.gauge.value)
            elif t == "untyped":
                add(mf.name, m.untyped.value)
            elif t == "summary":
                s = m.summary
                if s.HasField("sample_count"):
                    add(mf.name + "_count", float(s.sample_count))
                if s.HasField("sample_sum"):
                    add(mf.name + "_sum", s.sample_sum)
                for q in s.quantile:
                    add(mf.name, q.value, ("quantile", q.quantile))
                created += s.HasField("created_timestamp")
            elif t == "histogram":
                h = m.histogram
                if h.HasField("schema"):
                    native_buckets(mf.name, h)
                    NATIVE[mf.name] = NATIVE.get(mf.name, 0) + 1
                else:
                    for f in ("zero_threshold", "zero_count"):
                        if h.HasField(f):
                            raise ValueError("%s: native field %s set on a classic histogram" % (mf.name, f))
                    if h.positive_span or h.negative_span or h.positive_delta:
                        raise ValueError("%s: native buckets on a classic histogram" % mf.name)
                has_count = h.HasField("sample_count") or h.HasField("sample_count_float")
                count = h.sample_count_float if h.sample_count_float > 0 else float(h.sample_count)
                if has_count:
                    add(mf.name + "_count", count)
                if h.HasField("sample_sum"):
                    add(mf.name + "_sum", h.sample_sum)
                inf = False
                for b in h.bucket:
                    c = b.cumulative_count_float if b.cumulative_count_float > 0 else float(b.cumulative_count)
                    add(mf.name + "_bucket", c, ("le", b.upper_bound))
                    inf = math.isinf(b.upper_bound) and b.upper_bound > 0
                if not inf and has_count:
                    add(mf.name + "_bucket", count, ("le", math.inf))
                created += h.HasField("created_timestamp")
            else:
                raise ValueError("unexpected type %s" % t)
    return fams, samples, created


def unescape(s, quote):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            out.append({"\\": "\\", "n": "\n", '"': '"'}.get(n, "\\" + n) if (n != '"' or quote) else "\\" + n)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_value(v):
    return float(v.replace("Inf", "inf")) if "Inf" in v else float(v)


def parse_text(text):
    fams, helps, samples = {}, {}, {}
    cur_type, cur_name = None, None
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        if line.startswith("# HELP "):
            name, _, h = line[7:].partition(" ")
            helps[name] = unescape(h, False)
            continue
        if line.startswith("# TYPE "):
            name, _, t = line[7:].partition(" ")
            fams[name] = t
            cur_name, cur_type = name, t
            continue
        if line.startswith("#"):
            continue
        i = 0
        while i < len(line) and line[i] not in "{ ":
            i += 1
        name = line[:i]
        labels = []
        if i < len(line) and line[i] == "{":
            i += 1
            while line[i] != "}":
                eq = line.index("=", i)
                lname = line[i:eq]
                if line[eq + 1] != '"':
                    raise ValueError("line %d: bad label" % lineno)
                j = eq + 2
                buf = []
                while line[j] != '"':
                    if line[j] == "\\":
                        buf.append(line[j:j + 2])
                        j += 2
                    else:
                        buf.append(line[j])
                        j += 1
                labels.append((lname, unescape("".join(buf), True)))
                i = j + 1
                if line[i] == ",":
                    i += 1
            i += 1
        rest = line[i:].split()
        value = parse_value(rest[0])
        ts = int(rest[1]) if len(rest) > 1 else None
        extra = None
        fam_of = cur_name if cur_name and name.startswith(cur_name) else None
        if fam_of and cur_type == "histogram" and name == cur_name + "_bucket":
            le = [v for k, v in labels if k == "le"]
            if le:
                labels = [(k, v) for k, v in labels if k != "le"]
                extra = ("le", parse_value(le[0]))
        if fam_of and cur_type == "summary" and name == cur_name:
            q = [v for k, v in labels if k == "quantile"]
            if q:
                labels = [(k, v) for k, v in labels if k != "quantile"]
                extra = ("quantile", parse_value(q[0]))
        k = key(name, labels, extra)
        if k in samples:
            raise ValueError("line %d: sample %r twice" % (lineno, k))
        samples[k] = (value, ts)
    return fams, helps, samples


def same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def main():
    desc, pb, txt = sys.argv[1:4]
    require = [a.split("=", 1)[1] for a in sys.argv[4:] if a.startswith("--require-type=")]
    require_native = [a.split("=", 1)[1] for a in sys.argv[4:] if a.startswith("--require-native=")]
    with open(pb, "rb") as f:
        pfams, psamples, created = decode_pb(desc, f.read())
    with open(txt, encoding="utf-8") as f:
        tfams, thelps, tsamples = parse_text(f.read())
    errs = []
    for name, t in tfams.items():
        if name not in pfams:
            errs.append("family %s (%s) missing from the protobuf body" % (name, t))
            continue
        pt, ph = pfams[name]
        if pt != t:
            errs.append("family %s: type %s in text, %s in protobuf" % (name, t, pt))
        if ph != thelps.get(name, ""):
            errs.append("family %s: help %r in text, %r in protobuf" % (name, thelps.get(name, ""), ph))
    sample_names = {k[0] for k in tsamples}
    for name, (pt, _) in pfams.items():
        if name not in tfams and not (pt == "untyped" and name in sample_names):
            errs.append("family %s only in the protobuf body" % name)
    for k, (v, ts) in tsamples.items():
        if k not in psamples:
            errs.append("sample %r missing from the protobuf body" % (k,))
            continue
        pv, pts = psamples[k]
        if not same(v, pv) or ts != pts:
            errs.append("sample %r: text %r@%r, protobuf %r@%r" % (k, v, ts, pv, pts))
    for k in psamples:
        if k not in tsamples:
            errs.append("sample %r only in the protobuf body" % (k,))
    for t in require:
        if t not in tfams.values():
            errs.append("no %s family in the snapshot: the comparison would prove nothing" % t)
    for f in require_native:
        if not NATIVE.get(f):
            errs.append("no native histogram of %s in the protobuf body" % f)
    if errs:
        for e in errs[:50]:
            print(e, file=sys.stderr)
        print("%d difference(s)" % len(errs), file=sys.stderr)
        sys.exit(1)
    print("%d families, %d samples identical in protobuf and text (%d created timestamps, %d native"
          " histograms, %d bytes vs %d)" % (len(tfams), len(tsamples), created, sum(NATIVE.values()),
                                           len(open(pb, "rb").read()), len(open(txt, "rb").read())))


if __name__ == "__main__":
    main()
