#!/usr/bin/env python3
"""The echo plugin end to end, and the core's handling of a misbehaving plugin
(tests/plugins/misbehave.c) through the real binary."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Server, parse_responses, server_ini

ECHO_ROUTES = """
[route /echo]
plugin = echo

[route /made]
plugin = echo
header = X-Test: yes
status = 201

[route /creds]
plugin = echo
show_credentials = Yes
"""

CREDENTIALS = {"Cookie": "session=s3cr3t-cookie", "Authorization": "Basic dXNlcjpwYXNz",
               "Proxy-Authorization": "Bearer pr0xy-t0ken"}


def pattern(n):
    """The fixture's byte pattern: byte i is i % 251."""
    return bytes(i % 251 for i in range(n))


def read_responses(sock, count, head=False, timeout=harness.IO_TIMEOUT):
    """Read from a keep-alive socket until `count` whole responses arrived."""
    data = b""
    deadline = time.time() + timeout
    sock.settimeout(timeout)
    while time.time() < deadline:
        try:
            resps = parse_responses(data, head=head)
            if len(resps) >= count:
                return resps
        except (AssertionError, ValueError):
            pass  # incomplete so far
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return parse_responses(data, head=head)


class EchoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(server_ini(routes=ECHO_ROUTES, threads=2))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def json_get(self, path, headers=None, **kw):
        h = {"Accept": "application/json"}
        h.update(headers or {})
        r = self.srv.get(path, headers=h, **kw)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Content-Type"), "application/json")
        return json.loads(r.body.decode("utf-8"))

    # --- text ----------------------------------------------------------
    def test_text_get(self):
        r = self.srv.get("/echo/x?y=1", headers={"X-Hello": "world"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        text = r.body.decode("utf-8")
        self.assertTrue(text.startswith("Method: GET\n"), text)
        self.assertIn("Target: /echo/x?y=1\n", text)
        self.assertIn("Subpath: /x\n", text)
        self.assertIn("Query: y=1\n", text)
        self.assertIn("Host: localhost\n", text)
        self.assertIn("X-Hello: world\n", text)
        self.assertTrue(text.endswith("\n\n"), text)  # empty body after the blank line

    def test_text_body_after_blank_line(self):
        r = self.srv.get("/echo", method="POST", body=b"the body")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body.endswith(b"\n\nthe body"), r.body)
        self.assertIn(b"Method: POST\n", r.body)

    def test_star_accept_gives_text(self):
        r = self.srv.get("/echo", headers={"Accept": "*/*"})
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")

    def test_accept_list(self):
        for accept, ctype in [
            ("text/html, application/json;q=0.9", "application/json"),
            ("application/*", "application/json"),
            ("application/json;q=0", "text/plain; charset=utf-8"),
            ("text/html,*/*;q=0.8", "text/plain; charset=utf-8"),
            ("application/jsonx", "text/plain; charset=utf-8"),
        ]:
            with self.subTest(accept=accept):
                r = self.srv.get("/echo", headers={"Accept": accept})
                self.assertEqual(r.header("Content-Type"), ctype)

    # --- JSON ----------------------------------------------------------
    def test_json_fields(self):
        j = self.json_get("/echo/a/b?x=1&y=%20", headers={"X-Custom": "abc", "x-MiXeD-case": "v"})
        self.assertEqual(j["method"], "GET")
        self.assertEqual(j["target"], "/echo/a/b?x=1&y=%20")
        self.assertEqual(j["path"], "/echo/a/b")
        self.assertEqual(j["subpath"], "/a/b")
        self.assertEqual(j["query"], "x=1&y=%20")
        self.assertEqual(j["version"], "HTTP/1.1")
        self.assertEqual(j["body"], "")
        self.assertTrue(j["peer"].startswith("127.0.0.1:"), j["peer"])
        names = [h[0] for h in j["headers"]]
        # Order as sent by harness.get (Host, Connection, then ours), names as received.
        self.assertEqual(names, ["Host", "Connection", "Accept", "X-Custom", "x-MiXeD-case"])
        self.assertIn(["X-Custom", "abc"], j["headers"])

    def test_credentials_redacted_json(self):
        h = dict(CREDENTIALS, **{"X-Other": "kept"})
        h["cOOKIE"] = h.pop("Cookie")  # names match in any case
        j = self.json_get("/echo", headers=h)
        self.assertIn(["cOOKIE", "[redacted]"], j["headers"])
        self.assertIn(["Authorization", "[redacted]"], j["headers"])
        self.assertIn(["Proxy-Authorization", "[redacted]"], j["headers"])
        self.assertIn(["X-Other", "kept"], j["headers"])
        raw = json.dumps(j)
        for secret in ("s3cr3t", "dXNlcjpwYXNz", "pr0xy"):
            self.assertNotIn(secret, raw)

    def test_credentials_redacted_text(self):
        r = self.srv.get("/echo", headers=CREDENTIALS)
        self.assertEqual(r.status, 200)
        self.assertIn(b"Cookie: [redacted]\n", r.body)
        self.assertIn(b"Authorization: [redacted]\n", r.body)
        self.assertIn(b"Proxy-Authorization: [redacted]\n", r.body)
        for secret in (b"s3cr3t", b"dXNlcjpwYXNz", b"pr0xy"):
            self.assertNotIn(secret, r.body)

    def test_credentials_shown_when_asked(self):
        # show_credentials = Yes: the core's boolean spelling, any case
        j = self.json_get("/creds", headers=CREDENTIALS)
        for name, value in CREDENTIALS.items():
            self.assertIn([name, value], j["headers"])
        r = self.srv.get("/creds", headers=CREDENTIALS)
        self.assertIn(b"Cookie: session=s3cr3t-cookie\n", r.body)

    def test_json_prefix_only(self):
        j = self.json_get("/echo")
        self.assertEqual(j["path"], "/echo")
        self.assertEqual(j["subpath"], "/")
        self.assertIsNone(j["query"])

    def test_json_decoded_path(self):
        j = self.json_get("/echo/a%20b/../c")
        self.assertEqual(j["target"], "/echo/a%20b/../c")
        self.assertEqual(j["path"], "/echo/c")
        self.assertEqual(j["subpath"], "/c")
        j = self.json_get("/echo/a%20b")
        self.assertEqual(j["path"], "/echo/a b")

    def test_json_post_content_length(self):
        j = self.json_get("/echo", method="POST", body="héllo wörld".encode("utf-8"))
        self.assertEqual(j["method"], "POST")
        self.assertEqual(j["body"], "héllo wörld")
        self.assertNotIn("body_base64", j)

    def test_json_post_chunked(self):
        req = (b"POST /echo/c HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
        r = parse_responses(self.srv.raw(req))[0]
        self.assertEqual(r.status, 200)
        j = json.loads(r.body)
        self.assertEqual(j["body"], "hello world")
        self.assertEqual(j["subpath"], "/c")

    def test_json_binary_body_is_base64(self):
        data = b"\xff\xfe\x00\x01binary\x80"
        j = self.json_get("/echo", method="PUT", body=data)
        self.assertNotIn("body", j)
        self.assertEqual(base64.b64decode(j["body_base64"]), data)
        self.assertEqual(j["body_base64"], base64.b64encode(data).decode("ascii"))

    def test_json_base64_padding(self):
        for n in range(1, 7):
            data = b"\xff" * n
            with self.subTest(n=n):
                j = self.json_get("/echo", method="POST", body=data)
                self.assertEqual(j["body_base64"], base64.b64encode(data).decode("ascii"))

    def test_json_latin1_header_value(self):
        req = (b"GET /echo HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
               b"X-Latin: caf\xe9\r\nConnection: close\r\n\r\n")
        r = parse_responses(self.srv.raw(req))[0]
        self.assertEqual(r.status, 200)
        j = json.loads(r.body)
        self.assertIn(["X-Latin", "caf\u00e9"], j["headers"])

    def test_http10(self):
        r = parse_responses(self.srv.raw(b"GET /echo HTTP/1.0\r\nAccept: application/json\r\n\r\n"))[0]
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["version"], "HTTP/1.0")

    # --- HEAD, route keys ----------------------------------------------
    def test_head_has_get_length_and_no_body(self):
        # Same connection, same headers: the GET's body differs from what
        # HEAD produced only in the method name.
        hdrs = b"Host: localhost\r\nX-Same: 1\r\n\r\n"
        with self.srv.connect() as s:
            s.sendall(b"HEAD /echo HTTP/1.1\r\n" + hdrs + b"GET /echo HTTP/1.1\r\n" + hdrs)
            head, get = read_responses(s, 2, head=[True, False])
        self.assertEqual(head.status, 200)
        self.assertEqual(get.status, 200)
        expected = len(get.body.replace(b"Method: GET\n", b"Method: HEAD\n", 1))
        self.assertEqual(int(head.header("Content-Length")), expected)
        self.assertEqual(head.body, b"")
        self.assertTrue(get.body.startswith(b"Method: GET\n"))

    def test_route_status_and_header(self):
        r = self.srv.get("/made/x")
        self.assertEqual(r.status, 201)
        self.assertEqual(r.header_all("X-Test"), ["yes"])
        self.assertIn(b"Subpath: /x\n", r.body)
        r = self.srv.get("/echo")
        self.assertIsNone(r.header("X-Test"))

    def test_concurrent_requests(self):
        socks = [self.srv.connect() for _ in range(8)]
        try:
            for i, s in enumerate(socks):
                s.sendall(b"GET /echo/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % i)
            for i, s in enumerate(socks):
                r = parse_responses(harness.recv_all(s))[0]
                self.assertEqual(r.status, 200)
                self.assertIn(b"Subpath: /%d\n" % i, r.body)
        finally:
            for s in socks:
                s.close()

    # --- curl ----------------------------------------------------------
    def curl(self, *args):
        out = subprocess.run(["curl", "-s", "-i", "--max-time", "10"] + list(args),
                             stdout=subprocess.PIPE, timeout=20, check=True).stdout
        return parse_responses(out)[-1]

    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_curl_text(self):
        r = self.curl("-H", "X-Curl: 1", self.srv.url("/echo/curl?q=2"))
        self.assertEqual(r.status, 200)
        self.assertIn(b"Method: GET\n", r.body)
        self.assertIn(b"Target: /echo/curl?q=2\n", r.body)
        self.assertIn(b"X-Curl: 1\n", r.body)
        self.assertIn(b"User-Agent: curl/", r.body)

    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_curl_json_post(self):
        r = self.curl("-H", "Accept: application/json", "--data-binary", "a=1&b=2",
                      self.srv.url("/echo/form"))
        self.assertEqual(r.status, 200)
        j = json.loads(r.body)
        self.assertEqual(j["method"], "POST")
        self.assertEqual(j["body"], "a=1&b=2")
        self.assertIn(["Content-Type", "application/x-www-form-urlencoded"], j["headers"])


class EchoConfigTest(unittest.TestCase):
    """Bad route keys stop the server at start-up with the plugin's message."""

    def refused(self, routes):
        srv = Server(server_ini(routes=routes), expect_ready=False)
        try:
            srv.proc.wait(harness.START_TIMEOUT)
        except subprocess.TimeoutExpired:
            srv.stop()
            self.fail("server started despite a bad key:\n" + srv.log())
        srv.stop()
        self.assertNotEqual(srv.proc.returncode, 0)
        return srv.log()

    def test_unknown_key(self):
        log = self.refused("[route /echo]\nplugin = echo\nfoo = 1\n")
        self.assertIn('unknown key "foo"', log)

    def test_bad_status(self):
        log = self.refused("[route /echo]\nplugin = echo\nstatus = 99\n")
        self.assertIn("status must be a number from 200 to 599", log)

    def test_bad_header(self):
        log = self.refused("[route /echo]\nplugin = echo\nheader = No Colon\n")
        self.assertIn("header must be", log)

    def test_bad_show_credentials(self):
        log = self.refused("[route /echo]\nplugin = echo\nshow_credentials = maybe\n")
        self.assertIn('show_credentials must be yes or no, not "maybe"', log)

    def test_boolean_spellings_as_core(self):
        # the spellings server.ini's own booleans accept
        for v in ("yes", "Yes", "ON", "true", "1", "no", "Off", "FALSE", "0"):
            p = self.check_plugin("show_credentials=" + v)
            self.assertEqual(p.returncode, 0, (v, p.stdout))

    def check_plugin(self, *keys):
        so = os.path.join(harness.PLUGIN_DIR, "echo.so")
        return subprocess.run([harness.BINARY, "--check-plugin", so] + list(keys),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=20)

    def test_check_plugin(self):
        p = self.check_plugin("status=201", "header=X-A: b")
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("echo", p.stdout)
        p = self.check_plugin("status=201", "foo=1")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('unknown key "foo"', p.stdout)


class MisbehaveTest(unittest.TestCase):
    """The core contains a plugin that breaks the rules (tests/plugins/misbehave.c)."""

    @classmethod
    def setUpClass(cls):
        so = os.path.abspath(os.path.join(harness.FIXTURE_DIR, "misbehave.so"))
        if not harness.FIXTURE_DIR or not os.path.exists(so):
            raise RuntimeError("misbehave fixture not found (PH_FIXTURE_DIR=%r)" % harness.FIXTURE_DIR)
        routes = "[route /mb]\nplugin = %s\n" % so
        cls.srv = Server(server_ini(routes=routes, threads=2))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def tearDown(self):
        self.assertIsNone(self.srv.proc.poll(), "server died:\n" + self.srv.log())

    def raw_get(self, path, version="HTTP/1.1"):
        data = self.srv.raw(("GET %s %s\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                             % (path, version)).encode())
        resps = parse_responses(data)
        self.assertEqual(len(resps), 1, data[:300])
        return data, resps[0]

    def test_crlf_header_refused(self):
        data, r = self.raw_get("/mb/crlf")
        self.assertEqual(r.status, 500)
        self.assertNotIn(b"X-Injected", data)
        self.assertNotIn(b"X-Evil", data)

    def test_bad_status_refused(self):
        data, r = self.raw_get("/mb/badstatus")
        self.assertEqual(r.status, 500)
        self.assertNotIn(b"badstatus", data)

    def test_declined_is_404(self):
        self.assertEqual(self.raw_get("/mb/declined")[1].status, 404)

    def test_error_is_500(self):
        self.assertEqual(self.raw_get("/mb/error")[1].status, 500)

    def test_core_header_refused(self):
        data, r = self.raw_get("/mb/coreheader")
        self.assertEqual(r.status, 500)
        self.assertEqual(len(r.header_all("Content-Length")), 1)
        self.assertNotIn(b"coreheader", data)

    def test_big_body(self):
        _, r = self.raw_get("/mb/big")
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("Content-Length")), 1024 * 1024)
        self.assertTrue(r.body == pattern(1024 * 1024), "1 MiB body differs")

    def test_stream_chunked(self):
        _, r = self.raw_get("/mb/stream")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertIsNone(r.header("Content-Length"))
        self.assertEqual(r.body, b"".join(b"piece %d\n" % i for i in range(5)))

    def test_stream_http10_close_delimited(self):
        data, r = self.raw_get("/mb/stream", version="HTTP/1.0")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("Transfer-Encoding"))
        self.assertEqual(r.body, b"".join(b"piece %d\n" % i for i in range(5)))

    def test_file_slice(self):
        _, r = self.raw_get("/mb/file")
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("Content-Length")), 99990)
        self.assertEqual(len(r.body), 99990)
        self.assertTrue(r.body == pattern(100000)[10:], "file body differs from the pattern slice")

    def test_file_head(self):
        data = self.srv.raw(b"HEAD /mb/file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = parse_responses(data, head=True)
        self.assertEqual(len(r), 1)
        self.assertEqual(r[0].header("Content-Length"), "99990")
        self.assertTrue(data.endswith(b"\r\n\r\n"))

    def test_alloc(self):
        _, r = self.raw_get("/mb/alloc")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"sum=5050\n")

    def test_sleep(self):
        t0 = time.time()
        _, r = self.raw_get("/mb/sleep?ms=150")
        self.assertGreaterEqual(time.time() - t0, 0.14)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"slept 150\n")


