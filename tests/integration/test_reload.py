#!/usr/bin/env python3
"""Hot reload (SIGHUP) through the real server.

The fixture plugin "swap" is built twice (tests/plugins/version_a.c and
version_b.c): build A answers "A\\n", build B "B\\n", and every response names
its instance (X-Swap-Instance). Tests copy one build or the other over a
fixed file, swap.so, in the server's temp folder (written beside it, mode
0644, then renamed over it, as an admin deploying a rebuilt plugin would),
and point a route at it with `plugin = ./swap.so`.

Bounds asserted (stated here so a failure can be read against them):
  * 50 reloads under load: zero failed, reset or wrong responses on ~50
    keep-alive connections; both answers seen; afterwards exactly one
    mapped copy of swap.so (/proc/PID/maps, memfd name "plughttpd:swap.so")
    and one open memfd of it, and at most 2 more descriptors than at start.
  * 1,000 reloads, each loading a new copy of swap.so: afterwards at most
    2 more descriptors than after a 50-reload warm-up, and VmRSS less than
    8 MiB above it.
Every wait is bounded; no assertion depends on speed other than generous
upper bounds.
"""

import os
import platform
import re
import signal
import shutil
import socket
import tempfile
import threading
import time
import unittest

import harness

FIXTURE_DIR = harness.FIXTURE_DIR
VERSION_A = os.path.join(FIXTURE_DIR, "version_a.so")
VERSION_B = os.path.join(FIXTURE_DIR, "version_b.so")
MISBEHAVE = os.path.join(FIXTURE_DIR, "misbehave.so")

STATIC_DATA = bytes((i * 7) % 251 for i in range(50000))
ANSWER = {"a": b"A\n", "b": b"B\n"}
# one process: instances kept and created; a master: route configurations
# unchanged and checked (its workers create every instance)
SERVING = (r"reload: generation (\d+) serving \((\d+) route (?:instances kept|configurations unchanged), "
           r"(\d+) (?:created|checked)\b")
FAILED = r"reload failed, generation (\d+) keeps serving: (.*)"


def build(which):
    with open(VERSION_A if which == "a" else VERSION_B, "rb") as f:
        return f.read()


def need_fixtures(*paths):
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise unittest.SkipTest("fixture not built: %s (make check builds it)" % ", ".join(missing))


def install_plugin(folder, name, content, mode=0o644):
    """Writes content beside folder/name and renames it over: the server
    never reads a half-written file."""
    tmp = os.path.join(folder, ".%s.tmp" % name)
    with open(tmp, "wb") as f:
        f.write(content)
    os.chmod(tmp, mode)
    os.replace(tmp, os.path.join(folder, name))


def write_ini(srv, text):
    tmp = srv.ini + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, srv.ini)


def reload(srv, timeout=10.0):
    """SIGHUP, then wait for the outcome. Returns ("ok", match of SERVING)
    or ("failed", match of FAILED); fails the test on timeout."""
    start = harness.log_count(srv)
    srv.signal(signal.SIGHUP)
    m, _ = harness.wait_log_from(srv, "(?:%s)|(?:%s)" % (SERVING, FAILED), start, timeout)
    if m is None:
        raise AssertionError("no reload outcome logged within %.0f s:\n%s" % (timeout, srv.log()[-3000:]))
    if "keeps serving" in m.group(0):
        return "failed", re.search(FAILED, m.group(0))
    return "ok", re.search(SERVING, m.group(0))


def routes(swap_keys="", extra=""):
    return """
[route /echo]
plugin = echo

[route /static]
plugin = static
root = www

[route /swap]
plugin = ./swap.so
%s
%s
""" % (swap_keys, extra)


def load_check(path, r):
    """The right answer for each path the load generator asks for."""
    if r.status != 200:
        return "status %d for %s" % (r.status, path)
    if path.startswith("/echo/"):
        if ("Path: %s" % path.split("?")[0]).encode() not in r.body:
            return "echo body for %s: %r" % (path, r.body[:200])
    elif path == "/static/data.bin":
        if r.body != STATIC_DATA:
            return "static body: %d bytes, differs" % len(r.body)
    elif path == "/swap":
        if r.body not in (b"A\n", b"B\n"):
            return "swap body %r" % r.body
    return None


