#!/usr/bin/env python3
"""The pubsub plugin (plugins/pubsub): publishing, Server-Sent Events with
exact bytes, Last-Event-ID resumption, the ring's overflow, long polls
(message and timeout), limits and their errors, fan-out over two worker
threads, many subscribers, cleanup of subscribers that leave, channel
expiry, shutdown and reloads with subscribers connected."""

import json
import os
import resource
import selectors
import signal
import socket
import threading
import time
import unittest

import harness
from harness import Server, recv_until_closed, server_ini, settle

# Fewer subscribers under valgrind, where each connection costs far more.
MANY = 200 if harness.WRAPPER else 2000
SCALE = 10 if harness.WRAPPER else 1

ROUTES = """
[route /ps]
plugin = pubsub
buffer = 4
heartbeat = 1h
poll_timeout = 20s

[route /short]
plugin = pubsub
poll_timeout = 700ms

[route /hb]
plugin = pubsub
heartbeat = 200ms

[route /lim]
plugin = pubsub
max_channels = 2
channel_subscribers = 2
max_subscribers = 3
message_max = 16
channel_name_max = 8
poll_timeout = 20s

[route /bad]
plugin = pubsub
message_max = 16
channel_name_max = 8

[route /bytes]
plugin = pubsub
buffer = 8
buffer_bytes = 40
message_max = 10

[route /lf]
plugin = pubsub
buffer = 64
buffer_bytes = 8k
message_max = 1000

[route /exp]
plugin = pubsub
channel_timeout = 400ms
"""


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want), hard))


def pubsub_ini(routes=ROUTES, threads=2, extra="processes = 0"):
    return server_ini(routes=routes, threads=threads, server_extra=extra)


