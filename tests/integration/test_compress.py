#!/usr/bin/env python3
"""The compress output filter (plugins/compress) end to end, over HTTP/1.1,
HTTP/1.0 and HTTP/2 (h2c): stacked on
static, echo and the sse fixture, decoded with Python's zlib, brotli and
zstandard (python3-brotli, python3-zstandard), byte for byte.

- the coding each Accept-Encoding gets (q-values, "*", identity, the
  server's order), and a route with its own order and levels;
- the fields: Content-Encoding, Vary (also on answers not compressed for
  this client), no Content-Length, a weakened ETag, no Accept-Ranges;
- what is never compressed: HEAD, ranges, an already encoded body, small
  bodies, unlisted types, Cache-Control: no-transform;
- a stream of events decodes event by event while the stream is open;
- keys refused with the line and the reason.
"""

import gzip
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import zlib

import harness
from harness import Server, parse_responses, recv_until_closed, server_ini

try:
    import brotli
except ImportError:  # .ci/deps installs python3-brotli
    brotli = None
try:
    import zstandard
except ImportError:  # .ci/deps installs python3-zstandard
    zstandard = None

SSE = os.path.join(harness.FIXTURE_DIR, "sse.so")
UPPER = os.path.join(harness.FIXTURE_DIR, "upper.so")  # tests/plugins/stage.c

# 64 KiB of text that compresses, but not to nothing
BIG = b"".join(b"line %05d: the quick brown fox jumps over the lazy dog %d\n" % (i, i * 7919 % 1000)
               for i in range(1100))
SMALL = b"short and small\n"
FILES = {
    "www/big.txt": BIG,
    "www/small.txt": SMALL,
    "www/app.js": BIG.replace(b"line", b"// js"),
    "www/data.json": b"[" + b",".join(b'{"n": %d, "name": "item %d"}' % (i, i) for i in range(2000)) + b"]",
    "www/pic.png": b"\x89PNG\r\n\x1a\n" + bytes(i % 251 for i in range(4000)),
    "www/pre.txt": BIG,
    "www/pre.txt.gz": gzip.compress(BIG, 9),
}


def decode(coding, data):
    """The identity body of data sent with Content-Encoding coding."""
    if coding == "gzip":
        return gzip.decompress(data)
    if coding == "br":
        return brotli.decompress(data)
    if coding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    raise AssertionError("unexpected coding %r" % coding)


def stream_decoder(coding):
    """An object with .feed(bytes) -> decoded bytes so far, for a stream."""
    if coding == "gzip":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return d.decompress
    if coding == "br":
        return brotli.Decompressor().process
    d = zstandard.ZstdDecompressor().decompressobj()
    return d.decompress


def routes(extra="", st_extra=""):
    return ("[route /st]\nplugin = static, compress\nroot = www\nprecompressed = on\n" + st_extra + "\n"
            "[route /pl]\nplugin = static, compress\nroot = www\n\n"
            "[route /nt]\nplugin = static, compress\nroot = www\ncache_control = no-transform\n\n"
            "[route /echo]\nplugin = echo, compress\n\n"
            "[route /p206]\nplugin = echo, compress\nstatus = 206\ncompress.min_length = 0\n\n"
            "[route /own]\nplugin = static, compress\nroot = www\ncompress.encodings = gzip, br\n"
            "compress.gzip_level = 9\ncompress.brotli_level = 11\ncompress.min_length = 0\n"
            "compress.types = text/plain\n\n"
            "[route /up]\nplugin = static, %s, compress\nroot = www\n\n" % UPPER +
            "[route /ev]\nplugin = %s, compress\nevents = 3\ninterval = 500ms\n\n" % SSE + extra)


class CompressTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if brotli is None or zstandard is None:
            raise unittest.SkipTest("python3-brotli and python3-zstandard are needed (.ci/deps)")
        cls.srv = Server(server_ini(routes=routes()), files=FILES)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def get(self, path, ae=None, method="GET", headers=None, body=None):
        h = dict(headers or {})
        if ae is not None:
            h["Accept-Encoding"] = ae
        return self.srv.get(path, headers=h, method=method, body=body)

    def assert_compressed(self, r, coding, identity):
        self.assertEqual(r.status, 200, r.body[:200])
        self.assertEqual(r.header("Content-Encoding"), coding)
        self.assertIsNone(r.header("Content-Length"))
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertIn("accept-encoding", r.header("Vary", "").lower())
        self.assertLess(len(r.body), len(identity))
        self.assertEqual(decode(coding, r.body), identity)

    def assert_identity(self, r, body, vary=True):
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.header("Content-Length"), str(len(body)))
        self.assertEqual(r.body, body)
        if vary:
            self.assertIn("accept-encoding", r.header("Vary", "").lower())
        else:
            self.assertIsNone(r.header("Vary"))

    # --- what each coding decodes to ---------------------------------------

    def test_static_files_decode_exactly(self):
        for coding in ("gzip", "br", "zstd"):
            for name in ("big.txt", "app.js", "data.json"):
                with self.subTest(coding=coding, name=name):
                    self.assert_compressed(self.get("/st/" + name, coding), coding, FILES["www/" + name])

    def test_echo_bodies_decode_exactly(self):
        body = b"x=" + BIG[:20000]
        for coding in ("gzip", "br", "zstd"):
            with self.subTest(coding=coding):
                r = self.get("/echo/a", coding, method="POST", body=body)
                self.assertEqual(r.header("Content-Encoding"), coding)
                plain = decode(coding, r.body)
                self.assertIn(body, plain)
                self.assertIn(b"Accept-Encoding: " + coding.encode(), plain)

    def test_http10_close_delimited(self):
        data = self.srv.raw(b"GET /st/big.txt HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
        r = parse_responses(data)[0]
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertIsNone(r.header("Content-Length"))
        self.assertIsNone(r.header("Transfer-Encoding"))
        self.assertEqual(gzip.decompress(r.body), BIG)

    # --- which coding ------------------------------------------------------

    CHOICES = [
        ("gzip", "gzip"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("gzip, deflate, br, zstd", "zstd"),  # a current browser: the server's order
        ("gzip, deflate, br", "br"),
        ("gzip, deflate", "gzip"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("br;q=0.9, zstd;q=0.9, gzip", "gzip"),
        ("br;q=0.9, zstd;q=0.9", "zstd"),
        ("zstd;q=0, gzip", "gzip"),
        ("zstd;q=0, br;q=0, *", "gzip"),
        ("*", "zstd"),
        ("*;q=0.5, gzip", "gzip"),
        ("gzip;q=0.5", "gzip"),  # identity unnamed ranks below gzip
        ("gzip;q=0.5, identity", None),
        ("identity", None),
        ("identity, *;q=0", None),
        ("*;q=0", None),
        ("deflate", None),
        ("gzip;q=0", None),
        ("gzip;q=2", None),  # not a qvalue: counts as 0
        ("zstd;q=0, br;q=0, gzip;q=0", None),
        ("", None),
        (None, None),  # no header at all
    ]

    def test_choice_table(self):
        for ae, expected in self.CHOICES:
            with self.subTest(accept_encoding=ae):
                r = self.get("/st/big.txt", ae)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("Content-Encoding"), expected)
                if expected is None:
                    self.assert_identity(r, BIG)
                else:
                    self.assertEqual(decode(expected, r.body), BIG)

    def test_route_order_and_levels(self):
        self.assertEqual(self.get("/own/big.txt", "zstd, br, gzip").header("Content-Encoding"), "gzip")
        self.assertEqual(self.get("/own/big.txt", "br").header("Content-Encoding"), "br")
        self.assertIsNone(self.get("/own/big.txt", "zstd").header("Content-Encoding"))
        # min_length = 0: even a small body; types = text/plain only
        r = self.get("/own/small.txt", "gzip")
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(r.body), SMALL)
        r = self.get("/own/data.json", "gzip")
        self.assertIsNone(r.header("Content-Encoding"))
        # the levels reach the codecs: brotli 11 writes other bytes than the
        # default 4 (not always fewer: 2,648 against 2,499 for BIG)
        best = self.get("/own/big.txt", "br").body
        self.assertNotEqual(best, self.get("/st/big.txt", "br").body)
        self.assertEqual(brotli.decompress(best), BIG)

    # --- the fields ---------------------------------------------------------

    def test_fields_of_a_compressed_answer(self):
        plain = self.get("/st/big.txt", "identity")
        r = self.get("/st/big.txt", "gzip")
        self.assertEqual(plain.header("Accept-Ranges"), "bytes")
        self.assertIsNone(r.header("Accept-Ranges"))
        etag = plain.header("ETag")
        self.assertTrue(etag.startswith('"'), etag)
        self.assertEqual(r.header("ETag"), "W/" + etag)
        # Vary: one Accept-Encoding, whoever added it
        self.assertEqual([v.lower() for v in r.header_all("Vary")], ["accept-encoding"])
        self.assertEqual([v.lower() for v in plain.header_all("Vary")], ["accept-encoding"])
        # without static's own Vary (no precompressed): compress adds it,
        # for the identity answer as well
        for ae in ("gzip", "identity", None):
            r = self.get("/pl/big.txt", ae)
            self.assertEqual([v.lower() for v in r.header_all("Vary")], ["accept-encoding"], ae)

    def test_weak_etag_revalidates(self):
        r = self.get("/st/big.txt", "gzip")
        r2 = self.get("/st/big.txt", "gzip", headers={"If-None-Match": r.header("ETag")})
        self.assertEqual(r2.status, 304)

    # --- never compressed ----------------------------------------------------

    def test_head_is_not_compressed(self):
        r = self.get("/st/big.txt", "gzip", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.header("Content-Length"), str(len(BIG)))
        self.assertIn("accept-encoding", r.header("Vary", "").lower())

    def test_range_is_not_compressed(self):
        r = self.get("/st/big.txt", "gzip, br, zstd", headers={"Range": "bytes=100-199"})
        self.assertEqual(r.status, 206)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.body, BIG[100:200])

    def test_206_without_content_range_is_not_compressed(self):
        # api->status: a part without Content-Range (as multipart/byteranges
        # has none) is still a part
        r = self.get("/p206/x", "gzip")
        self.assertEqual(r.status, 206)
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertIn(b"Accept-Encoding: gzip", r.body)

    def test_already_encoded_is_not_compressed_again(self):
        r = self.get("/st/pre.txt", "gzip")
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(r.header("Content-Length"), str(len(FILES["www/pre.txt.gz"])))
        self.assertEqual(r.body, FILES["www/pre.txt.gz"])

    def test_small_body_is_not_compressed(self):
        # /pl: static without precompressed, which would add its own Vary
        self.assert_identity(self.get("/pl/small.txt", "gzip, br, zstd"), SMALL, vary=False)
        self.assertEqual(self.get("/pl/big.txt", "gzip").header("Content-Encoding"), "gzip")

    def test_unlisted_type_is_not_compressed(self):
        self.assert_identity(self.get("/pl/pic.png", "gzip, br, zstd"), FILES["www/pic.png"], vary=False)

    def test_no_transform_is_not_compressed(self):
        r = self.get("/nt/big.txt", "gzip, br, zstd")
        self.assertIn("no-transform", r.header("Cache-Control"))
        self.assert_identity(r, BIG, vary=False)

    def test_after_another_filter(self):
        # upper transforms the body first: its length is no longer known
        # (api->resp_length -1), so even a small file is compressed, and
        # zstd writes no length in its frame
        for coding in ("gzip", "br", "zstd"):
            with self.subTest(coding=coding):
                r = self.get("/up/small.txt", coding)
                self.assertEqual(r.header("Content-Encoding"), coding)
                self.assertEqual(decode(coding, r.body), SMALL.upper())
                r = self.get("/up/big.txt", coding)
                self.assertEqual(decode(coding, r.body), BIG.upper())

    def test_errors_of_the_core_pass(self):
        r = self.get("/st/missing.txt", "gzip")
        self.assertEqual(r.status, 404)
        self.assertIsNone(r.header("Content-Encoding"))

    # --- streams ---------------------------------------------------------------

    def test_events_decode_one_by_one(self):
        for coding in ("gzip", "br", "zstd"):
            with self.subTest(coding=coding):
                self.check_stream(coding)

    def check_stream(self, coding):
        s = self.srv.connect(timeout=20)
        try:
            s.sendall(b"GET /ev/ HTTP/1.1\r\nHost: x\r\nAccept-Encoding: %s\r\nConnection: close\r\n\r\n"
                      % coding.encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                b = s.recv(65536)
                self.assertTrue(b, buf)
                buf += b
            head, _, buf = buf.partition(b"\r\n\r\n")
            head += b"\r\n"
            self.assertIn(b"\r\nContent-Encoding: " + coding.encode() + b"\r\n", head)
            self.assertIn(b"\r\nTransfer-Encoding: chunked\r\n", head)
            feed = stream_decoder(coding)
            plain, ended = b"", False
            # the first event, decoded from what came before the stream's end
            while b"data: - 0\n\n" not in plain:
                chunk, buf, ended = self.next_chunk(s, buf)
                self.assertFalse(ended, "stream ended before the first event decoded: %r" % plain)
                plain += feed(chunk)
            self.assertNotIn(b"data: - 2", plain)
            while not ended:
                chunk, buf, ended = self.next_chunk(s, buf)
                if chunk:  # zstandard refuses input after the frame's end
                    plain += feed(chunk)
            self.assertEqual(plain, b"".join(b"data: - %d\n\n" % i for i in range(3)))
        finally:
            s.close()

    @staticmethod
    def next_chunk(s, buf):
        """One chunk of a chunked body: (data, rest of buf, last chunk)."""
        deadline = time.time() + 20
        while True:
            le = buf.find(b"\r\n")
            if le >= 0:
                size = int(buf[:le].split(b";")[0], 16)
                if size == 0:
                    return b"", b"", True
                if len(buf) >= le + 2 + size + 2:
                    return buf[le + 2:le + 2 + size], buf[le + 2 + size + 2:], False
            if time.time() > deadline:
                raise AssertionError("no whole chunk in %r" % buf[:200])
            s.settimeout(max(0.1, deadline - time.time()))
            b = s.recv(65536)
            if not b:
                raise AssertionError("closed inside a chunk: %r" % buf[:200])
            buf += b


class CompressH2Test(unittest.TestCase):
    """The same filter under HTTP/2 (h2c prior knowledge): the framing
    changes, the coding and the flushes do not."""

    @classmethod
    def setUpClass(cls):
        if brotli is None or zstandard is None:
            raise unittest.SkipTest("python3-brotli and python3-zstandard are needed (.ci/deps)")
        global h2util
        import h2util
        cls.srv = Server(server_ini(routes=routes(), listen=("127.0.0.1:0", "[::1]:0 h2c")), files=FILES)
        cls.port = next(int(l.rsplit(":", 1)[1]) for l in cls.srv.log_lines if "listening on [::1]:" in l)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def client(self):
        c = h2util.H2Client(None, sock=socket.create_connection(("::1", self.port), timeout=harness.IO_TIMEOUT))
        self.addCleanup(c.close)
        return c

    def test_file(self):
        c = self.client()
        for coding in ("gzip", "br", "zstd"):
            with self.subTest(coding=coding):
                st = c.get("/st/big.txt", headers=[("accept-encoding", coding)])
                self.assertEqual(st.status, 200)
                self.assertEqual(st.headers.get("content-encoding"), coding)
                self.assertNotIn("content-length", st.headers)
                self.assertEqual(decode(coding, bytes(st.data)), BIG)

    def test_events_decode_before_the_end(self):
        c = self.client()
        sid = c.request("/ev/", headers=[("accept-encoding", "gzip")])
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        got = {"fed": 0, "plain": b""}

        def first_event():
            data = c.streams[sid].data
            got["plain"] += d.decompress(bytes(data[got["fed"]:]))
            got["fed"] = len(data)
            return b"data: - 0\n\n" in got["plain"]

        c.wait(first_event, timeout=20)
        self.assertFalse(c.streams[sid].ended)
        st = c.response(sid, timeout=20)
        got["plain"] += d.decompress(bytes(st.data[got["fed"]:]))
        self.assertEqual(got["plain"], b"".join(b"data: - %d\n\n" % i for i in range(3)))


class CompressThreadsTest(unittest.TestCase):
    """Two worker threads, each keeping idle codecs for its next response,
    across a reload that replaces the instance (its kept codecs go with it:
    the sanitizer and valgrind passes see any leak at the server's exit)."""

    def test_threads_and_reload(self):
        if brotli is None or zstandard is None:
            self.skipTest("python3-brotli and python3-zstandard are needed (.ci/deps)")
        srv = Server(server_ini(routes=routes(), threads=2), files=FILES)
        try:
            for rnd in range(2):
                socks = [srv.connect() for _ in range(4)]
                for i in range(12):
                    coding = ("gzip", "br", "zstd")[i % 3]
                    s = socks[i % 4]
                    s.sendall(b"GET /st/big.txt HTTP/1.1\r\nHost: x\r\nAccept-Encoding: %s\r\n\r\n"
                              b"GET /st/data.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: %s\r\n\r\n"
                              % (coding.encode(), coding.encode()))
                    r1, r2 = harness.read_responses(s, 2)
                    self.assertEqual(decode(coding, r1.body), BIG)
                    self.assertEqual(decode(coding, r2.body), FILES["www/data.json"])
                for s in socks:
                    s.close()
                if rnd == 0:
                    # a key of /st changes: its instance is created anew
                    m = srv.reload(server_ini(routes=routes(st_extra="compress.gzip_level = 1\n"), threads=2),
                                   r"reload: generation \d+ serving \(\d+ route configurations unchanged, [1-9]\d* checked\b")
                    self.assertIsNotNone(m, srv.log()[-2000:])
        finally:
            srv.stop()


class CompressConfigErrors(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="phtest-compress-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def refused(self, keys, line, message):
        ini = os.path.join(self.dir, "server.ini")
        with open(ini, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:0\nplugin_dir = %s\naccess_log = off\n"
                    "[route /]\nplugin = echo, compress\n%s\n" % (harness.PLUGIN_DIR, keys))
        p = subprocess.run(harness.WRAPPER + [harness.BINARY, "-t", "-c", ini], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("plughttpd: %s:%d: [route /] plugin compress refused its configuration: %s\n"
                      % (ini, line, message), p.stderr)

    def test_refused_keys(self):
        self.refused("compress.level = 5", 7,
                     'unknown key "level" (keys: encodings, types, min_length, gzip_level, brotli_level, '
                     'zstd_level)')
        self.refused("compress.gzip_level = 10", 7, 'bad value "10" for gzip_level (a whole number from 1 to 9)')
        self.refused("compress.brotli_level = x", 7,
                     'bad value "x" for brotli_level (a whole number from 0 to 11)')
        self.refused("compress.zstd_level = 20", 7, 'bad value "20" for zstd_level (a whole number from 1 to 19)')
        self.refused("compress.encodings = gzip, deflate", 7,
                     'bad encodings: "deflate" is not a coding (a comma list of zstd, br, gzip, preferred first)')
        self.refused("compress.encodings = gzip, gzip", 7,
                     'bad encodings: gzip is listed twice (a comma list of zstd, br, gzip, preferred first)')
        self.refused("compress.types = text/html, , text/css", 7,
                     'bad types: an empty item in the list of types '
                     '(a comma list of type/subtype, type/*, type/*+suffix)')
        self.refused("compress.types = text", 7,
                     'bad types: "text" is not a media type pattern '
                     '(a comma list of type/subtype, type/*, type/*+suffix)')
        self.refused("compress.types = */json", 7,
                     'bad types: "*/json" is not a media type pattern '
                     '(a comma list of type/subtype, type/*, type/*+suffix)')
        self.refused("compress.min_length = -1", 7, 'bad value "-1" for min_length (a size such as 256, 1k)')

    def test_good_keys_pass(self):
        ini = os.path.join(self.dir, "server.ini")
        with open(ini, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:0\nplugin_dir = %s\naccess_log = off\n"
                    "[route /]\nplugin = echo, compress\ncompress.encodings = br, gzip\n"
                    "compress.types = text/*, application/*+json, */*+xml, APPLICATION/JSON\n"
                    "compress.min_length = 1k\ncompress.gzip_level = 1\ncompress.brotli_level = 0\n"
                    "compress.zstd_level = 19\n" % harness.PLUGIN_DIR)
        p = subprocess.run(harness.WRAPPER + [harness.BINARY, "-t", "-c", ini], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    harness.main()
