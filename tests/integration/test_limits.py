#!/usr/bin/env python3
"""Hostile and oversized input, limits and timeouts, with small configured
limits: every bad request gets its status (400, 413, 414, 431, 501, 505),
framing errors close the connection (no request smuggling), slow or idle
clients are cut off, and after every case the server still answers a
normal request on a new connection."""

import os
import socket
import time
import unittest

import harness
from harness import (Server, parse_responses, read_responses, recv_until_closed,
                     server_ini)

ROUTES = harness.fixture_routes(slow=False)

MAX_URI = 64
MAX_HEADER = 1024
MAX_BODY = 1000

LIMITS = """
max_uri_bytes = %d
max_header_bytes = %d
max_body_bytes = %d
""" % (MAX_URI, MAX_HEADER, MAX_BODY)


class Base(unittest.TestCase):
    def assert_serves(self):
        """The server is alive and answers a normal GET on a new connection."""
        self.assertIsNone(self.srv.proc.poll(), "server died:\n" + self.srv.log())
        r = self.srv.get("/echo/alive")
        self.assertEqual(r.status, 200)
        self.assertIn(b"Target: /echo/alive\n", r.body)

    def exchange(self, data, timeout=harness.IO_TIMEOUT):
        """Send data on a new connection; (responses, closed-by-server)."""
        with self.srv.connect() as s:
            s.sendall(data)
            raw, closed = recv_until_closed(s, timeout)
        return parse_responses(raw), closed, raw

    def assert_rejected(self, data, status, must_close=True):
        rs, closed, raw = self.exchange(data)
        self.assertEqual(len(rs), 1, "expected exactly one response, got %r" % raw[:500])
        self.assertEqual(rs[0].status, status, raw[:300])
        if must_close:
            self.assertTrue(closed, "connection left open after %d" % status)
            self.assertEqual(rs[0].header("Connection"), "close")
        self.assert_serves()
        return rs[0]


