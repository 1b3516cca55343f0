#!/usr/bin/env python3
"""The proxy plugin end to end: real upstreams (Python ones from
proxy_upstream.py that misbehave on demand, and a second plughttpd),
balancing, health, keep-alive, retries, timeouts, header semantics,
re-framing, WebSocket, reload, and large bodies with flat memory."""

import json
import os
import re
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Server, parse_responses, server_ini  # noqa: E402
from proxy_upstream import Upstream, ws_frame, ws_read_frame  # noqa: E402

BIG = 64 * 1024 * 1024 if harness.WRAPPER else 1024 * 1024 * 1024


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def route(prefix, upstreams, extra=""):
    return "[route %s]\nplugin = proxy\nupstream = %s\n%s\n" % (prefix, " ".join(upstreams), extra.strip())


def proxy_server(routes, threads=1, server_extra=""):
    return Server(server_ini(routes, threads=threads, server_extra=server_extra))


def raw_request(srv, data, source=None, timeout=harness.IO_TIMEOUT):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    try:
        s.sendall(data)
        return harness.recv_all(s, timeout)
    finally:
        s.close()


def get(srv, path, **kw):
    return srv.get(path, **kw)


def who(resp):
    return json.loads(resp.body)["upstream"]


class Base(unittest.TestCase):
    def setUp(self):
        self.ups = []
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        for u in self.ups:
            u.close()

    def upstream(self, name, **kw):
        u = Upstream(name, **kw)
        self.ups.append(u)
        return u

    def server(self, routes, **kw):
        s = proxy_server(routes, **kw)
        self.servers.append(s)
        return s


