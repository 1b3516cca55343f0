#!/usr/bin/env python3
"""HTTPS under attack and at its edges: reloads that take TLS away from
connections still in it, clients that close without close_notify, the
server's own close_notify, a TLS read waiting for writability, and
redirects of absolute-form targets."""

import ctypes
import ctypes.util
import fcntl
import os
import shutil
import socket
import ssl
import struct
import tempfile
import termios
import time
import unittest

from harness import (Server, log_count, main, parse_responses, proc_fd_targets, recv_all, server_ini, settle,
                     wait_log_from)
from tlsutil import cert_serial, client_context, make_cert, peer_serial, tls_connect

CERTS = tempfile.mkdtemp(prefix="phtlsa-")
ROUTES = "[route /echo]\nplugin = echo\n"
REQUEST = b"GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def setUpModule():
    global MAIN
    MAIN = make_cert(CERTS, "main", cn="localhost", sans=("localhost",))


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def tls_section(extra=""):
    return "[tls]\ncertificate = %s\nkey = %s\n%s\n" % (MAIN[0], MAIN[1], extra)


def sockets_of(pid):
    return sum(1 for t in proc_fd_targets(pid) if t.startswith("socket:"))


class MemoryHandshake:
    """A client session driven step by step over a plain socket, so a test
    can act between the ClientHello and the rest of the handshake."""

    def __init__(self, sock, ctx):
        self.sock = sock
        self.inb, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inb, self.outb, server_hostname="localhost")

    def flush(self):
        out = self.outb.read()
        if out:
            self.sock.sendall(out)

    def step(self):
        """One turn of the handshake: True once it is complete."""
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            self.flush()
            return False
        self.flush()
        return True

    def feed(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed during the handshake")
        self.inb.write(data)

    def finish(self):
        while not self.step():
            self.feed()

    def request(self, data):
        self.obj.write(data)
        self.flush()
        got = b""
        while True:
            try:
                chunk = self.obj.read(65536)
                if not chunk:  # close_notify
                    return got
                got += chunk
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return got
            try:
                self.feed()
            except ConnectionError:
                return got


class ReloadDropsTls(unittest.TestCase):
    """A connection belongs to the generation that accepted it until its
    session starts: a reload that removes TLS from its listener (or the
    certificates altogether) must neither crash the server nor leave the
    client without the handshake it was promised."""

    def test_accepted_before_any_byte(self):
        # one process, and a master whose old worker drains: either way the
        # handshake and the request are served
        for processes in (0, 1):
            with self.subTest(processes=processes):
                self.accepted_before_any_byte(processes)

    def accepted_before_any_byte(self, processes):
        # without TCP_DEFER_ACCEPT the connection is accepted (a socket
        # more in the server) before the client sends its ClientHello
        extra = "defer_accept = no\nprocesses = %d" % processes
        text = server_ini(ROUTES, server_extra=extra, listen=("127.0.0.1:0 tls",))
        with Server(text + tls_section()) as srv:
            serving = srv.serving_pid()
            before = sockets_of(serving)
            raw = srv.connect()
            try:
                self.assertEqual(settle(lambda: sockets_of(serving), lambda n: n == before + 1), before + 1)
                # the listener stays (same address) but no longer speaks TLS
                plain = server_ini(ROUTES, server_extra=extra, listen=("127.0.0.1:0",))
                m = srv.reload(plain + tls_section(), r"generation 2 serving|reload failed")
                self.assertEqual(m.group(0), "generation 2 serving")
                s = client_context(None).wrap_socket(raw, server_hostname="localhost")
                raw = s
                self.assertEqual(peer_serial(s), cert_serial(MAIN[0]))
                s.sendall(REQUEST)
                resps = parse_responses(recv_all(s))
            finally:
                raw.close()
            self.assertEqual([r.status for r in resps], [200])
            self.assertIsNone(srv.proc.poll())
            self.assertEqual(srv.get("/echo").status, 200)  # new connections: plain

    def test_handshake_in_progress(self):
        text = server_ini(ROUTES, listen=("127.0.0.1:0 tls",))
        with Server(text + tls_section()) as srv:
            for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
                raw = srv.connect()
                try:
                    hs = MemoryHandshake(raw, client_context(None, max_version=version))
                    self.assertFalse(hs.step())  # the ClientHello
                    hs.feed()                    # the server's first flight: its session exists
                    # gone from the configuration: the certificate and the listener's TLS
                    gen = 2 if version == ssl.TLSVersion.TLSv1_2 else 4
                    m = srv.reload(server_ini(ROUTES), r"generation %d serving|reload failed" % gen)
                    self.assertEqual(m.group(0), "generation %d serving" % gen)
                    hs.finish()
                    resps = parse_responses(hs.request(REQUEST))
                finally:
                    raw.close()
                self.assertEqual([r.status for r in resps], [200])
                self.assertIsNone(srv.proc.poll())
                m = srv.reload(text + tls_section(), r"generation %d serving|reload failed" % (gen + 1))
                self.assertEqual(m.group(0), "generation %d serving" % (gen + 1))


def strict_context(version):
    """A client that calls a close without close_notify an error (Python
    may set OP_IGNORE_UNEXPECTED_EOF by default)."""
    ctx = client_context(None, max_version=version)
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    return ctx


def shut_write(s):
    """Half-closes an SSL socket's TCP connection, sending no close_notify."""
    dup = socket.socket(fileno=os.dup(s.fileno()))
    try:
        dup.shutdown(socket.SHUT_WR)
    finally:
        dup.close()


class BareClose(unittest.TestCase):
    """Most clients close TCP without close_notify: that is the end of
    their stream, not a protocol error."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(ROUTES, server_extra="log_level = debug", listen=("127.0.0.1:0 tls",)) +
                         tls_section())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_half_close_still_gets_the_answers(self):
        # OpenSSL alone answers the bare end of stream with a fatal alert
        # (decode_error) instead of the answers still owed
        one = b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n"
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            s = tls_connect(self.srv.port, strict_context(version))
            try:
                s.sendall(one * 3)
                shut_write(s)
                got = b""
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    got += b
            finally:
                s.close()
            self.assertEqual([r.status for r in parse_responses(got)], [200, 200, 200], version)

    def test_close_during_the_handshake_is_no_error(self):
        # a TLS 1.2 client that read the server's first flight and left
        start = log_count(self.srv)
        raw = self.srv.connect()
        try:
            hs = MemoryHandshake(raw, strict_context(ssl.TLSVersion.TLSv1_2))
            self.assertFalse(hs.step())
            # all of the flight read (an unread byte would make the close a
            # reset), the client's answer made but never sent
            while not hs.outb.pending:
                hs.feed()
                try:
                    hs.obj.do_handshake()
                except ssl.SSLWantReadError:
                    pass
        finally:
            raw.close()
        m, _ = wait_log_from(self.srv, r"127\.0\.0\.1:\d+: TLS handshake failed: .*", start)
        self.assertIsNotNone(m)
        self.assertTrue(m.group(0).endswith(": TLS handshake failed: the client closed the connection"), m.group(0))
        self.assertNotIn("unexpected eof", self.srv.log())


def read_to_close_notify(s):
    """Everything until the server's close_notify; a close without it
    raises (the socket does not suppress ragged EOFs)."""
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            return got
        got += b


class CloseNotify(unittest.TestCase):
    """The server ends its side with close_notify however it closes, so a
    client can tell the end of the answers from a cut connection."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(ROUTES, server_extra="keepalive_timeout = 1100ms\nheader_timeout = 1300ms",
                                    listen=("127.0.0.1:0 tls",)) + tls_section())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def exchange(self, version, data):
        raw = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        s = strict_context(version).wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
        try:
            s.sendall(data)
            return parse_responses(read_to_close_notify(s))
        finally:
            s.close()

    def test_every_close_sends_close_notify(self):
        one = b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n"
        cases = [
            ("Connection: close", REQUEST, [200]),
            # a request after the last one is left unread: the server half-closes
            ("pipelined after Connection: close", REQUEST + one, [200]),
            ("keepalive_timeout", one, [200]),
            ("header_timeout (408, half-closed)", b"GET /echo HTTP/1.1\r\nHost: loc", [408]),
        ]
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            for name, data, statuses in cases:
                with self.subTest(version=version, case=name):
                    self.assertEqual([r.status for r in self.exchange(version, data)], statuses)


