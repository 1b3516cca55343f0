#!/usr/bin/env python3
"""Started as root with `user = nobody`, `group = nogroup`: what needs root
is done before the drop, and what runs after it (reloads, log reopening,
plugins) works as the user.

  * pid_file in a folder only root may write (as /run): written;
  * error_log and access_log in a folder only root may write (as
    /var/log/plughttpd): SIGUSR1 reopens them in place, and after a
    logrotate-style rotation (rename, then `create 0640 nobody nogroup`)
    the lines arrive in the new files;
  * a SQLite database in a folder of the user (as /var/lib/plughttpd): a
    route added by a reload writes to it (201, not 503);
each with processes = 0 (one process) and processes = 2. Skipped unless run as root.
(Unix-socket ownership is tested with the listener.)
"""

import json
import os
import pwd
import grp
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness

USER, GROUP = "nobody", "nogroup"


def ids():
    try:
        return pwd.getpwnam(USER).pw_uid, grp.getgrnam(GROUP).gr_gid
    except KeyError:
        return None


def wait_file(path, pattern, timeout=15.0, start=0):
    """Waits until the file's text from offset start matches pattern;
    returns the match or None."""
    rx = re.compile(pattern)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path, errors="replace") as f:
                f.seek(start)
                m = rx.search(f.read())
            if m:
                return m
        except OSError:
            pass
        time.sleep(0.01)
    return None


