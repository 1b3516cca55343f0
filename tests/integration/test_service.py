#!/usr/bin/env python3
"""Running as a systemd service: the unit file, the sd_notify protocol,
pid_file, user = and the access of unix sockets under user =.

The unit checked here is the one make generated in the build tree, the
file `make install` installs (test_install.py checks the installed copy
with systemd-analyze).

The notify protocol is read from a real AF_UNIX datagram socket the test
binds and passes in NOTIFY_SOCKET, with SO_PASSCRED so each message's
sender is known.
"""

import errno
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import harness

BUILDDIR = os.path.dirname(os.path.abspath(harness.BINARY))
UNIT = os.path.join(BUILDDIR, "conf", "plughttpd.service")
ECHO = "[route /echo]\nplugin = echo\n"



class UnitFile(unittest.TestCase):
    def setUp(self):
        with open(UNIT) as f:
            self.text = f.read()

    def test_directives(self):
        self.assertEqual(harness.unit_values(self.text, "Type"), ["notify"])
        reload_cmd = harness.unit_values(self.text, "ExecReload")
        self.assertEqual(len(reload_cmd), 1)
        self.assertRegex(reload_cmd[0], r"kill (-HUP|-s HUP|--signal=HUP|-SIGHUP|-s SIGHUP) \$MAINPID")
        self.assertEqual(harness.unit_values(self.text, "CapabilityBoundingSet"), ["CAP_NET_BIND_SERVICE"])
        for v in harness.unit_values(self.text, "AmbientCapabilities"):
            self.assertEqual(v, "CAP_NET_BIND_SERVICE")
        self.assertEqual(harness.unit_values(self.text, "NoNewPrivileges"), ["yes"])
        start = harness.unit_values(self.text, "ExecStart")
        self.assertEqual(len(start), 1)
        self.assertRegex(start[0], r"^/\S+/plughttpd -c /\S+/plughttpd/server\.ini$")
        self.assertIsNone(re.search(r"@[A-Za-z_]+@", self.text), "a placeholder was left unsubstituted")


