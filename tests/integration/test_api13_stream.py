#!/usr/bin/env python3
"""ABI 1.3 responses that wait (PH_STREAM_WAIT, stream_wake, add_trailer)
through tests/plugins/sse.c: exact chunked bytes with trailers, HTTP/1.0,
1,000 open streams on one worker thread, and cancellation."""

import resource
import selectors
import socket
import time
import unittest

import harness
from harness import Server, parse_responses, recv_until_closed, server_ini, wait_log_from, log_count, log_count_of
from api13 import route

STREAMS = 1000
ROUTES = (route("/sse", "sse", events="3", interval="50ms") +
          route("/ssec", "sse", name="c", events="1000", interval="50ms") +
          route("/idle", "sse", name="idle", events="3", interval="1h"))


def events(name, n):
    return b"".join(b"data: %s %d\n\n" % (name, i) for i in range(n))


class StreamWaitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = STREAMS + 200
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        cls.srv = Server(server_ini(routes=ROUTES, threads=1), rlimit_nofile=4096)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_exact_chunked_bytes_with_trailer(self):
        data = self.srv.raw(b"GET /sse/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.assertEqual(lines[0], b"HTTP/1.1 200 OK")
        self.assertIn(b"Transfer-Encoding: chunked", lines)
        self.assertIn(b"Content-Type: text/event-stream", lines)
        self.assertFalse([l for l in lines if l.lower().startswith(b"content-length")])
        # the last chunk, then the trailer field, then the empty line: nothing else
        self.assertTrue(body.endswith(b"\r\n0\r\nX-Events: 3\r\n\r\n"), body[-80:])
        r = parse_responses(data)[0]
        self.assertEqual(r.body, events(b"-", 3))

    def test_http10_close_delimited_no_trailer(self):
        data = self.srv.raw(b"GET /sse/ HTTP/1.0\r\n\r\n")
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertNotIn(b"chunked", head)
        self.assertEqual(body, events(b"-", 3))

    def test_keep_alive_after_stream(self):
        s = self.srv.connect()
        s.sendall(b"GET /sse/?events=2 HTTP/1.1\r\nHost: x\r\n\r\nGET /sse/?events=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        resps = harness.read_responses(s, 2)
        s.close()
        self.assertEqual([r.body for r in resps], [events(b"-", 2), events(b"-", 1)])

    def test_thousand_streams_on_one_worker(self):
        pid = self.srv.serving_pid()
        base_fds = harness.proc_fd_count(pid)
        sel = selectors.DefaultSelector()
        socks = []
        try:
            for i in range(STREAMS):
                s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
                s.setblocking(False)
                socks.append(s)
                sel.register(s, selectors.EVENT_READ, i)
            # all accepted: the server holds a descriptor for each
            fds = harness.settle(lambda: harness.proc_fd_count(pid), lambda n: n >= STREAMS)
            self.assertGreaterEqual(fds, STREAMS)
            for s in socks:
                s.sendall(b"GET /sse/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            bufs = [b""] * STREAMS
            open_ = STREAMS
            deadline = time.time() + 60
            while open_ and time.time() < deadline:
                for key, _ in sel.select(1.0):
                    i = key.data
                    try:
                        b = key.fileobj.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except ConnectionResetError:
                        b = b""
                    if b:
                        bufs[i] += b
                    else:
                        sel.unregister(key.fileobj)
                        open_ -= 1
            self.assertEqual(open_, 0, "%d streams still open" % open_)
            want = events(b"-", 3)
            bad = [i for i in range(STREAMS)
                   if not bufs[i].endswith(b"0\r\nX-Events: 3\r\n\r\n") or parse_responses(bufs[i])[0].body != want]
            self.assertEqual(bad, [], bufs[bad[0]][-200:] if bad else "")
        finally:
            for s in socks:
                s.close()
            sel.close()
        self.assertNotIn("sse -: on_cancel", self.srv.log())
        # every connection's descriptor is given back
        self.assertLessEqual(harness.settle(lambda: harness.proc_fd_count(pid), lambda n: n <= base_fds), base_fds)

    def test_thousand_streams_open_at_once(self):
        """1,000 waiting streams held open together on the one worker thread:
        every client has its response head while none has ended, and each
        one's leaving reaches the plugin."""
        pid = self.srv.serving_pid()
        base_fds = harness.proc_fd_count(pid)
        start = log_count(self.srv)
        sel = selectors.DefaultSelector()
        socks = []
        try:
            for i in range(STREAMS):
                s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
                s.sendall(b"GET /idle/ HTTP/1.1\r\nHost: x\r\n\r\n")
                s.setblocking(False)
                socks.append(s)
                sel.register(s, selectors.EVENT_READ, i)
            bufs = [b""] * STREAMS
            heads = ended = 0
            deadline = time.time() + 60
            while heads < STREAMS and time.time() < deadline:
                for key, _ in sel.select(1.0):
                    i = key.data
                    try:
                        b = key.fileobj.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except ConnectionResetError:
                        b = b""
                    if not b:
                        ended += 1
                        sel.unregister(key.fileobj)
                        continue
                    bufs[i] += b
                    if b"\r\n\r\n" in bufs[i]:
                        heads += 1
                        sel.unregister(key.fileobj)
            self.assertEqual((heads, ended), (STREAMS, 0))
            bad = [i for i in range(STREAMS) if not bufs[i].startswith(b"HTTP/1.1 200 OK\r\n")
                   or b"Transfer-Encoding: chunked\r\n" not in bufs[i]]
            self.assertEqual(bad, [], bufs[bad[0]][:200] if bad else "")
            # the server holds a descriptor for every one of them now
            self.assertGreaterEqual(harness.proc_fd_count(pid), base_fds + STREAMS)
        finally:
            for s in socks:
                s.close()
            sel.close()
        cancelled = harness.settle(lambda: log_count_of(self.srv, r"sse idle: on_cancel", start),
                                   lambda n: n >= STREAMS, timeout=60)
        self.assertEqual(cancelled, STREAMS)
        self.assertLessEqual(harness.settle(lambda: harness.proc_fd_count(pid), lambda n: n <= base_fds), base_fds)

    def test_client_gone_from_idle_stream_cancels(self):
        # no event for an hour: nothing is written that could fail, yet the
        # client's leaving must reach the plugin (no timeout runs meanwhile)
        start = log_count(self.srv)
        s = self.srv.connect()
        s.sendall(b"GET /idle/ HTTP/1.1\r\nHost: x\r\n\r\n")
        head = harness.read_head(s)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
        s.close()
        t0 = time.time()
        m, _ = wait_log_from(self.srv, r"sse idle: on_cancel", start, timeout=10)
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        self.assertLess(time.time() - t0, 5.0)

    def test_client_gone_cancels_stream(self):
        start = log_count(self.srv)
        s = self.srv.connect()
        s.sendall(b"GET /ssec/ HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"data: c 0\n\n" not in got:
            b = s.recv(65536)
            self.assertTrue(b)
            got += b
        s.close()
        self.assertIsNotNone(wait_log_from(self.srv, r"sse c: on_cancel", start)[0], self.srv.log()[-2000:])
        r = self.srv.get("/sse/?events=1")
        self.assertEqual(r.body, events(b"-", 1))


if __name__ == "__main__":
    harness.main()
