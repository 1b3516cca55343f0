#!/usr/bin/env python3
"""ABI 1.3: decisions taken on the request head (on_head, PH_DONE,
PH_PENDING from on_head), per-route max_body_bytes and body_spill.

Fixtures: tests/plugins/guard.c (guardsrv.so: its on_head on a content
handler; guard.so: the same as an access stage of a stacked route) and
tests/plugins/probe.c (a buffered handler reporting body()/body_fd())."""

import os
import signal
import socket
import time
import unittest

import harness
from harness import Server, parse_responses, read_head, recv_until_closed, server_ini
from api13 import Uploader, fixture, pattern_chunk, route, sha256

HUNDRED_MB = 100 * 1000 * 1000
REFUSAL_401 = b"guard: no token\n"

ROUTES = (route("/gated", "guardsrv", mode="header") +
          route("/len", "guardsrv", mode="length", max="10") +
          route("/agate", "guardsrv", mode="async", delay="150ms") +
          route("/slowgate", "guardsrv", mode="async", delay="1s"))
LIMIT_ROUTES = route("/small", "probe", max_body_bytes="1k") + route("/big", "probe", max_body_bytes="4m")
SPILL_ROUTES = (route("/spill", "probe", max_body_bytes="8m", body_spill="64k") +
                route("/espill", "echo", max_body_bytes="1m", body_spill="1k"))


def post_head(path, length, extra=""):
    return ("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n%s\r\n"
            % (path, length, extra)).encode()


class HeadDecisionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # the server-wide limit is far above the uploads, so only the
        # plugin's decision (or the route's own limit) can stop them
        cls.srv = Server(server_ini(routes=ROUTES, threads=1,
                                    server_extra="max_body_bytes = 200m\nbody_timeout = 37s"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_refuses_100mb_upload_before_reading_it(self):
        s = self.srv.connect()
        up = Uploader(s, post_head("/gated/up", HUNDRED_MB), HUNDRED_MB, timeout=20).start()
        data, closed = recv_until_closed(s, timeout=20)
        self.assertTrue(up.join(25))
        s.close()
        self.assertTrue(closed, "the server kept the connection open after refusing")
        resps = parse_responses(data)
        self.assertEqual(len(resps), 1, data[:500])
        r = resps[0]
        self.assertEqual((r.version, r.status, r.reason), ("HTTP/1.1", 401, "Unauthorized"))
        self.assertEqual(r.body, REFUSAL_401)
        self.assertEqual(r.header("WWW-Authenticate"), "Token")
        self.assertEqual(r.header("Content-Length"), str(len(REFUSAL_401)))
        self.assertEqual(r.header("Connection"), "close")
        # socket buffers and the bounded lingering close, not the body
        print("the client got %d bytes of 100 MB out before the close" % up.sent)
        self.assertLess(up.sent, 16 * 1024 * 1024, "client sent %d bytes" % up.sent)
        self.assertIsNotNone(self.srv.wait_log(r"guard /gated: refuse 401"))

    def test_expect_100_continue_gets_no_100_when_refused(self):
        s = self.srv.connect()
        s.sendall(post_head("/gated/e", HUNDRED_MB, "Expect: 100-continue\r\n"))
        data, closed = recv_until_closed(s, timeout=10)
        s.close()
        self.assertTrue(closed)
        self.assertTrue(data.startswith(b"HTTP/1.1 401 Unauthorized\r\n"), data[:200])
        self.assertNotIn(b"100 Continue", data)
        self.assertTrue(data.endswith(b"\r\n\r\n" + REFUSAL_401), data)

    def test_expect_100_continue_when_allowed(self):
        s = self.srv.connect()
        s.sendall(post_head("/gated/e", 5, "X-Token: t\r\nExpect: 100-continue\r\nConnection: close\r\n"))
        self.assertEqual(read_head(s), b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"hello")
        data, closed = recv_until_closed(s)
        s.close()
        r = parse_responses(data)[0]
        self.assertEqual((r.status, r.body), (200, b"passed 5\n"))

    def test_done_without_body_keeps_the_connection(self):
        # no body announced: nothing to skip, so keep-alive goes on
        s = self.srv.connect()
        s.sendall(b"GET /gated/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /gated/2 HTTP/1.1\r\nHost: x\r\nX-Token: y\r\n\r\n")
        resps = harness.read_responses(s, 2)
        s.close()
        self.assertEqual([(r.status, r.body) for r in resps], [(401, REFUSAL_401), (200, b"passed 0\n")])

    def test_length_refusal_413(self):
        r = self.srv.get("/len/x", method="POST", body=b"x" * 11)
        self.assertEqual((r.status, r.body), (413, b"guard: too large\n"))
        r = self.srv.get("/len/x", method="POST", body=b"x" * 10)
        self.assertEqual((r.status, r.body), (200, b"passed 10\n"))

    def test_async_decision_refuses(self):
        t0 = time.time()
        r = self.srv.get("/agate/x", method="POST", body=b"abc")
        self.assertEqual((r.status, r.body), (401, REFUSAL_401))
        self.assertGreaterEqual(time.time() - t0, 0.15)
        self.assertIsNotNone(self.srv.wait_log(r"guard /agate: resume returned PH_OK"))

    def test_client_gone_while_head_pending(self):
        start = harness.log_count(self.srv)
        s = self.srv.connect()
        s.sendall(b"GET /slowgate/x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIsNotNone(harness.wait_log_from(self.srv, r"guard /slowgate: pending", start)[0])
        s.close()
        m, _ = harness.wait_log_from(self.srv, r"guard /slowgate: resume returned (\S+)", start)
        self.assertIsNotNone(m)
        self.assertEqual(m.group(1), "PH_ERROR")
        self.assertEqual(self.srv.get("/gated/x", headers={"X-Token": "1"}).body, b"passed 0\n")

    def test_async_decision_passes(self):
        r = self.srv.get("/agate/x", method="POST", body=b"abc", headers={"X-Token": "t"})
        self.assertEqual((r.status, r.body), (200, b"passed 3\n"))


class RouteBodyLimitTest(unittest.TestCase):
    """Route key max_body_bytes: lower and higher than the server's 1m."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=LIMIT_ROUTES))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_route_max_body_bytes_lower(self):
        s = self.srv.connect()
        # announced, never sent: the 413 must not wait for the body
        s.sendall(post_head("/small/body", 1025))
        data, closed = recv_until_closed(s, timeout=5)
        s.close()
        self.assertTrue(closed)
        r = parse_responses(data)[0]
        self.assertEqual(r.status, 413)
        body = b"x" * 1024
        r = self.srv.get("/small/body", method="POST", body=body)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"len=1024 sha256=%s spilled=0 fdlen=0 fdsha=-\n" % sha256(body).encode())

    def test_route_limit_refuses_expect_without_100(self):
        s = self.srv.connect()
        s.sendall(post_head("/small/body", 2000, "Expect: 100-continue\r\n"))
        data, closed = recv_until_closed(s, timeout=5)
        s.close()
        self.assertTrue(closed)
        self.assertTrue(data.startswith(b"HTTP/1.1 413 Content Too Large\r\n"), data[:200])
        self.assertNotIn(b"100 Continue", data)

    def test_route_max_body_bytes_higher_than_server(self):
        body = pattern_chunk(2 * 1024 * 1024)
        r = self.srv.get("/big/body", method="POST", body=body, timeout=20)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"len=2097152 sha256=%s spilled=0 fdlen=0 fdsha=-\n" % sha256(body).encode())
        # announced only: the 413 comes without the body
        data = self.srv.raw(post_head("/big/body", 4 * 1024 * 1024 + 1), timeout=5)
        self.assertEqual(parse_responses(data)[0].status, 413)


class SpillTest(unittest.TestCase):
    """Route key body_spill: big buffered bodies go to a temporary file;
    body() still gives them whole, body_fd() names the file."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=SPILL_ROUTES))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_spilled_body_reaches_buffered_handler(self):
        body = os.urandom(3 * 1024 * 1024)
        h = sha256(body).encode()
        r = self.srv.get("/spill/body", method="POST", body=body, timeout=20)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"len=3145728 sha256=%s spilled=1 fdlen=3145728 fdsha=%s\n" % (h, h))

    def test_spilled_chunked_body(self):
        body = os.urandom(200000)
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7000]), body[i:i + 7000])
                          for i in range(0, len(body), 7000)) + b"0\r\n\r\n"
        raw = (b"POST /spill/body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n" + chunks)
        r = parse_responses(self.srv.raw(raw))[0]
        h = sha256(body).encode()
        self.assertEqual(r.body, b"len=200000 sha256=%s spilled=1 fdlen=200000 fdsha=%s\n" % (h, h))

    def test_body_under_spill_threshold_stays_in_memory(self):
        body = b"z" * 1000
        r = self.srv.get("/spill/body", method="POST", body=body)
        self.assertEqual(r.body, b"len=1000 sha256=%s spilled=0 fdlen=0 fdsha=-\n" % sha256(body).encode())

    def test_spilled_body_to_a_1x_plugin_and_file_gone(self):
        pid = self.srv.serving_pid()

        def unlinked_files():
            # the plugins' in-memory copies (memfd) are not spill files
            return sorted(t for t in harness.proc_fd_targets(pid)
                          if t.endswith("(deleted)") and not t.startswith("/memfd:"))
        before = unlinked_files()
        body = bytes(0x41 + i % 26 for i in range(100000))
        r = self.srv.get("/espill/x", method="POST", body=body)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body.endswith(b"\n\n" + body), r.body[-200:])
        # the spill file does not outlive its request
        self.assertEqual(harness.settle(unlinked_files, lambda v: v == before, timeout=5), before)


