#!/usr/bin/env python3
"""Virtual hosts: [route HOST/prefix] sections, exact names before
wildcards (any depth, longest suffix first) before the default host; the
request's host normalised (case, trailing dot, port) from the
absolute-form target or Host (or HTTP/2's :authority); unknown_host =
default, 404 or 421; 421 for a host the TLS connection's certificate does
not serve, over HTTP/1 and on a reused HTTP/2 connection; a reload that
changes the hosts; configuration errors naming the line; the access log's
$host; hostile Host fields."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest

import harness
from harness import Server, main, parse_responses, recv_all, server_ini
import h2util
from h2util import H2Client
from tlsutil import client_context, make_cert, tls_connect

READY = r"reload: generation (\d+) serving|reload failed"


def answer(text):
    return "plugin = return\nstatus = 200\nbody = %s\n" % text


ROUTES = """
[route /]
{root}
[route /api]
{api}
[route example.com/]
{ex}
[route Example.COM/api]
{exapi}
[route *.example.com/]
{wild}
[route *.a.example.com/]
{wilda}
[route only.example.com/docs]
{only}
""".format(root=answer("default /"), api=answer("default /api"), ex=answer("example.com /"),
           exapi=answer("example.com /api"), wild=answer("wild /"), wilda=answer("wild-a /"),
           only=answer("only /docs"))


def get(srv, path, host, extra=b""):
    """One HTTP/1.1 request; host None: an HTTP/1.0 one without Host."""
    head = b"GET " + path.encode() + (b" HTTP/1.1\r\n" if host is not None else b" HTTP/1.0\r\n")
    if host is not None:
        head += b"Host: " + host + b"\r\n"
    data = srv.raw(head + extra + b"Connection: close\r\n\r\n")
    resps = parse_responses(data)
    assert resps, data
    return resps[0]


def body_of(srv, path, host):
    """(status, body without the newline the return plugin ends it with)"""
    r = get(srv, path, host)
    return r.status, r.body.decode("latin-1").rstrip("\n")


class Matching(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(ROUTES, listen=("127.0.0.1:0 h2c",)))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_exact_wildcard_default(self):
        cases = [
            ("/api/v1", b"example.com", 200, "example.com /api"),
            ("/x", b"example.com", 200, "example.com /"),
            ("/api", b"www.example.com", 200, "wild /"),       # no fall-through to another host's /api
            ("/", b"b.c.example.com", 200, "wild /"),          # any depth
            ("/", b"q.a.example.com", 200, "wild-a /"),        # the longer suffix wins
            ("/", b"x.y.a.example.com", 200, "wild-a /"),
            ("/", b"a.example.com", 200, "wild /"),            # *.a.example.com is not a.example.com
            ("/docs/x", b"only.example.com", 200, "only /docs"),  # exact beats wildcard
            ("/api", b"other.org", 200, "default /api"),       # unknown: the default host
            ("/z", b"other.org", 200, "default /"),
            ("/", b"xexample.com", 200, "default /"),
            ("/", b"127.0.0.1", 200, "default /"),
            ("/", b"[::1]:8080", 200, "default /"),
        ]
        for path, host, status, body in cases:
            with self.subTest(host=host, path=path):
                self.assertEqual(body_of(self.srv, path, host), (status, body))

    def test_host_with_routes_but_no_matching_prefix_is_404(self):
        r = get(self.srv, "/", b"only.example.com")
        self.assertEqual(r.status, 404)

    def test_normalisation(self):
        for host in (b"EXAMPLE.com", b"example.com.", b"Example.Com.:8080", b"example.com:", b"example.com:1"):
            with self.subTest(host=host):
                self.assertEqual(body_of(self.srv, "/api", host), (200, "example.com /api"))
        # two trailing dots are not the same name
        self.assertEqual(body_of(self.srv, "/api", b"example.com.."), (200, "default /api"))
        self.assertEqual(body_of(self.srv, "/", b"WWW.EXAMPLE.COM."), (200, "wild /"))

    def test_absolute_form_target_wins_over_host(self):
        self.assertEqual(body_of(self.srv, "http://Example.com:80/api", b"other.org"), (200, "example.com /api"))
        self.assertEqual(body_of(self.srv, "https://other.org/api", b"example.com"), (200, "default /api"))

    def test_http10_without_host_is_the_default_host(self):
        data = self.srv.raw(b"GET /api HTTP/1.0\r\n\r\n")
        r = parse_responses(data)[0]
        self.assertEqual((r.status, r.body), (200, b"default /api\n"))

    def test_hostile_hosts(self):
        # refused by the parser, as before
        for raw in (b"Host: exa mple.com\r\n", b"Host: example.com\r\nHost: example.com\r\n",
                    b"Host: ex\x00ample.com\r\n", b"Host: \xc3\x89XAMPLE.com\r\n", b"Host: a@example.com\r\n",
                    b"Host: example.com:80x\r\n", b"Host: [::1\r\n", b"Host: example.com/x\r\n"):
            with self.subTest(raw=raw):
                data = self.srv.raw(b"GET / HTTP/1.1\r\n" + raw + b"Connection: close\r\n\r\n")
                self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data[:80])
        # valid reg-names that name no section: the default host
        for host in (b"*", b"..", b".", b"*.example.com", b"%41.example.com", b"a..example.com."):
            with self.subTest(host=host):
                status, body = body_of(self.srv, "/", host)
                self.assertEqual(status, 200)
                self.assertIn(body, ("default /", "wild /"))
        self.assertEqual(body_of(self.srv, "/", b"*.example.com"), (200, "wild /"))
        self.assertEqual(body_of(self.srv, "/", b"."), (200, "default /"))
        # a long name of many labels still matches its wildcard
        many = b"b." * 1500 + b"example.com"
        self.assertEqual(body_of(self.srv, "/", many), (200, "wild /"))
        self.assertEqual(body_of(self.srv, "/", b"x" * 6000), (200, "default /"))

    def test_h2_authority(self):
        port = self.srv.port
        c = H2Client(port, sock=socket.create_connection(("127.0.0.1", port), timeout=harness.IO_TIMEOUT))
        try:
            s = c.get("/api", authority="EXAMPLE.com.:443")
            self.assertEqual((s.status, bytes(s.data).rstrip(b"\n")), (200, b"example.com /api"))
            s = c.get("/", authority="q.a.example.com")
            self.assertEqual((s.status, bytes(s.data).rstrip(b"\n")), (200, b"wild-a /"))
            # :authority and a host field that disagree: refused, as before
            c.conn.config.validate_outbound_headers = False
            s = c.get("/", authority="example.com", headers=[("host", "other.org")])
            self.assertEqual(s.status, 400)
            s = c.get("/", authority="example.com", headers=[("host", "Example.com")])
            self.assertEqual((s.status, bytes(s.data).rstrip(b"\n")), (200, b"example.com /"))
            # no :authority: the host field names the host
            sid = c.conn.get_next_available_stream_id()
            c.conn.send_headers(sid, [(":method", "GET"), (":path", "/api"), (":scheme", "http"),
                                      ("host", "x.EXAMPLE.com")], end_stream=True)
            c.streams[sid] = h2util.Stream()
            c.flush()
            s = c.response(sid)
            self.assertEqual((s.status, bytes(s.data).rstrip(b"\n")), (200, b"wild /"))
        finally:
            c.close()


class UnknownHost(unittest.TestCase):
    def check(self, mode, want):
        with Server(server_ini(ROUTES, server_extra="unknown_host = %s" % mode)) as srv:
            self.assertEqual(body_of(srv, "/api", b"example.com"), (200, "example.com /api"))
            self.assertEqual(body_of(srv, "/", b"x.example.com"), (200, "wild /"))
            for host in (b"other.org", b"example.org:80", b"", None):
                with self.subTest(mode=mode, host=host):
                    r = get(srv, "/api", host)
                    if want == 200:
                        self.assertEqual((r.status, r.body), (200, b"default /api\n"))
                    else:
                        self.assertEqual(r.status, want)

    def test_default(self):
        self.check("default", 200)

    def test_404(self):
        self.check("404", 404)

    def test_421(self):
        self.check("421", 421)
        with Server(server_ini(ROUTES, server_extra="unknown_host = 421")) as srv:
            r = get(srv, "/api", b"other.org")
            self.assertEqual(r.reason, "Misdirected Request")

    def test_without_host_routes_the_setting_does_nothing(self):
        with Server(server_ini("[route /]\n" + answer("only"), server_extra="unknown_host = 421")) as srv:
            self.assertEqual(body_of(srv, "/", b"whatever.test"), (200, "only"))


class Reload(unittest.TestCase):
    def test_reload_switches_host_routes(self):
        one = "[route /]\n%s[route example.com/]\n%s" % (answer("default"), answer("one"))
        two = "[route /]\n%s[route example.com/]\n%s[route *.new.test/]\n%s" % (
            answer("default"), answer("two"), answer("new"))
        with Server(server_ini(one)) as srv:
            self.assertEqual(body_of(srv, "/", b"example.com"), (200, "one"))
            self.assertEqual(body_of(srv, "/", b"x.new.test"), (200, "default"))
            self.assertIsNotNone(srv.reload(server_ini(two), READY))
            self.assertNotIn("reload failed", srv.log())
            self.assertEqual(body_of(srv, "/", b"example.com"), (200, "two"))
            self.assertEqual(body_of(srv, "/", b"x.new.test"), (200, "new"))
            # back to no host routes at all
            srv.log_lines.clear()
            self.assertIsNotNone(srv.reload(server_ini("[route /]\n" + answer("plain")), READY))
            self.assertNotIn("reload failed", srv.log())
            self.assertEqual(body_of(srv, "/", b"example.com"), (200, "plain"))
            # a bad host name is refused and the running routes stay
            srv.log_lines.clear()
            m = srv.reload(server_ini("[route bad_name/]\n" + answer("x")), READY)
            self.assertIsNotNone(m)
            self.assertIn("bad host name in [route bad_name/]", srv.log())
            self.assertEqual(body_of(srv, "/", b"example.com"), (200, "plain"))


class ConfigErrors(unittest.TestCase):
    def check(self, routes, line, message, server_extra=""):
        tmp = tempfile.mkdtemp(prefix="ph-vhost-")
        try:
            ini = os.path.join(tmp, "server.ini")
            text = server_ini(routes, server_extra=server_extra)
            with open(ini, "w") as f:
                f.write(text)
            out = subprocess.run(harness.WRAPPER + [harness.BINARY, "-t", "-c", ini], stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True, timeout=30)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("%s:%d: %s" % (ini, line, message), out.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def line_of(self, routes, needle):
        return server_ini(routes).splitlines().index(needle) + 1

    def test_errors(self):
        cases = [
            ("[route Example.com/a]\n%s[route example.COM./a/]\n%s" % (answer("1"), answer("2")),
             "[route example.COM./a/]", "route example.com/a is already defined on line %d",
             "[route Example.com/a]"),
            ("[route example.com]\n" + answer("x"), "[route example.com]",
             "bad route prefix \"example.com\": expected [route /prefix] or [route HOST/prefix]", None),
            ("[route ex_ample.com/]\n" + answer("x"), "[route ex_ample.com/]",
             "bad host name in [route ex_ample.com/]: a host name holds only letters, digits, '-' and '.'", None),
            ("[route a.*.com/]\n" + answer("x"), "[route a.*.com/]",
             "bad host name in [route a.*.com/]: '*' is only allowed as the whole first label (\"*.example.com\")",
             None),
            ("[route */]\n" + answer("x"), "[route */]",
             "bad host name in [route */]: '*' is only allowed as the whole first label (\"*.example.com\")", None),
            ("[route *./]\n" + answer("x"), "[route *./]",
             "bad host name in [route *./]: a wildcard needs a name after \"*.\"", None),
            ("[route -a.com/]\n" + answer("x"), "[route -a.com/]",
             "bad host name in [route -a.com/]: a label of a host name cannot start with '-'", None),
            ("[route example.com/a/../b]\n" + answer("x"), "[route example.com/a/../b]",
             "bad route prefix \"/a/../b\"", None),
            ("[route example.com/a]\nk = v\n", "[route example.com/a]", "[route example.com/a] has no plugin key",
             None),
        ]
        for routes, at, message, first in cases:
            with self.subTest(at=at):
                if first:
                    message = message % self.line_of(routes, first)
                self.check(routes, self.line_of(routes, at), message)

    def test_unknown_host_value(self):
        text = server_ini("", server_extra="unknown_host = 400")
        line = text.splitlines().index("unknown_host = 400") + 1
        self.check("", line, "unknown_host must be default, 404 or 421, not \"400\"", server_extra="unknown_host = 400")


class AccessLogHost(unittest.TestCase):
    def test_host_is_normalised(self):
        tmp = tempfile.mkdtemp(prefix="ph-vhost-log-")
        try:
            logf = os.path.join(tmp, "access.log")
            text = server_ini(ROUTES, server_extra="access_log_format = $host $status", access_log=logf)
            with Server(text) as srv:
                get(srv, "/", b"WWW.Example.COM.:8080")
                get(srv, "http://A.b:1/", b"ignored.test")
                get(srv, "/", b"[::1]:80")
                harness.settle(lambda: os.path.getsize(logf), lambda n: n >= 38)
            with open(logf) as f:
                self.assertEqual(f.read().splitlines(), ["www.example.com 200", "a.b 200", "[::1] 200"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


CERTS = None


def setUpModule():
    global CERTS, MAIN, A, B
    CERTS = tempfile.mkdtemp(prefix="ph-vhost-tls-")
    MAIN = make_cert(CERTS, "main", cn="localhost", sans=("localhost",))
    A = make_cert(CERTS, "a", cn="a.test", sans=("a.test", "shared.test", "*.a.test"))
    B = make_cert(CERTS, "b", cn="b.test", sans=("b.test",))


def tearDownModule():
    if CERTS:
        shutil.rmtree(CERTS, ignore_errors=True)


TLS_ROUTES = """
[route /]
{d}
[route a.test/]
{a}
[route shared.test/]
{s}
[route *.a.test/]
{wa}
[route b.test/]
{b}
""".format(d=answer("default"), a=answer("A"), s=answer("shared"), wa=answer("sub A"), b=answer("B"))


def tls_ini(certs=True):
    text = server_ini(TLS_ROUTES, listen=("127.0.0.1:0 tls",))
    text += "[tls]\ncertificate = %s\nkey = %s\n" % MAIN
    if certs:
        text += "[certificate a]\ncertificate = %s\nkey = %s\n" % A
        text += "[certificate b]\ncertificate = %s\nkey = %s\n" % B
    return text


def https(port, sni, host, path="/"):
    ctx = client_context(None)
    s = tls_connect(port, ctx, server_name=sni)
    try:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        r = parse_responses(recv_all(s))[0]
        return r.status, r.body.decode("latin-1").rstrip("\n")
    finally:
        s.close()


class TlsMisdirected(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(tls_ini())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_http1(self):
        p = self.srv.port
        cases = [
            ("a.test", b"a.test", 200, "A"),
            ("a.test", b"A.TEST.:443", 200, "A"),
            ("a.test", b"shared.test", 200, "shared"),    # the certificate names it too
            ("a.test", b"x.a.test", 200, "sub A"),        # and its wildcard
            ("x.a.test", b"a.test", 200, "A"),
            ("a.test", b"b.test", 421, None),             # another certificate's
            ("b.test", b"a.test", 421, None),
            ("a.test", b"other.test", 421, None),         # the default certificate's
            ("a.test", b"localhost", 421, None),
            ("b.test", b"x.y.a.test", 421, None),         # a TLS wildcard covers one label
            ("other.test", b"elsewhere.test", 200, "default"),  # both the default certificate's
            ("other.test", b"a.test", 421, None),
            ("localhost", b"localhost", 200, "default"),
        ]
        for sni, host, status, body in cases:
            with self.subTest(sni=sni, host=host):
                got = https(p, sni, host)
                self.assertEqual(got[0], status, got)
                if body is not None:
                    self.assertEqual(got[1], body)

    def test_no_sni_no_check(self):
        # an IP address sends no server name: every host may be asked for
        for host, body in ((b"a.test", "A"), (b"b.test", "B"), (b"x.a.test", "sub A")):
            with self.subTest(host=host):
                self.assertEqual(https(self.srv.port, None, host), (200, body))

    def test_http10_without_host_is_not_misdirected(self):
        s = tls_connect(self.srv.port, client_context(None), server_name="a.test")
        try:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            r = parse_responses(recv_all(s))[0]
            self.assertEqual((r.status, r.body), (200, b"default\n"))
        finally:
            s.close()

    def test_absolute_form_is_checked_too(self):
        self.assertEqual(https(self.srv.port, "a.test", b"a.test", path="https://b.test/")[0], 421)

    def test_keep_alive_connection_goes_on_after_421(self):
        s = tls_connect(self.srv.port, client_context(None), server_name="a.test")
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: b.test\r\n\r\nGET / HTTP/1.1\r\nHost: a.test\r\n"
                      b"Connection: close\r\n\r\n")
            rs = parse_responses(recv_all(s))
            self.assertEqual([(r.status, r.body) for r in rs][1], (200, b"A\n"))
            self.assertEqual(rs[0].status, 421)
        finally:
            s.close()

    def test_h2_connection_reuse(self):
        ctx = client_context(None, alpn=("h2",))
        sock = tls_connect(self.srv.port, ctx, server_name="a.test")
        c = H2Client(self.srv.port, tls_ctx=ctx, sock=sock)
        try:
            s = c.get("/", authority="a.test")
            self.assertEqual((s.status, bytes(s.data).rstrip(b"\n")), (200, b"A"))
            s = c.get("/", authority="shared.test")
            self.assertEqual((s.status, bytes(s.data).rstrip(b"\n")), (200, b"shared"))
            # a client reusing the connection for a host of another
            # certificate is told to open a new one
            s = c.get("/", authority="b.test")
            self.assertEqual(s.status, 421)
            s = c.get("/", authority="b.test:443", method="POST", body=b"x" * 100)
            self.assertEqual(s.status, 421)
            s = c.get("/", authority="A.test.")
            self.assertEqual((s.status, bytes(s.data).rstrip(b"\n")), (200, b"A"))
            # a host field agreeing with :authority changes nothing
            s = c.get("/", authority="b.test", headers=[("host", "b.test")])
            self.assertEqual(s.status, 421)
        finally:
            c.close()

    def test_h2_new_connection_for_the_other_host(self):
        ctx = client_context(None, alpn=("h2",))
        c = H2Client(self.srv.port, tls_ctx=ctx, sock=tls_connect(self.srv.port, ctx, server_name="b.test"))
        try:
            s = c.get("/", authority="b.test")
            self.assertEqual((s.status, bytes(s.data).rstrip(b"\n")), (200, b"B"))
        finally:
            c.close()


class TlsOneCertificate(unittest.TestCase):
    def test_one_certificate_never_misdirects(self):
        # with no other certificate, no request can belong to another one
        with Server(tls_ini(certs=False)) as srv:
            self.assertEqual(https(srv.port, "localhost", b"b.test"), (200, "B"))
            self.assertEqual(https(srv.port, "a.test", b"b.test"), (200, "B"))


if __name__ == "__main__":
    main()
