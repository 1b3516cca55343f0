#!/usr/bin/env python3
"""Streamed answers from blocking handlers (ABI 1.8), through
tests/plugins/bsend.c: a PH_PLUGIN_BLOCKING handle() calls co_respond()
and co_send() on its helper thread; the head goes out at once, the body as
it is made, in flat memory whatever its size; a client that leaves or
stops reading ends co_send() with -ECANCELED or -ETIMEDOUT; a plugin built
for minor 7 still gets -EPERM."""

import http.client
import socket
import time
import unittest

import harness
from harness import Server, read_head, recv_until_closed, server_ini, wait_log_from, log_count
from api13 import route

# distinct values, so a test can tell which timeout fired
TIMEOUTS = ("header_timeout = 31s\nbody_timeout = 33s\nkeepalive_timeout = 35s\n"
            "send_timeout = 37s\nhandler_timeout = 3s\nmax_keepalive_requests = 0")
ECANCELED, ETIMEDOUT = 125, 110


def pattern(off, n):
    return bytes((off + i) % 251 for i in range(n))


def dechunk(data):
    """The chunks' payload, and whether the last chunk came."""
    out, pos = bytearray(), 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return bytes(out), False
        size = int(data[pos:eol].split(b";")[0], 16)
        if size == 0:
            return bytes(out), True
        if eol + 2 + size + 2 > len(data):
            return bytes(out) + data[eol + 2:eol + 2 + size], False
        out += data[eol + 2:eol + 2 + size]
        pos = eol + 2 + size + 2


