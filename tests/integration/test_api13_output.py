#!/usr/bin/env python3
"""ABI 1.3 response side: output filters on stacked routes
(tests/plugins/caps.c over memory, chunked and file bodies, HEAD, a
declined type, a waiting stream), 103 Early Hints, the request-info and
response-header calls (tests/plugins/probe.c), and plugins of older minors
(echo, static, data, old_minor) next to 1.3 routes."""

import json
import os
import re
import shutil
import socket
import tempfile
import unittest

import harness
from harness import Server, parse_responses, recv_until_closed, server_ini
from api13 import route

MISBEHAVE = "misbehave"


def pattern(n, start=0):
    return bytes((start + i) % 251 for i in range(n))


def upper(b):
    return bytes(c - 32 if 97 <= c <= 122 else c for c in b)


def filtered_ini():
    routes = (route("/m", "misbehave, caps") +
              route("/st", "static, caps", root="www") +
              route("/ev", "sse, caps", events="3", interval="300ms", caps__hold="yes") +
              route("/lu", "later, caps"))
    return server_ini(routes=routes, threads=1)


FILES = {"www/a.txt": "hello, filtered file\n", "www/b.png": b"\x89PNG\r\n\x1a\nabcdef"}


class FilterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(filtered_ini(), files=FILES)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def check_filtered(self, r, body):
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("X-Caps"), "1")
        self.assertIsNone(r.header("Content-Length"))
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertEqual(r.body, body)

    def test_memory_body(self):
        self.check_filtered(self.srv.get("/m/big", timeout=20), upper(pattern(1024 * 1024)))

    def test_chunked_body(self):
        self.check_filtered(self.srv.get("/m/stream"), b"".join(b"PIECE %d\n" % i for i in range(5)))

    def test_file_body(self):
        self.check_filtered(self.srv.get("/m/file"), upper(pattern(99990, 10)))

    def test_static_file_body(self):
        self.check_filtered(self.srv.get("/st/a.txt"), b"HELLO, FILTERED FILE\n")

    def test_pending_answer_is_filtered(self):
        self.check_filtered(self.srv.get("/lu/x?ms=50"), b"LATER - 50\n")

    def test_declined_type_passes_untouched(self):
        r = self.srv.get("/st/b.png")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "image/png")
        self.assertIsNone(r.header("X-Caps"))
        self.assertEqual(r.header("Content-Length"), str(len(FILES["www/b.png"])))
        self.assertEqual(r.body, FILES["www/b.png"])

    def test_head(self):
        data = self.srv.raw(b"HEAD /st/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, sep, rest = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
        self.assertIn(b"\r\nX-Caps: 1", head)
        self.assertNotIn(b"Content-Length", head)
        self.assertEqual(rest, b"")

    def test_http10_close_delimited(self):
        data = self.srv.raw(b"GET /m/stream HTTP/1.0\r\n\r\n")
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertNotIn(b"Transfer-Encoding", head)
        self.assertNotIn(b"Content-Length", head)
        self.assertEqual(body, b"".join(b"PIECE %d\n" % i for i in range(5)))

    def test_waiting_stream_is_flushed_through_filter(self):
        # caps holds its input until FLUSH or END: the first event can only
        # arrive before the stream ends if the core flushed the filters
        s = self.srv.connect(timeout=20)
        s.sendall(b"GET /ev/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = b""
        while b"DATA: - 0\n\n" not in got:
            b = s.recv(65536)
            self.assertTrue(b, got)
            got += b
        self.assertNotIn(b"DATA: - 1", got)
        rest, closed = recv_until_closed(s, timeout=20)
        s.close()
        data = got + rest
        self.assertTrue(data.endswith(b"0\r\nX-Events: 3\r\n\r\n"), data[-100:])
        self.assertEqual(parse_responses(data)[0].body, b"".join(b"DATA: - %d\n\n" % i for i in range(3)))
        self.assertIsNotNone(self.srv.wait_log(r"caps: end pieces=\d+ flushes=[1-9]"))


class LocalAddressTest(unittest.TestCase):
    """api->local() on a wildcard listener names the address the client
    connected to (the kernel is asked per connection), on a unix socket
    "unix", and on a listener bound to one address that address."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ph-local-")
        cls.sock = os.path.join(cls.tmp, "s")
        cls.srv = Server(server_ini(routes=route("/probe", "probe"),
                                    listen=("0.0.0.0:0", "unix:" + cls.sock)))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def local_of(self, s):
        s.sendall(b"GET /probe/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = parse_responses(harness.recv_all(s))[0]
        s.close()
        self.assertEqual(r.status, 200, r.body)
        return dict(l.split("=", 1) for l in r.body.decode().splitlines())["local"]

    def test_wildcard_listener(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        self.assertEqual(self.local_of(s), "127.0.0.1:%d" % self.srv.port)

    def test_unix_listener(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.sock)
        self.assertEqual(self.local_of(s), "unix")


class EarlyHintsAndInfoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=route("/probe", "probe")))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def info(self, raw):
        r = parse_responses(self.srv.raw(raw))[-1]
        self.assertEqual(r.status, 200, r.body)
        return r, dict(l.split("=", 1) for l in r.body.decode().splitlines())

    def test_early_hints_precede_the_response(self):
        data = self.srv.raw(b"GET /probe/info?hints HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                                        b"HTTP/1.1 200 OK\r\n"), data[:300])
        resps = parse_responses(data)
        self.assertEqual([r.status for r in resps], [103, 200])

    def test_no_early_hints_for_http10(self):
        data = self.srv.raw(b"GET /probe/info?hints HTTP/1.0\r\n\r\n")
        self.assertNotIn(b" 103 ", data)
        self.assertEqual(parse_responses(data)[0].status, 200)

    def test_request_info(self):
        r, v = self.info(b"GET /probe/info HTTP/1.1\r\nHost: example.test:8080\r\nConnection: close\r\n\r\n")
        self.assertRegex(v["id"], r"^[0-9a-f]{16}$")
        self.assertEqual(v["local"], "127.0.0.1:%d" % self.srv.port)
        self.assertEqual(v["scheme"], "http")
        self.assertEqual(v["authority"], "example.test:8080")
        self.assertRegex(v["peer"], r"^127\.0\.0\.1:\d+$")
        _, v2 = self.info(b"GET /probe/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertNotEqual(v["id"], v2["id"])
        # the vlog() line carries the same id
        self.assertIsNotNone(self.srv.wait_log(r"plugin: id=%s" % v["id"]))

    def test_authority_from_absolute_form(self):
        _, v = self.info(b"GET http://abs.example/probe/info HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n")
        self.assertEqual(v["authority"], "abs.example")

    def test_authority_empty_for_http10_without_host(self):
        _, v = self.info(b"GET /probe/info HTTP/1.0\r\n\r\n")
        self.assertEqual(v["authority"], "")

    def test_response_header_calls(self):
        r, v = self.info(b"GET /probe/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual((v["x-a"], v["removed"]), ("3", "1"))
        self.assertEqual(v["slots"], "1")  # api->slot: fresh, stable, per instance
        self.assertEqual(r.header_all("X-A"), ["3"])
        self.assertEqual(r.header_all("X-B"), [])
        self.assertEqual(r.header_all("Content-Type"), ["text/plain"])


SCHEMA = "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);\n"


class OlderMinorsTest(unittest.TestCase):
    """Plugins built for 1.0-1.2 and 1.5 answer as before next to the
    current minor's routes."""

    @classmethod
    def setUpClass(cls):
        routes = (route("/old", "old_minor") + route("/m5", "minor5") + route("/echo", "echo") +
                  route("/files", "static", root="www") +
                  route("/api", "data", database="sqlite:db/app.db", schema="schema.sql", tables="notes") +
                  route("/later", "later") + route("/sse", "sse"))
        cls.srv = Server(server_ini(routes=routes), files=dict(FILES, **{"schema.sql": SCHEMA}))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_old_minor(self):
        r = self.srv.get("/old/x")
        self.assertEqual((r.status, r.body), (200, b"old-minor ok\n"))

    def test_minor5(self):
        # a 1.5 plugin: its calls work, and a 1.5-sized server_info is
        # written no further than 1.5's end
        r = self.srv.raw(b"GET /m5/x HTTP/1.1\r\nHost: Five.Example:81\r\nConnection: close\r\n\r\n")
        head, _, body = r.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertEqual(body, b"minor5 ok note=five authority=Five.Example:81 canary=intact route=/old len=0\n")

    def test_echo(self):
        r = self.srv.get("/echo/x?y=1", method="POST", body=b"the body")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body.startswith(b"Method: POST\nTarget: /echo/x?y=1\n"), r.body)
        self.assertTrue(r.body.endswith(b"\n\nthe body"), r.body)

    def test_static(self):
        r = self.srv.get("/files/a.txt")
        self.assertEqual((r.status, r.body), (200, b"hello, filtered file\n"))
        self.assertEqual(r.header("Content-Length"), "21")
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")

    def test_data(self):
        r = self.srv.get("/api/notes", method="POST", body=b'{"text":"hi"}',
                         headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r.body)
        r = self.srv.get("/api/notes/1")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(json.loads(r.body), {"id": 1, "text": "hi"})


if __name__ == "__main__":
    harness.main()
