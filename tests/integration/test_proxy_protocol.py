#!/usr/bin/env python3
"""The listen option proxy_protocol: the PROXY header (v1 text, v2 binary)
a load balancer writes first names the client, which plugins see as
peer() and local() and the access log records; a v2 LOCAL header keeps
the connection's own addresses; the header may arrive in pieces; no header,
a bad one or one that never ends closes the connection (each said in the
log, the last at header_timeout); before TLS the header is read and the
handshake follows on the same connection."""

import json
import os
import shutil
import socket
import ssl
import struct
import tempfile
import time
import unittest

import harness
from harness import Server, parse_responses, recv_all, server_ini, wait_log_from, log_count
from tlsutil import client_context, make_cert

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
GET = b"GET /echo/ HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nConnection: close\r\n\r\n"


def v2(cmd, fam, addr):
    return V2_SIG + bytes([0x20 | cmd, fam]) + struct.pack("!H", len(addr)) + addr


class ProxyProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ph-pp-")
        cert, key = make_cert(cls.tmp, "c")
        cls.srv = Server(server_ini(routes="[route /echo]\nplugin = echo\n",
                                    listen=("127.0.0.1:0 proxy_protocol", "[::1]:0 tls proxy_protocol"),
                                    server_extra="header_timeout = 700ms") +
                         "\n[tls]\ncertificate = %s\nkey = %s\n" % (cert, key))
        cls.tls_port = None
        for a in cls.srv.addresses:
            if a.startswith("[::1]:"):
                cls.tls_port = int(a.rsplit(":", 1)[1])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def echo_peer(self, *pieces, gap=0.0):
        s = self.srv.connect()
        for i, p in enumerate(pieces):
            if i and gap:
                time.sleep(gap)  # a header in pieces: the server must wait, not guess
            s.sendall(p)
        data = recv_all(s)
        s.close()
        r = parse_responses(data)[0]
        self.assertEqual(r.status, 200, r.body)
        return json.loads(r.body)

    def test_v1_names_the_client(self):
        start = log_count(self.srv)
        e = self.echo_peer(b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n" + GET)
        self.assertEqual(e["peer"], "203.0.113.7:56324")
        m, _ = wait_log_from(self.srv, r'^203\.0\.113\.7 - - \[.*\] "GET /echo/ HTTP/1\.1" 200', start)
        self.assertIsNotNone(m, self.srv.log()[-1500:])

    def test_v2_ipv6(self):
        addr = (socket.inet_pton(socket.AF_INET6, "2001:db8::7") + socket.inet_pton(socket.AF_INET6, "2001:db8::1")
                + struct.pack("!HH", 12345, 80))
        e = self.echo_peer(v2(1, 0x21, addr) + GET)
        self.assertEqual(e["peer"], "[2001:db8::7]:12345")

    def test_v2_local_keeps_the_connections_address(self):
        e = self.echo_peer(v2(0, 0x00, b"") + GET)
        self.assertRegex(e["peer"], r"^127\.0\.0\.1:\d+$")

    def test_header_in_pieces(self):
        e = self.echo_peer(b"PROXY TCP4 198.51.100", b".9 192.0.2.1 1000 443\r\n", GET, gap=0.15)
        self.assertEqual(e["peer"], "198.51.100.9:1000")

    def test_header_byte_by_byte(self):
        # each piece is taken off the socket and kept until the header ends
        h = b"PROXY TCP4 198.51.100.9 192.0.2.1 1000 443\r\n"
        e = self.echo_peer(*[h[i:i + 1] for i in range(len(h))], GET, gap=0.005)
        self.assertEqual(e["peer"], "198.51.100.9:1000")
        h = v2(1, 0x11, socket.inet_aton("198.51.100.10") + socket.inet_aton("192.0.2.1") + struct.pack("!HH", 7, 443))
        e = self.echo_peer(*[h[i:i + 1] for i in range(len(h))], GET, gap=0.005)
        self.assertEqual(e["peer"], "198.51.100.10:7")

    def test_unfinished_headers_cost_no_cpu(self):
        # a connection whose header is in pieces waits for its socket, not
        # for a timer that looks at the same bytes every few milliseconds
        srv = Server(server_ini(routes="[route /echo]\nplugin = echo\n", listen=("127.0.0.1:0 proxy_protocol",),
                                server_extra="header_timeout = 20s"))
        self.addCleanup(srv.stop)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        base = harness.proc_fd_count(srv.serving_pid())
        for i in range(1000):
            s = srv.connect()
            s.sendall(V2_SIG[:5] if i % 2 else b"PROXY TCP4 1.2")
            socks.append(s)

        def cpu():
            with open("/proc/%d/stat" % srv.serving_pid()) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        # every connection accepted, and the server done with what came
        # (a quiet half second): then a busy server could only be spinning
        harness.settle(lambda: harness.proc_fd_count(srv.serving_pid()), lambda n: n >= base + 1000, timeout=30)
        deadline = time.time() + 15
        while time.time() < deadline:
            c = cpu()
            time.sleep(0.5)
            if cpu() - c < 0.05:
                break
        c0 = cpu()
        time.sleep(2)
        self.assertLess(cpu() - c0, 0.25)
        # and the headers still complete
        socks[0].sendall(b".3.4 5.6.7.8 1 2\r\n" + GET)
        r = parse_responses(recv_all(socks[0]))[0]
        self.assertEqual(json.loads(r.body)["peer"], "1.2.3.4:1")

    def test_no_header_closes(self):
        start = log_count(self.srv)
        s = self.srv.connect()
        s.sendall(GET)
        self.assertEqual(recv_all(s), b"")
        s.close()
        m, _ = wait_log_from(self.srv, r"127\.0\.0\.1:\d+: no valid PROXY protocol header; closing", start)
        self.assertIsNotNone(m)

    def test_unfinished_header_meets_header_timeout(self):
        start = log_count(self.srv)
        s = self.srv.connect()
        s.sendall(b"PROXY TCP4 203.0.113.7")
        t0 = time.time()
        self.assertEqual(recv_all(s, timeout=10), b"")
        s.close()
        self.assertGreaterEqual(time.time() - t0, 0.6)
        m, _ = wait_log_from(self.srv, r"header_timeout: PROXY protocol header not complete after 700 ms", start)
        self.assertIsNotNone(m)

    def test_header_then_tls(self):
        raw = socket.create_connection(("::1", self.tls_port), timeout=10)
        raw.sendall(b"PROXY TCP6 2001:db8::9 2001:db8::1 4444 443\r\n")
        s = client_context(None).wrap_socket(raw, server_hostname="localhost")
        s.sendall(GET)
        r = parse_responses(recv_all(s))[0]
        s.close()
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["peer"], "[2001:db8::9]:4444")


if __name__ == "__main__":
    harness.main()
