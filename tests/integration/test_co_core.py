#!/usr/bin/env python3
"""Coroutine handlers, the core's side (ABI 1.4), through
tests/plugins/co_core.c: a handler that waits holds its request like
PH_PENDING while the loop serves others; cancellation (client gone,
handler_timeout, shutdown) makes its wait return -ECANCELED and it
unwinds; co_respond/co_send stream a response with or without a length
in flat memory; upgrade() hands the connection to the plugin; a reload
frees the old generation only after its coroutines end."""

import http.client
import re
import select
import socket
import time
import unittest

import harness
from harness import Server, parse_responses, read_head, recv_until_closed, server_ini, wait_log_from, log_count
from api13 import route

SLOW = harness.SANITIZED or bool(harness.WRAPPER)
# distinct values, so a test can tell which timeout fired
TIMEOUTS = ("header_timeout = 31s\nbody_timeout = 33s\nkeepalive_timeout = 35s\n"
            "send_timeout = 37s\nhandler_timeout = %s\nmax_keepalive_requests = 0")
ECANCELED = 125


def pattern(off, n):
    return bytes((off + i) % 251 for i in range(n))


class CoCoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=route("/co", "co_core") + route("/small", "co_core", max_body_bytes="1k") +
                                    "[route /echo]\nplugin = echo\n",
                                    threads=1, server_extra=TIMEOUTS % "3s"), rlimit_nofile=4096)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_sleeping_handler_answers(self):
        t0 = time.time()
        r = self.srv.get("/co/sleep?ms=150")
        self.assertEqual((r.status, r.body), (200, b"slept 150\n"))
        self.assertGreaterEqual(time.time() - t0, 0.15)
        self.assertEqual(self.srv.get("/co/now").body, b"now\n")
        self.assertEqual(self.srv.get("/co/nothing").status, 404)

    def test_poll_a_socket_the_loop_watches(self):
        # the socket stays registered between its waits; co_poll and
        # co_wait_fd on its descriptor still work (ETIMEDOUT 110, then READ)
        r = self.srv.get("/co/poll")
        self.assertEqual((r.status, r.body), (200, b"read -110 poll -110 wait -110 ready 1\n"))

    def test_blocking_resolve_and_cancel(self):
        self.assertEqual(self.srv.get("/co/blocking").body, b"blocking 0\n")
        r = self.srv.get("/co/resolve?h=127.0.0.1")
        self.assertEqual(r.body, b"resolve 0 127.0.0.1:80\n")
        r = self.srv.get("/co/resolve?h=localhost")
        self.assertIn(r.body, (b"resolve 0 127.0.0.1:80\n", b"resolve 0 [::1]:80\n"))
        r = self.srv.get("/co/resolve?h=no-such-host.invalid")
        self.assertEqual(r.body, b"resolve -2 \n")
        # co_cancel from a handler's coroutine waits for the end of the other
        self.assertEqual(self.srv.get("/co/cancel").body, b"cancel -%d done 1\n" % ECANCELED)
        # two cancellers of one coroutine: both return
        start = log_count(self.srv)
        self.assertEqual(self.srv.get("/co/cancel?twice=1").body, b"cancel -%d done 1\n" % ECANCELED)
        m, _ = wait_log_from(self.srv, r"co_core -: second canceller returned", start)
        self.assertIsNotNone(m)

    def test_resume_from_a_coroutine_is_refused(self):
        r = self.srv.get("/co/resume")
        self.assertEqual((r.status, r.body), (200, b"resume -1\n"))
        self.assertEqual(self.srv.get("/co/now").body, b"now\n")

    def test_timed_waits_never_end_early(self):
        # the loop's clock is coarse (a jiffy): waits of 7 ms timed on the
        # precise clock
        self.assertEqual(self.srv.get("/co/timing").body, b"early 0\n")

    def test_keep_alive_after_a_wait(self):
        s = self.srv.connect()
        s.sendall(b"GET /co/sleep?ms=50 HTTP/1.1\r\nHost: x\r\n\r\nGET /co/now HTTP/1.1\r\nHost: x\r\n\r\n")
        resps = harness.read_responses(s, 2)
        s.close()
        self.assertEqual([(r.status, r.body) for r in resps], [(200, b"slept 50\n"), (200, b"now\n")])

    def test_1000_concurrent_sleepers_on_one_thread(self):
        n, ms = (200 if harness.WRAPPER else 1000), 500
        socks = []
        t0 = time.time()
        for i in range(n):
            s = self.srv.connect()
            s.sendall(b"GET /co/sleep?ms=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % ms)
            socks.append(s)
        data = {s: b"" for s in socks}
        open_ = set(socks)
        deadline = time.time() + 60
        while open_ and time.time() < deadline:
            ready, _, _ = select.select(list(open_), [], [], 1.0)
            for s in ready:
                chunk = s.recv(65536)
                if not chunk:
                    open_.discard(s)
                data[s] += chunk
        elapsed = time.time() - t0
        for s in socks:
            s.close()
        bodies = [parse_responses(d)[0].body if d else None for d in data.values()]
        self.assertEqual(bodies.count(b"slept %d\n" % ms), n)
        print("%d sleeping coroutine requests of %d ms answered in %.2f s" % (n, ms, elapsed))
        # one after the other they would take n * ms
        self.assertLess(elapsed, 30 if SLOW else 10)

    def test_client_gone_cancels_the_wait(self):
        start = log_count(self.srv)
        s = self.srv.connect()
        s.sendall(b"GET /co/wait?ms=30000&tag=gone HTTP/1.1\r\nHost: x\r\n\r\n")
        m, _ = wait_log_from(self.srv, r"co_core -: tag=gone waiting", start)
        self.assertIsNotNone(m)
        s.close()
        m, _ = wait_log_from(self.srv, r"co_core -: tag=gone wait returned (-?\d+)", start)
        self.assertIsNotNone(m)
        self.assertEqual(int(m.group(1)), -ECANCELED)
        self.assertEqual(self.srv.get("/co/now").body, b"now\n")

    def test_handler_timeout_answers_504_and_unwinds(self):
        start = log_count(self.srv)
        t0 = time.time()
        r = self.srv.get("/co/wait?ms=30000&tag=late", timeout=20)
        self.assertEqual(r.status, 504)
        self.assertGreaterEqual(time.time() - t0, 2.9)  # handler_timeout = 3s, no other
        m, _ = wait_log_from(self.srv, r"co_core -: tag=late wait returned (-?\d+)", start)
        self.assertIsNotNone(m)
        self.assertEqual(int(m.group(1)), -ECANCELED)

    def _stream(self, total, known):
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
        c.request("GET", "/co/stream?len=%d&known=%d" % (total, known))
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        if known:
            self.assertEqual(r.getheader("Content-Length"), str(total))
            self.assertIsNone(r.getheader("Transfer-Encoding"))
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

    def test_handler_timeout_ends_at_co_respond(self):
        # 4 pieces 1.2 s apart: 4.8 s in all, past handler_timeout (3s)
        t0 = time.time()
        r = self.srv.get("/co/stream?len=%d&known=1&pace=1200" % (4 * 65536), timeout=30)
        self.assertEqual((r.status, r.body), (200, pattern(0, 4 * 65536)))
        self.assertGreaterEqual(time.time() - t0, 4.8)

    def test_head_drops_the_stream_and_keeps_the_connection(self):
        s = self.srv.connect()
        s.sendall(b"HEAD /co/stream?len=1000000&known=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /co/now HTTP/1.1\r\nHost: x\r\n\r\n")
        head = read_head(s)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
        self.assertIn(b"\r\nContent-Length: 1000000\r\n", head)
        # no body bytes: the next answer follows the head at once
        resps = harness.read_responses(s, 1)
        s.close()
        self.assertEqual((resps[0].status, resps[0].body), (200, b"now\n"))

    def test_stream_short_of_its_length_aborts(self):
        s = self.srv.connect()
        s.sendall(b"GET /co/short?len=100000&known=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        data, closed = recv_until_closed(s)
        s.close()
        self.assertTrue(closed)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: 100000", head)
        self.assertEqual(body, pattern(0, 50000))

    def test_buffered_and_streamed_body(self):
        body = pattern(0, 700000)
        r = self.srv.get("/co/body?slow=1", method="POST", body=body)
        self.assertEqual((r.status, r.body), (200, b"got %d sum %d\n" % (len(body), sum(body) % (1 << 32))))

    def test_streamed_body_over_the_limit(self):
        # chunked, so only the decoded bytes tell: 413 to the client, and
        # co_body_read says -EMSGSIZE (90)
        start = log_count(self.srv)
        s = self.srv.connect()
        s.sendall(b"POST /small/body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  b"400\r\n" + b"a" * 1024 + b"\r\n" + b"400\r\n" + b"b" * 1024 + b"\r\n0\r\n\r\n")
        data, closed = recv_until_closed(s)
        s.close()
        self.assertEqual(parse_responses(data)[0].status, 413)
        m, _ = wait_log_from(self.srv, r"co_core -: body error (-?\d+)", start)
        self.assertEqual(int(m.group(1)), -90)
        r = self.srv.get("/small/body", method="POST", body=b"c" * 1000)
        self.assertEqual((r.status, r.body), (200, b"got 1000 sum %d\n" % (99 * 1000)))

    def test_respond_before_the_body_ends(self):
        # the carrier reads no more of the body: co_body_read says -EPIPE
        # (32) at once instead of waiting for bytes nobody reads
        start = log_count(self.srv)
        s = self.srv.connect()
        s.sendall(b"POST /co/early HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"z" * 1000)
        data, closed = recv_until_closed(s)
        s.close()
        self.assertTrue(closed)
        r = parse_responses(data)[0]
        self.assertEqual((r.status, r.body), (200, b"early\n"))
        m, _ = wait_log_from(self.srv, r"co_core -: early body (-?\d+)", start)
        self.assertEqual(int(m.group(1)), -32)

    def test_upgrade_request_elsewhere_is_served_normally(self):
        data = self.srv.raw(b"GET /echo/x HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n")
        self.assertEqual(parse_responses(data)[0].status, 200)
        # the upgrade route without Upgrade: a normal answer
        r = self.srv.get("/co/upgrade")
        self.assertEqual((r.status, r.body), (200, b"no upgrade\n"))

    def test_upgrade_echo_tunnel(self):
        start = log_count(self.srv)
        s = self.srv.connect()
        s.sendall(b"GET /co/upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\nearly")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            self.assertTrue(chunk)
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        self.assertEqual(head, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade")
        while len(rest) < 5:
            rest += s.recv(4096)
        self.assertEqual(rest, b"early")
        for msg in (b"hello", b"x" * 100000):
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                chunk = s.recv(65536)
                self.assertTrue(chunk)
                got += chunk
            self.assertEqual(got, msg)
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_closed(s), (b"", True))
        s.close()
        m, _ = wait_log_from(self.srv, r"co_core -: tunnel ended (-?\d+)", start)
        self.assertEqual(int(m.group(1)), 0)
        self.assertIsNotNone(self.srv.wait_log(r'"GET /co/upgrade HTTP/1.1" 101 '))


class CoShutdownTest(unittest.TestCase):
    def test_shutdown_ends_tunnels_and_waits(self):
        srv = Server(server_ini(routes=route("/co", "co_core"), threads=1, server_extra=TIMEOUTS % "0"))
        try:
            s = srv.connect()
            s.sendall(b"GET /co/upgrade HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n\r\n")
            self.assertIn(b"101 Switching Protocols", read_head(s))
            s.sendall(b"ping")
            got = b""
            while len(got) < 4:
                got += s.recv(16)
            self.assertEqual(got, b"ping")
        finally:
            srv.stop()
        self.assertEqual(recv_until_closed(s), (b"", True))
        s.close()
        self.assertIsNotNone(re.search(r"co_core -: tunnel ended -%d" % ECANCELED, srv.log()))


class CoSpawnTest(unittest.TestCase):
    def test_background_coroutines_end_at_reload_and_shutdown(self):
        text = server_ini(routes=route("/co", "co_core", gen="one", spawn="yes"), threads=2,
                          server_extra=TIMEOUTS % "0" + "\nprocesses = 0")  # one process: in-place reloads
        srv = Server(text)
        try:
            srv.reload(text.replace("gen = one", "gen = two"), r"reload: generation \d+ serving|reload failed")
            for i in (0, 1):
                # reload: thread_exit cancels it on the running loop
                self.assertIsNotNone(srv.wait_log(r"co_core one: background %d ended -%d" % (i, ECANCELED)))
                self.assertIsNotNone(srv.wait_log(r"co_core one: thread_exit %d cancelled its background" % i))
            self.assertEqual(srv.get("/co/now").body, b"now\n")
        finally:
            srv.stop()
        log = srv.log()
        for i in (0, 1):
            # shutdown: the worker cancels it and waits for its end
            self.assertIn("co_core two: background %d ended -%d" % (i, ECANCELED), log)
            self.assertNotIn("co_core two: thread_exit %d cancelled" % i, log)
        self.assertNotIn("still suspended", log)


class CoReloadTest(unittest.TestCase):
    def test_old_generation_freed_after_its_coroutines(self):
        text = server_ini(routes=route("/co", "co_core", gen="one"), threads=1,
                          server_extra=TIMEOUTS % "0" + "\nprocesses = 0")  # one process: in-place reloads
        srv = Server(text)
        try:
            start = log_count(srv)
            s = srv.connect()
            s.sendall(b"GET /co/wait?ms=1500&tag=reload HTTP/1.1\r\nHost: x\r\n\r\n")
            m, _ = wait_log_from(srv, r"co_core one: tag=reload waiting", start)
            self.assertIsNotNone(m)
            srv.reload(text.replace("gen = one", "gen = two"), r"reload|generation")
            self.assertEqual(srv.get("/co/wait?ms=1&tag=new").body, b"waited 1\n")
            r = parse_responses(recv_until_closed_after_one(s))[0]
            self.assertEqual((r.status, r.body), (200, b"waited 1500\n"))
            s.close()
            m, _ = wait_log_from(srv, r"co_core one: destroy", start)
            self.assertIsNotNone(m)
            log = srv.log()
            ret = log.index("co_core one: tag=reload wait returned 0")
            self.assertLess(ret, log.index("co_core one: destroy"))
        finally:
            srv.stop()


def recv_until_closed_after_one(s):
    """One response's bytes (the connection stays open)."""
    data = b""
    deadline = time.time() + 20
    while time.time() < deadline:
        if parse_ok(data):
            return data
        r, _, _ = select.select([s], [], [], 1.0)
        if r:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
    return data


def parse_ok(data):
    try:
        return len(parse_responses(data)) >= 1
    except Exception:
        return False


if __name__ == "__main__":
    harness.main()
