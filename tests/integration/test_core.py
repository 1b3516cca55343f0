#!/usr/bin/env python3
"""The core server end to end: connection handling (keep-alive, pipelining,
HTTP/1.0, request bodies, 100-continue, HEAD), core headers, routing and
path normalisation, listeners, threads, containment of a misbehaving plugin
(tests/plugins/misbehave.c), graceful shutdown and the access log.

Raw sockets for the framing, curl for a real client's view."""

import calendar
import concurrent.futures
import email.utils
import json
import os
import re
import signal
import socket
import subprocess
import time
import unittest

import harness
from harness import (Server, parse_responses, read_head, read_responses,
                     recv_until_closed, server_ini, settle)

ROUTES = harness.fixture_routes(slow=True)

IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d{2}:\d{2}:\d{2} GMT$")


def pattern(n, start=0):
    """The fixture's byte pattern: byte i is i % 251."""
    return bytes((start + i) % 251 for i in range(n))


def req(method, target, headers=None, body=b"", version="HTTP/1.1"):
    """Request bytes; Host: localhost unless headers give one (None: none)."""
    h = {"Host": "localhost"}
    h.update(headers or {})
    if body and "Content-Length" not in h and "Transfer-Encoding" not in h:
        h["Content-Length"] = str(len(body))
    head = "%s %s %s\r\n" % (method, target, version)
    head += "".join("%s: %s\r\n" % kv for kv in h.items() if kv[1] is not None)
    return head.encode("latin-1") + b"\r\n" + body


def echo_json(r):
    """The echo plugin's JSON description of the request it saw."""
    return json.loads(r.body.decode("utf-8"))