class Stream:
    """An event-stream subscriber on a raw socket (HTTP/1.0 by default, so
    the body is the plugin's bytes with no chunk framing)."""

    def __init__(self, srv, path, headers=(), version="1.0"):
        self.sock = srv.connect()
        req = "GET %s HTTP/%s\r\nHost: x\r\nAccept: text/event-stream\r\n" % (path, version)
        req += "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
        self.sock.sendall(req.encode())
        self.buf = b""
        self.head = None

    def _fill(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            b = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not b:
            return False
        self.buf += b
        if self.head is None and b"\r\n\r\n" in self.buf:
            self.head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return True

    def read_head(self, timeout=harness.IO_TIMEOUT):
        deadline = time.time() + timeout
        while self.head is None and self._fill(deadline):
            pass
        return self.head

    def read_until(self, want, timeout=harness.IO_TIMEOUT):
        """Body bytes until want appears (or the timeout); returns them all."""
        deadline = time.time() + timeout
        while (self.head is None or want not in self.buf) and self._fill(deadline):
            pass
        return self.buf

    def close(self):
        self.sock.close()


def frame(i, *lines):
    return b"id: %d\n" % i + b"".join(b"data: " + l + b"\n" for l in lines) + b"\n"


class PubsubTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise_nofile(MANY + 500)
        cls.srv = Server(pubsub_ini(), rlimit_nofile=MANY + 500)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    # --- helpers -------------------------------------------------------------
    def publish(self, path, body, headers=None):
        r = self.srv.get(path, method="POST", body=body, headers=headers)
        return r

    def stats(self, path):
        r = self.srv.get(path, headers={"Accept": "application/json"})
        return r.status, (json.loads(r.body) if r.body else None)

    def wait_subscribers(self, path, n, srv=None):
        srv = srv or self.srv
        get = lambda: srv.get(path, headers={"Accept": "application/json"})
        r = settle(get, lambda r: r.status == 200 and json.loads(r.body)["subscribers"] == n,
                   timeout=10 * SCALE)
        self.assertEqual((r.status, json.loads(r.body)["subscribers"]), (200, n), r.body)

    def open_stream(self, path, n=1, **kw):
        s = Stream(self.srv, path, **kw)
        self.addCleanup(s.close)
        return s

    # --- publishing -----------------------------------------------------------
    def test_publish_answers_202_then_201(self):
        r = self.publish("/ps/answers", b"first")
        self.assertEqual(r.status, 202)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(r.body, b'{"id":1,"subscribers":0}\n')
        s = self.open_stream("/ps/answers")
        self.wait_subscribers("/ps/answers", 1)
        r = self.publish("/ps/answers", b"second")
        self.assertEqual(r.status, 201)
        self.assertEqual(r.body, b'{"id":2,"subscribers":1}\n')
        self.assertEqual(s.read_until(b"\n\n"), frame(2, b"second"))

    def test_sse_exact_bytes_and_multiline(self):
        s = self.open_stream("/ps/frame")
        self.wait_subscribers("/ps/frame", 1)
        for body in (b"one", b"a\nb\r\nc\rd", b"", b"x\n"):
            self.assertEqual(self.publish("/ps/frame", body).status, 201)
        want = (frame(1, b"one") + frame(2, b"a", b"b", b"c", b"d") + frame(3, b"") +
                frame(4, b"x", b""))
        body = s.read_until(want)
        head = s.head.split(b"\r\n")
        self.assertEqual(head[0], b"HTTP/1.1 200 OK")
        self.assertIn(b"Content-Type: text/event-stream", head)
        self.assertIn(b"Cache-Control: no-store", head)
        self.assertEqual(body, want)

    def test_events_go_out_at_once(self):
        # An event written before the stream waits again must leave at
        # once, not sit in the kernel's send queue as output "with more to
        # come" (MSG_MORE) until its 200 ms timer. Medians of 5: the
        # difference is 0.2 ms against 200 ms.
        for version in ("1.0", "1.1"):
            s = self.open_stream("/ps/latency" + version, version=version)
            self.wait_subscribers("/ps/latency" + version, 1)
            took = []
            for i in range(1, 6):
                t0 = time.monotonic()
                self.publish("/ps/latency" + version, b"t%d" % i)
                s.read_until(b"t%d\n\n" % i)
                took.append(time.monotonic() - t0)
            took.sort()
            self.assertLess(took[2], 0.1, (version, took))

    def test_heartbeat_comment(self):
        hb = b": heartbeat\n\n"
        s = self.open_stream("/hb/beat")
        data = s.read_until(hb * 2, timeout=5 * SCALE)
        self.assertTrue(data.startswith(hb * 2), data)
        self.assertEqual(data.replace(hb, b""), b"")
        self.wait_subscribers("/hb/beat", 1)
        self.publish("/hb/beat", b"m")
        # whole heartbeats and whole events only, never one inside the other
        self.assertEqual(s.read_until(frame(1, b"m")).replace(hb, b""), frame(1, b"m"))

    # --- resuming -------------------------------------------------------------
    def test_last_event_id_resumes(self):
        for m in (b"m1", b"m2", b"m3"):
            self.publish("/ps/resume", m)
        s = self.open_stream("/ps/resume", headers=[("Last-Event-ID", "1")])
        self.assertEqual(s.read_until(frame(3, b"m3")), frame(2, b"m2") + frame(3, b"m3"))
        self.wait_subscribers("/ps/resume", 1)
        self.publish("/ps/resume", b"m4")
        self.assertEqual(s.read_until(frame(4, b"m4")), frame(2, b"m2") + frame(3, b"m3") + frame(4, b"m4"))
        # the query form, and the header winning over it
        q = self.open_stream("/ps/resume?last_event_id=3")
        self.assertEqual(q.read_until(b"\n\n"), frame(4, b"m4"))
        h = self.open_stream("/ps/resume?last_event_id=1", headers=[("Last-Event-ID", "3")])
        self.assertEqual(h.read_until(b"\n\n"), frame(4, b"m4"))
        # no id: only what comes next
        n = self.open_stream("/ps/resume")
        self.wait_subscribers("/ps/resume", 4)
        self.publish("/ps/resume", b"m5")
        self.assertEqual(n.read_until(b"\n\n"), frame(5, b"m5"))

    def test_buffer_overflow_keeps_the_newest(self):
        for i in range(1, 11):
            self.publish("/ps/over", b"n%d" % i)
        st, j = self.stats("/ps/over")
        self.assertEqual((st, j["last_id"], j["oldest_id"], j["buffered"]), (200, 10, 7, 4))
        s = self.open_stream("/ps/over", headers=[("Last-Event-ID", "2")])
        want = b"".join(frame(i, b"n%d" % i) for i in range(7, 11))
        self.assertEqual(s.read_until(want), want)
        r = self.srv.get("/ps/over?after=1")
        self.assertEqual((r.status, r.header("X-Event-Id"), r.body), (200, "7", b"n7"))
        # an id ahead of the channel (it started again): what is buffered
        s2 = self.open_stream("/ps/over", headers=[("Last-Event-ID", "500")])
        self.assertEqual(s2.read_until(want), want)

    def test_buffer_bytes_bound_the_ring(self):
        for i in range(1, 5):
            # 4 bytes and a 12-byte event frame each, 40 kept at most
            self.publish("/bytes/b", b"b%03d" % i)
        st, j = self.stats("/bytes/b")
        self.assertEqual((j["last_id"], j["oldest_id"], j["buffered"]), (4, 3, 2))
        self.publish("/bytes/b", b"x" * 10)  # 10 + 18: alone it fills the ring
        st, j = self.stats("/bytes/b")
        self.assertEqual((j["last_id"], j["oldest_id"], j["buffered"]), (5, 5, 1))
        r = self.srv.get("/bytes/b?after=0")
        self.assertEqual((r.status, r.header("X-Event-Id"), r.body), (200, "5", b"x" * 10))

    def test_buffer_bytes_count_the_event_frames(self):
        # A message keeps its body and its event frame, 7 bytes a line
        # ("data: ", LF): a body of line breaks takes 8 times its size.
        # buffer_bytes bounds both, so the ring holds what it says.
        for i in range(8):
            self.publish("/lf/text", b"x" * 1000)  # 1000 + 1008 bytes
            self.publish("/lf/breaks", b"\n" * 1000)  # 1000 + 8008 bytes
        st, j = self.stats("/lf/text")
        self.assertEqual((j["last_id"], j["oldest_id"], j["buffered"]), (8, 5, 4))
        st, j = self.stats("/lf/breaks")
        self.assertEqual((j["last_id"], j["oldest_id"], j["buffered"]), (8, 8, 1))
        r = self.srv.get("/lf/breaks?after=0")
        self.assertEqual((r.status, r.header("X-Event-Id"), r.body), (200, "8", b"\n" * 1000))

    # --- long polls -----------------------------------------------------------
    def test_long_poll_gets_the_next_message(self):
        self.publish("/ps/lp", b"old")
        out = {}

        def poll():
            t0 = time.time()
            out["r"] = self.srv.get("/ps/lp", timeout=30)
            out["t"] = time.time() - t0

        t = threading.Thread(target=poll)
        t.start()
        self.wait_subscribers("/ps/lp", 1)
        self.publish("/ps/lp", b"fresh\nline", headers={"Content-Type": "text/plain; charset=utf-8"})
        t.join(30)
        r = out["r"]
        self.assertEqual((r.status, r.header("X-Event-Id"), r.body), (200, "2", b"fresh\nline"))
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        self.assertLess(out["t"], 15)  # the message, not the 20 s poll_timeout
        # a poll for an id already buffered is answered at once
        r = self.srv.get("/ps/lp?after=0")
        self.assertEqual((r.status, r.header("X-Event-Id"), r.body), (200, "1", b"old"))
        # a Content-Type a response header could not carry (a tab) is not kept
        self.publish("/ps/lp", b"t", headers={"Content-Type": "text/plain;\tcharset=utf-8"})
        r = self.srv.get("/ps/lp?after=2")
        self.assertEqual((r.status, r.header("Content-Type"), r.body), (200, "application/octet-stream", b"t"))
        self.wait_subscribers("/ps/lp", 0)

    def test_long_poll_answer_cannot_run_in_the_page_origin(self):
        # Anyone may publish, with any Content-Type: a poll answered with a
        # publisher's text/html must not run as a page of this server.
        self.publish("/ps/xss", b"<script>alert(1)</script>", headers={"Content-Type": "text/html"})
        r = self.srv.get("/ps/xss?after=0")
        self.assertEqual((r.status, r.header("Content-Type"), r.body),
                         (200, "text/html", b"<script>alert(1)</script>"))
        self.assertEqual(r.header("Content-Security-Policy"), "sandbox; default-src 'none'")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    def test_accept_q0_refuses_a_type(self):
        # RFC 9110 12.4.2: q=0 marks a type not acceptable: no event
        # stream nor JSON for a client that refuses them; a long poll.
        self.publish("/ps/q0", b"m")
        for accept in ("text/event-stream;q=0", "text/event-stream; q=0.000, */*",
                       "application/json;Q=0.0"):
            r = self.srv.get("/ps/q0?after=0", headers={"Accept": accept})
            self.assertEqual((r.status, r.header("X-Event-Id"), r.body), (200, "1", b"m"), accept)
        r = self.srv.get("/ps/q0", headers={"Accept": "application/json;q=0.001"})
        self.assertEqual((r.status, json.loads(r.body)["last_id"]), (200, 1))

    def test_long_poll_timeout_answers_204(self):
        self.publish("/short/t", b"x")
        t0 = time.time()
        r = self.srv.get("/short/t?after=1", timeout=30)
        took = time.time() - t0
        self.assertEqual((r.status, r.header("X-Event-Id"), r.body), (204, "1", b""))
        self.assertGreaterEqual(took, 0.69)
        self.assertLess(took, 5 * SCALE)  # 700 ms, far below handler_timeout's 60 s
        r = self.srv.get("/short/t?after=x")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.body, b'{"error":"after must be a decimal event id","status":400}\n')

    # --- errors and limits ------------------------------------------------------
    def test_bad_requests(self):
        cases = [
            ("POST", "/bad/waytoolongname", b"x", {}, 400, "channel name longer than 8 bytes"),
            ("POST", "/bad/a%20b", b"x", {}, 400, "channel names use only A-Z a-z 0-9 - . _ ~"),
            ("POST", "/bad/a/b", b"x", {}, 400, "channel names use only A-Z a-z 0-9 - . _ ~"),
            ("POST", "/bad/big", b"x" * 17, {}, 413, "message larger than 16 bytes (message_max)"),
            ("GET", "/bad/", None, {}, 404, "no channel in the path: use PREFIX/CHANNEL"),
            ("GET", "/bad/nosuch", None, {"Accept": "application/json"}, 404, "no such channel"),
            ("PUT", "/bad/a", b"x", {}, 405, "use GET to subscribe or POST to publish"),
            ("GET", "/bad/a", None, {"Accept": "text/event-stream", "Last-Event-ID": "-1"}, 400,
             "Last-Event-ID must be a decimal event id"),
        ]
        for method, path, body, headers, status, msg in cases:
            r = self.srv.get(path, method=method, body=body, headers=headers)
            self.assertEqual(r.status, status, (method, path, r.body))
            self.assertEqual(r.header("Content-Type"), "application/json")
            self.assertEqual(json.loads(r.body), {"error": msg, "status": status}, (method, path))
        r = self.srv.get("/bad/a", method="DELETE")
        self.assertEqual(r.header("Allow"), "GET, POST")
        self.assertEqual(self.publish("/bad/max", b"x" * 16).status, 202)
        # the server still serves everyone
        self.assertEqual(self.publish("/ps/still", b"ok").status, 202)

    def test_limits_answer_503(self):
        busy = lambda r, msg: (r.status, r.header("Retry-After"), json.loads(r.body)) == \
            (503, "1", {"error": msg, "status": 503})
        a1 = self.open_stream("/lim/one")
        a2 = self.open_stream("/lim/one")
        self.wait_subscribers("/lim/one", 2)
        r = self.srv.get("/lim/one", headers={"Accept": "text/event-stream"})
        self.assertTrue(busy(r, "too many subscribers on this channel: channel_subscribers reached"), r.body)
        self.publish("/lim/two", b"x")  # the second channel (max_subscribers 3, max_channels 2)
        r = self.publish("/lim/three", b"x")
        self.assertTrue(busy(r, "too many channels: max_channels reached"), r.body)
        b1 = self.open_stream("/lim/two")
        self.wait_subscribers("/lim/two", 1)
        r = self.srv.get("/lim/two", headers={"Accept": "text/event-stream"})
        self.assertTrue(busy(r, "too many subscribers on this server: max_subscribers reached"), r.body)
        # a subscriber that leaves makes room
        a1.close()
        self.wait_subscribers("/lim/one", 1)
        c = self.open_stream("/lim/two")
        self.wait_subscribers("/lim/two", 2)
        self.publish("/lim/two", b"both")
        self.assertEqual(b1.read_until(b"\n\n"), frame(2, b"both"))
        self.assertEqual(c.read_until(b"\n\n"), frame(2, b"both"))
        for s in (a2, b1, c):
            s.close()
        self.wait_subscribers("/lim/two", 0)
        self.wait_subscribers("/lim/one", 0)

    # --- cleanup and expiry -------------------------------------------------------
    def test_disconnected_subscribers_are_removed(self):
        streams = [self.open_stream("/ps/gone") for _ in range(6)]
        polls = []
        for _ in range(3):
            p = self.srv.connect()
            p.sendall(b"GET /ps/gone HTTP/1.1\r\nHost: x\r\n\r\n")
            polls.append(p)
        self.wait_subscribers("/ps/gone", 9)
        for s in streams[:4]:
            s.close()
        for p in polls[:2]:
            p.close()
        self.wait_subscribers("/ps/gone", 3)
        self.publish("/ps/gone", b"left")
        for s in streams[4:]:
            self.assertEqual(s.read_until(b"\n\n"), frame(1, b"left"))
        data = b""
        polls[2].settimeout(10)
        while b"left" not in data:
            b = polls[2].recv(4096)
            if not b:
                break
            data += b
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"\r\n\r\nleft"), data)
        polls[2].close()
        for s in streams[4:]:
            s.close()
        self.wait_subscribers("/ps/gone", 0)
        self.assertEqual(self.stats("/ps/")[1]["subscribers"], 0)

    def test_idle_channel_expires(self):
        keep = self.open_stream("/exp/kept")
        self.wait_subscribers("/exp/kept", 1)
        self.assertEqual(self.publish("/exp/idle", b"x").status, 202)
        self.assertEqual(self.stats("/exp/idle")[0], 200)
        st = settle(lambda: self.stats("/exp/idle")[0], lambda s: s == 404, timeout=10 * SCALE)
        self.assertEqual(st, 404)
        # older than the expired one, but it has a subscriber
        self.assertEqual(self.stats("/exp/kept")[0], 200)
        keep.close()
        st = settle(lambda: self.stats("/exp/kept")[0], lambda s: s == 404, timeout=10 * SCALE)
        self.assertEqual(st, 404)

    # --- scale ------------------------------------------------------------------
    def test_fan_out_over_both_threads(self):
        streams = []
        per = [0, 0]
        for _ in range(64):
            streams.append(self.open_stream("/ps/fan"))
            self.wait_subscribers("/ps/fan", len(streams))
            per = self.stats("/ps/")[1]["threads"]
            if len(streams) >= 8 and min(per) >= 2:
                break
        self.assertGreaterEqual(min(per), 1, per)
        self.publish("/ps/fan", b"to all")
        for s in streams:
            self.assertEqual(s.read_until(b"\n\n"), frame(1, b"to all"))

    def test_many_subscribers_all_receive(self):
        sel = selectors.DefaultSelector()
        socks = []
        req = b"GET /ps/many HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n"
        try:
            for _ in range(MANY):
                s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
                s.sendall(req)
                s.setblocking(False)
                socks.append(s)
            self.wait_subscribers("/ps/many", MANY)
            self.assertEqual(self.publish("/ps/many", b"hello all").body,
                             b'{"id":1,"subscribers":%d}\n' % MANY)
            want = frame(1, b"hello all")
            bufs = {}
            for s in socks:
                sel.register(s, selectors.EVENT_READ)
                bufs[s] = b""
            done = 0
            deadline = time.time() + 30 * SCALE
            while done < len(socks) and time.time() < deadline:
                for key, _ in sel.select(1):
                    s = key.fileobj
                    b = s.recv(4096)
                    bufs[s] += b
                    if not b or bufs[s].endswith(b"\r\n\r\n" + want):
                        sel.unregister(s)
                        done += 1
            ok = sum(1 for b in bufs.values() if b.endswith(b"\r\n\r\n" + want))
            self.assertEqual(ok, MANY)
        finally:
            sel.close()
            for s in socks:
                s.close()
        self.wait_subscribers("/ps/many", 0)