class Balance(Base):
    def test_round_robin_alternates(self):
        a, b = self.upstream("a"), self.upstream("b")
        srv = self.server(route("/app", [a.address, b.address]))
        seen = [who(get(srv, "/app/x")) for _ in range(10)]
        self.assertEqual(seen, ["a", "b"] * 5)

    def test_least_conn_avoids_the_busy_one(self):
        a, b = self.upstream("a"), self.upstream("b")
        srv = self.server(route("/app", [a.address, b.address], "balance = least-conn"))
        held = threading.Thread(target=lambda: get(srv, "/app/hold"))
        held.start()
        self.assertTrue(harness.settle(lambda: a.count() + b.count(), lambda n: n == 1) == 1)
        busy, idle = (a, b) if a.count() else (b, a)
        seen = [who(get(srv, "/app/x")) for _ in range(4)]
        self.assertEqual(seen, [idle.name] * 4)
        busy.release.set()
        held.join(10)

    def test_hash_keeps_a_client_on_one_upstream(self):
        ups = [self.upstream(n) for n in "abc"]
        srv = self.server(route("/app", [u.address for u in ups], "balance = hash"))

        def fnv(s):
            h = 1469598103934665603
            for ch in s.encode():
                h = ((h ^ ch) * 1099511628211) % (1 << 64)
            return h

        picked = set()
        for last in range(2, 10):
            ip = "127.0.0.%d" % last
            want = "abc"[fnv(ip) % 3]
            for _ in range(3):
                r = parse_responses(raw_request(srv, b"GET /app/h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                                source=ip))[0]
                self.assertEqual(who(r), want, ip)
            picked.add(want)
        self.assertGreater(len(picked), 1)


class Health(Base):
    def test_passive_marks_down_and_recovers(self):
        dead_port = free_port()
        dead = "127.0.0.1:%d" % dead_port
        a = self.upstream("a")
        srv = self.server(route("/app", [dead, a.address], "max_fails = 1\nfail_timeout = 1500ms\nretries = 0"))
        r = get(srv, "/app/x")
        self.assertEqual(r.status, 502)
        marked = time.time()
        self.assertTrue(srv.wait_log(r"proxy /app: upstream %s: connect: Connection refused" % re.escape(dead)))
        self.assertTrue(srv.wait_log(r"proxy /app: upstream %s: marked down for 1500 ms after 1 failure" % re.escape(dead)))
        seen = [get(srv, "/app/x").status for _ in range(6)]
        self.assertEqual(seen, [200] * 6)
        self.assertEqual(a.count(), 6)
        revived = self.upstream("revived", port=dead_port)
        deadline = time.time() + 10
        while revived.count() == 0 and time.time() < deadline:
            self.assertEqual(get(srv, "/app/x").status, 200)
        self.assertEqual(revived.count(), 1)
        self.assertGreaterEqual(time.time() - marked, 1.45)

    def test_all_down_is_503(self):
        d1, d2 = "127.0.0.1:%d" % free_port(), "127.0.0.1:%d" % free_port()
        srv = self.server(route("/app", [d1, d2], "max_fails = 1\nfail_timeout = 30s\nretries = 1"))
        r = get(srv, "/app/x")
        self.assertEqual(r.status, 502)
        self.assertEqual(r.body, b"Bad Gateway: the upstream server is unreachable\n")
        self.assertTrue(srv.wait_log(r"upstream %s: connect: Connection refused" % re.escape(d1)))
        self.assertTrue(srv.wait_log(r"upstream %s: connect: Connection refused" % re.escape(d2)))
        r = get(srv, "/app/x")
        self.assertEqual(r.status, 503)
        self.assertEqual(r.body, b"Service Unavailable: no upstream server is available\n")
        self.assertTrue(srv.wait_log(r"proxy /app: no upstream available: all 2 marked down"))

    def test_active_check(self):
        a, b = self.upstream("a"), self.upstream("b")
        b.healthy = False
        srv = self.server(route("/app", [a.address, b.address], "health_check = /health\nhealth_interval = 100ms"),
                          threads=2)
        self.assertTrue(srv.wait_log(r"proxy /app: upstream %s: health check failed: marked down \(status 500\)"
                                     % re.escape(b.address)))
        self.assertEqual({who(get(srv, "/app/x")) for _ in range(6)}, {"a"})
        b.healthy = True
        self.assertTrue(srv.wait_log(r"proxy /app: upstream %s: health check passed: up again" % re.escape(b.address)))
        self.assertIn("b", {who(get(srv, "/app/x")) for _ in range(6)})
        # Each upstream is checked by one thread: checks on a come at the
        # interval, not once per thread.
        n0 = a.count("/health")
        time.sleep(1.0)
        self.assertLessEqual(a.count("/health") - n0, 12)


class KeepAlive(Base):
    def test_reuses_upstream_connections(self):
        a, b = self.upstream("a"), self.upstream("b")
        srv = self.server(route("/ka", [a.address], "keepalive = 4") + route("/noka", [b.address], "keepalive = 0"))
        for _ in range(20):
            self.assertEqual(get(srv, "/ka/x").status, 200)
            self.assertEqual(get(srv, "/noka/x").status, 200)
        self.assertEqual(a.connections, 1)
        self.assertEqual(b.connections, 20)
        self.assertEqual(b.requests[0].header("Connection"), "close")

    def test_streamed_answers_are_not_held_back(self):
        # The answer's last bytes must leave at once, not when the kernel's
        # MSG_MORE hold expires (200 ms): 10 answers take well under 1 s.
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address]))
        s = srv.connect()
        t0 = time.time()
        for i in range(10):
            s.sendall(b"GET /app/fixed HTTP/1.1\r\nHost: x\r\n\r\n")
            r = harness.read_responses(s, 1)[0]
            self.assertEqual((r.status, r.body), (200, b"0123456789"))
        s.close()
        self.assertLess(time.time() - t0, 1.0)

    def test_answer_ending_with_its_length_is_not_held_back(self):
        # An origin that sends head and 1 KiB body at once: the proxy reads
        # it whole, so its stream ends right after the body went out with
        # MSG_MORE; those bytes must be pushed then, not after the kernel's
        # hold (200 ms, then a delayed ACK's 40 ms each): 20 answers take
        # well under 0.5 s, where held ones take about 1 s.
        body = b"x" * 1023 + b"\n"
        origin = Server(server_ini("[route /files]\nplugin = static\nroot = www\n"), files={"www/k.txt": body})
        self.servers.append(origin)
        srv = self.server(route("/files", ["127.0.0.1:%d" % origin.port]))
        s = srv.connect()
        t0 = time.time()
        for i in range(20):
            s.sendall(b"GET /files/k.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            r = harness.read_responses(s, 1)[0]
            self.assertEqual((r.status, r.body), (200, body))
        s.close()
        self.assertLess(time.time() - t0, 0.5)

    def test_pooled_connection_closed_is_retried_for_get_only(self):
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address], "max_fails = 0"))
        # /flaky: the upstream drops the connection at its second request
        self.assertEqual(get(srv, "/app/flaky/1").status, 200)
        r = get(srv, "/app/flaky/2")
        self.assertEqual(r.status, 200)
        self.assertEqual(a.connections, 2)
        self.assertEqual(a.count("/app/flaky/2"), 2)  # once on the dead one, once anew
        r = get(srv, "/app/flaky/3", method="POST", body=b"once")
        self.assertEqual(r.status, 502)
        self.assertEqual(a.count("/app/flaky/3"), 1)