class BlockingStream(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=route("/b", "bsend") + route("/b7", "bsend7") +
                                    "[route /echo]\nplugin = echo\n",
                                    threads=1, server_extra=TIMEOUTS,
                                    listen=("127.0.0.1:0", "[::1]:0 h2c")))
        cls.h2c = None
        for line in cls.srv.log_lines:
            if "listening on [::1]:" in line:
                cls.h2c = int(line.rsplit(":", 1)[1])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def _stream(self, total, known):
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
        c.request("GET", "/b/stream?len=%d&known=%d" % (total, known))
        r = c.getresponse()
        self.assertEqual((r.status, r.getheader("X-Bsend")), (200, "yes"))
        if known:
            self.assertEqual(r.getheader("Content-Length"), str(total))
        else:
            self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        pid = self.srv.serving_pid()
        off, peak, base = 0, 0, None
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            self.assertEqual(chunk, pattern(off, len(chunk)), "at offset %d" % off)
            off += len(chunk)
            rss = harness.proc_rss_kib(pid)
            if base is None:
                base = rss
            peak = max(peak, rss)
        c.close()
        self.assertEqual(off, total)
        return base, peak

    def test_streams_50mb_with_and_without_length_in_flat_memory(self):
        total = 50 * 1024 * 1024
        for known in (1, 0):
            base, peak = self._stream(total, known)
            print("known=%d: RSS %d KiB at the first MiB, %d KiB at most" % (known, base, peak))
            if not harness.SANITIZED and not harness.WRAPPER:
                self.assertLess(peak - base, 16 * 1024)

    def test_handler_timeout_stops_at_co_respond(self):
        # 4 pieces 1.2 s apart: 4.8 s in all, past handler_timeout (3s)
        t0 = time.time()
        r = self.srv.get("/b/stream?len=%d&known=1&pace=1200" % (4 * 65536), timeout=30)
        self.assertEqual((r.status, r.body), (200, pattern(0, 4 * 65536)))
        self.assertGreaterEqual(time.time() - t0, 4.8)

    def test_head_takes_the_stream_and_keeps_the_connection(self):
        s = self.srv.connect()
        s.sendall(b"HEAD /b/stream?len=1000000&known=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        head = read_head(s)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
        self.assertIn(b"\r\nContent-Length: 1000000\r\n", head)
        resps = harness.read_responses(s, 1)
        s.close()
        self.assertEqual(resps[0].status, 200)
        self.assertIn(b"Method: GET\nTarget: /echo\n", resps[0].body)

    def test_short_of_its_length_aborts(self):
        s = self.srv.connect()
        s.sendall(b"GET /b/stream?len=100000&known=1&short=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        data, closed = recv_until_closed(s)
        s.close()
        self.assertTrue(closed)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: 100000", head)
        self.assertEqual(body, pattern(0, 50000))

    def test_error_after_co_respond_aborts_the_chunked_body(self):
        start = log_count(self.srv)
        s = self.srv.connect()
        s.sendall(b"GET /b/stream?len=1000000&known=0&stop=131072 HTTP/1.1\r\nHost: x\r\n\r\n")
        data, closed = recv_until_closed(s)
        s.close()
        self.assertTrue(closed)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Transfer-Encoding: chunked", head)
        payload, ended = dechunk(body)
        self.assertEqual((payload, ended), (pattern(0, 131072), False))
        m, _ = wait_log_from(self.srv, r"bsend: sent (\d+) returned (-?\d+)", start)
        self.assertEqual((m.group(1), m.group(2)), ("131072", "0"))
        self.assertIsNotNone(wait_log_from(self.srv, r"blocking handler for \"/b/stream\" returned -1 after "
                                           r"co_respond\(\): aborting the response", start)[0])

    def test_client_leaving_ends_co_send_with_ecanceled(self):
        start = log_count(self.srv)
        s = self.srv.connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /b/stream?len=1000000000&known=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(read_head(s).startswith(b"HTTP/1.1 200 OK\r\n"))
        s.close()
        m, _ = wait_log_from(self.srv, r"bsend: sent (\d+) returned (-?\d+)", start)
        self.assertEqual(int(m.group(2)), -ECANCELED)
        self.assertLess(int(m.group(1)), 1000000000)
        self.assertEqual(self.srv.get("/b/stream?len=10&known=1").body, pattern(0, 10))

    def test_client_that_reads_nothing_times_co_send_out(self):
        # timeout=700 ms is the handler's own; send_timeout (37 s) would be later
        start = log_count(self.srv)
        s = self.srv.connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        t0 = time.time()
        s.sendall(b"GET /b/stream?len=1000000000&known=0&timeout=700 HTTP/1.1\r\nHost: x\r\n\r\n")
        m, _ = wait_log_from(self.srv, r"bsend: sent (\d+) returned (-?\d+)", start)
        s.close()
        self.assertEqual(int(m.group(2)), -ETIMEDOUT)
        self.assertLess(time.time() - t0, 30)

    def test_misuse_is_refused(self):
        # co_send first: -EINVAL; co_respond from another thread: -EPERM;
        # the second co_respond: -EINVAL; past the length: -EMSGSIZE
        start = log_count(self.srv)
        r = self.srv.get("/b/misuse")
        self.assertEqual((r.status, r.body), (299, b"hello"))
        m, _ = wait_log_from(self.srv, r"bsend: misuse (.*)", start)
        self.assertEqual(m.group(1), "-22 -1 0 -22 -90")

    def test_plugin_built_for_minor_7_gets_eperm(self):
        r = self.srv.get("/b7/stream?len=10")
        self.assertEqual((r.status, r.body), (200, b"co_respond -1\n"))

    def test_http2_stream(self):
        from h2util import H2Client
        sock = socket.create_connection(("::1", self.h2c), timeout=harness.IO_TIMEOUT)
        c = H2Client(None, sock=sock)
        self.addCleanup(c.close)
        total = 3 * 1024 * 1024 + 17
        st = c.get("/b/stream?len=%d&known=0" % total)
        self.assertEqual((st.status, st.headers.get("x-bsend")), (200, "yes"))
        self.assertEqual(bytes(st.data), pattern(0, total))
        self.assertEqual(c.get("/b/stream?len=5&known=1").data, pattern(0, 5))


if __name__ == "__main__":
    unittest.main()