def curl(*args, timeout=30):
    """Run curl -s; returns the CompletedProcess (stdout as bytes)."""
    return subprocess.run(["curl", "-s", "--max-time", "20"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


class CoreTest(unittest.TestCase):
    """One server (two worker threads) shared by the stateless cases."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=ROUTES, threads=2))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def tearDown(self):
        # Whatever a case did, the server must still be alive and serving.
        self.assertIsNone(self.srv.proc.poll(), "server died:\n" + self.srv.log())

    def conn(self):
        return self.srv.connect()

    # --- persistent connections --------------------------------------------
    def test_keep_alive_sequential(self):
        with self.conn() as s:
            for i in range(5):
                s.sendall(req("GET", "/echo/k%d" % i, {"Accept": "application/json"}))
                rs = read_responses(s, 1)
                self.assertEqual(len(rs), 1)
                r = rs[0]
                self.assertEqual(r.status, 200)
                self.assertEqual(r.version, "HTTP/1.1")
                self.assertIsNone(r.header("Connection"))
                self.assertEqual(echo_json(r)["target"], "/echo/k%d" % i)

    def test_pipelining_ten_in_order(self):
        data = b"".join(req("GET", "/echo/p%d" % i, {"Accept": "application/json"})
                        for i in range(10))
        with self.conn() as s:
            s.sendall(data)
            rs = read_responses(s, 10)
            self.assertEqual(len(rs), 10)
            for i, r in enumerate(rs):
                self.assertEqual(r.status, 200)
                self.assertEqual(echo_json(r)["target"], "/echo/p%d" % i)
            # still open and usable after the batch
            s.sendall(req("GET", "/echo/after"))
            rs = read_responses(s, 1)
            self.assertEqual(rs[0].status, 200)

    def test_pipelining_mixed_methods_with_bodies(self):
        js = {"Accept": "application/json"}
        chunked = b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
        data = (req("GET", "/echo/1", js) +
                req("HEAD", "/echo/2", js) +
                req("POST", "/echo/3", js, body=b"first body") +
                req("POST", "/echo/4", dict(js, **{"Transfer-Encoding": "chunked"}),
                    body=chunked) +
                req("PUT", "/echo/5", js, body=b"") +
                req("POST", "/echo/6", dict(js, Connection="close"), body=b"x" * 3000))
        with self.conn() as s:
            s.sendall(data)
            raw, closed = recv_until_closed(s)
        self.assertTrue(closed, "Connection: close on the last request must close")
        rs = parse_responses(raw, head=[False, True, False, False, False, False])
        self.assertEqual([r.status for r in rs], [200] * 6)
        self.assertEqual(echo_json(rs[0])["method"], "GET")
        self.assertEqual(rs[1].body, b"")
        self.assertGreater(int(rs[1].header("Content-Length")), 0)
        j = echo_json(rs[2])
        self.assertEqual((j["method"], j["target"], j["body"]), ("POST", "/echo/3", "first body"))
        j = echo_json(rs[3])
        self.assertEqual((j["target"], j["body"]), ("/echo/4", "abcdefg"))
        j = echo_json(rs[4])
        self.assertEqual((j["method"], j["body"]), ("PUT", ""))
        j = echo_json(rs[5])
        self.assertEqual((j["target"], j["body"]), ("/echo/6", "x" * 3000))
        self.assertEqual(rs[5].header("Connection"), "close")

    def test_http10_without_keep_alive_closes(self):
        with self.conn() as s:
            s.sendall(b"GET /echo/old HTTP/1.0\r\nAccept: application/json\r\n\r\n")
            raw, closed = recv_until_closed(s)
        self.assertTrue(closed, "an HTTP/1.0 request without keep-alive must close")
        rs = parse_responses(raw)
        self.assertEqual(len(rs), 1)
        self.assertEqual(rs[0].status, 200)
        self.assertNotEqual((rs[0].header("Connection") or "").lower(), "keep-alive")
        j = echo_json(rs[0])
        self.assertEqual((j["version"], j["target"]), ("HTTP/1.0", "/echo/old"))

    def test_http10_keep_alive_stays_open(self):
        with self.conn() as s:
            for i in range(3):
                s.sendall(("GET /echo/ka%d HTTP/1.0\r\nConnection: keep-alive\r\n"
                           "Accept: application/json\r\n\r\n" % i).encode())
                rs = read_responses(s, 1)
                self.assertEqual(len(rs), 1)
                self.assertEqual(rs[0].status, 200)
                self.assertEqual(rs[0].header("Connection", "").lower(), "keep-alive")
                self.assertIsNotNone(rs[0].header("Content-Length"))
                self.assertEqual(echo_json(rs[0])["target"], "/echo/ka%d" % i)
            # ends like an HTTP/1.0 client: no keep-alive, then closed
            s.sendall(b"GET /echo/last HTTP/1.0\r\n\r\n")
            raw, closed = recv_until_closed(s)
        self.assertTrue(closed)
        self.assertEqual(parse_responses(raw)[0].status, 200)

    def test_http11_connection_close(self):
        with self.conn() as s:
            s.sendall(req("GET", "/echo/c", {"Connection": "close"}) + req("GET", "/echo/never"))
            raw, closed = recv_until_closed(s)
        self.assertTrue(closed)
        rs = parse_responses(raw)
        self.assertEqual(len(rs), 1, "nothing may be answered after Connection: close")
        self.assertEqual(rs[0].status, 200)
        self.assertEqual(rs[0].header("Connection"), "close")
        self.assertIn(b"Target: /echo/c\n", rs[0].body)

    # --- request bodies -------------------------------------------------------
    def test_content_length_body(self):
        body = bytes(range(32, 127)) * 50
        r = self.srv.get("/echo/cl", method="POST", body=body,
                         headers={"Accept": "application/json"})
        self.assertEqual(r.status, 200)
        self.assertEqual(echo_json(r)["body"], body.decode())

    def test_chunked_body_with_extensions_and_trailers(self):
        body = (b"5;name=value\r\nhello\r\n"
                b"1;flag\r\n \r\n"
                b"A;q=\"quoted ext\"\r\n0123456789\r\n"
                b"0\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n")
        with self.conn() as s:
            s.sendall(req("POST", "/echo/ch", {"Transfer-Encoding": "chunked",
                                              "Accept": "application/json"}, body=body))
            rs = read_responses(s, 1)
            self.assertEqual(rs[0].status, 200)
            j = echo_json(rs[0])
            self.assertEqual(j["body"], "hello 0123456789")
            # the trailer section ended the request exactly: the next one parses
            s.sendall(req("GET", "/echo/next"))
            rs = read_responses(s, 1)
            self.assertEqual(rs[0].status, 200)
            self.assertIn(b"Target: /echo/next\n", rs[0].body)

    def test_chunked_body_sent_in_pieces(self):
        with self.conn() as s:
            s.sendall(req("POST", "/echo/pieces", {"Transfer-Encoding": "chunked",
                                                  "Accept": "application/json"}))
            for piece in (b"4\r", b"\nab", b"cd\r\n", b"3;x=y\r\nefg\r", b"\n0\r\n", b"\r\n"):
                time.sleep(0.05)
                s.sendall(piece)
            rs = read_responses(s, 1)
        self.assertEqual(rs[0].status, 200)
        self.assertEqual(echo_json(rs[0])["body"], "abcdefg")

    def test_expect_100_continue(self):
        with self.conn() as s:
            s.sendall(req("POST", "/echo/cont", {"Expect": "100-continue",
                                                "Content-Length": "11",
                                                "Accept": "application/json"}))
            interim = read_head(s)
            self.assertEqual(interim, b"HTTP/1.1 100 Continue\r\n\r\n")
            s.sendall(b"hello world")
            rs = read_responses(s, 1)
        self.assertEqual(len(rs), 1)
        self.assertEqual(rs[0].status, 200)
        self.assertEqual(echo_json(rs[0])["body"], "hello world")

    def test_curl_post_expect_continue(self):
        # A real client waiting for the interim answer before the body.
        body = "z" * 5000
        p = curl("-H", "Expect: 100-continue", "-H", "Accept: application/json",
                 "--data-binary", body, self.srv.url("/echo/curl"))
        self.assertEqual(p.returncode, 0, p.stderr)
        j = json.loads(p.stdout)
        self.assertEqual((j["method"], j["body"]), ("POST", body))

    # --- HEAD -------------------------------------------------------------------
    def test_head_same_headers_no_body(self):
        with self.conn() as s:
            s.sendall(req("HEAD", "/mb/file") + req("GET", "/mb/file"))
            rs = read_responses(s, 2, head=[True, False])
        self.assertEqual([r.status for r in rs], [200, 200])
        head, get = rs
        self.assertEqual(head.header("Content-Length"), "99990")
        self.assertEqual(get.header("Content-Length"), "99990")
        self.assertEqual(head.body, b"")
        self.assertEqual(get.body, pattern(99990, 10))
        names = lambda r: sorted(k.lower() for k, _ in r.headers)
        self.assertEqual(names(head), names(get))
        for k, v in get.headers:
            if k.lower() != "date":
                self.assertEqual(head.header(k), v, k)

    def test_head_raw_bytes(self):
        # On the wire: the HEAD head is directly followed by the GET's status
        # line, so not one body byte was sent for HEAD.
        with self.conn() as s:
            s.sendall(req("HEAD", "/mb/big") + req("GET", "/echo/h", {"Connection": "close"}))
            raw, closed = recv_until_closed(s)
        self.assertTrue(closed)
        end = raw.index(b"\r\n\r\n") + 4
        self.assertIn(b"Content-Length: 1048576\r\n", raw[:end])
        self.assertTrue(raw[end:].startswith(b"HTTP/1.1 200 "), raw[end:end + 40])

    def test_head_curl(self):
        p = curl("-I", self.srv.url("/mb/big"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"Content-Length: 1048576", p.stdout)

    # --- core headers -------------------------------------------------------------
    def test_date_and_server_headers(self):
        for path in ("/echo/x", "/nowhere", "/mb/stream"):
            r = self.srv.get(path)
            date = r.header("Date")
            self.assertIsNotNone(date, path)
            self.assertRegex(date, IMF_FIXDATE)
            when = email.utils.parsedate_to_datetime(date).timestamp()
            self.assertLess(abs(when - time.time()), 120)
            self.assertRegex(r.header("Server", ""), r"^plughttpd")
            self.assertEqual(len(r.header_all("Date")), 1)
            self.assertEqual(len(r.header_all("Server")), 1)

    def test_server_header_setting(self):
        """server_header = TEXT sends TEXT; off sends no Server field at all,
        on answers from plugins and from the core alike."""
        for setting, want in (("edge/2 (front)", [b"edge/2 (front)"]), ("off", [])):
            with Server(server_ini(routes=ROUTES, server_extra="server_header = %s" % setting)) as srv:
                for path in ("/echo/x", "/nowhere"):
                    data = srv.raw(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
                    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
                    got = [l.split(b": ", 1)[1] for l in head if l.lower().startswith(b"server:")]
                    self.assertEqual(got, want, (setting, path))
                    self.assertTrue([l for l in head if l.startswith(b"Date: ")], head)

    # --- targets and routing ------------------------------------------------------
    def json_get(self, target, expect=200):
        with self.conn() as s:
            s.sendall(req("GET", target, {"Accept": "application/json", "Connection": "close"}))
            rs = parse_responses(recv_until_closed(s)[0])
        self.assertEqual(len(rs), 1)
        self.assertEqual(rs[0].status, expect, (target, rs[0].body[:200]))
        return echo_json(rs[0]) if expect == 200 else rs[0]

    def test_absolute_form_target(self):
        j = self.json_get("http://localhost/echo/x?q=1")
        self.assertEqual(j["path"], "/echo/x")
        self.assertEqual(j["subpath"], "/x")
        self.assertEqual(j["query"], "q=1")
        self.assertEqual(j["target"], "http://localhost/echo/x?q=1")

    def test_routing_whole_segments(self):
        # plugin.h: the subpath always starts with '/'
        j = self.json_get("/echo")
        self.assertEqual((j["path"], j["subpath"]), ("/echo", "/"))
        self.assertEqual(self.json_get("/echo/")["subpath"], "/")
        self.assertEqual(self.json_get("/echo/a/b")["subpath"], "/a/b")
        self.assertEqual(self.json_get("/echo?x")["query"], "x")
        self.json_get("/echox", expect=404)
        self.json_get("/echox/a", expect=404)
        self.json_get("/ech", expect=404)
        self.json_get("/", expect=404)

    def test_percent_decoding_before_routing(self):
        j = self.json_get("/%65cho/x%20y")
        self.assertEqual(j["path"], "/echo/x y")
        self.assertEqual(j["subpath"], "/x y")
        self.assertEqual(j["target"], "/%65cho/x%20y")

    def test_dot_segments(self):
        j = self.json_get("/a/../echo/x")
        self.assertEqual((j["path"], j["subpath"]), ("/echo/x", "/x"))
        j = self.json_get("/echo/./a/b/../c")
        self.assertEqual(j["subpath"], "/a/c")
        j = self.json_get("/x/%2e%2e/echo/y")
        self.assertEqual(j["subpath"], "/y")
        self.json_get("/../echo", expect=400)
        self.json_get("/echo/../../x", expect=400)
        self.json_get("/%2e%2e/echo", expect=400)

    def test_options_asterisk(self):
        with self.conn() as s:
            s.sendall(b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n")
            rs = read_responses(s, 1)
        self.assertEqual(rs[0].status, 200)
        self.assertIn("GET", rs[0].header("Allow", ""))

    def test_curl_get(self):
        p = curl("-i", self.srv.url("/echo/curl?a=b"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith(b"HTTP/1.1 200 OK\r\n"), p.stdout[:100])
        self.assertIn(b"Target: /echo/curl?a=b\n", p.stdout)
        self.assertIn(b"Method: GET\n", p.stdout)

    # --- the misbehaving plugin --------------------------------------------------------
    def raw_one(self, target, version="HTTP/1.1"):
        """(raw bytes, parsed response) of one request with Connection: close."""
        headers = {"Connection": "close"} if version == "HTTP/1.1" else {}
        raw = self.srv.raw(req("GET", target, headers, version=version))
        rs = parse_responses(raw)
        self.assertEqual(len(rs), 1, raw[:300])
        return raw, rs[0]

    def test_crlf_header_injection_is_500(self):
        raw, r = self.raw_one("/mb/crlf")
        self.assertEqual(r.status, 500)
        self.assertNotIn(b"X-Injected", raw)
        self.assertNotIn(b"X-Evil", raw)
        self.assertNotIn(b"crlf\n", r.body)

    def test_bad_status_is_500(self):
        raw, r = self.raw_one("/mb/badstatus")
        self.assertEqual(r.status, 500)
        self.assertNotIn(b"badstatus", r.body)

    def test_declined_is_404(self):
        self.assertEqual(self.raw_one("/mb/declined")[1].status, 404)
        self.assertEqual(self.raw_one("/mb/nosuchcase")[1].status, 404)

    def test_error_is_500(self):
        self.assertEqual(self.raw_one("/mb/error")[1].status, 500)

    def test_core_header_from_plugin_is_500(self):
        raw, r = self.raw_one("/mb/coreheader")
        self.assertEqual(r.status, 500)
        self.assertEqual(len(re.findall(rb"(?i)\r\ncontent-length:", raw)), 1)

    def test_stream_chunked(self):
        raw, r = self.raw_one("/mb/stream")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertIsNone(r.header("Content-Length"))
        self.assertEqual(r.body, b"".join(b"piece %d\n" % i for i in range(5)))
        self.assertTrue(raw.endswith(b"\r\n0\r\n\r\n"), raw[-20:])

    def test_stream_http10_close_delimited(self):
        with self.conn() as s:
            s.sendall(b"GET /mb/stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            raw, closed = recv_until_closed(s)
        self.assertTrue(closed, "a close-delimited body must end with the close")
        r = parse_responses(raw)[0]
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Content-Length"))
        self.assertIsNone(r.header("Transfer-Encoding"))
        self.assertEqual(r.body, b"".join(b"piece %d\n" % i for i in range(5)))

    def test_stream_keeps_connection(self):
        with self.conn() as s:
            s.sendall(req("GET", "/mb/stream") + req("GET", "/mb/stream"))
            rs = read_responses(s, 2)
        self.assertEqual(len(rs), 2)
        for r in rs:
            self.assertEqual(r.body, b"".join(b"piece %d\n" % i for i in range(5)))

    def test_file_body_exact(self):
        raw, r = self.raw_one("/mb/file")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), "99990")
        self.assertEqual(r.body, pattern(99990, 10))
        self.assertEqual(len(raw), raw.index(b"\r\n\r\n") + 4 + 99990)

    def test_big_body_exact(self):
        raw, r = self.raw_one("/mb/big")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), str(1 << 20))
        self.assertEqual(r.body, pattern(1 << 20))
        self.assertEqual(len(raw), raw.index(b"\r\n\r\n") + 4 + (1 << 20))

    def test_big_and_file_keep_alive(self):
        with self.conn() as s:
            s.sendall(req("GET", "/mb/big") + req("GET", "/mb/file") + req("GET", "/mb/big"))
            rs = read_responses(s, 3, timeout=20)
        self.assertEqual([len(r.body) for r in rs], [1 << 20, 99990, 1 << 20])
        self.assertEqual(rs[1].body, pattern(99990, 10))
        self.assertEqual(rs[2].body, pattern(1 << 20))

    def test_curl_big_and_file(self):
        for path, want in (("/mb/big", pattern(1 << 20)), ("/mb/file", pattern(99990, 10))):
            p = curl(self.srv.url(path))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, want, path)


class ListenersTest(unittest.TestCase):
    def test_ipv4_ipv6_unix(self):
        v6 = harness.have_ipv6_loopback()
        listen = ["127.0.0.1:0", "unix:ph.sock"] + (["[::1]:0"] if v6 else [])
        with Server(server_ini(routes=ROUTES, listen=listen)) as srv:
            sock_path = os.path.join(os.path.realpath(srv.dir), "ph.sock")
            self.assertTrue(any(a.endswith("ph.sock") for a in srv.addresses), srv.addresses)
            targets = [(socket.AF_UNIX, sock_path)]
            for a in srv.addresses:
                m = re.match(r"^127\.0\.0\.1:(\d+)$", a)
                if m:
                    targets.append((socket.AF_INET, ("127.0.0.1", int(m.group(1)))))
                m = re.match(r"^\[::1\]:(\d+)$", a)
                if m:
                    targets.append((socket.AF_INET6, ("::1", int(m.group(1)))))
            self.assertEqual(len(targets), 3 if v6 else 2, srv.addresses)
            for family, addr in targets:
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.settimeout(harness.IO_TIMEOUT)
                    s.connect(addr)
                    s.sendall(req("GET", "/echo/l", {"Accept": "application/json"}) +
                              req("GET", "/echo/l2", {"Connection": "close"}))
                    raw, closed = recv_until_closed(s)
                self.assertTrue(closed, family)
                rs = parse_responses(raw)
                self.assertEqual([r.status for r in rs], [200, 200], family)
                peer = echo_json(rs[0])["peer"]
                if family == socket.AF_UNIX:
                    self.assertEqual(peer, "unix")
                elif family == socket.AF_INET6:
                    self.assertTrue(peer.startswith("[::1]:"), peer)
                else:
                    self.assertTrue(peer.startswith("127.0.0.1:"), peer)
            if not v6:
                self.skipTest("::1 is not configured here: IPv6 listener not tested")


class ThreadsTest(unittest.TestCase):
    CLIENTS = 20
    PER_CLIENT = 10

    def run_clients(self, threads):
        with Server(server_ini(routes=ROUTES, threads=threads, access_log="off")) as srv:
            self.assertTrue(srv.wait_log(r"ready.*%d thread" % threads), srv.log())

            def client(n):
                errors, ok = [], 0
                # even clients: one keep-alive connection; odd: one per request
                s = srv.connect() if n % 2 == 0 else None
                try:
                    for i in range(self.PER_CLIENT):
                        target = "/echo/c%d/r%d" % (n, i)
                        body = ("body %d %d" % (n, i)).encode()
                        data = req("POST", target, {"Accept": "application/json"}, body=body)
                        if s is None:
                            with srv.connect() as one:
                                one.sendall(data)
                                rs = read_responses(one, 1)
                        else:
                            s.sendall(data)
                            rs = read_responses(s, 1)
                        if len(rs) != 1 or rs[0].status != 200:
                            errors.append((target, rs))
                            continue
                        j = echo_json(rs[0])
                        if (j["target"], j["body"]) != (target, body.decode()):
                            errors.append((target, j["target"], j["body"]))
                        else:
                            ok += 1
                finally:
                    if s is not None:
                        s.close()
                return ok, errors

            with concurrent.futures.ThreadPoolExecutor(self.CLIENTS) as ex:
                results = list(ex.map(client, range(self.CLIENTS)))
            errors = [e for _, errs in results for e in errs]
            self.assertEqual(errors, [])
            self.assertEqual(sum(ok for ok, _ in results), self.CLIENTS * self.PER_CLIENT)
            self.assertIsNone(srv.proc.poll())
            self.assertEqual(srv.get("/echo/after").status, 200)

    def test_one_thread(self):
        self.run_clients(1)

    def test_four_threads(self):
        self.run_clients(4)


class ShutdownTest(unittest.TestCase):
    def start_sleep(self, srv, ms, path="/slow/sleep"):
        s = srv.connect(timeout=20)
        s.sendall(req("GET", "%s?ms=%d" % (path, ms), {"Connection": "close"}))
        return s

    def test_sigterm_finishes_in_flight_request(self):
        srv = Server(server_ini(routes=ROUTES, threads=2,
                                server_extra="shutdown_timeout = 10s"))
        port = srv.port
        try:
            s = self.start_sleep(srv, 1500)
            time.sleep(0.4)  # the request is in the plugin now
            # an idle keep-alive connection is closed by the shutdown
            idle = srv.connect()
            idle.sendall(req("GET", "/echo/idle"))
            self.assertEqual(read_responses(idle, 1)[0].status, 200)
            t0 = time.time()
            srv.signal(signal.SIGTERM)
            _, idle_closed = recv_until_closed(idle, timeout=5)
            idle.close()
            self.assertTrue(idle_closed, "idle keep-alive connection not closed on SIGTERM")
            # a new connection during the drain is never served
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as late:
                    late.sendall(req("GET", "/echo/late", {"Connection": "close"}))
                    late_data, _ = recv_until_closed(late, timeout=8)
                self.assertEqual(late_data, b"", "a connection made after SIGTERM was served")
            except ConnectionRefusedError:
                pass
            raw, closed = recv_until_closed(s, timeout=10)
            s.close()
            self.assertTrue(closed)
            rs = parse_responses(raw)
            self.assertEqual(len(rs), 1)
            self.assertEqual(rs[0].status, 200)
            self.assertEqual(rs[0].body, b"slept 1500\n")
            rc = srv.proc.wait(timeout=10)
            self.assertEqual(rc, 0, srv.log())
            self.assertLess(time.time() - t0, 10)
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
        finally:
            srv.stop()

    def test_sigterm_inline_handler_single_thread(self):
        # threads = 1 and a non-blocking handler: the only loop is busy in the
        # plugin when the signal comes; the answer still goes out whole.
        srv = Server(server_ini(routes=ROUTES, threads=1,
                                server_extra="shutdown_timeout = 10s"))
        try:
            s = self.start_sleep(srv, 1500, path="/mb/sleep")
            time.sleep(0.4)
            t0 = time.time()
            srv.signal(signal.SIGTERM)
            raw, closed = recv_until_closed(s, timeout=10)
            s.close()
            rs = parse_responses(raw)
            self.assertEqual([r.status for r in rs], [200])
            self.assertEqual(rs[0].body, b"slept 1500\n")
            self.assertEqual(srv.proc.wait(timeout=10), 0, srv.log())
            self.assertLess(time.time() - t0, 10)
        finally:
            srv.stop()

    def test_shutdown_timeout_cuts_long_request(self):
        for path in ("/slow/sleep", "/mb/sleep"):
            with self.subTest(path=path):
                srv = Server(server_ini(routes=ROUTES, threads=1,
                                        server_extra="shutdown_timeout = 1s"))
                try:
                    s = self.start_sleep(srv, 5000, path=path)
                    time.sleep(0.4)
                    t0 = time.time()
                    srv.signal(signal.SIGTERM)
                    try:
                        srv.proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        pass
                    elapsed = time.time() - t0
                    s.close()
                    self.assertIsNotNone(srv.proc.poll(), "still running 10 s after SIGTERM")
                    self.assertLess(elapsed, 3.5,
                                    "exit took %.1f s with shutdown_timeout = 1s\n%s"
                                    % (elapsed, srv.log()))
                finally:
                    srv.stop()

    def test_sigint_idle_server_exits_zero(self):
        srv = Server(server_ini(routes=ROUTES))
        try:
            self.assertEqual(srv.get("/echo/x").status, 200)
            t0 = time.time()
            srv.signal(signal.SIGINT)
            self.assertEqual(srv.proc.wait(timeout=10), 0)
            self.assertLess(time.time() - t0, 3)
        finally:
            srv.stop()


CLF = re.compile(
    r'^(?P<host>\S+) - - \[(?P<date>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)"$')


class AccessLogTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(server_ini(routes=ROUTES, access_log="access.log"))
        self.path = os.path.join(self.srv.dir, "access.log")

    def tearDown(self):
        self.srv.stop()

    def wait_lines(self, n, timeout=10):
        deadline = time.time() + timeout
        lines = []
        while time.time() < deadline:
            if os.path.exists(self.path):
                with open(self.path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()
                if len(lines) >= n:
                    return lines
            time.sleep(0.05)
        return lines

    def test_combined_log_format(self):
        r = self.srv.get("/echo/x?y=1", headers={"Referer": "http://ref.example/a?b=c",
                                                "User-Agent": "probe/1.0 (test)"})
        self.assertEqual(r.status, 200)
        lines = self.wait_lines(1)
        self.assertEqual(len(lines), 1, lines)
        m = CLF.match(lines[0])
        self.assertIsNotNone(m, lines[0])
        self.assertEqual(m.group("host"), "127.0.0.1")
        self.assertEqual(m.group("request"), "GET /echo/x?y=1 HTTP/1.1")
        self.assertEqual(m.group("status"), "200")
        # CLF's %b: the bytes of the response body, headers excluded
        self.assertEqual(int(m.group("bytes")), len(r.body), lines[0])
        self.assertEqual(m.group("referer"), "http://ref.example/a?b=c")
        self.assertEqual(m.group("agent"), "probe/1.0 (test)")
        # the logged local time, read back through its UTC offset
        off = m.group("date")[21:]
        offset = (int(off[1:3]) * 3600 + int(off[3:5]) * 60) * (1 if off[0] == "+" else -1)
        ts = calendar.timegm(time.strptime(m.group("date")[:20], "%d/%b/%Y:%H:%M:%S")) - offset
        self.assertLess(abs(ts - time.time()), 120, lines[0])

    def test_missing_referer_and_agent_are_dashes(self):
        self.srv.raw(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        lines = self.wait_lines(1)
        m = CLF.match(lines[0])
        self.assertIsNotNone(m, lines[0])
        self.assertEqual(m.group("status"), "404")
        self.assertEqual((m.group("referer"), m.group("agent")), ("-", "-"))

    def test_quote_in_user_agent_is_escaped(self):
        r = self.srv.get("/echo/q", headers={"User-Agent": 'evil" 200 1 "forged',
                                            "Referer": 'a"b'})
        self.assertEqual(r.status, 200)
        lines = self.wait_lines(1)
        self.assertEqual(len(lines), 1, lines)
        line = lines[0]
        self.assertEqual(line.count('"'), 6, line)
        m = CLF.match(line)
        self.assertIsNotNone(m, line)
        self.assertTrue(m.group("agent").startswith("evil"), line)
        self.assertTrue(m.group("agent").endswith("forged"), line)
        self.assertTrue(m.group("referer").startswith("a") and m.group("referer").endswith("b"))
        self.assertEqual(m.group("request"), "GET /echo/q HTTP/1.1")

    def test_one_line_per_pipelined_request(self):
        with self.srv.connect() as s:
            s.sendall(b"".join(req("GET", "/echo/n%d" % i) for i in range(3)) +
                      req("GET", "/nowhere", {"Connection": "close"}))
            recv_until_closed(s)
        lines = self.wait_lines(4)
        self.assertEqual(len(lines), 4, lines)
        reqs = [CLF.match(l).group("request") for l in lines]
        self.assertEqual(reqs, ["GET /echo/n%d HTTP/1.1" % i for i in range(3)] +
                         ["GET /nowhere HTTP/1.1"])
        self.assertEqual([CLF.match(l).group("status") for l in lines], ["200"] * 3 + ["404"])


class AccessLogBatchTest(unittest.TestCase):
    """Each event loop gathers the lines of a batch and writes them together
    (at most PIPE_BUF bytes a write): under concurrent pipelined load on two
    threads every request still gets exactly one whole line."""

    def test_whole_lines_under_concurrent_load(self):
        clients, per_client = 8, 60
        agent = "batch-test/" + "x" * 300  # a few lines fill a 4 KiB write
        with Server(server_ini(routes=ROUTES, threads=2, access_log="access.log")) as srv:
            path = os.path.join(srv.dir, "access.log")

            def client(k):
                with srv.connect() as s:
                    s.sendall(b"".join(req("GET", "/echo/c%d-%d" % (k, i), {"User-Agent": agent})
                                       for i in range(per_client)))
                    return [r.status for r in read_responses(s, per_client)]

            with concurrent.futures.ThreadPoolExecutor(clients) as ex:
                statuses = [st for sts in ex.map(client, range(clients)) for st in sts]
            self.assertEqual(statuses, [200] * clients * per_client)

            def read_lines():
                with open(path, "rb") as f:
                    return f.read().decode("utf-8", "replace").splitlines()
            lines = harness.settle(read_lines, lambda ls: len(ls) >= clients * per_client)
        self.assertEqual(len(lines), clients * per_client)
        targets = []
        for line in lines:
            m = CLF.match(line)
            self.assertIsNotNone(m, line[:200])
            self.assertEqual(m.group("agent"), agent)
            targets.append(m.group("request"))
        self.assertEqual(sorted(targets), sorted("GET /echo/c%d-%d HTTP/1.1" % (k, i)
                                                 for k in range(clients) for i in range(per_client)))


class HandlerTimeoutTest(unittest.TestCase):
    """handler_timeout: a blocking handler that overruns it gets its client a
    504 and a closed connection; the helper thread finishes in its own time
    and its late response is discarded. Everyone else is served meanwhile."""

    def start(self, extra):
        return Server(server_ini(routes=ROUTES, threads=1, access_log="access.log",
                                 server_extra=extra))

    def ask(self, srv, path):
        s = srv.connect(timeout=10)
        s.sendall(req("GET", path, {"Connection": "close"}))
        return s

    def test_overrun_answers_504_and_the_late_response_is_discarded(self):
        with self.start("handler_timeout = 500ms") as srv:
            t0 = time.time()
            s = self.ask(srv, "/slow/sleep?ms=2000")
            # the loop is free: other requests are answered meanwhile
            self.assertEqual(srv.get("/echo/meanwhile").status, 200)
            raw, closed = recv_until_closed(s, timeout=10)
            elapsed = time.time() - t0
            s.close()
            rs = parse_responses(raw)
            self.assertEqual([r.status for r in rs], [504], raw[:300])
            self.assertTrue(closed)
            self.assertGreaterEqual(elapsed, 0.45)
            self.assertLess(elapsed, 1.9, "504 came only after the handler finished")
            log = settle(srv.log, lambda t: "its response was discarded" in t, timeout=10)
            self.assertIn('handler for "/slow/sleep" still running after handler_timeout', log)
            self.assertRegex(log, r'handler for "/slow/sleep" finished \d+ ms after it started')
            with open(os.path.join(srv.dir, "access.log")) as f:
                lines = f.read().splitlines()
            m = [CLF.match(l) for l in lines]
            self.assertIn(("GET /slow/sleep?ms=2000 HTTP/1.1", "504"),
                          [(x.group("request"), x.group("status")) for x in m if x], lines)
            # the route keeps working for handlers within the limit
            r = srv.get("/slow/sleep?ms=10")
            self.assertEqual((r.status, r.body), (200, b"slept 10\n"))

    def test_timeout_while_queued_for_a_helper_thread(self):
        # one helper thread: the second request waits in the queue and
        # overruns there; its client has had its 504, so its handler is
        # never run (the first one's, already running, finishes late)
        with self.start("handler_timeout = 500ms\nblocking_threads = 1") as srv:
            a = self.ask(srv, "/slow/sleep?ms=1500")
            time.sleep(0.1)
            b = self.ask(srv, "/slow/sleep?ms=100")
            for s in (a, b):
                raw, _ = recv_until_closed(s, timeout=10)
                s.close()
                self.assertEqual([r.status for r in parse_responses(raw)], [504], raw[:200])
            log = settle(srv.log, lambda t: "timed out while queued" in t and "discarded" in t, timeout=10)
            self.assertEqual(log.count("its response was discarded"), 1, log)
            self.assertEqual(log.count('handler for "/slow/sleep" not run: its request timed out while queued'),
                             1, log)
            self.assertEqual(srv.get("/slow/sleep?ms=10").status, 200)

    def test_zero_means_no_limit(self):
        with self.start("handler_timeout = 0") as srv:
            s = self.ask(srv, "/slow/sleep?ms=800")
            raw, _ = recv_until_closed(s, timeout=10)
            s.close()
            rs = parse_responses(raw)
            self.assertEqual([(r.status, r.body) for r in rs], [(200, b"slept 800\n")])


class DeferAcceptTest(unittest.TestCase):
    """defer_accept = yes: the kernel hands a connection over only once its
    request arrived; to clients nothing changes."""

    def test_requests_served_with_defer_accept(self):
        with Server(server_ini(routes=ROUTES, server_extra="defer_accept = yes")) as srv:
            # one request per connection, and keep-alive with pipelining
            for i in range(20):
                self.assertEqual(srv.get("/echo/d%d" % i).status, 200)
            s = srv.connect()
            s.sendall(req("GET", "/echo/a") + req("GET", "/echo/b"))
            rs = read_responses(s, 2)
            s.close()
            self.assertEqual([r.status for r in rs], [200, 200])
            self.assertIn(b"/echo/b", rs[1].body)
            # a connection that says nothing is not the server's yet: it is
            # neither answered nor closed within a second
            quiet = srv.connect()
            quiet.settimeout(1.0)
            with self.assertRaises(socket.timeout):
                quiet.recv(1)
            quiet.sendall(req("GET", "/echo/late", {"Connection": "close"}))
            data, closed = recv_until_closed(quiet, timeout=5)
            quiet.close()
            self.assertTrue(closed)
            self.assertEqual(parse_responses(data)[0].status, 200)

    def server_side_state(self, srv_port, client_port):
        """/proc/net/tcp state of the server's end of a loopback connection:
        "01" established (accepted or acceptable), "03" SYN_RECV (held back
        by TCP_DEFER_ACCEPT), None while it is not listed."""
        want = ("0100007F:%04X" % srv_port, "0100007F:%04X" % client_port)
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                p = line.split()
                if (p[1], p[2]) == want:
                    return p[3]
        return None

    def test_on_by_default(self):
        # no defer_accept key: a connection that has sent nothing stays a
        # half-open request in the kernel, not a socket the server took
        with Server(server_ini(routes=ROUTES)) as srv:
            quiet = srv.connect()
            port = quiet.getsockname()[1]
            state = settle(lambda: self.server_side_state(srv.port, port), lambda st: st is not None,
                           timeout=5)
            self.assertEqual(state, "03", "the server's end is not SYN_RECV: accept is not deferred")
            quiet.sendall(req("GET", "/echo/now", {"Connection": "close"}))
            data, closed = recv_until_closed(quiet, timeout=5)
            quiet.close()
            self.assertTrue(closed)
            self.assertEqual(parse_responses(data)[0].status, 200)

    def test_silent_connection_reaches_server_after_a_second(self):
        # The deferral is one SYN-ACK retransmission (about 1 s), then the
        # header timeout (3 s here) runs from accept as without it: closed
        # after about 4 s, neither at 3 s (no deferral) nor after 18 s (a
        # 10 s deferral, which the kernel rounds up to 15 s). The default
        # and an explicit "yes" side by side, at the same time.
        with Server(server_ini(routes=ROUTES, server_extra="header_timeout = 3s")) as default, \
                Server(server_ini(routes=ROUTES, server_extra="header_timeout = 3s\ndefer_accept = yes")) as yes:
            quiet = [default.connect(), yes.connect()]
            t0 = time.monotonic()
            for name, s in zip(("default", "defer_accept = yes"), quiet):
                data, closed = recv_until_closed(s, timeout=30)
                elapsed = time.monotonic() - t0
                s.close()
                self.assertTrue(closed, name)
                self.assertEqual(data, b"", name)
                self.assertGreaterEqual(elapsed, 3.9, "%s: closed after %.1f s: accept was not deferred"
                                        % (name, elapsed))
                self.assertLess(elapsed, 10.0, "%s: closed after %.1f s: deferred for more than a second"
                                % (name, elapsed))
            self.assertEqual(default.get("/echo/after").status, 200)
            self.assertEqual(yes.get("/echo/after").status, 200)

    def test_defer_accept_must_be_boolean(self):
        srv = Server(server_ini(routes=ROUTES, server_extra="defer_accept = maybe"), expect_ready=False)
        self.assertNotEqual(srv.proc.wait(10), 0)
        srv.stop()
        self.assertRegex(srv.log(), r"server\.ini:\d+: defer_accept must be yes or no")


if __name__ == "__main__":
    harness.main()