class Retries(Base):
    def test_only_idempotent_requests_go_elsewhere(self):
        bad, good = self.upstream("bad"), self.upstream("good")
        srv = self.server(route("/app", [bad.address, good.address], "max_fails = 0\nretries = 1\nkeepalive = 0"))
        self.assertEqual([get(srv, "/app/drop").status for _ in range(2)], [502, 502])
        # /drop closes on both: each GET tried both upstreams
        self.assertEqual((bad.count(), good.count()), (2, 2))
        p1 = get(srv, "/app/drop/p", method="POST", body=b"x")
        p2 = get(srv, "/app/drop/p", method="POST", body=b"x")
        self.assertEqual([p1.status, p2.status], [502, 502])
        self.assertEqual((bad.count("/app/drop/p"), good.count("/app/drop/p")), (1, 1))
        r = get(srv, "/app/drop/q", method="PUT", body=b"x")
        self.assertEqual(r.status, 502)
        self.assertEqual(bad.count("/app/drop/q") + good.count("/app/drop/q"), 2)

    def test_connect_failure_goes_to_the_next(self):
        dead = "127.0.0.1:%d" % free_port()
        a = self.upstream("a")
        srv = self.server(route("/app", [dead, a.address], "max_fails = 0\nretries = 1"))
        self.assertEqual([get(srv, "/app/x").status for _ in range(4)], [200] * 4)
        self.assertEqual(a.count(), 4)