class Redirect(unittest.TestCase):
    def test_absolute_form_keeps_path_and_query(self):
        text = server_ini(ROUTES, listen=("127.0.0.1:0 https-redirect=8443",))
        cases = [
            (b"GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: example.com", 301, "https://example.com:8443/a/b?c=d"),
            # the target's authority overrides Host (RFC 9112, 3.2.2)
            (b"GET http://Target.test:80/x HTTP/1.1\r\nHost: other.test", 301, "https://Target.test:8443/x"),
            (b"GET http://example.com HTTP/1.1\r\nHost: example.com", 301, "https://example.com:8443/"),
            (b"GET http://example.com?q=1 HTTP/1.1\r\nHost: example.com", 301, "https://example.com:8443/?q=1"),
            (b"POST http://example.com/f?x HTTP/1.1\r\nHost: example.com", 308, "https://example.com:8443/f?x"),
            (b"GET /p?q HTTP/1.1\r\nHost: example.com", 301, "https://example.com:8443/p?q"),
            (b"OPTIONS * HTTP/1.1\r\nHost: example.com", 308, "https://example.com:8443/"),
        ]
        with Server(text) as srv:
            for head, status, location in cases:
                resps = parse_responses(srv.raw(head + b"\r\nConnection: close\r\n\r\n"))
                self.assertEqual([(r.status, r.header("Location")) for r in resps], [(status, location)], head)