class MalformedTest(Base):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=ROUTES, server_extra=LIMITS, threads=2))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_malformed_request_line(self):
        for line in (b"GET /echo\r\n",                # no version
                     b"GET  /echo HTTP/1.1\r\n",       # two spaces
                     b"GET /echo HTTP/1.1 \r\n",       # trailing space
                     b"G(T /echo HTTP/1.1\r\n",        # method not a token
                     b"GET /echo HTTP/1.1x\r\n",
                     b"GET /echo HTTP/x.1\r\n",
                     b"GET /echo http/1.1\r\n",
                     b"GET /ec ho HTTP/1.1\r\n",
                     b"GET /echo#frag HTTP/1.1\r\n",
                     b"GET echo HTTP/1.1\r\n",         # not origin-form
                     b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n"):  # TLS hello
            with self.subTest(line=line):
                self.assert_rejected(line + b"Host: x\r\n\r\n", 400)

    def test_bare_lf_line_ending(self):
        self.assert_rejected(b"GET /echo HTTP/1.1\nHost: x\n\n", 400)

    def test_missing_host_http11(self):
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nX-A: b\r\n\r\n", 400)

    def test_duplicate_host(self):
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400)

    def test_bad_host_value(self):
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: a b\r\n\r\n", 400)
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: a/b\r\n\r\n", 400)

    def test_space_before_colon(self):
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", 400)
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost : x\r\n\r\n", 400)
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A\t: b\r\n\r\n", 400)

    def test_obs_fold(self):
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400)
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400)

    def test_header_without_colon_or_name(self):
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400)
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400)

    def test_nul_and_control_bytes(self):
        for bad in (b"\x00", b"\x01", b"\x1b", b"\x7f", b"\r"):
            with self.subTest(byte=bad):
                self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a" + bad +
                                     b"b\r\n\r\n", 400)
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-\x00A: b\r\n\r\n", 400)
        self.assert_rejected(b"GET /ec\x00ho HTTP/1.1\r\nHost: x\r\n\r\n", 400)

    def test_tab_and_obs_text_in_value_are_fine(self):
        rs, _, raw = self.exchange(b"GET /echo/t HTTP/1.1\r\nHost: x\r\nX-A: a\tb\xe9\r\n"
                                   b"Connection: close\r\n\r\n")
        self.assertEqual([r.status for r in rs], [200], raw[:300])

    def test_unsupported_versions(self):
        for v in (b"HTTP/2.0", b"HTTP/3.0", b"HTTP/0.9"):
            with self.subTest(version=v):
                self.assert_rejected(b"GET /echo " + v + b"\r\nHost: x\r\n\r\n", 505)

    def test_uri_too_long(self):
        target = b"/echo/" + b"a" * (MAX_URI + 10)
        self.assert_rejected(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)

    def test_uri_at_limit_is_fine(self):
        target = b"/echo/" + b"a" * (MAX_URI - 6)
        self.assertEqual(len(target), MAX_URI)
        rs, _, raw = self.exchange(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n"
                                   b"Connection: close\r\n\r\n")
        self.assertEqual([r.status for r in rs], [200], raw[:300])

    def test_uri_too_long_before_line_ends(self):
        # 414 as soon as the bytes present exceed the limit: no line end needed
        with self.srv.connect() as s:
            s.sendall(b"GET /echo/" + b"a" * (MAX_URI * 4))
            raw, closed = recv_until_closed(s, timeout=5)
        self.assertTrue(closed)
        self.assertEqual([r.status for r in parse_responses(raw)], [414])
        self.assert_serves()

    def test_header_section_too_big(self):
        big = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 60) for i in range(MAX_HEADER // 60 + 2))
        self.assert_rejected(b"GET /echo HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n", 431)
        # one single huge header line, never finished
        with self.srv.connect() as s:
            s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * (MAX_HEADER * 3))
            raw, closed = recv_until_closed(s, timeout=5)
        self.assertTrue(closed)
        self.assertEqual([r.status for r in parse_responses(raw)], [431])
        self.assert_serves()

    def test_body_too_large_refused_before_reading(self):
        with self.srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                      % (MAX_BODY * 100))
            # not one body byte sent: the 413 must come anyway
            t0 = time.time()
            raw, closed = recv_until_closed(s, timeout=5)
        self.assertLess(time.time() - t0, 4)
        self.assertTrue(closed)
        rs = parse_responses(raw)
        self.assertEqual([r.status for r in rs], [413])
        self.assertEqual(rs[0].header("Connection"), "close")
        self.assert_serves()

    def test_body_too_large_with_expect_gets_no_continue(self):
        with self.srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1))
            raw, closed = recv_until_closed(s, timeout=5)
        self.assertTrue(closed)
        self.assertTrue(raw.startswith(b"HTTP/1.1 413 "), raw[:100])
        self.assert_serves()

    def test_body_at_limit_is_fine(self):
        r = self.srv.get("/echo/b", method="POST", body=b"b" * MAX_BODY)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body.endswith(b"\n\n" + b"b" * MAX_BODY))

    def test_chunked_body_too_large(self):
        chunk = b"%x\r\n%s\r\n" % (300, b"c" * 300)
        with self.srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            try:
                for _ in range(5):  # 1500 bytes > 1000
                    s.sendall(chunk)
                    time.sleep(0.02)
            except (BrokenPipeError, ConnectionResetError):
                pass
            raw, closed = recv_until_closed(s, timeout=5)
        self.assertTrue(closed)
        self.assertEqual([r.status for r in parse_responses(raw)], [413])
        self.assert_serves()

    def test_content_length_and_transfer_encoding(self):
        self.assert_rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
        self.assert_rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                             b"Content-Length: 5\r\n\r\n0\r\n\r\n", 400)

    def test_differing_content_lengths(self):
        self.assert_rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                             b"Content-Length: 6\r\n\r\nhello!", 400)
        self.assert_rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n"
                             b"\r\nhello!", 400)

    def test_identical_content_lengths_are_fine(self):
        rs, _, raw = self.exchange(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                   b"Content-Length: 5\r\nConnection: close\r\n\r\nhello")
        self.assertEqual([r.status for r in rs], [200], raw[:300])
        self.assertTrue(rs[0].body.endswith(b"\n\nhello"))

    def test_content_length_not_plain_digits(self):
        for v in (b"+5", b"-5", b"5a", b"0x5", b"5.0", b"", b"5 5", b"99999999999999999999999"):
            with self.subTest(value=v):
                self.assert_rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + v +
                                     b"\r\n\r\nhello", 400)

    def test_transfer_encoding_not_chunked(self):
        # http_parse.h: a list not ending in "chunked" -> 400; a valid list
        # with another coding before "chunked" -> 501.
        for te, status in ((b"gzip", 400), (b"identity", 400), (b"chunked, gzip", 400),
                           (b"chunked, chunked", 400), (b"gzip, chunked", 501),
                           (b"chunked,", 400)):
            with self.subTest(te=te):
                self.assert_rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " +
                                     te + b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n", status)

    def test_transfer_encoding_in_http10(self):
        self.assert_rejected(b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"5\r\nhello\r\n0\r\n\r\n", 400)

    def test_bad_chunk_size(self):
        head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        for body in (b"zz\r\nhello\r\n0\r\n\r\n",
                     b"-5\r\nhello\r\n0\r\n\r\n",
                     b"\r\nhello\r\n0\r\n\r\n",
                     b"1" * 17 + b"\r\nhello\r\n0\r\n\r\n",      # oversized size
                     b"fffffffffffffffff\r\n",                   # overflow
                     b"5\r\nhelloXX0\r\n\r\n",                   # data not followed by CRLF
                     b"5\nhello\r\n0\r\n\r\n"):                  # bare LF
            with self.subTest(body=body):
                self.assert_rejected(head + body, 400)

    def test_request_smuggling_cl_te(self):
        smuggled = b"GET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        body = b"0\r\n\r\n" + smuggled
        data = (b"POST /echo/front HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" % len(body)) + body
        rs, closed, raw = self.exchange(data)
        self.assertTrue(closed)
        self.assertEqual([r.status for r in rs], [400], raw[:500])
        self.assertNotIn(b"smuggled", raw)
        self.assert_serves()

    def test_request_smuggling_te_cl(self):
        # TE first, a CL that would end the body early
        smuggled = b"GET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        data = (b"POST /echo/front HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Length: 3\r\n\r\n" + b"%x\r\n" % len(smuggled) + smuggled +
                b"\r\n0\r\n\r\n" + smuggled)
        rs, closed, raw = self.exchange(data)
        self.assertTrue(closed)
        self.assertEqual([r.status for r in rs], [400], raw[:500])
        self.assertNotIn(b"smuggled", raw)
        self.assert_serves()

    def test_error_after_good_pipelined_request(self):
        # the good request is answered, the bad one gets its 400, then close
        data = (b"GET /echo/good HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /echo/bad HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n"
                b"GET /echo/never HTTP/1.1\r\nHost: x\r\n\r\n")
        rs, closed, raw = self.exchange(data)
        self.assertTrue(closed)
        self.assertEqual([r.status for r in rs], [200, 400], raw[:800])
        self.assertIn(b"Target: /echo/good\n", rs[0].body)
        self.assertNotIn(b"never", raw)
        self.assert_serves()

    def test_expect_other_than_continue(self):
        self.assert_rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n"
                             b"Content-Length: 5\r\n\r\nhello", 417, must_close=False)

    def test_connect_and_bad_asterisk(self):
        self.assert_rejected(b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n", 501)
        rs, _, raw = self.exchange(b"GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual([r.status for r in rs], [400], raw[:300])
        self.assert_serves()

    def test_garbage_flood_then_close(self):
        with self.srv.connect() as s:
            try:
                s.sendall(bytes(range(256)) * 64)
            except (BrokenPipeError, ConnectionResetError):
                pass
            raw, closed = recv_until_closed(s, timeout=5)
        self.assertTrue(closed)
        rs = parse_responses(raw)
        self.assertEqual(len(rs), 1)
        self.assertIn(rs[0].status, (400, 431))
        self.assert_serves()


class TimeoutsTest(Base):
    """Every timeout at one second; each case must end within about three."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=ROUTES, threads=1, server_extra="""
header_timeout = 1s
body_timeout = 1s
keepalive_timeout = 1s
send_timeout = 1s
"""))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def assert_cut_off(self, s, t0, statuses=(408,)):
        raw, closed = recv_until_closed(s, timeout=6)
        elapsed = time.time() - t0
        self.assertTrue(closed, "not closed after %.1f s" % elapsed)
        self.assertGreater(elapsed, 0.5, "closed too early")
        self.assertLess(elapsed, 3.5, "closed only after %.1f s" % elapsed)
        if raw:  # a 408 is optional (the socket may not take it), nothing else
            self.assertIn(parse_responses(raw)[0].status, statuses, raw[:200])
        return raw

    def test_header_timeout_half_request_line(self):
        with self.srv.connect() as s:
            s.sendall(b"GET /ec")
            t0 = time.time()
            self.assert_cut_off(s, t0)
        self.assert_serves()

    def test_header_timeout_not_reset_by_dribbling(self):
        # Slowloris: a byte every 200 ms; the header timeout covers the whole
        # head, so the connection is cut after ~1 s regardless.
        with self.srv.connect() as s:
            s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            t0 = time.time()
            closed = False
            while time.time() - t0 < 6:
                try:
                    s.sendall(b"a")
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                s.settimeout(0.2)
                try:
                    if s.recv(65536) == b"":
                        closed = True
                        break
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    closed = True
                    break
            elapsed = time.time() - t0
        self.assertTrue(closed, "a dribbling client kept its connection for 6 s")
        self.assertLess(elapsed, 3.5)
        self.assert_serves()

    def test_keepalive_timeout_closes_idle_connection(self):
        with self.srv.connect() as s:
            s.sendall(b"GET /echo/ka HTTP/1.1\r\nHost: x\r\n\r\n")
            rs = read_responses(s, 1)
            self.assertEqual(rs[0].status, 200)
            t0 = time.time()
            raw, closed = recv_until_closed(s, timeout=6)
            elapsed = time.time() - t0
        self.assertTrue(closed)
        self.assertEqual(raw, b"", "an idle keep-alive close sends nothing")
        self.assertGreater(elapsed, 0.5)
        self.assertLess(elapsed, 3.5)
        self.assert_serves()

    def test_idle_connection_without_request(self):
        with self.srv.connect() as s:
            t0 = time.time()
            raw, closed = recv_until_closed(s, timeout=6)
        self.assertTrue(closed)
        self.assertEqual(raw, b"")
        self.assertLess(time.time() - t0, 3.5)
        self.assert_serves()

    def test_body_timeout(self):
        with self.srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
            t0 = time.time()
            self.assert_cut_off(s, t0)
        self.assert_serves()

    def test_chunked_body_timeout(self):
        with self.srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"5\r\nhel")
            t0 = time.time()
            self.assert_cut_off(s, t0)
        self.assert_serves()

    def test_slow_body_within_timeout_is_fine(self):
        # Each piece arrives well within body_timeout: the timer restarts on
        # progress, so a body taking longer than 1 s in total still works.
        with self.srv.connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n")
            for b in b"abcdef":
                time.sleep(0.3)
                s.sendall(bytes([b]))
            rs = read_responses(s, 1)
        self.assertEqual(rs[0].status, 200)
        self.assertTrue(rs[0].body.endswith(b"\n\nabcdef"))

    def test_send_timeout_client_never_reads(self):
        total = 8 * ((1 << 20) + 200)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(harness.IO_TIMEOUT)
        s.connect(("127.0.0.1", self.srv.port))
        try:
            # 8 MiB asked for, far beyond what the socket buffers can hold
            s.sendall(b"GET /mb/big HTTP/1.1\r\nHost: x\r\n\r\n" * 8)
            time.sleep(1.2)
            # meanwhile the server keeps answering others
            self.assert_serves()
            time.sleep(2.3)
            raw, closed = recv_until_closed(s, timeout=10)
        finally:
            s.close()
        self.assertTrue(closed)
        self.assertLess(len(raw), total, "the whole 8 MiB was delivered: never cut off")
        self.assertTrue(raw.startswith(b"HTTP/1.1 200 "))
        self.assert_serves()


class ConnectionLimitTest(Base):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=ROUTES, threads=1, server_extra="""
max_connections = 5
max_keepalive_requests = 3
"""))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_max_connections(self):
        socks = []
        try:
            for i in range(20):
                s = self.srv.connect()
                s.sendall(b"GET /echo/c%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
                socks.append(s)
            time.sleep(1.0)
            answered = []
            for i, s in enumerate(socks):
                s.settimeout(0.3)
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    continue
                if data:
                    answered.append(i)
            # only max_connections are served at once; the rest wait
            self.assertEqual(len(answered), 5, answered)
            served = set(answered)
            # closing the served ones lets the waiting ones in, five at a time
            deadline = time.time() + 20
            while len(served) < 20 and time.time() < deadline:
                for i in list(served):
                    if socks[i] is not None:
                        socks[i].close()
                        socks[i] = None
                for i, s in enumerate(socks):
                    if s is None or i in served:
                        continue
                    s.settimeout(0.2)
                    try:
                        data = s.recv(65536)
                    except socket.timeout:
                        continue
                    self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:100])
                    self.assertIn(b"Target: /echo/c%d\n" % i, data)
                    served.add(i)
            self.assertEqual(len(served), 20)
        finally:
            for s in socks:
                if s is not None:
                    s.close()
        self.assert_serves()

    def test_many_connections_at_once_then_closed(self):
        socks = [self.srv.connect() for _ in range(20)]
        for s in socks:
            s.close()
        time.sleep(0.3)
        self.assert_serves()

    def test_max_keepalive_requests(self):
        with self.srv.connect() as s:
            got = []
            for i in range(3):
                s.sendall(b"GET /echo/k%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
                got += read_responses(s, 1)
            raw, closed = recv_until_closed(s, timeout=5)
        self.assertEqual([r.status for r in got], [200, 200, 200])
        self.assertIsNone(got[0].header("Connection"))
        self.assertIsNone(got[1].header("Connection"))
        self.assertEqual(got[2].header("Connection"), "close")
        self.assertTrue(closed)
        self.assertEqual(raw, b"")

    def test_max_keepalive_requests_pipelined(self):
        data = b"".join(b"GET /echo/p%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5))
        rs, closed, raw = self.exchange(data)
        self.assertTrue(closed)
        self.assertEqual([r.status for r in rs], [200, 200, 200], raw[:500])
        self.assertEqual(rs[2].header("Connection"), "close")
        self.assertNotIn(b"/echo/p3", raw)


if __name__ == "__main__":
    harness.main()
