#!/usr/bin/env python3
"""Hostile-client reproductions against blocking streams (ABI 1.8,
server/bstream.c) through tests/plugins/bsend.c. Each test states what it
expects of a correct server; a failing one is a finding.

run: /tmp/it.sh SRC BUILD attack/attack_bstream.py [-k name]
"""
import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness
from harness import Server, read_head, recv_until_closed, server_ini, wait_log_from, log_count
from api13 import route, fixture

ECANCELED, ETIMEDOUT = 125, 110
TIMEOUTS = ("header_timeout = 31s\nbody_timeout = 33s\nkeepalive_timeout = 35s\n"
            "send_timeout = 37s\nhandler_timeout = 3s\nmax_keepalive_requests = 0\nshutdown_timeout = 4s")


def pattern(off, n):
    return bytes((off + i) % 251 for i in range(n))


def h2port(srv):
    for line in srv.log_lines:
        if "listening on [::1]:" in line:
            return int(line.rsplit(":", 1)[1])


def make(extra="", routes="", threads=1, master=True):
    ini = server_ini(routes=route("/b", "bsend") + "[route /echo]\nplugin = echo\n" + routes,
                     threads=threads, server_extra=TIMEOUTS + ("\n" + extra if extra else ""),
                     listen=("127.0.0.1:0", "[::1]:0 h2c"))
    return Server(ini)


