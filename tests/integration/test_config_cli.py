#!/usr/bin/env python3
"""The command line (-v, -h, -t, --check-plugin), configuration errors that
name their file and line, and the signals that act on configuration and
logs: SIGHUP reload (good and bad) and SIGUSR1 log reopening."""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Server, server_ini

FIX = harness.FIXTURE_DIR
ECHO_SO = os.path.join(harness.PLUGIN_DIR, "echo.so")


def run(*args, timeout=30):
    """Run the binary with args; returns the CompletedProcess (text)."""
    return subprocess.run(harness.WRAPPER + [harness.BINARY] + list(args),
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def server_abi():
    m = re.search(r"plugin ABI (\d+)\.(\d+)", run("-v").stdout)
    return int(m.group(1)), int(m.group(2))


def line_of(text, needle):
    """1-based number of the first line of text containing needle."""
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in config" % needle)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConfigFiles(unittest.TestCase):
    """Helpers to write a config into a temp folder."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="phcfg-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, text, name="server.ini"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class CommandLineTest(ConfigFiles):
    def test_version(self):
        p = run("-v")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^plughttpd \d+\.\d+\S* \(plugin ABI \d+\.\d+\)\n$")
        p2 = run("--version")
        self.assertEqual((p2.returncode, p2.stdout), (0, p.stdout))

    def test_help(self):
        p = run("-h")
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith("Usage: plughttpd"), p.stdout)
        for opt in ("-c FILE", "-t", "-v", "--check-plugin"):
            self.assertIn(opt, p.stdout)

    def test_bad_option(self):
        p = run("--no-such-option")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Usage:", p.stderr)
        p = run("-c")
        self.assertNotEqual(p.returncode, 0)

    def test_missing_config_file(self):
        path = os.path.join(self.dir, "absent.ini")
        p = run("-t", "-c", path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(path, p.stderr)

    def test_t_good_config_does_not_bind(self):
        port = free_port()
        text = server_ini(routes="[route /echo]\nplugin = echo\n",
                          listen=("127.0.0.1:%d" % port,))
        path = self.write(text)
        holder = socket.socket()
        holder.bind(("127.0.0.1", port))  # no SO_REUSEPORT: any bind fails
        holder.listen(1)
        try:
            p = run("-t", "-c", path)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("ok", p.stdout)
            self.assertIn(path, p.stdout)
            # the port really is taken: starting the server for real fails
            srv = Server(text, expect_ready=False)
            try:
                srv.proc.wait(timeout=15)
            finally:
                rc = srv.stop()
            self.assertNotEqual(rc, 0, srv.log())
            self.assertNotRegex(srv.log(), r"\bready\b")
        finally:
            holder.close()

    def test_t_good_config_while_server_runs(self):
        port = free_port()
        ini = server_ini(routes="[route /echo]\nplugin = echo\n",
                         listen=("127.0.0.1:%d" % port,))
        with Server(ini) as srv:
            p = run("-t", "-c", srv.ini)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("ok", p.stdout)
            self.assertEqual(srv.get("/echo/x").status, 200)


class BadConfigTest(ConfigFiles):
    """Each bad config: -t fails naming FILE:LINE, and so does a real start,
    which never listens."""

    def check_bad(self, text, needle, *fragments, line=None):
        path = self.write(text)
        if line is None:
            line = line_of(text, needle)
        where = "%s:%d:" % (path, line)
        p = run("-t", "-c", path)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn(where, p.stderr)
        for frag in fragments:
            self.assertIn(frag, p.stderr)
        self.assertNotIn("is ok", p.stdout)
        # a real start: same error, non-zero exit, never listening
        srv = Server(text, expect_ready=False)
        try:
            srv.proc.wait(timeout=15)
        finally:
            rc = srv.stop()
        log = srv.log()
        self.assertNotEqual(rc, 0, log)
        self.assertIn(os.path.basename(where.split(":")[0]) + ":%d:" % line, log)
        for frag in fragments:
            self.assertIn(frag, log)
        self.assertNotIn("listening on", log)
        self.assertNotRegex(log, r"\bready\b")
        return p.stderr

    def test_access_log_that_cannot_be_opened(self):
        text = server_ini(routes="[route /echo]\nplugin = echo\n", access_log="/nonexistent-ph-dir/access.log")
        self.check_bad(text, "access_log =", "access_log /nonexistent-ph-dir/access.log: No such file or directory")

    def test_error_log_that_cannot_be_opened(self):
        text = server_ini(routes="[route /echo]\nplugin = echo\n",
                          server_extra="error_log = /nonexistent-ph-dir/error.log")
        self.check_bad(text, "error_log =", "error_log /nonexistent-ph-dir/error.log: No such file or directory")

    def test_pid_file_that_cannot_be_written(self):
        text = server_ini(routes="[route /echo]\nplugin = echo\n",
                          server_extra="pid_file = /nonexistent-ph-dir/plughttpd.pid")
        self.check_bad(text, "pid_file =", "pid_file /nonexistent-ph-dir/plughttpd.pid: No such file or directory")

    def test_bad_server_header(self):
        for value in ("tab\there", "x" * 129):
            text = server_ini(routes="[route /echo]\nplugin = echo\n", server_extra="server_header = %s" % value)
            self.check_bad(text, "server_header =", "server_header must be off or printable text of at most 128 bytes")

    def test_unknown_user_and_group(self):
        text = server_ini(routes="[route /echo]\nplugin = echo\n", server_extra="user = no-such-user-ph")
        self.check_bad(text, "user =", "user no-such-user-ph: no such user")
        text = server_ini(routes="[route /echo]\nplugin = echo\n", server_extra="group = no-such-group-ph")
        self.check_bad(text, "group =", "group no-such-group-ph: no such group")

    def test_unknown_server_key(self):
        text = server_ini(routes="[route /echo]\nplugin = echo\n",
                          server_extra="bogus_key = 1")
        self.check_bad(text, "bogus_key", "bogus_key")

    def test_bad_value(self):
        text = server_ini(routes="[route /echo]\nplugin = echo\n",
                          server_extra="header_timeout = soon")
        self.check_bad(text, "header_timeout", "header_timeout")

    def test_route_without_plugin(self):
        text = server_ini(routes="[route /echo]\nplugin = echo\n\n[route /empty]\nx = 1\n")
        self.check_bad(text, "[route /empty]", "/empty")

    def test_plugin_file_missing(self):
        text = server_ini(routes="[route /echo]\n\nplugin = no_such_plugin_here\n")
        self.check_bad(text, "plugin = no_such", "no_such_plugin_here")
        missing = os.path.join(self.dir, "gone", "x.so")
        text = server_ini(routes="[route /a]\nplugin = %s\n" % missing)
        self.check_bad(text, "plugin = " + missing, missing)

    def test_bad_abi_plugin(self):
        major, minor = server_abi()
        so = os.path.join(FIX, "bad_abi.so")
        text = server_ini(routes="[route /echo]\nplugin = echo\n[route /bad]\nplugin = %s\n" % so)
        err = self.check_bad(text, "bad_abi.so", so)
        self.assertIn("%d.0" % (major + 1), err)
        self.assertIn("%d.%d" % (major, minor), err)

    def test_plugin_without_symbol(self):
        so = os.path.join(FIX, "no_symbol.so")
        text = server_ini(routes="[route /ns]\nplugin = %s\n" % so)
        err = self.check_bad(text, "no_symbol.so", so)
        self.assertIn("plughttpd_plugin", err)

    def test_plugin_refuses_key(self):
        so = os.path.join(FIX, "refuse.so")
        text = server_ini(routes="[route /r]\nplugin = %s\nok = yes\n\nbad = 1\n" % so)
        self.check_bad(text, "bad = 1", "bad")

    def test_plugin_refuses_value(self):
        so = os.path.join(FIX, "refuse.so")
        text = server_ini(routes="[route /r]\nplugin = %s\nok = no\n" % so)
        err = self.check_bad(text, "ok = no", "ok must be")
        # the plugin's hint (ABI 1.3 ph_error_t.hint) follows its message
        self.assertIn('ok must be "yes", not "no" (the only value is yes)', err)

    def test_echo_refuses_unknown_key(self):
        text = server_ini(routes="[route /echo]\nplugin = echo\nstatus = 201\ncolour = red\n")
        self.check_bad(text, "colour = red", "colour")

    def test_over_long_line(self):
        text = server_ini(routes="[route /echo]\nplugin = echo\nheader = X-Long: %s\n" % ("v" * 300))
        self.check_bad(text, "X-Long", "longer than")

    def test_syntax_error(self):
        text = server_ini(routes="[route /echo]\nplugin = echo\nthis is not a key\n")
        self.check_bad(text, "this is not", "syntax")

    def test_key_outside_section(self):
        text = "stray = 1\n" + server_ini(routes="[route /echo]\nplugin = echo\n")
        self.check_bad(text, "stray", "stray")

    def test_duplicate_route(self):
        text = server_ini(routes="[route /echo]\nplugin = echo\n[route /echo/]\nplugin = echo\n")
        self.check_bad(text, "[route /echo/]", "/echo")

    def test_good_plugin_keys_accepted(self):
        so = os.path.join(FIX, "refuse.so")
        path = self.write(server_ini(routes="[route /r]\nplugin = %s\nok = yes\n" % so))
        p = run("-t", "-c", path)
        self.assertEqual(p.returncode, 0, p.stderr)


class StartupLogTest(ConfigFiles):
    """What the start-up says goes to error_log once it is configured,
    plugins' messages included; stderr says where a failed start's reason is."""

    VERSION_A = os.path.join(harness.FIXTURE_DIR, "version_a.so")

    def wait_for(self, path, needle, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    text = f.read()
                if needle in text:
                    return text
            time.sleep(0.01)
        return None

    def test_plugin_messages_at_startup_go_to_error_log(self):
        errlog = os.path.join(self.dir, "error.log")
        for processes in (0, 1, 2):
            os.path.exists(errlog) and os.unlink(errlog)
            text = server_ini(routes="[route /swap]\nplugin = %s\n" % self.VERSION_A,
                              server_extra="error_log = %s\nprocesses = %d" % (errlog, processes))
            srv = Server(text, expect_ready=False)
            try:
                log = self.wait_for(errlog, "ready: plughttpd")
                self.assertIsNotNone(log, srv.log())
            finally:
                self.assertEqual(srv.stop(), 0)
            self.assertRegex(log, r"plugin: swap: (create|check) pid %d" % srv.proc.pid)
            self.assertEqual(srv.log(), "", "start-up messages on stderr")

    def test_failed_start_names_the_error_log_on_stderr(self):
        errlog = os.path.join(self.dir, "error.log")
        text = server_ini(routes="[route /swap]\nplugin = %s\nbogus = 1\n" % self.VERSION_A,
                          server_extra="error_log = %s" % errlog)
        srv = Server(text, expect_ready=False)
        try:
            rc = srv.proc.wait(15)
        finally:
            srv.stop()
        self.assertEqual(rc, 1)
        self.assertIn("plughttpd: start failed; the reason is in %s" % errlog, srv.log())
        with open(errlog) as f:
            log = f.read()
        self.assertIn("server.ini:%d: [route /swap] plugin swap refused its configuration: unknown or repeated key "
                      "\"bogus\"" % line_of(text, "bogus = 1"), log)
        self.assertNotIn("listening on", log)


class CheckLeavesNothingTest(ConfigFiles):
    """-t and --check-plugin tell plugins it is a check (PH_CREATE_CHECK):
    the data plugin validates its tables against the database, or against
    the schema when the database does not exist yet, and creates nothing."""

    SCHEMA = "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n"

    def config(self, tables="notes", schema=SCHEMA):
        self.write(schema, "schema.sql")
        return self.write(server_ini(routes="[route /api]\nplugin = data\n"
                                     "database = sqlite:db/notes.db\nschema = schema.sql\n"
                                     "tables = %s\n" % tables))

    def test_missing_database_is_checked_against_the_schema_and_not_created(self):
        p = run("-t", "-c", self.config())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("checked, nothing changed", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "db")), os.listdir(self.dir))

    def test_unknown_table_fails_without_creating(self):
        p = run("-t", "-c", self.config(tables="notes, nosuch"))
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("nosuch", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "db")))

    def test_broken_schema_fails_without_creating(self):
        p = run("-t", "-c", self.config(schema="CREATE TABLE notes (;\n"))
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("schema", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "db")))

    def test_existing_database_is_left_untouched(self):
        os.makedirs(os.path.join(self.dir, "db"))
        db = os.path.join(self.dir, "db", "notes.db")
        con = sqlite3.connect(db)
        con.executescript(self.SCHEMA + "INSERT INTO notes (title) VALUES ('kept');")
        con.close()
        with open(db, "rb") as f:
            before = f.read()
        p = run("-t", "-c", self.config())
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(db, "rb") as f:
            self.assertEqual(f.read(), before, "-t changed the database file")
        # a rollback journal database stays one: -t did not switch it to WAL
        self.assertEqual(sorted(os.listdir(os.path.join(self.dir, "db"))), ["notes.db"])

    def test_check_plugin_creates_nothing(self):
        self.write(self.SCHEMA, "schema.sql")
        p = subprocess.run(harness.WRAPPER + [harness.BINARY, "--check-plugin",
                           os.path.join(harness.PLUGIN_DIR, "data.so"), "database=sqlite:db/x.db",
                           "schema=schema.sql", "tables=notes"],
                           cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "db")))


class CheckPluginTest(unittest.TestCase):
    def test_echo_ok(self):
        p = run("--check-plugin", ECHO_SO)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("plugin: echo", p.stdout)
        self.assertIn("ok", p.stdout)

    def test_echo_with_good_keys(self):
        p = run("--check-plugin", ECHO_SO, "status=201", "header=X-A: b")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("2 key(s): ok", p.stdout)

    def test_echo_unknown_key(self):
        p = run("--check-plugin", ECHO_SO, "status=201", "bogus=1")
        self.assertEqual(p.returncode, 1)
        self.assertIn("bogus", p.stderr)
        self.assertNotIn("created and destroyed", p.stdout)

    def test_echo_bad_value(self):
        p = run("--check-plugin", ECHO_SO, "status=99")
        self.assertEqual(p.returncode, 1)
        self.assertIn("status", p.stderr)

    def test_bad_abi(self):
        major, minor = server_abi()
        so = os.path.join(FIX, "bad_abi.so")
        p = run("--check-plugin", so)
        self.assertEqual(p.returncode, 1)
        self.assertIn(so, p.stderr)
        self.assertIn("%d.0" % (major + 1), p.stderr)
        self.assertIn("%d.%d" % (major, minor), p.stderr)

    def test_no_symbol(self):
        so = os.path.join(FIX, "no_symbol.so")
        p = run("--check-plugin", so)
        self.assertEqual(p.returncode, 1)
        self.assertIn("plughttpd_plugin", p.stderr)

    def test_old_minor_loads(self):
        p = run("--check-plugin", os.path.join(FIX, "old_minor.so"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("ok", p.stdout)

    def test_missing_file(self):
        p = run("--check-plugin", "/nonexistent/plugin.so")
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/plugin.so", p.stderr)

    def test_no_argument(self):
        p = run("--check-plugin")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Usage", p.stderr)


ROUTES = "[route /echo]\nplugin = echo\n"


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(server_ini(routes=ROUTES, threads=2, server_extra="processes = 0"))

    def tearDown(self):
        self.srv.stop()

    def rewrite(self, text):
        with open(self.srv.ini, "w") as f:
            f.write(text)

    def reload_and_wait(self, pattern):
        before = len(self.srv.log_lines)
        self.srv.signal(signal.SIGHUP)
        deadline = time.time() + harness.IO_TIMEOUT
        while time.time() < deadline:
            with self.srv._lock:
                lines = self.srv.log_lines[before:]
            for line in lines:
                if re.search(pattern, line):
                    return line
            time.sleep(0.02)
        self.fail("no log line matching %r after SIGHUP:\n%s" % (pattern, self.srv.log()))

    def test_reload_adds_route(self):
        self.assertEqual(self.srv.get("/echo2/x").status, 404)
        with self.srv.connect() as keep:  # a connection open across the reload
            keep.sendall(b"GET /echo/before HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(harness.read_responses(keep, 1)[0].status, 200)
            self.rewrite(server_ini(routes=ROUTES + "\n[route /echo2]\nplugin = echo\n"
                                    "header = X-Gen: two\n", threads=2))
            self.reload_and_wait(r"reload: generation \d+ serving")
            r = self.srv.get("/echo2/x")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("X-Gen"), "two")
            self.assertIn(b"Subpath: /x\n", r.body)
            self.assertEqual(self.srv.get("/echo/x").status, 200)
            keep.sendall(b"GET /echo2/after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            rs = harness.read_responses(keep, 1)
            self.assertEqual(rs[0].status, 200)
            self.assertEqual(rs[0].header("X-Gen"), "two")

    def test_reload_removes_route(self):
        self.rewrite(server_ini(routes="[route /other]\nplugin = echo\n", threads=2))
        self.reload_and_wait(r"reload: generation \d+ serving")
        self.assertEqual(self.srv.get("/echo/x").status, 404)
        self.assertEqual(self.srv.get("/other/x").status, 200)

    def test_bad_reload_keeps_old_routes(self):
        text = server_ini(routes=ROUTES + "\n[route /echo2]\nplugin = echo\n",
                          server_extra="no_such_key = 1", threads=2)
        self.rewrite(text)
        line = self.reload_and_wait(r"reload failed")
        self.assertIn("%s:%d:" % (self.srv.ini, line_of(text, "no_such_key")), line)
        self.assertIn("[error]", line)
        self.assertEqual(self.srv.get("/echo/x").status, 200)
        self.assertEqual(self.srv.get("/echo2/x").status, 404)
        # a later good reload still works
        self.rewrite(server_ini(routes=ROUTES + "\n[route /echo2]\nplugin = echo\n", threads=2))
        self.reload_and_wait(r"reload: generation \d+ serving")
        self.assertEqual(self.srv.get("/echo2/x").status, 200)

    def test_reload_with_refusing_plugin_keeps_old_routes(self):
        so = os.path.join(FIX, "refuse.so")
        text = server_ini(routes=ROUTES + "\n[route /r]\nplugin = %s\nbad = 1\n" % so, threads=2)
        self.rewrite(text)
        line = self.reload_and_wait(r"reload failed")
        self.assertIn("%s:%d:" % (self.srv.ini, line_of(text, "bad = 1")), line)
        self.assertEqual(self.srv.get("/echo/x").status, 200)
        self.assertEqual(self.srv.get("/r/x").status, 404)


class LogReopenTest(unittest.TestCase):
    def test_sigusr1_reopens_access_log(self):
        srv = Server(server_ini(routes=ROUTES, access_log="access.log"))
        try:
            path = os.path.join(srv.dir, "access.log")
            self.assertEqual(srv.get("/echo/first").status, 200)
            self.assertTrue(wait_for(lambda: "/echo/first" in read(path)), read(path))
            os.rename(path, path + ".1")
            srv.signal(signal.SIGUSR1)
            self.assertIsNotNone(srv.wait_log(r"log files reopened"), srv.log())
            self.assertEqual(srv.get("/echo/second").status, 200)
            self.assertTrue(wait_for(lambda: "/echo/second" in read(path)),
                            "no new access.log after SIGUSR1")
            old = read(path + ".1")
            self.assertIn("/echo/first", old)
            self.assertNotIn("/echo/second", old)
            self.assertNotIn("/echo/first", read(path))
        finally:
            srv.stop()


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_for(cond, timeout=harness.IO_TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


if __name__ == "__main__":
    harness.main()