settle = harness.settle


def read_file(path):
    """The file's bytes, or b"" when it does not exist (yet)."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def swap_memfds(pid):
    return [t for t in harness.proc_fd_targets(pid) if "plughttpd:swap.so" in t]


class ReloadedLimits(unittest.TestCase):
    """processes = 0 (one process): a reload applies max_connections, and says that the
    sizes of the running thread pools (threads, blocking_threads,
    blocking_queue) keep their values until a restart."""

    def ini(self, extra, threads=1):
        return harness.server_ini(routes="[route /echo]\nplugin = echo\n", threads=threads, access_log="off",
                                  server_extra=extra + "\nprocesses = 0")

    def test_pool_sizes_warn(self):
        srv = harness.Server(self.ini("blocking_threads = 2\nblocking_queue = 16\nmax_connections = 100"))
        self.addCleanup(srv.stop)
        write_ini(srv, self.ini("blocking_threads = 3\nblocking_queue = 32\nmax_connections = 2", threads=2))
        start = harness.log_count(srv)
        outcome, _ = reload(srv)
        self.assertEqual(outcome, "ok", srv.log()[-2000:])
        log = "\n".join(srv.log_lines[start:])
        self.assertIn("reload: threads = 2 takes effect on restart; keeping 1", log)
        self.assertIn("reload: blocking_threads = 3 takes effect on restart; keeping 2", log)
        self.assertIn("reload: blocking_queue = 32 takes effect on restart; keeping 16", log)
        # a second reload compares with what runs, not with the last file
        start = harness.log_count(srv)
        self.assertEqual(reload(srv)[0], "ok")
        self.assertIn("blocking_threads = 3 takes effect on restart; keeping 2", "\n".join(srv.log_lines[start:]))
        self.assertEqual(srv.stop(), 0)

    def test_max_connections_applies(self):
        srv = harness.Server(self.ini("max_connections = 100"))
        self.addCleanup(srv.stop)
        write_ini(srv, self.ini("max_connections = 2"))
        self.assertEqual(reload(srv)[0], "ok", srv.log()[-2000:])
        # max_connections = 2 now: a third connection waits until one closes
        held = []
        for i in range(2):
            c = srv.connect()
            c.sendall(b"GET /echo/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            self.assertEqual(harness.read_responses(c, 1)[0].status, 200)
            held.append(c)
        third = srv.connect()
        third.sendall(b"GET /echo/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        third.settimeout(1.0)
        with self.assertRaises(socket.timeout, msg="a third connection was served at max_connections = 2"):
            third.recv(1)
        held.pop().close()
        third.settimeout(harness.IO_TIMEOUT)
        r = harness.read_responses(third, 1)
        self.assertEqual(r[0].status, 200)
        for c in held + [third]:
            c.close()
        self.assertEqual(srv.stop(), 0)


class ReloadPidFile(unittest.TestCase):
    """pid_file, user and group are used once, at start-up: a reload that
    changes them is told so, and the stop removes the pid file the start
    wrote, never a file the reloaded configuration names."""

    def check(self, processes):
        def ini(pid_file):
            return harness.server_ini(routes="[route /echo]\nplugin = echo\n", access_log="off",
                                      server_extra="processes = %d\npid_file = %s" % (processes, pid_file))
        folder = tempfile.mkdtemp(prefix="phpid-")
        self.addCleanup(shutil.rmtree, folder, True)
        first, other = os.path.join(folder, "first.pid"), os.path.join(folder, "other.txt")
        srv = harness.Server(ini(first))
        self.addCleanup(srv.stop)
        self.assertEqual(read_file(first), b"%d\n" % srv.proc.pid)
        with open(other, "w") as f:
            f.write("not the server's\n")
        write_ini(srv, ini(other))
        start = harness.log_count(srv)
        self.assertEqual(reload(srv)[0], "ok", srv.log()[-2000:])
        self.assertIn("reload: pid_file = %s takes effect on restart; keeping %s" % (other, first),
                      "\n".join(srv.log_lines[start:]))
        self.assertEqual(srv.stop(), 0)
        self.assertEqual(read_file(other), b"not the server's\n")
        self.assertFalse(os.path.exists(first), "the pid file the start wrote is left behind")

    def test_pid_file_changed_by_reload(self):
        self.check(1)

    def test_pid_file_changed_by_reload_processes(self):
        self.check(2)


class ReloadLogFiles(unittest.TestCase):
    def test_unopenable_error_log_keeps_both_log_files(self):
        """A reload whose error_log cannot be opened keeps the previous log
        files, both of them: the access log does not move alone."""
        folder = tempfile.mkdtemp(prefix="phlogs-")
        self.addCleanup(shutil.rmtree, folder, True)
        first, second = os.path.join(folder, "first.log"), os.path.join(folder, "second.log")

        def ini(access, extra=""):
            return harness.server_ini(routes="[route /echo]\nplugin = echo\n", access_log=access,
                                      server_extra=extra)
        srv = harness.Server(ini(first))
        self.addCleanup(srv.stop)
        write_ini(srv, ini(second, "error_log = /nonexistent-ph-dir/error.log"))
        start = harness.log_count(srv)
        self.assertEqual(reload(srv)[0], "ok", srv.log()[-2000:])
        self.assertIn("reload: keeping the previous log files", "\n".join(srv.log_lines[start:]))
        self.assertEqual(srv.get("/echo/after").status, 200)
        self.assertTrue(settle(lambda: read_file(first), lambda b: b"/echo/after" in b, 10), read_file(first))
        self.assertEqual(read_file(second), b"")
        self.assertEqual(srv.stop(), 0)


class ReloadUnderLoad(unittest.TestCase):
    def setUp(self):
        need_fixtures(VERSION_A, VERSION_B)

    def test_zero_failed_requests_across_50_reloads(self):
        # The access log is on, as in production: each reload reopens it,
        # and every request must still be logged exactly once.
        ini = harness.server_ini(routes=routes(), threads=2, access_log="access.log")
        files = {"www/data.bin": STATIC_DATA, "swap.so": build("a")}
        with harness.Server(ini, files=files) as srv:
            pid = srv.proc.pid
            for p in ("/echo/x", "/static/data.bin", "/swap"):  # warm-up: plugins may keep files open
                self.assertEqual(srv.get(p).status, 200)
            fds_start = harness.proc_fd_count(pid)
            paths = ["/echo/load?x=1", "/static/data.bin", "/swap"]
            load = harness.KeepAliveLoad(srv.port, paths, load_check, conns=50, max_requests=1000000,
                                         max_seconds=90).start()
            stale = []
            try:
                current = "a"
                for i in range(50):
                    current = "b" if current == "a" else "a"
                    install_plugin(srv.dir, "swap.so", build(current))
                    outcome, m = reload(srv)
                    self.assertEqual(outcome, "ok", m.group(0))
                    self.assertEqual(m.group(3), "1", "only /swap changed: " + m.group(0))
                    # A request that starts after the reload is reported
                    # done must run the new build.
                    r = srv.get("/swap")
                    if r.body != ANSWER[current]:
                        stale.append((i, r.body))
                    time.sleep(0.1)
                self.assertTrue(load.wait_requests(200, 30), "load made no progress after the reloads")
            finally:
                load.stop()
            self.assertEqual(len(load.failures), 0, "failed requests during reloads: " + load.summary())
            self.assertEqual(stale, [], "new requests answered by the old build after the reload finished")
            self.assertGreater(load.ok, 1000)
            self.assertGreater(load.seen.get(("/swap", b"A\n"), 0), 0, load.seen)
            self.assertGreater(load.seen.get(("/swap", b"B\n"), 0), 0, load.seen)
            expected = 3 + 50 + load.ok  # warm-up, one fresh request per reload, the load
            logged = settle(lambda: read_file(os.path.join(srv.dir, "access.log")).count(b"\n"),
                            lambda n: n >= expected, 5)
            self.assertEqual(logged, expected, "access log lines vs requests answered across 50 reopenings")

            # The old builds are really unloaded: one mapped copy of swap.so
            # (the current one), one memfd, descriptors back to the start.
            maps = settle(lambda: harness.proc_mapped_objects(pid, "plughttpd:swap.so"), lambda v: len(v) <= 1)
            self.assertEqual(len(maps), 1, "mapped copies of swap.so after 50 reloads: %r" % maps)
            memfds = settle(lambda: swap_memfds(pid), lambda v: len(v) <= 1)
            self.assertEqual(len(memfds), 1, memfds)
            fds = settle(lambda: harness.proc_fd_count(pid), lambda v: v <= fds_start + 2)
            self.assertLessEqual(fds, fds_start + 2, "descriptors: %d at start, %d after 50 reloads:\n%s"
                                 % (fds_start, fds, "\n".join(sorted(harness.proc_fd_targets(pid)))))
            self.assertIsNotNone(srv.wait_log(r"generation 50 released", 10), "old generations not released")
            self.assertEqual(srv.get("/swap").body, ANSWER[current])
            self.assertEqual(srv.stop(), 0)

    def test_1000_reloads_keep_fds_and_memory_flat(self):
        # Each reload installs the other build, so each one loads a new copy
        # of swap.so and releases the previous one.
        ini = harness.server_ini(routes=routes(), threads=2, access_log="off")
        files = {"www/data.bin": STATIC_DATA, "swap.so": build("a")}
        with harness.Server(ini, files=files) as srv:
            pid = srv.proc.pid
            contents = {"a": build("a"), "b": build("b")}
            current = ["a"]
            t_end = time.time() + 240

            def run(n):
                for i in range(n):
                    self.assertLess(time.time(), t_end, "1,000 reloads took over 240 s")
                    current[0] = "b" if current[0] == "a" else "a"
                    install_plugin(srv.dir, "swap.so", contents[current[0]])
                    outcome, m = reload(srv)
                    self.assertEqual(outcome, "ok", m.group(0))
                    if i % 50 == 0:
                        self.assertEqual(srv.get("/swap").body, ANSWER[current[0]])
                        self.assertEqual(srv.get("/static/data.bin").body, STATIC_DATA)

            run(50)  # warm-up: allocator arenas, the dynamic loader's caches
            time.sleep(0.5)
            fds0 = harness.proc_fd_count(pid)
            rss0 = harness.proc_rss_kib(pid)
            run(1000)
            fds1 = settle(lambda: harness.proc_fd_count(pid), lambda v: v <= fds0 + 2)
            rss1 = harness.proc_rss_kib(pid)
            self.assertLessEqual(fds1, fds0 + 2, "descriptors %d -> %d over 1,000 reloads:\n%s"
                                 % (fds0, fds1, "\n".join(sorted(harness.proc_fd_targets(pid)))))
            if not harness.SANITIZED:  # ASan's quarantine holds freed memory by design
                self.assertLess(rss1 - rss0, 8 * 1024, "VmRSS %d KiB -> %d KiB over 1,000 reloads" % (rss0, rss1))
            maps = settle(lambda: harness.proc_mapped_objects(pid, "plughttpd:swap.so"), lambda v: len(v) <= 1)
            self.assertEqual(len(maps), 1, maps)
            self.assertIsNotNone(srv.wait_log(r"generation 1050 released", 10))
            self.assertEqual(srv.get("/swap").body, ANSWER[current[0]])
            self.assertEqual(srv.stop(), 0)


class BadReload(unittest.TestCase):
    """A reload that fails changes nothing; the error names FILE:LINE."""

    def setUp(self):
        need_fixtures(VERSION_A, VERSION_B)

    def check_old_serving(self, srv, instance):
        r = srv.get("/swap")
        self.assertEqual((r.status, r.body), (200, b"A\n"))
        self.assertEqual(r.header("X-Swap-Instance"), instance, "the old instance must keep serving")
        self.assertEqual(srv.get("/echo/still").status, 200)
        self.assertEqual(srv.get("/static/data.bin").body, STATIC_DATA)

    def bad_reload(self, srv, text, needle, line_of, words):
        """Writes text, reloads, expects failure naming ini:LINE where LINE
        is the line holding needle, plus every word in words."""
        write_ini(srv, text)
        line = text.split("\n").index(needle) + 1
        outcome, m = reload(srv)
        self.assertEqual(outcome, "failed", "reload with %r should fail: %s" % (needle, m.group(0)))
        self.assertEqual(m.group(1), "1", m.group(0))
        self.assertIn("%s:%d:" % (srv.ini, line), m.group(2), "error must name the file and line of %r" % line_of)
        for w in words:
            self.assertIn(w, m.group(2))

    def test_bad_reloads_keep_old_routes(self):
        good = harness.server_ini(routes=routes(), threads=2, access_log="off")
        files = {"www/data.bin": STATIC_DATA, "swap.so": build("a"), "gw.so": build("b")}
        with harness.Server(good, files=files) as srv:
            instance = srv.get("/swap").header("X-Swap-Instance")
            self.assertTrue(instance)
            self.check_old_serving(srv, instance)  # warm-up: plugins may keep files open
            fds0 = harness.proc_fd_count(srv.proc.pid)

            with self.subTest("unknown key in [server]"):
                text = good.replace("[server]\n", "[server]\nno_such_key = 1\n")
                self.bad_reload(srv, text, "no_such_key = 1", "the unknown key", ["no_such_key"])
                self.check_old_serving(srv, instance)

            with self.subTest("missing plugin file"):
                text = good + "\n[route /gone]\nplugin = ./not-there.so\n"
                self.bad_reload(srv, text, "plugin = ./not-there.so", "plugin =", ["not-there.so"])
                self.check_old_serving(srv, instance)

            with self.subTest("plugin refuses its key"):
                text = good.replace("plugin = ./swap.so\n", "plugin = ./swap.so\ncolour = blue\n")
                self.bad_reload(srv, text, "colour = blue", "the refused key", ["colour", "refused"])
                self.check_old_serving(srv, instance)

            with self.subTest("group-writable plugin file"):
                os.chmod(os.path.join(srv.dir, "gw.so"), 0o664)
                text = good + "\n[route /gw]\nplugin = ./gw.so\n"
                self.bad_reload(srv, text, "plugin = ./gw.so", "plugin =", ["gw.so", "writable"])
                self.check_old_serving(srv, instance)

            bad_abi = os.path.join(FIXTURE_DIR, "bad_abi.so")
            if os.path.exists(bad_abi):
                with self.subTest("plugin built for another ABI"):
                    text = good + "\n[route /abi]\nplugin = %s\n" % bad_abi
                    self.bad_reload(srv, text, "plugin = %s" % bad_abi, "plugin =", ["ABI"])
                    self.check_old_serving(srv, instance)

            # Failed reloads leak nothing: every half-built generation was
            # thrown away with its libraries and descriptors.
            fds = settle(lambda: harness.proc_fd_count(srv.proc.pid), lambda v: v <= fds0)
            self.assertLessEqual(fds, fds0, "\n".join(sorted(harness.proc_fd_targets(srv.proc.pid))))

            # A later good reload works.
            install_plugin(srv.dir, "swap.so", build("b"))
            write_ini(srv, good)
            outcome, m = reload(srv)
            self.assertEqual(outcome, "ok", m.group(0))
            r = srv.get("/swap")
            self.assertEqual((r.status, r.body), (200, b"B\n"))
            self.assertNotEqual(r.header("X-Swap-Instance"), instance)
            self.assertEqual(srv.stop(), 0)


class KeptInstances(unittest.TestCase):
    def setUp(self):
        need_fixtures(VERSION_A, VERSION_B)

    def test_unchanged_routes_keep_their_instance(self):
        extra = "[route /swap2]\nplugin = ./swap.so\ntag = one\n"
        # one process: a kept instance is the very same one
        ini = harness.server_ini(routes=routes(extra=extra), access_log="off", server_extra="processes = 0")
        files = {"www/data.bin": STATIC_DATA, "swap.so": build("a")}
        with harness.Server(ini, files=files) as srv:
            def ids():
                return (srv.get("/swap").header("X-Swap-Instance"), srv.get("/swap2").header("X-Swap-Instance"))

            first = ids()
            self.assertNotEqual(first[0], first[1])

            # Nothing changed: all four instances kept.
            outcome, m = reload(srv)
            self.assertEqual((outcome, m.group(2), m.group(3)), ("ok", "4", "0"), m.group(0))
            self.assertEqual(ids(), first)

            # One route's key changed: only that route is re-created.
            write_ini(srv, ini.replace("tag = one", "tag = two"))
            outcome, m = reload(srv)
            self.assertEqual((outcome, m.group(2), m.group(3)), ("ok", "3", "1"), m.group(0))
            second = ids()
            self.assertEqual(second[0], first[0], "/swap did not change and must keep its instance")
            self.assertNotEqual(second[1], first[1], "/swap2 changed and must get a new instance")
            self.assertEqual(srv.get("/swap2").header("X-Swap-Tag"), "two")

            # The file rewritten with the same bytes (new mtime): content is
            # what counts, so everything is kept.
            time.sleep(0.05)
            install_plugin(srv.dir, "swap.so", build("a"))
            outcome, m = reload(srv)
            self.assertEqual((outcome, m.group(2), m.group(3)), ("ok", "4", "0"), m.group(0))
            self.assertEqual(ids(), second)

            # New content: both routes on that file are re-created, the
            # echo and static routes are kept.
            install_plugin(srv.dir, "swap.so", build("b"))
            outcome, m = reload(srv)
            self.assertEqual((outcome, m.group(2), m.group(3)), ("ok", "2", "2"), m.group(0))
            third = ids()
            self.assertNotEqual(third[0], second[0])
            self.assertNotEqual(third[1], second[1])
            self.assertEqual(srv.get("/swap").body, b"B\n")
            self.assertEqual(srv.get("/swap2").body, b"B\n")
            self.assertEqual(srv.stop(), 0)


class Listeners(unittest.TestCase):
    def free_port(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port

    def test_listeners_added_and_removed_on_reload(self):
        ini = harness.server_ini(routes="[route /echo]\nplugin = echo\n", threads=2, access_log="off")
        with harness.Server(ini) as srv:
            port_a = srv.port
            stop = threading.Event()
            result = {"ok": 0, "errors": []}

            # A client connecting in a tight loop to the unchanged listener.
            def hammer():
                deadline = time.time() + 60
                while not stop.is_set() and time.time() < deadline and result["ok"] < 100000:
                    try:
                        s = socket.create_connection(("127.0.0.1", port_a), timeout=5)
                        try:
                            s.sendall(b"GET /echo/h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                            data = harness.recv_all(s, 5)
                        finally:
                            s.close()
                        if not data.startswith(b"HTTP/1.1 200 "):
                            result["errors"].append("bad answer %r" % data[:60])
                        else:
                            result["ok"] += 1
                    except OSError as e:
                        result["errors"].append(repr(e))

            t = threading.Thread(target=hammer, daemon=True)
            t.start()
            try:
                port_b = self.free_port()
                start = harness.log_count(srv)
                write_ini(srv, harness.server_ini(routes="[route /echo]\nplugin = echo\n", threads=2,
                                                  access_log="off",
                                                  listen=("127.0.0.1:0", "127.0.0.1:%d" % port_b)))
                outcome, m = reload(srv)
                self.assertEqual(outcome, "ok", m.group(0))
                m, _ = harness.wait_log_from(srv, r"listening on 127\.0\.0\.1:%d\b" % port_b, start, 5)
                self.assertIsNotNone(m, "no 'listening on' line for the new listener")
                s = socket.create_connection(("127.0.0.1", port_b), timeout=5)
                s.sendall(b"GET /echo/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                r = harness.parse_responses(harness.recv_all(s, 5))[0]
                s.close()
                self.assertEqual(r.status, 200)

                write_ini(srv, ini)
                outcome, m = reload(srv)
                self.assertEqual(outcome, "ok", m.group(0))

                def refused():
                    try:
                        c = socket.create_connection(("127.0.0.1", port_b), timeout=1)
                    except ConnectionRefusedError:
                        return True
                    except OSError:
                        return False
                    c.close()
                    return False
                self.assertTrue(settle(refused, bool, 10), "the removed listener still accepts connections")
                self.assertEqual(srv.get("/echo/a").status, 200)
                time.sleep(0.2)
            finally:
                stop.set()
                t.join(10)
            self.assertEqual(result["errors"], [], "the unchanged listener failed during reloads")
            self.assertGreater(result["ok"], 10)
            self.assertEqual(srv.stop(), 0)


def sleeping_threads(pid):
    """Threads of pid inside nanosleep/clock_nanosleep (x86_64 numbers);
    None where that cannot be read."""
    calls = {"x86_64": ("35", "230"), "aarch64": ("101", "115")}.get(platform.machine())
    if calls is None:
        return None
    n = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                if f.read().split()[0] in calls:
                    n += 1
    except OSError:
        return None
    return n


class InFlight(unittest.TestCase):
    def setUp(self):
        need_fixtures(MISBEHAVE)

    def test_running_request_finishes_on_old_generation(self):
        mb = "[route /mb]\nplugin = %s\nblocking = yes\n" % MISBEHAVE
        echo = "[route /echo]\nplugin = echo\n"
        ini = harness.server_ini(routes=echo + mb, threads=2, access_log="off", server_extra="processes = 0")
        with harness.Server(ini) as srv:
            pid = srv.proc.pid
            out = {}

            def slow():
                try:
                    out["r"] = srv.get("/mb/sleep?ms=1500", timeout=15)
                except Exception as e:  # reported below
                    out["e"] = e

            t = threading.Thread(target=slow, daemon=True)
            t.start()
            # Wait until the request is really inside the plugin.
            if sleeping_threads(pid) is None:
                time.sleep(0.5)
            else:
                self.assertTrue(settle(lambda: sleeping_threads(pid), bool, 5), "request never reached the plugin")
            self.assertTrue(harness.proc_mapped_objects(pid, "plughttpd:misbehave.so"))

            write_ini(srv, harness.server_ini(routes=echo, threads=2, access_log="off", server_extra="processes = 0"))
            outcome, m = reload(srv)
            self.assertEqual(outcome, "ok", m.group(0))
            self.assertEqual(srv.get("/mb/sleep?ms=1").status, 404)
            self.assertEqual(srv.get("/echo/x").status, 200)
            self.assertTrue(t.is_alive(), "the slow request ended before the reload finished")
            self.assertNotRegex(srv.log(), r"generation 1 released",
                                "generation 1 released while its request still runs")
            self.assertTrue(harness.proc_mapped_objects(pid, "plughttpd:misbehave.so"),
                            "misbehave.so unmapped while its request still runs")
            t.join(15)
            self.assertNotIn("e", out, repr(out.get("e")))
            self.assertEqual((out["r"].status, out["r"].body), (200, b"slept 1500\n"))
            self.assertIsNotNone(srv.wait_log(r"generation 1 released", 5))
            maps = settle(lambda: harness.proc_mapped_objects(pid, "plughttpd:misbehave.so"), lambda v: not v)
            self.assertEqual(maps, set(), "misbehave.so still mapped after its last request")
            self.assertEqual(srv.stop(), 0)

    def test_sigterm_lets_in_flight_requests_finish(self):
        mb = "[route /mb]\nplugin = %s\nblocking = yes\n" % MISBEHAVE
        ini = harness.server_ini(routes=mb, threads=2, access_log="off", server_extra="processes = 0")
        with harness.Server(ini) as srv:
            pid, port = srv.proc.pid, srv.port
            outs = [{} for _ in range(4)]

            def slow(out):
                try:
                    out["r"] = srv.get("/mb/sleep?ms=1200", timeout=15)
                except Exception as e:  # reported below
                    out["e"] = e

            threads = [threading.Thread(target=slow, args=(o,), daemon=True) for o in outs]
            for t in threads:
                t.start()
            if sleeping_threads(pid) is None:
                time.sleep(0.5)
            else:
                self.assertTrue(settle(lambda: sleeping_threads(pid) >= len(outs), bool, 5),
                                "requests never reached the plugin")
            srv.signal(signal.SIGTERM)
            self.assertIsNotNone(srv.wait_log(r"SIGTERM: stopping", 5))
            for t in threads:
                t.join(15)
            for o in outs:
                self.assertNotIn("e", o, repr(o.get("e")))
                self.assertEqual((o["r"].status, o["r"].body), (200, b"slept 1200\n"))
            self.assertEqual(srv.stop(), 0)
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()


class LogReopen(unittest.TestCase):
    def test_sigusr1_reopens_access_log(self):
        with harness.Server(harness.server_ini(routes="[route /echo]\nplugin = echo\n",
                                               access_log="access.log")) as srv:
            log = os.path.join(srv.dir, "access.log")
            self.assertEqual(srv.get("/echo/before").status, 200)
            self.assertTrue(settle(lambda: b"/echo/before" in read_file(log), bool, 5))
            os.rename(log, log + ".1")
            start = harness.log_count(srv)
            srv.signal(signal.SIGUSR1)
            m, _ = harness.wait_log_from(srv, r"log files reopened", start, 5)
            self.assertIsNotNone(m, srv.log()[-2000:])
            self.assertEqual(srv.get("/echo/after").status, 200)
            self.assertTrue(settle(lambda: b"/echo/after" in read_file(log), bool, 5),
                            "the new access.log lacks the request made after SIGUSR1")
            with open(log + ".1", "rb") as f:
                self.assertNotIn(b"/echo/after", f.read())
            self.assertEqual(srv.stop(), 0)


class RefusedPluginFiles(unittest.TestCase):
    def setUp(self):
        need_fixtures(VERSION_A)

    def run_with_file(self, prepare):
        """Starts a server whose /swap plugin file went through prepare();
        returns (exit code, log)."""
        d = tempfile.mkdtemp(prefix="phtest-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "swap.so")
        install_plugin(d, "swap.so", build("a"))
        prepare(path)
        ini = harness.server_ini(routes="[route /swap]\nplugin = %s\n" % path, access_log="off")
        srv = harness.Server(ini, expect_ready=False)
        deadline = time.time() + harness.START_TIMEOUT
        while srv.proc.poll() is None and not srv._ready.is_set() and time.time() < deadline:
            time.sleep(0.02)
        rc = srv.stop()
        line = ini.split("\n").index("plugin = %s" % path) + 1
        return rc, srv.log(), "%s:%d:" % (srv.ini, line)

    def test_group_writable_plugin_refused(self):
        rc, log, where = self.run_with_file(lambda p: os.chmod(p, 0o664))
        self.assertNotEqual(rc, 0, log)
        self.assertIn("writable", log)
        self.assertIn(where, log)
        self.assertNotRegex(log, r"\bready\b")

    def test_world_writable_plugin_refused(self):
        rc, log, where = self.run_with_file(lambda p: os.chmod(p, 0o646))
        self.assertNotEqual(rc, 0, log)
        self.assertIn("writable", log)

    def test_plugin_owned_by_another_user_refused(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to give the file away")
        import pwd
        try:
            nobody = pwd.getpwnam("nobody").pw_uid
        except KeyError:
            self.skipTest("no user nobody")
        rc, log, where = self.run_with_file(lambda p: os.chown(p, nobody, -1))
        self.assertNotEqual(rc, 0, log)
        self.assertIn("owned by uid %d" % nobody, log)
        self.assertIn(where, log)

    def test_mode_0644_root_owned_plugin_accepted(self):
        rc, log, where = self.run_with_file(lambda p: None)
        self.assertRegex(log, r"\bready\b")
        self.assertEqual(rc, 0, log)


if __name__ == "__main__":
    harness.main()
