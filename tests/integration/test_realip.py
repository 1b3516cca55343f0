#!/usr/bin/env python3
"""[server] trusted_proxies end to end: from a trusted peer the client
named in X-Forwarded-For (or Forwarded) is what the echo plugin shows as
the peer, what the access plugin's rules and the rate limit match, and the
access log's $remote_addr, with $direct_addr keeping the proxy; from a
peer not trusted (127.0.0.2) the header changes nothing; a malformed one
keeps the peer and never fails the request. X-Request-Id from a trusted
peer is the request id (log line, response header with send_request_id,
over HTTP/1.1 and HTTP/2 alike); from others, or malformed, the server's
own id is used. max_connections_per_address: the connection over the cap
is closed unanswered, one closing makes room again, other addresses (and
PROXY protocol clients, counted by the header's address) are apart."""

import json
import re
import socket
import unittest

import h2util  # first: it may re-run this test under Debian's python3
from h2util import H2Client

import harness
from harness import (Server, log_count, parse_responses, read_responses, recv_until_closed, server_ini,
                     wait_log_from)

ACCESS_FMT = "access_log_format = ACCESS $remote_addr $direct_addr $request_id $status $target"
ROUTES = """
[route /echo]
plugin = echo

[route /deny]
plugin = access, echo
access.deny = 203.0.113.0/24
access.allow = all

[route /limited]
plugin = ratelimit, echo
ratelimit.rate = 1r/m
ratelimit.burst = 1
"""
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def request(port, path, headers=(), source="127.0.0.1"):
    """One GET with Connection: close from source; the Response."""
    h = [("Host", "x"), ("Accept", "application/json"), ("Connection", "close")] + list(headers)
    data = ("GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % kv for kv in h) + "\r\n").encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=harness.IO_TIMEOUT,
                                  source_address=(source, 0)) as s:
        s.sendall(data)
        raw, _ = recv_until_closed(s)
    rs = parse_responses(raw)
    if not rs:
        raise AssertionError("no response")
    return rs[0]


