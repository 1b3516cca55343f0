#!/usr/bin/env python3
"""Coroutine handlers (plugin ABI 1.4), against the contract in plugin.h.

The fixture tests/plugins/cofx.c answers one subpath per api->co_* and
api->sock_* call and writes each result, errno names included, into the
response body; cofxs is the same with PH_PLUGIN_STREAM_BODY. The sockets
talk to a small line server run here (TCP and unix). Cancellation is seen
in the fixture's "cofx: cancelled WHAT on PREFIX; next wait RC after MS ms"
lines; under ASan/valgrind (PH_STRICT_EXIT) every server's exit also
checks that the unwinding freed everything.

Every wait has its own timeout so that a result names the one that fired:
handler_timeout 700 ms, the waits' own 250..400 ms, the server's
body_timeout and keepalive left at their far larger defaults.
"""

import contextlib
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Server, server_ini

FX = os.path.join(harness.FIXTURE_DIR, "cofx.so")
FXS = os.path.join(harness.FIXTURE_DIR, "cofxs.so")
SLOW = 10 if harness.WRAPPER else 1
# The idle-coroutine test: 10,000 requests on one worker thread (fewer
# under valgrind, where each costs far more).
IDLE_N = int(os.environ.get("PH_COTEST_IDLE", "200" if harness.WRAPPER else "10000"))
# Issue target: 10,000 idle coroutines in less than 64 MiB.
IDLE_TARGET_KIB = 64 * 1024
CANCELLED = r"cofx: cancelled %s on %s; next wait (\S+) after (\d+) ms"


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


class LineServer:
    """The upstream of /sock: one command line per exchange (see cofx.c).
    Listens on TCP 127.0.0.1 or on a unix socket; every connection has its
    thread, bounded by IO timeouts; close() ends them all."""

    def __init__(self, unix_path=None):
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.address = "unix:" + unix_path
        else:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(30)
        buf = b""
        try:
            while not self.stop.is_set():
                while b"\n" not in buf:
                    b = c.recv(4096)
                    if not b:
                        return
                    buf += b
                line, _, buf = buf.partition(b"\n")
                cmd, _, arg = line.decode().partition(" ")
                if cmd == "echo":
                    c.sendall(arg.encode() + b"\n")
                elif cmd == "two":
                    c.sendall(b"a\r\n\r\nb\n")
                elif cmd == "bytes":
                    c.sendall(("0123456789" * 100000)[:int(arg)].encode())
                elif cmd == "close-after":
                    c.sendall(arg.encode())
                    return
                elif cmd == "silent":
                    self.stop.wait(60)
                    return
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(5)


def routes(extra=""):
    return ("[route /co]\nplugin = %s\n\n[route /cos]\nplugin = %s\n\n"
            "[route /small]\nplugin = %s\nmax_body_bytes = 1000\n\n"
            "[route /sp]\nplugin = %s\nspawn = yes\ntag = sp\n\n"
            "[route /ec]\nplugin = echo\ncoroutine = yes\n\n"
            "[route /ec16]\nplugin = echo\ncoroutine = yes\ncoroutine_stack = 16k\n%s"
            % (FX, FXS, FXS, FX, extra))


def request(srv, target, method="GET", body=None, headers=None, version="1.1", timeout=harness.IO_TIMEOUT * SLOW):
    """Raw bytes of one request's answer (Connection: close)."""
    h = "Host: localhost\r\nConnection: close\r\n"
    for k, v in (headers or {}).items():
        h += "%s: %s\r\n" % (k, v)
    if body is not None and "Transfer-Encoding" not in (headers or {}):
        h += "Content-Length: %d\r\n" % len(body)
    data = ("%s %s HTTP/%s\r\n%s\r\n" % (method, target, version, h)).encode() + (body or b"")
    return srv.raw(data, timeout=timeout)


def get(srv, target, **kw):
    resps = harness.parse_responses(request(srv, target, **kw), head=kw.get("method") == "HEAD")
    if not resps:
        raise AssertionError("no response to %s" % target)
    return resps[0]


