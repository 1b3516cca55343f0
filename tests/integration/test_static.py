#!/usr/bin/env python3
"""Integration tests for plugins/static through the real server.

One server serves a document root built in the test's temp dir (`root = www`
relative to the ini). Symlinks are added after start-up: the plugin resolves
every request afresh. The file secret.txt sits beside www/, outside the
root, and must never be served.
"""

import email.utils
import gzip
import os
import random
import re
import shutil
import socket
import subprocess
import time
import unittest

import harness

BIG = random.Random(1234).randbytes(1 << 20)
HELLO = b"hello world\n"
SECRET = b"TOPSECRET-do-not-serve"
APP_JS = b"console.log('plain');\n" * 50
STYLE = b"body { color: red; }\n" * 40

FILES = {
    "secret.txt": SECRET,
    "www/index.html": b"<h1>home</h1>\n",
    "www/hello.txt": HELLO,
    "www/big.bin": BIG,
    "www/docs/index.html": b"docs index\n",
    "www/docs/page.html": b"docs page\n",
    "www/empty/x.txt": b"x\n",
    "www/.env": b"SECRET_ENV=1\n",
    "www/.git/config": b"[core]\n",
    "www/sub/.htpasswd": b"user:hash\n",
    "www/types/a.html": b"<p>",
    "www/types/a.css": b"p{}",
    "www/types/a.js": b"1",
    "www/types/a.mjs": b"1",
    "www/types/a.json": b"{}",
    "www/types/a.txt": b"t",
    "www/types/a.svg": b"<svg/>",
    "www/types/a.png": b"\x89PNG",
    "www/types/a.jpg": b"\xff\xd8",
    "www/types/a.woff2": b"w",
    "www/types/a.wasm": b"\0asm",
    "www/types/a.pdf": b"%PDF",
    "www/types/A.HTML": b"<p>",
    "www/types/noext": b"?",
    "www/auto/b.txt": b"b\n",
    "www/auto/<x>&\"y\".txt": b"x\n",
    "www/auto/a b.txt": b"ab\n",
    "www/auto/sub/c.txt": b"c\n",
    "www/auto/.hidden": b"h\n",
    "www/idx/b.htm": b"second index\n",
    "www/pc/app.js": APP_JS,
    "www/pc/app.js.gz": gzip.compress(APP_JS),
    "www/pc/app.js.br": b"FAKE-BROTLI-BYTES",
    "www/pc/style.css": STYLE,
    "www/pc/style.css.gz": gzip.compress(STYLE),
    "www/pc/stale.js": APP_JS,
    "www/pc/stale.js.gz": b"STALE-GZIP",
    "www/pc/stale.js.br": b"STALE-BROTLI",
    "www/pc/image.png": b"\x89PNG-plain",
    "www/pc/image.png.gz": b"GZ-OF-PNG",
    "www/odd dir?#%/x.txt": b"odd\n",
    "www/dots/.env": b"ALLOWED_DOT\n",
    "www/dots/.well-known/x.txt": b"wk\n",
}

ROUTES = """
[route /]
plugin = static
root = www
cache_control = public, max-age=3600

[route /auto]
plugin = static
root = www/auto
autoindex = on

[route /nosym]
plugin = static
root = www
symlinks = off

[route /pc]
plugin = static
root = www/pc
precompressed = on

[route /dots]
plugin = static
root = www/dots
dotfiles = allow

[route /idx]
plugin = static
root = www/idx
index = a.htm, b.htm

[route /fresh]
plugin = static
root = www
cache_ttl = 0
"""

ETAG_RE = re.compile(r'^"[0-9a-f]+-([0-9a-f]+)-[0-9a-f]+"$')


class StaticTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server(harness.server_ini(routes=ROUTES), files=FILES)
        www = os.path.join(cls.srv.dir, "www")
        os.symlink("hello.txt", os.path.join(www, "link_in"))
        os.symlink("docs", os.path.join(www, "linkdir"))
        os.symlink("../secret.txt", os.path.join(www, "link_out"))
        os.symlink(os.path.join(cls.srv.dir, "secret.txt"), os.path.join(www, "link_abs_secret"))
        os.symlink("/etc/passwd", os.path.join(www, "link_passwd"))
        os.symlink("/etc", os.path.join(www, "link_etc"))
        os.symlink("link_in", os.path.join(www, "chain"))
        os.symlink("../secret.txt", os.path.join(www, "auto", "escape"))
        os.symlink(".env", os.path.join(www, "link_dot"))
        os.symlink(".git", os.path.join(www, "link_dotdir"))
        os.symlink("../.env", os.path.join(www, "docs", "link_dot_up"))
        os.symlink("../.env", os.path.join(www, "auto", "dotlink"))
        os.symlink(".env", os.path.join(www, "dots", "link_dot"))
        # siblings compressed before the file last changed: stale
        t = os.stat(os.path.join(www, "pc", "stale.js")).st_mtime
        for sib in ("stale.js.gz", "stale.js.br"):
            os.utime(os.path.join(www, "pc", sib), (t - 60, t - 60))
        cls.www = www
        cls.errors = []  # every error response seen, checked for paths

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.srv.dir, ignore_errors=True)

    def get(self, path, headers=None, method="GET"):
        r = self.srv.get(path, headers=headers, method=method)
        if r.status >= 400:
            self.errors.append(r)
        return r

    def assert_no_leak(self, r):
        self.assertNotIn(SECRET, r.body)
        self.assertNotIn(b"root:x:0:0", r.body)
        self.assertNotIn(self.srv.dir.encode(), r.body)

    # --- basics --------------------------------------------------------
    def test_get_file(self):
        r = self.get("/hello.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, HELLO)
        self.assertEqual(r.header("Content-Length"), str(len(HELLO)))
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        self.assertEqual(r.header("Accept-Ranges"), "bytes")

    def test_big_file_byte_exact_raw(self):
        r = self.get("/big.bin")
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), len(BIG))
        self.assertEqual(r.body, BIG)
        self.assertEqual(r.header("Content-Type"), "application/octet-stream")

    def test_big_file_byte_exact_curl(self):
        out = os.path.join(self.srv.dir, "curl-big.out")
        p = subprocess.run(["curl", "-sS", "--max-time", "20", "-o", out, "-w", "%{http_code}",
                            self.srv.url("/big.bin")], capture_output=True, timeout=30)
        self.assertEqual(p.stdout, b"200", p.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), BIG)

    def test_head_matches_get(self):
        g = self.get("/big.bin")
        h = self.get("/big.bin", method="HEAD")
        self.assertEqual(h.status, 200)
        self.assertEqual(h.header("Content-Length"), str(len(BIG)))
        self.assertEqual(h.header("ETag"), g.header("ETag"))
        self.assertEqual(h.header("Last-Modified"), g.header("Last-Modified"))
        # HEAD then GET on one connection: no body may follow the HEAD.
        data = self.srv.raw(b"HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                            b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        resps = harness.parse_responses(data, head=[True, False])
        self.assertEqual([r.status for r in resps], [200, 200])
        self.assertEqual(resps[1].body, HELLO)

    def test_head_curl(self):
        p = subprocess.run(["curl", "-sS", "-I", "--max-time", "10", self.srv.url("/hello.txt")],
                           capture_output=True, timeout=20)
        self.assertIn(b"200", p.stdout.split(b"\r\n")[0])
        self.assertRegex(p.stdout.decode(), r"(?i)content-length: 12\r\n")

    def test_method_not_allowed(self):
        for m in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            r = self.get("/hello.txt", method=m)
            self.assertEqual(r.status, 405, m)
            self.assertEqual(r.header("Allow"), "GET, HEAD", m)
        r = self.get("/docs/", method="POST")
        self.assertEqual(r.status, 405)

    def test_content_types(self):
        table = {
            "a.html": "text/html; charset=utf-8",
            "A.HTML": "text/html; charset=utf-8",
            "a.css": "text/css; charset=utf-8",
            "a.js": "text/javascript; charset=utf-8",
            "a.mjs": "text/javascript; charset=utf-8",
            "a.json": "application/json; charset=utf-8",
            "a.txt": "text/plain; charset=utf-8",
            "a.svg": "image/svg+xml; charset=utf-8",
            "a.png": "image/png",
            "a.jpg": "image/jpeg",
            "a.woff2": "font/woff2",
            "a.wasm": "application/wasm",
            "a.pdf": "application/pdf",
            "noext": "application/octet-stream",
        }
        for name, ctype in table.items():
            r = self.get("/types/" + name)
            self.assertEqual(r.status, 200, name)
            self.assertEqual(r.header("Content-Type"), ctype, name)

    def test_cache_control_from_route(self):
        self.assertEqual(self.get("/hello.txt").header("Cache-Control"), "public, max-age=3600")
        self.assertIsNone(self.get("/nosym/hello.txt").header("Cache-Control"))

    # --- validators -------------------------------------------------------
    def test_etag_and_last_modified(self):
        r = self.get("/big.bin")
        m = ETAG_RE.match(r.header("ETag", ""))
        self.assertIsNotNone(m, r.header("ETag"))
        self.assertEqual(int(m.group(1), 16), len(BIG))
        lm = email.utils.parsedate_to_datetime(r.header("Last-Modified"))
        mtime = int(os.stat(os.path.join(self.www, "big.bin")).st_mtime)
        self.assertEqual(int(lm.timestamp()), mtime)
        self.assertTrue(r.header("Last-Modified").endswith(" GMT"))

    def test_etag_changes_with_content(self):
        # /fresh has the open-file cache off: a change shows at once.
        path = os.path.join(self.www, "changing.txt")
        with open(path, "wb") as f:
            f.write(b"one")
        e1 = self.get("/fresh/changing.txt").header("ETag")
        with open(path, "wb") as f:
            f.write(b"three")
        r = self.get("/fresh/changing.txt", {"If-None-Match": e1})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"three")
        self.assertNotEqual(r.header("ETag"), e1)

    def test_if_none_match(self):
        etag = self.get("/hello.txt").header("ETag")
        for value in (etag, "W/" + etag, '"nope", ' + etag, "*"):
            r = self.get("/hello.txt", {"If-None-Match": value})
            self.assertEqual(r.status, 304, value)
            self.assertEqual(r.body, b"")
            self.assertEqual(r.header("ETag"), etag)
            self.assertEqual(r.header("Cache-Control"), "public, max-age=3600")
        r = self.get("/hello.txt", {"If-None-Match": '"nope"'})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, HELLO)
        # HEAD gets the 304 too
        r = self.get("/hello.txt", {"If-None-Match": etag}, method="HEAD")
        self.assertEqual(r.status, 304)

    def test_if_modified_since(self):
        lm = self.get("/hello.txt").header("Last-Modified")
        r = self.get("/hello.txt", {"If-Modified-Since": lm})
        self.assertEqual(r.status, 304)
        self.assertEqual(r.body, b"")
        r = self.get("/hello.txt", {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
        self.assertEqual(r.status, 200)
        r = self.get("/hello.txt", {"If-Modified-Since": "garbage"})
        self.assertEqual(r.status, 200)
        # obsolete formats are understood
        ts = email.utils.parsedate_to_datetime(lm)
        asctime = ts.strftime("%a %b ") + ("%2d" % ts.day) + ts.strftime(" %H:%M:%S %Y")
        r = self.get("/hello.txt", {"If-Modified-Since": asctime})
        self.assertEqual(r.status, 304, asctime)
        # If-None-Match present: If-Modified-Since is ignored
        r = self.get("/hello.txt", {"If-Modified-Since": lm, "If-None-Match": '"other"'})
        self.assertEqual(r.status, 200)

    def test_if_match_and_unmodified_since(self):
        etag = self.get("/hello.txt").header("ETag")
        lm = self.get("/hello.txt").header("Last-Modified")
        r = self.get("/hello.txt", {"If-Match": '"other"'})
        self.assertEqual(r.status, 412)
        self.assert_no_leak(r)
        r = self.get("/hello.txt", {"If-Match": "W/" + etag})
        self.assertEqual(r.status, 412)
        r = self.get("/hello.txt", {"If-Match": etag})
        self.assertEqual(r.status, 200)
        r = self.get("/hello.txt", {"If-Match": "*"})
        self.assertEqual(r.status, 200)
        r = self.get("/hello.txt", {"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
        self.assertEqual(r.status, 412)
        r = self.get("/hello.txt", {"If-Unmodified-Since": lm})
        self.assertEqual(r.status, 200)

    # --- ranges -------------------------------------------------------------
    def test_ranges(self):
        size = len(BIG)
        cases = [
            ("bytes=0-99", 0, 99),
            ("bytes=1000-", 1000, size - 1),
            ("bytes=-500", size - 500, size - 1),
            ("bytes=100-99999999999", 100, size - 1),
            ("bytes=-99999999999", 0, size - 1),
        ]
        for value, a, b in cases:
            r = self.get("/big.bin", {"Range": value})
            self.assertEqual(r.status, 206, value)
            self.assertEqual(r.header("Content-Range"), "bytes %d-%d/%d" % (a, b, size), value)
            self.assertEqual(r.body, BIG[a:b + 1], value)
            self.assertEqual(r.header("Content-Length"), str(b - a + 1))

    def test_range_curl(self):
        p = subprocess.run(["curl", "-sS", "--max-time", "10", "-r", "10-19", self.srv.url("/big.bin")],
                           capture_output=True, timeout=20)
        self.assertEqual(p.stdout, BIG[10:20])

    def test_range_unsatisfiable(self):
        size = len(BIG)
        for value in ("bytes=%d-" % size, "bytes=%d-%d" % (size + 5, size + 10), "bytes=-0",
                      "bytes=99999999999999999999999-"):
            r = self.get("/big.bin", {"Range": value})
            self.assertEqual(r.status, 416, value)
            self.assertEqual(r.header("Content-Range"), "bytes */%d" % size, value)
            self.assertNotIn(BIG[:64], r.body)
            self.assert_no_leak(r)

    def test_range_ignored(self):
        for value in ("bytes=0-1,5-6", "bytes=5-3", "bytes=x-y", "lines=1-2", "bytes="):
            r = self.get("/hello.txt", {"Range": value})
            self.assertEqual(r.status, 200, value)
            self.assertEqual(r.body, HELLO, value)
            self.assertIsNone(r.header("Content-Range"), value)

    def test_if_range(self):
        first = self.get("/hello.txt")
        etag, lm = first.header("ETag"), first.header("Last-Modified")
        r = self.get("/hello.txt", {"Range": "bytes=0-4", "If-Range": etag})
        self.assertEqual((r.status, r.body), (206, b"hello"))
        r = self.get("/hello.txt", {"Range": "bytes=0-4", "If-Range": lm})
        self.assertEqual((r.status, r.body), (206, b"hello"))
        for stale in ('"other"', "W/" + etag, "Thu, 01 Jan 1970 00:00:00 GMT"):
            r = self.get("/hello.txt", {"Range": "bytes=0-4", "If-Range": stale})
            self.assertEqual((r.status, r.body), (200, HELLO), stale)

    def test_range_with_if_none_match_304(self):
        etag = self.get("/hello.txt").header("ETag")
        r = self.get("/hello.txt", {"Range": "bytes=0-4", "If-None-Match": etag})
        self.assertEqual(r.status, 304)

    # --- directories ---------------------------------------------------------
    def test_directory_redirect(self):
        r = self.get("/docs")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "/docs/")
        r = self.get("/docs?a=1&b=2")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "/docs/?a=1&b=2")
        r = self.get("/auto/sub")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("Location"), "/auto/sub/")

    def test_directory_redirect_stays_on_origin(self):
        # Location comes from the normalised path, re-encoded: never a
        # scheme-relative "//host/..." a browser would follow off-site
        cases = [
            (b"//evil.example/..%2fsub", "/sub/"),
            (b"/\\evil.example/../sub", "/sub/"),
            (b"//evil.example/..%2fsub?next=1", "/sub/?next=1"),
            (b"//docs", "/docs/"),
            (b"///docs?a=%2F%2F", "/docs/?a=%2F%2F"),
            (b"/%2F%2Fdocs", "/docs/"),
            (b"/odd%20dir%3F%23%25", "/odd%20dir%3F%23%25/"),
        ]
        for target, loc in cases:
            r = self.raw_status(target)
            self.assertEqual((r.status, r.header("Location")), (301, loc), target)
        # the redirect leads to the directory itself
        r = self.raw_status(b"/odd%20dir%3F%23%25/x.txt")
        self.assertEqual((r.status, r.body), (200, b"odd\n"))

    def test_directory_redirect_when_only_the_decoded_path_ends_in_slash(self):
        # A browser resolves relative links against the target it sent:
        # below "/docs%2F" or "/docs/." they would miss the directory.
        cases = [(b"/docs%2F", "/docs/"), (b"/docs%2f?x=1", "/docs/?x=1"), (b"/docs/.", "/docs/"),
                 (b"/auto/sub%2F", "/auto/sub/")]
        for target, loc in cases:
            r = self.raw_status(target)
            self.assertEqual((r.status, r.header("Location")), (301, loc), target)
        self.assertEqual(self.get("/docs/").status, 200)

    def test_index(self):
        r = self.get("/docs/")
        self.assertEqual((r.status, r.body), (200, b"docs index\n"))
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assertIsNotNone(r.header("ETag"))
        r = self.get("/")
        self.assertEqual((r.status, r.body), (200, b"<h1>home</h1>\n"))
        # the index key: the first name that exists wins
        r = self.get("/idx/")
        self.assertEqual((r.status, r.body), (200, b"second index\n"))

    def test_autoindex_off(self):
        r = self.get("/empty/")
        self.assertEqual(r.status, 403)
        self.assertNotIn(b"x.txt", r.body)
        self.assert_no_leak(r)

    def test_autoindex_on(self):
        r = self.get("/auto/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        body = r.body.decode()
        self.assertIn('<a href="b.txt">b.txt</a>', body)
        self.assertIn('<a href="a%20b.txt">a b.txt</a>', body)
        self.assertIn('<a href="%3Cx%3E%26%22y%22.txt">&lt;x&gt;&amp;&quot;y&quot;.txt</a>', body)
        self.assertIn('<a href="sub/">sub/</a>', body)
        self.assertNotIn("<x>", body)
        self.assertNotIn(".hidden", body)
        self.assertNotIn("escape", body)  # symlink out of the root
        self.assertLess(body.index("sub/"), body.index("b.txt"))
        r = self.get("/auto/sub/")
        self.assertIn('<a href="c.txt">c.txt</a>', r.body.decode())
        self.assertIn('href="../"', r.body.decode())

    # --- dotfiles --------------------------------------------------------------
    def test_dotfiles_denied(self):
        for path in ("/.env", "/.git/config", "/.git/", "/sub/.htpasswd", "/.git"):
            r = self.get(path)
            self.assertEqual(r.status, 404, path)
            self.assertNotIn(b"SECRET_ENV", r.body)
            self.assertNotIn(b"user:hash", r.body)
            self.assert_no_leak(r)

    def test_dotfiles_denied_through_symlinks(self):
        # the rule holds for the resolved path, not only the requested one
        for path in ("/link_dot", "/link_dotdir/config", "/link_dotdir/", "/docs/link_dot_up",
                     "/auto/dotlink"):
            r = self.get(path)
            self.assertEqual(r.status, 404, path)
            self.assertNotIn(b"SECRET_ENV", r.body)
            self.assertNotIn(b"[core]", r.body)
        r = self.get("/auto/")
        self.assertNotIn(b"dotlink", r.body)  # not advertised either
        # allowed where dotfiles are
        r = self.get("/dots/link_dot")
        self.assertEqual((r.status, r.body), (200, b"ALLOWED_DOT\n"))

    def test_dotfiles_allowed(self):
        r = self.get("/dots/.env")
        self.assertEqual((r.status, r.body), (200, b"ALLOWED_DOT\n"))
        r = self.get("/dots/.well-known/x.txt")
        self.assertEqual((r.status, r.body), (200, b"wk\n"))

    # --- traversal and symlinks --------------------------------------------------
    def raw_status(self, target):
        data = self.srv.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        resps = harness.parse_responses(data)
        self.assertTrue(resps, target)
        r = resps[0]
        if r.status >= 400:
            self.errors.append(r)
        return r

    def test_traversal_raw(self):
        targets = [
            b"/../../etc/passwd",
            b"/../secret.txt",
            b"/docs/../../secret.txt",
            b"/%2e%2e/%2e%2e/etc/passwd",
            b"/%2e%2e/secret.txt",
            b"/%2E%2E/secret.txt",
            b"/a/..%2f..%2f..%2fetc/passwd",
            b"/docs/..%2f..%2fsecret.txt",
            b"/%5c..%5cetc",
            b"/..%5csecret.txt",
            b"/docs%5c..%5c..%5csecret.txt",
            b"/hello.txt%00.png",
            b"/link_out",
            b"/link_abs_secret",
            b"/link_passwd",
            b"/link_etc/passwd",
            b"/auto/escape",
        ]
        for t in targets:
            r = self.raw_status(t)
            self.assertIn(r.status, (400, 403, 404), t)
            self.assert_no_leak(r)

    def test_symlink_escape_is_404(self):
        for path in ("/link_out", "/link_abs_secret", "/link_passwd", "/link_etc/passwd",
                     "/link_etc/hostname"):
            r = self.get(path)
            self.assertEqual(r.status, 404, path)
            self.assert_no_leak(r)

    def test_symlinks_inside(self):
        r = self.get("/link_in")
        self.assertEqual((r.status, r.body), (200, HELLO))
        r = self.get("/chain")
        self.assertEqual((r.status, r.body), (200, HELLO))
        r = self.get("/linkdir/page.html")
        self.assertEqual((r.status, r.body), (200, b"docs page\n"))

    def test_symlinks_off(self):
        r = self.get("/nosym/hello.txt")
        self.assertEqual((r.status, r.body), (200, HELLO))
        for path in ("/nosym/link_in", "/nosym/chain", "/nosym/linkdir/page.html", "/nosym/link_out"):
            r = self.get(path)
            self.assertIn(r.status, (403, 404), path)
            self.assertNotIn(HELLO, r.body)
            self.assert_no_leak(r)

    # --- precompressed ------------------------------------------------------------
    def test_precompressed_br_preferred(self):
        r = self.get("/pc/app.js", {"Accept-Encoding": "gzip, br"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Encoding"), "br")
        self.assertEqual(r.body, b"FAKE-BROTLI-BYTES")
        self.assertEqual(r.header("Content-Type"), "text/javascript; charset=utf-8")
        self.assertEqual(r.header("Vary"), "Accept-Encoding")

    def test_precompressed_gzip(self):
        for ae in ("gzip", "br;q=0, gzip", "gzip, deflate"):
            r = self.get("/pc/app.js", {"Accept-Encoding": ae})
            self.assertEqual(r.header("Content-Encoding"), "gzip", ae)
            self.assertEqual(gzip.decompress(r.body), APP_JS, ae)
            self.assertEqual(r.header("Vary"), "Accept-Encoding", ae)
            self.assertEqual(r.header("Content-Type"), "text/javascript; charset=utf-8")

    def test_precompressed_identity(self):
        for headers in ({}, {"Accept-Encoding": "gzip;q=0, br;q=0"}, {"Accept-Encoding": "identity"}):
            r = self.get("/pc/app.js", headers)
            self.assertIsNone(r.header("Content-Encoding"), headers)
            self.assertEqual(r.body, APP_JS, headers)
            self.assertEqual(r.header("Vary"), "Accept-Encoding", headers)
        # only a .gz sibling: a br-only client gets the original
        r = self.get("/pc/style.css", {"Accept-Encoding": "br"})
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.body, STYLE)

    def test_precompressed_stale_sibling_not_served(self):
        for ae in ("gzip, br", "gzip", "br", "x-gzip"):
            r = self.get("/pc/stale.js", {"Accept-Encoding": ae})
            self.assertEqual((r.status, r.body), (200, APP_JS), ae)
            self.assertIsNone(r.header("Content-Encoding"), ae)
            self.assertEqual(r.header("Vary"), "Accept-Encoding", ae)

    def test_precompressed_q_values(self):
        # (Accept-Encoding, the coding that must go out; None: the file)
        cases = [
            ("br;q=0.1, gzip;q=0.9", "gzip"),
            ("gzip;q=1.0, br;q=0.999", "gzip"),
            ("x-gzip", "gzip"),
            ("X-GZIP;q=0.5, br;q=0.4", "gzip"),
            ("gzip;q=0", None),
            ("x-gzip;q=0, br;q=0", None),
            ("gzip;q=0.5, identity", None),
            ("*;q=0.5, br;q=0", "gzip"),
            ("*;q=0", None),  # identity refused too, but nothing else exists
            ("gzip;q=2", None),  # not a qvalue: never selects
            ("gzip;q=0.5x, br;q=0.0001", None),
            ("gzip ; q=0.8 , br ; q=0.7", "gzip"),
            ("br;q=0.5, gzip;q=0.5", "br"),  # equal: the smaller one
            ("", None),
        ]
        for ae, coding in cases:
            r = self.get("/pc/app.js", {"Accept-Encoding": ae})
            self.assertEqual(r.status, 200, ae)
            self.assertEqual(r.header("Content-Encoding"), coding, ae)
            want = {None: APP_JS, "br": b"FAKE-BROTLI-BYTES"}.get(coding)
            body = gzip.decompress(r.body) if coding == "gzip" else r.body
            self.assertEqual(body, want or APP_JS, ae)

    def test_precompressed_not_for_binary_types(self):
        r = self.get("/pc/image.png", {"Accept-Encoding": "gzip"})
        self.assertEqual(r.body, b"\x89PNG-plain")
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertIsNone(r.header("Vary"))

    def test_precompressed_off_route(self):
        # the same files through /nosym, whose route leaves precompressed off
        r = self.get("/nosym/pc/app.js", {"Accept-Encoding": "gzip, br"})
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertIsNone(r.header("Vary"))
        self.assertEqual(r.body, APP_JS)
        r = self.get("/nosym/pc/app.js.gz", {"Accept-Encoding": "gzip"})
        self.assertEqual(r.header("Content-Type"), "application/gzip")
        self.assertIsNone(r.header("Content-Encoding"))

    def test_precompressed_curl(self):
        p = subprocess.run(["curl", "-sS", "--max-time", "10", "--compressed", "-H", "Accept-Encoding: gzip",
                            self.srv.url("/pc/style.css")], capture_output=True, timeout=20)
        self.assertEqual(p.stdout, STYLE)

    def test_precompressed_etag_differs(self):
        plain = self.get("/pc/app.js").header("ETag")
        gz = self.get("/pc/app.js", {"Accept-Encoding": "gzip"}).header("ETag")
        self.assertNotEqual(plain, gz)
        r = self.get("/pc/app.js", {"Accept-Encoding": "gzip", "If-None-Match": gz})
        self.assertEqual(r.status, 304)
        self.assertEqual(r.header("Vary"), "Accept-Encoding")

    # --- error bodies ---------------------------------------------------------------
    def test_zz_error_bodies_reveal_no_path(self):
        for path in ("/missing.txt", "/docs/missing/deeper", "/empty/", "/.env", "/link_out"):
            self.get(path)
        self.get("/hello.txt", method="DELETE")
        self.assertTrue(self.errors)
        for r in self.errors:
            self.assertNotIn(self.srv.dir.encode(), r.body, r)
            self.assertNotIn(b"/www", r.body, r)
            self.assertNotIn(b"/tmp", r.body, r)


CACHE_ROUTES = """
[route /ttl]
plugin = static
root = www
cache_ttl = 200ms

[route /nocache]
plugin = static
root = www
cache_ttl = 0

[route /long]
plugin = static
root = www
cache_ttl = 1h

[route /few]
plugin = static
root = www
cache_ttl = 10s
cache_entries = 8
cache_max_file = 0

[route /fds]
plugin = static
root = www
cache_entries = 16
cache_max_file = 0
"""

NMANY = 3000


def pipelined(srv, paths, batch=500):
    """GET every path over keep-alive connections, batch requests per
    connection; returns the responses in order."""
    out = []
    for i in range(0, len(paths), batch):
        chunk = paths[i:i + batch]
        data = b"".join(b"GET " + p.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n" for p in chunk[:-1])
        data += b"GET " + chunk[-1].encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        resps = harness.parse_responses(srv.raw(data, timeout=30))
        if len(resps) != len(chunk):
            raise AssertionError("%d responses for %d requests" % (len(resps), len(chunk)))
        out.extend(resps)
    return out


class KeepAlive:
    """One keep-alive connection, one request and response at a time."""

    def __init__(self, srv):
        self.sock = srv.connect()
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def get(self, path, headers=None):
        h = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (path, h)).encode())
        deadline = time.time() + harness.IO_TIMEOUT
        while time.time() < deadline:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", self.buf[:end])
                total = end + 4 + (int(m.group(1)) if m else 0)
                if len(self.buf) >= total:
                    r = harness.parse_responses(self.buf[:total])[0]
                    self.buf = self.buf[total:]
                    return r
            b = self.sock.recv(65536)
            if not b:
                break
            self.buf += b
        raise AssertionError("no complete response: %r" % self.buf[:200])


class StaticCacheTest(unittest.TestCase):
    """The open-file cache: freshness within cache_ttl, bounds, descriptors.
    Two worker threads, so each keeps its own cache."""

    @classmethod
    def setUpClass(cls):
        files = {"www/f.txt": b"first\n", "www/big.bin": BIG[:100 * 1024]}
        for i in range(NMANY):
            files["www/many/%04d.txt" % i] = b"file %d\n" % i
        cls.srv = harness.Server(harness.server_ini(routes=CACHE_ROUTES, threads=2), files=files)
        cls.www = os.path.join(cls.srv.dir, "www")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.srv.dir, ignore_errors=True)

    def write(self, name, data):
        with open(os.path.join(self.www, name), "wb") as f:
            f.write(data)

    def get_all(self, path, n=6):
        """n requests on one connection, so both threads' caches are likely
        exercised across calls; returns the responses."""
        return pipelined(self.srv, [path] * n)

    def test_modified_file_fresh_after_ttl(self):
        self.write("mod.txt", b"version one\n")
        for r in self.get_all("/ttl/mod.txt"):
            self.assertEqual((r.status, r.body), (200, b"version one\n"))
        e1 = r.header("ETag")
        self.write("mod.txt", b"version two, longer\n")
        time.sleep(0.5)
        for r in self.get_all("/ttl/mod.txt"):
            self.assertEqual((r.status, r.body), (200, b"version two, longer\n"))
            self.assertNotEqual(r.header("ETag"), e1)
        # same size, new bytes: the mtime tells
        self.write("mod.txt", b"VERSION TWO, LONGER\n")
        time.sleep(0.5)
        for r in self.get_all("/ttl/mod.txt"):
            self.assertEqual(r.body, b"VERSION TWO, LONGER\n")

    def test_replaced_file_fresh_after_ttl(self):
        self.write("rep.txt", b"old\n")
        self.assertEqual(self.srv.get("/ttl/rep.txt").body, b"old\n")
        self.write("rep.tmp", b"new\n")
        os.rename(os.path.join(self.www, "rep.tmp"), os.path.join(self.www, "rep.txt"))
        time.sleep(0.5)
        self.assertEqual(self.srv.get("/ttl/rep.txt").body, b"new\n")

    def test_large_file_fresh_after_ttl(self):
        # above cache_max_file (256k): kept as a descriptor, sent with sendfile
        data = BIG[:400 * 1024]
        self.write("large.bin", data)
        for r in self.get_all("/ttl/large.bin"):
            self.assertEqual(r.body, data)
        r = self.srv.get("/ttl/large.bin", {"Range": "bytes=1000-1999"})
        self.assertEqual((r.status, r.body), (206, data[1000:2000]))
        data2 = BIG[-300 * 1024:]
        self.write("large.tmp", data2)
        os.rename(os.path.join(self.www, "large.tmp"), os.path.join(self.www, "large.bin"))
        time.sleep(0.5)
        for r in self.get_all("/ttl/large.bin"):
            self.assertEqual(r.body, data2)

    def test_deleted_file_404_after_ttl(self):
        self.write("del.txt", b"doomed\n")
        self.assertEqual(self.srv.get("/ttl/del.txt").status, 200)
        os.unlink(os.path.join(self.www, "del.txt"))
        time.sleep(0.5)
        for r in self.get_all("/ttl/del.txt"):
            self.assertEqual(r.status, 404)
            self.assertNotIn(b"doomed", r.body)

    def test_created_file_found_after_ttl(self):
        # a 404 may be remembered, but only for cache_ttl
        for r in self.get_all("/ttl/born.txt"):
            self.assertEqual(r.status, 404)
        self.write("born.txt", b"hello\n")
        time.sleep(0.5)
        for r in self.get_all("/ttl/born.txt"):
            self.assertEqual((r.status, r.body), (200, b"hello\n"))

    def test_ttl_zero_serves_every_change_at_once(self):
        self.write("zero.txt", b"a\n")
        self.assertEqual(self.srv.get("/nocache/zero.txt").body, b"a\n")
        self.write("zero.txt", b"bb\n")
        self.assertEqual(self.srv.get("/nocache/zero.txt").body, b"bb\n")
        os.unlink(os.path.join(self.www, "zero.txt"))
        self.assertEqual(self.srv.get("/nocache/zero.txt").status, 404)
        self.write("zero.txt", b"ccc\n")
        self.assertEqual(self.srv.get("/nocache/zero.txt").body, b"ccc\n")

    def test_small_file_served_from_memory(self):
        # With a long TTL the bytes read once keep being served although
        # the file is gone: the cache is really in use (and within the TTL
        # that is the documented behaviour). One connection, so one thread
        # and its cache serve every request.
        self.write("mem.txt", b"in memory\n")
        with KeepAlive(self.srv) as ka:
            r = ka.get("/long/mem.txt")
            self.assertEqual((r.status, r.body), (200, b"in memory\n"))
            etag = r.header("ETag")
            os.unlink(os.path.join(self.www, "mem.txt"))
            for _ in range(5):
                r = ka.get("/long/mem.txt")
                self.assertEqual((r.status, r.body), (200, b"in memory\n"))
                self.assertEqual(r.header("ETag"), etag)
            r = ka.get("/long/mem.txt", {"Range": "bytes=3-8"})
            self.assertEqual((r.status, r.body), (206, b"memory"))
        # the route without a cache sees the truth at once
        self.assertEqual(self.srv.get("/nocache/mem.txt").status, 404)

    def test_cached_small_file_ranges_and_conditionals(self):
        self.write("rng.txt", b"0123456789abcdef")
        paths = ["/long/rng.txt"] * 4
        for r in pipelined(self.srv, paths):
            self.assertEqual(r.body, b"0123456789abcdef")
        etag = r.header("ETag")
        r = self.srv.get("/long/rng.txt", {"Range": "bytes=3-6"})
        self.assertEqual((r.status, r.body), (206, b"3456"))
        self.assertEqual(r.header("Content-Range"), "bytes 3-6/16")
        r = self.srv.get("/long/rng.txt", {"Range": "bytes=-4"})
        self.assertEqual((r.status, r.body), (206, b"cdef"))
        r = self.srv.get("/long/rng.txt", {"Range": "bytes=16-"})
        self.assertEqual(r.status, 416)
        r = self.srv.get("/long/rng.txt", {"If-None-Match": etag})
        self.assertEqual((r.status, r.body), (304, b""))
        r = self.srv.get("/long/rng.txt", method="HEAD")
        self.assertEqual((r.status, r.header("Content-Length")), (200, "16"))

    def test_many_files_beyond_bound(self):
        order = list(range(400))
        paths = ["/few/many/%04d.txt" % i for i in order]
        random.Random(7).shuffle(order)
        paths += ["/few/many/%04d.txt" % i for i in order]
        paths += ["/few/many/0001.txt"] * 20 + ["/few/many/none-%d" % i for i in range(50)]
        resps = pipelined(self.srv, paths)
        for p, r in zip(paths, resps):
            if "none-" in p:
                self.assertEqual(r.status, 404, p)
            else:
                i = int(p[-8:-4])
                self.assertEqual((r.status, r.body), (200, b"file %d\n" % i), p)

    def count_fds(self):
        return len(os.listdir("/proc/%d/fd" % self.srv.serving_pid()))

    def test_no_fd_leak(self):
        # cache_max_file = 0 keeps a descriptor per entry: the worst case.
        pipelined(self.srv, ["/fds/many/0000.txt"] * 10)
        before = self.count_fds()
        paths = ["/fds/many/%04d.txt" % i for i in range(NMANY)]
        resps = pipelined(self.srv, paths)
        for i, r in enumerate(resps):
            self.assertEqual((r.status, r.body), (200, b"file %d\n" % i))
        # connections are closed by now; give the server a moment
        deadline = time.time() + 5
        while time.time() < deadline:
            after = self.count_fds()
            if after <= before + 2 * 16:
                break
            time.sleep(0.05)
        # at most each thread's bound of cached descriptors more
        self.assertLessEqual(after, before + 2 * 16, (before, after))
        # and the same again adds nothing
        pipelined(self.srv, paths)
        time.sleep(0.1)
        self.assertLessEqual(self.count_fds(), before + 2 * 16)


class StaticLentBytesTest(unittest.TestCase):
    """A file served from the cache's memory is lent to the core without a
    copy; the bytes must outlive the cache entry while a response is still
    being sent from them. One thread, so the revalidation below replaces the
    very entry the slow response uses."""

    ROUTES = """
[route /]
plugin = static
root = www
cache_ttl = 100ms
cache_max_file = 1m
"""

    def test_slow_response_keeps_old_bytes_after_replacement(self):
        old, new = BIG[:900 * 1024], BIG[-900 * 1024:]
        # send_buffer: a fixed 64 KiB kernel buffer; autotuned, it would take
        # the whole response at once on loopback and hold nothing back
        ini = harness.server_ini(routes=self.ROUTES, threads=1, server_extra="send_buffer = 64k")
        with harness.Server(ini, files={"www/pin.bin": old}) as srv:
            www = os.path.join(srv.dir, "www")
            self.assertEqual(srv.get("/pin.bin").body, old)  # cached, in memory
            # A client that stops reading: the kernel's buffers on both sides
            # take a few hundred KiB at most, the rest waits in the server.
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=harness.IO_TIMEOUT)
            try:
                s.sendall(b"GET /pin.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                first = s.recv(1024)
                self.assertTrue(first.startswith(b"HTTP/1.1 200"), first[:100])
                # the file is replaced and its entry rebuilt with the new
                # bytes while most of the old ones are still unsent
                with open(os.path.join(www, "pin.tmp"), "wb") as f:
                    f.write(new)
                os.rename(os.path.join(www, "pin.tmp"), os.path.join(www, "pin.bin"))
                time.sleep(0.3)
                for _ in range(3):
                    self.assertEqual(srv.get("/pin.bin").body, new)
                got = first + harness.recv_all(s)
            finally:
                s.close()
            head, _, body = got.partition(b"\r\n\r\n")
            self.assertIn(b"Content-Length: %d" % len(old), head)
            self.assertEqual(len(body), len(old))
            self.assertTrue(body == old, "the slow response did not get the old bytes intact")

    def test_range_and_head_from_memory(self):
        data = BIG[:200 * 1024]
        with harness.Server(harness.server_ini(routes=self.ROUTES, threads=1),
                            files={"www/m.bin": data}) as srv:
            for _ in range(2):  # the second one comes from the cache
                r = srv.get("/m.bin", {"Range": "bytes=150000-150099"})
                self.assertEqual((r.status, r.body), (206, data[150000:150100]))
                r = srv.get("/m.bin", method="HEAD")
                self.assertEqual((r.status, r.body, r.header("Content-Length")),
                                 (200, b"", str(len(data))))


class StaticCachedDescriptorTest(unittest.TestCase):
    """Files above cache_max_file are cached as an open descriptor. One
    thread, so every request meets the same cache. A file changed in place
    within cache_ttl must never go out with its old length or ETag, and a
    deleted file's descriptor must not stay open past cache_ttl."""

    ROUTES = """
[route /hold]
plugin = static
root = www
cache_ttl = 1h
cache_max_file = 1k
cache_control = public, max-age=60

[route /idle]
plugin = static
root = www
cache_ttl = 300ms
cache_max_file = 1k
"""

    @classmethod
    def setUpClass(cls):
        files = {"www/other.txt": b"other\n"}
        cls.srv = harness.Server(harness.server_ini(routes=cls.ROUTES, threads=1), files=files)
        cls.www = os.path.join(cls.srv.dir, "www")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.srv.dir, ignore_errors=True)

    def write(self, name, data):
        with open(os.path.join(self.www, name), "wb") as f:
            f.write(data)

    def rewrite_in_place(self, name, data):
        """Same inode: truncate and write through the existing file."""
        with open(os.path.join(self.www, name), "r+b") as f:
            f.truncate(0)
            f.write(data)

    def deleted_fds(self, name):
        out = []
        fd_dir = "/proc/%d/fd" % self.srv.serving_pid()
        for fd in os.listdir(fd_dir):
            try:
                t = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if t.endswith("/" + name + " (deleted)"):
                out.append(t)
        return out

    def test_truncated_in_place(self):
        self.write("trunc.bin", BIG[:100 * 1024])
        self.assertEqual(self.srv.get("/hold/trunc.bin").body, BIG[:100 * 1024])
        self.rewrite_in_place("trunc.bin", b"short now\n")
        r = self.srv.get("/hold/trunc.bin")
        self.assertEqual((r.status, r.header("Content-Length"), r.body), (200, "10", b"short now\n"))
        r = self.srv.get("/hold/trunc.bin", {"Range": "bytes=50000-50099"})
        self.assertEqual(r.status, 416)

    def test_grown_in_place(self):
        old, new = BIG[:100 * 1024], BIG[-150 * 1024:]
        self.write("grow.bin", old)
        r1 = self.srv.get("/hold/grow.bin")
        self.assertEqual(r1.body, old)
        self.rewrite_in_place("grow.bin", new)
        r2 = self.srv.get("/hold/grow.bin")
        self.assertEqual((r2.status, r2.header("Content-Length")), (200, str(len(new))))
        self.assertTrue(r2.body == new, "not the new bytes")
        self.assertNotEqual(r2.header("ETag"), r1.header("ETag"))
        # the old validator no longer matches
        r = self.srv.get("/hold/grow.bin", {"If-None-Match": r1.header("ETag")})
        self.assertEqual((r.status, r.body), (200, new))

    def test_deleted_within_ttl(self):
        self.write("del.bin", BIG[:64 * 1024])
        self.assertEqual(self.srv.get("/hold/del.bin").status, 200)
        self.assertEqual(self.deleted_fds("del.bin"), [])
        os.unlink(os.path.join(self.www, "del.bin"))
        r = self.srv.get("/hold/del.bin")
        self.assertEqual(r.status, 404)
        self.assertEqual(self.deleted_fds("del.bin"), [])

    def test_replaced_by_rename_within_ttl(self):
        self.write("ren.bin", BIG[:64 * 1024])
        self.assertEqual(self.srv.get("/hold/ren.bin").body, BIG[:64 * 1024])
        self.write("ren.tmp", BIG[-70 * 1024:])
        os.rename(os.path.join(self.www, "ren.tmp"), os.path.join(self.www, "ren.bin"))
        r = self.srv.get("/hold/ren.bin")
        self.assertTrue(r.body == BIG[-70 * 1024:], "the replaced file's old bytes")

    def test_idle_descriptor_closed_after_ttl(self):
        self.write("gone.bin", BIG[:64 * 1024])
        self.assertEqual(self.srv.get("/idle/gone.bin").status, 200)
        os.unlink(os.path.join(self.www, "gone.bin"))
        self.assertEqual(len(self.deleted_fds("gone.bin")), 1)  # still cached
        # nobody asks for gone.bin again; other requests on the route let
        # the cache drop what stayed idle for cache_ttl (300ms)
        deadline = time.time() + 5
        while self.deleted_fds("gone.bin") and time.time() < deadline:
            self.assertEqual(self.srv.get("/idle/other.txt").status, 200)
            time.sleep(0.05)
        self.assertEqual(self.deleted_fds("gone.bin"), [])