class Timeouts(Base):
    def test_each_timeout(self):
        # a listener that never accepts, its queue full: connects hang
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(0)
        fillers = []
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(hole.getsockname())
            fillers.append(f)
        a = self.upstream("a")
        hole_addr = "127.0.0.1:%d" % hole.getsockname()[1]
        srv = self.server(route("/c", [hole_addr], "connect_timeout = 300ms\nread_timeout = 5s\nsend_timeout = 5s")
                          + route("/r", [a.address], "connect_timeout = 5s\nread_timeout = 700ms\nsend_timeout = 5s")
                          + route("/s", [a.address], "connect_timeout = 5s\nread_timeout = 5s\nsend_timeout = 1100ms\n"
                                  "max_body_bytes = 1g"))
        try:
            t0 = time.time()
            r = get(srv, "/c/x")
            dt = time.time() - t0
            self.assertEqual(r.status, 504)
            self.assertEqual(r.body, b"Gateway Timeout: the upstream server did not answer in time\n")
            self.assertTrue(srv.wait_log(r"proxy /c: upstream %s: connect: timed out \(connect_timeout\)"
                                         % re.escape(hole_addr)))
            self.assertTrue(0.29 <= dt < 3.0, dt)

            t0 = time.time()
            r = get(srv, "/r/stall")
            dt = time.time() - t0
            self.assertEqual(r.status, 504)
            self.assertTrue(srv.wait_log(r"proxy /r: upstream %s: read: timed out \(read_timeout\)" % re.escape(a.address)))
            self.assertTrue(0.69 <= dt < 3.5, dt)

            size = 64 * 1024 * 1024
            s = srv.connect(timeout=20)
            s.sendall(b"POST /s/nobody-read HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
            t0 = time.time()
            sender = threading.Thread(target=lambda: _send_zeros(s, size), daemon=True)
            sender.start()
            resp = b""
            s.settimeout(20)
            while b"\r\n\r\n" not in resp:
                d = s.recv(65536)
                if not d:
                    break
                resp += d
            dt = time.time() - t0
            self.assertTrue(resp.startswith(b"HTTP/1.1 504 "), resp[:100])
            self.assertTrue(srv.wait_log(r"proxy /s: upstream %s: send: timed out \(send_timeout\)" % re.escape(a.address)))
            self.assertTrue(1.09 <= dt < 6.0, dt)
            s.close()
        finally:
            for f in fillers:
                f.close()
            hole.close()


def _send_zeros(s, n):
    chunk = b"\0" * (1 << 20)
    try:
        while n > 0:
            k = min(n, len(chunk))
            s.sendall(chunk[:k])
            n -= k
    except OSError:
        pass


class Errors(Base):
    def test_refused_and_bad_head_are_502(self):
        dead = "127.0.0.1:%d" % free_port()
        a = self.upstream("a")
        srv = self.server(route("/dead", [dead], "retries = 0") + route("/app", [a.address], "max_fails = 0"))
        r = get(srv, "/dead/x")
        self.assertEqual((r.status, r.body), (502, b"Bad Gateway: the upstream server is unreachable\n"))
        self.assertTrue(srv.wait_log(r"proxy /dead: upstream %s: connect: Connection refused$" % re.escape(dead)))
        r = get(srv, "/app/garbage")
        self.assertEqual((r.status, r.body), (502, b"Bad Gateway: the upstream server failed to answer\n"))
        self.assertTrue(srv.wait_log(r"proxy /app: upstream %s: bad response head" % re.escape(a.address)))
        r = get(srv, "/app/drop")
        self.assertEqual(r.status, 502)
        self.assertTrue(srv.wait_log(r"proxy /app: upstream %s: read: connection closed before a whole response head"
                                     % re.escape(a.address)))

    def test_transfer_coding_besides_chunked_is_502(self):
        # the proxy decodes chunked only: passing a gzip-coded body on
        # without its Transfer-Encoding would hand the client gzip bytes as
        # the content, so the answer is refused
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address], "max_fails = 0"))
        r = get(srv, "/app/te-gzip")
        self.assertEqual((r.status, r.body), (502, b"Bad Gateway: the upstream server failed to answer\n"))
        self.assertTrue(srv.wait_log(r'proxy /app: upstream %s: Transfer-Encoding "gzip, chunked" not supported$'
                                     % re.escape(a.address)))

    def test_client_gone_mid_body_is_not_an_upstream_error(self):
        # the client leaves while the proxy waits for more of the
        # upstream's body: its wait is cancelled, which is no fault of the
        # upstream's and is not logged as one
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address], "read_timeout = 20s"))
        s = srv.connect()
        s.sendall(b"GET /app/partial HTTP/1.1\r\nHost: x\r\n\r\n")
        head = harness.read_head(s)
        self.assertIn(b"Content-Length: 100", head)
        s.close()
        self.assertTrue(srv.wait_log(r'handler for "/app/partial" finished'))
        a.release.set()
        self.assertNotIn("response body", srv.log())
        self.assertNotIn("[error]", srv.log())

    def test_status_out_of_range_is_502(self):
        # a status code is 100..599 (RFC 9110 section 15): another is the
        # upstream's fault, answered 502 like any bad head, not a 500
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address], "max_fails = 0"))
        r = get(srv, "/app/status999")
        self.assertEqual((r.status, r.body), (502, b"Bad Gateway: the upstream server failed to answer\n"))
        self.assertTrue(srv.wait_log(r"proxy /app: upstream %s: status 999 out of range$" % re.escape(a.address)))

    def test_cut_response_aborts_the_client(self):
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address], "max_fails = 0"))
        data = raw_request(srv, b"GET /app/cut HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: 100", head)
        self.assertEqual(body, b"0123456789")  # then the connection closed
        self.assertTrue(srv.wait_log(r"proxy /app: upstream %s: response body: read: connection closed; "
                                     r"client connection aborted" % re.escape(a.address)))
        data = raw_request(srv, b"GET /app/chunkcut HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Transfer-Encoding: chunked", head)
        self.assertNotIn(b"\r\n0\r\n\r\n", body)
        self.assertIn(b"0123456789", body)


REQ_HEADERS = (b"Host: example.test\r\nConnection: close, X-Foo\r\nX-Foo: secret\r\nKeep-Alive: timeout=5\r\n"
               b"TE: trailers\r\nProxy-Authorization: Basic abc\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\n"
               b"X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\n"
               b"Forwarded: for=1.2.3.4\r\nVia: 1.1 edge\r\nAccept: */*\r\n")


