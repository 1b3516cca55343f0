#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_conn (tests/fuzz/corpus/conn/).

Every seed is fuzz_conn's 4-byte header (how the client splits, reads and
ends; see fuzz_conn.c) followed by the bytes the client sends: each request
of the http_parse corpus, sent whole, and hand-written sessions for the
routes of the harness's config (/ static, /c static with its cache,
/echo, /teapot, /slow: echo on the helper pool): pipelining,
chunked bodies, HEAD, Expect: 100-continue, ranges, long methods and
targets, each also sent in small pieces.

Run from anywhere; rewrites the folder. Seeds are named by the SHA-1 of
their content, except the named reproducers (crash-*) and the HTTP/2
sessions (h2c-*, h2-tls-*: the preface is the harness's), kept by name.
Usage: tests/fuzz/conn_seeds.py
"""
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "conn")
PARSE = os.path.join(HERE, "corpus", "http_parse")


def header(end=0, wclass=0, rclass=0, peer=0, seed=0):
    """end: 0 half-close, 2 stay open, 3 close; size classes 0 (all) .. 7."""
    return bytes([end | wclass << 2 | rclass << 5, peer, seed >> 8 & 255, seed & 255])


def req(method="GET", target="/", headers=(("Host", "x"),), body=b"", version="1.1"):
    head = "%s %s HTTP/%s\r\n" % (method, target, version)
    head += "".join("%s: %s\r\n" % h for h in headers)
    return head.encode("latin-1") + b"\r\n" + body


def chunked(*pieces, trailer=b""):
    out = b""
    for p in pieces:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


SESSIONS = {
    "get-index": req(),
    "get-big": req(target="/big.txt"),
    "get-range": req(target="/big.txt", headers=(("Host", "x"), ("Range", "bytes=0-9,100-199,-5"))),
    "get-gzip": req(target="/a.css", headers=(("Host", "x"), ("Accept-Encoding", "gzip, br;q=0"))),
    "get-listing": req(target="/sub/"),
    "get-dir-redirect": req(target="/sub"),
    "get-dotfile": req(target="/.secret"),
    "get-links": req(target="/link_in") + req(target="/link_out"),
    "get-cond": req(target="/index.html", headers=(("Host", "x"), ("If-Modified-Since",
                                                                     "Sun, 06 Nov 1994 08:49:37 GMT"),
                                                    ("If-None-Match", '"x", W/"y"'))),
    "head-big": req("HEAD", "/big.txt"),
    "head-echo": req("HEAD", "/echo"),
    "echo-json": req(target="/echo/a%20b?x=1&y", headers=(("Host", "x"), ("Accept", "application/json"),
                                                        ("User-Agent", "fz\x01\"\\"), ("Referer", "r\xff"))),
    "echo-post": req("POST", "/echo", headers=(("Host", "x"), ("Content-Length", "5")), body=b"hello"),
    "echo-chunked": req("POST", "/echo", headers=(("Host", "x"), ("Transfer-Encoding", "chunked")),
                        body=chunked(b"abc", b"x" * 300, trailer=b"X-T: 1\r\n")),
    "echo-continue": req("PUT", "/echo", headers=(("Host", "x"), ("Expect", "100-continue"),
                                                 ("Content-Length", "3")), body=b"abc"),
    "teapot": req(target="/teapot"),
    "co": req(target="/co/x") + req("POST", "/co/y", body=b"hello") + req("HEAD", "/co") +
          req("POST", "/co/z", headers=(("Host", "x"), ("Transfer-Encoding", "chunked")), body=b"3\r\nabc\r\n0\r\n\r\n"),
    "pipeline": req() + req("HEAD", "/big.txt") + req(target="/echo") +
                req("POST", "/echo", headers=(("Host", "x"), ("Content-Length", "2")), body=b"hi") +
                req(target="/nope", headers=(("Host", "x"), ("Connection", "close"))),
    "pipeline-chunked": req("POST", "/echo", headers=(("Host", "x"), ("Transfer-Encoding", "chunked")),
                            body=chunked(b"one")) + req(target="/echo"),
    "http10": req(version="1.0", headers=()) + req(version="1.0", headers=(("Connection", "keep-alive"),)),
    "options-star": req("OPTIONS", "*"),
    "too-big-body": req("POST", "/echo", headers=(("Host", "x"), ("Content-Length", "999999"))),
    "bad-then-more": b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n" + req(),
    "partial-head": b"GET /echo HTTP/1.1\r\nHost: x\r\n",
    "partial-body": req("POST", "/echo", headers=(("Host", "x"), ("Content-Length", "100")), body=b"abc"),
    "long-method": req("A" * 40, "/echo"),
    "long-method-2100": req("A" * 2100, "/"),
    "long-target-quotes": req(target="/" + '"' * 8000),
    "long-header": req(headers=(("Host", "x"), ("X-Long", "v" * 11000))),
    "many-requests": req() * 10,
    "slow": req(target="/slow") + req("POST", "/slow/x", headers=(("Host", "x"), ("Content-Length", "3")),
                                      body=b"abc") + req("HEAD", "/slow") + req(target="/echo"),
    "cached": req(target="/c/big.txt") + req(target="/c/index.html") + req("HEAD", "/c/a.css") +
              req(target="/c/big.txt", headers=(("Host", "x"), ("Range", "bytes=5-"))),
    # ABI 1.3 routes (see make_config in fuzz_conn.c)
    "guard-refuse": req(target="/g") + req(target="/g", headers=(("Host", "x"), ("X-Token", "t"))),
    "guard-continue": req("PUT", "/g", headers=(("Host", "x"), ("Expect", "100-continue"),
                                               ("Content-Length", "3")), body=b"abc") +
                      req("PUT", "/g", headers=(("Host", "x"), ("X-Token", "t"), ("Expect", "100-continue"),
                                                ("Content-Length", "3")), body=b"abc"),
    "guard-async": req("POST", "/ga", headers=(("Host", "x"), ("X-Token", "t"), ("Content-Length", "3000")),
                       body=b"z" * 3000) + req(target="/ga") + req("HEAD", "/ga"),
    "guard-async-pipeline": req(target="/ga") * 3 + req(target="/echo"),
    "deny": req(target="/deny") + req("POST", "/deny", headers=(("Host", "x"), ("Content-Length", "5")),
                                      body=b"hello") + req(target="/echo"),
    "sink": req("POST", "/sink", headers=(("Host", "x"), ("Content-Length", "5000")), body=b"s" * 5000) +
            req("POST", "/sink?now", headers=(("Host", "x"), ("Content-Length", "4")), body=b"abcd") +
            req(target="/sink"),
    "sink-chunked": req("POST", "/sink", headers=(("Host", "x"), ("Transfer-Encoding", "chunked")),
                        body=chunked(b"a" * 700, b"b" * 1500, trailer=b"X-T: 1\r\n")) +
                    req("POST", "/sink?fail", headers=(("Host", "x"), ("Content-Length", "2")), body=b"xy"),
    "sink-partial": req("POST", "/sink", headers=(("Host", "x"), ("Content-Length", "9000")), body=b"p" * 2500),
    "later": req(target="/later") + req(target="/later?now") + req(target="/later?ms=3&tag=a&rc=declined") +
             req(target="/later?ms=1&rc=error") + req("HEAD", "/later"),
    "later-pipeline": req(target="/later?ms=4") + req(target="/echo") + req(target="/later?ms=1"),
    "sse": req(target="/sse") + req(target="/sse?events=3") + req("HEAD", "/sse"),
    "sse-http10": req(target="/sse", version="1.0", headers=()),
    "filter": req(target="/g/x", headers=(("Host", "x"), ("X-Token", "t"))) +
              req("HEAD", "/g", headers=(("Host", "x"), ("X-Token", "t"))) +
              req(target="/up/index.html") + req("HEAD", "/up/big.txt") +
              req(target="/up/big.txt", headers=(("Host", "x"), ("Range", "bytes=3-9"))) +
              req(target="/up/sub/") + req(target="/up/index.html", version="1.0", headers=()),
    "spill": req("POST", "/spill", headers=(("Host", "x"), ("Content-Length", "3000")), body=b"q" * 3000) +
             req("POST", "/spill", headers=(("Host", "x"), ("Transfer-Encoding", "chunked")),
                 body=chunked(b"c" * 900, b"d" * 900)) +
             req("POST", "/spill", headers=(("Host", "x"), ("Content-Length", "40000"))),
    "probe": req(target="/p/info?hints", headers=(("Host", "x"), ("X-Token", "alice"))) +
             req(target="/p/notes", headers=(("Host", "x"), ("X-Token", "bob"))) +
             req("POST", "/p/body", headers=(("Host", "x"), ("X-Token", "t"), ("Content-Length", "2000")),
                 body=b"s" * 2000) +
             req(target="/p/info", version="1.0", headers=(("X-Token", "t"),)) + req(target="/p/notes"),
}

# The access-log overflow of issue 11: a 2100-byte method and an 8000-byte
# target of '"' (each escaped to 4 bytes in the log line).
CRASH = {
    "crash-access-log-long-method-target":
        header() + b"A" * 2100 + b" /" + b'"' * 8000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
}


def frame(ftype, flags, sid, payload=b""):
    """An HTTP/2 frame (RFC 9113 section 4.1)."""
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


def fields(*pairs):
    """A header block of literal fields, not indexed (RFC 7541 6.2.2),
    for names and values under 127 bytes."""
    out = b""
    for n, v in pairs:
        out += b"\x00" + bytes([len(n)]) + n.encode() + bytes([len(v)]) + v.encode()
    return out


def h2_get(sid, path, end=True, extra=()):
    block = fields((":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "x"), *extra)
    return frame(1, 0x4 | (0x1 if end else 0), sid, block)


SETTINGS = frame(4, 0, 0)
# HTTP/2 sessions, after the preface the harness sends (peer byte: bit 2
# alone, h2c; 0x1c: TLS with ALPN h2)
H2_SESSIONS = {
    "get": SETTINGS + h2_get(1, "/echo?a=1"),
    # an empty first cookie crumb: appended to a buffer that has no memory
    # yet (NULL + 0, which UBSan reports)
    "empty-cookie": SETTINGS + h2_get(1, "/echo", extra=(("cookie", ""), ("cookie", "a=1"))),
    "probe": SETTINGS + h2_get(1, "/p/info?hints", extra=(("x-token", "a"),)) +
             h2_get(3, "/p/notes", extra=(("x-token", "b"),)) + h2_get(5, "/p/notes"),
    "streams": SETTINGS + h2_get(1, "/") + h2_get(3, "/sse") + h2_get(5, "/later/x?ms=1") + h2_get(7, "/c/"),
    "post": SETTINGS + frame(1, 0x4, 1, fields((":method", "POST"), (":path", "/echo"), (":scheme", "http"),
                                              (":authority", "x"), ("content-length", "10"))) +
            frame(0, 0, 1, b"hello") + frame(0, 1, 1, b"world"),
    "sink": SETTINGS + frame(1, 0x4, 1, fields((":method", "POST"), (":path", "/sink"), (":scheme", "http"),
                                              (":authority", "x"))) +
            frame(0, 0, 1, b"a" * 3000) + frame(0, 0, 1, b"b" * 3000) + frame(0, 1, 1, b"c"),
    "trailers": SETTINGS + frame(1, 0x4, 1, fields((":method", "POST"), (":path", "/spill"), (":scheme", "http"),
                                                  (":authority", "x"))) +
                frame(0, 0, 1, b"x" * 2000) + frame(1, 0x5, 1, fields(("x-t", "1"))),
    "reset": SETTINGS + h2_get(1, "/sse") + frame(3, 0, 1, b"\0\0\0\x08") + h2_get(3, "/echo"),
    "control": SETTINGS + frame(6, 0, 0, b"12345678") + frame(8, 0, 0, b"\0\0\x10\0") +
               frame(2, 0, 3, b"\0\0\0\x01\x10") + h2_get(1, "/echo") + frame(7, 0, 0, b"\0\0\0\x01\0\0\0\0"),
    "continuation": SETTINGS + frame(1, 0, 1, fields((":method", "GET"), (":path", "/echo"))) +
                    frame(9, 0, 1, fields((":scheme", "http"))) + frame(9, 0x4, 1, fields((":authority", "x"))),
    "zero-window": frame(4, 0, 0, b"\0\x04\0\0\0\0") + h2_get(1, "/") + frame(8, 0, 1, b"\0\0\x01\0"),
    "head-big": SETTINGS + frame(1, 0x5, 1, fields((":method", "HEAD"), (":path", "/"), (":scheme", "http"),
                                                  (":authority", "x"), ("x-b", "v" * 120))),
}


# Sessions on the proxy_protocol listener (peer byte bit 3): a v1 and a v2
# header before requests, a LOCAL one, one cut short, none at all.
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PP_SESSIONS = {
    "v1": b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n" + req(target="/echo") + req(target="/"),
    "v1-ipv6": b"PROXY TCP6 2001:db8::7 2001:db8::1 1 80\r\n" + req(target="/echo?x"),
    "v1-unknown": b"PROXY UNKNOWN\r\n" + req(target="/echo"),
    "v2": V2_SIG + b"\x21\x11\x00\x0c" + bytes([203, 0, 113, 7, 192, 0, 2, 1, 0xdc, 4, 1, 187]) +
          req(target="/echo"),
    "v2-local": V2_SIG + b"\x20\x00\x00\x00" + req(target="/echo"),
    "cut": b"PROXY TCP4 203.0.1",
    "none": req(target="/echo"),
}

# Virtual hosts (the harness's vh.test and *.vh.test routes): names in every
# spelling, absolute-form targets that override Host, near misses.
SESSIONS.update({
    "vhost-exact": req(target="/x", headers=(("Host", "VH.Test.:8080"),)),
    "vhost-wild": req(target="/api/1", headers=(("Host", "a.b.vh.test"),)) +
                  req(target="/other", headers=(("Host", "a.vh.test"),)),
    "vhost-absolute": req(target="http://vh.test:1/api", headers=(("Host", "x"),)) +
                      req(target="https://x.vh.test/api?q", headers=(("Host", "vh.test"),)),
    "vhost-odd": req(target="/", headers=(("Host", "[::1]:80"),)) +
                 req(target="/", headers=(("Host", "*.vh.test"),)) +
                 req(target="/", headers=(("Host", ".vh.test."),)) +
                 req(target="/", headers=(("Host", "vh.test.."),)),
    "vhost-http10": req(target="/", headers=(), version="1.0"),
})


# Headers of trusted proxies (the harness trusts 127.0.0.1 and unix peers:
# peer byte 0 or 1; ::1, peer 2, is not): Forwarded walks, X-Request-Id,
# and X-Forwarded-For, which the harness's real_ip_header does not read.
PROXIED = [
    ("Forwarded", "for=203.0.113.7;proto=https, for=127.0.0.1"),
    ("Forwarded", 'for="[2001:db8::5]:4711";by=x, for=unknown, for=127.0.0.1'),
    ("Forwarded", 'for="unclosed, for=_hidden;host="a,b"'),
    ("Forwarded", 'for="[::1]:x"'),
    ("Forwarded", ",".join(["for=127.0.0.1"] * 300)),
    ("X-Forwarded-For", "203.0.113.7, 127.0.0.1"),
    ("X-Request-Id", "trace-42"),
    ("X-Request-Id", "x" * 201),
]


def proxied_sessions():
    out = []
    for i, h in enumerate(PROXIED):
        out.append(req(target="/echo?p%d" % i, headers=(("Host", "x"), h)))
    # several fields, joined, and a request id with them
    out.append(req(target="/echo", headers=(("Host", "x"), ("Forwarded", "for=198.51.100.1"),
                                           ("X-Request-Id", "a"), ("Forwarded", "for=127.0.0.1"))))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    seeds = set()
    for f in sorted(os.listdir(PARSE)):
        with open(os.path.join(PARSE, f), "rb") as fh:
            seeds.add(header() + fh.read())
    for i, (name, data) in enumerate(sorted(SESSIONS.items())):
        seeds.add(header() + data)
        seeds.add(header(end=2) + data)                          # stay open: timeouts
        seeds.add(header(wclass=1 + i % 4, rclass=1 + i % 5, peer=1 + i % 2, seed=i) + data)  # in pieces
        seeds.add(header(end=3, wclass=3, seed=i) + data)        # client gone early
    for i, data in enumerate(proxied_sessions()):
        for peer in (0, 1, 2):
            seeds.add(header(peer=peer, wclass=i % 3, seed=i) + data)
    for data in seeds:
        with open(os.path.join(OUT, hashlib.sha1(data).hexdigest()), "wb") as fh:
            fh.write(data)
    for name, data in sorted(H2_SESSIONS.items()):
        for tag, peer in (("h2c", 0x04), ("h2-tls", 0x1c)):
            with open(os.path.join(OUT, "%s-%s" % (tag, name)), "wb") as fh:
                fh.write(header(peer=peer) + data)
    for name, data in sorted(PP_SESSIONS.items()):
        for tag, peer in (("pp", 0x08), ("pp-pieces", 0x08 | 1 << 0)):
            wclass = 1 if tag == "pp-pieces" else 0
            with open(os.path.join(OUT, "%s-%s" % (tag, name)), "wb") as fh:
                fh.write(header(wclass=wclass, peer=peer, seed=len(name)) + data)
    for name, data in CRASH.items():
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)
    print("%d seeds in %s" % (len(seeds) + len(CRASH), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
