#!/usr/bin/env python3
"""ABI 1.3 streamed request bodies (PH_PLUGIN_STREAM_BODY, on_body,
body_pause/body_resume) through tests/plugins/sink.c, which answers
"len=N pieces=P pauses=Q early=E sha256=HEX"."""

import hashlib
import re
import socket
import threading
import time
import unittest

import harness
from harness import Server, parse_responses, recv_until_closed, server_ini
from api13 import Uploader, pattern_chunk, route, sha256

GIB = 1024 * 1024 * 1024
# sanitizers make the server several times slower, valgrind some tens of
# times; 64 MiB is still twice the growth bound the test asserts, so a
# server that kept the body whole would still fail it
BIG = (64 * 1024 * 1024 if harness.WRAPPER else
       256 * 1024 * 1024 if harness.SANITIZED else GIB)
ANSWER = re.compile(rb"^len=(\d+) pieces=(\d+) pauses=(\d+) early=(\d+) sha256=([0-9a-f]{64})\n$")

ROUTES = (route("/sink", "sink") + route("/traced", "sink", trace="yes") +
          route("/paused", "sink", pause_every="64k", pause_for="30ms") +
          route("/longpause", "sink", pause_every="16k", pause_for="700ms", trace="yes"))


def answer(r):
    m = ANSWER.match(r.body)
    if not m:
        raise AssertionError("not a sink answer: %r (status %d)" % (r.body[:300], r.status))
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(5).decode()


class StreamBodyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=ROUTES, threads=1,
                                    server_extra="max_body_bytes = 2g\nbody_timeout = 23s"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def post(self, path, body, timeout=harness.IO_TIMEOUT):
        return self.srv.get(path, method="POST", body=body, timeout=timeout)

    def test_small_body(self):
        body = b"hello, streamed world"
        r = self.post("/sink/x", body)
        self.assertEqual(r.status, 200)
        n, pieces, pauses, early, h = answer(r)
        self.assertEqual((n, pauses, early, h), (len(body), 0, 0, sha256(body)))
        self.assertGreaterEqual(pieces, 1)

    def test_empty_body_gets_one_last_piece(self):
        r = self.post("/sink/x", b"")
        self.assertEqual(r.status, 200)
        self.assertEqual(answer(r), (0, 1, 0, 0, sha256(b"")))

    def test_chunked_body(self):
        body = pattern_chunk(300000)
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 9999]), body[i:i + 9999])
                          for i in range(0, len(body), 9999)) + b"0\r\n\r\n"
        raw = b"POST /sink/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks
        r = parse_responses(self.srv.raw(raw))[0]
        self.assertEqual(r.status, 200)
        n, pieces, pauses, early, h = answer(r)
        self.assertEqual((n, early, h), (300000, 0, sha256(body)))

    def test_pause_and_resume(self):
        body = pattern_chunk(1024 * 1024)
        t0 = time.time()
        r = self.post("/paused/x", body, timeout=30)
        elapsed = time.time() - t0
        self.assertEqual(r.status, 200)
        n, pieces, pauses, early, h = answer(r)
        self.assertEqual((n, early, h), (len(body), 0, sha256(body)))
        # one pause per 64 KiB delivered, except after the last piece
        self.assertGreaterEqual(pauses, 15)
        self.assertGreaterEqual(elapsed, pauses * 0.030 * 0.9)
        self.assertNotIn("sink: body_resume failed", self.srv.log())

    def test_handler_answering_at_once_reads_no_body(self):
        total = 100 * 1000 * 1000
        s = self.srv.connect()
        up = Uploader(s, b"POST /sink/x?now HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % total,
                      total, timeout=20).start()
        data, closed = recv_until_closed(s, timeout=20)
        self.assertTrue(up.join(25))
        s.close()
        self.assertTrue(closed)
        r = parse_responses(data)[0]
        self.assertEqual((r.status, r.body), (200, b"sink: not reading\n"))
        self.assertEqual(r.header("Connection"), "close")
        self.assertLess(up.sent, 16 * 1024 * 1024)

    def test_on_body_error_answers_500_and_stops_reading(self):
        total = 100 * 1000 * 1000
        s = self.srv.connect()
        up = Uploader(s, b"POST /sink/x?fail HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % total,
                      total, timeout=20).start()
        data, closed = recv_until_closed(s, timeout=20)
        self.assertTrue(up.join(25))
        s.close()
        self.assertTrue(closed)
        r = parse_responses(data)[0]
        self.assertEqual((r.status, r.body), (500, b"500 Internal Server Error\n"))
        self.assertLess(up.sent, 16 * 1024 * 1024)
        self.assertEqual(answer(self.post("/sink/after", b"ok"))[0], 2)

    def test_expect_100_continue(self):
        s = self.srv.connect()
        s.sendall(b"POST /sink/e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
                  b"Connection: close\r\n\r\n")
        self.assertEqual(harness.read_head(s), b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"hello")
        data, _ = recv_until_closed(s)
        s.close()
        self.assertEqual(answer(parse_responses(data)[0])[0::4], (5, sha256(b"hello")))

    def test_concurrent_uploads(self):
        bodies = [bytes([i]) * (1024 * 1024 + i) for i in range(12)]
        results = [None] * len(bodies)

        def one(i):
            try:
                results[i] = answer(self.post("/sink/c%d" % i, bodies[i], timeout=30))
            except Exception as e:  # reported below with its index
                results[i] = e
        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual([r[0::4] if isinstance(r, tuple) else r for r in results],
                         [(len(b), sha256(b)) for b in bodies])

    def test_client_gone_while_paused(self):
        # the plugin's timer posts body_resume() for a request that may be
        # gone by then: the core must cancel it once, and nothing breaks
        start = harness.log_count(self.srv)
        s = self.srv.connect()
        s.sendall(b"POST /longpause/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"p" * 40000)
        self.assertIsNotNone(harness.wait_log_from(self.srv, r"sink: first piece", start)[0])
        s.close()
        m, _ = harness.wait_log_from(self.srv, r"sink: on_cancel after (\d+) bytes, resume returned (\S+)", start)
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        self.assertEqual(m.group(2), "PH_ERROR")
        self.assertLess(int(m.group(1)), 1000000)
        r = self.post("/paused/after", b"still here")
        self.assertEqual(answer(r)[0::4], (10, sha256(b"still here")))
        self.assertNotIn("sink: body_resume failed", self.srv.log())

    def test_keep_alive_after_streamed_body(self):
        s = self.srv.connect()
        s.sendall(b"POST /sink/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                  b"POST /sink/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nde")
        resps = harness.read_responses(s, 2)
        s.close()
        self.assertEqual([answer(r)[0::4] for r in resps], [(3, sha256(b"abc")), (2, sha256(b"de"))])

    def test_client_gone_mid_body_cancels(self):
        s = self.srv.connect()
        start = harness.log_count(self.srv)
        s.sendall(b"POST /traced/gone HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" + b"q" * 100000)
        # the sink has seen bytes: the request is under way; then the client leaves
        m, _ = harness.wait_log_from(self.srv, r"sink: first piece", start)
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        s.close()
        m, _ = harness.wait_log_from(self.srv, r"sink: on_cancel after (\d+) bytes, resume returned (\S+)", start)
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        self.assertEqual(m.group(2), "PH_ERROR")
        self.assertLessEqual(int(m.group(1)), 100000)
        # and the worker still serves
        self.assertEqual(answer(self.post("/sink/after", b"ok"))[0], 2)

    def test_big_upload_memory_stays_flat(self):
        pid = self.srv.serving_pid()
        block = pattern_chunk()
        # warm up: buffers the path needs are there before the baseline
        self.assertEqual(answer(self.post("/sink/warm", block * 4, timeout=30))[0], 4 * len(block))
        expected = hashlib.sha256()
        for _ in range(BIG // len(block)):
            expected.update(block)
        base_rss = harness.proc_rss_kib(pid)
        base_hwm = int(harness.proc_status_field(pid, "VmHWM").split()[0])
        s = self.srv.connect(timeout=120)
        head = b"POST /sink/big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % BIG
        t0 = time.time()
        up = Uploader(s, head, BIG, block=block, timeout=120).start()
        peak = [0]

        def sample():
            while not up.done.is_set():
                peak[0] = max(peak[0], harness.proc_rss_kib(pid))
                up.done.wait(0.05)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        self.assertTrue(up.join(125), "upload did not finish in time")
        data, closed = recv_until_closed(s, timeout=60)
        s.close()
        sampler.join(5)
        elapsed = time.time() - t0
        self.assertIsNone(up.error)
        self.assertEqual(up.sent, BIG)
        r = parse_responses(data)[0]
        self.assertEqual(r.status, 200)
        n, pieces, pauses, early, h = answer(r)
        self.assertEqual((n, pauses, early, h), (BIG, 0, 0, expected.hexdigest()))
        self.assertGreater(pieces, 64)  # it came in pieces, not as one buffer
        after_hwm = int(harness.proc_status_field(pid, "VmHWM").split()[0])
        growth_kib = max(after_hwm - base_hwm, peak[0] - base_rss)
        print("streamed %d MiB in %.1f s (%d pieces); RSS %d KiB -> peak %d KiB; VmHWM %d -> %d KiB"
              % (BIG >> 20, elapsed, pieces, base_rss, peak[0], base_hwm, after_hwm))
        if not harness.SANITIZED:
            self.assertLess(growth_kib, 32 * 1024, "server memory grew by %d KiB" % growth_kib)


class StreamBodyLimitTest(unittest.TestCase):
    """A streamed body over max_body_bytes: 413 from the core, the
    request cancelled (on_cancel), the plugin's resume() refused."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=route("/traced", "sink", trace="yes"), threads=1,
                                    server_extra="max_body_bytes = 64k"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_chunked_body_over_the_limit(self):
        start = harness.log_count(self.srv)
        piece = b"%x\r\n%s\r\n" % (8192, b"k" * 8192)
        s = self.srv.connect()
        up = Uploader(s, b"POST /traced/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                      len(piece) * 128, block=piece, timeout=20).start()
        data, closed = recv_until_closed(s, timeout=15)
        up.join(25)
        s.close()
        self.assertTrue(closed)
        r = parse_responses(data)[0]
        self.assertEqual((r.status, r.body), (413, b"413 Content Too Large\n"))
        m, _ = harness.wait_log_from(self.srv, r"sink: on_cancel after (\d+) bytes, resume returned (\S+)", start)
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        self.assertEqual(m.group(2), "PH_ERROR")
        self.assertLessEqual(int(m.group(1)), 64 * 1024)

    def test_announced_length_over_the_limit(self):
        data = self.srv.raw(b"POST /traced/x HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n", timeout=5)
        self.assertEqual(parse_responses(data)[0].status, 413)
        self.assertEqual(answer(self.srv.get("/traced/y", method="POST", body=b"k" * 65536))[0], 65536)



class PausedTooLongTest(unittest.TestCase):
    """A plugin that keeps its body paused past handler_timeout: the client
    gets a 504 (distinct timeouts: handler 600 ms, body 23 s, pause 5 s),
    the plugin its on_cancel, and the connection closes."""

    def test_pause_past_handler_timeout_is_504(self):
        ini = server_ini(routes=route("/stuck", "sink", pause_every="16k", pause_for="5s"), threads=1,
                         server_extra="max_body_bytes = 8m\nbody_timeout = 23s\nhandler_timeout = 600ms")
        with Server(ini) as srv:
            t0 = time.monotonic()
            r = srv.get("/stuck/x", method="POST", body=b"p" * (1024 * 1024), timeout=20)
            elapsed = time.monotonic() - t0
            self.assertEqual((r.status, r.body), (504, b"504 Gateway Timeout\n"))
            self.assertLess(elapsed, 4.0)  # the 5 s pause did not run out first
            self.assertTrue(srv.wait_log(r'handler for "/stuck/x" still pausing its body after handler_timeout'),
                            srv.log())
            self.assertTrue(srv.wait_log(r"sink: on_cancel after \d+ bytes, resume returned PH_ERROR"), srv.log())


if __name__ == "__main__":
    harness.main()