class StaticWellKnownTest(unittest.TestCase):
    """well_known = on: /.well-known below the root is served although
    dotfiles are denied (ACME http-01); nothing else starting with '.'."""

    ROUTES = """
[route /]
plugin = static
root = www
well_known = on
autoindex = on

[route /off]
plugin = static
root = www
"""
    FILES = {
        "www/.well-known/acme-challenge/tok123": b"tok123.key\n",
        "www/.well-known/.hidden": b"hidden\n",
        "www/.env": b"SECRET_ENV=1\n",
        "www/sub/.well-known/x": b"not at the root\n",
    }

    def test_well_known(self):
        with harness.Server(harness.server_ini(routes=self.ROUTES), files=self.FILES) as srv:
            os.symlink(".well-known/acme-challenge/tok123", os.path.join(srv.dir, "www", "wk_link"))
            r = srv.get("/.well-known/acme-challenge/tok123")
            self.assertEqual((r.status, r.body), (200, b"tok123.key\n"))
            r = srv.get("/wk_link")
            self.assertEqual((r.status, r.body), (200, b"tok123.key\n"))
            r = srv.get("/.well-known/acme-challenge/")
            self.assertEqual(r.status, 200)
            self.assertIn(b">tok123</a>", r.body)
            for path in ("/.well-known/.hidden", "/.env", "/sub/.well-known/x", "/.well-knownx",
                         "/off/.well-known/acme-challenge/tok123", "/off/wk_link"):
                r = srv.get(path)
                self.assertEqual(r.status, 404, path)