class Headers(Base):
    def sent(self, srv, up, prefix):
        n = up.count()
        data = raw_request(srv, b"GET " + prefix + b"/h?q=1 HTTP/1.1\r\n" + REQ_HEADERS + b"\r\n", timeout=5)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:200])
        self.assertTrue(up.wait_requests(n + 1))
        return up.requests[n]

    def test_request_fields_untrusted_peer(self):
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address]))
        req = self.sent(srv, a, b"/app")
        self.assertEqual(req.target, "/app/h?q=1")
        self.assertEqual(req.headers, [
            ("Host", "example.test"), ("Via", "1.1 edge"), ("Accept", "*/*"),
            ("Forwarded", 'for=127.0.0.1;proto=http;host="example.test"'),
            ("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Host", "example.test")])

    def test_request_fields_trusted_peer_and_host_set(self):
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address], "trusted_proxies = 10.0.0.0/8 127.0.0.0/8\nhost = backend.internal\n"
                                "via = yes"))
        req = self.sent(srv, a, b"/app")
        self.assertEqual(req.headers, [
            ("Host", "backend.internal"), ("Via", "1.1 edge"), ("Accept", "*/*"),
            ("Forwarded", 'for=1.2.3.4, for=127.0.0.1;proto=http;host="example.test"'),
            ("X-Forwarded-For", "1.2.3.4, 127.0.0.1"), ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.test"), ("Via", "1.1 plughttpd")])

    def test_too_many_connection_options(self):
        # every field Connection names must be dropped: past what the proxy
        # tracks, the message is refused rather than passed with some left
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address], "max_fails = 0"))
        opts = ", ".join("x-o%d" % i for i in range(40))
        r = get(srv, "/app/x", headers={"Connection": "close, " + opts})
        self.assertEqual((r.status, r.body), (400, b"Bad Request: too many Connection options\n"))
        self.assertEqual(a.count(), 0)
        r = get(srv, "/app/manyconn")
        self.assertEqual(r.status, 502)
        self.assertTrue(srv.wait_log(r"upstream %s: response head not passed on" % re.escape(a.address)))

    def test_response_fields(self):
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address]))
        r = get(srv, "/app/hop")
        self.assertEqual(r.status, 200)
        names = [k.lower() for k, _ in r.headers]
        for gone in ("x-bar", "keep-alive", "proxy-authenticate", "trailer", "upgrade"):
            self.assertNotIn(gone, names)
        self.assertEqual(r.header("X-Keep"), "yes")
        self.assertEqual(r.header_all("Server"), [r.header("Server")])
        self.assertNotEqual(r.header("Server"), "upstream/1")
        self.assertNotEqual(r.header("Date"), "Mon, 01 Jan 2001 00:00:00 GMT")
        self.assertEqual(r.body, b"ok")


def chunked(data, size=4096):
    out = b""
    for i in range(0, len(data), size):
        part = data[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


class Framing(Base):
    def test_request_bodies(self):
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address], "max_body_bytes = 16m"))
        small = os.urandom(1000)
        big = os.urandom(200 * 1024)
        for body, te, framing in ((small, True, "length"), (big, True, "chunked"), (big, False, "length")):
            hdrs = {"Transfer-Encoding": "chunked"} if te else {}
            r = get(srv, "/app/b", method="POST", headers=hdrs, body=chunked(body) if te else body)
            self.assertEqual(r.status, 200)
            info = json.loads(r.body)
            self.assertEqual(info["framing"], framing)
            self.assertEqual(info["body_len"], len(body))
            import hashlib
            self.assertEqual(info["body_sha"], hashlib.sha256(body).hexdigest())

    def test_expect_continue(self):
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address]))
        s = srv.connect()
        s.sendall(b"POST /app/e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
                  b"Connection: close\r\n\r\n")
        self.assertEqual(harness.read_head(s), b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"hello")
        r = parse_responses(harness.recv_all(s))[0]
        s.close()
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["body_len"], 5)
        self.assertIsNone(a.requests[-1].header("Expect"))

    def test_response_bodies(self):
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address]))
        r = get(srv, "/app/chunked")
        self.assertEqual((r.status, r.body, r.header("Transfer-Encoding")), (200, b"hello world", "chunked"))
        r = get(srv, "/app/until-close")
        self.assertEqual((r.status, r.body, r.header("Transfer-Encoding")), (200, b"all of it, then close", "chunked"))
        data = raw_request(srv, b"GET /app/until-close HTTP/1.0\r\nHost: x\r\n\r\n")
        self.assertTrue(data.endswith(b"\r\n\r\nall of it, then close"), data)

    def test_informational_and_bodiless(self):
        a = self.upstream("a")
        srv = self.server(route("/app", [a.address]))
        data = raw_request(srv, b"GET /app/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 "),
                        data)
        self.assertNotIn(b"100 Continue", data)
        self.assertTrue(data.endswith(b"\r\n\r\nfinal"))
        r = get(srv, "/app/204")
        self.assertEqual((r.status, r.header("X-Kind"), r.header("Content-Length")), (204, "none", None))
        r = get(srv, "/app/304")
        self.assertEqual((r.status, r.header("ETag")), (304, '"v1"'))
        # HEAD keeps the upstream's Content-Length, and the connection
        s = srv.connect()
        s.sendall(b"HEAD /app/fixed HTTP/1.1\r\nHost: x\r\n\r\nGET /app/fixed HTTP/1.1\r\nHost: x\r\n\r\n")
        head, get_ = harness.read_responses(s, 2, head=[True, False])
        s.close()
        self.assertEqual((head.status, head.header("Content-Length"), head.body), (200, "10", b""))
        self.assertEqual((get_.status, get_.body), (200, b"0123456789"))


