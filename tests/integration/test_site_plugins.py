#!/usr/bin/env python3
"""The site plugins: the headers filter (plugins/headers), the return
handler (plugins/return) and the errorpages filter (plugins/errorpages).
Fields set, added and removed on answers of every origin (a plugin's, a
file, the core's 404); redirects and fixed answers built from templates,
with the path re-encoded so it can neither break the Location field nor
leave the site; error answers given the site's page or a JSON object,
pages read again at a reload when their file changed; refused keys naming
what is wrong."""

import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import Server, server_ini

READY = r"reload: generation (\d+) serving|reload failed"

ROUTES = """
[route /]
plugin = static, headers
static.root = {www}
headers.set = Strict-Transport-Security: max-age=31536000
headers.set = X-Content-Type-Options: nosniff
headers.add = Link: </a.css>; rel=preload
headers.add = Link: </b.js>; rel=preload

[route /echo]
plugin = echo, headers
echo.header = X-Powered-By: php
echo.header = Cache-Control: no-store
headers.remove = x-powered-by
headers.set = Cache-Control: max-age=60

[route /old]
plugin = return
status = 301
location = https://example.com/new$subpath$query

[route /canon]
plugin = return
status = 308
location = $scheme://$host$path$query

[route /bare]
plugin = return
status = 302
location = $path

[route /sub]
plugin = return
status = 302
location = $subpath

[route /gone]
plugin = return
status = 410
body = $path is gone; costs $$0
content_type = text/plain

[route /health]
plugin = return
status = 200
"""


def run(*args):
    return subprocess.run(harness.WRAPPER + [harness.BINARY] + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)


