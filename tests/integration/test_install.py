#!/usr/bin/env python3
"""What `make install` installs, checked where it lands.

The build under test is installed into a scratch DESTDIR (make's
install-exec and install-data: what `make install` runs after `all`, which
`make check` has already built; `all` would re-link the build tree's plugin
folder under the feet of the tests running next to this one). Then:

- the installed files are exactly the expected ones, at the paths configure
  chose (read from the build's Makefile), with no @placeholder@ left in any;
- the unit names the installed binary and configuration, passes
  `systemd-analyze verify` and has an offline security exposure of at most
  2.0; the man page and pkg-config file name the configured paths; the
  installed binary's built-in defaults are those paths;
- the installed binary, with the installed plugins and the installed
  configuration (its listen address, plugin folder and data paths moved
  into DESTDIR and a scratch folder), serves a request from every bundled
  plugin;
- the example out-of-tree plugin Makefile builds a plugin against the
  installed tree (pkg-config with the installed plughttpd-plugin.pc), and
  the installed server runs it.

CI (.ci/run) configures its normal build with a non-default prefix,
sbindir and sysconfdir, so a path that ignores configure shows up there.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness


BUILDDIR = os.path.dirname(os.path.abspath(harness.BINARY))
ANALYZE = shutil.which("systemd-analyze")
PLACEHOLDER = re.compile(rb"@[A-Za-z_]+@")
# In a compiled file any three bytes may read "@e@": there, look only for
# the names configure and automake substitute.
NAMED_PLACEHOLDER = re.compile(rb"@(?:prefix|exec_prefix|[a-z]*dir|PACKAGE[A-Z_]*|VERSION|[A-Z]+_(?:CFLAGS|LIBS))@")
PLUGINS = ("access", "auth_basic", "compress", "data", "echo", "errorpages", "headers", "proxy", "pubsub",
           "ratelimit", "return", "static", "status")
PATH_VARS = ("prefix", "bindir", "sbindir", "sysconfdir", "libdir", "includedir", "mandir", "pkgdatadir", "plugindir",
             "systemdunitdir", "docdir", "VERSION")


def make_env():
    """The environment without make's own variables: the jobserver
    descriptors they name are not passed down to this test."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    return env