class WebSocket(Base):
    def test_echo_through_the_proxy(self):
        a = self.upstream("a")
        srv = self.server(route("/ws", [a.address], "websocket = yes\ntunnel_timeout = 5s") + route("/nows", [a.address]))
        s = srv.connect()
        s.sendall(b"GET /ws/chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                  + ws_frame(1, b"hello"))
        head = harness.read_head(s)
        self.assertIn(b"101", head.split(b"\r\n")[0])
        self.assertIn(b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head)
        buf = b""
        frame, buf = ws_read_frame(s, buf)
        self.assertEqual(frame, (1, b"hello"))
        big = os.urandom(300000)
        s.sendall(ws_frame(2, big))
        frame, buf = ws_read_frame(s, buf)
        self.assertEqual(frame, (2, big))
        s.sendall(ws_frame(8, b""))
        frame, buf = ws_read_frame(s, buf)
        self.assertEqual(frame[0], 8)
        s.close()
        self.assertNotIn("invalid status", srv.log())
        # an HTTP/1.0 client cannot switch protocols: a plain GET upstream
        data = raw_request(srv, b"GET /ws/old HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:200])
        self.assertIsNone(a.requests[-1].header("Upgrade"))
        # without websocket = yes the Upgrade is not forwarded: a plain GET
        r = get(srv, "/nows/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade, close",
                                          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        self.assertEqual(r.status, 200)
        self.assertIsNone(a.requests[-1].header("Upgrade"))


    def test_both_ways_at_once(self):
        # 32 MiB through an echo upstream that writes each piece whole
        # before reading on, while the client sends and reads at once:
        # every byte comes back, in time (no direction starves the other).
        n = (4 if harness.WRAPPER else 32) << 20
        a = self.upstream("a")
        srv = self.server(route("/ws", [a.address], "websocket = yes\nsend_timeout = 20s"))
        s = srv.connect(timeout=30)
        s.sendall(b"GET /ws/echo-bytes HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.assertIn(b" 101 ", harness.read_head(s))
        t0 = time.time()
        sender = threading.Thread(target=lambda: _send_zeros(s, n), daemon=True)
        sender.start()
        got = 0
        s.settimeout(30)
        try:
            while got < n:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += len(d)
        except socket.timeout:
            pass
        dt = time.time() - t0
        s.close()
        sender.join(30)
        self.assertEqual(got, n)
        self.assertLess(dt, 15.0)

    def test_client_not_reading_closes_after_send_timeout(self):
        # the upstream writes without end to a client that never reads:
        # the tunnel holds one buffer, closes after send_timeout (not
        # tunnel_timeout, and not reported as idle)
        a = self.upstream("a")
        srv = self.server(route("/ws", [a.address], "websocket = yes\nsend_timeout = 600ms\ntunnel_timeout = 30s"))
        s = srv.connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /ws/flood HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.assertTrue(srv.wait_log(r"proxy /ws: upstream %s: tunnel: the client read nothing for send_timeout: "
                                     r"closed$" % re.escape(a.address), timeout=10))
        self.assertNotIn("tunnel idle", srv.log())
        s.close()

    def test_idle_tunnel_closes_after_tunnel_timeout(self):
        a = self.upstream("a")
        srv = self.server(route("/ws", [a.address], "websocket = yes\ntunnel_timeout = 400ms\nread_timeout = 5s"))
        s = srv.connect()
        s.sendall(b"GET /ws/idle HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.assertIn(b" 101 ", harness.read_head(s))
        t0 = time.time()
        rest = harness.recv_all(s, 5)  # nothing comes; the proxy closes
        dt = time.time() - t0
        s.close()
        self.assertEqual(rest, b"")
        self.assertTrue(0.39 <= dt < 3.0, dt)
        self.assertTrue(srv.wait_log(r"proxy /ws: upstream %s: tunnel idle past tunnel_timeout: closed"
                                     % re.escape(a.address)))


class Reload(Base):
    def test_in_flight_requests_finish_on_the_old_generation(self):
        a, b = self.upstream("a"), self.upstream("b")
        srv = self.server(route("/app", [a.address]))
        out = {}
        t = threading.Thread(target=lambda: out.setdefault("r", get(srv, "/app/slow?ms=1500")))
        t.start()
        self.assertTrue(a.wait_requests(1))
        start = harness.log_count(srv)
        with open(srv.ini, "w") as f:
            f.write(server_ini(route("/app", [b.address])))
        srv.signal(signal.SIGHUP)
        m, _ = harness.wait_log_from(srv, r"reload: generation \d+ serving|reload failed", start)
        self.assertTrue(m and "serving" in m.group(0))
        self.assertEqual(who(get(srv, "/app/new")), "b")
        t.join(10)
        self.assertEqual((out["r"].status, who(out["r"])), (200, "a"))


class Volume(Base):
    def test_big_upload_and_download_keep_memory_flat(self):
        a = self.upstream("a")
        files = {"www/placeholder": b""}
        origin = Server(server_ini("[route /files]\nplugin = static\nroot = www\n"), files=files)
        self.servers.append(origin)
        with open(os.path.join(origin.dir, "www", "big.bin"), "wb") as f:
            f.truncate(BIG)
        srv = self.server(route("/files", ["127.0.0.1:%d" % origin.port])
                          + route("/up", [a.address], "max_body_bytes = 2g"),
                          server_extra="handler_timeout = 600s")
        pid = srv.serving_pid()
        get(srv, "/files/placeholder")
        base = harness.proc_rss_kib(pid)
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], harness.proc_rss_kib(pid))
                time.sleep(0.05)
        threading.Thread(target=sample, daemon=True).start()
        try:
            s = srv.connect(timeout=60)
            s.sendall(b"GET /files/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = harness.read_head(s, timeout=60)
            self.assertIn(b"Content-Length: %d" % BIG, head)
            got = 0
            s.settimeout(60)
            while True:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += len(d)
            s.close()
            self.assertEqual(got, BIG)

            s = srv.connect(timeout=60)
            s.sendall(b"POST /up/sink HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % BIG)
            _send_zeros(s, BIG)
            data = harness.recv_all(s, 60)
            s.close()
            r = parse_responses(data)[0]
            self.assertEqual((r.status, json.loads(r.body)["body_len"]), (200, BIG))
        finally:
            done.set()
        if not harness.SANITIZED:
            self.assertLess(peak[0] - base, 32 * 1024, "RSS grew from %d to %d KiB" % (base, peak[0]))

    def test_upstream_killed_mid_run(self):
        a = self.upstream("a")
        origin = Server(server_ini("[route /app]\nplugin = echo\n"))
        self.servers.append(origin)
        srv = self.server(route("/app", ["127.0.0.1:%d" % origin.port, a.address], "retries = 1\nmax_fails = 1\n"
                                "fail_timeout = 30s"))
        statuses = []
        for i in range(60):
            if i == 20:
                origin.stop(signal.SIGKILL)
            statuses.append(get(srv, "/app/x%d" % i).status)
        self.assertEqual(statuses, [200] * 60)
        self.assertTrue(srv.wait_log(r"upstream 127.0.0.1:%d: marked down" % origin.port))


if __name__ == "__main__":
    harness.main()
