#!/usr/bin/env python3
"""HTTP/2: ALPN h2 on TLS listeners and prior knowledge on h2c listeners,
with HTTP/1.1 on the same ports; every plugin kind over streams (static
files, echo, streamed request bodies with back-pressure, asynchronous
answers, event streams with trailers); limits and timeouts per stream;
the protocol's known floods; GOAWAY on reload and shutdown."""

import hashlib
import signal
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import h2util  # first: it may re-run this test under Debian's python3
from h2util import H2Client, PREFACE, client_socket, encode_headers, frame, read_frames, read_response

from api13 import route
from harness import Server, log_count, main, parse_responses, recv_all, server_ini, wait_log_from
from tlsutil import client_context, make_cert

CERTS = tempfile.mkdtemp(prefix="phh2-")
WWW = tempfile.mkdtemp(prefix="phh2www-")
BIG = os.urandom(3 * 1024 * 1024 + 17)

# distinct values, so a log line tells which one fired
TIMEOUTS = ("header_timeout = 31s\nbody_timeout = 33s\nkeepalive_timeout = 35s\nsend_timeout = 37s\n"
            "handler_timeout = 39s")

# frame types and flags (RFC 9113 section 6)
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0, 1, 3, 4, 6, 7, 9
END_STREAM, END_HEADERS = 0x1, 0x4
INTERNAL_ERROR, ENHANCE_YOUR_CALM = 0x2, 0xb


def setUpModule():
    global CERT
    CERT = make_cert(CERTS, "h2", cn="localhost", sans=("localhost",))
    with open(os.path.join(WWW, "big.bin"), "wb") as f:
        f.write(BIG)
    with open(os.path.join(WWW, "small.txt"), "wb") as f:
        f.write(b"small file\n")


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)
    shutil.rmtree(WWW, ignore_errors=True)


def ini(routes="", server_extra=TIMEOUTS, tls_extra=""):
    routes = routes or ("[route /echo]\nplugin = echo\n\n[route /]\nplugin = static\nroot = %s\n" % WWW)
    return (server_ini(routes, server_extra=server_extra, listen=("127.0.0.1:0 tls", "[::1]:0 h2c")) +
            "[tls]\ncertificate = %s\nkey = %s\n%s\n" % (CERT[0], CERT[1], tls_extra))


def ports(srv):
    """The TLS listener's port (127.0.0.1) and the h2c one's ([::1])."""
    tls = h2c = None
    for line in srv.log_lines:
        if "listening on 127.0.0.1:" in line:
            tls = int(line.rsplit(":", 1)[1])
        elif "listening on [::1]:" in line:
            h2c = int(line.rsplit(":", 1)[1])
    return tls, h2c


def tls_ctx():
    return client_context(None, alpn=("h2", "http/1.1"))


def curl(*args):
    return subprocess.run(["curl", "-sk", "--max-time", "20"] + list(args), capture_output=True, timeout=30)


