#!/usr/bin/env python3
"""The connection path under hostile or unlucky clients: what a review found
once and no test drove. A request that crashed the worker through the
access log, a chunked upload whose memory grew with the square of its
chunks, a reset client that made a worker spin while a blocking handler ran,
answers held back or sent without their body, timers that replaced each
other, resets that destroyed answers, clients slow on purpose. Each case
names the timeouts it sets to distinct values, so it shows which one fired."""

import os
import re
import socket
import struct
import time
import unittest

import harness
from harness import (Server, parse_responses, read_responses, recv_until_closed,
                     server_ini, settle)

ROUTES = harness.fixture_routes(slow=True)


def start(extra="", access_log="-"):
    return Server(server_ini(routes=ROUTES, threads=1, access_log=access_log, server_extra=extra))


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset(s):
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def slow_reader(srv):
    """A connected client with a small receive window: what it does not
    read soon stays queued in the server."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", srv.port))
    return s


def read_access_log(srv, count):
    path = os.path.join(srv.dir, "access.log")

    def lines():
        try:
            with open(path, "rb") as f:
                return f.read().splitlines(keepends=True)
        except FileNotFoundError:
            return []
    return settle(lines, lambda l: len(l) >= count, timeout=10)


class AccessLogFormattingTest(unittest.TestCase):
    def test_long_method_and_quoted_target_do_not_crash(self):
        # The request that overran the access-log line on the worker's
        # stack: a 2100-byte method and a target of 8000 quotes.
        with start(access_log="access.log") as srv:
            bad = b"A" * 2100 + b" /" + b'"' * 8000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            with srv.connect() as s:
                s.sendall(bad)
                raw, closed = recv_until_closed(s)
            rs = parse_responses(raw)
            self.assertEqual([r.status for r in rs], [501], raw[:300])
            self.assertTrue(closed)
            self.assertEqual(srv.get("/echo/alive").status, 200)
            lines = read_access_log(srv, 2)
            # the refused request is logged without a request line
            self.assertRegex(lines[0].decode(), r'^127\.0\.0\.1 - - \[[^\]]+\] "-" 501 \d+ "-" "-"\n$')
            self.assertIsNone(srv.proc.poll())

    def test_longest_method_with_quoted_target_is_logged_cut(self):
        # A 32-byte method (the longest accepted) and 8000 quotes: the line
        # holds the method, 512 escaped quotes (2048 bytes) and the rest of
        # the fields; it is one line, at most 4096 bytes.
        method = b"M" * 32
        with start(access_log="access.log") as srv:
            req = method + b" /echo/" + b'"' * 8000 + b" HTTP/1.1\r\nHost: x\r\nUser-Agent: u\"a\r\n" \
                b"Connection: close\r\n\r\n"
            with srv.connect() as s:
                s.sendall(req)
                raw, _ = recv_until_closed(s)
            self.assertEqual(parse_responses(raw)[0].status, 200, raw[:200])
            line = read_access_log(srv, 1)[0]
            target = b"/echo/" + b"\\x22" * 510  # 6 + 510 * 4 = 2046: a 512th escape would pass 2048
            want = re.compile(rb'^127\.0\.0\.1 - - \[[^\]]+\] "' + re.escape(method + b" " + target) +
                              rb' HTTP/1\.1" 200 \d+ "-" "u\\x22a"\n$')
            self.assertRegex(line, want)
            self.assertLessEqual(len(line), 4096)


@unittest.skipIf(harness.SANITIZED or harness.WRAPPER, "RSS of an instrumented server is not comparable")
class ChunkedMemoryTest(unittest.TestCase):
    def test_chunked_upload_memory_is_linear(self):
        # 1 MiB in 1 KiB chunks: the body buffer doubles instead of being
        # copied per read into blocks that live until the request ends
        # (that took the peak RSS from 4.5 MB to 125 MB).
        with start("max_body_bytes = 2m") as srv:
            self.assertEqual(srv.get("/echo/warm").status, 200)
            before = int(harness.proc_status_field(srv.serving_pid(), "VmHWM").split()[0])
            body = b"".join(b"400\r\n" + bytes([65 + i % 26]) * 1024 + b"\r\n" for i in range(1024)) + b"0\r\n\r\n"
            head = b"POST /echo/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            with srv.connect() as s:
                s.sendall(head)
                for i in range(0, len(body), 1029):  # one chunk per send
                    s.sendall(body[i:i + 1029])
                raw, _ = recv_until_closed(s, timeout=30)
            r = parse_responses(raw)[0]
            self.assertEqual(r.status, 200)
            self.assertTrue(r.body.endswith(bytes([65 + 1023 % 26]) * 1024))
            after = int(harness.proc_status_field(srv.serving_pid(), "VmHWM").split()[0])
            grown_mib = (after - before) / 1024.0
            # body (1 MiB, at most 2 MiB of buffer), echo's copy of it and
            # the response: well under 16 MiB
            self.assertLess(grown_mib, 16, "peak RSS grew by %.1f MiB for a 1 MiB body" % grown_mib)


class BlockingHandlerTest(unittest.TestCase):
    def test_reset_client_does_not_spin_the_worker(self):
        # A client that resets while a 1.5 s blocking handler runs: the
        # worker must sleep, not spin on the reset (level-triggered) socket.
        with start("handler_timeout = 10s") as srv:
            srv.get("/echo/warm")
            cpu0 = cpu_seconds(srv.serving_pid())
            s = srv.connect()
            s.sendall(b"GET /slow/sleep?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
            # the handler has the request once the helper thread runs it;
            # reset right away
            reset(s)
            settle(srv.log, lambda t: '"GET /slow/sleep?ms=1500 HTTP/1.1"' in t, timeout=10)
            used = cpu_seconds(srv.serving_pid()) - cpu0
            self.assertLess(used, 0.3, "the worker used %.2f s of CPU while the handler slept" % used)
            self.assertEqual(srv.get("/echo/after").status, 200)

    def test_pipelined_answer_is_not_held_behind_a_blocking_handler(self):
        # Two pipelined requests: a quick one, then a 1.5 s blocking one. The
        # first answer leaves before the handler starts, not with its answer.
        with start("handler_timeout = 10s") as srv:
            with srv.connect() as s:
                s.sendall(b"GET /echo/first HTTP/1.1\r\nHost: x\r\n\r\n"
                          b"GET /slow/sleep?ms=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
                s.settimeout(10)
                data = b""
                while True:
                    data += s.recv(65536)
                    try:
                        rs = parse_responses(data)
                        break
                    except (AssertionError, ValueError):
                        continue
                self.assertEqual([r.status for r in rs], [200], data[:300])
                self.assertIn(b"Target: /echo/first", rs[0].body)
                # the second answer follows once the handler is done
                rest = read_responses(s, 1)
                self.assertEqual([(r.status, r.body) for r in rest], [(200, b"slept 1500\n")])

    def test_send_timeout_applies_with_handler_timeout_zero(self):
        # handler_timeout = 0 stopped the connection's timer for the
        # handler; a response the client never reads must still be cut off
        # by send_timeout (1 s; nothing else is set that short).
        with start("handler_timeout = 0\nsend_timeout = 1s\nkeepalive_timeout = 30s\nheader_timeout = 20s") as srv:
            s = slow_reader(srv)
            try:
                # 8 MiB asked for, far more than the socket buffers hold
                s.sendall(b"GET /slow/big HTTP/1.1\r\nHost: x\r\n\r\n" * 8)
                # observable state: the connection ended, its last request
                # logged with what was sent of it, while the client has
                # not read a byte
                logged = srv.wait_log(r'"GET /slow/big HTTP/1\.1" 200 (?!1048576 )\d+', timeout=10)
                self.assertTrue(logged, "a response nobody reads was never cut off:\n" + srv.log())
                raw, closed = recv_until_closed(s, timeout=10)
            finally:
                s.close()
            self.assertTrue(closed)
            self.assertLess(len(raw), 8 << 20, "all 8 MiB went out: nothing was cut off")


class ResponseFramingTest(unittest.TestCase):
    def test_408_after_head_request_has_its_body(self):
        # A HEAD answered on a keep-alive connection, then a partial head
        # that times out: the 408 is not an answer to a HEAD, so its
        # Content-Length bytes follow.
        with start("header_timeout = 1s\nkeepalive_timeout = 30s") as srv:
            with srv.connect() as s:
                s.sendall(b"HEAD /echo/h HTTP/1.1\r\nHost: x\r\n\r\n")
                rs = read_responses(s, 1, head=True)
                self.assertEqual(rs[0].status, 200)
                s.sendall(b"GET /ec")
                raw, closed = recv_until_closed(s, timeout=10)
            rs = parse_responses(raw)
            self.assertEqual([r.status for r in rs], [408], raw)
            self.assertEqual(rs[0].body, b"408 Request Timeout\n")
            self.assertEqual(rs[0].header("Content-Length"), "20")
            self.assertTrue(closed)


class HalfCloseTest(unittest.TestCase):
    def test_half_close_keeps_queued_answers(self):
        # Eight pipelined POSTs, then the start of a ninth, then the client
        # shuts down its sending side before reading. The socket takes
        # little at a time (send_buffer), so most answers are still queued
        # when the server sees the end of input: they must all arrive.
        with start("send_buffer = 4096\nlog_level = debug") as srv:
            s = slow_reader(srv)
            try:
                body = b"b" * 7000
                one = b"POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 7000\r\n\r\n" + body
                s.sendall(one * 8 + b"GET /echo/cut HTTP/1.1\r\nHo")
                s.shutdown(socket.SHUT_WR)
                self.assertTrue(srv.wait_log(r"the client is done sending; \d+ queued bytes still go out"),
                                srv.log())
                raw, closed = recv_until_closed(s, timeout=10)
            finally:
                s.close()
            self.assertTrue(closed)
            rs = parse_responses(raw)
            self.assertEqual([r.status for r in rs], [200] * 8)
            self.assertTrue(all(r.body.endswith(body) for r in rs))

    def test_error_answer_to_head_has_no_body(self):
        # a HEAD whose Content-Length is over the limit: 413, headers only
        with start("max_body_bytes = 1000") as srv:
            with srv.connect() as s:
                s.sendall(b"HEAD /echo/h HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n")
                raw, closed = recv_until_closed(s)
            self.assertTrue(closed)
            rs = parse_responses(raw, head=True)
            self.assertEqual([(r.status, r.header("Content-Length")) for r in rs], [(413, "22")])
            self.assertTrue(raw.endswith(b"\r\n\r\n"), raw)


class TimersTest(unittest.TestCase):
    """Timeouts at distinct values: header 1 s, body 4 s, send 5 s,
    keep-alive 6 s; the log says which fired."""

    EXTRA = "header_timeout = 1s\nbody_timeout = 4s\nsend_timeout = 5s\nkeepalive_timeout = 6s\n"

    def test_partial_head_after_pipelined_request_gets_header_timeout(self):
        with start(self.EXTRA + "body_min_rate = 0") as srv:
            with srv.connect() as s:
                s.sendall(b"GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\nGET /ec")
                t0 = time.time()
                raw, closed = recv_until_closed(s, timeout=15)
                elapsed = time.time() - t0
            self.assertEqual([r.status for r in parse_responses(raw)], [200, 408])
            self.assertTrue(closed)
            self.assertTrue(srv.wait_log(r"header_timeout: no complete request head after 1000 ms"), srv.log())
            self.assertLess(elapsed, 3.5, "cut off after %.1f s: not by header_timeout (1 s)" % elapsed)

    def test_silent_connection_gets_header_timeout_not_keepalive(self):
        with start(self.EXTRA) as srv:
            with srv.connect() as s:
                t0 = time.time()
                raw, closed = recv_until_closed(s, timeout=15)
                elapsed = time.time() - t0
            self.assertTrue(closed)
            self.assertEqual(raw, b"")
            self.assertLess(elapsed, 3.5, "closed after %.1f s: keepalive_timeout (6 s), not header (1 s)" % elapsed)

    def test_dribbled_body_is_cut_by_min_rate(self):
        # 100 bytes/s required after a 1 s grace; the client sends 4 bytes/s,
        # each within body_timeout (4 s), so only the rate can end it.
        with start(self.EXTRA + "body_min_rate = 100\nbody_rate_grace = 1s\nmax_body_bytes = 1m") as srv:
            with srv.connect() as s:
                s.sendall(b"POST /echo/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
                t0 = time.time()
                closed = False
                raw = b""
                while time.time() - t0 < 15:
                    try:
                        s.sendall(b"x")
                    except (BrokenPipeError, ConnectionResetError):
                        break
                    s.settimeout(0.25)
                    try:
                        b = s.recv(65536)
                        if not b:
                            closed = True
                            break
                        raw += b
                    except socket.timeout:
                        pass
                    except ConnectionResetError:
                        break
                if not closed:
                    more, closed = recv_until_closed(s, timeout=5)
                    raw += more
            self.assertTrue(closed)
            self.assertEqual([r.status for r in parse_responses(raw)], [408], raw[:200])
            self.assertTrue(srv.wait_log(r"request body below body_min_rate \(\d+ bytes in \d+ ms\)"), srv.log())
            self.assertNotIn("body_timeout: no body bytes", srv.log())

    def test_stalled_body_is_cut_by_body_timeout(self):
        # Rate checks start only after 20 s; the body stops: body_timeout.
        with start(self.EXTRA + "body_min_rate = 100\nbody_rate_grace = 20s") as srv:
            with srv.connect() as s:
                s.sendall(b"POST /echo/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
                raw, closed = recv_until_closed(s, timeout=15)
            self.assertTrue(closed)
            self.assertEqual([r.status for r in parse_responses(raw)], [408], raw[:200])
            self.assertTrue(srv.wait_log(r"body_timeout: no body bytes for 4000 ms"), srv.log())
            self.assertNotIn("below body_min_rate", srv.log())


class LingeringCloseTest(unittest.TestCase):
    def test_connection_close_answer_survives_pipelined_data(self):
        # A Connection: close request followed by more requests in the same
        # write. The client reads nothing until the server has queued the
        # whole 1 MiB answer: a close() over the unread requests then would
        # send a reset and throw away what the kernel still holds. The answer
        # must arrive whole, then a clean end of stream.
        with start() as srv:
            s = slow_reader(srv)
            try:
                s.sendall(b"GET /mb/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" +
                          b"GET /echo/more HTTP/1.1\r\nHost: x\r\n\r\n" * 5000)
                self.assertTrue(srv.wait_log(r'"GET /mb/big HTTP/1\.1" 200 1048576'), srv.log())
                raw, closed = recv_until_closed(s, timeout=10)
            finally:
                s.close()
            self.assertTrue(closed)
            rs = parse_responses(raw)
            self.assertEqual([r.status for r in rs], [200])
            self.assertEqual(len(rs[0].body), 1 << 20)


class CoreErrorsTest(unittest.TestCase):
    def test_queue_full_503_has_retry_after(self):
        # one helper thread, one queued job: of six requests sent at once,
        # at least four find the queue full
        with start("blocking_threads = 1\nblocking_queue = 1\nhandler_timeout = 10s") as srv:
            socks = []
            try:
                for i in range(6):
                    s = srv.connect()
                    s.sendall(b"GET /slow/sleep?ms=700 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    socks.append(s)
                rs = [parse_responses(recv_until_closed(s, timeout=15)[0])[0] for s in socks]
            finally:
                for s in socks:
                    s.close()
            full = [r for r in rs if r.status == 503]
            self.assertGreaterEqual(len(full), 4, [r.status for r in rs])
            self.assertEqual({r.header("Retry-After") for r in full}, {"1"})
            self.assertEqual(len(full) + len([r for r in rs if r.status == 200]), 6)


if __name__ == "__main__":
    harness.main()