class Attack(unittest.TestCase):
    def test_h2_stream_outlives_handler_timeout(self):
        """A blocking stream that is read all along but lasts 4.8 s, past
        handler_timeout (3 s), over HTTP/2: the whole body, as over HTTP/1
        (test_handler_timeout_stops_at_co_respond)."""
        from h2util import H2Client
        with make() as srv:
            sock = socket.create_connection(("::1", h2port(srv)), timeout=30)
            c = H2Client(None, sock=sock)
            self.addCleanup(c.close)
            st = c.response(c.request("/b/stream?len=%d&known=1&pace=1200" % (4 * 65536)), timeout=30)
            self.assertEqual((st.status, st.reset), (200, None))
            self.assertEqual(len(st.data), 4 * 65536)
            self.assertEqual(bytes(st.data), pattern(0, 4 * 65536))

    def test_h2_rst_stream_mid_stream_wakes_co_send(self):
        from h2util import H2Client
        with make() as srv:
            start = log_count(srv)
            sock = socket.create_connection(("::1", h2port(srv)), timeout=30)
            c = H2Client(None, sock=sock, settings={4: 65535})
            self.addCleanup(c.close)
            sid = c.request("/b/stream?len=1000000000&known=0")
            c.wait(lambda: c.streams[sid].headers is not None)
            c.conn.reset_stream(sid)
            c.flush()
            m, _ = wait_log_from(srv, r"bsend: sent (\d+) returned (-?\d+)", start, timeout=10)
            self.assertEqual(int(m.group(2)), -ECANCELED)
            # the connection still serves
            self.assertEqual(bytes(c.get("/b/stream?len=10&known=1").data), pattern(0, 10))

    def test_http10_close_delimited(self):
        with make() as srv:
            s = srv.connect()
            s.sendall(b"GET /b/stream?len=300000&known=0 HTTP/1.0\r\n\r\n")
            data, closed = recv_until_closed(s)
            s.close()
            head, _, body = data.partition(b"\r\n\r\n")
            self.assertTrue(closed)
            self.assertNotIn(b"chunked", head)
            self.assertEqual(body, pattern(0, 300000))

    def test_head_unknown_length_http10_and_h11(self):
        with make() as srv:
            for ver in (b"1.0", b"1.1"):
                s = srv.connect()
                s.sendall(b"HEAD /b/stream?len=300000&known=0 HTTP/" + ver + b"\r\nHost: x\r\n\r\n"
                          b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
                data, closed = recv_until_closed(s, timeout=10)
                s.close()
                self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
                head, _, rest = data.partition(b"\r\n\r\n")
                if ver == b"1.0":
                    self.assertEqual(rest, b"", ver)
                else:
                    self.assertTrue(rest.startswith(b"HTTP/1.1 200"), rest[:100])

    def test_h2_head(self):
        from h2util import H2Client
        with make() as srv:
            sock = socket.create_connection(("::1", h2port(srv)), timeout=30)
            c = H2Client(None, sock=sock)
            self.addCleanup(c.close)
            st = c.response(c.request("/b/stream?len=300000&known=0", method="HEAD"), timeout=10)
            self.assertEqual((st.status, bytes(st.data), st.reset), (200, b"", None))
            self.assertEqual(bytes(c.get("/b/stream?len=10&known=1").data), pattern(0, 10))

    def test_sigterm_with_stalled_reader(self):
        """A client that reads nothing holds co_send (no timeout) on a
        helper thread: SIGTERM still ends the server within shutdown_timeout
        (4 s) plus a margin."""
        with make() as srv:
            s = srv.connect()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /b/stream?len=1000000000&known=0 HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(read_head(s).startswith(b"HTTP/1.1 200"))
            time.sleep(0.5)  # let the queue fill (no observable state for this)
            t0 = time.time()
            srv.proc.send_signal(signal.SIGTERM)
            try:
                srv.proc.wait(15)
            except Exception:
                pass
            dt = time.time() - t0
            s.close()
            self.assertIsNotNone(srv.proc.poll(), "server still running 15 s after SIGTERM")
            self.assertLess(dt, 10)

    def _reload_mid_stream(self, extra):
        with make(extra=extra) as srv:
            start = log_count(srv)
            s = srv.connect()
            s.sendall(b"GET /b/stream?len=%d&known=1&pace=150 HTTP/1.1\r\nHost: x\r\n\r\n" % (20 * 65536))
            self.assertTrue(read_head(s).startswith(b"HTTP/1.1 200"))
            with open(srv.ini) as f:
                text = f.read()
            srv.reload(text, r"reload|generation", timeout=10)
            data, closed = recv_until_closed(s, timeout=30)
            s.close()
            # the body after the head
            self.assertEqual(len(data), 20 * 65536, "got %d of %d" % (len(data), 20 * 65536))
            self.assertEqual(srv.get("/b/stream?len=10&known=1").body, pattern(0, 10))

    def test_reload_mid_stream_master(self):
        self._reload_mid_stream("")

    def test_reload_mid_stream_processes0(self):
        self._reload_mid_stream("processes = 0")

    def test_compress_filter_on_stream(self):
        """bsend stacked with compress: the gzip of the whole stream, for a
        known length (compress drops it) and an unknown one, paced."""
        import zlib
        with make(routes="[route /c]\nplugin = %s, compress\n" % fixture("bsend")) as srv:
            for known in (1, 0):
                total = 5 * 65536 + 3
                s = srv.connect()
                s.sendall(b"GET /c/stream?len=%d&known=%d&text=1&pace=50 HTTP/1.1\r\nHost: x\r\n"
                          b"Accept-Encoding: gzip\r\nConnection: close\r\n\r\n" % (total, known))
                data, closed = recv_until_closed(s, timeout=20)
                s.close()
                head, _, body = data.partition(b"\r\n\r\n")
                self.assertIn(b"Content-Encoding: gzip", head, head)
                from test_bstream_helpers import dechunk
                payload, ended = dechunk(body)
                self.assertTrue(ended)
                self.assertEqual(zlib.decompress(payload, 31), pattern(0, total))

    def test_compress_client_leaves(self):
        start = None
        with make(routes="[route /c]\nplugin = %s, compress\n" % fixture("bsend")) as srv:
            start = log_count(srv)
            s = srv.connect()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /c/stream?len=1000000000&known=0&text=1 HTTP/1.1\r\nHost: x\r\n"
                      b"Accept-Encoding: gzip\r\n\r\n")
            self.assertTrue(read_head(s).startswith(b"HTTP/1.1 200"))
            s.close()
            m, _ = wait_log_from(srv, r"bsend: sent (\d+) returned (-?\d+)", start, timeout=15)
            self.assertEqual(int(m.group(2)), -ECANCELED)
            self.assertEqual(srv.get("/b/stream?len=10&known=1").body, pattern(0, 10))

    def test_handler_timeout_races_co_respond(self):
        """co_respond() at about handler_timeout (3 s), HTTP/1 and HTTP/2:
        either the whole body or a 504 (co_respond -ECANCELED), never a
        hang, a mixed answer or a sanitizer report; the server serves on."""
        from h2util import H2Client
        with make() as srv:
            outcomes = []
            for i, delay in enumerate((2980, 2995, 3000, 3005, 3020)):
                start = log_count(srv)
                path = "/b/stream?len=200000&known=%d&delay=%d" % (i % 2, delay)
                r = srv.get(path, timeout=20)
                outcomes.append((delay, r.status))
                if r.status == 200:
                    self.assertEqual(r.body, pattern(0, 200000))
                else:
                    self.assertEqual(r.status, 504)
                    m, _ = wait_log_from(srv, r"bsend: co_respond (-?\d+)", start, timeout=10)
                    self.assertEqual(int(m.group(1)), -ECANCELED)
                c = H2Client(None, sock=socket.create_connection(("::1", h2port(srv)), timeout=30))
                st = c.response(c.request(path), timeout=20)
                c.close()
                outcomes.append((delay, "h2", st.status))
                self.assertIn(st.status, (200, 504))
                if st.status == 200:
                    self.assertEqual(bytes(st.data), pattern(0, 200000))
            print(outcomes)
            self.assertEqual(srv.get("/b/stream?len=10&known=1").body, pattern(0, 10))

    def test_pool_exhaustion_other_routes(self):
        """blocking_threads = 2 held by two stalled readers: /echo (not
        blocking) still answers at once; a third blocking request gets 504
        after handler_timeout, not a hang."""
        with make(extra="blocking_threads = 2") as srv:
            socks = []
            for _ in range(2):
                s = srv.connect()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(b"GET /b/stream?len=1000000000&known=0 HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(read_head(s).startswith(b"HTTP/1.1 200"))
                socks.append(s)
            t0 = time.time()
            self.assertEqual(srv.get("/echo").status, 200)
            self.assertLess(time.time() - t0, 1)
            t0 = time.time()
            r = srv.get("/b/stream?len=10&known=1", timeout=20)
            print("third blocking:", r.status, "after", time.time() - t0)
            self.assertIn(r.status, (503, 504))
            for s in socks:
                s.close()


if __name__ == "__main__":
    unittest.main()