class Basics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(ini(routes=(
            "[route /echo]\nplugin = echo\n\n[route /]\nplugin = static\nroot = %s\n\n" % WWW +
            route("/later", "later") + route("/sse", "sse", events="4", interval="30ms", name="h2") +
            route("/sink", "sink", pause_every="100k", pause_for="20ms", max_body_bytes="8m") +
            "[route /small]\nplugin = echo\nmax_body_bytes = 1000\n")))
        cls.tls, cls.h2c = ports(cls.srv)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def client(self, **kw):
        c = H2Client(self.tls, tls_ctx(), **kw)
        self.addCleanup(c.close)
        return c

    def test_curl_alpn_h2_and_access_log(self):
        r = curl("--http2", "-o", "-", "-w", "\n%{http_version} %{http_code}",
                 "https://localhost:%d/small.txt" % self.tls, "--resolve", "localhost:%d:127.0.0.1" % self.tls)
        self.assertEqual(r.stdout, b"small file\n\n2 200")
        m = self.srv.wait_log(r'"GET /small.txt HTTP/2.0" 200 11 "-" "curl/')
        self.assertIsNotNone(m, self.srv.log)

    def test_cookie_crumbs_joined_empty_first(self):
        """Cookie crumbs (RFC 9113 8.2.3) are joined with "; " into one
        field, an empty first crumb included (it once appended nothing to a
        buffer without memory, which the sanitizer pass reports)."""
        c = self.client()
        sid = c.request("/echo/c", headers=[("cookie", ""), ("cookie", "a=1"), ("accept", "application/json")])
        st = c.response(sid)
        self.assertEqual(st.status, 200)
        self.assertIn(b'"cookie"', bytes(st.data).lower())

    def test_http11_stays_on_the_tls_port(self):
        r = curl("--http1.1", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
                 "https://127.0.0.1:%d/small.txt" % self.tls)
        self.assertEqual(r.stdout, b"1.1 200")

    def test_h2c_prior_knowledge_and_http11_on_one_port(self):
        r = curl("--http2-prior-knowledge", "-o", "-", "-w", "\n%{http_version}",
                 "http://[::1]:%d/echo?h2c" % self.h2c)
        self.assertIn(b"Target: /echo?h2c\n", r.stdout)
        self.assertTrue(r.stdout.endswith(b"\n2"), r.stdout)
        s = socket.create_connection(("::1", self.h2c))
        s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        resp = parse_responses(recv_all(s))[0]
        s.close()
        self.assertEqual((resp.status, resp.body), (200, b"small file\n"))

    def test_large_download_with_flow_control(self):
        # a client window of 16 KiB: the server sends only as it opens
        c = self.client(settings={h2util.h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16384})
        st = c.response(c.request("/big.bin"), timeout=60)
        self.assertEqual(st.status, 200)
        self.assertEqual(st.headers["content-length"], str(len(BIG)))
        self.assertEqual(hashlib.sha256(st.data).hexdigest(), hashlib.sha256(BIG).hexdigest())

    def test_many_concurrent_streams(self):
        c = self.client()
        sids = [c.request("/echo?n=%d" % i) for i in range(60)]
        for i, sid in enumerate(sids):
            st = c.response(sid)
            self.assertEqual(st.status, 200)
            self.assertIn(b"Target: /echo?n=%d\n" % i, st.data)

    def test_headers_become_the_request_head(self):
        c = self.client()
        st = c.get("/echo", headers=[("x-one", "1"), ("cookie", "a=1"), ("cookie", "b=2")])
        self.assertIn(b"host: localhost\n", st.data)
        self.assertIn(b"x-one: 1\n", st.data)
        # crumbs joined into one field (RFC 9113 8.2.3); echo hides its value
        self.assertEqual(st.data.count(b"cookie: "), 1)

    def test_head_has_length_and_no_body(self):
        c = self.client()
        st = c.get("/big.bin", method="HEAD")
        self.assertEqual((st.status, st.headers["content-length"], bytes(st.data)), (200, str(len(BIG)), b""))

    def test_streamed_upload_with_pauses(self):
        body = os.urandom(2 * 1024 * 1024 + 3)
        c = self.client()
        sid = c.request("/sink", method="POST", body=body)
        st = c.response(sid, timeout=60)
        self.assertEqual(st.status, 200, st.data)
        text = st.data.decode()
        self.assertIn("len=%d " % len(body), text)
        self.assertIn("early=0 ", text)
        self.assertIn("sha256=%s" % hashlib.sha256(body).hexdigest(), text)
        self.assertNotIn("pauses=0 ", text)

    def test_async_answer_does_not_block_other_streams(self):
        c = self.client()
        slow = c.request("/later/x?ms=400&tag=h2")
        fast = c.request("/echo?fast")
        c.wait(lambda: c.streams[fast].done)
        self.assertFalse(c.streams[slow].done)
        st = c.response(slow)
        self.assertEqual((st.status, bytes(st.data)), (200, b"later - 400\n"))

    def test_event_stream_with_trailers(self):
        c = self.client()
        st = c.get("/sse")
        self.assertEqual(st.status, 200)
        self.assertEqual(bytes(st.data), b"".join(b"data: h2 %d\n\n" % i for i in range(4)))
        self.assertEqual(st.trailers, {"x-events": "4"})

    def test_post_body_and_expect_continue(self):
        c = self.client()
        sid = c.request("/echo", method="POST", headers=[("expect", "100-continue")], end=False)
        c.wait(lambda: c.streams[sid].informational)
        self.assertEqual(c.streams[sid].informational[0][":status"], "100")
        c.send_body(sid, b"x" * 70000)
        st = c.response(sid)
        self.assertEqual(st.status, 200)
        self.assertTrue(st.data.endswith(b"x" * 70000))

    def test_body_over_the_route_limit(self):
        c = self.client()
        st = c.get("/small", method="POST", body=b"y" * 5000)
        self.assertEqual(st.status, 413)
        # the connection serves on
        self.assertEqual(c.get("/small.txt").status, 200)

    def test_header_list_over_max_header_bytes(self):
        c = self.client()
        st = c.get("/echo", headers=[("x-big", "v" * 9000)] * 4)
        self.assertEqual(st.status, 431)
        self.assertEqual(c.get("/small.txt").status, 200)

    def test_bad_path_is_400(self):
        c = self.client()
        st = c.get("/a/%2e%2e/../../etc/passwd")
        self.assertEqual(st.status, 400)

    def test_priorities_are_ignored(self):
        s = client_socket(self.tls, tls_ctx())
        hdr = encode_headers([(":method", "GET"), (":path", "/small.txt"), (":scheme", "https"),
                              (":authority", "localhost")])
        prio = struct.pack(">IB", 0x80000000 | 3, 200)  # exclusive on a stream that does not exist
        s.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(2, 0, 7, struct.pack(">IB", 1, 16)) +
                  frame(HEADERS, END_STREAM | END_HEADERS | 0x20, 1, prio + hdr))
        status, body = read_response(s, 1)
        s.close()
        self.assertEqual((status, body), (200, b"small file\n"))


