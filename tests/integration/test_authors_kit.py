#!/usr/bin/env python3
"""The plugin author's kit, from the installed tree only.

The build is installed into a scratch DESTDIR (as tests/integration/
test_install.py does). Then, with nothing but that tree on PATH,
PKG_CONFIG_PATH and the library path (no source or build tree path):
`plughttpd-plugin new hello` writes a project; `make`, `make check` (its
Check tests on libplughttpd-test) and `make install` into a scratch plugin
folder pass; `plughttpd --check-plugin` accepts the result; the installed
server mounts it and serves its answer; the answer is changed in the
source, rebuilt, installed over the old one, and after SIGHUP the server
serves the new one.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from test_install import configured_paths, make_env

BUILDDIR = os.path.dirname(os.path.abspath(harness.BINARY))


def build_flags(scratch):
    """make variables for the project: in a sanitizer build, the installed
    harness library is instrumented, so the test program must be too (with
    the build's compiler, whose runtime the library expects)."""
    mk = os.path.join(scratch, "print-flags.mk")
    with open(mk, "w") as f:
        f.write("ph-print-flags:\n\t@echo 'CC=$(CC)'\n\t@echo 'SAN_CFLAGS=$(SAN_CFLAGS)'\n"
                "\t@echo 'SAN_LDFLAGS=$(SAN_LDFLAGS)'\n")
    out = subprocess.run(["make", "-s", "-C", BUILDDIR, "-f", "Makefile", "-f", mk, "ph-print-flags"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                         env=make_env(), timeout=120, check=True)
    v = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    if not v.get("SAN_LDFLAGS"):
        return []
    return ["CC=" + v["CC"], "CFLAGS=-O1 -g " + v["SAN_CFLAGS"], "LDFLAGS=" + v["SAN_LDFLAGS"]]


def setUpModule():
    global SCRATCH, DEST, P, ENV, MAKEVARS
    SCRATCH = tempfile.mkdtemp(prefix="phkit-")
    DEST = os.path.join(SCRATCH, "dest")
    P = configured_paths(SCRATCH)
    MAKEVARS = build_flags(SCRATCH)
    out = subprocess.run(["make", "-C", BUILDDIR, "install", "DESTDIR=" + DEST],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                         env=make_env(), timeout=600)
    if out.returncode != 0:
        raise RuntimeError("make install failed:\n" + out.stdout[-4000:])
    ENV = make_env()
    ENV["PATH"] = "%s:%s:%s" % (DEST + P["bindir"], DEST + P["sbindir"], "/usr/bin:/bin")
    # The .pc files name the configured prefix; the sysroot puts DESTDIR
    # in front of their -I and -L paths.
    ENV["PKG_CONFIG_PATH"] = DEST + P["libdir"] + "/pkgconfig"
    ENV["PKG_CONFIG_SYSROOT_DIR"] = DEST
    ENV["LD_LIBRARY_PATH"] = DEST + P["libdir"]
    ENV.pop("PKG_CONFIG_LIBDIR", None)


def tearDownModule():
    if not os.environ.get("PH_KEEP_TMP"):
        shutil.rmtree(SCRATCH, ignore_errors=True)


def run(args, cwd, timeout=300):
    out = subprocess.run(args, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=timeout)
    if out.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(args), out.returncode, out.stdout[-6000:]))
    return out.stdout


class AuthorsKit(unittest.TestCase):
    def test_new_build_check_install_serve_reload(self):
        work = os.path.join(SCRATCH, "work")
        plugins = os.path.join(SCRATCH, "plugins")
        os.makedirs(work)
        out = run(["plughttpd-plugin", "new", "hello"], work)
        project = os.path.join(work, "hello")
        self.assertEqual(sorted(os.listdir(project)), ["Makefile", "hello.c", "test_hello.c"], out)
        with open(os.path.join(project, "hello.c")) as f:
            self.assertNotIn(SCRATCH, f.read())
        run(["make"] + MAKEVARS, project)
        out = run(["make", "check"] + MAKEVARS, project)
        self.assertIn("100%: Checks: 3, Failures: 0, Errors: 0", out)
        run(["make", "install", "PLUGINDIR=" + plugins], project)
        so = os.path.join(plugins, "hello.so")
        self.assertTrue(os.path.isfile(so))
        out = run(["plughttpd", "--check-plugin", so], project)
        self.assertIn("plugin: hello 0.1", out)
        self.assertIn("instance: created and destroyed with 0 key(s): ok", out)

        harness.BINARY = DEST + P["sbindir"] + "/plughttpd"
        ini = harness.server_ini(routes="[route /hi]\nplugin = %s\n" % so)
        with harness.Server(ini, env={"PATH": ENV["PATH"]}) as srv:
            r = srv.get("/hi")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"hello from hello\n")

            src = os.path.join(project, "hello.c")
            with open(src) as f:
                text = f.read()
            with open(src, "w") as f:
                f.write(text.replace('"hello from hello"', '"hello again"'))
            run(["make"] + MAKEVARS, project)
            run(["make", "install", "PLUGINDIR=" + plugins], project)
            m = srv.reload(ini, r"reload: generation \d+ serving|reload failed")
            self.assertIsNotNone(m, srv.log())
            self.assertIn("serving", m.group(0), srv.log())
            r = srv.get("/hi")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"hello again\n")

    def test_refuses_bad_names_and_existing_folders(self):
        work = tempfile.mkdtemp(dir=SCRATCH)
        for bad in ("Hello", "1x", "a-b", ""):
            p = subprocess.run(["plughttpd-plugin", "new", bad], cwd=work, env=ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=20)
            self.assertNotEqual(p.returncode, 0, bad)
        os.mkdir(os.path.join(work, "taken"))
        p = subprocess.run(["plughttpd-plugin", "new", "taken"], cwd=work, env=ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=20)
        self.assertEqual(p.returncode, 1)
        self.assertIn("exists", p.stderr)
        self.assertEqual(os.listdir(os.path.join(work, "taken")), [])

    def test_examples_installed(self):
        docdir = DEST + P["docdir"] + "/examples"
        self.assertTrue(os.path.isfile(os.path.join(docdir, "echo.c")))
        self.assertEqual(sorted(os.listdir(os.path.join(docdir, "skeleton"))),
                         ["Makefile", "skeleton.c", "test_skeleton.c"])

    def test_man_page_renders(self):
        if not shutil.which("man"):
            self.skipTest("man is not installed")
        page = DEST + P["mandir"] + "/man3/plughttpd-test.3"
        p = subprocess.run(["man", "--warnings", "-l", "-E", "UTF-8", page], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, env=dict(ENV, MANWIDTH="80"),
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        self.assertIn("ph_test_plugin_start", p.stdout)
        self.assertIn(P["docdir"] + "/examples", p.stdout.replace("\u2010\n", "").replace("-\n", ""))


if __name__ == "__main__":
    unittest.main()
