#!/usr/bin/env python3
"""HTTPS: TLS listeners, certificates and SNI, protocol and cipher defaults,
session resumption, hostile handshakes, plain HTTP on a TLS port, redirects
to HTTPS, HSTS, and certificate checks at start, -t and reload."""

import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import termios
import tempfile
import threading
import time
import unittest

from api13 import route
from harness import (BINARY, Server, log_count, main, parse_responses, recv_all, server_ini, settle,
                     wait_log_from)
from tlsutil import (cert_serial, client_context, https_get, make_cert, peer_serial, tls_connect)

CERTS = tempfile.mkdtemp(prefix="phtls-")


def cpu_seconds(pid):
    """User and system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def setUpModule():
    global MAIN, OTHER, WILD, MAIN2
    MAIN = make_cert(CERTS, "main", cn="localhost", sans=("localhost",))
    MAIN2 = make_cert(CERTS, "main2", cn="localhost", sans=("localhost",))
    OTHER = make_cert(CERTS, "other", cn="other.test", sans=())
    WILD = make_cert(CERTS, "wild", cn="wild", sans=("*.wild.test", "wild.test"))


def tls_section(cert=None, extra=""):
    cert = cert or MAIN
    return "[tls]\ncertificate = %s\nkey = %s\n%s\n" % (cert[0], cert[1], extra)


def ini(tls="", routes="[route /echo]\nplugin = echo\n", listen=("127.0.0.1:0 tls",), server_extra="", threads=1):
    return server_ini(routes, server_extra=server_extra, listen=listen, threads=threads) + (tls or tls_section())


class Basics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(ini(tls_section(extra="hsts = yes\nhandshake_timeout = 700ms\n") +
                             "[certificate other]\ncertificate = %s\nkey = %s\n" % OTHER +
                             "[certificate wild]\ncertificate = %s\nkey = %s\n" % WILD +
                             "[certificate named]\ncertificate = %s\nkey = %s\nhosts = Named.Test\n" % MAIN2,
                             server_extra="header_timeout = 9s"))
        cls.ctx = client_context(MAIN[0])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_get_and_post(self):
        r, _, _ = https_get(self.srv.port, "/echo?q=1", self.ctx)
        self.assertEqual(r.status, 200)
        self.assertIn(b"Target: /echo?q=1\n", r.body)
        r, _, _ = https_get(self.srv.port, "/echo", self.ctx, method="POST", body=b"x" * 100000)
        self.assertEqual(r.status, 200)
        self.assertIn(b"Content-Length: 100000\n", r.body)

    def test_idle_after_a_blocked_write_costs_no_cpu(self):
        # a 2 MB answer to a client that does not read at first: the
        # server's writes wait for the socket; afterwards the connection
        # idles in keep-alive and must not be woken for writability
        folder = tempfile.mkdtemp(prefix="phtls-big-", dir=CERTS)
        with open(os.path.join(folder, "big.bin"), "wb") as f:
            f.write(os.urandom(2 << 20))
        routes = "[route /files]\nplugin = static\nroot = %s\n" % folder
        with Server(ini(routes=routes, server_extra="send_buffer = 32k")) as srv:
            s = tls_connect(srv.port, client_context(MAIN[0]))
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(b"GET /files/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
                # the client's small receive buffer fills: the flow stopped
                unread = lambda: struct.unpack("i", fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0" * 4))[0]
                self.assertGreaterEqual(settle(unread, lambda n: n >= 4000), 4000)
                got = b""
                while len(got) < (2 << 20):
                    b = s.recv(1 << 20)
                    self.assertTrue(b)
                    got += b
                    if b"\r\n\r\n" in got:
                        head, _, rest = got.partition(b"\r\n\r\n")
                        if len(rest) >= (2 << 20):
                            break
                before = cpu_seconds(srv.serving_pid())
                time.sleep(1.0)  # idle keep-alive
                spent = cpu_seconds(srv.serving_pid()) - before
            finally:
                s.close()
        self.assertLess(spent, 0.2, "the server used %.2f s of CPU in 1 s of idle keep-alive" % spent)

    def test_hsts_only_over_tls(self):
        r, _, _ = https_get(self.srv.port, "/echo", self.ctx)
        self.assertEqual(r.header("Strict-Transport-Security"), "max-age=63072000")

    def test_pipelined_requests_in_one_record(self):
        # three requests in one TLS record: the second and third wait as
        # decrypted plaintext inside the session, which epoll cannot see
        s = tls_connect(self.srv.port, self.ctx)
        try:
            one = b"GET /echo?n=%d HTTP/1.1\r\nHost: localhost\r\n\r\n"
            s.sendall(one % 1 + one % 2 + (one % 3).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
            resps = parse_responses(recv_all(s))
        finally:
            s.close()
        self.assertEqual([r.status for r in resps], [200, 200, 200])
        for i, r in enumerate(resps, 1):
            self.assertIn(b"Target: /echo?n=%d\n" % i, r.body)

    def test_head_split_over_many_records(self):
        s = tls_connect(self.srv.port, self.ctx)
        try:
            req = b"GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Long: " + b"a" * 3000 + b"\r\nConnection: close\r\n\r\n"
            for i in range(0, len(req), 7):
                s.sendall(req[i:i + 7])
            resps = parse_responses(recv_all(s))
        finally:
            s.close()
        self.assertEqual(len(resps), 1)
        self.assertIn(b"X-Long: " + b"a" * 3000 + b"\n", resps[0].body)

    def test_sni_selects_certificates(self):
        main_serial = cert_serial(MAIN[0])
        cases = [
            ("localhost", main_serial),             # the default's own name
            (None, main_serial),                    # no SNI: the default
            ("unknown.test", main_serial),          # unknown: the default
            ("other.test", cert_serial(OTHER[0])),  # by common name
            ("OTHER.test", cert_serial(OTHER[0])),  # names compare without case
            ("a.wild.test", cert_serial(WILD[0])),  # wildcard subjectAltName
            ("wild.test", cert_serial(WILD[0])),    # exact subjectAltName
            ("a.b.wild.test", main_serial),         # a wildcard covers one label
            ("named.test", cert_serial(MAIN2[0])),  # hosts = overrides
        ]
        ctx = client_context(None)
        for name, want in cases:
            s = tls_connect(self.srv.port, ctx, server_name=name)
            try:
                self.assertEqual(peer_serial(s), want, name)
            finally:
                s.close()

    def test_old_protocols_and_weak_ciphers_refused(self):
        ctx = client_context(None, max_version=ssl.TLSVersion.TLSv1_1)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        with self.assertRaises((ssl.SSLError, ConnectionResetError)):
            tls_connect(self.srv.port, ctx).close()
        # TLS 1.2 with a cipher outside the intermediate list (no forward secrecy)
        ctx = client_context(None, max_version=ssl.TLSVersion.TLSv1_2, ciphers="AES128-GCM-SHA256")
        with self.assertRaises((ssl.SSLError, ConnectionResetError)):
            tls_connect(self.srv.port, ctx).close()
        # the server's order decides (the client lists AES-256 first) ...
        ctx12 = client_context(MAIN[0], max_version=ssl.TLSVersion.TLSv1_2,
                               ciphers="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256")
        ctx13 = client_context(MAIN[0], min_version=ssl.TLSVersion.TLSv1_3)
        # ... unless the client puts ChaCha20 first (no AES instructions)
        ctxcc = client_context(MAIN[0], max_version=ssl.TLSVersion.TLSv1_2,
                               ciphers="ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256")
        for ctx, version, cipher in ((ctx12, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"),
                                     (ctx13, "TLSv1.3", "TLS_AES_128_GCM_SHA256"),
                                     (ctxcc, "TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305")):
            s = tls_connect(self.srv.port, ctx)
            try:
                self.assertEqual((s.version(), s.cipher()[0]), (version, cipher))
            finally:
                s.close()

    def test_alpn_prefers_h2(self):
        # [tls] http2 = no offers http/1.1 alone (test_h2.py)
        s = tls_connect(self.srv.port, client_context(MAIN[0], alpn=("http/1.1", "h2")))
        try:
            self.assertEqual(s.selected_alpn_protocol(), "h2")
        finally:
            s.close()

    def test_plain_http_on_tls_port(self):
        data = self.srv.raw(b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
        body = b"400 Bad Request: plain HTTP was sent to an HTTPS port; use https://.\n"
        self.assertTrue(data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data[:80])
        self.assertTrue(data.endswith(b"\r\n\r\n" + body), data[-120:])
        self.assertIn(b"Connection: close\r\n", data)

    def test_garbage_is_closed(self):
        start = log_count(self.srv)
        data = self.srv.raw(b"\x00\x01garbage\r\n\r\n")
        self.assertEqual(data, b"")
        m, _ = wait_log_from(self.srv, r"not a TLS handshake on a TLS listener \(first byte 0x00\); closing", start)
        self.assertIsNotNone(m)
        # a broken handshake record: closed with an alert, nothing else
        data = self.srv.raw(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 40)
        self.assertNotIn(b"HTTP/", data)
        self.assertTrue(data == b"" or data[0] == 0x15, data[:10])
        self.assertEqual(https_get(self.srv.port, "/echo", self.ctx)[0].status, 200)

    def test_slow_handshake_times_out(self):
        start = log_count(self.srv)
        s = self.srv.connect()
        try:
            s.sendall(b"\x16\x03\x01\x02\x00\x01")  # a ClientHello that never completes
            t0 = time.time()
            s.settimeout(5)
            self.assertEqual(s.recv(100), b"")
            elapsed = time.time() - t0
        finally:
            s.close()
        m, _ = wait_log_from(self.srv, r"handshake_timeout: TLS handshake not complete after 700 ms; closing", start)
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        self.assertLess(elapsed, 5)

    def test_idle_before_any_byte_gets_handshake_timeout(self):
        start = log_count(self.srv)
        s = self.srv.connect()
        try:
            s.settimeout(5)
            self.assertEqual(s.recv(100), b"")
        finally:
            s.close()
        m, _ = wait_log_from(self.srv, r"handshake_timeout: TLS handshake not complete after 700 ms", start)
        self.assertIsNotNone(m)

    def test_session_resumption_with_tickets(self):
        ctx = client_context(MAIN[0], max_version=ssl.TLSVersion.TLSv1_3)
        _, sess, reused = https_get(self.srv.port, "/echo", ctx)
        self.assertFalse(reused)
        self.assertIsNotNone(sess)
        for _ in range(3):
            r, _, reused = https_get(self.srv.port, "/echo", ctx, session=sess)
            self.assertEqual(r.status, 200)
            self.assertTrue(reused)
        ctx12 = client_context(MAIN[0], max_version=ssl.TLSVersion.TLSv1_2)
        _, sess, _ = https_get(self.srv.port, "/echo", ctx12)
        _, _, reused = https_get(self.srv.port, "/echo", ctx12, session=sess)
        self.assertTrue(reused)


class Records(unittest.TestCase):
    """The server reads ahead (several records per read()): records it holds
    are served without the socket being readable again, and a record it
    holds only in part waits for the rest without spinning. The client's
    records are cut by hand through a MemoryBIO."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(ini(routes="[route /echo]\nplugin = echo\n\n" +
                             route("/sink", "sink", pause_every="4k", pause_for="20ms"),
                             server_extra="header_timeout = 9s\nbody_timeout = 7s"))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def handshake(self, hold_finished=False):
        """A TLS 1.3 session through a MemoryBIO: (socket, SSLObject, bytes
        still to send). hold_finished: the client's last handshake flight is
        not sent, for the caller to send with what follows."""
        sock = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
        self.addCleanup(sock.close)
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = client_context(MAIN[0]).wrap_bio(inc, out, server_hostname="localhost")
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(out.read())
                data = sock.recv(65536)
                self.assertTrue(data, "closed during the handshake")
                inc.write(data)
        rest = out.read()
        if not hold_finished:
            sock.sendall(rest)
            rest = b""
        self.inc, self.obj = inc, obj
        return sock, obj, out, rest

    def read_answers(self, sock, n):
        got = b""
        while len(parse_responses(got)) < n:
            try:
                got += self.obj.read(65536)
                continue
            except ssl.SSLWantReadError:
                pass
            data = sock.recv(65536)
            self.assertTrue(data, "closed with %d of %d answers" % (len(parse_responses(got)), n))
            self.inc.write(data)
        return parse_responses(got)

    def test_requests_in_separate_records_sent_together(self):
        sock, obj, out, rest = self.handshake(hold_finished=True)
        records = rest  # the client's Finished, then a record per request
        for i in range(3):
            obj.write(b"GET /echo?r=%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % i)
            records += out.read()
        sock.sendall(records)  # one segment: the server's first read takes all
        answers = self.read_answers(sock, 3)
        self.assertEqual([a.status for a in answers], [200, 200, 200])
        for i, a in enumerate(answers):
            self.assertIn(b"Target: /echo?r=%d\n" % i, a.body)

    def test_body_records_held_while_paused_are_read_on_resume(self):
        # the plugin pauses the body every 4 KiB: records the server read
        # ahead meanwhile wait in the session, where epoll cannot see them
        sock, obj, out, _ = self.handshake()
        body = os.urandom(64 * 1024)
        obj.write(b"POST /sink HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % len(body))
        records = out.read()
        for i in range(0, len(body), 1024):
            obj.write(body[i:i + 1024])
            records += out.read()
        sock.sendall(records)
        answer = self.read_answers(sock, 1)[0]
        self.assertEqual(answer.status, 200, answer.body)
        self.assertIn(b"len=%d " % len(body), answer.body)
        self.assertIn(b"sha256=%s" % hashlib.sha256(body).hexdigest().encode(), answer.body)
        self.assertNotIn(b"pauses=0 ", answer.body)

    def test_part_of_a_record_waits_without_cpu(self):
        sock, obj, out, _ = self.handshake()
        obj.write(b"GET /echo?part=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        record = out.read()
        # a whole record the server reads at once, then 10 bytes of the next
        obj.write(b"GET /echo?part=2 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        second = out.read()
        sock.sendall(record + second[:10])
        self.assertEqual(self.read_answers(sock, 1)[0].status, 200)
        before = cpu_seconds(self.srv.serving_pid())
        time.sleep(1.0)  # the server holds 10 bytes of a record
        spent = cpu_seconds(self.srv.serving_pid()) - before
        self.assertLess(spent, 0.2, "the server used %.2f s of CPU on a partial record" % spent)
        sock.sendall(second[10:])
        answer = self.read_answers(sock, 1)[0]
        self.assertEqual(answer.status, 200)
        self.assertIn(b"Target: /echo?part=2\n", answer.body)


class Redirect(unittest.TestCase):
    def test_https_redirect(self):
        text = server_ini("[route /echo]\nplugin = echo\n", listen=("127.0.0.1:0 https-redirect=8443",))
        with Server(text) as srv:
            r = srv.get("/a/b?c=d", headers={"Host": "Example.com:8080"})
            self.assertEqual((r.status, r.header("Location")), (301, "https://Example.com:8443/a/b?c=d"))
            self.assertEqual(r.body, b"This resource is served over HTTPS.\n")
            r = srv.get("/form", method="POST", body=b"x=1", headers={"Host": "[::1]:80"})
            self.assertEqual((r.status, r.header("Location")), (308, "https://[::1]:8443/form"))
            r = srv.get("/", headers={"Host": "evil.test/x"})
            self.assertEqual(r.status, 400)
            r = srv.get("/", headers={"Host": ""})
            self.assertEqual(r.status, 400)
        text = server_ini("[route /echo]\nplugin = echo\n", listen=("127.0.0.1:0 https-redirect",))
        with Server(text) as srv:
            r = srv.get("/x", headers={"Host": "example.com"})
            self.assertEqual((r.status, r.header("Location")), (301, "https://example.com/x"))


class Scheme(unittest.TestCase):
    def test_plugins_see_https(self):
        # the proxy plugin passes api->scheme() on as X-Forwarded-Proto to
        # its upstream, a plain server whose echo shows it
        with Server(server_ini("[route /echo]\nplugin = echo\n")) as up:
            routes = "[route /echo]\nplugin = proxy\nupstream = 127.0.0.1:%d\n" % up.port
            with Server(ini(routes=routes, listen=("127.0.0.1:0 tls",))) as srv:
                r, _, _ = https_get(srv.port, "/echo", client_context(MAIN[0]))
                self.assertEqual(r.status, 200, r.body)
                self.assertIn(b"X-Forwarded-Proto: https\n", r.body)
            with Server(ini(routes=routes, listen=("127.0.0.1:0",))) as srv:
                r = srv.get("/echo")
                self.assertIn(b"X-Forwarded-Proto: http\n", r.body)


class Config(unittest.TestCase):
    def start_fails(self, text, pattern):
        srv = Server(text, expect_ready=False)
        try:
            self.assertNotEqual(srv.proc.wait(30), 0)
            self.assertRegex(srv.log(), pattern)
        finally:
            srv.stop()

    def test_tls_listener_needs_tls_section(self):
        self.start_fails(server_ini("", listen=("127.0.0.1:0 tls",)),
                         r"server\.ini:2: a tls listener needs a \[tls\] section with certificate and key")

    def test_mismatched_key_refused(self):
        text = ini("[tls]\ncertificate = %s\nkey = %s\n" % (MAIN[0], OTHER[1]))
        self.start_fails(text, r"server\.ini:\d+: .*other\.key: the key does not match the certificate .*main\.pem")

    def test_expired_and_future_certificates_refused(self):
        old = make_cert(CERTS, "expired", start="20200101000000Z", end="20200201000000Z")
        self.start_fails(ini(tls_section(old)), r"expired\.pem: the certificate expired on 2020-02-01 00:00:00 UTC")
        future = make_cert(CERTS, "future", start="20991201000000Z", end="20991231000000Z")
        self.start_fails(ini(tls_section(future)), r"future\.pem: the certificate is not valid before")

    def test_expiry_soon_warns(self):
        soon = make_cert(CERTS, "soon", days=5)
        with Server(ini(tls_section(soon))) as srv:
            self.assertIsNotNone(srv.wait_log(r"\[warn\].*tls: certificate default \(.*soon\.pem, /CN=localhost\) "
                                              r"expires in [45] days, on "))

    def test_bad_keys_and_files(self):
        self.start_fails(ini(tls_section(extra="protocols = SSLv3\n")),
                         r"server\.ini:\d+: protocols: expected TLSv1\.2 and/or TLSv1\.3")
        self.start_fails(ini(tls_section(extra="ciphers = NOPE-NOTHING\n")), r"tls: ciphers: ")
        self.start_fails(ini("[tls]\ncertificate = %s\nkey = /nonexistent/k.pem\n" % MAIN[0]),
                         r"/nonexistent/k\.pem: No such file or directory")
        with open(os.path.join(CERTS, "enc.key"), "w") as f:
            f.write(subprocess.run(["openssl", "pkey", "-in", MAIN[1], "-aes256", "-passout", "pass:x"],
                                   capture_output=True, text=True, check=True).stdout)
        self.start_fails(ini("[tls]\ncertificate = %s\nkey = %s\n" % (MAIN[0], os.path.join(CERTS, "enc.key"))),
                         r"enc\.key: no PEM private key could be read \(an encrypted key is not supported\)")
        self.start_fails(ini(tls_section() + "[certificate x]\ncertificate = %s\n" % OTHER[0]),
                         r"\[certificate x\] needs both certificate = and key =")
        self.start_fails(server_ini("", listen=("unix:/tmp/x.sock tls",)), r"\"tls\" is for TCP listeners")

    def test_check_mode_reports(self):
        path = os.path.join(CERTS, "check.ini")
        with open(path, "w") as f:
            f.write(ini())
        out = subprocess.run([BINARY, "-t", "-c", path], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stderr, r"tls: certificate default \(.*main\.pem, /CN=localhost\) expires on 20\d\d-")
        with open(path, "w") as f:
            f.write(ini("[tls]\ncertificate = %s\nkey = %s\n" % (MAIN[0], OTHER[1])))
        out = subprocess.run([BINARY, "-t", "-c", path], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("the key does not match the certificate", out.stderr)


class Reload(unittest.TestCase):
    def test_new_certificate_on_reload_and_bad_one_refused(self):
        folder = tempfile.mkdtemp(prefix="phtls-reload-", dir=CERTS)
        cert, key = os.path.join(folder, "c.pem"), os.path.join(folder, "c.key")
        shutil.copy(MAIN[0], cert)
        shutil.copy(MAIN[1], key)
        text = ini("[tls]\ncertificate = %s\nkey = %s\n" % (cert, key))
        ctx = client_context(None)
        with Server(text) as srv:
            old = tls_connect(srv.port, ctx)  # open across the reload
            self.assertEqual(peer_serial(old), cert_serial(MAIN[0]))
            # a renewed certificate (an ACME client replacing the files)
            shutil.copy(MAIN2[0], cert)
            shutil.copy(MAIN2[1], key)
            m = srv.reload(text, r"generation 2 serving|reload failed")
            self.assertIn("serving", m.group(0))
            s = tls_connect(srv.port, ctx)
            self.assertEqual(peer_serial(s), cert_serial(MAIN2[0]))
            s.close()
            # the connection opened before still works, on its old session
            old.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            self.assertEqual(parse_responses(recv_all(old))[0].status, 200)
            old.close()
            # a key that does not match: the reload fails and changes nothing
            shutil.copy(OTHER[1], key)
            m = srv.reload(text, r"generation 3 serving|reload failed")
            self.assertIn("reload failed", m.group(0))
            self.assertRegex(srv.log(), r"reload failed, generation 2 keeps serving: .*c\.key: the key does not "
                                        r"match the certificate")
            s = tls_connect(srv.port, ctx)
            self.assertEqual(peer_serial(s), cert_serial(MAIN2[0]))
            s.close()

    def test_reload_under_load_loses_nothing(self):
        folder = tempfile.mkdtemp(prefix="phtls-load-", dir=CERTS)
        cert, key = os.path.join(folder, "c.pem"), os.path.join(folder, "c.key")
        shutil.copy(MAIN[0], cert)
        shutil.copy(MAIN[1], key)
        text = ini("[tls]\ncertificate = %s\nkey = %s\n" % (cert, key), threads=2)
        errors, done = [], [0]
        stop = threading.Event()
        ctx = client_context(None)

        def client(keepalive):
            while not stop.is_set() and done[0] < 20000:
                try:
                    if keepalive:
                        s = tls_connect(srv.port, ctx)
                        try:
                            for i in range(20):
                                s.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
                                buf = b""
                                while b"\r\n\r\n" not in buf or len(parse_responses(buf)) < 1:
                                    b = s.recv(65536)
                                    if not b:
                                        raise AssertionError("closed mid keep-alive")
                                    buf += b
                                r = parse_responses(buf)[0]
                                if r.status != 200:
                                    raise AssertionError(buf[:100])
                                done[0] += 1
                                # a draining worker answers with close:
                                # the next request goes on a new connection
                                if (r.header("Connection") or "").lower() == "close":
                                    break
                        finally:
                            s.close()
                    else:
                        r, _, _ = https_get(srv.port, "/echo", ctx)
                        if r.status != 200:
                            raise AssertionError(r.status)
                        done[0] += 1
                except Exception as e:  # noqa: BLE001 - every failure counts
                    errors.append(repr(e))

        with Server(text) as srv:
            threads = [threading.Thread(target=client, args=(k,)) for k in (True, False, True, False)]
            for t in threads:
                t.start()
            for gen, src in ((2, MAIN2), (3, MAIN), (4, MAIN2)):
                shutil.copy(src[0], cert)
                shutil.copy(src[1], key)
                before = done[0]
                m = srv.reload(text, r"generation %d serving|reload failed" % gen, timeout=30)
                self.assertIsNotNone(m)
                self.assertIn("serving", m.group(0))
                deadline = time.time() + 30
                while done[0] < before + 50 and time.time() < deadline and not errors:
                    time.sleep(0.01)
            stop.set()
            for t in threads:
                t.join(60)
        self.assertEqual(errors, [])
        self.assertGreater(done[0], 150)


class Privileges(unittest.TestCase):
    def test_key_read_as_root_at_start_and_as_user_at_reload(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("not root")
        try:
            import grp
            import pwd
            uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        except KeyError:
            raise unittest.SkipTest("no user nobody or group nogroup")
        folder = tempfile.mkdtemp(prefix="phtls-priv-")
        self.addCleanup(shutil.rmtree, folder, True)
        os.chmod(folder, 0o755)
        cert, key = os.path.join(folder, "c.pem"), os.path.join(folder, "c.key")
        shutil.copy(MAIN[0], cert)
        shutil.copy(MAIN[1], key)
        os.chmod(cert, 0o644)
        os.chmod(key, 0o600)  # root's alone, as /etc/letsencrypt keeps them
        text = ini("[tls]\ncertificate = %s\nkey = %s\n" % (cert, key), server_extra="user = nobody\ngroup = nogroup")
        with Server(text) as srv:
            os.chmod(srv.dir, 0o755)
            os.chmod(srv.ini, 0o644)
            ctx = client_context(None)
            self.assertEqual(https_get(srv.port, "/echo", ctx)[0].status, 200)
            m = srv.reload(text, r"generation 2 serving|reload failed")
            self.assertIn("reload failed", m.group(0))
            self.assertRegex(srv.log(), r"reload failed, generation 1 keeps serving: .*c\.key: Permission denied")
            self.assertEqual(https_get(srv.port, "/echo", ctx)[0].status, 200)
            os.chown(key, 0, gid)
            os.chmod(key, 0o640)  # the server's group may read it
            start = log_count(srv)
            srv.signal(signal.SIGHUP)
            m, _ = wait_log_from(srv, r"generation 2 serving|reload failed", start)
            self.assertIn("generation 2 serving", m.group(0), srv.log()[-1500:])
            self.assertEqual(https_get(srv.port, "/echo", ctx)[0].status, 200)


class Tickets(unittest.TestCase):
    def test_resumption_across_worker_processes(self):
        text = ini(server_extra="processes = 2\nlog_level = debug")
        ctx = client_context(MAIN[0])
        with Server(text) as srv:
            _, sess, _ = https_get(srv.port, "/echo", ctx)
            # connections held open spread over the processes (a loop with
            # more than its share of open connections steps back)
            held = []
            try:
                for _ in range(12):
                    s = tls_connect(srv.port, ctx, session=sess)
                    held.append(s)
                    s.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    self.assertIn(b"200 OK", s.recv(65536))
                self.assertEqual([s.session_reused for s in held], [True] * 12)
            finally:
                for s in held:
                    s.close()
            pids = set(re.findall(r"\] (\d+): \S+: TLSv1\.3 resumed", srv.log()))
            self.assertGreaterEqual(len(pids), 2, "all resumptions were served by one process: %s" % pids)

    def test_shared_ticket_key_file_and_tickets_off(self):
        keyfile = os.path.join(CERTS, "ticket.key")
        with open(keyfile, "wb") as f:
            f.write(os.urandom(48))
        ctx = client_context(MAIN[0])
        with Server(ini(tls_section(extra="ticket_key_file = %s\n" % keyfile))) as a, \
                Server(ini(tls_section(extra="ticket_key_file = %s\n" % keyfile))) as b, \
                Server(ini()) as c:
            _, sess, _ = https_get(a.port, "/echo", ctx)
            self.assertTrue(https_get(b.port, "/echo", ctx, session=sess)[2])   # same key file
            self.assertFalse(https_get(c.port, "/echo", ctx, session=sess)[2])  # its own secret
        with open(keyfile, "wb") as f:
            f.write(b"short")
        srv = Server(ini(tls_section(extra="ticket_key_file = %s\n" % keyfile)), expect_ready=False)
        try:
            self.assertNotEqual(srv.proc.wait(30), 0)
            self.assertIn("a ticket key file holds 32 to 1024 bytes", srv.log())
        finally:
            srv.stop()
        with Server(ini(tls_section(extra="session_tickets = no\n"))) as srv:
            _, sess, _ = https_get(srv.port, "/echo", ctx)
            self.assertFalse(https_get(srv.port, "/echo", ctx, session=sess)[2])
        with Server(ini(tls_section(extra="session_tickets = no\nsession_cache = 1000\n"))) as srv:
            ctx12 = client_context(MAIN[0], max_version=ssl.TLSVersion.TLSv1_2)
            _, sess, _ = https_get(srv.port, "/echo", ctx12)
            self.assertTrue(https_get(srv.port, "/echo", ctx12, session=sess)[2])


if __name__ == "__main__":
    main()