class Calls(unittest.TestCase):
    """Every call, against one server with one worker thread."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="phco-")
        cls.tcp = LineServer()
        cls.unix = LineServer(os.path.join(cls.tmp, "up.sock"))
        cls.srv = Server(server_ini(routes()))

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.srv.stop()
            # thread_exit stopped the ticker that thread_init spawned
            assert re.search(r"cofx\[sp\]: ticker 0 ends: -ECANCELED, active=1", cls.srv.log()), cls.srv.log()[-3000:]
            assert re.search(r"cofx\[sp\]: thread_exit 0 running=[01] ended=1 ticked=[01]", cls.srv.log()), \
                cls.srv.log()[-3000:]
            assert rc == 0, "server exited %r:\n%s" % (rc, cls.srv.log()[-3000:])
        finally:
            cls.tcp.close()
            cls.unix.close()
            shutil.rmtree(cls.tmp, True)

    def body(self, target, status=200, **kw):
        r = get(self.srv, target, **kw)
        self.assertEqual(r.status, status, (target, r.body))
        return r.body.decode("latin-1")

    # --- waits -------------------------------------------------------------
    def test_info_runs_on_a_coroutine(self):
        self.assertEqual(self.body("/co/info"), "co_active=1\n")

    def test_sleep(self):
        t0 = time.monotonic()
        self.assertEqual(self.body("/co/sleep?ms=120"), "sleep 120: 0\n")
        self.assertGreaterEqual(time.monotonic() - t0, 0.120)
        self.assertEqual(self.body("/co/sleep?ms=0"), "sleep 0: 0\n")

    def test_wait_fd_ready(self):
        # READ proves the wait lasted until the loop timer wrote the byte
        # (when that timer fires is the loop's business, not co_wait_fd's)
        self.assertEqual(self.body("/co/wait_fd?after=30&timeout=4000"), "wait_fd: 1\n")

    def test_wait_fd_hang_up(self):
        m = re.fullmatch(r"wait_fd: (\d+)\n", self.body("/co/wait_fd?after=20&close=1&timeout=4000"))
        self.assertIsNotNone(m)
        self.assertTrue(int(m.group(1)) & 4, "PH_EV_HUP not reported: %s" % m.group(0))

    def test_wait_fd_times_out(self):
        t0 = time.monotonic()
        self.assertEqual(self.body("/co/wait_fd?timeout=250"), "wait_fd: -ETIMEDOUT\n")
        self.assertGreaterEqual(time.monotonic() - t0, 0.250)
        self.assertEqual(self.body("/co/wait_fd?timeout=0"), "wait_fd: -ETIMEDOUT\n")

    def test_poll(self):
        self.assertEqual(self.body("/co/poll?after=30&timeout=4000"),
                         "poll: 1 revents=0,1\npoll now: -ETIMEDOUT\npoll write: 1 revents=2\n")
        t0 = time.monotonic()
        lines = self.body("/co/poll?timeout=260").splitlines()
        self.assertGreaterEqual(time.monotonic() - t0, 0.260)
        self.assertTrue(lines[0].startswith("poll: -ETIMEDOUT "), lines)
        self.assertEqual(lines[1:], ["poll now: -ETIMEDOUT", "poll write: 1 revents=2"])

    def test_resolve(self):
        self.assertIn(self.body("/co/resolve?name=localhost:80"),
                      ("resolve localhost:80: 0 127.0.0.1:80\n", "resolve localhost:80: 0 [::1]:80\n"))
        self.assertEqual(self.body("/co/resolve?name=127.0.0.1:8080"), "resolve 127.0.0.1:8080: 0 127.0.0.1:8080\n")
        self.assertEqual(self.body("/co/resolve?name=[::1]:443"), "resolve [::1]:443: 0 [::1]:443\n")
        # RFC 6761: .invalid never resolves
        self.assertEqual(self.body("/co/resolve?name=no-such-host.invalid:80"),
                         "resolve no-such-host.invalid:80: -ENOENT\n")
        self.assertEqual(self.body("/co/resolve?name=127.0.0.1:80&cap=5"), "resolve 127.0.0.1:80: -ENOSPC\n")

    def test_blocking(self):
        self.assertEqual(self.body("/co/blocking?ms=30"), "blocking: 0 ran=1 other_thread=1\n")

    def test_spawn_from_thread_init(self):
        self.assertEqual(self.body("/sp/spawn"), "outside: co_active=0 co_sleep=-EPERM\nticker: ticking\n")

    # --- sockets -------------------------------------------------------------
    LINES = ("until: 6 [hello\n]\nwrite: 4\nuntil crlfcrlf: 5 [a\r\n\r\n]\nbuffered: 2\nexactly: 2 [b\n]\n"
             "write: 9\nexactly: 10 [0123456789]\nbuffered: 0\n")

    def test_sock_lines_tcp_and_unix(self):
        for up in (self.tcp, self.unix):
            self.assertEqual(self.body("/co/sock?addr=%s" % up.address), self.LINES, up.address)

    def test_sock_read_until_over_max(self):
        for up in (self.tcp, self.unix):
            self.assertEqual(self.body("/co/sock?op=nobufs&addr=%s" % up.address), "until max 50: -ENOBUFS\n")

    def test_sock_stream_ends_early(self):
        for up in (self.tcp, self.unix):
            self.assertEqual(self.body("/co/sock?op=early&addr=%s" % up.address),
                             "until at end: -EPIPE\nexactly at end: -EPIPE\nread: 3 [xyz]\nread: 0\n")

    def test_sock_timeouts(self):
        t0 = time.monotonic()
        self.assertEqual(self.body("/co/sock?op=silent&timeout=300&addr=%s" % self.tcp.address),
                         "sock_read: -ETIMEDOUT\n")
        self.assertGreaterEqual(time.monotonic() - t0, 0.300)
        self.assertEqual(self.body("/co/sock?op=sink&timeout=300&addr=%s" % self.unix.address),
                         "sock_write: -ETIMEDOUT\n")

    def test_connect_errors(self):
        self.assertEqual(self.body("/co/sock?op=connect&addr=127.0.0.1:%d" % free_port()), "connect: -ECONNREFUSED\n")
        self.assertEqual(self.body("/co/sock?op=connect&addr=unix:%s/none.sock" % self.tmp), "connect: -ENOENT\n")
        self.assertEqual(self.body("/co/sock?op=connect&addr=no-such-host.invalid:80"), "connect: -ENOENT\n")

    def test_sock_new(self):
        self.assertEqual(self.body("/co/socknew"),
                         "fd: same\nuntil: 5 [ping\n]\nbuffered: 4\nread: 4 [rest]\nread: 0\n")

    # --- request bodies ----------------------------------------------------------
    def test_body_buffered(self):
        data = bytes(range(256)) * 400
        self.assertEqual(self.body("/co/body?cap=1000", method="POST", body=data),
                         "body: len=%d fnv=%s reads=ok\n" % (len(data), fnv1a(data)))
        self.assertEqual(self.body("/co/body"), "body: len=0 fnv=%s reads=ok\n" % fnv1a(b""))

    def test_body_streamed_with_back_pressure(self):
        data = os.urandom(900000)
        self.assertEqual(self.body("/cos/body?every=2", method="POST", body=data),
                         "body: len=%d fnv=%s reads=ok\n" % (len(data), fnv1a(data)))
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 70000]), data[i:i + 70000])
                           for i in range(0, len(data), 70000)) + b"0\r\n\r\n"
        self.assertEqual(self.body("/cos/body", method="POST", body=chunked,
                                   headers={"Transfer-Encoding": "chunked"}),
                         "body: len=%d fnv=%s reads=ok\n" % (len(data), fnv1a(data)))

    def test_body_streamed_over_limit_is_413(self):
        # chunked: no length to refuse up front, so the handler reads
        # until the limit
        r = get(self.srv, "/small/body", method="POST", body=b"1388\r\n" + b"z" * 5000 + b"\r\n0\r\n\r\n",
                headers={"Transfer-Encoding": "chunked"})
        self.assertEqual(r.status, 413, r.body)
        self.assertIsNotNone(self.srv.wait_log(r"cofx: body ended with -EMSGSIZE after \d+ bytes"), self.srv.log()[-2000:])

    def test_body_streamed_times_out(self):
        s = self.srv.connect()
        try:
            s.sendall(b"POST /cos/body?timeout=350 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"q" * 10)
            t0 = time.monotonic()
            r = harness.read_responses(s, 1)[0]
            self.assertGreaterEqual(time.monotonic() - t0, 0.35 - 0.05)
            self.assertEqual((r.status, r.body), (200, b"body: -ETIMEDOUT after 10 bytes\n"))
        finally:
            s.close()

    # --- responses ------------------------------------------------------------------
    def test_respond_with_length(self):
        r = get(self.srv, "/co/respond?len=-2")
        self.assertEqual((r.status, r.header("X-Cofx"), r.header("Content-Length")), (201, "yes", "24"))
        self.assertIsNone(r.header("Transfer-Encoding"))
        self.assertEqual(r.body, b"piece 0\npiece 1\npiece 2\n")
        r = get(self.srv, "/co/respond?len=-2", method="HEAD")
        self.assertEqual((r.status, r.header("Content-Length"), r.body), (201, "24", b""))

    def test_respond_chunked_with_trailers(self):
        data = request(self.srv, "/co/respond?len=-1&pieces=4&trailer=1", headers={"TE": "trailers"})
        head, _, rest = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 201 "), head)
        self.assertIn(b"\r\nTransfer-Encoding: chunked", head)
        self.assertIn(b"\r\nX-Cofx: yes", head)
        body, trailers = b"", rest
        while True:
            size_line, _, trailers = trailers.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            body, trailers = body + trailers[:size], trailers[size + 2:]
        self.assertEqual(body, b"piece 0\npiece 1\npiece 2\npiece 3\n")
        self.assertEqual(trailers, b"X-Cofx-Pieces: 4\r\n\r\n")
        # HTTP/1.0: delimited by the close, no trailers
        r = harness.parse_responses(request(self.srv, "/co/respond?len=-1&trailer=1", version="1.0"))[0]
        self.assertEqual((r.status, r.body, r.header("Transfer-Encoding")), (201, b"piece 0\npiece 1\npiece 2\n", None))

    def test_send_over_announced_length(self):
        data = request(self.srv, "/co/respond?len=-2&over=1")
        self.assertTrue(data.startswith(b"HTTP/1.1 201 "), data[:100])
        self.assertIn(b"\r\nContent-Length: 23\r\n", data)
        self.assertIsNotNone(self.srv.wait_log(r"cofx: co_send ended with -EMSGSIZE"), self.srv.log()[-2000:])
        self.assertLessEqual(len(data.partition(b"\r\n\r\n")[2]), 23)

    def test_big_response_is_whole(self):
        r = get(self.srv, "/co/respond?big=64", timeout=60 * SLOW)
        self.assertEqual((r.status, len(r.body)), (201, 64 * 65536))
        self.assertEqual(r.body.count(b"x"), 64 * 65536)

    # --- a plugin without the flag, run as a coroutine -----------------------------
    def test_echo_as_coroutine(self):
        for prefix in ("/ec", "/ec16"):
            r = get(self.srv, prefix + "/x?y=1", method="POST", body=b"hello")
            self.assertEqual(r.status, 200, r.body)
            self.assertTrue(r.body.startswith(b"Method: POST\n"), r.body[:200])
            self.assertIn(b"Subpath: /x\n", r.body)
            self.assertTrue(r.body.endswith(b"hello"), r.body[-200:])

    # --- cancellation: the client leaves during each kind of wait ------------------
    def leave_during(self, what, target, prefix="/co", body=b"", extra_head=b""):
        start = harness.log_count(self.srv)
        s = self.srv.connect()
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\n%s\r\n%s" % (target.encode(), extra_head, body))
        m, _ = harness.wait_log_from(self.srv, r"cofx: waiting %s on %s$" % (what, prefix), start, 10 * SLOW)
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        s.close()
        m, _ = harness.wait_log_from(self.srv, CANCELLED % (what, prefix), start, 10 * SLOW)
        self.assertIsNotNone(m, "no cancellation of %s:\n%s" % (what, self.srv.log()[-2000:]))
        self.assertEqual(m.group(1), "-ECANCELED")
        self.assertLess(int(m.group(2)), 1000 * SLOW)
        return start

    def test_client_leaves_during_sleep(self):
        self.leave_during("sleep", "/co/sleep?ms=30000", extra_head=b"Content-Length: 0\r\n")

    def test_client_leaves_during_wait_fd(self):
        self.leave_during("wait_fd", "/co/wait_fd?timeout=30000", extra_head=b"Content-Length: 0\r\n")

    def test_client_leaves_during_poll(self):
        self.leave_during("poll", "/co/poll?timeout=30000", extra_head=b"Content-Length: 0\r\n")

    def test_client_leaves_during_sock_read(self):
        self.leave_during("sock_read", "/co/sock?op=silent&timeout=30000&addr=%s" % self.tcp.address,
                          extra_head=b"Content-Length: 0\r\n")

    def test_client_leaves_during_sock_write(self):
        self.leave_during("sock_write", "/co/sock?op=sink&timeout=30000&addr=%s" % self.unix.address,
                          extra_head=b"Content-Length: 0\r\n")

    def test_client_leaves_during_blocking(self):
        start = self.leave_during("blocking", "/co/blocking?ms=400", extra_head=b"Content-Length: 0\r\n")
        # fn ran to its end before co_blocking returned
        self.assertIsNotNone(harness.wait_log_from(self.srv, r"cofx: blocking cancelled with ran=1", start)[0])

    def test_client_leaves_during_body_read(self):
        self.leave_during("body_read", "/cos/body?timeout=30000", prefix="/cos", body=b"q" * 10,
                          extra_head=b"Content-Length: 1000\r\n")

    def test_client_leaves_during_send(self):
        # 64 MiB the client never reads: co_send waits once a few hundred
        # KiB are queued
        self.leave_during("send", "/co/respond?big=1000&timeout=30000", extra_head=b"Content-Length: 0\r\n")

    def test_server_serves_others_meanwhile(self):
        # a coroutine waiting does not hold the one worker thread
        s = self.srv.connect()
        try:
            s.sendall(b"GET /co/sleep?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n")
            t0 = time.monotonic()
            self.assertEqual(self.body("/co/sleep?ms=1"), "sleep 1: 0\n")
            self.assertLess(time.monotonic() - t0, 2.5 * SLOW)
        finally:
            s.close()


class HandlerTimeout(unittest.TestCase):
    def test_handler_timeout_cancels_the_wait(self):
        ini = server_ini(routes(), server_extra="handler_timeout = %dms" % (700 * SLOW))
        with Server(ini) as srv:
            for what, target in (("sleep", "/co/sleep?ms=30000"), ("wait_fd", "/co/wait_fd?timeout=30000"),
                                 ("sock_read", None)):
                if target is None:
                    up = LineServer()
                    self.addCleanup(up.close)
                    target = "/co/sock?op=silent&timeout=30000&addr=" + up.address
                start = harness.log_count(srv)
                t0 = time.monotonic()
                r = get(srv, target)
                took = time.monotonic() - t0
                self.assertEqual(r.status, 504, (what, r.body))
                self.assertGreaterEqual(took, 0.7 * SLOW - 0.05)
                self.assertLess(took, 10 * SLOW)
                m, _ = harness.wait_log_from(srv, CANCELLED % (what, "/co"), start, 10 * SLOW)
                self.assertIsNotNone(m, srv.log()[-2000:])
                self.assertEqual(m.group(1), "-ECANCELED")
            # the wait's own shorter timeout fires first: -ETIMEDOUT, 200
            self.assertEqual(get(srv, "/co/wait_fd?timeout=250").body, b"wait_fd: -ETIMEDOUT\n")
            self.assertEqual(srv.stop(), 0)


class Config(unittest.TestCase):
    def check(self, routes_text, needles, *fragments):
        """-t refuses routes_text with an error at the line of one of
        needles, holding every fragment."""
        text = server_ini(routes_text)
        d = tempfile.mkdtemp(prefix="phco-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "server.ini")
        with open(path, "w") as f:
            f.write(text)
        lines = [text.split("\n").index(n) + 1 for n in needles]
        p = subprocess.run(harness.WRAPPER + [harness.BINARY, "-t", "-c", path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        # refusing frees what was built: no memory checker report
        self.assertNotRegex(p.stderr, harness._TOOL_ERROR)
        self.assertTrue(any("%s:%d:" % (path, line) in p.stderr for line in lines),
                        "no error at line %s: %s" % (lines, p.stderr))
        for frag in fragments:
            self.assertIn(frag, p.stderr)
        return p.stderr

    def test_stack_below_the_minimum_is_refused(self):
        self.check("[route /ec]\nplugin = echo\ncoroutine = yes\ncoroutine_stack = 1k\n",
                   ["coroutine_stack = 1k"], "coroutine_stack", "1k")

    def test_coroutine_and_blocking_are_refused_together(self):
        # the error may name either key's line, or the route's or its plugin's
        self.check("[route /ec]\nplugin = echo\ncoroutine = yes\nblocking = yes\n",
                   ["[route /ec]", "plugin = echo", "coroutine = yes", "blocking = yes"], "coroutine", "blocking")

    def test_good_keys_pass(self):
        d = tempfile.mkdtemp(prefix="phco-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "server.ini")
        with open(path, "w") as f:
            f.write(server_ini("[route /ec]\nplugin = echo\ncoroutine = yes\ncoroutine_stack = 16k\n"))
        p = subprocess.run(harness.WRAPPER + [harness.BINARY, "-t", "-c", path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)


def hold_ini(extra="", tag="a", spawn=False):
    return server_ini("[route /co]\nplugin = %s\ntag = %s\n%s" % (FX, tag, "spawn = yes\n" if spawn else ""),
                      server_extra="header_timeout = 300s\nkeepalive_timeout = 300s\n" + extra)


def holding(srv):
    m = re.fullmatch(r"holding (\d+)\n", get(srv, "/co/holding").body.decode())
    return int(m.group(1))


def open_holders(srv, n, flag, every, batch=500):
    """n connections each with one /co/hold request; returns them once the
    server counts n holders (bounded)."""
    socks = []
    req = ("GET /co/hold?flag=%s&every=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (flag, every)).encode()
    deadline = time.time() + 120 * SLOW
    while len(socks) < n:
        for _ in range(min(batch, n - len(socks))):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
            s.sendall(req)
            socks.append(s)
        if harness.settle(lambda: holding(srv), lambda v: v >= len(socks), max(1, deadline - time.time())) < len(socks):
            raise AssertionError("only %d of %d holders waiting" % (holding(srv), len(socks)))
    return socks


def collect(socks, timeout):
    """Reads every socket to its end; returns {body: count} of the answers."""
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    deadline = time.time() + timeout
    left = len(socks)
    while left and time.time() < deadline:
        for key, _ in sel.select(0.5):
            s = key.fileobj
            try:
                b = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                b = b""
            if b:
                bufs[s] += b
                continue
            sel.unregister(s)
            left -= 1
    sel.close()
    out = {}
    for s, data in bufs.items():
        try:
            body = harness.parse_responses(data)[0].body if data else b"<nothing>"
        except (AssertionError, ValueError, IndexError):
            body = b"<garbled>"
        out[body] = out.get(body, 0) + 1
    return out


def stable_rss(pid, timeout=10):
    """VmRSS (KiB) once two reads 200 ms apart agree within 1% (bounded)."""
    last = harness.proc_rss_kib(pid)
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.2)
        now = harness.proc_rss_kib(pid)
        if abs(now - last) <= last // 100:
            return now
        last = now
    return last


class Idle(unittest.TestCase):
    """Many coroutines waiting at once on one worker thread."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="phco-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.flag = os.path.join(self.tmp, "release")
        self.socks = []
        self.addCleanup(lambda: [s.close() for s in self.socks])

    def test_ten_thousand_idle_coroutines(self):
        n = IDLE_N
        # this process holds n sockets, the server n connections
        limit = min(raise_nofile(), n * 2 + 1000)
        if limit < n + 200:
            self.skipTest("open-file limit too low for %d connections" % n)
        ini = hold_ini("max_connections = %d" % (n + 100))
        measure = not (harness.SANITIZED or harness.WRAPPER)  # see the end
        conn_kib = 0
        # The server's cost of n connections that sent part of a head: what
        # any n idle clients cost, without a coroutine.
        with Server(ini, rlimit_nofile=limit) if measure else contextlib.nullcontext() as base:
            rss0 = harness.proc_rss_kib(base.serving_pid()) if measure else 0
            fds0 = harness.proc_fd_count(base.serving_pid()) if measure else 0
            for _ in range(n if measure else 0):
                s = socket.create_connection(("127.0.0.1", base.port), timeout=30)
                s.sendall(b"GET /co/hold HTTP/1.1\r\nHost: x\r\n")
                self.socks.append(s)
            if measure:
                harness.settle(lambda: harness.proc_fd_count(base.serving_pid()), lambda v: v >= fds0 + n, 60 * SLOW)
                conn_kib = stable_rss(base.serving_pid()) - rss0
                for s in self.socks:
                    s.close()
                self.socks = []
                self.assertEqual(base.stop(), 0)
        with Server(ini, rlimit_nofile=limit) as srv:
            rss0 = harness.proc_rss_kib(srv.serving_pid())
            self.socks = open_holders(srv, n, self.flag, every=1000)
            held_kib = stable_rss(srv.serving_pid()) - rss0
            # every holder waits; the thread still answers at once
            t0 = time.monotonic()
            self.assertEqual(holding(srv), n)
            self.assertLess(time.monotonic() - t0, 5 * SLOW)
            open(self.flag, "w").close()
            answers = collect(self.socks, 120 * SLOW)
            self.assertEqual(answers, {b"hold: released\n": n})
            self.assertEqual(holding(srv), 0)
            self.assertEqual(srv.stop(), 0)
        if not measure:
            print("\nidle coroutines: n=%d server RSS growth %d KiB with n held requests (%s build: "
                  "not compared)" % (n, held_kib, "valgrind" if harness.WRAPPER else "sanitizer"))
            return  # ASan's shadow and quarantine, valgrind's own heap
        co_kib = held_kib - conn_kib
        print("\nidle coroutines: n=%d server RSS growth %d KiB with n held requests, %d KiB with n idle "
              "connections: %d KiB (%.1f KiB each) for the requests and their coroutines"
              % (n, held_kib, conn_kib, co_kib, co_kib / n))
        # The target, scaled to n: 10,000 idle coroutines, their
        # requests included, in less than 64 MiB above what the same
        # connections cost without them.
        self.assertLess(co_kib, IDLE_TARGET_KIB * n // 10000, "RSS growth over the target")


class Lifecycle(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="phco-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.flag = os.path.join(self.tmp, "release")

    def test_shutdown_with_coroutines_waiting(self):
        # SIGTERM lets requests in flight finish for up to shutdown_timeout,
        # coroutines as any; those still waiting then are cancelled, unwind,
        # and the server exits 0 right after
        n = 50
        srv = Server(hold_ini("shutdown_timeout = %dms" % (1500 * SLOW), spawn=True))
        socks = open_holders(srv, n, self.flag, every=200)
        try:
            t0 = time.monotonic()
            rc = srv.stop()
            took = time.monotonic() - t0
            self.assertEqual(rc, 0, srv.log()[-3000:])
            self.assertLess(took, 1.5 * SLOW + 3, "shutdown took %.1f s with coroutines waiting" % took)
            cancelled = re.findall(CANCELLED % ("hold", "/co"), srv.log())
            self.assertEqual(len(cancelled), n, srv.log()[-3000:])
            self.assertEqual({c[0] for c in cancelled}, {"-ECANCELED"})
            self.assertRegex(srv.log(), r"cofx\[a\]: ticker 0 ends: -ECANCELED")
            self.assertRegex(srv.log(), r"cofx\[a\]: destroy")
        finally:
            for s in socks:
                s.close()

    def test_reload_with_coroutines_waiting(self):
        n = 20
        one = "processes = 0\n"  # one process: the old generation's coroutines end beside the new one
        with Server(hold_ini(one, tag="a", spawn=True)) as srv:
            socks = open_holders(srv, n, self.flag, every=100)
            self.addCleanup(lambda: [s.close() for s in socks])
            m = srv.reload(hold_ini(one, tag="b", spawn=True),
                           r"reload: generation \d+ serving|reload failed", timeout=10 * SLOW)
            self.assertIsNotNone(m)
            self.assertIn("serving", m.group(0), srv.log()[-2000:])
            # the old generation's ticker was cancelled by its thread_exit
            self.assertIsNotNone(srv.wait_log(r"cofx\[a\]: thread_exit 0 running=1 ended=1 ticked=[01]"),
                                 srv.log()[-2000:])
            self.assertIsNotNone(srv.wait_log(CANCELLED % ("ticker", "-")))
            # new requests reach the new instance; the old one still holds n
            self.assertEqual(holding(srv), 0)
            self.assertNotRegex(srv.log(), r"cofx\[a\]: destroy")
            open(self.flag, "w").close()
            self.assertEqual(collect(socks, 30 * SLOW), {b"hold: released\n": n})
            # drained: the old instance goes
            self.assertIsNotNone(srv.wait_log(r"cofx\[a\]: destroy", 10 * SLOW), srv.log()[-2000:])
            self.assertNotRegex(srv.log(), CANCELLED % ("hold", "/co"))
            self.assertEqual(srv.stop(), 0)


@unittest.skipIf(harness.WRAPPER, "valgrind reports the write into the guard page as its own error")
class Overflow(unittest.TestCase):
    def test_stack_overflow_stops_the_process_with_the_route_named(self):
        ini = server_ini("[route /deep]\nplugin = %s\ncoroutine_stack = 16k\n\n[route /echo]\nplugin = echo\n" % FX,
                         server_extra="processes = 0")  # the one process stops
        # coro.c chains the fault to the handler it found (ASan's, which
        # would report it as its own error): without one, the default
        # action kills the process as in a normal build.
        env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":handle_segv=0"}
        srv = Server(ini, env=env)
        try:
            self.assertEqual(get(srv, "/echo/").status, 200)
            try:
                data = request(srv, "/deep/deep")
            except OSError:
                data = b""
            self.assertEqual(data, b"")
            srv.proc.wait(10)
            self.assertIsNotNone(srv.wait_log(r"coroutine stack overflow on /deep\b"), srv.log()[-2000:])
            self.assertNotEqual(srv.proc.returncode, 0)
            self.assertEqual(srv.proc.returncode, -signal.SIGSEGV, srv.log()[-2000:])
        finally:
            srv.stop()


if __name__ == "__main__":
    harness.main()