class Timeouts(unittest.TestCase):
    """Each timeout with its own value and log line."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(ini(
            routes="[route /echo]\nplugin = echo\n\n[route /]\nplugin = static\nroot = %s\n\n" % WWW +
            route("/later", "later"),
            server_extra="header_timeout = 31s\nbody_timeout = 900ms\nkeepalive_timeout = 1300ms\n"
                         "send_timeout = 1100ms\nhandler_timeout = 700ms"))
        cls.tls, cls.h2c = ports(cls.srv)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_body_timeout_answers_408(self):
        c = H2Client(self.tls, tls_ctx())
        start = log_count(self.srv)
        sid = c.request("/echo", method="POST", body=b"part", end=False)
        st = c.response(sid)
        self.assertEqual(st.status, 408)
        m, _ = wait_log_from(self.srv, r"body_timeout: no body bytes for 900 ms on HTTP/2 stream %d" % sid, start)
        self.assertIsNotNone(m)
        c.close()

    def test_handler_timeout_answers_504(self):
        c = H2Client(self.tls, tls_ctx())
        st = c.get("/later/x?ms=5000&tag=late")
        self.assertEqual(st.status, 504)
        self.assertIsNotNone(self.srv.wait_log(r'handler for "/later/x" still running after handler_timeout'))
        self.assertIsNotNone(self.srv.wait_log(r"later -: on_cancel tag=late"))
        c.close()

    def test_zero_window_stall_resets_after_send_timeout(self):
        c = H2Client(self.tls, tls_ctx(), settings={h2util.h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        start = log_count(self.srv)
        sid = c.request("/big.bin")
        st = c.response(sid, timeout=10)
        self.assertEqual(st.reset, 8)  # CANCEL
        m, _ = wait_log_from(self.srv, r"send_timeout: HTTP/2 stream %d took no bytes for 1100 ms" % sid, start)
        self.assertIsNotNone(m)
        # the connection itself serves on
        self.assertEqual(c.get("/echo").status, 200)
        c.close()

    def test_idle_connection_gets_goaway(self):
        c = H2Client(self.tls, tls_ctx())
        self.assertEqual(c.get("/echo").status, 200)
        t0 = time.time()
        goaway = c.wait_closed(timeout=10)
        self.assertEqual(goaway[0], 0)  # NO_ERROR
        self.assertGreater(time.time() - t0, 1.0)  # keepalive_timeout, not the 900 ms or 700 ms ones
        c.close()


class Floods(unittest.TestCase):
    """Known attacks end the attacker's connection or stay bounded; the
    server keeps serving everyone else."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(ini())
        cls.tls, cls.h2c = ports(cls.srv)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def still_serves(self):
        c = H2Client(self.h2c, sock=socket.create_connection(("::1", self.h2c)))
        self.assertEqual(c.get("/small.txt").status, 200)
        c.close()

    def raw(self):
        s = socket.create_connection(("::1", self.h2c), timeout=10)
        s.sendall(PREFACE + frame(SETTINGS, 0, 0))
        return s

    def goaway_code(self, s, timeout=10):
        """Reads frames until the server closes; the GOAWAY's error code."""
        data = recv_all(s, timeout)
        code, off = None, 0
        while off + 9 <= len(data):
            n = int.from_bytes(data[off:off + 3], "big")
            if data[off + 3] == GOAWAY:
                code = struct.unpack(">I", data[off + 13:off + 17])[0]
            off += 9 + n
        return code

    def cpu(self):
        with open("/proc/%d/stat" % self.srv.serving_pid()) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def test_rapid_reset(self):
        s = self.raw()
        hdr = encode_headers([(":method", "GET"), (":path", "/echo"), (":scheme", "http"),
                              (":authority", "x")])
        burst = b"".join(frame(HEADERS, END_STREAM | END_HEADERS, sid, hdr) + frame(RST_STREAM, 0, sid, b"\0\0\0\x08")
                         for sid in range(1, 2 * 3000, 2))
        try:
            s.sendall(burst)
        except (BrokenPipeError, ConnectionResetError):
            pass
        # nghttp2's stream reset rate limit ends the connection with
        # INTERNAL_ERROR
        self.assertEqual(self.goaway_code(s), INTERNAL_ERROR)
        s.close()
        self.still_serves()

    def test_continuation_flood(self):
        s = self.raw()
        hdr = encode_headers([(":method", "GET"), (":path", "/echo"), (":scheme", "http")])
        junk = encode_headers([("x-a", "b" * 100)])
        data = frame(HEADERS, 0, 1, hdr) + b"".join(frame(CONTINUATION, 0, 1, junk) for _ in range(5000))
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertEqual(self.goaway_code(s), ENHANCE_YOUR_CALM)
        s.close()
        self.assertIsNotNone(self.srv.wait_log(r"HTTP/2: .*CONTINUATION.*; closing"), self.srv.log)
        self.still_serves()

    def test_hpack_bomb(self):
        # a 4 KiB field stored in the decoder's table once, then referenced
        # by index thousands of times: kilobytes on the wire, megabytes
        # decoded
        s = self.raw()
        enc = h2util.hpack.Encoder()
        first = enc.encode([(":method", "GET"), (":path", "/echo"), (":scheme", "http"), (":authority", "x"),
                            ("x-bomb", "z" * 4000)])
        refs = enc.encode([("x-bomb", "z" * 4000)]) * 3000  # each one byte: an indexed field
        block = first + refs
        frames = frame(HEADERS, END_STREAM, 1, block[:16000])
        rest = block[16000:]
        while rest:
            piece, rest = rest[:16000], rest[16000:]
            frames += frame(CONTINUATION, END_HEADERS if not rest else 0, 1, piece)
        s.sendall(frames)
        data = recv_all(s, 10)
        s.close()
        # a 431 for the stream, or the connection refused: never the request
        self.assertNotIn(b"x-bomb", data)
        self.still_serves()

    def test_ping_flood_without_reading(self):
        s = self.raw()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        before = self.cpu()
        sent = 0
        try:
            for _ in range(200):
                s.sendall(frame(PING, 0, 0, b"12345678") * 500)
                sent += 500
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        s.close()
        self.assertLess(self.cpu() - before, 5.0)
        self.still_serves()
        self.assertIsNotNone(self.srv.wait_log(r"HTTP/2: .*(flood|Flood)"), self.srv.log)

    def test_settings_flood(self):
        s = self.raw()
        try:
            s.sendall(frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 100)) * 20000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        code = self.goaway_code(s)
        s.close()
        self.assertEqual(code, ENHANCE_YOUR_CALM)
        self.still_serves()

    def test_empty_data_flood(self):
        s = self.raw()
        hdr = encode_headers([(":method", "POST"), (":path", "/echo"), (":scheme", "http"), (":authority", "x")])
        try:
            s.sendall(frame(HEADERS, END_HEADERS, 1, hdr) + frame(DATA, 0, 1) * 5000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertEqual(self.goaway_code(s), ENHANCE_YOUR_CALM)
        s.close()
        self.assertIsNotNone(self.srv.wait_log(r"HTTP/2 flood of empty DATA frames; closing"))
        self.still_serves()

    def test_garbage_after_preface(self):
        s = socket.create_connection(("::1", self.h2c), timeout=10)
        s.sendall(PREFACE + b"\xff" * 100)
        self.assertIsNotNone(self.goaway_code(s))
        s.close()
        self.still_serves()


class HeldBodies(unittest.TestCase):
    """Bodies no handler takes (paused) cost a connection at most twice its
    window (4 stream windows), however many streams it opens."""

    WINDOW = 128 * 1024
    STREAMS = 16

    def test_paused_bodies_hold_at_most_two_connection_windows(self):
        # each body pauses for 4 s after its first bytes (the server's stop
        # waits for the plugin's pause to end)
        srv = Server(ini(routes=route("/hold", "sink", pause_every="1", pause_for="4s", max_body_bytes="8m") +
                         "[route /echo]\nplugin = echo\n",
                         server_extra=TIMEOUTS + "\nhttp2_window = 128k"))
        self.addCleanup(srv.stop)
        tls, _ = ports(srv)
        c = H2Client(tls, tls_ctx())
        self.addCleanup(c.close)
        sids = [c.request("/hold", method="POST", end=False) for _ in range(self.STREAMS)]

        def ping_round():
            # the ACK comes after any WINDOW_UPDATE earned by what came before
            acks = c.pings_acked
            c.conn.ping(b"heldbody")
            c.flush()
            c.wait(lambda: c.pings_acked > acks)

        ping_round()  # the server's SETTINGS and connection window are in
        sent = 0
        for _ in range(1000):
            before = sent
            for sid in sids:
                room = min(c.conn.local_flow_control_window(sid), c.conn.max_outbound_frame_size)
                if room > 0:
                    c.conn.send_data(sid, b"x" * room)
                    sent += room
            c.flush()
            ping_round()
            if sent == before:
                break
        # every stream could take a window (16 x 128 KiB = 2 MiB): the
        # connection's window stops the client at 2 x 4 windows (1 MiB), plus
        # the first frame each stream's handler took before pausing
        self.assertEqual(c.conn.outbound_flow_control_window, 0)
        self.assertLessEqual(sent, 2 * 4 * self.WINDOW + self.STREAMS * 16384)
        self.assertGreaterEqual(sent, 4 * self.WINDOW)
        # a request without a body still goes through on that connection
        self.assertEqual(c.get("/echo").status, 200)


class Lifecycle(unittest.TestCase):
    def test_shutdown_sends_goaway_and_finishes_streams(self):
        srv = Server(ini(routes="[route /echo]\nplugin = echo\n\n" +
                         route("/sse", "sse", events="6", interval="150ms", name="old")))
        try:
            tls, _ = ports(srv)
            # raw frames: python3-h2 drops a stream's data after a GOAWAY
            s = client_socket(tls, tls_ctx())
            hdr = encode_headers([(":method", "GET"), (":path", "/sse"), (":scheme", "https"),
                                  (":authority", "localhost")])
            s.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, END_STREAM | END_HEADERS, 1, hdr))
            frames = read_frames(s, lambda f: f[0] == DATA and f[2] == 1)
            srv.signal(signal.SIGTERM)
            # first the notice (RFC 9113 section 6.8): a request sent after
            # it, before the final GOAWAY, is still answered
            frames += read_frames(s, lambda f: f[0] == GOAWAY)
            late = encode_headers([(":method", "GET"), (":path", "/echo/late"), (":scheme", "https"),
                                   (":authority", "localhost")])
            s.sendall(frame(HEADERS, END_STREAM | END_HEADERS, 3, late))
            frames += read_frames(s, None)  # to the close
            s.close()
            goaways = [struct.unpack(">II", f[3][:8]) for f in frames if f[0] == GOAWAY]
            self.assertEqual(goaways, [(0x7fffffff, 0), (3, 0)])  # notice, then last stream 3; NO_ERROR
            self.assertTrue([f for f in frames if f[0] == HEADERS and f[2] == 3])
            self.assertIn(b"Path: /echo/late\n", b"".join(f[3] for f in frames if f[0] == DATA and f[2] == 3))
            body = b"".join(f[3] for f in frames if f[0] == DATA and f[2] == 1)
            self.assertEqual(body, b"".join(b"data: old %d\n\n" % i for i in range(6)))
            self.assertTrue([f for f in frames if f[2] == 1 and f[1] & END_STREAM])
            srv.proc.wait(timeout=20)
            self.assertEqual(srv.proc.returncode, 0)
        finally:
            srv.stop()

    def test_reload_serves_new_streams_on_the_new_generation(self):
        # one process: the connection outlives the reload (under a master
        # the old worker's GOAWAY sends the client to the new one)
        one = TIMEOUTS + "\nprocesses = 0"
        srv = Server(ini(routes="[route /echo]\nplugin = echo\n", server_extra=one))
        try:
            tls, _ = ports(srv)
            c = H2Client(tls, tls_ctx())
            self.assertEqual(c.get("/extra/x").status, 404)
            srv.reload(ini(routes="[route /echo]\nplugin = echo\n\n[route /extra]\nplugin = echo\n", server_extra=one),
                       r"generation 2 serving|reload failed")
            # same connection; each worker takes the new generation at its
            # next loop turn
            deadline = time.time() + 10
            while True:
                st = c.get("/extra/x")
                if st.status != 404 or time.time() > deadline:
                    break
            self.assertEqual(st.status, 200)
            self.assertIn(b"Subpath: /x\n", st.data)
            c.close()
        finally:
            srv.stop()

    def test_http2_off_by_key(self):
        srv = Server(ini(tls_extra="http2 = no"))
        try:
            tls, _ = ports(srv)
            s = client_socket(tls, tls_ctx(), h2=False)  # offers h2 and http/1.1
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
            s.close()
        finally:
            srv.stop()

    def test_preface_on_a_plain_listener_is_an_http1_error(self):
        srv = Server(server_ini("[route /echo]\nplugin = echo\n"))
        try:
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(PREFACE)
            resp = parse_responses(recv_all(s))[0]
            s.close()
            self.assertEqual(resp.status, 400)  # "*" is for OPTIONS only
        finally:
            srv.stop()