def get(port, path, method="GET", body=None, headers=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    with s:
        head = "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % (method, path)
        for k, v in (headers or {}).items():
            head += "%s: %s\r\n" % (k, v)
        if body is not None:
            head += "Content-Length: %d\r\n" % len(body)
        s.sendall(head.encode() + b"\r\n" + (body or b""))
        r = harness.read_responses(s, 1, timeout=10)
        return r[0] if r else None


class Privileges(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("not root")
        if ids() is None:
            raise unittest.SkipTest("no user %s or group %s" % (USER, GROUP))
        self.uid, self.gid = ids()
        # A tree every user may traverse: run/ and log/ root's (0755), db/ the user's.
        self.top = tempfile.mkdtemp(prefix="phpriv-")
        self.addCleanup(shutil.rmtree, self.top, True)
        os.chmod(self.top, 0o755)
        for d in ("run", "log", "db"):
            os.mkdir(os.path.join(self.top, d), 0o755)
        os.chown(os.path.join(self.top, "db"), self.uid, self.gid)

    def path(self, *p):
        return os.path.join(self.top, *p)

    def start(self, processes, routes="[route /echo]\nplugin = echo\n", logs=False, pid_file=False):
        extra = "user = %s\ngroup = %s\nprocesses = %d" % (USER, GROUP, processes)
        if pid_file:
            extra += "\npid_file = %s" % self.path("run", "plughttpd.pid")
        if logs:
            extra += "\nerror_log = %s" % self.path("log", "error.log")
        ini = harness.server_ini(routes=routes, threads=1, server_extra=extra,
                                 access_log=self.path("log", "access.log") if logs else "off")
        srv = harness.Server(ini, expect_ready=not logs)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)   # reloads read server.ini as the user
        os.chmod(srv.ini, 0o644)
        if logs:
            errlog = self.path("log", "error.log")
            m = wait_file(errlog, r"ready: plughttpd")
            self.assertIsNotNone(m, "not ready; error log:\n%s\nstderr:\n%s" % (self.read("log", "error.log"), srv.log()))
            srv.test_port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", self.read("log", "error.log")).group(1))
        else:
            srv.test_port = srv.port
        return srv

    def read(self, *p):
        try:
            with open(self.path(*p), errors="replace") as f:
                return f.read()
        except OSError as e:
            return "(%s)" % e

    def reload(self, srv, gen, log_path=None):
        if log_path:
            start = os.path.getsize(log_path)
            srv.signal(signal.SIGHUP)
            m = wait_file(log_path, r"reload: generation %d serving|reload failed.*" % gen, start=start)
        else:
            i = harness.log_count(srv)
            srv.signal(signal.SIGHUP)
            m, _ = harness.wait_log_from(srv, r"reload: generation %d serving|reload failed.*" % gen, i, 20)
        self.assertIsNotNone(m, srv.log()[-3000:])
        self.assertIn("serving", m.group(0))

    # --- pid file -----------------------------------------------------
    def check_pid_file(self, processes):
        srv = self.start(processes, pid_file=True)
        st = os.stat(self.path("run"))
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o755))
        self.assertEqual(self.read("run", "plughttpd.pid"), "%d\n" % srv.proc.pid)
        # it runs as the user
        with open("/proc/%d/status" % srv.proc.pid) as f:
            uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", f.read(), re.M).groups()
        self.assertEqual(uids, (str(self.uid), str(self.uid)))
        self.assertEqual(get(srv.test_port, "/echo/x").status, 200)
        self.assertEqual(srv.stop(), 0)
        # the user may not remove it from root's folder: it says so
        self.assertRegex(srv.log(), r"pid_file \S+plughttpd\.pid left in place: Permission denied")

    def test_pid_file_in_root_folder(self):
        self.check_pid_file(0)

    def test_pid_file_in_root_folder_processes(self):
        self.check_pid_file(2)

    # --- log files ----------------------------------------------------
    def check_log_reopen(self, processes):
        srv = self.start(processes, logs=True)
        errlog, acclog = self.path("log", "error.log"), self.path("log", "access.log")
        # in place (copytruncate style): the files the server created as root
        start = os.path.getsize(errlog)
        srv.signal(signal.SIGUSR1)
        after = self.wait_reopened(processes, start)
        self.assertNotIn("reopening log files", after)
        self.assertEqual(get(srv.test_port, "/echo/inplace").status, 200)
        self.assertIsNotNone(wait_file(acclog, r"GET /echo/inplace "), self.read("log", "access.log"))
        # logrotate: rename, create 0640 nobody nogroup, SIGUSR1
        for p in (errlog, acclog):
            os.rename(p, p + ".1")
            fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o640)
            os.fchown(fd, self.uid, self.gid)
            os.close(fd)
        srv.signal(signal.SIGUSR1)
        # Every worker process reopens on its own: until the last one has,
        # a request it serves is logged in access.log.1.
        self.wait_reopened(processes, 0)
        self.assertEqual(get(srv.test_port, "/echo/rotated").status, 200)
        self.assertIsNotNone(wait_file(acclog, r"GET /echo/rotated "),
                             "access.log:\n%s\naccess.log.1:\n%s" % (self.read("log", "access.log"),
                                                                     self.read("log", "access.log.1")))
        self.assertNotIn("/echo/rotated", self.read("log", "access.log.1"))
        self.assertEqual(srv.stop(), 0)
        self.assertRegex(self.read("log", "error.log"), r"stopped")

    def wait_reopened(self, processes, start):
        """Waits until error.log, from offset start, says "log files
        reopened" once per worker process (the single process says it
        itself); returns that text."""
        deadline = time.time() + 10
        while time.time() < deadline and self.read("log", "error.log")[start:].count("log files reopened") < max(processes, 1):
            time.sleep(0.01)
        after = self.read("log", "error.log")[start:]
        self.assertEqual(after.count("log files reopened"), max(processes, 1),
                         "error.log:\n%s\nerror.log.1:\n%s" % (after, self.read("log", "error.log.1")[-2000:]))
        return after

    def test_log_reopen_after_drop(self):
        self.check_log_reopen(0)

    def test_log_reopen_after_drop_processes(self):
        self.check_log_reopen(2)

    # --- a database touched by a reload -------------------------------
    def check_database_reload(self, processes):
        schema = os.path.join(harness.SRCDIR, "conf", "schema.sql")
        route = "[route %%s]\nplugin = data\ndatabase = sqlite:%s\nschema = %s\ntables = notes\n" % (
            self.path("db", "notes.db"), schema)
        srv = self.start(processes, routes=route % "/api")
        body = json.dumps({"title": "before"}).encode()
        hdr = {"Content-Type": "application/json"}
        r = get(srv.test_port, "/api/notes", "POST", body, hdr)
        self.assertEqual(r.status, 201, r.body)
        with open(srv.ini) as f:
            ini = f.read()
        with open(srv.ini, "w") as f:
            f.write(ini + "\n" + route % "/api2")
        self.reload(srv, 2)
        for prefix in ("/api2", "/api"):
            r = get(srv.test_port, prefix + "/notes", "POST", json.dumps({"title": prefix}).encode(), hdr)
            self.assertEqual(r.status, 201, "%s after the reload: %r\n%s" % (prefix, r.body, srv.log()[-2000:]))
        self.assertEqual(get(srv.test_port, "/api2/notes?limit=1", headers={"Prefer": "count=exact"}).header("X-Total-Count"), "3")
        self.assertEqual(srv.stop(), 0)

    def test_database_not_writable_by_the_user_fails_the_start(self):
        # A database the user cannot write (left by a run as root): SQLite
        # would open it read-only and answer every write 503 although the
        # start passed. The start must fail and say why instead.
        import sqlite3
        schema = os.path.join(harness.SRCDIR, "conf", "schema.sql")
        db = self.path("db", "root.db")
        with open(schema) as f, sqlite3.connect(db) as c:
            c.executescript(f.read())
        os.chmod(db, 0o644)
        route = "[route /api]\nplugin = data\ndatabase = sqlite:%s\nschema = %s\ntables = notes\n" % (db, schema)
        ini = harness.server_ini(routes=route, threads=1, access_log="off",
                                 server_extra="user = %s\ngroup = %s" % (USER, GROUP))
        srv = harness.Server(ini, expect_ready=False)
        self.addCleanup(srv.stop)
        try:
            rc = srv.proc.wait(15)
        except Exception:
            rc = None
        srv.stop()  # once it exited: returns when every line of its stderr is read
        self.assertEqual(rc, 1, srv.log()[-2000:])
        self.assertRegex(srv.log(), r"server\.ini:\d+: \[route /api\] plugin data refused its configuration: "
                                    r"database \S*/root\.db is not writable by uid %d" % pwd.getpwnam(USER).pw_uid)

    def test_t_checks_plugins_as_the_user(self):
        # A schema only root can read: the start, whose plugins run as the
        # user, fails; so must -t, which is run as root.
        schema = self.path("run", "schema.sql")
        shutil.copy(os.path.join(harness.SRCDIR, "conf", "schema.sql"), schema)
        os.chmod(schema, 0o600)
        route = "[route /api]\nplugin = data\ndatabase = sqlite:%s\nschema = %s\ntables = notes\n" % (
            self.path("db", "t.db"), schema)
        ini = os.path.join(self.top, "server.ini")
        with open(ini, "w") as f:
            f.write(harness.server_ini(routes=route, threads=1, access_log="off",
                                       server_extra="user = %s\ngroup = %s" % (USER, GROUP)))
        p = subprocess.run(harness.WRAPPER + [harness.BINARY, "-t", "-c", ini], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stderr, r"server\.ini:\d+: \[route /api\] plugin data refused its configuration: .*"
                                   r"schema\.sql.*Permission denied")
        self.assertFalse(os.path.exists(self.path("db", "t.db")))

    def test_database_written_after_reload(self):
        self.check_database_reload(0)

    def test_database_written_after_reload_processes(self):
        self.check_database_reload(2)


if __name__ == "__main__":
    harness.main()