class NotifySocket(harness.NotifySocket):
    """harness.NotifySocket plus the sender's pid of each message."""

    def __init__(self, folder):
        super().__init__(folder)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

    def _recv(self, timeout):
        self.sock.settimeout(max(0.001, timeout))
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        msg = {"_received": time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000,
               "_raw": data.decode("utf-8", "replace"), "_pid": None}
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                msg["_pid"] = struct.unpack("iII", payload[:12])[0]
        for line in msg["_raw"].split("\n"):
            k, sep, v = line.partition("=")
            if sep:
                msg[k] = v
        self.messages.append(msg)
        return msg


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Notify(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="phnotify-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.ns = NotifySocket(self.dir)
        self.addCleanup(self.ns.close)

    def start(self, processes=1):
        ini = harness.server_ini(routes=ECHO, access_log="off", threads=2,
                                 server_extra="processes = %d" % processes)
        srv = harness.Server(ini, env=self.ns.env())
        self.addCleanup(srv.stop)
        return srv, ini

    def check_protocol(self, processes):
        srv, ini = self.start(processes)
        pid = srv.proc.pid
        ready = self.ns.wait_for("READY", "1")
        self.assertIsNotNone(ready, "no READY=1 at start")
        self.assertEqual(ready.get("MAINPID"), str(pid))
        self.assertIn("STATUS", ready)
        self.assertIn("generation 1", ready["STATUS"])

        # A good reload: RELOADING=1 with MONOTONIC_USEC taken during it,
        # then READY=1 naming generation 2.
        with open(srv.ini, "a") as f:
            f.write("\n[route /new]\nplugin = echo\n")
        before = monotonic_usec()
        srv.signal(signal.SIGHUP)
        reloading = self.ns.wait_for("RELOADING", "1")
        self.assertIsNotNone(reloading, "no RELOADING=1 on SIGHUP")
        self.assertIn("MONOTONIC_USEC", reloading, "MONOTONIC_USEC must come with RELOADING=1")
        usec = int(reloading["MONOTONIC_USEC"])
        self.assertLessEqual(before, usec, "MONOTONIC_USEC earlier than the SIGHUP")
        self.assertLessEqual(usec, reloading["_received"], "MONOTONIC_USEC later than its arrival")
        ready = self.ns.wait_for("READY", "1")
        self.assertIsNotNone(ready, "no READY=1 after the reload")
        self.assertRegex(ready.get("STATUS", ""), r"generation 2\b")
        self.assertNotIn("fail", ready.get("STATUS", ""))
        self.assertEqual(srv.get("/new/x").status, 200)

        # A failed reload: READY=1 again (still serving), STATUS says so.
        with open(srv.ini, "a") as f:
            f.write("\n[route /bad]\nplugin = ./missing.so\n")
        srv.signal(signal.SIGHUP)
        self.assertIsNotNone(self.ns.wait_for("RELOADING", "1"))
        ready = self.ns.wait_for("READY", "1")
        self.assertIsNotNone(ready, "no READY=1 after a failed reload")
        self.assertIn("fail", ready.get("STATUS", ""))
        self.assertRegex(ready.get("STATUS", ""), r"generation 2\b")
        self.assertEqual(srv.get("/new/x").status, 200)

        srv.signal(signal.SIGTERM)
        self.assertIsNotNone(self.ns.wait_for("STOPPING", "1"), "no STOPPING=1 on SIGTERM")
        self.assertEqual(srv.stop(), 0)
        # Every message came from the main process (NotifyAccess=main).
        senders = {m["_pid"] for m in self.ns.messages}
        self.assertEqual(senders, {pid}, [m["_raw"] for m in self.ns.messages])
        # Order: READY, RELOADING, READY, RELOADING, READY, STOPPING.
        kinds = [k for m in self.ns.messages for k in ("READY", "RELOADING", "STOPPING") if m.get(k) == "1"]
        self.assertEqual(kinds, ["READY", "RELOADING", "READY", "RELOADING", "READY", "STOPPING"])

    def test_protocol_one_process(self):
        self.check_protocol(1)

    def test_protocol_worker_processes(self):
        self.check_protocol(2)

    def test_abstract_socket(self):
        # NOTIFY_SOCKET may name an abstract socket: "@name".
        name = "phtest-%d-%d" % (os.getpid(), time.monotonic_ns())
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind("\0" + name)
        self.addCleanup(s.close)
        srv = harness.Server(harness.server_ini(routes=ECHO, access_log="off"), env={"NOTIFY_SOCKET": "@" + name})
        self.addCleanup(srv.stop)
        s.settimeout(10)
        data = s.recv(4096).decode()
        self.assertIn("READY=1", data.split("\n"))
        self.assertEqual(srv.stop(), 0)


class PidFile(unittest.TestCase):
    def check(self, processes):
        folder = tempfile.mkdtemp(prefix="phpid-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "plughttpd.pid")
        ini = harness.server_ini(routes=ECHO, access_log="off",
                                 server_extra="pid_file = %s\nprocesses = %d" % (path, processes))
        srv = harness.Server(ini)
        self.addCleanup(srv.stop)
        with open(path) as f:
            self.assertEqual(f.read(), "%d\n" % srv.proc.pid)
        if processes > 1:
            # a worker process that dies must not take the pid file along
            kid = harness.proc_children(srv.proc.pid)[0]
            start = harness.log_count(srv)
            os.kill(kid, signal.SIGKILL)
            m, _ = harness.wait_log_from(srv, r"worker process \d+ started", start, 10)
            self.assertIsNotNone(m)
            self.assertTrue(os.path.exists(path), "pid file removed when a worker died")
            with open(path) as f:
                self.assertEqual(f.read(), "%d\n" % srv.proc.pid)
        srv.signal(signal.SIGHUP)
        self.assertIsNotNone(srv.wait_log(r"reload: generation 2 serving"))
        self.assertTrue(os.path.exists(path), "pid file removed by a reload")
        self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(path), "pid file left behind at exit")

    def test_pid_file_one_process(self):
        self.check(1)

    def test_pid_file_worker_processes(self):
        self.check(2)


def ids_of(pid, field):
    """(real, effective, saved, fs) ids of every thread of pid."""
    out = set()
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    out.add(tuple(int(x) for x in line.split()[1:]))
    return out


def free_low_port():
    """A free port below 1024 on 127.0.0.1 (binding it needs root)."""
    for port in range(980, 1020):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    return None


@unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
class DropPrivileges(unittest.TestCase):
    def setUp(self):
        try:
            self.nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user nobody")

    def test_user_nobody_after_binding(self):
        port = free_low_port()
        if port is None:
            self.skipTest("no free port below 1024")
        ini = harness.server_ini(routes=ECHO, access_log="off", threads=2,
                                 listen=("127.0.0.1:%d" % port,), server_extra="user = nobody")
        srv = harness.Server(ini)
        self.addCleanup(srv.stop)
        # the server must re-read its config as nobody on reload
        os.chmod(srv.dir, 0o755)
        os.chmod(srv.ini, 0o644)
        pid = srv.proc.pid
        uid, gid = self.nobody.pw_uid, self.nobody.pw_gid
        self.assertEqual(ids_of(pid, "Uid"), {(uid, uid, uid, uid)})
        self.assertEqual(ids_of(pid, "Gid"), {(gid, gid, gid, gid)})
        with open("/proc/%d/status" % pid) as f:
            groups = [l for l in f if l.startswith("Groups:")][0].split()[1:]
        self.assertEqual(groups, [], "supplementary groups kept after dropping privileges")
        self.assertEqual(srv.get("/echo/x").status, 200)  # the port below 1024, bound before the drop
        with open(srv.ini, "a") as f:
            f.write("\n[route /new]\nplugin = echo\n")
        srv.signal(signal.SIGHUP)
        m = srv.wait_log(r"reload: generation 2 serving|reload failed.*")
        self.assertIsNotNone(m)
        self.assertIn("serving", m.group(0), m.group(0))
        self.assertEqual(srv.get("/new/x").status, 200)
        self.assertEqual(srv.stop(), 0)

    def test_new_privileged_listener_after_drop_fails_cleanly(self):
        # Once running as nobody, a reload that adds a port below 1024 cannot
        # bind it: that reload fails with the line, the old one keeps serving.
        port = free_low_port()
        if port is None:
            self.skipTest("no free port below 1024")
        ini = harness.server_ini(routes=ECHO, access_log="off", server_extra="user = nobody")
        srv = harness.Server(ini)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)
        text = ini.replace("listen = 127.0.0.1:0\n", "listen = 127.0.0.1:0\nlisten = 127.0.0.1:%d\n" % port)
        with open(srv.ini, "w") as f:
            f.write(text)
        os.chmod(srv.ini, 0o644)
        srv.signal(signal.SIGHUP)
        m = srv.wait_log(r"reload failed, generation 1 keeps serving: (.*)|reload: generation 2 serving")
        self.assertIsNotNone(m, srv.log()[-2000:])
        self.assertIn("keeps serving", m.group(0))
        line = text.split("\n").index("listen = 127.0.0.1:%d" % port) + 1
        self.assertIn("%s:%d:" % (srv.ini, line), m.group(1))
        self.assertEqual(srv.get("/echo/x").status, 200)
        self.assertEqual(srv.stop(), 0)

    def test_unknown_user_refused(self):
        ini = harness.server_ini(routes=ECHO, access_log="off", server_extra="user = no-such-user-ph")
        srv = harness.Server(ini, expect_ready=False)
        self.addCleanup(srv.stop)
        try:
            rc = srv.proc.wait(harness.START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("server kept running with an unknown user")
        srv.stop()
        self.assertNotEqual(rc, 0)
        self.assertIn("no-such-user-ph", srv.log())
        self.assertNotRegex(srv.log(), r"\bready\b")


def _client(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(path)
        s.sendall(b"GET /echo/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n")[0].decode()
    except OSError as e:
        return "errno " + errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


def connect_as(path, uid, gid, groups=()):
    """Connects from a forked child running as uid/gid with only groups:
    the status line it got, or "errno NAME"."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        out = "child failed"
        try:
            os.close(r)
            os.setgroups(list(groups))
            os.setgid(gid)
            os.setuid(uid)
            out = _client(path)
        finally:
            os.write(w, out.encode())
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read().decode()
    os.waitpid(pid, 0)
    return out


@unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
class UnixSocketAccess(unittest.TestCase):
    """listen = unix:PATH mode= owner= group=, with the server started as
    root and dropping to user = nobody. Clients run as a uid that is
    neither the socket's owner nor root (OTHER), with or without the
    socket's group."""

    OTHER = 54321

    def setUp(self):
        try:
            self.nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user nobody")
        # a folder every client may search, writable by nobody (a reload
        # binds in it after the privilege drop)
        self.folder = tempfile.mkdtemp(prefix="phunix-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        os.chown(self.folder, self.nobody.pw_uid, self.nobody.pw_gid)
        os.chmod(self.folder, 0o755)
        self.group = grp.getgrgid(self.nobody.pw_gid)

    def start(self, listen_extra, server_extra="user = nobody"):
        path = os.path.join(self.folder, "a.sock")
        ini = harness.server_ini(routes=ECHO, access_log="off",
                                 listen=("127.0.0.1:0", "unix:%s %s" % (path, listen_extra)),
                                 server_extra=server_extra)
        srv = harness.Server(ini)
        self.addCleanup(srv.stop)
        os.chmod(srv.dir, 0o755)
        os.chmod(srv.ini, 0o644)
        return srv, path

    def test_mode_0666_lets_anyone_connect(self):
        srv, path = self.start("mode=0666")
        st = os.lstat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o666)
        # unset owner and group: the user the server runs as
        self.assertEqual((st.st_uid, st.st_gid), (self.nobody.pw_uid, self.nobody.pw_gid))
        self.assertEqual(connect_as(path, self.OTHER, self.OTHER), "HTTP/1.1 200 OK")
        self.assertEqual(srv.stop(), 0)

    def test_mode_0660_group_only(self):
        srv, path = self.start("mode=0660 owner=root group=%s" % self.group.gr_name)
        st = os.lstat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual((st.st_uid, st.st_gid), (0, self.group.gr_gid))
        self.assertEqual(connect_as(path, self.OTHER, self.OTHER), "errno EACCES")
        self.assertEqual(connect_as(path, self.OTHER, self.OTHER, [self.group.gr_gid]), "HTTP/1.1 200 OK")
        self.assertEqual(srv.get("/echo/x").status, 200)  # TCP unaffected
        self.assertEqual(srv.stop(), 0)

    def test_default_access_keeps_others_out(self):
        # Without mode=, the socket keeps the mode bind gave it (0777 less
        # the umask; 0755 under the usual 022): others cannot write to it.
        old = os.umask(0o022)
        try:
            srv, path = self.start("")
        finally:
            os.umask(old)
        self.assertEqual(stat.S_IMODE(os.lstat(path).st_mode), 0o755)
        self.assertEqual(connect_as(path, self.OTHER, self.OTHER), "errno EACCES")
        self.assertEqual(srv.stop(), 0)

    def test_reload_adds_a_unix_listener_after_the_drop(self):
        srv, path = self.start("mode=0600")
        self.assertEqual(connect_as(path, self.OTHER, self.OTHER), "errno EACCES")
        new = os.path.join(self.folder, "b.sock")
        with open(srv.ini) as f:
            text = f.read()
        text = text.replace("listen = 127.0.0.1:0\n", "listen = 127.0.0.1:0\nlisten = unix:%s mode=0666\n" % new)
        m = srv.reload(text, r"reload: generation 2 serving|reload failed.*")
        self.assertIsNotNone(m, srv.log()[-2000:])
        self.assertIn("serving", m.group(0))
        st = os.lstat(new)
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o666, self.nobody.pw_uid))
        self.assertEqual(connect_as(new, self.OTHER, self.OTHER), "HTTP/1.1 200 OK")
        # an owner the unprivileged server cannot give: that reload fails,
        # with the line, and generation 2 keeps serving
        text = text.replace("listen = 127.0.0.1:0\n", "listen = 127.0.0.1:0\nlisten = unix:%s owner=root\n"
                            % os.path.join(self.folder, "c.sock"))
        m = srv.reload(text, r"reload failed, generation 2 keeps serving: (.*)|reload: generation 3 serving")
        self.assertIsNotNone(m, srv.log()[-2000:])
        self.assertIn("keeps serving", m.group(0))
        self.assertIn("%s:3: listen unix:%s/c.sock: owner 0" % (srv.ini, self.folder), m.group(1))
        self.assertFalse(os.path.exists(os.path.join(self.folder, "c.sock")), "a failed listener left its path")
        self.assertEqual(connect_as(new, self.OTHER, self.OTHER), "HTTP/1.1 200 OK")
        self.assertEqual(srv.stop(), 0)


    def check_failed_reload_leaves_the_socket_access(self, processes, route, failure):
        # mode=0600 to mode=0666 in a reload that then fails: generation 1
        # keeps serving, and with it the socket's access
        srv, path = self.start("mode=0600", server_extra="user = nobody\nprocesses = %d" % processes)
        with open(srv.ini) as f:
            text = f.read()
        text = text.replace("%s mode=0600" % path, "%s mode=0666" % path) + route
        m = srv.reload(text, r"reload failed, generation 1 keeps serving.*|reload: generation 2 serving")
        self.assertIsNotNone(m, srv.log()[-2000:])
        self.assertIn(failure, m.group(0))
        self.assertEqual(stat.S_IMODE(os.lstat(path).st_mode), 0o600)
        self.assertEqual(connect_as(path, self.OTHER, self.OTHER), "errno EACCES")
        self.assertEqual(srv.stop(), 0)

    def test_failed_reload_leaves_the_socket_access(self):
        self.check_failed_reload_leaves_the_socket_access(
            1, "\n[route /missing]\nplugin = no-such-plugin\n", "no-such-plugin")

    def test_reload_whose_workers_fail_leaves_the_socket_access(self):
        # the configuration passes the master's check; the worker processes
        # refuse it
        fixture = os.path.join(harness.FIXTURE_DIR, "version_a.so")
        if not os.path.exists(fixture):
            self.skipTest("fixture not built: %s" % fixture)
        self.check_failed_reload_leaves_the_socket_access(
            2, "\n[route /swap]\nplugin = %s\nrefuse_real = yes\n" % fixture, "new worker processes did not start")