def configured_paths(scratch):
    """configure's installation paths, expanded, as the build's make sees them."""
    mk = os.path.join(scratch, "print-paths.mk")
    with open(mk, "w") as f:
        f.write("ph-print-paths:\n" + "".join("\t@echo '%s=$(%s)'\n" % (v, v) for v in PATH_VARS))
    out = subprocess.run(["make", "-s", "-C", BUILDDIR, "-f", "Makefile", "-f", mk, "ph-print-paths"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                         env=make_env(), timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stdout)
    paths = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    missing = [v for v in PATH_VARS if not paths.get(v)]
    if missing:
        raise RuntimeError("no value for %s in:\n%s" % (missing, out.stdout))
    return paths


def setUpModule():
    global SCRATCH, DEST, P
    SCRATCH = tempfile.mkdtemp(prefix="phinstall-")
    DEST = os.path.join(SCRATCH, "dest")
    P = configured_paths(SCRATCH)
    out = subprocess.run(["make", "-C", BUILDDIR, "install-exec", "install-data", "DESTDIR=" + DEST],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                         env=make_env(), timeout=600)
    if out.returncode != 0:
        raise RuntimeError("make install failed:\n" + out.stdout[-4000:])


def tearDownModule():
    if not os.environ.get("PH_KEEP_TMP"):
        shutil.rmtree(SCRATCH, ignore_errors=True)


def dest(path):
    """Where an installed path lands under DESTDIR."""
    return DEST + path


def read(path, mode="r"):
    with open(dest(path), mode) as f:
        return f.read()



def installed_files():
    out = set()
    for root, _, files in os.walk(DEST):
        for name in files:
            out.add(os.path.join(root, name)[len(DEST):])
    return out


class Files(unittest.TestCase):
    def test_exactly_the_expected_files(self):
        www = sorted(os.listdir(os.path.join(harness.SRCDIR, "www")))
        want = {P["sbindir"] + "/plughttpd",
                P["bindir"] + "/plughttpd-plugin",
                P["includedir"] + "/plughttpd/plugin.h",
                P["includedir"] + "/plughttpd/test.h",
                P["libdir"] + "/pkgconfig/plughttpd-plugin.pc",
                P["libdir"] + "/pkgconfig/plughttpd-test.pc",
                P["libdir"] + "/libplughttpd-test.so",
                P["libdir"] + "/libplughttpd-test.so.0",
                P["libdir"] + "/libplughttpd-test.so.0.0.0",
                P["docdir"] + "/examples/echo.c",
                P["docdir"] + "/examples/counter.c",
                P["docdir"] + "/examples/skeleton/Makefile",
                P["docdir"] + "/examples/skeleton/skeleton.c",
                P["docdir"] + "/examples/skeleton/test_skeleton.c",
                P["mandir"] + "/man3/plughttpd-test.3",
                P["systemdunitdir"] + "/plughttpd.service",
                P["systemdunitdir"] + "/plughttpd.socket",
                P["mandir"] + "/man8/plughttpd.8",
                P["mandir"] + "/man3/plughttpd-plugin.3",
                P["mandir"] + "/man5/server.ini.5",
                P["sysconfdir"] + "/plughttpd/server.ini",
                P["sysconfdir"] + "/plughttpd/schema.sql",
                P["sysconfdir"] + "/plughttpd/schema.pg.sql",
                P["sysconfdir"] + "/plughttpd/schema.mysql.sql"}
        want |= {"%s/%s.so" % (P["plugindir"], p) for p in PLUGINS}
        want |= {"%s/www/%s" % (P["pkgdatadir"], w) for w in www}
        self.assertEqual(installed_files(), want)
        self.assertTrue(os.access(dest(P["sbindir"] + "/plughttpd"), os.X_OK))

    def test_no_placeholder_left(self):
        for path in sorted(installed_files()):
            data = read(path, "rb")
            m = (NAMED_PLACEHOLDER if data.startswith(b"\x7fELF") else PLACEHOLDER).search(data)
            self.assertIsNone(m, "%s: %r left unsubstituted" % (path, m and m.group(0)))

    def test_pkg_config(self):
        env = dict(os.environ, PKG_CONFIG_PATH=dest(P["libdir"] + "/pkgconfig"), PKG_CONFIG_LIBDIR="")
        def q(*args):
            return subprocess.run(["pkg-config"] + list(args) + ["plughttpd-plugin"], env=env, check=True,
                                  stdout=subprocess.PIPE, universal_newlines=True, timeout=20).stdout.strip()
        self.assertEqual(q("--variable=plugindir"), P["plugindir"])
        self.assertEqual(q("--modversion"), P["VERSION"])
        self.assertIn("-I" + P["includedir"], q("--cflags").split())
        self.assertIn("-pthread", q("--cflags").split())
        self.assertIn("-pthread", q("--libs").split())

    def test_man_page_paths(self):
        text = read(P["mandir"] + "/man8/plughttpd.8")
        self.assertIn(P["sysconfdir"] + "/plughttpd/server.ini", text)
        self.assertIn(P["plugindir"] + "/", text)
        self.assertIn('"plughttpd %s"' % P["VERSION"], text)
        allowed = (P["sysconfdir"] + "/", P["plugindir"] + "/", P["pkgdatadir"] + "/", "/var/lib/plughttpd/")
        for line in text.split("\n"):
            if line.startswith((".I ", ".IR ")):
                path = line.split()[1]
                if path.startswith("/"):
                    self.assertTrue(path.startswith(allowed), "%r is none of the configured paths %s" %
                                    (line, allowed))

    @unittest.skipUnless(shutil.which("man"), "man not installed")
    def test_man_page_renders(self):
        p = subprocess.run(["man", "--warnings", "-l", "-E", "UTF-8", dest(P["mandir"] + "/man8/plughttpd.8")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                           env=dict(os.environ, MANWIDTH="80"), timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        # A configured path longer than the line (distcheck's prefix) cannot
        # be broken; that says nothing about the page's markup.
        warnings = [l for l in p.stderr.splitlines() if "can't break line" not in l]
        self.assertEqual(warnings, [])
        self.assertIn("Default plugin folder", p.stdout)

    @unittest.skipUnless(shutil.which("man"), "man not installed")
    def test_plugin_man_page_renders(self):
        page = dest(P["mandir"] + "/man3/plughttpd-plugin.3")
        p = subprocess.run(["man", "--warnings", "-l", "-E", "UTF-8", page], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, env=dict(os.environ, MANWIDTH="80"),
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        self.assertIn('plughttpd %s' % P["VERSION"], p.stdout)
        self.assertIn("api->resume", p.stdout)


class Unit(unittest.TestCase):
    def setUp(self):
        self.path = dest(P["systemdunitdir"] + "/plughttpd.service")
        self.text = read(P["systemdunitdir"] + "/plughttpd.service")

    def test_exec_lines_name_the_installed_files(self):
        conf = P["sysconfdir"] + "/plughttpd/server.ini"
        binary = P["sbindir"] + "/plughttpd"
        self.assertEqual(harness.unit_values(self.text, "ExecStartPre"), ["%s -t -c %s" % (binary, conf)])
        self.assertEqual(harness.unit_values(self.text, "ExecStart"), ["%s -c %s" % (binary, conf)])
        self.assertTrue(os.access(dest(binary), os.X_OK))
        self.assertTrue(os.path.isfile(dest(conf)))

    @unittest.skipIf(ANALYZE is None, "systemd-analyze not installed (.ci/deps installs the systemd package)")
    def test_verify(self):
        # The unit names the installed paths, which exist under DESTDIR
        # only: verify a copy whose configured paths carry the DESTDIR
        # prefix, with the installed socket unit next to it and the
        # installed man page on MANPATH (Documentation=man:plughttpd(8)).
        d = os.path.join(SCRATCH, "verify")
        os.makedirs(d, exist_ok=True)
        text = self.text
        for var in ("sbindir", "sysconfdir"):
            self.assertIn(P[var] + "/", text)
            text = text.replace(P[var] + "/", dest(P[var]) + "/")
        with open(os.path.join(d, "plughttpd.service"), "w") as f:
            f.write(text)
        shutil.copy(dest(P["systemdunitdir"] + "/plughttpd.socket"), d)
        env = dict(os.environ, MANPATH=dest(P["mandir"]))
        man = "--man=yes" if shutil.which("man") else "--man=no"
        for unit in ("plughttpd.service", "plughttpd.socket"):
            p = subprocess.run([ANALYZE, "verify", man, os.path.join(d, unit)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True, timeout=60, cwd=d, env=env)
            self.assertEqual(p.returncode, 0, p.stdout)
            self.assertNotIn("plughttpd.", p.stdout)

    @unittest.skipIf(ANALYZE is None, "systemd-analyze not installed (.ci/deps installs the systemd package)")
    def test_security_exposure_at_most_2(self):
        p = subprocess.run([ANALYZE, "security", "--offline=yes", self.path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        m = re.search(r"Overall exposure level for plughttpd\.service: (\d+\.\d+)", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        self.assertLessEqual(float(m.group(1)), 2.0, p.stdout)


def installed_ini(scratch):
    """The installed server.ini, moved to a scratch folder and port: each
    rewritten line must be found, so a change to the installed file cannot
    quietly leave part of it untested."""
    text = read(P["sysconfdir"] + "/plughttpd/server.ini")
    edits = [
        ("listen = 8080\n", "listen = 127.0.0.1:0\n"),
        ("[server]\n", "[server]\nplugin_dir = %s\n" % dest(P["plugindir"])),
        ("root = %s/www\n" % P["pkgdatadir"], "root = %s/www\n" % dest(P["pkgdatadir"])),
        ("database = sqlite:/var/lib/plughttpd/app.db\n", "database = sqlite:%s/app.db\n" % scratch),
        ("schema = schema.sql\n", "schema = %s/plughttpd/schema.sql\n" % dest(P["sysconfdir"])),
    ]
    for old, new in edits:
        if text.count(old) != 1:
            raise AssertionError("installed server.ini: %r not found once in:\n%s" % (old, text))
        text = text.replace(old, new)
    return text


class Run(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix="phinstrun-")
        self.addCleanup(shutil.rmtree, self.scratch, True)
        self.binary = dest(P["sbindir"] + "/plughttpd")
        saved = harness.BINARY
        harness.BINARY = self.binary
        self.addCleanup(setattr, harness, "BINARY", saved)

    def run_binary(self, *args):
        return subprocess.run([self.binary] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=60)

    def test_built_in_defaults_are_the_configured_paths(self):
        p = self.run_binary("-h")
        self.assertIn("default %s/plughttpd/server.ini" % P["sysconfdir"], p.stdout)
        # plugin_dir's default: a configuration without it looks there.
        ini = os.path.join(self.scratch, "s.ini")
        with open(ini, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:0\n\n[route /echo]\nplugin = echo\n")
        p = self.run_binary("-t", "-c", ini)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(P["plugindir"] + "/echo.so", p.stdout)

    def test_check_passes(self):
        ini = os.path.join(self.scratch, "server.ini")
        with open(ini, "w") as f:
            f.write(installed_ini(self.scratch))
        p = self.run_binary("-t", "-c", ini)
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_serves_every_bundled_plugin(self):
        with harness.Server(installed_ini(self.scratch)) as srv:
            r = srv.get("/")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, read(P["pkgdatadir"] + "/www/index.html", "rb"))
            r = srv.get("/echo/installed")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.body.startswith(b"Method: GET\n"), r.body[:200])
            self.assertIn(b"Subpath: /installed\n", r.body)
            note = json.dumps({"title": "installed"}).encode()
            r = srv.get("/api/notes", method="POST", body=note, headers={"Content-Type": "application/json"})
            self.assertEqual(r.status, 201, r.body)
            r = srv.get("/api/notes")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual([n["title"] for n in json.loads(r.body)], ["installed"])
            self.assertEqual(srv.stop(), 0)

    def build_examples(self):
        """The out-of-tree examples, built by their Makefile against the
        installed tree only; returns their folder."""
        src = os.path.join(harness.SRCDIR, "tests", "integration", "plugin_oot")
        work = os.path.join(self.scratch, "oot")
        shutil.copytree(src, work)
        # The installed .pc names the final paths; PKG_CONFIG_SYSROOT_DIR
        # maps them into DESTDIR. PKG_CONFIG_LIBDIR="" hides any system
        # plughttpd-plugin.pc (and the source tree's header is not on the
        # path at all), so only the installed files can satisfy the build.
        env = make_env()
        env.update(PKG_CONFIG_PATH=dest(P["libdir"] + "/pkgconfig"), PKG_CONFIG_LIBDIR="",
                   PKG_CONFIG_SYSROOT_DIR=DEST, CFLAGS="-O2 -Wall -Wextra -Werror")
        p = subprocess.run(["make", "-C", work], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("-I%s%s" % (DEST, P["includedir"]), p.stdout)
        self.assertIn("-o oot_async.so oot_async.c -pthread", p.stdout)
        self.assertIn("-o oot_coro.so oot_coro.c", p.stdout)
        return work

    @unittest.skipUnless(shutil.which("cc") and shutil.which("pkg-config"), "no C compiler or pkg-config")
    def test_example_plugin_makefile_builds_against_the_installed_tree(self):
        so = os.path.join(self.build_examples(), "hello.so")
        ini = installed_ini(self.scratch) + "\n[route /hi]\nplugin = %s\ngreeting = installed\n" % so
        with harness.Server(ini) as srv:
            r = srv.get("/hi/there")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"installed /there\n")
            self.assertEqual(srv.stop(), 0)

    @unittest.skipUnless(shutil.which("cc"), "no C compiler")
    def test_counter_example_counts_across_worker_processes(self):
        """The installed shared-zone example, built against the installed
        header alone, counts the requests of both worker processes in one
        zone (test_zones.py shows both processes adding to it)."""
        so = os.path.join(self.scratch, "counter.so")
        p = subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror",
                            "-I" + dest(P["includedir"]), "-o", so, dest(P["docdir"] + "/examples/counter.c")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout)
        ini = installed_ini(self.scratch).replace("[server]\n", "[server]\nprocesses = 2\n", 1)
        ini += "\n[route /count]\nplugin = %s\n" % so
        with harness.Server(ini) as srv:
            for n in range(1, 11):
                body = srv.get("/count").body.decode()
                self.assertRegex(body, r"^count %d process [01] pid \d+\n$" % n)
            self.assertEqual(srv.stop(), 0)

    @unittest.skipUnless(shutil.which("cc") and shutil.which("pkg-config"), "no C compiler or pkg-config")
    def test_async_example_checks_its_keys(self):
        so = os.path.join(self.build_examples(), "oot_async.so")
        p = self.run_binary("--check-plugin", so, "mode=stream", "delay=20ms", "ticks=3")
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("plugin: oot_async 1.0", p.stdout)
        self.assertIn("ABI: %s" % harness.header_abi(), p.stdout)
        for key, msg in (("delay=61s", 'delay is a duration up to 60s, not "61s"'),
                         ("ticks=0", 'ticks is a count from 1 to 1000, not "0"'),
                         ("mode=later", 'mode is answer or stream, not "later"'),
                         ("color=red", 'unknown key "color"')):
            p = self.run_binary("--check-plugin", so, key)
            self.assertNotEqual(p.returncode, 0, p.stdout)
            self.assertIn(msg, p.stdout)

    @unittest.skipUnless(shutil.which("cc") and shutil.which("pkg-config"), "no C compiler or pkg-config")
    def test_async_example_answers_later_and_streams(self):
        so = os.path.join(self.build_examples(), "oot_async.so")
        ini = installed_ini(self.scratch) + (
            "\n[route /late]\nplugin = %s\ndelay = 30ms\n"
            "\n[route /ticks]\nplugin = %s\nmode = stream\ndelay = 20ms\nticks = 3\n" % (so, so))
        with harness.Server(ini) as srv:
            t0 = time.monotonic()
            r = srv.get("/late/there")
            self.assertGreaterEqual(time.monotonic() - t0, 0.030)
            self.assertEqual((r.status, r.body), (200, b"async /there after 30 ms\n"))
            # HTTP/1.1: chunked, three lines released 20 ms apart, then the
            # trailer.
            t0 = time.monotonic()
            status, headers, body, trailers = chunked_with_trailers(srv.raw(
                b"GET /ticks/ HTTP/1.1\r\nHost: localhost\r\nTE: trailers\r\nConnection: close\r\n\r\n"))
            self.assertGreaterEqual(time.monotonic() - t0, 0.060)
            self.assertEqual(status, 200)
            self.assertIn(("transfer-encoding", "chunked"), headers)
            self.assertEqual(body, b"tick 1\ntick 2\ntick 3\n")
            self.assertEqual(trailers, [("x-ticks", "3")])
            # HTTP/1.0: delimited by the close, no trailer.
            r = harness.parse_responses(srv.raw(b"GET /ticks/ HTTP/1.0\r\n\r\n"))[0]
            self.assertEqual((r.status, r.body), (200, b"tick 1\ntick 2\ntick 3\n"))
            self.assertIsNone(r.header("X-Ticks"))
            self.assertEqual(srv.stop(), 0)

    @unittest.skipUnless(shutil.which("cc") and shutil.which("pkg-config"), "no C compiler or pkg-config")
    def test_coro_example_checks_its_keys(self):
        so = os.path.join(self.build_examples(), "oot_coro.so")
        p = self.run_binary("--check-plugin", so, "upstream=127.0.0.1:9", "timeout=300ms")
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("plugin: oot_coro 1.0", p.stdout)
        self.assertIn("ABI: %s" % harness.header_abi(), p.stdout)
        for keys, msg in ((("timeout=61s", "upstream=127.0.0.1:9"), 'timeout is a duration up to 60s, not "61s"'),
                          (("timeout=1s",), "upstream is required"),
                          (("upstream=",), 'upstream is host:port or unix:/path, not ""'),
                          (("color=red",), 'unknown key "color"')):
            p = self.run_binary("--check-plugin", so, *keys)
            self.assertNotEqual(p.returncode, 0, p.stdout)
            self.assertIn(msg, p.stdout)

    @unittest.skipUnless(shutil.which("cc") and shutil.which("pkg-config"), "no C compiler or pkg-config")
    def test_coro_example_relays_a_line(self):
        so = os.path.join(self.build_examples(), "oot_coro.so")
        ups = [LineUpstream(), LineUpstream(os.path.join(self.scratch, "up.sock"))]
        for u in ups:
            self.addCleanup(u.close)
        silent = LineUpstream(silent=True)
        self.addCleanup(silent.close)
        ini = installed_ini(self.scratch) + "".join(
            "\n[route /%s]\nplugin = %s\nupstream = %s\ntimeout = 300ms\n" % (name, so, addr)
            for name, addr in (("tcp", ups[0].address), ("unix", ups[1].address),
                               ("refused", "127.0.0.1:%d" % closed_port()), ("silent", silent.address)))
        with harness.Server(ini) as srv:
            for name in ("tcp", "unix"):
                r = srv.get("/%s/hello" % name)
                self.assertEqual((r.status, r.body), (200, b"upstream got /hello\n"), name)
                self.assertEqual(r.header("Content-Type"), "text/plain")
            # a decoded newline would make two lines upstream: refused
            # (by the core today, which takes no control byte in a path;
            # the plugin checks too, as plugin.h does not promise it)
            self.assertEqual(srv.get("/tcp/a%0Aecho%20b").status, 400)
            r = srv.get("/refused/x")
            self.assertEqual((r.status, r.body), (502, b"upstream connect: Connection refused\n"))
            t0 = time.monotonic()
            r = srv.get("/silent/x")
            self.assertGreaterEqual(time.monotonic() - t0, 0.3)
            self.assertEqual((r.status, r.body), (504, b"upstream read: Connection timed out\n"))
            self.assertEqual(srv.stop(), 0)


class LineUpstream:
    """Answers each line with "upstream got LINE" (or, silent, never),
    on TCP 127.0.0.1 or a unix socket; one thread per connection."""

    def __init__(self, unix_path=None, silent=False):
        self.silent = silent
        self.stop = threading.Event()
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.address = "unix:" + unix_path
        else:
            self.sock = socket.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.sock.listen(16)
        self.sock.settimeout(0.2)
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
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(10)
        buf = b""
        try:
            while b"\n" not in buf:
                b = c.recv(4096)
                if not b:
                    return
                buf += b
            if self.silent:
                self.stop.wait(10)
                return
            c.sendall(b"upstream got " + buf.partition(b"\n")[0] + b"\n")
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(5)


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def chunked_with_trailers(data):
    """Status, headers, decoded body and trailer fields (names lower-cased)
    of one chunked response."""
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = lambda ls: [(k.strip().lower(), v.strip()) for k, _, v in (l.partition(":") for l in ls)]
    body = b""
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body, rest = body + rest[:size], rest[size + 2:]
    trailer, _, tail = rest.partition(b"\r\n\r\n")
    if tail:
        raise AssertionError("bytes after the response: %r" % tail[:100])
    tlines = trailer.decode("latin-1").split("\r\n") if trailer else []
    return int(lines[0].split()[1]), fields(lines[1:]), body, fields(tlines)


if __name__ == "__main__":
    harness.main()