class TrustedProxies(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # two lines: the list may be longer than one
        extra = "\n".join(["trusted_proxies = 127.0.0.1", "trusted_proxies = 10.0.0.0/8, 2001:db8:ffff::/48",
                           "send_request_id = yes", "max_header_bytes = 128k", ACCESS_FMT])
        cls.srv = Server(server_ini(routes=ROUTES, server_extra=extra, listen=("127.0.0.1:0 h2c",)))
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def echo(self, path, headers=(), source="127.0.0.1"):
        r = request(self.port, path, headers, source)
        self.assertEqual(r.status, 200, r.body)
        return r, json.loads(r.body)

    def log_line(self, start, target):
        m, _ = wait_log_from(self.srv, r"^ACCESS (\S+) (\S+) (\S+) (\d+) %s$" % re.escape(target), start)
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        return m.groups()

    def test_xff_from_trusted_peer(self):
        start = log_count(self.srv)
        _, e = self.echo("/echo?xff1", [("X-Forwarded-For", "192.0.2.99, 198.51.100.7, 10.1.2.3")])
        self.assertEqual(e["peer"], "198.51.100.7:0")
        addr, direct, rid, status = self.log_line(start, "/echo?xff1")
        self.assertEqual((addr, direct, status), ("198.51.100.7", "127.0.0.1", "200"))
        self.assertRegex(rid, HEX16)

    def test_fields_joined_and_port_kept(self):
        _, e = self.echo("/echo?xff2", [("X-Forwarded-For", "198.51.100.8:4711"), ("X-Forwarded-For", "10.0.0.1")])
        self.assertEqual(e["peer"], "198.51.100.8:4711")
        _, e = self.echo("/echo?xff3", [("X-Forwarded-For", "[2001:db8::7]:443, 2001:db8:ffff::1")])
        self.assertEqual(e["peer"], "[2001:db8::7]:443")

    def test_untrusted_peer_changes_nothing(self):
        start = log_count(self.srv)
        _, e = self.echo("/echo?untrusted", [("X-Forwarded-For", "198.51.100.7")], source="127.0.0.2")
        self.assertRegex(e["peer"], r"^127\.0\.0\.2:\d+$")
        addr, direct, _, _ = self.log_line(start, "/echo?untrusted")
        self.assertEqual((addr, direct), ("127.0.0.2", "127.0.0.2"))

    def test_malformed_keeps_the_peer(self):
        for i, v in enumerate(["198.51.100.7, garbage", "fe80::1%eth0", "198.51.100.7:x", "unknown",
                               ",".join(["10.0.0.1"] * 3000) + ",bad",
                               "[::1", "1.2.3.4.5", ";", "for=1.2.3.4"]):
            _, e = self.echo("/echo?bad%d" % i, [("X-Forwarded-For", v)])
            self.assertRegex(e["peer"], r"^127\.0\.0\.1:\d+$", v[:60])

    def test_hostile_long_list(self):
        # 10,000 addresses, all trusted: the leftmost (max_header_bytes 128k)
        v = ",".join("10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255) for i in range(1, 10001))
        _, e = self.echo("/echo?long", [("X-Forwarded-For", v)])
        self.assertEqual(e["peer"], "10.0.0.1:0")
        # the same with one client among them, and with a bad one past it
        _, e = self.echo("/echo?long2", [("X-Forwarded-For", "198.51.100.9," + v + ",198.51.100.10")])
        self.assertEqual(e["peer"], "198.51.100.10:0")
        _, e = self.echo("/echo?long3", [("X-Forwarded-For", "bad," + v)])
        self.assertRegex(e["peer"], r"^127\.0\.0\.1:\d+$")
        v = ",".join("10.0.0.1" for _ in range(20000))  # over the head limit: 431, not a crash
        r = request(self.port, "/echo?toolong", [("X-Forwarded-For", v)])
        self.assertEqual(r.status, 431)

    def test_access_rule_matches_the_forwarded_client(self):
        r = request(self.port, "/deny/x", [("X-Forwarded-For", "203.0.113.9")])
        self.assertEqual(r.status, 403)
        r = request(self.port, "/deny/x", [("X-Forwarded-For", "198.51.100.1")])
        self.assertEqual(r.status, 200)
        # not believed from a peer not trusted
        r = request(self.port, "/deny/x", [("X-Forwarded-For", "203.0.113.9")], source="127.0.0.2")
        self.assertEqual(r.status, 200)

    def test_ratelimit_keys_on_the_forwarded_client(self):
        a = [("X-Forwarded-For", "198.51.100.201")]
        self.assertEqual(request(self.port, "/limited/x", a).status, 200)
        self.assertEqual(request(self.port, "/limited/x", a).status, 429)
        # another client behind the same proxy has its own bucket
        self.assertEqual(request(self.port, "/limited/x", [("X-Forwarded-For", "198.51.100.202")]).status, 200)

    def test_request_id_from_trusted_peer(self):
        start = log_count(self.srv)
        r, e = self.echo("/echo?rid1", [("X-Request-Id", "trace-42.a/b")])
        self.assertEqual(r.header("X-Request-Id"), "trace-42.a/b")
        _, _, rid, _ = self.log_line(start, "/echo?rid1")
        self.assertEqual(rid, "trace-42.a/b")

    def test_request_id_replaced(self):
        cases = [([("X-Request-Id", "trace-43")], "127.0.0.2"),           # peer not trusted
                 ([("X-Request-Id", "a" * 201)], "127.0.0.1"),            # too long
                 ([("X-Request-Id", 'a"b')], "127.0.0.1"),                # not a visible token
                 ([("X-Request-Id", "a"), ("X-Request-Id", "b")], "127.0.0.1")]  # two
        for i, (h, source) in enumerate(cases):
            start = log_count(self.srv)
            r, _ = self.echo("/echo?rid-r%d" % i, h, source=source)
            got = r.header("X-Request-Id")
            self.assertRegex(got, HEX16, i)
            _, _, rid, _ = self.log_line(start, "/echo?rid-r%d" % i)
            self.assertEqual(rid, got)

    def test_h2_request_id_and_client(self):
        start = log_count(self.srv)
        c = H2Client(self.port)
        try:
            st = c.get("/echo?h2", headers=[("x-request-id", "h2-trace-7"), ("x-forwarded-for", "198.51.100.77"),
                                           ("accept", "application/json")])
            self.assertEqual(st.status, 200)
            self.assertEqual(st.headers.get("x-request-id"), "h2-trace-7")
            self.assertEqual(json.loads(bytes(st.data))["peer"], "198.51.100.77:0")
            st = c.get("/echo?h2b")
            self.assertRegex(st.headers.get("x-request-id"), HEX16)
        finally:
            c.close()
        addr, direct, rid, _ = self.log_line(start, "/echo?h2")
        self.assertEqual((addr, direct, rid), ("198.51.100.77", "127.0.0.1", "h2-trace-7"))


class ForwardedHeader(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        extra = "trusted_proxies = 127.0.0.1\nreal_ip_header = forwarded\n" + ACCESS_FMT
        cls.srv = Server(server_ini(routes=ROUTES, server_extra=extra))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def peer(self, headers):
        r = request(self.srv.port, "/echo", headers)
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("X-Request-Id"))  # send_request_id is off by default
        return json.loads(r.body)["peer"]

    def test_forwarded(self):
        self.assertEqual(self.peer([("Forwarded", 'for="[2001:db8::5]:4711";proto=https')]), "[2001:db8::5]:4711")
        self.assertEqual(self.peer([("Forwarded", "for=198.51.100.3, for=127.0.0.1")]), "198.51.100.3:0")
        self.assertEqual(self.peer([("Forwarded", 'for=_hidden, for=127.0.0.1;by=x')]), "127.0.0.1:0")
        self.assertEqual(self.peer([("Forwarded", 'for="unclosed, for=198.51.100.4')]), "198.51.100.4:0")
        # X-Forwarded-For is not the header read here
        self.assertRegex(self.peer([("X-Forwarded-For", "198.51.100.3")]), r"^127\.0\.0\.1:\d+$")
        for bad in ['for="[::1]:x"', "for=[::1]", 'for="[fe80::1%eth0]"', "for", "for=1.2.3.4;for=5.6.7.8",
                    '\\"', 'for="a\\"b"']:
            self.assertRegex(self.peer([("Forwarded", bad)]), r"^127\.0\.0\.1:\d+$", bad)


class JsonAccessLog(unittest.TestCase):
    """The json access log keeps a trusted proxy's X-Request-Id whole, up to
    its 200 bytes, as the template's $request_id and the response do."""

    @classmethod
    def setUpClass(cls):
        extra = "trusted_proxies = 127.0.0.1\nsend_request_id = yes\naccess_log_format = json"
        cls.srv = Server(server_ini(routes=ROUTES, server_extra=extra))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_long_request_id(self):
        for n in (62, 63, 100, 200):
            rid = ("r%d-" % n + "x" * n)[:n]
            start = log_count(self.srv)
            r = request(self.srv.port, "/echo?json-rid-%d" % n, [("X-Request-Id", rid)])
            self.assertEqual(r.header("X-Request-Id"), rid)
            m, _ = wait_log_from(self.srv, r'^\{.*"target":"/echo\?json-rid-%d"' % n, start)
            self.assertIsNotNone(m, self.srv.log()[-2000:])
            self.assertEqual(json.loads(m.string)["request_id"], rid)


class ConnectionsPerAddress(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        extra = "max_connections_per_address = 2\nlog_level = debug\nkeepalive_timeout = 60s"
        cls.srv = Server(server_ini(routes=ROUTES, server_extra=extra, threads=2,
                                    listen=("127.0.0.1:0", "127.0.0.3:0 proxy_protocol")))
        for a in cls.srv.addresses:
            host, port = a.rsplit(":", 1)
            if host == "127.0.0.1":
                cls.plain = ("127.0.0.1", int(port))
            else:
                cls.pp = ("127.0.0.3", int(port))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def served(self, port, source="127.0.0.1", prefix=b""):
        """A keep-alive connection that had one answer, or None when it
        was closed unanswered."""
        s = socket.create_connection(port, timeout=harness.IO_TIMEOUT, source_address=(source, 0))
        s.sendall(prefix + b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        rs = read_responses(s, 1)
        if rs and rs[0].status == 200:
            return s
        s.close()
        return None

    def refused(self, port, source="127.0.0.1", prefix=b""):
        """Connects and sends nothing but prefix: the server closes at once,
        no byte answered."""
        s = socket.create_connection(port, timeout=harness.IO_TIMEOUT, source_address=(source, 0))
        try:
            if prefix:
                s.sendall(prefix)
            data, closed = recv_until_closed(s)
            return data == b"" and closed
        finally:
            s.close()

    def test_cap(self):
        start = log_count(self.srv)
        held = [self.served(self.plain), self.served(self.plain)]
        self.assertTrue(all(held))
        self.assertTrue(self.refused(self.plain))
        m, _ = wait_log_from(self.srv, r"127\.0\.0\.1:\d+: max_connections_per_address \(2\) reached; closing",
                             start)
        self.assertIsNotNone(m)
        # another address is counted apart
        other = self.served(self.plain, source="127.0.0.2")
        self.assertIsNotNone(other)
        other.close()
        # one closes: room for one, once the server has seen it go
        held.pop().close()
        again = harness.settle(lambda: self.served(self.plain), lambda s: s is not None)
        self.assertIsNotNone(again)
        self.assertTrue(self.refused(self.plain))
        for s in held + [again]:
            s.close()

    def test_proxy_protocol_counts_the_named_client(self):
        hdr = b"PROXY TCP4 203.0.113.7 192.0.2.1 5000 80\r\n"
        held = [self.served(self.pp, prefix=hdr), self.served(self.pp, prefix=hdr)]
        self.assertTrue(all(held))
        self.assertTrue(self.refused(self.pp, prefix=hdr))
        # the load balancer's own address holds no count: another client passes
        s = self.served(self.pp, prefix=b"PROXY TCP4 203.0.113.8 192.0.2.1 5000 80\r\n")
        self.assertIsNotNone(s)
        for c in held + [s]:
            c.close()


if __name__ == "__main__":
    harness.main()