class StaticConfigTest(unittest.TestCase):
    def start_expect_failure(self, route_keys):
        ini = harness.server_ini(routes="[route /]\nplugin = static\n" + route_keys)
        srv = harness.Server(ini, files={"www/index.html": b"x"}, expect_ready=False)
        try:
            deadline = time.time() + 15
            while srv.proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            self.assertIsNotNone(srv.proc.poll(), "server started with bad keys")
            self.assertNotEqual(srv.proc.returncode, 0)
            srv.stop()  # also waits until the whole log has been read
            return srv.log()
        finally:
            srv.stop()
            shutil.rmtree(srv.dir, ignore_errors=True)

    def test_unknown_key_refused(self):
        log = self.start_expect_failure("root = www\nautoindx = on\n")
        self.assertIn("autoindx", log)

    def test_missing_root_refused(self):
        log = self.start_expect_failure("index = index.html\n")
        self.assertIn("root", log)

    def test_bad_values_refused(self):
        for keys in ("root = www\nautoindex = maybe\n", "root = www\nsymlinks = everywhere\n",
                     "root = www\ndotfiles = sometimes\n", "root = no-such-dir\n",
                     "root = www\nindex = ../x.html\n", "root = www\ncache_ttl = soon\n",
                     "root = www\ncache_ttl = -1s\n", "root = www\ncache_ttl = 2d\n",
                     "root = www\ncache_entries = 0\n", "root = www\ncache_entries = 100000\n",
                     "root = www\ncache_max_file = 2m\n", "root = www\ncache_max_file = 1x\n",
                     "root = www\nwell_known = sometimes\n"):
            self.start_expect_failure(keys)

    def test_core_value_spellings(self):
        # the keys go through the server's parsers: spellings server.ini
        # accepts (1, Yes, 64KB, 1m, 5s) mean the same here
        routes = ("[route /a]\nplugin = static\nroot = www\nautoindex = 1\n"
                  "cache_max_file = 64KB\ncache_ttl = 1m\n\n"
                  "[route /b]\nplugin = static\nroot = www\nautoindex = Yes\n"
                  "precompressed = TRUE\ncache_max_file = 64k\ncache_ttl = 5s\n"
                  "cache_entries = 1k\n")
        files = {"www/d/x.txt": b"x\n"}
        with harness.Server(harness.server_ini(routes=routes), files=files) as srv:
            for p in ("/a/d/", "/b/d/"):
                r = srv.get(p)
                self.assertEqual(r.status, 200, p)
                self.assertIn(b'<a href="x.txt">x.txt</a>', r.body)

    def test_limits_after_parsing(self):
        for keys in ("root = www\ncache_max_file = 1025k\n", "root = www\ncache_max_file = 1g\n",
                     "root = www\ncache_ttl = 1441m\n", "root = www\ncache_entries = 65537\n",
                     "root = www\nautoindex = 2\n"):
            self.start_expect_failure(keys)


if __name__ == "__main__":
    harness.main()