class StackedAccessTest(unittest.TestCase):
    """The same early refusal from a pure access stage in front of another
    content handler (stacked route syntax)."""

    @classmethod
    def setUpClass(cls):
        routes = (route("/app", "guard, probe", guard__mode="header", guard__header="X-Key") +
                  route("/sapp", "guard, sink", guard__mode="header", guard__header="X-Key") +
                  route("/aapp", "guard, probe", guard__mode="async", guard__header="X-Key",
                        guard__delay="50ms") +
                  route("/bare", "probe") +
                  route("/bkapp", "guard, probe", guard__mode="header", guard__header="X-Key", blocking="yes") +
                  route("/abkapp", "guard, probe", guard__mode="async", guard__header="X-Key",
                        guard__delay="20ms", blocking="yes") +
                  # probe's handle() has a 64 KiB buffer on its stack
                  route("/capp", "guard, probe", guard__mode="header", guard__header="X-Key", coroutine="yes",
                        coroutine_stack="256k") +
                  route("/acapp", "guard, probe", guard__mode="async", guard__header="X-Key",
                        guard__delay="20ms", coroutine="yes", coroutine_stack="256k"))
        cls.srv = Server(server_ini(routes=routes, server_extra="max_body_bytes = 200m"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_access_stage_refuses_before_body(self):
        s = self.srv.connect()
        up = Uploader(s, b"POST /app/body HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % HUNDRED_MB,
                      HUNDRED_MB, timeout=20).start()
        data, closed = recv_until_closed(s, timeout=20)
        self.assertTrue(up.join(25))
        s.close()
        self.assertTrue(closed)
        r = parse_responses(data)[0]
        self.assertEqual((r.status, r.body), (401, REFUSAL_401))
        self.assertLess(up.sent, 16 * 1024 * 1024)

    def test_access_stage_passes_to_handler(self):
        r = self.srv.get("/app/body", method="POST", body=b"abc", headers={"X-Key": "1"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"len=3 sha256=%s spilled=0 fdlen=0 fdsha=-\n" % sha256(b"abc").encode())

    def test_access_stage_notes_for_the_handler(self):
        """ABI 1.5 notes: what the access stage noted, the handler reads;
        each request has its own, and a route without the stage has none."""
        r = self.srv.get("/app/notes", headers={"X-Key": "alice"})
        self.assertEqual((r.status, r.body), (200, b"user=alice\n"))
        r = self.srv.get("/app/notes", headers={"X-Key": "bob"})
        self.assertEqual((r.status, r.body), (200, b"user=bob\n"))
        r = self.srv.get("/bare/notes", headers={"X-Key": "carol"})
        self.assertEqual((r.status, r.body), (200, b"user=-\n"))

    def test_async_access_stage_notes_from_its_thread(self):
        r = self.srv.get("/aapp/notes", headers={"X-Key": "dave"})
        self.assertEqual((r.status, r.body), (200, b"user=dave\n"))
        r = self.srv.get("/aapp/notes")
        self.assertEqual((r.status, r.body), (401, REFUSAL_401))

    def test_notes_on_blocking_and_coroutine_handlers(self):
        """The handler reads the note on a helper thread (blocking = yes)
        and on a coroutine, after a sync or an async access stage."""
        for path in ("/bkapp", "/abkapp", "/capp", "/acapp"):
            for user in ("erin", "frank"):
                r = self.srv.get(path + "/notes", headers={"X-Key": user})
                self.assertEqual((r.status, r.body), (200, b"user=%s\n" % user.encode()), path)

    def test_notes_do_not_cross_keep_alive_requests(self):
        """Pipelined on one connection: each request sees its own note and
        a request through a route without the access stage sees none."""
        paths = ("/app", "/bare", "/aapp", "/bare", "/bkapp", "/bare", "/capp", "/bare", "/abkapp", "/bare")
        s = self.srv.connect()
        reqs = b""
        for i, p in enumerate(paths):
            reqs += b"GET %s/notes HTTP/1.1\r\nHost: x\r\nX-Key: u%d\r\n\r\n" % (p.encode(), i)
        s.sendall(reqs)
        resps = harness.read_responses(s, len(paths))
        # one at a time as well, waiting for each answer
        for i, p in enumerate(paths):
            s.sendall(b"GET %s/notes HTTP/1.1\r\nHost: x\r\nX-Key: v%d\r\n\r\n" % (p.encode(), i))
            resps += harness.read_responses(s, 1)
        s.close()
        want = [(200, b"user=-\n" if p == "/bare" else b"user=%s%d\n" % (k, i))
                for k in (b"u", b"v") for i, p in enumerate(paths)]
        self.assertEqual([(r.status, r.body) for r in resps], want)

    def test_notes_after_reload(self):
        r = self.srv.get("/app/notes", headers={"X-Key": "before"})
        self.assertEqual(r.body, b"user=before\n")
        start = harness.log_count(self.srv)
        self.srv.signal(signal.SIGHUP)
        self.assertIsNotNone(harness.wait_log_from(self.srv, r"reload: generation \d+ serving", start)[0])
        for path in ("/app", "/aapp", "/capp"):
            r = self.srv.get(path + "/notes", headers={"X-Key": "after"})
            self.assertEqual((r.status, r.body), (200, b"user=after\n"), path)

    def test_access_stage_before_streamed_body(self):
        body = pattern_chunk(1024 * 1024)
        r = self.srv.get("/sapp/x", method="POST", body=body, headers={"X-Key": "1"}, timeout=20)
        self.assertEqual(r.status, 200)
        self.assertRegex(r.body, rb"^len=1048576 pieces=\d+ pauses=0 early=0 sha256=%s\n$" % sha256(body).encode())
        r = self.srv.get("/sapp/x", method="POST", body=body, timeout=20)
        self.assertEqual((r.status, r.body), (401, REFUSAL_401))


if __name__ == "__main__":
    harness.main()