class UnixSocketOptionErrors(unittest.TestCase):
    def check(self, listen, message):
        folder = tempfile.mkdtemp(prefix="phunixbad-")
        self.addCleanup(shutil.rmtree, folder, True)
        ini = os.path.join(folder, "s.ini")
        with open(ini, "w") as f:
            f.write("[server]\nplugin_dir = %s\nlisten = %s\n\n%s" % (harness.PLUGIN_DIR, listen, ECHO))
        p = subprocess.run([harness.BINARY, "-t", "-c", ini], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("%s:3: %s" % (ini, message), p.stdout)

    def test_bad_options(self):
        self.check("unix:/tmp/x.sock mode=999", "listen: mode=999: expected octal permissions")
        self.check("unix:/tmp/x.sock mode=01777", "listen: mode=01777: expected octal permissions")
        self.check("unix:/tmp/x.sock mode=", "listen: mode=: expected octal permissions")
        self.check("unix:/tmp/x.sock owner=no-such-user-ph", "listen: owner=no-such-user-ph: no such user")
        self.check("unix:/tmp/x.sock group=no-such-group-ph", "listen: group=no-such-group-ph: no such group")
        self.check("unix:/tmp/x.sock perms=0600", 'listen: unknown option "perms=0600"')
        self.check("127.0.0.1:0 mode=0600", 'listen: "mode=0600": options are for unix sockets only')


if __name__ == "__main__":
    harness.main()