class TwoPluginsTest(unittest.TestCase):
    """Two different plugins loaded side by side each serve their own route."""

    def test_each_route_gets_its_own_plugin(self):
        so = os.path.abspath(os.path.join(harness.FIXTURE_DIR, "misbehave.so"))
        routes = ("[route /echo]\nplugin = echo\n\n[route /mb]\nplugin = %s\n\n"
                  "[route /echo2]\nplugin = echo\nstatus = 202\n" % so)
        with Server(server_ini(routes=routes)) as srv:
            r = srv.get("/mb/alloc")
            self.assertEqual(r.body, b"sum=5050\n")
            r = srv.get("/echo/x")
            self.assertTrue(r.body.startswith(b"Method: GET\n"), r.body[:100])
            r = srv.get("/echo2/x")
            self.assertEqual(r.status, 202)
            self.assertIn(b"Subpath: /x\n", r.body)


class OutOfTreeTest(unittest.TestCase):
    """A plugin built like a third party builds one (plugin_oot/hello.c, the
    Cflags of plughttpd-plugin.pc.in, only the public header) loads and runs."""

    @unittest.skipUnless(shutil.which("cc"), "no C compiler")
    def test_hello(self):
        with open(os.path.join(harness.SRCDIR, "plughttpd-plugin.pc.in")) as f:
            cflags = [l.split(":", 1)[1].split() for l in f if l.startswith("Cflags:")][0]
        include = os.path.join(os.path.abspath(harness.SRCDIR), "include")
        cflags = [c.replace("${includedir}", include) for c in cflags]
        src = os.path.join(harness.SRCDIR, "tests", "integration", "plugin_oot", "hello.c")
        with tempfile.TemporaryDirectory(prefix="phoot-") as d:
            so = os.path.join(d, "hello.so")
            subprocess.run(["cc", "-shared", "-fPIC", "-Wall", "-Werror"] + cflags + ["-o", so, src],
                           check=True, timeout=60)
            nm = subprocess.run(["nm", "-D", "--defined-only", so], stdout=subprocess.PIPE,
                                universal_newlines=True, timeout=20).stdout
            self.assertEqual([l.split()[-1] for l in nm.splitlines()], ["plughttpd_plugin"])
            routes = "[route /hi]\nplugin = %s\ngreeting = hi there\n" % so
            with Server(server_ini(routes=routes)) as srv:
                r = srv.get("/hi/you")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body, b"hi there /you\n")


if __name__ == "__main__":
    harness.main()