def cpu_seconds(pid):
    """User and system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_rx_queue(server_port, client_port):
    """Bytes the server has not read on its side of a local connection
    (/proc/net/tcp), or None when it is not listed."""
    want = ("%04X" % server_port, "%04X" % client_port)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if (fields[1].split(":")[1], fields[2].split(":")[1]) == want:
                return int(fields[4].split(":")[1], 16)
    return None


class RawTls:
    """A TLS 1.3 client on libssl itself: Python's ssl module cannot send
    a KeyUpdate. The socket blocks (writes give up after 5 s)."""

    def __init__(self, port):
        lib = ctypes.CDLL(ctypes.util.find_library("ssl"))
        vp = ctypes.c_void_p
        for name, res, args in (("TLS_client_method", vp, []), ("SSL_CTX_new", vp, [vp]), ("SSL_new", vp, [vp]),
                                ("SSL_set_fd", ctypes.c_int, [vp, ctypes.c_int]), ("SSL_connect", ctypes.c_int, [vp]),
                                ("SSL_write", ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_int]),
                                ("SSL_read", ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_int]),
                                ("SSL_key_update", ctypes.c_int, [vp, ctypes.c_int]),
                                ("SSL_free", None, [vp]), ("SSL_CTX_free", None, [vp])):
            getattr(lib, name).restype = res
            getattr(lib, name).argtypes = args
        self.lib = lib
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the window is agreed
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 5, 0))
        self.ctx = lib.SSL_CTX_new(lib.TLS_client_method())
        self.ssl = lib.SSL_new(self.ctx)
        if lib.SSL_set_fd(self.ssl, self.sock.fileno()) != 1 or lib.SSL_connect(self.ssl) != 1:
            self.close()
            raise ConnectionError("TLS handshake failed")

    def write(self, data):
        if self.lib.SSL_write(self.ssl, data, len(data)) != len(data):
            raise ConnectionError("SSL_write failed")

    def key_update(self):
        """Queues a KeyUpdate asking the server to update its keys too
        (SSL_KEY_UPDATE_REQUESTED); it goes out with the next write."""
        if self.lib.SSL_key_update(self.ssl, 1) != 1:
            raise ConnectionError("SSL_key_update failed")

    def read_all(self):
        """Everything until the server closes."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 10, 0))
        buf = ctypes.create_string_buffer(65536)
        got = b""
        while True:
            n = self.lib.SSL_read(self.ssl, buf, len(buf))
            if n <= 0:
                return got
            got += buf.raw[:n]

    def unread(self):
        return struct.unpack("i", fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]

    def close(self):
        self.lib.SSL_free(self.ssl)
        self.lib.SSL_CTX_free(self.ctx)
        self.sock.close()


class ReadWantsWrite(unittest.TestCase):
    """A client that asks for a KeyUpdate while it reads nothing: the
    server's answering KeyUpdate cannot go out. Were the read to wait for
    writability with the read-side watch left on a socket that stays
    readable, the loop would wake on every turn. (OpenSSL 3 answers on the
    next write instead, so the read goes on; this holds either way.)"""

    def test_key_update_while_answers_wait_costs_no_cpu(self):
        text = server_ini(ROUTES, server_extra="send_buffer = 32k\nsend_timeout = 20s", listen=("127.0.0.1:0 tls",))
        with Server(text + tls_section()) as srv:
            c = RawTls(srv.port)
            try:
                # pipelined answers (4 kB each, echoed headers) pile up
                # unread; the last request stays incomplete, so the server
                # waits for input with its answers unsent
                one = b"GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"p" * 4000 + b"\r\n\r\n"
                c.write(one * 16 + b"GET /echo HTTP/1.1\r\nHost: loc")
                self.assertGreaterEqual(settle(c.unread, lambda n: n >= 4000), 4000)
                # the KeyUpdate needs the server to write, which it cannot;
                # bytes sent after it stay readable in the server's socket
                c.key_update()
                c.write(b"alhost\r\nX-More: 1")
                # read by the server (its session has taken the KeyUpdate)
                port = c.sock.getsockname()[1]
                self.assertEqual(settle(lambda: server_rx_queue(srv.port, port), lambda n: n == 0), 0)
                before = cpu_seconds(srv.serving_pid())
                time.sleep(1.0)
                spent = cpu_seconds(srv.serving_pid()) - before
                # the connection goes on with the new keys both ways
                c.write(b"\r\nConnection: close\r\n\r\n")
                resps = parse_responses(c.read_all())
            finally:
                c.close()
        self.assertLess(spent, 0.2, "the server used %.2f s of CPU in 1 s waiting for the client" % spent)
        self.assertEqual([r.status for r in resps], [200] * 17)
        self.assertIn(b"X-More: 1\n", resps[-1].body)


if __name__ == "__main__":
    main()