class HeadersAndReturn(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ph-hdr-")
        cls.www = os.path.join(cls.tmp, "www")
        os.mkdir(cls.www)
        with open(os.path.join(cls.www, "index.html"), "wb") as f:
            f.write(b"<p>hi</p>\n")
        cls.srv = Server(server_ini(routes=ROUTES.format(www=cls.www)))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def head_lines(self, target, method="GET"):
        data = self.srv.raw(b"%s %s HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n"
                            % (method.encode(), target.encode()))
        head, _, body = data.partition(b"\r\n\r\n")
        return head.split(b"\r\n"), body

    def fields(self, lines, name):
        n = name.lower().encode() + b":"
        return [l.split(b":", 1)[1].strip() for l in lines if l.lower().startswith(n)]

    def test_file_gets_the_fields(self):
        lines, body = self.head_lines("/index.html")
        self.assertEqual(lines[0], b"HTTP/1.1 200 OK")
        self.assertEqual(body, b"<p>hi</p>\n")
        self.assertEqual(self.fields(lines, "Strict-Transport-Security"), [b"max-age=31536000"])
        self.assertEqual(self.fields(lines, "X-Content-Type-Options"), [b"nosniff"])
        self.assertEqual(self.fields(lines, "Link"), [b"</a.css>; rel=preload", b"</b.js>; rel=preload"])
        # the body passes untouched: its length is still known
        self.assertEqual(self.fields(lines, "Content-Length"), [b"10"])

    def test_core_404_gets_the_fields(self):
        lines, _ = self.head_lines("/missing.html")
        self.assertEqual(lines[0], b"HTTP/1.1 404 Not Found")
        self.assertEqual(self.fields(lines, "X-Content-Type-Options"), [b"nosniff"])

    def test_head_gets_the_fields(self):
        lines, body = self.head_lines("/index.html", method="HEAD")
        self.assertEqual(body, b"")
        self.assertEqual(self.fields(lines, "Strict-Transport-Security"), [b"max-age=31536000"])

    def test_remove_and_replace_a_plugins_fields(self):
        lines, _ = self.head_lines("/echo/x")
        self.assertEqual(lines[0], b"HTTP/1.1 200 OK")
        self.assertEqual(self.fields(lines, "X-Powered-By"), [])
        self.assertEqual(self.fields(lines, "Cache-Control"), [b"max-age=60"])

    def test_redirect_keeps_subpath_and_query(self):
        lines, body = self.head_lines("/old/a%20b/c?x=1&y=%2F")
        self.assertEqual(lines[0], b"HTTP/1.1 301 Moved Permanently")
        self.assertEqual(self.fields(lines, "Location"), [b"https://example.com/new/a%20b/c?x=1&y=%2F"])
        self.assertEqual(body, b"")
        self.assertEqual(self.fields(lines, "Content-Length"), [b"0"])

    def test_redirect_at_the_prefix_itself(self):
        lines, _ = self.head_lines("/old")
        self.assertEqual(self.fields(lines, "Location"), [b"https://example.com/new/"])

    def test_canonical_redirect_from_scheme_and_host(self):
        lines, _ = self.head_lines("/canon/p?q")
        self.assertEqual(lines[0], b"HTTP/1.1 308 Permanent Redirect")
        self.assertEqual(self.fields(lines, "Location"), [b"http://site.test/canon/p?q"])

    def test_host_is_the_normalised_one(self):
        # $host is api->host: lower case, no port, no trailing dot
        data = self.srv.raw(b"GET /canon/p HTTP/1.1\r\nHost: Site.TEST.:8080\r\nConnection: close\r\n\r\n")
        lines = data.partition(b"\r\n\r\n")[0].split(b"\r\n")
        self.assertEqual(self.fields(lines, "Location"), [b"http://site.test/canon/p"])
        # a host that could move the Location elsewhere never reaches it:
        # the core refuses the request before any plugin runs
        for host in (b"evil.example/x", b"user@evil.example", b"a\\b", b"evil.example?", b"evil.example#"):
            data = self.srv.raw(b"GET /canon/p HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host)
            self.assertTrue(data.startswith(b"HTTP/1.1 400 "), (host, data[:40]))
        # the absolute-form target's authority wins over Host, normalised too
        data = self.srv.raw(b"GET http://WWW.Site.Test:80/canon/q HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n")
        lines = data.partition(b"\r\n\r\n")[0].split(b"\r\n")
        self.assertEqual(self.fields(lines, "Location"), [b"http://www.site.test/canon/q"])

    def test_path_sub_delims_are_encoded(self):
        # url_escape keeps only unreserved bytes and '/'
        lines, _ = self.head_lines("/bare/a;b=c@d:e!f")
        self.assertEqual(self.fields(lines, "Location"), [b"/bare/a%3Bb%3Dc%40d%3Ae%21f"])

    def test_path_cannot_escape_the_site_or_the_field(self):
        # bytes a URL may not hold as they are come back percent-encoded
        lines, _ = self.head_lines("/bare/%22%3Cx%3E%C3%A9")
        self.assertEqual(lines[0], b"HTTP/1.1 302 Found")
        self.assertEqual(self.fields(lines, "Location"), [b"/bare/%22%3Cx%3E%C3%A9"])
        # a decoded CR LF never gets this far: the core refuses the path
        lines, _ = self.head_lines("/bare/%0d%0aSet-Cookie:%20a=b")
        self.assertEqual(lines[0], b"HTTP/1.1 400 Bad Request")
        self.assertEqual(self.fields(lines, "Set-Cookie"), [])
        # several leading slashes would make a scheme-relative URL, which a
        # browser follows to another host: they become one
        lines, _ = self.head_lines("/sub//evil.example/x")
        self.assertEqual(lines[0], b"HTTP/1.1 302 Found")
        self.assertEqual(self.fields(lines, "Location"), [b"/evil.example/x"])

    def test_fixed_answer_with_body(self):
        lines, body = self.head_lines("/gone/v1/users")
        self.assertEqual(lines[0], b"HTTP/1.1 410 Gone")
        self.assertEqual(self.fields(lines, "Content-Type"), [b"text/plain"])
        self.assertEqual(body, b"/gone/v1/users is gone; costs $0\n")

    def test_fixed_answer_without_body(self):
        lines, body = self.head_lines("/health")
        self.assertEqual(lines[0], b"HTTP/1.1 200 OK")
        self.assertEqual((self.fields(lines, "Content-Length"), body), ([b"0"], b""))


ERROR_ROUTES = """
[route /]
plugin = static, errorpages
static.root = {www}
errorpages.404 = {pages}/404.html
errorpages.5xx = {pages}/50x.html

[route /api]
plugin = echo, errorpages
max_body_bytes = 10
errorpages.json = yes

[route /api/forbidden]
plugin = echo, errorpages
echo.status = 403
errorpages.json = yes
errorpages.403 = {pages}/403.txt
errorpages.type = text/plain
"""


class ErrorPages(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ph-ep-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.www = os.path.join(self.tmp, "www")
        self.pages = os.path.join(self.tmp, "pages")
        os.mkdir(self.www)
        os.mkdir(self.pages)
        self.write("www/ok.html", b"fine\n")
        self.write("pages/404.html", b"<h1>not here</h1>\n")
        self.write("pages/50x.html", b"<h1>down</h1>\n")
        self.write("pages/403.txt", b"no entry\n")
        self.ini = server_ini(routes=ERROR_ROUTES.format(www=self.www, pages=self.pages))
        self.srv = Server(self.ini)
        self.addCleanup(self.srv.stop)

    def write(self, rel, data):
        with open(os.path.join(self.tmp, rel), "wb") as f:
            f.write(data)

    def test_page_for_a_404(self):
        r = self.srv.get("/missing.html")
        self.assertEqual((r.status, r.body), (404, b"<h1>not here</h1>\n"))
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        r = self.srv.get("/missing.html", method="HEAD")
        self.assertEqual((r.status, r.body), (404, b""))

    def test_success_passes_untouched(self):
        r = self.srv.get("/ok.html")
        self.assertEqual((r.status, r.body, r.header("Content-Length")), (200, b"fine\n", "5"))

    def test_json_for_the_cores_413_and_a_plugins_error(self):
        r = self.srv.get("/api/x", method="POST", body=b"x" * 100)
        self.assertEqual((r.status, r.body), (413, b'{"error":"Content Too Large","status":413}\n'))
        self.assertEqual(r.header("Content-Type"), "application/json")
        r = self.srv.get("/api/nothing-here-either")
        self.assertEqual(r.status, 200)
        # a page of its own wins over json, with its own type
        r = self.srv.get("/api/forbidden")
        self.assertEqual((r.status, r.body, r.header("Content-Type")), (403, b"no entry\n", "text/plain"))

    def test_changed_page_is_read_again_at_a_reload(self):
        self.write("pages/404.html", b"<h1>moved on</h1>\n")
        m = self.srv.reload(self.ini, READY)
        self.assertIsNotNone(m)
        self.assertIn("serving", m.group(0))
        r = self.srv.get("/missing.html")
        self.assertEqual((r.status, r.body), (404, b"<h1>moved on</h1>\n"))


    def test_fifo_in_a_pages_place_fails_the_reload(self):
        # open() of a FIFO without a writer would wait for one: the reload
        # (and the stop after it) must not hang on it
        path = os.path.join(self.pages, "404.html")
        os.unlink(path)
        os.mkfifo(path)
        # the new worker process refuses it, and so the reload fails
        m = self.srv.reload(self.ini, r"worker process cannot start: .*404\.html: not a regular file")
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        self.assertIsNotNone(self.srv.wait_log(r"reload failed, generation 1 keeps serving"), self.srv.log()[-2000:])
        r = self.srv.get("/missing.html")
        self.assertEqual((r.status, r.body), (404, b"<h1>not here</h1>\n"))

class RefusedKeys(unittest.TestCase):
    """A bad key refuses the configuration (plughttpd -t) naming it."""

    def refused(self, routes, message):
        with tempfile.TemporaryDirectory(prefix="ph-hdr-cfg-") as d:
            path = os.path.join(d, "server.ini")
            with open(path, "w") as f:
                f.write(server_ini(routes=routes))
            p = run("-t", "-c", path)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn(message, p.stderr)

    def test_headers_keys(self):
        base = "[route /]\nplugin = echo, headers\n"
        self.refused(base + "headers.set = Content-Length: 5\n",
                     "\"Content-Length\" is a field the server writes itself")
        self.refused(base + "headers.add = Bad Name: x\n", "\"Bad Name: x\" is not a valid header field")
        self.refused(base + "headers.set = NoColon\n", "\"NoColon\" is not \"Name: value\"")
        self.refused(base + "headers.remove = Server\n", "the Server field is set by [server] server_header")
        self.refused(base + "headers.sett = A: b\n", "unknown key \"sett\" (remove, set, add)")
        self.refused(base, "nothing to do: give remove, set or add keys")

    def test_errorpages_keys(self):
        base = "[route /]\nplugin = echo, errorpages\n"
        self.refused(base + "errorpages.302 = /etc/hostname\n", "unknown key \"302\"")
        self.refused(base + "errorpages.404 = /nonexistent-ph/404.html\n",
                     "/nonexistent-ph/404.html: No such file or directory")
        self.refused(base + "errorpages.json = maybe\n", "json must be yes or no, not \"maybe\"")
        self.refused(base + "errorpages.5xx = /etc\n", "/etc: not a regular file")

    def test_return_keys(self):
        self.refused("[route /r]\nplugin = return\n", "status is required (e.g. status = 301)")
        self.refused("[route /r]\nplugin = return\nstatus = 301\n", "status 301 needs a location")
        self.refused("[route /r]\nplugin = return\nstatus = 99\n", "status must be 200-599, not \"99\"")
        self.refused("[route /r]\nplugin = return\nstatus = 302\nlocation = /$nope\n",
                     "location: unknown variable at \"$nope\"")


if __name__ == "__main__":
    harness.main()