class NotesOverH2(unittest.TestCase):
    """ABI 1.5 notes over h2c: concurrent streams of one connection each
    see only their own note (sync, async and blocking stages)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(ini(routes=(
            route("/app", "guard, probe", guard__mode="header", guard__header="X-Key") +
            route("/aapp", "guard, probe", guard__mode="async", guard__header="X-Key", guard__delay="30ms") +
            route("/bkapp", "guard, probe", guard__mode="header", guard__header="X-Key", blocking="yes") +
            route("/capp", "guard, probe", guard__mode="async", guard__header="X-Key", guard__delay="10ms",
                  coroutine="yes", coroutine_stack="256k") +
            route("/bare", "probe"))))
        cls.tls, cls.h2c = ports(cls.srv)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_each_stream_sees_its_own_note(self):
        c = H2Client(None, sock=socket.create_connection(("::1", self.h2c)))
        self.addCleanup(c.close)
        paths = ("/app", "/aapp", "/bkapp", "/capp", "/bare") * 4
        sids = [c.request("%s/notes" % p, headers=[("x-key", "s%d" % i)]) for i, p in enumerate(paths)]
        for i, (p, sid) in enumerate(zip(paths, sids)):
            st = c.response(sid)
            want = b"user=-\n" if p == "/bare" else b"user=s%d\n" % i
            self.assertEqual((st.status, bytes(st.data)), (200, want), p)
        st = c.get("/aapp/notes")
        self.assertEqual(st.status, 401)



class ServerHeaderOverH2(unittest.TestCase):
    """[server] server_header names the server, or leaves the field out,
    on HTTP/2 as on HTTP/1."""

    def served(self, setting):
        with Server(ini(server_extra=TIMEOUTS + "\nserver_header = %s" % setting)) as srv:
            _, h2c = ports(srv)
            c = H2Client(None, sock=socket.create_connection(("::1", h2c)))
            self.addCleanup(c.close)
            st = c.get("/echo/x")
            self.assertEqual(st.status, 200)
            return st.headers

    def test_custom_and_off(self):
        self.assertEqual(self.served("edge 1.0")["server"], "edge 1.0")
        self.assertNotIn("server", self.served("off"))

if __name__ == "__main__":
    main()