class PubsubLifecycleTest(unittest.TestCase):
    """Servers of their own: shutdown and reloads."""

    def start(self, routes=ROUTES, threads=2, extra="processes = 0\nshutdown_timeout = 20s"):
        srv = Server(pubsub_ini(routes, threads, extra))
        self.addCleanup(srv.stop)
        return srv

    def wait_subs(self, srv, path, n):
        get = lambda: srv.get(path, headers={"Accept": "application/json"})
        r = settle(get, lambda r: r.status == 200 and json.loads(r.body)["subscribers"] == n,
                   timeout=10 * SCALE)
        self.assertEqual(json.loads(r.body)["subscribers"], n, r.body)

    def test_shutdown_with_subscribers_exits_0_promptly(self):
        srv = self.start()
        streams = [Stream(srv, "/ps/down", version="1.1") for _ in range(20)]
        # A long poll is a pending answer, which the server lets finish at
        # a stop: it ends with its poll_timeout (700 ms here).
        polls = []
        for _ in range(2):
            p = srv.connect()
            p.sendall(b"GET /short/down HTTP/1.1\r\nHost: x\r\n\r\n")
            polls.append(p)
        self.wait_subs(srv, "/ps/down", 20)
        self.wait_subs(srv, "/short/down", 2)
        answers = []

        def publisher():
            # publishes on until the server is gone
            for _ in range(100000):
                try:
                    answers.append(srv.get("/ps/down", method="POST", body=b"p", timeout=5).status)
                except (OSError, AssertionError):
                    return

        t = threading.Thread(target=publisher)
        t.start()
        settle(lambda: len(answers), lambda n: n >= 3)
        t0 = time.time()
        rc = srv.stop()
        took = time.time() - t0
        t.join(30)
        self.assertTrue(answers and set(answers) <= {201}, set(answers))
        self.assertEqual(rc, 0, srv.log()[-3000:])
        self.assertLess(took, 10 * SCALE)  # not the 20 s shutdown_timeout
        for s in streams:
            s.read_head()
            data, closed = recv_until_closed(s.sock, 5)
            self.assertTrue(closed)
            # the stream ended cleanly: its last chunk
            self.assertTrue((s.buf + data).endswith(b"0\r\n\r\n"), (s.buf + data)[-200:])
            s.close()
        for p in polls:
            data, closed = recv_until_closed(p, 5)
            self.assertTrue(data.startswith(b"HTTP/1.1 204 No Content\r\n") and closed, data)
            p.close()
        self.assertNotIn("still busy after shutdown_timeout", srv.log())

    def test_reload_keeping_the_instance_keeps_streams(self):
        srv = self.start()
        s = Stream(srv, "/ps/keep")
        self.addCleanup(s.close)
        self.wait_subs(srv, "/ps/keep", 1)
        srv.get("/ps/keep", method="POST", body=b"before")
        m = srv.reload(pubsub_ini(extra="processes = 0\nshutdown_timeout = 20s"),
                       r"reload: generation \d+ serving|reload failed")
        self.assertIsNotNone(m)
        self.assertIn("serving", m.group(0))
        r = srv.get("/ps/keep", method="POST", body=b"after")
        self.assertEqual(r.body, b'{"id":2,"subscribers":1}\n')
        self.assertEqual(s.read_until(frame(2, b"after")), frame(1, b"before") + frame(2, b"after"))

    def test_reload_replacing_the_instance_lets_subscribers_go(self):
        srv = self.start()
        s = Stream(srv, "/ps/swap", version="1.1")
        self.addCleanup(s.close)
        p = srv.connect()
        self.addCleanup(p.close)
        p.sendall(b"GET /ps/swap HTTP/1.1\r\nHost: x\r\n\r\n")
        self.wait_subs(srv, "/ps/swap", 2)
        stop = threading.Event()
        answers = []

        def publisher():
            # publishes while the reload swaps the instance
            while not stop.is_set():
                try:
                    answers.append(srv.get("/ps/swap", method="POST", body=b"p", timeout=5).status)
                except (OSError, AssertionError):
                    answers.append(0)

        t = threading.Thread(target=publisher)
        t.start()
        try:
            m = srv.reload(pubsub_ini(ROUTES.replace("buffer = 4", "buffer = 5"),
                                      extra="processes = 0\nshutdown_timeout = 20s"),
                           r"reload: generation \d+ serving|reload failed")
            self.assertIn("serving", m.group(0))
            # the old stream ends with its last chunk; the poll gets 204 or its message
            data, closed = recv_until_closed(s.sock, 10 * SCALE)
            self.assertTrue((s.buf + data).endswith(b"0\r\n\r\n"), (s.buf + data)[-200:])
            pdata, _ = recv_until_closed(p, 2)
            self.assertRegex(pdata, rb"^HTTP/1.1 (200 OK|204 No Content)\r\n")
            self.assertIsNotNone(srv.wait_log(r"generation 1 released", 10 * SCALE), srv.log()[-2000:])
        finally:
            stop.set()
            t.join(30)
        self.assertTrue(answers and set(answers) <= {201, 202}, set(answers))
        # the new instance serves
        s2 = Stream(srv, "/ps/swap")
        self.addCleanup(s2.close)
        self.wait_subs(srv, "/ps/swap", 1)
        n = json.loads(srv.get("/ps/swap", method="POST", body=b"new").body)["id"]
        self.assertEqual(s2.read_until(b"\n\n"), frame(n, b"new"))
        self.assertEqual(srv.stop(), 0)

    def test_one_thread(self):
        srv = self.start(threads=1)
        streams = [Stream(srv, "/ps/one") for _ in range(5)]
        self.wait_subs(srv, "/ps/one", 5)
        srv.get("/ps/one", method="POST", body=b"solo")
        for s in streams:
            self.assertEqual(s.read_until(b"\n\n"), frame(1, b"solo"))
            s.close()

    def test_bad_keys_refused(self):
        srv = Server(pubsub_ini("[route /ps]\nplugin = pubsub\nbuffer = 0\n"), expect_ready=False)
        srv.proc.wait(30 * SCALE)
        srv.stop()
        self.assertNotEqual(srv.proc.returncode, 0)
        self.assertIn('bad value "0" for buffer', srv.log())
        srv = Server(pubsub_ini("[route /ps]\nplugin = pubsub\nbufer = 4\n"), expect_ready=False)
        srv.proc.wait(30 * SCALE)
        srv.stop()
        self.assertIn('unknown key "bufer"', srv.log())
        srv = Server(pubsub_ini("[route /ps]\nplugin = pubsub\nbuffer_bytes = 1k\nmessage_max = 2k\n"),
                     expect_ready=False)
        srv.proc.wait(30 * SCALE)
        srv.stop()
        self.assertIn("message_max (2048) is larger than buffer_bytes (1024)", srv.log())


if __name__ == "__main__":
    harness.main()
